"""Running the cards on an existing Dask distributed cluster (``evalkit --scheduler ADDRESS``).

The workers render (:func:`evalkit.execute.render_job`) and this process
publishes (:func:`evalkit.execute.publish`): no file system is shared.  What
the cards read travels once per run as one bundle of bytes (the notebooks, the
program files, the plan, the cycle files), which each worker writes into a
folder of its own with the same relative layout, so that the notebooks'
relative ``data_dir`` / ``params_dir`` resolve and every folder keeps its name;
paths of that folder are published as the same labels as this machine's.  The
pages come back as text and are written here, atomically, as each card ends.

Each worker gets what a local batch worker has through a
:class:`distributed.WorkerPlugin`: its own kernel zygote and the orphans of its
cards.  Cards run one at a time per worker process (papermill changes the
process's working folder): start workers with ``--nthreads 1``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin, as_completed, get_worker

from .execute import Rendered, RunSettings, machine_labels, publish, render_job, run_job, scrub_paths
from .fingerprint import environment_digest
from .iorw import printable
from .jobs import Job, JobResult
from .kernels import fork_unsupported_reason
from .loader import MAX_FILE_BYTES, plan_path, program_files, programs_dir
from .processes import become_subreaper
from .zygote_client import CELLS_PRELOAD, stop_zygote, zygote_client

if TYPE_CHECKING:
    from distributed import Client, Future, Worker

__all__ = ["CONNECT_SECONDS", "ClusterUnavailable", "Inputs", "EvalkitWorker", "bundle", "run_on_cluster"]

#: how long to try to reach the scheduler, and to wait for its first worker
CONNECT_SECONDS = 10.0
PLUGIN_NAME = "evalkit"


class ClusterUnavailable(Exception):
    """The scheduler cannot be reached, has no worker, or its workers cannot run evalkit: no card was run there."""


@dataclass(frozen=True)
class Inputs:
    """What a run's cards read, as bytes under paths relative to the folder that holds them all."""

    run: str  # this run's id: a worker writes the files once per run
    name: str  # that folder's name (a card names its data folder, which may be that folder itself)
    folders: tuple[str, ...]  # made even when empty: whether ``programs/`` exists decides where programs are read
    files: dict[str, bytes]
    labels: tuple[tuple[str, str], ...]  # its folders (``.`` itself) -> what a published page says instead
    work_label: str  # what a page says instead of the folder papermill writes to


def _folders(job: Job) -> tuple[Path, Path]:
    """The data and cycle folders as the card's notebook finds them (its parameters are relative to its folder)."""
    here = job.notebook.parent.resolve()
    return Path(os.path.normpath(here / job.parameters["data_dir"])), Path(os.path.normpath(here / job.parameters["params_dir"]))


def bundle(jobs: list[Job], settings: RunSettings) -> tuple[Inputs, dict[str, str]]:
    """The inputs of ``jobs`` (each notebook, every program file, the plan and the cycle files), and where each
    job's notebook is among them."""
    notebooks = {job.key: job.notebook.parent.resolve() / job.notebook.name for job in jobs}
    found = [_folders(job) for job in jobs]
    data_dirs, params_dirs = {data for data, _ in found}, {params for _, params in found}
    wanted = set(notebooks.values())
    for folder in data_dirs:
        wanted.update(p for p in program_files(folder) if p.is_file() and p.stat().st_size <= MAX_FILE_BYTES)
        wanted.update(p for p in [plan_path(folder)] if p.is_file())
    for folder in params_dirs:
        wanted.update(p for p in folder.glob("*.yaml") if not p.name.startswith(".") and p.is_file())
    folders = data_dirs | params_dirs | {programs_dir(d) for d in data_dirs} | {n.parent for n in notebooks.values()}
    top = Path(os.path.commonpath(sorted(folders)))
    files = {}
    for path in sorted(wanted):
        with suppress(OSError):  # unreadable: the worker says "not found", as the card would fail here too
            files[path.relative_to(top).as_posix()] = path.read_bytes()
    labels = {}
    for folder, label in settings.path_labels:
        with suppress(ValueError):  # only folders inside the bundle exist on the workers
            labels[Path(folder).relative_to(top).as_posix()] = label
    labels.setdefault(".", scrub_paths(str(top), settings.path_labels))
    inputs = Inputs(
        run=uuid.uuid4().hex, name=top.name, folders=tuple(sorted(f.relative_to(top).as_posix() for f in folders)), files=files,
        labels=tuple(labels.items()), work_label=scrub_paths(str(settings.work_dir.resolve()), settings.path_labels),
    )
    return inputs, {key: path.relative_to(top).as_posix() for key, path in notebooks.items()}


# ---- on each worker ----

_ONE_CARD = threading.Lock()  # papermill changes the process's working folder, and kernels are the process's children
_RUNS_LOCK = threading.Lock()
_runs: dict[str, Path] = {}  # run id -> where its inputs were written
_scratch: Path | None = None  # the worker's local directory (set by the plugin)


def _materialize(inputs: Inputs) -> Path:
    """This run's inputs written into a folder of this worker, once per run; the folder that holds them."""
    with _RUNS_LOCK:
        if inputs.run not in _runs:
            top = Path(tempfile.mkdtemp(prefix="evalkit-", dir=_scratch)).resolve() / (inputs.name or "project")
            for folder in inputs.folders:
                (top / folder).mkdir(parents=True, exist_ok=True)
            for name, data in inputs.files.items():
                (top / name).parent.mkdir(parents=True, exist_ok=True)
                (top / name).write_bytes(data)
            _runs[inputs.run] = top
        return _runs[inputs.run]


def _carried(inputs: Inputs) -> Inputs:
    """The task that holds a run's inputs on the workers (scattered data would be lost with the workers that hold it)."""
    return inputs


def _forget(run: str) -> None:
    """At the end of a run (through ``Client.run``): remove its inputs from this worker."""
    with _RUNS_LOCK:
        top = _runs.pop(run, None)
    if top is not None:
        shutil.rmtree(top.parent, ignore_errors=True)


def _failed(job: Job, error: str) -> JobResult:
    """A card the run could not render (not its data's fault): retried on the next run."""
    return JobResult(key=job.key, program_id=job.program_id, fiscal_year=job.fiscal_year, ok=False, seconds=0.0, retry=True,
                     error=printable(error))


def _render_remote(job: Job, notebook: str, inputs: Inputs, settings: RunSettings, environment: str) -> Rendered:
    """On a worker: render one card from this run's inputs, with this worker's folders and labels."""
    if environment_digest() != environment:  # the cache would take its card for one made with this machine's
        return Rendered(_failed(job, f"the Dask worker {get_worker().address} runs another evalkit or other library versions "
                                     "than this machine: install the same on every worker, and restart them after changing evalkit"))
    with _ONE_CARD:
        top = _materialize(inputs)
        work = top.parent / ".work"
        labels = {**machine_labels(), **{str(top / folder): label for folder, label in inputs.labels}, str(work): inputs.work_label}
        here = replace(settings, work_dir=work, path_labels=tuple(labels.items()),
                       fork_kernels=settings.fork_kernels and fork_unsupported_reason() is None)
        return render_job(replace(job, notebook=top / notebook), here)


class EvalkitWorker(WorkerPlugin):
    """What a local batch worker has, given to each Dask worker: its own kernel zygote, and the orphans of its
    cards (stopped when the card ends).  Idempotent: a later run finds the zygote already warm."""

    idempotent = True

    def setup(self, worker: Worker) -> None:
        global _scratch
        _scratch = Path(worker.local_directory) / "evalkit"
        _scratch.mkdir(parents=True, exist_ok=True)
        environment_digest()  # of the evalkit this worker has loaded: files changed later do not pass for it
        become_subreaper()  # processes a notebook starts in a session of their own come back to this worker
        if fork_unsupported_reason() is None:
            zygote_client(CELLS_PRELOAD)  # its imports run while the worker waits for its first card

    def teardown(self, worker: Worker) -> None:
        stop_zygote()  # and with it, its kernels
        if _scratch is not None:
            shutil.rmtree(_scratch, ignore_errors=True)
        _runs.clear()


# ---- on this machine ----

def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _connect(address: str, say: Callable[[str], Any]) -> Client:
    """A client of the scheduler at ``address`` whose workers can run evalkit; :class:`ClusterUnavailable` otherwise."""
    from distributed import Client
    from distributed import TimeoutError as DaskTimeout  # asyncio's, not the built-in one, on Python 3.10
    from distributed.comm import parse_address, parse_host_port

    problem = None
    try:  # a malformed address is refused before a client exists: a half-made one hangs the interpreter's exit
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except ValueError as exc:
        raise ClusterUnavailable(f"cannot reach a Dask scheduler at {address} ({_first_line(exc)})") from None
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - an unreachable or malformed address: one line, whatever the reason
        problem = _first_line(exc)
    if problem is not None:  # raised out here, so that nothing keeps the half-made client alive until exit
        raise ClusterUnavailable(f"cannot reach a Dask scheduler at {address} ({problem})")
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        client.register_plugin(EvalkitWorker(), name=PLUGIN_NAME)
    except (TimeoutError, DaskTimeout):
        problem = f"the Dask scheduler at {address} has no worker (waited {CONNECT_SECONDS:g} s)"
    except Exception as exc:  # noqa: BLE001 - e.g. a worker without evalkit cannot load the plugin
        problem = f"the Dask workers at {address} cannot run evalkit ({type(exc).__name__}: {_first_line(exc)}); each worker needs evalkit installed"
    except BaseException:
        client.close()
        raise
    if problem is not None:
        client.close()
        raise ClusterUnavailable(problem)
    for worker, threads in client.nthreads().items():
        if threads > 1:
            say(f"the Dask worker {worker} has {threads} threads but runs one card at a time (start workers with --nthreads 1)")
    return client


def _outcome(future: Future, job: Job) -> Rendered:
    """What a worker sent back; a worker that died or a result that was lost fails this card only."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        return Rendered(_failed(job, "the Dask worker running this card died (killed, or out of memory), as did any other it was given to"))
    except Exception as exc:  # noqa: BLE001 - a result that could not be sent back, a cancelled task: this card only
        return Rendered(_failed(job, f"{type(exc).__name__}: {_first_line(exc)}"))


def _silent(line: str) -> None:
    pass


def run_on_cluster(
    jobs: list[Job], settings: RunSettings, address: str, on_done: Callable[[JobResult], None], say: Callable[[str], Any] = _silent
) -> None:
    """Render ``jobs`` on the Dask cluster at ``address`` and publish each card here as it ends (then ``on_done``).

    A card whose program file is invalid fails here, without a kernel.  On Ctrl-C or SIGTERM the cards not
    finished are cancelled and nothing more is written.  Raises :class:`ClusterUnavailable` before any card ran.
    """
    remote = [job for job in jobs if not job.data_error]
    client = _connect(address, say) if remote else None
    futures: dict[Future, Job] = {}
    try:
        for job in jobs:
            if job.data_error:
                on_done(run_job(job, settings))
        if client is None:
            return
        inputs, notebooks = bundle(remote, settings)
        shared = client.submit(_carried, inputs, key=f"evalkit-inputs-{inputs.run}")  # a task: made again if its workers die
        for job in remote:
            key = f"evalkit-card-{inputs.run[:8]}-{job.fiscal_year}-{job.program_id}"
            futures[client.submit(_render_remote, job, notebooks[job.key], shared, settings, environment_digest(), key=key)] = job
        for future in as_completed(list(futures), loop=client.loop):
            job = futures.pop(future)
            on_done(publish(job, _outcome(future, job), settings.path_labels))
        with suppress(Exception):  # tidying the workers' folders is not worth failing a finished run
            client.run(_forget, inputs.run, on_error="ignore")
    except BaseException:
        if client is not None and futures:
            with suppress(Exception):
                client.cancel(list(futures), force=True)
        raise
    finally:
        if client is not None:
            client.close()
