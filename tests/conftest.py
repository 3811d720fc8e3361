"""Shared fixtures: the repository's paths and a writer for throw-away program files."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def write_program(tmp_path):
    """Write ``text`` as ``<tmp>/programs/<stem>.yaml`` and return its path."""

    def write(text: str, stem: str = "p") -> Path:
        folder = tmp_path / "programs"
        folder.mkdir(exist_ok=True)
        path = folder / f"{stem}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
