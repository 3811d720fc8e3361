"""Printing cards, and a cycle's booklet, to PDF with headless Chromium driven by Playwright.

The PDF is the same HTML as the card, printed by a real browser engine: the
print CSS decides the layout (A4, running footer, nothing split), and
Chromium builds the outline from the headings, which is how the booklet
finds the page each card starts on.  Every font is embedded with its Unicode
map (CFF fonts such as Noto Sans CJK as Type 3 glyph procedures, TrueType
fonts as CID subsets), so the text can be searched and copied.

The system's Chromium is used (``EVALKIT_CHROMIUM`` or ``chromium`` on the
PATH); Playwright downloads no browser.  Pages may load only local files.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PdfError", "Printer", "chromium_path", "unavailable_reason", "outline_pages", "print_booklet"]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: as root in a container Chromium needs --no-sandbox; the others keep it from calling home (closed networks hang on that)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--disable-sync", "--disable-quic"]
PAGE_TIMEOUT_MS = 120_000
LAUNCH_TIMEOUT_MS = 30_000  # a browser that has not started by then will not


class PdfError(Exception):
    """A page could not be printed (the browser failed, or the booklet's page numbers would not settle)."""


def chromium_path() -> str | None:
    """The browser to print with: ``EVALKIT_CHROMIUM`` when set, else the first Chromium on the PATH."""
    explicit = os.environ.get("EVALKIT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def unavailable_reason() -> str | None:
    """Why PDFs cannot be printed here, in a few words; ``None`` when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    if chromium_path() is None:
        where = os.environ.get("EVALKIT_CHROMIUM")
        return f"EVALKIT_CHROMIUM={where} is not a file" if where else "no Chromium found (install Debian's chromium, or set EVALKIT_CHROMIUM)"
    return None


class Printer:
    """One headless browser for a whole run: each page is a fresh tab that may load only local files."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or chromium_path()
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> Printer:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(executable_path=self.executable, args=LAUNCH_ARGS, timeout=LAUNCH_TIMEOUT_MS)
        except BaseException:
            self._playwright.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            self._playwright.stop()

    def print_file(self, html: Path) -> bytes:
        """The page at ``html`` printed on A4 (the page's own @page rules win), with backgrounds and an outline."""
        page = None
        try:
            page = self._browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort())
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.evaluate("document.fonts.ready")
            return page.pdf(format="A4", prefer_css_page_size=True, print_background=True, outline=True, tagged=True)
        except Exception as exc:  # noqa: BLE001 - Playwright's errors carry the browser's message
            raise PdfError(f"{html.name}: Chromium could not print it ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
        finally:
            if page is not None:
                with contextlib.suppress(Exception):  # a browser that died cannot close its tab
                    page.close()

    def print_html(self, html: str, folder: Path) -> bytes:
        """``html`` printed as if it were a file in ``folder`` (its relative links resolve there)."""
        fd, name = tempfile.mkstemp(prefix=".print.partial.", suffix=".html", dir=folder)  # a killed run's is cleaned up (".partial.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(html)
            return self.print_file(Path(name))
        finally:
            Path(name).unlink(missing_ok=True)


def outline_pages(pdf: bytes) -> list[int]:
    """The 1-based page of each top-level outline entry (one per ``<h1>``), in order."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return [reader.get_destination_page_number(entry) + 1 for entry in reader.outline if not isinstance(entry, list)]


def print_booklet(printer: Printer, build: Callable[[dict[str, int] | None], str], program_ids: list[str], folder: Path) -> bytes:
    """Print the booklet twice: first with placeholder page numbers, to learn where each card starts (its
    ``<h1>``, the last ones of the outline), then with the real ones; again if they moved (they should not,
    the placeholders being as wide as the numbers)."""
    pages: dict[str, int] | None = None
    for _ in range(4):
        pdf = printer.print_html(build(pages), folder)
        starts = outline_pages(pdf)
        if len(starts) < len(program_ids):
            raise PdfError(f"the booklet's outline has {len(starts)} headings for {len(program_ids)} cards")
        found = dict(zip(program_ids, starts[len(starts) - len(program_ids):], strict=True))
        if found == pages:
            return pdf
        pages = found
    raise PdfError("the booklet's page numbers did not settle")
