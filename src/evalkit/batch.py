"""Regenerating every card: plan, decide what changed, execute in worker processes, record, write indexes.

The plain Python API behind ``evalkit`` / ``run_all.py``; :func:`run_batch`
runs these steps in order, holding the output folder's lock:

1. :func:`plan_batch` — every cycle × every program it selects, then the ``--year`` / ``--program`` selection;
2. :func:`withdraw_stale` — pages of programs or cycles that no longer exist are moved out of the published folder;
3. :func:`decide` — which selected cards changed since the cache last saw them (or failed for a reason of the run);
4. :func:`execute` — run those in worker processes (never in this process), or on a Dask cluster
   (``--scheduler``), each result recorded as it ends;
5. the prints (:mod:`evalkit.publish`) — with ``--pdf`` each card's PDF and each cycle's booklet where they changed;
6. :func:`write_indexes` — the cycle pages, open-data package and workbook, and the root page, of the cycles touched.

Worker processes (not threads: papermill's working directory is
process-wide) run :func:`evalkit.execute.run_job`.  A failing program never
stops the others and never replaces its previous good card; a worker that
dies fails only the card it was running; a run that is stopped (Ctrl-C,
SIGTERM) stops its workers and kernels and leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import Cache, CardEntry, ProgramEntry
from .cycle import Cycle
from .errors import ProgramDataError
from .fingerprint import environment_digest, file_digest, job_fingerprint
from .fmt import as_number
from .iorw import write_atomic
from .jobs import Job, JobResult, RunSettings, SheetYears, machine_labels, plan_jobs
from .loader import ignored_files, load_cycles, plan_path, program_files, programs_dir, read_plan
from .plan import CityPlan
from .publish import BOOKLET, PrintResult, publish_prints
from .runlock import LockHeld, RunLock
from .triage import triage
from .worker import warm_up

if TYPE_CHECKING:
    from .rollup import ProgramResult
    from .zygote_client import Zygote

# Executing, exporting and index pages pull in nbconvert, jupyter_client and matplotlib: they are
# imported where used, so that a run with nothing to do starts in a fraction of a second.

__all__ = [
    "BatchOptions", "BatchSummary", "ConfigError", "Terminated", "Plan", "Decision",
    "plan_batch", "withdraw_stale", "card_fingerprints", "decide", "execute", "write_indexes", "run_batch", "default_state_dir",
]


class ConfigError(Exception):
    """A usage or configuration problem that stops the whole run (exit status 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as on Ctrl-C (the command line installs the handler that raises it)."""


def default_state_dir(out_dir: Path) -> Path:
    """Where a batch keeps its cache and logs: ``.evalkit/<name of the output folder>`` beside it,
    so that the output folder holds only what is published."""
    out = Path(out_dir).resolve()  # a symlink to the output folder shares its state (and its lock)
    return out.parent / ".evalkit" / out.name


@dataclass
class BatchOptions:
    data_dir: Path = Path("data")
    params_dir: Path = Path("params")
    out_dir: Path = Path("outputs")
    notebooks_dir: Path = Path("notebooks")
    state_dir: Path | None = None  # default: default_state_dir(out_dir)
    years: list[int] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    force: bool = False
    timeout: float | None = None
    max_card_mb: float = 20.0
    kernel_name: str | None = None
    fork_kernels: bool = True  # run cards in processes forked from a pre-imported zygote (evalkit.engine, evalkit.kernels)
    kernels: bool = False  # with fork_kernels: in forked Jupyter kernels rather than kernel-less shells
    scheduler: str | None = None  # run the cards on this Dask scheduler's workers instead (evalkit.cluster)
    pdf: bool = False  # also print each card and each cycle's booklet to PDF (evalkit.publish)

    @property
    def state(self) -> Path:
        return self.state_dir or default_state_dir(self.out_dir)

    @property
    def cache_file(self) -> Path:
        return self.state / "cache.json"

    @property
    def log_dir(self) -> Path:
        """The last run's worker and kernel logs (each run that executes cards replaces them)."""
        return self.state / "logs"

    @property
    def withdrawn_dir(self) -> Path:
        """Where pages of programs and cycles that no longer exist are moved (the last copy of each)."""
        return self.state / "withdrawn"

    def fingerprint_settings(self) -> dict[str, Any]:
        """The options that change what a card becomes: part of every card's fingerprint."""
        return {"timeout": self.timeout, "max_card_mb": self.max_card_mb}


@dataclass
class BatchSummary:
    rendered: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (card key, message)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def line(self) -> str:
        return f"{self.rendered} rendered, {self.skipped} skipped (unchanged), {self.failed} failed in {self.seconds:.1f} s"


@dataclass
class Plan:
    cycles: dict[int, tuple[Path, Cycle]]  # by evaluation year
    planned: list[Job]  # every card of every cycle: what the indexes list
    selected: list[Job]  # the cards this run is about (after --year / --program)


@dataclass
class Decision:
    to_run: list[Job] = field(default_factory=list)
    unchanged: list[Job] = field(default_factory=list)  # rendered before, nothing changed
    still_failing: list[Job] = field(default_factory=list)  # failed before because of its data or notebook, nothing changed


def _check_folders(options: BatchOptions) -> None:
    for name, folder in (("--data", options.data_dir), ("--params", options.params_dir), ("--notebooks", options.notebooks_dir)):
        if not folder.is_dir():
            raise ConfigError(f"{name}: folder {folder} does not exist")
    if options.out_dir.exists() and not options.out_dir.is_dir():
        raise ConfigError(f"--out: {options.out_dir} is not a folder")
    if not (options.notebooks_dir / "report_card.ipynb").is_file():
        raise ConfigError(f"--notebooks: {options.notebooks_dir} has no report_card.ipynb (the template every program uses)")


def _key(path: Path) -> str:
    """Cache keys name files by their resolved path: ``--data data`` and ``--data ./data/`` are one cache."""
    return str(path.resolve())


def _known_sheet_years(options: BatchOptions, cache: Cache, digest: Callable[[Path], str]) -> SheetYears:
    """What the cache knows about program files that did not change since (nor evalkit: it may validate otherwise)."""
    known: SheetYears = {}
    if options.force:
        return known
    for path in program_files(options.data_dir):
        entry = cache.programs.get(_key(path))
        if entry and entry.digest == digest(path) and entry.environment == environment_digest():
            known[path] = (None if entry.years is None else set(entry.years), entry.error)
    return known


def plan_batch(options: BatchOptions, cache: Cache, digest: Callable[[Path], str] = file_digest) -> Plan:
    """Every card of every cycle, and the selection; refreshes the cache's knowledge of program files."""
    known = _known_sheet_years(options, cache, digest)
    try:
        found = load_cycles(options.params_dir)
        planned = plan_jobs(found, options.data_dir, options.out_dir, options.notebooks_dir, sheet_years=known)
    except ProgramDataError as exc:
        raise ConfigError(str(exc)) from None
    cycles = {cycle.fiscal_year: (path, cycle) for path, cycle in found}
    if not cycles:
        raise ConfigError(f"--params: no cycle files (<year>.yaml) in {options.params_dir}")
    missing_years = sorted(set(options.years) - set(cycles))
    if missing_years:
        raise ConfigError(f"--year: no cycle file for {', '.join(map(str, missing_years))} in {options.params_dir}")
    unknown = sorted(set(options.programs) - {job.program_id for job in planned})
    if unknown:
        raise ConfigError(f"--program: no cycle selects {', '.join(unknown)} (is there a data/programs/<id>.yaml with a sheet for the year?)")
    selected = [
        job for job in planned
        if (not options.years or job.fiscal_year in options.years) and (not options.programs or job.program_id in options.programs)
    ]
    cache.programs = {
        _key(path): ProgramEntry(digest=digest(path), years=None if years is None else sorted(years), error=error,
                                 environment=environment_digest())
        for path, (years, error) in known.items() if path.exists()
    }
    return Plan(cycles=cycles, planned=planned, selected=selected)


def _move_aside(path: Path, dest: Path) -> None:
    if dest.is_dir():
        shutil.rmtree(dest)
    else:
        dest.unlink(missing_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(dest))


def withdraw_stale(plan: Plan, cache: Cache, out_dir: Path, withdrawn_dir: Path) -> tuple[set[int], list[str]]:
    """Move the pages of removed programs and cycles out of the published folder (into ``withdrawn_dir``).

    Returns the cycles whose index must be rewritten and what was moved (paths relative to ``out_dir``).
    """
    ids = {year: set() for year in plan.cycles}
    for job in plan.planned:
        ids[job.fiscal_year].add(job.program_id)
    touched: set[int] = set()
    moved: list[str] = []
    folders = sorted(p for p in out_dir.iterdir() if p.is_dir() and p.name.isdigit()) if out_dir.is_dir() else []
    for folder in folders:
        year = int(folder.name)
        if year not in ids:
            _move_aside(folder, withdrawn_dir / folder.name)
            moved.append(f"{folder.name}/")
            continue
        pages = {f"{pid}{suffix}" for pid in ids[year] for suffix in (".html", ".ipynb", ".failed.html")}
        pages |= {f"{pid}.pdf" for pid in ids[year]}
        keep = {"index.html", "triage.html", "triage.csv", BOOKLET, "一覧表.xlsx"} | pages  # 一覧表: WORKBOOK_NAME (openpyxl not imported here)
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.name not in keep:
                _move_aside(path, withdrawn_dir / folder.name / path.name)
                moved.append(f"{folder.name}/{path.name}")
                touched.add(year)
    planned_keys = {job.key for job in plan.planned}
    for key in [k for k in cache.cards if k not in planned_keys]:
        del cache.cards[key]
    return touched, moved


def card_fingerprints(options: BatchOptions, plan: Plan, digest: Callable[[Path], str] = file_digest) -> dict[str, str]:
    """Each selected card's fingerprint: its own inputs, plus what every card shows of the others (all the cycle
    files, for the previous status; the city's plan, for its 施策) and the options that change a card."""
    plan_file = plan_path(options.data_dir)
    settings = {**options.fingerprint_settings(), "cycles": sorted(digest(path) for path, _ in plan.cycles.values()),
                "plan": digest(plan_file) if plan_file.exists() else None}
    return {job.key: job_fingerprint(job.notebook, job.cycle_file, job.program_file, job.parameters, digest, settings) for job in plan.selected}


def decide(jobs: list[Job], cache: Cache, fingerprints: dict[str, str], force: bool = False) -> Decision:
    """Split the cards into those to execute and those whose inputs are exactly as last time."""
    decision = Decision()
    for job in jobs:
        entry = cache.cards.get(job.key)
        unchanged = not force and entry is not None and entry.fingerprint == fingerprints[job.key] and not job.data_error
        if unchanged and entry.ok and job.html.exists():
            decision.unchanged.append(job)
        elif unchanged and not entry.ok and not entry.retry:
            decision.still_failing.append(job)  # nothing changed, so no kernel work: report it again
        else:
            decision.to_run.append(job)
    return decision


def _fresh_dir(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _worker_died(job: Job) -> JobResult:
    return JobResult(
        key=job.key, program_id=job.program_id, fiscal_year=job.fiscal_year, ok=False, seconds=0.0, retry=True,
        error="the worker process running this card died (killed, or out of memory); the batch went on with a new one",
    )


def _stop_workers(in_flight: dict[Future, Job]) -> None:
    """On Ctrl-C or SIGTERM: let workers that got the signal finish their cleanup, interrupt the others, then kill.

    A second Ctrl-C or SIGTERM while this runs is ignored: stopping must not be stopped halfway.
    """
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
    wait(in_flight, timeout=2)
    if not all(f.done() for f in in_flight):
        for process in multiprocessing.active_children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)  # papermill stops its kernel; the card writes nothing
        wait(in_flight, timeout=10)
    for process in multiprocessing.active_children():
        if not all(f.done() for f in in_flight):
            process.kill()


def _run_pool(jobs: list[Job], workers: int, settings: Any, log_dir: Path, zygote: str | None,
              on_done: Callable[[JobResult], None]) -> tuple[list[Job], list[Job], list[multiprocessing.Process]]:
    """Run ``jobs`` with at most ``workers`` in flight, their cards forked from the run's ``zygote`` (its address);
    when a worker dies, return (the cards then in flight, those not started).  The third item: when every card is in,
    the pool's workers, left to exit while the batch writes its pages."""
    from .execute import run_job

    queue = deque(jobs)
    in_flight: dict[Future, Job] = {}
    finished = False
    exiting: list[multiprocessing.Process] = []  # filled in by the finally clause below, before the caller sees it
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn"),
        initializer=warm_up, initargs=(str(log_dir), settings.fork_kernels, settings.kernels, os.getpid(), zygote),
    )
    try:
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                job = queue.popleft()
                try:
                    in_flight[pool.submit(run_job, job, settings)] = job
                except BrokenProcessPool:
                    return [job, *in_flight.values()], list(queue), []
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    return list(in_flight.values()), list(queue), []
                except Exception as exc:  # noqa: BLE001 - e.g. a result that could not be sent back: this card only
                    job = in_flight[future]
                    result = JobResult(key=job.key, program_id=job.program_id, fiscal_year=job.fiscal_year, ok=False,
                                       seconds=0.0, retry=True, error=f"{type(exc).__name__}: {exc}")
                del in_flight[future]
                on_done(result)
        finished = True
        return [], [], exiting
    except BaseException:
        _stop_workers(in_flight)
        raise
    finally:
        pool.shutdown(wait=not finished, cancel_futures=True)
        if finished:
            exiting.extend(p for p in multiprocessing.active_children() if p not in before)


def _join_workers(exiting: list[multiprocessing.Process], zygote: Zygote | None, keep: set[int], seconds: float = 30) -> None:
    """Wait for the workers left to exit and the run's zygote, then stop what they left behind (never the caller's own
    children, ``keep``)."""
    from .processes import stop_strays
    from .zygote_client import kept_children

    ends = time.monotonic() + seconds
    for process in exiting:
        process.join(max(ends - time.monotonic(), 0.1))
    if zygote is not None:
        zygote.close()
    stop_strays(keep=keep | kept_children() | {p.pid for p in multiprocessing.active_children()})


def _nothing_to_join() -> None:
    """What :func:`execute` returns when no worker is left exiting."""


def _run_settings(options: BatchOptions) -> RunSettings:
    return RunSettings(work_dir=options.state / "work", timeout=options.timeout, kernel_name=options.kernel_name,
                       fork_kernels=options.fork_kernels, kernels=options.kernels, max_card_bytes=int(options.max_card_mb * 2**20),
                       path_labels=_path_labels(options))


def execute(
    jobs: list[Job], options: BatchOptions, on_done: Callable[[JobResult], None], say: Callable[[str], Any] = lambda line: None
) -> Callable[[], None]:
    """Run ``jobs`` in worker processes (at most ``options.workers`` at once), calling ``on_done`` as each ends.

    A worker that dies costs only the card it was running: the cards then in
    flight are run again one by one, and the one that kills its worker again fails.
    With ``options.scheduler`` the cards run on that Dask cluster instead (:mod:`evalkit.cluster`).
    Returns what to call once the run's pages are written: it waits for the workers left to exit meanwhile.
    """
    if not jobs:
        return _nothing_to_join
    settings = _run_settings(options)
    if options.scheduler:
        from .cluster import ClusterUnavailable, run_on_cluster

        try:
            run_on_cluster(jobs, settings, options.scheduler, on_done, say)
        except ClusterUnavailable as exc:
            raise ConfigError(f"--scheduler: {exc}") from None
        return _nothing_to_join
    from .processes import become_subreaper, children_of

    log_dir = _fresh_dir(options.log_dir)  # only the last run's logs are kept
    keep = set(children_of(os.getpid()))  # the caller's own processes: never what a card left running
    become_subreaper()  # what a dead worker's cards left running comes back here, to be stopped below
    zygote = _run_zygote(settings, log_dir)
    address = zygote.address if zygote is not None else None
    remaining = list(jobs)
    exiting: list[multiprocessing.Process] = []
    try:
        while remaining:
            lost, remaining, left = _run_pool(remaining, options.workers, settings, log_dir, address, on_done)
            exiting += left
            for job in lost:
                if len(lost) > 1:
                    again, _, left = _run_pool([job], 1, settings, log_dir, address, on_done)  # alone: was it this card?
                    exiting += left
                    if not again:
                        continue
                on_done(_worker_died(job))
    except BaseException:
        _join_workers(exiting, zygote, keep)
        raise
    if zygote is not None:
        zygote.close(wait=False)  # it exits while the pages are written
    return lambda: _join_workers(exiting, zygote, keep)  # which also stops what the cards and workers left running


def _run_zygote(settings: RunSettings, log_dir: Path) -> Zygote | None:
    """The zygote that every worker of this run forks its cards' processes from (cells without a kernel only: with
    ``--kernels`` each worker has its own).  Started first, so that it imports while the workers start."""
    if not settings.fork_kernels or settings.kernels:
        return None
    from .zygote_client import CELLS_PRELOAD, Zygote

    log = os.open(log_dir / "zygote.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        return Zygote(CELLS_PRELOAD, listen=True, log=log)
    except OSError as exc:  # each worker then starts one of its own
        os.write(log, f"the run's zygote could not be started: {exc}\n".encode())
        return None
    finally:
        os.close(log)


def _record(cache: Cache, job: Job, fingerprint: str, result: JobResult) -> None:
    """A card's outcome; a failed card keeps the identity of its last good one for the index."""
    previous = cache.cards.get(job.key)
    cache.cards[job.key] = CardEntry(
        fingerprint=fingerprint,
        ok=result.ok,
        error=result.error,
        retry=result.retry,
        seconds=round(result.seconds, 3),
        record=result.record if result.ok else (previous.record if previous else {}),
        tables=result.tables if result.ok else {},
        failed_href=job.failed_html.name if job.failed_html.exists() else None,
        pdf_source=previous.pdf_source if previous and not result.ok else None,  # a failed card left its page as it was
    )


def _result(record: dict[str, Any]) -> ProgramResult:
    from .rollup import ProgramResult  # with pandas: imported while the cards run (_import_page_builders), not at start-up

    return ProgramResult(program_id=record["id"], name=str(record.get("name") or record["id"]), status=str(record["status"]),
                         score=as_number(record.get("score")), policy=record.get("policy"),
                         total_cost=as_number(record.get("total_cost")), cost_unit=record.get("cost_unit"))


def _write_plan_pages(folder: Path, pages: dict[str, str]) -> None:
    """The plan view of a cycle; pages of plan items that no longer exist are removed."""
    for name, html in pages.items():
        write_atomic(folder / name, html)
    for old in folder.glob("*.html"):
        if old.name not in pages:
            old.unlink(missing_ok=True)


def cycle_entries(plan: Plan, cache: Cache, year: int) -> list[dict[str, Any]]:
    """What the index (and the booklet) shows of each card of a cycle, in the cycle's order."""
    entries = []
    for job in (j for j in plan.planned if j.fiscal_year == year):
        entry = cache.cards.get(job.key)
        entries.append({
            **(entry.record if entry else {}),
            "id": job.program_id,
            "ok": bool(entry and entry.ok),
            "pending": entry is None,  # not rendered yet (another --year/--program selection, or a discarded cache)
            "error": entry.error if entry else None,
            "previous": job.html.exists(),
            "failed_href": entry.failed_href if entry else None,
        })
    return entries


def write_indexes(plan: Plan, cache: Cache, out_dir: Path, years: set[int], root: bool = False, city_plan: CityPlan | None = None) -> None:
    """The index, CSV, triage and plan pages of each cycle in ``years`` (and of any cycle that has none yet), then the root index."""
    stale = [year for year in plan.cycles if year in years or not (out_dir / str(year) / "index.html").exists()]
    if not stale and not root and (out_dir / "index.html").exists():
        return  # nothing to write: do not even import the page builders
    from .datapackage import DATA_FOLDER, write_package
    from .index import cycle_index_html, plan_pages, root_index_html, triage_csv, triage_html
    from .opendata import PROGRAM_TABLES, failed_program_row, plan_rows
    from .workbook import WORKBOOK_NAME, workbook_bytes

    for year in stale:
        _, cycle = plan.cycles[year]
        entries = cycle_entries(plan, cache, year)
        tables: dict[str, list[dict[str, Any]]] = {table: [] for table in PROGRAM_TABLES}
        for job in (j for j in plan.planned if j.fiscal_year == year):
            entry = cache.cards.get(job.key)
            if entry is None:
                continue  # never run (another --year/--program selection, a lost cache): neither rendered nor failed
            for table, rows in (entry.tables if entry.ok else {"programs": [failed_program_row(job.program_id)]}).items():
                tables[table].extend(rows)
        records = [{**e, "status": e.get("status", "not_available")} for e in entries if e["ok"]]
        from .rollup import roll_up

        rollups = roll_up(city_plan, [_result(e) for e in records])
        if city_plan is not None:
            tables["plan"] = plan_rows(rollups)
        write_package(out_dir / str(year) / DATA_FOLDER, year, cycle.title, tables)
        write_atomic(out_dir / str(year) / WORKBOOK_NAME, workbook_bytes(year, cycle.title, tables))
        booklet = (out_dir / str(year) / BOOKLET).exists()
        write_atomic(out_dir / str(year) / "index.html", cycle_index_html(year, cycle.title, entries, cycle.results_lag, city_plan, booklet))
        triaged = triage(records)
        write_atomic(out_dir / str(year) / "triage.html", triage_html(year, cycle.title, triaged))
        write_atomic(out_dir / str(year) / "triage.csv", triage_csv(year, triaged))
        _write_plan_pages(out_dir / str(year) / "plan", plan_pages(year, city_plan, rollups))
    items = []
    for year, (_, cycle) in plan.cycles.items():
        keys = [job.key for job in plan.planned if job.fiscal_year == year]
        rendered = [cache.cards[key] for key in keys if key in cache.cards and cache.cards[key].ok]
        failed = sum(1 for key in keys if key in cache.cards and not cache.cards[key].ok)
        statuses = [entry.record.get("status", "not_available") for entry in rendered]
        items.append({"year": year, "title": cycle.title, "count": len(keys), "failed": failed, "pending": len(keys) - len(rendered) - failed,
                      "statuses": {status: statuses.count(status) for status in set(statuses)}})
    write_atomic(out_dir / "index.html", root_index_html(items))


def _import_page_builders() -> None:
    with contextlib.suppress(Exception):  # an import error shows where the module is used, as before
        from . import datapackage, index, opendata, rollup, workbook  # noqa: F401


def _publish_prints(plan: Plan, cache: Cache, options: BatchOptions, city_plan: CityPlan | None, say: Callable[[str], Any]) -> PrintResult:
    """Card PDFs and booklets (``--pdf``), printed where they changed; without ``--pdf`` stale ones are removed."""
    jobs: dict[int, list[Job]] = {year: [] for year in plan.cycles}
    for job in plan.planned:
        jobs[job.fiscal_year].append(job)
    if options.pdf:
        from .pdf import unavailable_reason

        reason = unavailable_reason()
        if reason:
            say(f"--pdf: cannot print PDFs here: {reason}; the HTML is published as usual")
            options = replace(options, pdf=False)
    titles = {year: cycle.title for year, (_, cycle) in plan.cycles.items()}
    return publish_prints(jobs, titles, lambda year: cycle_entries(plan, cache, year), cache, options.out_dir, city_plan, options.pdf, say,
                          workers=options.workers)


def _remove_leftovers(out_dir: Path, work_dir: Path) -> None:
    """Temporary files of a run that was killed (under the lock, no other run can own them)."""
    if out_dir.is_dir():
        for path in out_dir.rglob(".*"):
            if path.is_file() and (path.name.endswith(".tmp") or ".partial." in path.name):
                path.unlink(missing_ok=True)
    shutil.rmtree(work_dir, ignore_errors=True)


def _path_labels(options: BatchOptions) -> tuple[tuple[str, str], ...]:
    """The machine's folders a published page may show (tracebacks, papermill's metadata), and what it says instead."""
    labels = {
        str(Path.cwd()): ".",
        str(options.data_dir.resolve()): options.data_dir.resolve().name,
        str(options.notebooks_dir.resolve()): options.notebooks_dir.resolve().name,
        str(options.out_dir.resolve()): options.out_dir.resolve().name,
        str(options.state.resolve()): ".evalkit",
        **machine_labels(),
    }
    return tuple(labels.items())


def run_batch(
    options: BatchOptions,
    progress: Callable[[str], Any] | None = None,
    on_start: Callable[[int], Any] | None = None,
    notice: Callable[[str], Any] | None = None,
) -> BatchSummary:
    """Render every selected card that changed; returns the counts and the failures.

    ``on_start(n)`` is told how many cards will be executed, ``progress(key)``
    each time one ends, ``notice(line)`` anything the user should know (one line each).
    A folder that cannot be written (read-only, full disk) is a :class:`ConfigError`.
    """
    _check_folders(options)
    try:
        options.out_dir.mkdir(parents=True, exist_ok=True)
        with RunLock(options.state / "lock", options.out_dir, str(options.out_dir)):
            return _run_locked(options, progress, on_start, notice or (lambda line: None))
    except LockHeld as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        where = exc.filename or options.out_dir
        raise ConfigError(f"{where}: cannot write ({exc.strerror or exc}); nothing half-written was left") from None


def _run_locked(
    options: BatchOptions, progress: Callable[[str], Any] | None, on_start: Callable[[int], Any] | None, say: Callable[[str], Any]
) -> BatchSummary:
    started = time.perf_counter()
    _remove_leftovers(options.out_dir, options.state / "work")
    cache = Cache.load(options.cache_file, warn=say)
    for path in ignored_files(programs_dir(options.data_dir)) + ignored_files(options.params_dir):
        say(f"{path}: ignored (only *.yaml files whose name does not start with '.' are read)")
    city_plan = None
    if plan_path(options.data_dir).exists():
        reading = read_plan(plan_path(options.data_dir))  # an invalid plan costs only the programs under its bad items
        city_plan = reading.plan
        for line in str(reading.error).splitlines() if reading.error else []:
            say(f"{line} (the programs under this item fail until the plan is fixed)")
    digest = lru_cache(maxsize=None)(file_digest)  # each shared file hashed once per run
    plan = plan_batch(options, cache, digest)
    touched, moved = withdraw_stale(plan, cache, options.out_dir, options.withdrawn_dir)
    if moved:
        say(f"withdrew the pages of programs or cycles that no longer exist (moved to {options.withdrawn_dir}): {', '.join(moved)}")
    # a card also shows its previous cycle's judgement: every cycle file is part of what it depends on
    fingerprints = card_fingerprints(options, plan, digest)
    decision = decide(plan.selected, cache, fingerprints, options.force)

    summary = BatchSummary(skipped=len(decision.unchanged), failed=len(decision.still_failing))
    summary.failures = [(job.key, cache.cards[job.key].error or "failed") for job in decision.still_failing]
    by_key = {job.key: job for job in decision.to_run}

    # The page builders' imports (pandas, seaborn: about 1 s) run while the other cards run, started by the first
    # result: the workers' start-up, which every first card waits for, has had the machine to itself.
    importing = threading.Thread(target=_import_page_builders, name="evalkit-imports", daemon=True)

    def done(result: JobResult) -> None:
        if importing.ident is None:  # not started yet
            importing.start()
        _record(cache, by_key[result.key], fingerprints[result.key], result)
        for note in result.notes:
            say(f"{result.key}: {note}")
        if result.ok:
            summary.rendered += 1
        else:
            summary.failed += 1
            summary.failures.append((result.key, result.error or "failed"))
        if progress:
            progress(result.key)

    if decision.to_run and options.fork_kernels and not options.scheduler:  # Dask workers check their own platform
        from .kernels import fork_unsupported_reason

        reason = fork_unsupported_reason()
        if reason:
            options = replace(options, fork_kernels=False)
            say(f"kernels start as new interpreters (slower): cannot fork them here: {reason}")
    if on_start:
        on_start(len(decision.to_run))
    join_workers = _nothing_to_join
    try:
        try:
            join_workers = execute(decision.to_run, options, done, say)
            printed = _publish_prints(plan, cache, options, city_plan, say)
        finally:
            cache.save(options.cache_file)
        summary.failed += len(printed.failures)
        summary.failures.extend(printed.failures)
        years = {job.fiscal_year for job in decision.to_run} | touched | printed.changed
        write_indexes(plan, cache, options.out_dir, years, root=bool(moved), city_plan=city_plan)
    finally:
        join_workers()  # the workers were left to exit while the prints and pages were made
    summary.seconds = time.perf_counter() - started
    return summary
