"""What a batch remembers between runs, typed: each program file's sheet years and each card's outcome.

One JSON file in the batch's state folder.  A cache that cannot be read, or
that has another shape or version, is discarded (with one warning line) and
rebuilt: it only ever saves work, it never decides what is true.  Kept free
of heavy imports: the batch's no-change path uses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .iorw import json_safe, write_atomic

__all__ = ["CACHE_VERSION", "ProgramEntry", "CardEntry", "Cache"]

CACHE_VERSION = 4


@dataclass
class ProgramEntry:
    """A program file as last read: its digest, the years it has sheets for (None: unreadable), its error."""

    digest: str
    years: list[int] | None
    error: str | None
    environment: str = ""  # evalkit's source and libraries when it was read: a change means validating it again


@dataclass
class CardEntry:
    """The last outcome of one card (``<year>/<program id>``) and what the indexes show of it."""

    fingerprint: str
    ok: bool
    error: str | None = None
    retry: bool = False  # the run failed (timeout, dead kernel or worker, disk): executed again next run
    seconds: float = 0.0
    record: dict[str, Any] = field(default_factory=dict)  # the program's identity and status, from its scraps
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # its rows of each open-data file (evalkit.opendata)
    failed_href: str | None = None  # the page showing the failing cell, when there is one
    pdf_source: str | None = None  # the card file (size:mtime) its published PDF was printed from


@dataclass
class Cache:
    programs: dict[str, ProgramEntry] = field(default_factory=dict)  # by resolved program file path
    cards: dict[str, CardEntry] = field(default_factory=dict)  # by card key
    booklets: dict[str, str] = field(default_factory=dict)  # by cycle year: what its published booklet was printed from

    @classmethod
    def load(cls, path: Path, warn: Callable[[str], Any] = lambda message: None) -> Cache:
        """The cache at ``path``; an empty one when it is missing, unreadable or of another shape."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            warn(f"{path}: cannot read the cache ({exc.strerror}); rebuilding it")
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
                raise ValueError("another version")
            return cls(programs=_PROGRAMS.validate_python(data["programs"]), cards=_CARDS.validate_python(data["cards"]),
                       booklets=_BOOKLETS.validate_python(data.get("booklets", {})))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # pydantic's ValidationError is a ValueError
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warn(f"{path}: discarding a cache of another version or shape ({reason}); rebuilding it")
            return cls()

    def save(self, path: Path) -> None:
        """Atomically; non-finite numbers are saved as undefined, so saving never fails on a card's values."""
        data = {
            "version": CACHE_VERSION,
            "programs": {k: asdict(v) for k, v in self.programs.items()},
            "cards": {k: asdict(v) for k, v in self.cards.items()},
            "booklets": self.booklets,
        }
        write_atomic(path, json.dumps(json_safe(data), ensure_ascii=False, allow_nan=False))


# every field checked by type on load: a cache of the right version but the wrong shape is discarded, never trusted
_PROGRAMS = TypeAdapter(dict[str, ProgramEntry])
_CARDS = TypeAdapter(dict[str, CardEntry])
_BOOKLETS = TypeAdapter(dict[str, str])
