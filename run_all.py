"""Regenerate every report card for every cycle: ``python run_all.py --help`` for the options.

A thin wrapper over the ``evalkit`` command (``evalkit.cli``), kept so that
the batch run works from a checkout with one obvious command.
"""

if __name__ == "__main__":  # only then: a batch worker process imports this file too, and needs none of it
    from evalkit.cli import run

    run()
