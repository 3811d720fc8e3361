"""The one error type bad input raises, so callers can isolate a failing program."""

from __future__ import annotations

import reprlib

__all__ = ["ProgramDataError", "shown"]

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring, _REPR.maxlong, _REPR.maxother = 60, 40, 60


def shown(value: object) -> str:
    """A value as an error message quotes it: short, whatever its size (a YAML alias bomb, a 400-digit number)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a message must never fail to be written
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:79] + "…"


class ProgramDataError(ValueError):
    """Invalid program or cycle data: names the file, the key path and what was expected.

    ``str(error)`` reads ``data/programs/x.yaml: indicators[0].direction: expected 'up' or 'down', got 'higher'``;
    with several problems, one such line each.
    """

    def __init__(self, file: str, key: str, message: str, *, problems: list[tuple[str, str]] | None = None):
        self.file = str(file)
        self.key = key
        self.message = message
        self.problems = problems or [(key, message)]
        super().__init__("\n".join(_line(self.file, k, m) for k, m in self.problems))


def _line(file: str, key: str, message: str) -> str:
    return f"{file}: {key}: {message}" if key else f"{file}: {message}"
