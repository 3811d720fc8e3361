"""evalkit: administrative-evaluation report cards (行政評価「通知表」) from program data.

The stable API (``shared/spec/indicator-method.md``): :func:`fiscal_year`,
:func:`era_label`, :func:`load_program`, :func:`load_programs`,
:class:`ProgramDataError`, :func:`assess`, :func:`achievements`,
:func:`program_status`.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from . import scraps
from .assessment import STATUS_LABELS, achievements, assess, program_status
from .card import ReportCard, build_card, load_card
from .costs import cost_summary
from .cycle import grade
from .errors import ProgramDataError
from .loader import load_cycle, load_program, load_programs
from .model import Program
from .years import era_label, fiscal_year

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
