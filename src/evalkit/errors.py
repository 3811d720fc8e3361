"""The one error type bad input raises, so callers can isolate a failing program."""

from __future__ import annotations

__all__ = ["ProgramDataError"]


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
