"""--scheduler: cards rendered on a Dask cluster of separate worker processes are those of a local run."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_CITY, copy_project, own_notebook, run_cli
from test_faults import KILL_WORKER, SLOW, leftovers, wait_until_gone

PROGRAMS = ("sample-bosai", "sample-kenshin", "sample-keiro-shukukin", "sample-toshokan")
ONE_CYCLE = ("--year", "2024", "--quiet", *[arg for program in PROGRAMS for arg in ("--program", program)])


def _stop(process: subprocess.Popen) -> None:
    """As an operator would (SIGTERM to the command), then the whole group if it did not end."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """`dask scheduler` and `dask worker --nthreads 1 --nworkers 2`, started as docs/batch.md says; yields its address.

    One task per worker thread (worker-saturation 1.0), and a card that kills two workers fails (allowed-failures 1).
    """
    from distributed import Client

    where = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0", "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    since = time.time()
    started = []

    def start(*args: str) -> None:
        log = open(where / f"{args[0]}.log", "w")  # noqa: SIM115 - the process writes it until the end of the module
        started.append(subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=where, env=env, start_new_session=True,
                                        stdout=log, stderr=subprocess.STDOUT))

    file = where / "scheduler.json"
    start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file))
    try:
        deadline = time.time() + 60
        while not file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        start("worker", address, "--nthreads", "1", "--nworkers", "2", "--no-dashboard", "--death-timeout", "60",
              "--local-directory", str(where / "workers"))
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            _stop(process)
    assert wait_until_gone(since) == []  # workers, their zygotes and kernels ended with the cluster


def normalized(path: Path) -> str:
    """A page or an executed notebook without what differs from one run to the next: the time it was made."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"evalkit [^<\\]*UTC", "evalkit (version, time) UTC", text)  # the card's 作成 line
    text = re.sub(r'id="cell-id=[0-9a-f]+"', "", text)  # papermill gives its injected-parameters cell a new id each run
    if path.suffix != ".ipynb":
        return text
    notebook = json.loads(text)
    for metadata in [notebook["metadata"]] + [cell["metadata"] for cell in notebook["cells"]]:
        metadata.pop("execution", None)  # nbclient's timings
        for key in ("start_time", "end_time", "duration"):
            metadata.get("papermill", {}).pop(key, None)
    for cell in notebook["cells"]:
        if "injected-parameters" in cell["metadata"].get("tags", []):
            cell.pop("id")
    return json.dumps(notebook, sort_keys=True)


def failures(result: subprocess.CompletedProcess) -> list[str]:
    return sorted(line for line in result.stderr.splitlines() if line.startswith("FAILED"))


def city(where: Path) -> Path:
    """The fictional city with a failing cell, invalid data and a notebook that prints where its data is."""
    project = copy_project(where, city=SAMPLE_CITY)
    own_notebook(project, "sample-bosai", 'raise RuntimeError("セルが失敗しました")')
    own_notebook(project, "sample-keiro-shukukin", "from pathlib import Path\nprint(Path(data_dir).resolve() / 'programs', Path.cwd())")
    kenshin = project / "data/programs/sample-kenshin.yaml"
    kenshin.write_text(kenshin.read_text(encoding="utf-8").replace("direction: up", "direction: higher", 1), encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def both(scheduler, tmp_path_factory):
    """The same project rendered here and on the cluster: (local project, its run, cluster project, its run)."""
    local, remote = city(tmp_path_factory.mktemp("local") / "city"), tmp_path_factory.mktemp("remote") / "city"
    shutil.copytree(local, remote)  # the same notebooks, down to their cells' ids
    return local, run_cli(local, *ONE_CYCLE), remote, run_cli(remote, *ONE_CYCLE, "--scheduler", scheduler)


def test_cards_rendered_on_the_cluster_are_those_of_a_local_run(both):
    local, here, remote, there = both
    assert here.stdout.startswith("2 rendered, 0 skipped (unchanged), 2 failed"), here.stdout + here.stderr
    assert there.stdout.startswith("2 rendered, 0 skipped (unchanged), 2 failed"), there.stdout + there.stderr
    cards = sorted(p.relative_to(local / "outputs") for p in (local / "outputs/2024").glob("sample-*"))
    assert [p.name for p in cards] == ["sample-bosai.failed.html", "sample-keiro-shukukin.html", "sample-keiro-shukukin.ipynb",
                                       "sample-toshokan.html", "sample-toshokan.ipynb"]
    assert sorted(p.relative_to(remote / "outputs") for p in (remote / "outputs/2024").glob("sample-*")) == cards
    for card in cards:
        assert normalized(remote / "outputs" / card) == normalized(local / "outputs" / card), card
    printed = (remote / "outputs/2024/sample-keiro-shukukin.html").read_text(encoding="utf-8")
    assert "<pre>data/programs notebooks\n" in printed  # the worker's folders, published as this machine's labels


def test_failures_stay_per_program_and_read_as_locally(both):
    _, here, _, there = both
    assert there.returncode == 1 and "Traceback" not in there.stderr
    assert "stopped" not in there.stderr  # what a worker has of its own is not taken for what a card left running
    assert failures(there) == failures(here) == [
        "FAILED 2024/sample-bosai: RuntimeError: セルが失敗しました",
        "FAILED 2024/sample-kenshin: data/programs/sample-kenshin.yaml: indicators[0].direction: expected 'up' or 'down', got 'higher'",
    ]
    assert leftovers(both[2] / "outputs") == []


def test_the_cache_makes_a_second_run_execute_nothing(both, scheduler):
    _, _, remote, _ = both
    before = {p: p.stat().st_mtime_ns for p in (remote / "outputs/2024").glob("sample-*")}
    again = run_cli(remote, *ONE_CYCLE, "--scheduler", scheduler)
    assert again.stdout.startswith("0 rendered, 2 skipped (unchanged), 2 failed"), again.stdout + again.stderr
    assert {p: p.stat().st_mtime_ns for p in (remote / "outputs/2024").glob("sample-*")} == before  # no card was written again


def test_the_timeout_applies_on_the_workers(scheduler, tmp_path):
    project = copy_project(tmp_path, city=SAMPLE_CITY)
    own_notebook(project, "sample-toshokan", SLOW)
    started = time.perf_counter()
    result = run_cli(project, *ONE_CYCLE, "--timeout", "6", "--scheduler", scheduler)
    assert time.perf_counter() - started < 45
    assert failures(result) == ["FAILED 2024/sample-toshokan: NotebookTimeout: the notebook ran longer than 6 s"], result.stderr


def test_a_card_that_kills_its_workers_fails_alone_and_is_retried(scheduler, tmp_path):
    project = copy_project(tmp_path, city=SAMPLE_CITY)
    own_notebook(project, "sample-toshokan", KILL_WORKER)
    result = run_cli(project, *ONE_CYCLE, "--scheduler", scheduler)
    assert result.stdout.startswith("3 rendered, 0 skipped (unchanged), 1 failed"), result.stdout + result.stderr
    assert failures(result) == ["FAILED 2024/sample-toshokan: the Dask worker running this card died (killed, or out of memory), "
                                "as did any other it was given to"]
    (project / "notebooks/sample-toshokan.ipynb").unlink()
    again = run_cli(project, *ONE_CYCLE, "--scheduler", scheduler)  # the nannies started new workers; the run's failure is retried
    assert again.stdout.startswith("1 rendered, 3 skipped (unchanged), 0 failed"), again.stdout + again.stderr


def test_ctrl_c_cancels_the_cards_and_writes_nothing_more(scheduler, tmp_path):
    project = copy_project(tmp_path, city=SAMPLE_CITY)
    own_notebook(project, "sample-toshokan", SLOW)
    run = subprocess.Popen([sys.executable, str(ROOT / "run_all.py"), *ONE_CYCLE, "--timeout", "30", "--scheduler", scheduler],
                           cwd=project, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = project / "outputs/2024"
    deadline = time.time() + 90
    while not all((out / f"{program}.html").exists() for program in PROGRAMS[:3]) and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    assert run.poll() is None, "the run ended before it could be interrupted"
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert leftovers(out) == [] and not (out / "sample-toshokan.html").exists()


def test_a_scheduler_that_cannot_be_reached_is_one_line_and_exit_2(tmp_path):
    project = copy_project(tmp_path, city=SAMPLE_CITY)
    for address, reason in (("tcp://127.0.0.1:1", "Timed out trying to connect"), ("nowhere", "missing port number")):
        started = time.perf_counter()
        result = run_cli(project, *ONE_CYCLE, "--scheduler", address)
        assert time.perf_counter() - started < 30
        assert result.returncode == 2 and result.stderr.startswith(f"evalkit: error: --scheduler: cannot reach a Dask scheduler at {address} ")
        assert reason in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.unit
def test_the_inputs_keep_the_layout_the_notebooks_parameters_expect(tmp_path):
    """Data and cycles outside the notebooks' parent (as --data examples/sample-city/data does): one bundle, same layout."""
    from evalkit import cluster
    from evalkit.execute import RunSettings
    from evalkit.jobs import plan_jobs
    from evalkit.loader import load_cycles

    project = tmp_path / "repo"
    for name in ("data", "params"):
        shutil.copytree(SAMPLE_CITY / name, project / "city" / name)
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    (project / "city/data/programs/.#lock.yaml").write_text("x", encoding="utf-8")
    jobs = plan_jobs(load_cycles(project / "city/params"), project / "city/data", project / "out", project / "notebooks")
    settings = RunSettings(work_dir=project / ".evalkit/work", path_labels=((str(project), "."), (str(project / "city/data"), "data")))
    inputs, notebooks = cluster.bundle(jobs, settings)
    assert inputs.name == "repo" and notebooks["2024/sample-bosai"] == "notebooks/report_card.ipynb"
    assert sorted(name for name in inputs.files if not name.startswith("city/data/programs/")) == [
        "city/data/plan.yaml", "city/params/2022.yaml", "city/params/2023.yaml", "city/params/2024.yaml",
        "notebooks/report_card.ipynb"]  # only the notebooks the cards use
    assert "city/data/programs/.#lock.yaml" not in inputs.files
    assert dict(inputs.labels) == {".": ".", "city/data": "data"} and inputs.work_label == "./.evalkit/work"

    cluster._scratch = tmp_path / "worker"
    cluster._scratch.mkdir()
    try:
        top = cluster._materialize(inputs)
        notebook_dir = (top / notebooks["2024/sample-bosai"]).parent
        assert top.name == "repo" and top.parent.parent == cluster._scratch
        assert (notebook_dir / jobs[0].parameters["data_dir"] / "programs/sample-bosai.yaml").is_file()
        assert (notebook_dir / jobs[0].parameters["params_dir"] / "2024.yaml").is_file()
    finally:
        cluster._forget(inputs.run)
        cluster._scratch = None
    assert list((tmp_path / "worker").iterdir()) == []
