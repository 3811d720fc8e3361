"""evalkit.fingerprint: a card is re-executed exactly when something it depends on changed."""

import os
from importlib.metadata import PackageNotFoundError

import pytest

from evalkit import fingerprint
from evalkit.fingerprint import TRACKED_PACKAGES, environment_digest, file_digest, job_fingerprint

pytestmark = pytest.mark.unit


@pytest.fixture
def files(tmp_path):
    notebook = tmp_path / "report_card.ipynb"
    cycle = tmp_path / "2023.yaml"
    program = tmp_path / "p.yaml"
    notebook.write_text('{"cells": []}', encoding="utf-8")
    cycle.write_text("fiscal_year: 2023\n", encoding="utf-8")
    program.write_text("id: p\nname: 事業\n", encoding="utf-8")
    return notebook, cycle, program


PARAMETERS = {"program_id": "p", "fiscal_year": 2023, "results_lag": 1, "thresholds": {"substantial": 0.95, "moderate": 0.6}}


def fp(files, parameters=PARAMETERS, **kwargs):
    notebook, cycle, program = files
    return job_fingerprint(notebook, cycle, program, parameters, **kwargs)


@pytest.fixture
def fresh_environment_digest():
    """environment_digest is cached per run: clear it around a test that fakes package versions."""
    environment_digest.cache_clear()
    yield
    environment_digest.cache_clear()


def test_stable_when_nothing_changed(files):
    first = fp(files)
    assert len(first) == 64 and int(first, 16) >= 0  # a sha256 hex digest
    assert fp(files) == first
    # rewriting the same bytes or touching the files changes nothing: content counts, not time stamps
    for path in files:
        path.write_bytes(path.read_bytes())
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert fp(files) == first
    # the parameters' key order does not matter
    reordered = dict(reversed(list(PARAMETERS.items())))
    assert list(reordered) != list(PARAMETERS)
    assert fp(files, reordered) == first


@pytest.mark.parametrize("which", [0, 1, 2], ids=["notebook", "cycle file", "program file"])
def test_changes_when_a_file_changes(files, which):
    before = fp(files)
    path = files[which]
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    after = fp(files)
    assert after != before
    path.write_text(path.read_text(encoding="utf-8").replace("\n# edited\n", ""), encoding="utf-8")
    assert fp(files) == before  # back to the same bytes: back to the same fingerprint


@pytest.mark.parametrize(
    "change",
    [
        {"fiscal_year": 2024},
        {"results_lag": 0},
        {"thresholds": {"substantial": 0.9, "moderate": 0.6}},  # a nested value
        {"title": "新しい題"},  # a new key
    ],
)
def test_changes_when_the_parameters_change(files, change):
    assert fp(files, {**PARAMETERS, **change}) != fp(files)


def test_the_given_digest_hashes_each_file(files):
    seen = []

    def digest(path):
        seen.append(path)
        return file_digest(path)

    assert fp(files, digest=digest) == fp(files)  # the default digest is file_digest
    assert seen == list(files)


def test_a_missing_program_file_is_hashed_as_missing(files, tmp_path):
    notebook, cycle, program = files
    program.unlink()
    gone = fp(files)  # no exception
    assert fp((notebook, cycle, tmp_path / "other-missing.yaml")) == gone  # any missing file: the same token
    # exactly as if the program file's digest were the word "missing"
    stand_in = tmp_path / "stand-in.yaml"
    stand_in.write_text("x", encoding="utf-8")
    as_word = job_fingerprint(
        notebook, cycle, stand_in, PARAMETERS, digest=lambda p: "missing" if p == stand_in else file_digest(p)
    )
    assert as_word == gone
    # and the digest is never asked about the missing file
    seen = []
    job_fingerprint(notebook, cycle, program, PARAMETERS, digest=lambda p: seen.append(p) or "d")
    assert seen == [notebook, cycle]
    # when it appears, the fingerprint changes
    program.write_text("id: p\nname: 事業\n", encoding="utf-8")
    assert fp(files) != gone


def fake_versions(monkeypatch, versions: dict[str, str | None]):
    """Make ``version()`` as used by evalkit.fingerprint answer from ``versions`` (None: not installed)."""

    def version(name):
        value = versions.get(name, "1.0")
        if value is None:
            raise PackageNotFoundError(name)
        return value

    monkeypatch.setattr(fingerprint, "version", version)


@pytest.mark.parametrize("package", TRACKED_PACKAGES)
def test_environment_digest_includes_each_tracked_package_version(monkeypatch, fresh_environment_digest, package):
    fake_versions(monkeypatch, {})
    base = environment_digest()
    assert environment_digest() == base  # cached and stable
    fake_versions(monkeypatch, {package: "2.0"})
    assert environment_digest() == base  # still the cached value within one run
    environment_digest.cache_clear()
    assert environment_digest() != base  # a new version of the package: a new digest
    fake_versions(monkeypatch, {package: None})
    environment_digest.cache_clear()
    assert environment_digest() != base  # uninstalled is not the same as any version


def test_environment_digest_ignores_untracked_packages(monkeypatch, fresh_environment_digest):
    assert "hypothesis" not in TRACKED_PACKAGES
    fake_versions(monkeypatch, {})
    base = environment_digest()
    fake_versions(monkeypatch, {"hypothesis": "99.0"})
    environment_digest.cache_clear()
    assert environment_digest() == base


def test_the_environment_is_part_of_the_job_fingerprint(files, monkeypatch, fresh_environment_digest):
    assert {"papermill", "nbconvert", "pandas"} <= set(TRACKED_PACKAGES)
    fake_versions(monkeypatch, {})
    before = fp(files)
    fake_versions(monkeypatch, {"papermill": "3.0"})
    environment_digest.cache_clear()
    assert fp(files) != before


def test_the_kernel_libraries_are_tracked():
    # a new jupyter_client or ipykernel can change how a card's kernel behaves: cards must re-render
    assert {"jupyter_client", "ipykernel", "papermill", "nbclient", "nbconvert"} <= set(fingerprint.TRACKED_PACKAGES)
