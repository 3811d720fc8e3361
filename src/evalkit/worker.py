"""A batch worker process's start: what runs before its first card, kept light so that it is ready soon.

:func:`warm_up` is the initializer of the batch's process pool.  A spawned
worker imports only this module (and ``run_all.py``, whose imports wait for
``__main__``) before it connects to the run's zygote (or, with ``--kernels``,
starts one of its own), which imports pandas, seaborn and evalkit meanwhile,
while the worker imports Papermill and nbconvert and compiles the exporter's
templates, so that its first card waits as little as possible.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from pathlib import Path

__all__ = ["warm_up", "exit_with_parent"]


def exit_with_parent(parent: int) -> None:
    """A worker whose run_all died (SIGKILL, OOM) exits within a second, writing nothing more."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(70)


def warm_up(log_dir: str, fork_kernels: bool, kernels: bool, parent: int, zygote: str | None = None) -> None:
    """Pay the heavy imports once per worker, not once per card; the cards' chatter goes to a log file.

    ``zygote``: the address of the run's zygote (whose socket ``parent`` made), from which this worker's cards are
    forked.
    """
    from multiprocessing.util import Finalize

    threading.Thread(target=exit_with_parent, args=(parent,), daemon=True, name="evalkit-parent-watch").start()
    from .processes import become_subreaper
    from .zygote_client import CELLS_PRELOAD, PRELOAD, join_zygote, stop_zygote, zygote_client

    become_subreaper()  # processes a notebook starts in a session of their own come back to this worker
    log = os.open(str(Path(log_dir) / f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if fork_kernels:
        if zygote:
            join_zygote(zygote, parent)
        else:
            zygote_client(PRELOAD if kernels else CELLS_PRELOAD)  # first: it imports while this worker does its own
        Finalize(None, stop_zygote, exitpriority=10)  # worker exit ends its own zygote and its kernels
    try:  # only to be ready sooner: what fails here fails again, and is reported, in the first card
        import nbformat
        import papermill  # noqa: F401 - imported for its cost, once per worker

        from . import engine, execute  # noqa: F401 - what each card runs: imported now, not during the first card
        from .export import notebook_to_html

        notebook_to_html(nbformat.v4.new_notebook(), title="")  # nbconvert compiles its templates on the first export
    except Exception:  # noqa: BLE001 - a broken pool would report every card as a dead worker instead
        traceback.print_exc()  # into the worker's log
