"""What a rendered card depends on, hashed, so that unchanged cards are never re-executed.

A job's fingerprint covers the notebook's source, the cycle file, the program
file, evalkit's own source and the versions of the rendering libraries; the
last two are computed once per run, so checking a job costs a few file reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["file_digest", "environment_digest", "job_fingerprint", "TRACKED_PACKAGES"]

TRACKED_PACKAGES = (
    "papermill", "nbconvert", "nbclient", "jupyter_client", "ipykernel",  # how a card is executed and converted
    "pandas", "seaborn", "matplotlib", "scrapbook", "pydantic", "pyyaml",  # what it computes and draws
)


def file_digest(path: str | Path) -> str:
    """The content's hash; a folder, FIFO or unreadable file gets a marker (never a hang or a crash),
    so that the loader, not the fingerprint, reports what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        return "missing" if not path.exists() else "not-a-regular-file"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror or type(exc).__name__}"


@lru_cache(maxsize=1)
def environment_digest() -> str:
    """evalkit's source files and templates plus the installed library versions."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".css", ".json"}):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    for name in TRACKED_PACKAGES:
        try:
            digest.update(f"{name}=={version(name)}".encode())
        except PackageNotFoundError:
            digest.update(f"{name}==absent".encode())
    return digest.hexdigest()


def job_fingerprint(
    notebook: Path,
    cycle_file: Path,
    program_file: Path,
    parameters: dict,
    digest: Callable[[Path], str] = file_digest,
    settings: dict | None = None,
) -> str:
    """``digest`` lets a batch hash each shared file (notebook, cycle, program) once per run; ``settings`` are
    the run's options that change what a card can become (its timeout, its size limit)."""
    parts = {
        "notebook": digest(notebook),
        "cycle": digest(cycle_file),
        "program": digest(program_file) if program_file.exists() else "missing",
        "environment": environment_digest(),
        "parameters": parameters,
        "settings": settings or {},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
