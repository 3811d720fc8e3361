"""Regenerate every report card for every cycle: ``python run_all.py --help`` for the options.

A thin wrapper over the ``evalkit`` command (``evalkit.cli``), kept so that
the batch run works from a checkout with one obvious command.
"""

import sys

from evalkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
