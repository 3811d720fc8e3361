"""Regenerating every card: plan, decide what changed, execute in worker processes, record, write indexes.

The plain Python API behind ``evalkit`` / ``run_all.py``; :func:`run_batch`
runs these steps in order:

1. :func:`plan_batch` — every cycle × every program it selects, then the ``--year`` / ``--program`` selection;
2. :func:`decide` — which selected cards changed since the cache last saw them;
3. :func:`execute` — run those in worker processes (never in this process), each result recorded in the cache as it ends;
4. :func:`write_indexes` — the cycle pages and the root page of the cycles touched.

Worker processes (not threads: papermill's working directory is
process-wide) run :func:`evalkit.execute.run_job`; a failing program never
stops the others and never replaces its previous good card.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .cache import Cache, CardEntry, ProgramEntry
from .cycle import Cycle
from .errors import ProgramDataError
from .fingerprint import file_digest, job_fingerprint
from .iorw import write_atomic
from .jobs import Job, JobResult, SheetYears, plan_jobs
from .loader import ignored_files, load_cycles, program_files, programs_dir

# Executing, exporting and index pages pull in nbconvert, jupyter_client and matplotlib: they are
# imported where used, so that a run with nothing to do starts in a fraction of a second.

__all__ = [
    "BatchOptions", "BatchSummary", "ConfigError", "Plan", "Decision",
    "plan_batch", "decide", "execute", "write_indexes", "run_batch", "default_state_dir",
]


class ConfigError(Exception):
    """A usage or configuration problem that stops the whole run (exit status 2)."""


def default_state_dir(out_dir: Path) -> Path:
    """Where a batch keeps its cache and logs: ``.evalkit/<name of the output folder>`` beside it,
    so that the output folder holds only what is published."""
    out = Path(os.path.abspath(out_dir))
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
    kernel_name: str | None = None
    fork_kernels: bool = True  # fork kernels from a pre-imported zygote (evalkit.kernels)

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
    still_failing: list[Job] = field(default_factory=list)  # failed before, nothing changed


def _check_folders(options: BatchOptions) -> None:
    for name, folder in (("--data", options.data_dir), ("--params", options.params_dir), ("--notebooks", options.notebooks_dir)):
        if not folder.is_dir():
            raise ConfigError(f"{name}: folder {folder} does not exist")


def _known_sheet_years(options: BatchOptions, cache: Cache, digest: Callable[[Path], str]) -> SheetYears:
    """What the cache knows about program files that did not change since."""
    known: SheetYears = {}
    for path in program_files(options.data_dir):
        entry = cache.programs.get(str(path))
        if entry and entry.digest == digest(path):
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
        str(path): ProgramEntry(digest=digest(path), years=None if years is None else sorted(years), error=error)
        for path, (years, error) in known.items() if path.exists()
    }
    return Plan(cycles=cycles, planned=planned, selected=selected)


def decide(jobs: list[Job], cache: Cache, fingerprints: dict[str, str], force: bool = False) -> Decision:
    """Split the cards into those to execute and those whose inputs are exactly as last time."""
    decision = Decision()
    for job in jobs:
        entry = cache.cards.get(job.key)
        unchanged = not force and entry is not None and entry.fingerprint == fingerprints[job.key] and not job.data_error
        if unchanged and entry.ok and job.html.exists():
            decision.unchanged.append(job)
        elif unchanged and not entry.ok:
            decision.still_failing.append(job)  # nothing changed, so no kernel work: report it again
        else:
            decision.to_run.append(job)
    return decision


def _warm_up(log_dir: str, fork_kernels: bool) -> None:
    """Pay the heavy imports once per worker, not once per card; kernels' chatter goes to a log file."""
    from multiprocessing.util import Finalize

    import papermill  # noqa: F401 - imported for its cost, once per worker

    from .kernels import shared_zygote, stop_shared_zygote

    log = os.open(str(Path(log_dir) / f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)

    from .export import html_exporter

    if fork_kernels:
        shared_zygote()  # its imports run while this worker waits for its first card
        Finalize(None, stop_shared_zygote, exitpriority=10)  # worker exit ends the zygote and its kernels
    html_exporter()


def _fresh_log_dir(log_dir: Path) -> Path:
    """Only the last run's logs are kept."""
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir


def execute(jobs: list[Job], options: BatchOptions, on_done: Callable[[JobResult], None]) -> None:
    """Run ``jobs`` in worker processes (at most ``options.workers``), calling ``on_done`` as each ends."""
    if not jobs:
        return
    from .execute import run_job

    log_dir = _fresh_log_dir(options.log_dir)
    run = (options.timeout, options.kernel_name, options.fork_kernels)
    context = multiprocessing.get_context("spawn")
    workers = min(options.workers, len(jobs))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm_up, initargs=(str(log_dir), options.fork_kernels)) as pool:
        pending: set[Future] = {pool.submit(run_job, job, *run) for job in jobs}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_done(future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _record(cache: Cache, job: Job, fingerprint: str, result: JobResult) -> None:
    """A card's outcome; a failed card keeps the identity of its last good one for the index."""
    previous = cache.cards.get(job.key)
    cache.cards[job.key] = CardEntry(
        fingerprint=fingerprint,
        ok=result.ok,
        error=result.error,
        seconds=round(result.seconds, 3),
        record=result.record if result.ok else (previous.record if previous else {}),
        rows=result.rows if result.ok else [],
        failed_href=job.failed_html.name if job.failed_html.exists() else None,
    )


def write_indexes(plan: Plan, cache: Cache, out_dir: Path, years: set[int]) -> None:
    """The index of each cycle in ``years`` (and of any cycle that has none yet), then the root index."""
    stale = [year for year in plan.cycles if year in years or not (out_dir / str(year) / "index.html").exists()]
    if not stale and (out_dir / "index.html").exists():
        return  # nothing to write: do not even import the page builders
    from .index import cycle_index_html, root_index_html, summary_csv

    for year in stale:
        _, cycle = plan.cycles[year]
        page = out_dir / str(year) / "index.html"
        entries, rows = [], []
        for job in (j for j in plan.planned if j.fiscal_year == year):
            entry = cache.cards.get(job.key)
            entries.append({
                **(entry.record if entry else {}),
                "id": job.program_id,
                "ok": bool(entry and entry.ok),
                "error": entry.error if entry else None,
                "previous": job.html.exists(),
                "failed_href": entry.failed_href if entry else None,
            })
            rows.extend(entry.rows if entry and entry.ok else [])
        write_atomic(page, cycle_index_html(year, cycle.title, entries, cycle.results_lag))
        write_atomic(out_dir / str(year) / "summary.csv", summary_csv(rows))
    items = []
    for year, (_, cycle) in plan.cycles.items():
        keys = [job.key for job in plan.planned if job.fiscal_year == year]
        failed = sum(1 for key in keys if not (key in cache.cards and cache.cards[key].ok))
        items.append({"year": year, "title": cycle.title, "count": len(keys), "failed": failed})
    write_atomic(out_dir / "index.html", root_index_html(items))


def run_batch(
    options: BatchOptions,
    progress: Callable[[str], Any] | None = None,
    on_start: Callable[[int], Any] | None = None,
    notice: Callable[[str], Any] | None = None,
) -> BatchSummary:
    """Render every selected card that changed; returns the counts and the failures.

    ``on_start(n)`` is told how many cards will be executed, ``progress(key)``
    each time one ends, ``notice(line)`` anything the user should know (one line each).
    """
    started = time.perf_counter()
    _check_folders(options)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    say = notice or (lambda line: None)
    cache = Cache.load(options.cache_file, warn=say)
    for path in ignored_files(programs_dir(options.data_dir)) + ignored_files(options.params_dir):
        say(f"{path}: ignored (only *.yaml files whose name does not start with '.' are read)")
    digest = lru_cache(maxsize=None)(file_digest)  # each shared file hashed once per run
    plan = plan_batch(options, cache, digest)
    fingerprints = {
        job.key: job_fingerprint(job.notebook, job.cycle_file, job.program_file, job.parameters, digest) for job in plan.selected
    }
    decision = decide(plan.selected, cache, fingerprints, options.force)

    summary = BatchSummary(skipped=len(decision.unchanged), failed=len(decision.still_failing))
    summary.failures = [(job.key, cache.cards[job.key].error or "failed") for job in decision.still_failing]
    by_key = {job.key: job for job in decision.to_run}

    def done(result: JobResult) -> None:
        _record(cache, by_key[result.key], fingerprints[result.key], result)
        if result.ok:
            summary.rendered += 1
        else:
            summary.failed += 1
            summary.failures.append((result.key, result.error or "failed"))
        if progress:
            progress(result.key)

    if decision.to_run and options.fork_kernels:
        from .kernels import fork_unsupported_reason

        reason = fork_unsupported_reason()
        if reason:
            options = replace(options, fork_kernels=False)
            if notice:
                notice(f"kernels start as new interpreters (slower): cannot fork them here: {reason}")
    if on_start:
        on_start(len(decision.to_run))
    try:
        execute(decision.to_run, options, done)
    finally:
        cache.save(options.cache_file)
    write_indexes(plan, cache, options.out_dir, {job.fiscal_year for job in decision.to_run})
    summary.seconds = time.perf_counter() - started
    return summary
