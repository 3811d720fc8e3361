"""Shared fixtures: the repository's paths and a writer for throw-away program files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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


# ---- real batch runs, shared by the report, browser and batch tests ----

CHROMIUM = os.environ.get("EVALKIT_CHROMIUM", "/usr/bin/chromium")
XSS_NAME = "<script>alert(1)</script>"
XSS_PROGRAM = f"""\
id: xss-check
name: "{XSS_NAME}"
section: "<b>課</b>"
source: "javascript:alert(2)"
background: "<img src=x onerror=alert(3)>"
sheets:
  R5:
    questions: ["<iframe src='https://example.com'></iframe>"]
"""


#: the fictional city's project (サンプル市): data/ and params/ of its own, sharing the repository's notebooks
SAMPLE_CITY = ROOT / "examples/sample-city"


def copy_project(dest: Path, city: Path = ROOT) -> Path:
    """A throw-away copy of the inputs a batch run reads (data, params, notebooks): the repository's four real
    sample sheets, or with ``city=SAMPLE_CITY`` the fictional city."""
    for name in ("data", "params"):
        shutil.copytree(city / name, dest / name)
    shutil.copytree(ROOT / "notebooks", dest / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


def own_notebook(project: Path, program_id: str, code: str) -> None:
    """Give ``program_id`` a notebook of its own: the template with ``code`` run after the setup cell."""
    import nbformat

    nb = nbformat.read(str(project / "notebooks/report_card.ipynb"), as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell(code))
    nbformat.write(nb, str(project / f"notebooks/{program_id}.ipynb"))


def run_cli(project: Path, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python run_all.py`` in ``project``, for real: papermill, kernels, nbconvert (``env``: extra variables)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "run_all.py"), *args],
        cwd=project, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """The four real sample sheets rendered once by the real CLI (plus an HTML-injection probe)."""
    project = copy_project(tmp_path_factory.mktemp("rendered"))
    (project / "data/programs/xss-check.yaml").write_text(XSS_PROGRAM, encoding="utf-8")
    result = run_cli(project, "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "outputs"


@pytest.fixture(scope="session")
def rendered_city(tmp_path_factory) -> Path:
    """The fictional city (15 programs × 3 cycles, with its plan) rendered once by the real CLI."""
    project = copy_project(tmp_path_factory.mktemp("city"), city=SAMPLE_CITY)
    result = run_cli(project, "--quiet", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "outputs"


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run)")
    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        yield instance
        instance.close()


#: what the tests' runs start: kernels, zygotes, batch workers, run_all itself, the stray-process probe
EVALKIT_PROCESSES = ("ipykernel_launcher", "evalkit.zygote", "multiprocessing.spawn", "run_all.py", "evalkit-stray-probe")


#: where this session's throw-away projects live: a process working there was started by these tests
_BASETEMP: list[Path] = []


def evalkit_processes_started_after(since: float) -> list[str]:
    """Kernels, zygotes, workers and run_all processes started by this test session (working in its temporary folders)."""
    found = []
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    ticks = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            started = boot + int((proc / "stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
            cwd = os.readlink(proc / "cwd")
        except (OSError, IndexError, ValueError):
            continue
        ours = any(cwd.startswith(str(base)) for base in _BASETEMP) or not _BASETEMP
        # forked kernels carry their zygote's command line
        if ours and int(proc.name) != os.getpid() and any(p in cmdline for p in EVALKIT_PROCESSES) and started >= since - 1:
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_running(tmp_path_factory):
    """After the whole suite, no process that its runs started (kernel, zygote, worker, run_all) may still be running."""
    _BASETEMP.append(tmp_path_factory.getbasetemp().resolve())
    since = time.time()
    yield
    deadline = time.time() + 15
    while evalkit_processes_started_after(since) and time.time() < deadline:
        time.sleep(0.5)
    leftover = evalkit_processes_started_after(since)
    assert not leftover, f"processes left running: {leftover}"
