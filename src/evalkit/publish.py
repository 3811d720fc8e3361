"""The printed forms of a cycle, kept in step with its HTML: each card as ``<id>.pdf`` and the cycle as ``booklet.pdf``.

Incremental like the cards: a PDF is printed again only when the card it
was printed from changed (its file's size or modification time), and the
booklet only when one of its cards, the index entries or the order changed.
Without ``--pdf`` nothing is printed, but a PDF that no longer matches its
card is removed: a published file is never stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import Cache
from .iorw import write_atomic
from .jobs import Job
from .plan import CityPlan

__all__ = ["BOOKLET", "PrintResult", "card_order", "publish_prints"]

BOOKLET = "booklet.pdf"


@dataclass
class PrintResult:
    changed: set[int] = field(default_factory=set)  # cycles whose booklet appeared or disappeared (their index links it)
    printed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (what, message)


def card_order(entries: list[dict[str, Any]], plan: CityPlan | None) -> list[dict[str, Any]]:
    """The booklet's order: by the plan (its leaves depth first, in file order; programs outside the plan last),
    or without a plan by 部 and 課; the cycle's order within each."""
    if plan is not None:
        leaves = [item.id for item, _ in plan.walk() if item in plan.leaves()]
        rank = {leaf: i for i, leaf in enumerate(leaves)}
        return sorted(entries, key=lambda e: rank.get(e.get("policy") or "", len(rank)))
    return sorted(entries, key=lambda e: (e.get("organization") is None, e.get("organization") or "", e.get("section") or ""))


def _source(path: Path) -> str | None:
    """What identifies the card a PDF was printed from; ``None`` when there is no card."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class _LazyPrinter:
    """Chromium starts only when something has to be printed; a browser that cannot start is said once."""

    def __init__(self) -> None:
        self._printer: Any = None
        self.error: str | None = None

    def get(self) -> Any:
        if self._printer is None and self.error is None:
            from .pdf import Printer

            printer = Printer()
            try:
                self._printer = printer.__enter__()
            except Exception as exc:  # noqa: BLE001 - e.g. a broken browser install: the HTML is published anyway
                self.error = f"Chromium could not start ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        return self._printer

    def close(self) -> None:
        if self._printer is not None:
            self._printer.__exit__(None, None, None)


def _booklet_key(year: int, title: str | None, ordered: list[dict[str, Any]], sources: dict[str, str | None]) -> str:
    data = json.dumps([year, title, ordered, [sources.get(e["id"]) for e in ordered]], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def publish_prints(
    jobs: dict[int, list[Job]], titles: dict[int, str | None], entries: Callable[[int], list[dict[str, Any]]], cache: Cache,
    out_dir: Path, plan: CityPlan | None, enabled: bool, say: Callable[[str], Any], workers: int = 1,
) -> PrintResult:
    """Print (``enabled``) or withdraw (not enabled) the card PDFs and booklet of every cycle in ``jobs``;
    cards are printed by ``workers`` browsers at once (Playwright's API is per thread, so each has its own)."""
    result = PrintResult()
    removed = 0
    sources: dict[str, str | None] = {}
    to_print: list[Job] = []
    for job in (job for cycle_jobs in jobs.values() for job in cycle_jobs):
        pdf, entry = job.out_dir / f"{job.program_id}.pdf", cache.cards.get(job.key)
        sources[job.key] = source = _source(job.html)
        if entry is not None and pdf.exists() and source is not None and entry.pdf_source == source:
            continue
        if pdf.exists():  # it no longer matches its card: never left published, whatever happens next
            removed += not enabled
            pdf.unlink()
        if enabled and source is not None and entry is not None:
            to_print.append(job)
    errors: set[str] = set()
    for job, data in _print_cards(to_print, workers, errors):
        if isinstance(data, str):
            result.failures.append((f"{job.key}.pdf", data))
        else:
            write_atomic(job.out_dir / f"{job.program_id}.pdf", data)
            cache.cards[job.key].pdf_source = sources[job.key]
            result.printed += 1
    printer = _LazyPrinter()
    if errors:  # the browser could not start for the cards: the booklets would wait for it again
        printer.error = sorted(errors)[0]
    try:
        for year, cycle_jobs in jobs.items():
            cycle_sources = {job.program_id: sources[job.key] for job in cycle_jobs}
            _booklet(year, titles.get(year), entries(year), cycle_sources, cache, out_dir / str(year), plan, enabled, printer, result)
    finally:
        printer.close()
    errors |= {printer.error} if printer.error else set()
    for error in sorted(errors):
        say(f"PDF not printed: {error}; the HTML is published as usual")
    if removed:
        say(f"removed {removed} PDF(s) that no longer matched their cards (run with --pdf to print them again)")
    return result


def _print_cards(jobs: list[Job], workers: int, errors: set[str]) -> Iterator[tuple[Job, bytes | str]]:
    """Each card's PDF (or why it failed), from ``workers`` threads with a browser each: Playwright's API
    belongs to the thread that started it, so each thread starts, uses and closes its own."""
    if not jobs:
        return
    from .pdf import PdfError

    todo: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[tuple[Job, bytes | str] | None] = queue.SimpleQueue()
    stop = threading.Event()
    count = max(1, min(workers, len(jobs)))
    for job in jobs:
        todo.put(job)
    for _ in range(count):
        todo.put(None)

    def work() -> None:
        printer = _LazyPrinter()
        try:
            while not stop.is_set() and (job := todo.get()) is not None:
                browser = printer.get()
                if browser is None:
                    continue  # the browser cannot start: said once (``errors``), the HTML is published as usual
                try:
                    done.put((job, browser.print_file(job.html)))
                except PdfError as exc:
                    done.put((job, str(exc)))
        finally:
            try:
                with contextlib.suppress(Exception):  # a browser that died on the way out: its pages were handed over
                    printer.close()
            finally:
                if printer.error:
                    errors.add(printer.error)
                done.put(None)  # always: the consumer counts the threads that ended

    threads = [threading.Thread(target=work, name=f"evalkit-print-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        running = count
        while running:
            try:
                item = done.get(timeout=0.25)  # timed: Ctrl-C and SIGTERM must reach this thread while pages print
            except queue.Empty:
                continue
            if item is None:
                running -= 1
            else:
                yield item
    finally:
        stop.set()  # on Ctrl-C: each thread ends after the page it is printing
        for thread in threads:
            thread.join()


def _booklet(year: int, title: str | None, entries: list[dict[str, Any]], sources: dict[str, str | None], cache: Cache,
             folder: Path, plan: CityPlan | None, enabled: bool, printer: _LazyPrinter, result: PrintResult) -> None:
    path = folder / BOOKLET
    existed = path.exists()
    ordered = card_order(entries, plan)
    key = _booklet_key(year, title, ordered, sources)
    printed = [e for e in ordered if e.get("ok") and sources.get(e["id"])]
    if existed and cache.booklets.get(str(year)) == key:
        return
    path.unlink(missing_ok=True)  # it no longer matches its cards: never left published, whatever happens next
    cache.booklets.pop(str(year), None)
    if enabled and printed and (browser := printer.get()) is not None:
        from .booklet import booklet_html
        from .pdf import PdfError, print_booklet

        cards = [(e["id"], (folder / f"{e['id']}.html").read_text(encoding="utf-8")) for e in printed]
        municipality = next((e.get("municipality") for e in printed if e.get("municipality")), None)

        def build(pages: dict[str, int] | None) -> str:
            return booklet_html(fiscal_year=year, title=title, municipality=municipality, entries=ordered, cards=cards, pages=pages)

        try:
            write_atomic(path, print_booklet(browser, build, [e["id"] for e in printed], folder))
            cache.booklets[str(year)] = key
        except PdfError as exc:
            result.failures.append((f"{year}/{BOOKLET}", str(exc)))
    if path.exists() != existed:
        result.changed.add(year)
