"""Regenerating every card: plan, skip what is unchanged, run the rest in parallel, write the indexes.

The plain Python API behind ``evalkit`` / ``run_all.py``.  Worker processes
(not threads: papermill's working directory is process-wide) run
:func:`evalkit.execute.run_job`; a failing program never stops the others and
never replaces its previous good card.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import ProgramDataError
from .fingerprint import file_digest, job_fingerprint
from .iorw import write_atomic
from .jobs import Job, JobResult, plan_jobs
from .loader import load_cycles

# Executing, exporting and index pages pull in nbconvert, jupyter_client and matplotlib: they are
# imported where used, so that a run with nothing to do starts in a fraction of a second.

__all__ = ["BatchOptions", "BatchSummary", "ConfigError", "run_batch", "CACHE_FILE"]

CACHE_FILE = ".evalkit-cache.json"
CACHE_VERSION = 1


class ConfigError(Exception):
    """A usage or configuration problem that stops the whole run (exit status 2)."""


@dataclass
class BatchOptions:
    data_dir: Path = Path("data")
    params_dir: Path = Path("params")
    out_dir: Path = Path("outputs")
    notebooks_dir: Path = Path("notebooks")
    years: list[int] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    force: bool = False
    timeout: float | None = None
    kernel_name: str | None = None
    fork_kernels: bool = True  # fork kernels from a pre-imported zygote (evalkit.kernels)


@dataclass
class BatchSummary:
    rendered: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (job key, message)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def line(self) -> str:
        return f"{self.rendered} rendered, {self.skipped} skipped (unchanged), {self.failed} failed in {self.seconds:.1f} s"


def _load_cache(out_dir: Path) -> dict:
    path = out_dir / CACHE_FILE
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
        if cache.get("version") == CACHE_VERSION:
            return cache
    except (OSError, ValueError):
        pass
    return {"version": CACHE_VERSION, "programs": {}, "jobs": {}}


def _save_cache(out_dir: Path, cache: dict) -> None:
    write_atomic(out_dir / CACHE_FILE, json.dumps(cache, ensure_ascii=False, allow_nan=False, default=str))


def _known_sheet_years(data_dir: Path, cache: dict, digest: Callable[[Path], str]) -> dict:
    """Reuse what the cache knows about unchanged program files."""
    programs_dir = data_dir / "programs" if (data_dir / "programs").is_dir() else data_dir
    known = {}
    for path in programs_dir.glob("*.yaml"):
        entry = cache["programs"].get(str(path))
        if entry and entry["digest"] == digest(path):
            known[path] = (None if entry["years"] is None else set(entry["years"]), entry["error"])
    return known


def _warm_up(log_dir: str | None = None, fork_kernels: bool = True) -> None:
    """Pay the heavy imports once per worker, not once per card; kernels' chatter goes to a log file."""
    from multiprocessing.util import Finalize

    import papermill  # noqa: F401

    from .kernels import shared_zygote, stop_shared_zygote

    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        log = os.open(str(Path(log_dir) / f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 2)

    from .export import html_exporter

    if fork_kernels:
        shared_zygote()  # its imports run while this worker waits for its first card
        Finalize(None, stop_shared_zygote, exitpriority=10)  # worker exit ends the zygote and its kernels
    html_exporter()


def _execute(
    jobs: list[Job], options: BatchOptions, on_done: Callable[[JobResult], None]
) -> None:
    if not jobs:
        return
    from .execute import run_job
    from .kernels import stop_shared_zygote

    run = (options.timeout, options.kernel_name, options.fork_kernels)
    if options.jobs <= 1 or len(jobs) <= 1:
        try:
            for job in jobs:
                on_done(run_job(job, *run))
        finally:
            stop_shared_zygote()
        return
    context = multiprocessing.get_context("spawn")
    workers = min(options.jobs, len(jobs))
    log_dir = str(options.out_dir / ".evalkit-logs")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm_up, initargs=(log_dir, options.fork_kernels)) as pool:
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


def run_batch(
    options: BatchOptions,
    progress: Callable[[str], Any] | None = None,
    on_start: Callable[[int], Any] | None = None,
) -> BatchSummary:
    """Render every selected card that changed; returns the counts and the failures.

    ``on_start(n)`` is told how many cards will be executed, ``progress(key)`` each time one ends.
    """
    started = time.perf_counter()
    for name, folder in (("--data", options.data_dir), ("--params", options.params_dir), ("notebooks", options.notebooks_dir)):
        if not folder.is_dir():
            raise ConfigError(f"{name}: folder {folder} does not exist")
    options.out_dir.mkdir(parents=True, exist_ok=True)
    cache = _load_cache(options.out_dir)
    digests: dict[Path, str] = {}

    def digest(path: Path) -> str:
        if path not in digests:
            digests[path] = file_digest(path)
        return digests[path]

    known = _known_sheet_years(options.data_dir, cache, digest)
    try:
        found = load_cycles(options.params_dir)
        cycles = {c.fiscal_year: (p, c) for p, c in found}
        planned = plan_jobs(found, options.data_dir, options.out_dir, options.notebooks_dir, sheet_years=known)
    except ProgramDataError as exc:
        raise ConfigError(str(exc)) from None
    jobs = [
        job for job in planned
        if (not options.years or job.fiscal_year in options.years) and (not options.programs or job.program_id in options.programs)
    ]
    unknown = sorted(set(options.programs) - {job.program_id for job in planned})
    if unknown:
        raise ConfigError(f"--program: no cycle selects {', '.join(unknown)} (is there a data/programs/<id>.yaml with a sheet for the year?)")
    if not cycles:
        raise ConfigError(f"--params: no cycle files (<year>.yaml) in {options.params_dir}")
    missing_years = sorted(set(options.years) - set(cycles))
    if missing_years:
        raise ConfigError(f"--year: no cycle file for {', '.join(map(str, missing_years))} in {options.params_dir}")
    cache["programs"] = {
        str(path): {"digest": digest(path), "years": None if years is None else sorted(years), "error": error}
        for path, (years, error) in known.items() if path.exists()
    }

    summary = BatchSummary()
    fingerprints = {job.key: job_fingerprint(job.notebook, job.cycle_file, job.program_file, job.parameters, digest) for job in jobs}
    to_run: list[Job] = []
    for job in jobs:
        entry = cache["jobs"].get(job.key)
        unchanged = not options.force and entry and entry["fingerprint"] == fingerprints[job.key] and not job.data_error
        if unchanged and entry["ok"] and job.html.exists():
            summary.skipped += 1
        elif unchanged and not entry["ok"]:
            summary.failed += 1  # still failing; nothing changed, so no kernel work
            summary.failures.append((job.key, entry["error"]))
        else:
            to_run.append(job)
    touched = {job.fiscal_year for job in to_run}

    by_key = {job.key: job for job in to_run}

    def done(result: JobResult) -> None:
        job = by_key[result.key]
        previous = cache["jobs"].get(result.key, {})
        entry = {"fingerprint": fingerprints[result.key], "ok": result.ok, "error": result.error, "seconds": round(result.seconds, 3)}
        if result.ok:
            summary.rendered += 1
            entry.update(record=result.record, rows=result.rows)
        else:
            summary.failed += 1
            summary.failures.append((result.key, result.error or "failed"))
            entry.update(record=previous.get("record", {}), rows=[])  # the last good card's identity, for the index
        entry["failed_href"] = job.failed_html.name if job.failed_html.exists() else None
        cache["jobs"][result.key] = entry
        if progress:
            progress(result.key)

    if on_start:
        on_start(len(to_run))
    try:
        _execute(to_run, options, done)
    finally:
        _save_cache(options.out_dir, cache)

    for year, (_, cycle) in cycles.items():
        index = options.out_dir / str(year) / "index.html"
        if year in touched or not index.exists():
            _write_cycle(year, cycle, [job for job in planned if job.fiscal_year == year], cache, options.out_dir)
    if touched or not (options.out_dir / "index.html").exists():
        _write_root(cycles, planned, cache, options.out_dir)
    summary.seconds = time.perf_counter() - started
    return summary


def _write_cycle(year: int, cycle: Any, jobs: list[Job], cache: dict, out_dir: Path) -> None:
    from .index import cycle_index_html, summary_csv

    entries, rows = [], []
    for job in jobs:
        entry = cache["jobs"].get(job.key, {})
        record = entry.get("record", {})
        entries.append({
            **record,
            "id": job.program_id,
            "ok": bool(entry.get("ok")),
            "error": entry.get("error"),
            "previous": job.html.exists(),
            "failed_href": entry.get("failed_href"),
        })
        rows.extend(entry.get("rows", []) if entry.get("ok") else [])
    folder = out_dir / str(year)
    write_atomic(folder / "index.html", cycle_index_html(year, cycle.title, entries, cycle.results_lag))
    write_atomic(folder / "summary.csv", summary_csv(rows))


def _write_root(cycles: dict, jobs: list[Job], cache: dict, out_dir: Path) -> None:
    from .index import root_index_html

    items = []
    for year, (_, cycle) in cycles.items():
        keys = [job.key for job in jobs if job.fiscal_year == year]
        items.append({
            "year": year, "title": cycle.title, "count": len(keys),
            "failed": sum(1 for k in keys if not cache["jobs"].get(k, {}).get("ok")),
        })
    write_atomic(out_dir / "index.html", root_index_html(items))
