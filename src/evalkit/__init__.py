"""evalkit: administrative-evaluation report cards (行政評価「通知表」) from program data.

The stable API (``docs/method.md``): :func:`fiscal_year`,
:func:`era_label`, :func:`load_program`, :func:`load_programs`,
:class:`ProgramDataError`, :func:`assess`, :func:`achievements`,
:func:`program_status`.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import Any

from .errors import ProgramDataError
from .years import era_label, fiscal_year

# The rest of the API is imported on first use (PEP 562): the batch command line needs neither
# pandas nor matplotlib to find that nothing changed, while ``evalkit.assess`` works as usual.
_LAZY = {
    "STATUS_LABELS": "assessment", "achievements": "assessment", "assess": "assessment", "program_status": "assessment",
    "ReportCard": "card", "build_card": "card", "load_card": "card",
    "cost_summary": "costs", "grade": "cycle",
    "load_cycle": "loader", "load_program": "loader", "load_programs": "loader",
    "Program": "model",
}
_SUBMODULES = {"scraps", "sections", "charts", "gap", "assessment", "batch", "cli"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")

try:
    __version__ = _version("evalkit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "STATUS_LABELS",
    "achievements",
    "assess",
    "program_status",
    "cost_summary",
    "grade",
    "ReportCard",
    "build_card",
    "load_card",
    "scraps",
    "ProgramDataError",
    "Program",
    "era_label",
    "fiscal_year",
    "load_cycle",
    "load_program",
    "load_programs",
    "__version__",
]
