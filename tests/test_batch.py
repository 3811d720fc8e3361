"""run_all.py for real on a temporary copy: caching, isolation of failures, atomic outputs, exit codes."""

import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, copy_project, own_notebook, run_cli

from evalkit.execute import ParameterError, check_parameters

CARDS = ("2023/chiiki-kyosei", "2019/shinjo-gomi-shuseki-hojo", "2019/kakogawa-shogaisha-sports", "2017/morioka-toshi-koen")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A project rendered once, cold, with two workers: (project, completed process)."""
    project = copy_project(tmp_path_factory.mktemp("first-run"))
    result = run_cli(project, "--workers", "2")
    return project, result


@pytest.fixture
def rendered_project(first_run, tmp_path):
    """A private copy of the rendered project (outputs and the batch's state included) to change."""
    project, _ = first_run
    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    return copy


def html_mtimes(out):
    return {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}


def test_a_cold_run_renders_every_card_index_and_summary(first_run):
    project, result = first_run
    out = project / "outputs"
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("4 rendered, 0 skipped (unchanged), 0 failed in ")
    for card in CARDS:
        assert (out / f"{card}.html").stat().st_size > 5000
        parameters = nbformat.read(str(out / f"{card}.ipynb"), as_version=4).metadata["papermill"]["parameters"]
        assert parameters["program_id"] == card.split("/")[1] and parameters["data_dir"] == "../data"
    for year in (2017, 2019, 2023):
        assert (out / str(year) / "index.html").exists()
        header = (out / str(year) / "data/indicators.csv").read_text(encoding="utf-8-sig").splitlines()[0]
        assert header.startswith("program_id,indicator_id,name,unit,direction,kind,base_year,")
    assert len((out / "2019/data/indicators.csv").read_text(encoding="utf-8-sig").splitlines()) == 1 + 2  # shinjo's two indicators
    assert (out / "index.html").exists()


def test_the_output_folder_holds_only_what_is_published(first_run):
    project, _ = first_run
    published = sorted(str(p.relative_to(project / "outputs")) for p in (project / "outputs").rglob("*") if p.is_file())
    open_data = tuple(f"data/{name}" for name in ("datapackage.json", "programs.csv", "indicators.csv", "observations.csv",
                                                   "findings.csv", "diagnostics.csv"))  # no plan: no plan.csv
    per_cycle = ("index.html", "triage.html", "triage.csv", "一覧表.xlsx", "plan/index.html", "plan/unassigned.html", *open_data)  # no plan: 未分類
    assert published == sorted(
        ["index.html"] + [f"{y}/{name}" for y in (2017, 2019, 2023) for name in per_cycle]
        + [f"{c}.html" for c in CARDS] + [f"{c}.ipynb" for c in CARDS]
    )
    state = project / ".evalkit/outputs"
    assert (state / "cache.json").is_file()
    assert len(list((state / "logs").glob("worker-*.log"))) == 2  # one per worker of the last run


def test_progress_shows_one_bar_without_a_stray_empty_one(first_run):
    _, result = first_run
    # an empty bar reads "evalkit: 0card [00:00, ?card/s]" (a rate such as "2.50card/s" is not one)
    assert "evalkit: 0card" not in result.stderr and "?card/s]evalkit" not in result.stderr.replace("\r", "")
    assert "4/4" in result.stderr


def test_a_run_with_nothing_changed_does_no_kernel_work(rendered_project):
    out = rendered_project / "outputs"
    before = html_mtimes(out)
    logs = rendered_project / ".evalkit/outputs/logs"
    kept_logs = sorted(p.name for p in logs.iterdir())
    again = run_cli(rendered_project, "--quiet")
    assert again.returncode == 0
    assert again.stdout.strip().startswith("0 rendered, 4 skipped (unchanged), 0 failed in ")
    assert again.stderr == ""
    assert html_mtimes(out) == before  # how fast that is, is the benchmark's business
    assert sorted(p.name for p in logs.iterdir()) == kept_logs  # no card ran: the last run's logs stay


def test_editing_one_program_renders_exactly_its_card_and_index(rendered_project):
    out = rendered_project / "outputs"
    before = html_mtimes(out)
    path = rendered_project / "data/programs/morioka-toshi-koen.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("H28: {actual: 74.6}", "H28: {actual: 74.7}"), encoding="utf-8")
    result = run_cli(rendered_project, "--quiet", "--workers", "1")
    assert result.stdout.strip().startswith("1 rendered, 3 skipped (unchanged), 0 failed")
    assert result.stderr == ""  # --quiet with one worker: no kernel chatter on the console
    changed = sorted(str(p.relative_to(out)) for p in out.rglob("*.html") if p.stat().st_mtime_ns != before.get(p))
    # its card, its cycle's pages (index, plan view) and the root index; no other cycle's
    assert changed == ["2017/index.html", "2017/morioka-toshi-koen.html", "2017/plan/index.html", "2017/plan/unassigned.html",
                       "2017/triage.html", "index.html"]
    assert "74.7" in (out / "2017/morioka-toshi-koen.html").read_text(encoding="utf-8")
    logs = list((rendered_project / ".evalkit/outputs/logs").glob("worker-*.log"))
    assert len(logs) == 1  # only the last run's logs are kept


def test_failures_stay_local_and_keep_the_last_good_card(rendered_project):
    out = rendered_project / "outputs"
    good_shinjo = (out / "2019/shinjo-gomi-shuseki-hojo.html").read_bytes()
    good_kakogawa = (out / "2019/kakogawa-shogaisha-sports.html").read_bytes()
    shinjo = rendered_project / "data/programs/shinjo-gomi-shuseki-hojo.yaml"
    shinjo.write_text(shinjo.read_text(encoding="utf-8").replace("direction: up", "direction: higher", 1), encoding="utf-8")
    own_notebook(rendered_project, "kakogawa-shogaisha-sports", 'raise RuntimeError("セルが失敗しました")')
    result = run_cli(rendered_project, "--force", "--quiet")
    assert result.returncode == 1
    assert result.stdout.strip().startswith("2 rendered, 0 skipped (unchanged), 2 failed")
    assert "indicators[0].direction: expected 'up' or 'down', got 'higher'" in result.stderr
    assert "RuntimeError: セルが失敗しました" in result.stderr
    assert (out / "2019/shinjo-gomi-shuseki-hojo.html").read_bytes() == good_shinjo
    assert (out / "2019/kakogawa-shogaisha-sports.html").read_bytes() == good_kakogawa
    index = (out / "2019/index.html").read_text(encoding="utf-8")
    assert "expected &#39;up&#39; or &#39;down&#39;, got &#39;higher&#39;" in index
    assert "RuntimeError: セルが失敗しました" in index
    assert 'href="kakogawa-shogaisha-sports.failed.html"' in index
    failed_page = (out / "2019/kakogawa-shogaisha-sports.failed.html").read_text(encoding="utf-8")
    assert "RuntimeError" in failed_page and "セルが失敗しました" in failed_page and "program_id" in failed_page  # the failing cell, code shown
    assert not list(out.rglob("*.partial*")) and not list(out.rglob("*.tmp"))

    # still failing, nothing changed: reported again without kernel work
    again = run_cli(rendered_project, "--quiet")
    assert again.returncode == 1 and again.stdout.strip().startswith("0 rendered, 2 skipped (unchanged), 2 failed")
    assert "RuntimeError: セルが失敗しました" in again.stderr


def test_usage_and_config_errors_exit_2(tmp_path):
    project = copy_project(tmp_path)
    assert run_cli(project, "--params", "nowhere").returncode == 2
    assert run_cli(project, "--workers", "0").returncode == 2
    assert run_cli(project, "--timeout", "inf").returncode == 2
    assert run_cli(project, "--year", "R99x").returncode == 2
    missing = run_cli(project, "--year", "2030")
    assert missing.returncode == 2 and "no cycle file for 2030" in missing.stderr
    (project / "params/2023.yaml").write_text("fiscal_year: 2023\nresults_lag: soon\n", encoding="utf-8")
    bad = run_cli(project)
    assert bad.returncode == 2 and "params/2023.yaml: results_lag: expected an integer" in bad.stderr


def test_filters_run_only_the_selection(tmp_path):
    project = copy_project(tmp_path)
    result = run_cli(project, "--year", "R1", "--program", "shinjo-gomi-shuseki-hojo", "--quiet")
    assert result.returncode == 0 and result.stdout.startswith("1 rendered, 0 skipped")
    produced = sorted(str(p.relative_to(project / "outputs")) for p in (project / "outputs").rglob("*.html"))
    assert "2019/shinjo-gomi-shuseki-hojo.html" in produced and "2023/chiiki-kyosei.html" not in produced


def test_help_explains_every_option():
    import subprocess
    import sys

    text = subprocess.run([sys.executable, str(ROOT / "run_all.py"), "--help"], capture_output=True, text=True).stdout
    for option in ("--data", "--params", "--out", "--notebooks", "--state", "--year", "--program", "--workers", "--force", "--timeout",
                   "--fresh-kernels", "--quiet"):
        assert option in text


def test_timeout_stops_a_slow_notebook(tmp_path):
    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports", "import time\ntime.sleep(60)")
    started = time.perf_counter()
    result = run_cli(project, "--program", "kakogawa-shogaisha-sports", "--timeout", "8", "--quiet")
    assert result.returncode == 1 and time.perf_counter() - started < 45
    assert "2019/kakogawa-shogaisha-sports" in result.stderr


def test_parameters_are_checked_against_the_parameters_cell():
    notebook = ROOT / "notebooks/report_card.ipynb"
    import numpy as np

    ok = check_parameters(notebook, {"program_id": "x", "fiscal_year": np.int64(2023), "data_dir": "d", "unknown_cycle_key": 1})
    assert ok == {"program_id": "x", "fiscal_year": 2023, "data_dir": "d"} and type(ok["fiscal_year"]) is int
    with pytest.raises(ParameterError, match="parameter 'fiscal_year': expected int, got str"):
        check_parameters(notebook, {"program_id": "x", "fiscal_year": "2023", "data_dir": "d"})
    with pytest.raises(ParameterError, match="expected int, got bool"):
        check_parameters(notebook, {"program_id": "x", "fiscal_year": True, "data_dir": "d"})


def test_forked_and_fresh_kernels_render_the_same_card(tmp_path):
    """A kernel forked from the pre-imported zygote is as fresh as a new interpreter: same numbers, same text."""
    outputs = {}
    for mode in ("forked", "fresh"):
        project = copy_project(tmp_path / mode)
        args = ["--program", "chiiki-kyosei", "--quiet"] + (["--fresh-kernels"] if mode == "fresh" else [])
        result = run_cli(project, *args)
        assert result.returncode == 0, result.stderr
        out = project / "outputs/2023"
        card = re.sub(r"evalkit [^<]*UTC", "", (out / "chiiki-kyosei.html").read_text(encoding="utf-8"))
        executed = nbformat.read(str(out / "chiiki-kyosei.ipynb"), as_version=4)
        counts = [c.execution_count for c in executed.cells if c.cell_type == "code"]
        outputs[mode] = (card, (out / "data/observations.csv").read_text(encoding="utf-8"), counts)
    assert outputs["forked"] == outputs["fresh"]
    assert outputs["forked"][2][:3] == [1, 2, 3]  # no cell ran in the kernel before the notebook's first


def test_ctrl_c_leaves_no_kernel_and_no_half_written_file(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, in the middle of a run."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import evalkit_processes_started_after

    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports", "import time\ntime.sleep(60)")
    started = time.time()
    run = subprocess.Popen([sys.executable, str(ROOT / "run_all.py"), "--quiet"], cwd=project, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    assert run.poll() is None, "the run ended before it could be interrupted"
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "interrupted" in err
    deadline = time.time() + 15
    while evalkit_processes_started_after(started) and time.time() < deadline:
        time.sleep(0.5)
    assert evalkit_processes_started_after(started) == []
    out = project / "outputs"
    assert not list(out.rglob("*.partial*")) and not list(out.rglob("*.tmp"))
    assert not (out / "2019/kakogawa-shogaisha-sports.html").exists()  # the interrupted card was never half-written


def test_removed_programs_and_cycles_are_withdrawn_from_every_index(rendered_project):
    out = rendered_project / "outputs"
    (rendered_project / "data/programs/shinjo-gomi-shuseki-hojo.yaml").unlink()
    (rendered_project / "params/2017.yaml").unlink()
    result = run_cli(rendered_project, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "withdrew the pages of programs or cycles that no longer exist" in result.stderr
    assert result.stderr.rstrip().endswith("withdrawn): 2017/, 2019/shinjo-gomi-shuseki-hojo.html, 2019/shinjo-gomi-shuseki-hojo.ipynb")
    assert not (out / "2017").exists() and not (out / "2019/shinjo-gomi-shuseki-hojo.html").exists()
    withdrawn = rendered_project / ".evalkit/outputs/withdrawn"
    assert (withdrawn / "2017/morioka-toshi-koen.html").is_file() and (withdrawn / "2019/shinjo-gomi-shuseki-hojo.html").is_file()
    root = (out / "index.html").read_text(encoding="utf-8")
    assert "2017/index.html" not in root and "2019/index.html" in root
    cycle = (out / "2019/index.html").read_text(encoding="utf-8")
    assert "shinjo-gomi-shuseki-hojo.html" not in cycle and "kakogawa-shogaisha-sports.html" in cycle
    assert "shinjo" not in (out / "2019/data/programs.csv").read_text(encoding="utf-8-sig")
    again = run_cli(rendered_project, "--quiet")
    assert again.stdout.startswith("0 rendered, 2 skipped") and again.stderr == ""  # converged


def test_the_cache_does_not_depend_on_how_the_data_folder_is_spelled(rendered_project):
    result = run_cli(rendered_project, "--quiet", "--data", "./data/", "--notebooks", str(rendered_project / "notebooks"))
    assert result.stdout.startswith("0 rendered, 4 skipped (unchanged)"), result.stdout + result.stderr


def test_no_published_file_shows_a_path_of_the_machine(rendered_project):
    own_notebook(rendered_project, "kakogawa-shogaisha-sports", "import evalkit\nevalkit.load_program('/nowhere/x.yaml')")
    result = run_cli(rendered_project, "--quiet", "--force")
    assert result.returncode == 1
    out = rendered_project / "outputs"
    assert (out / "2019/kakogawa-shogaisha-sports.failed.html").exists()
    machine = {str(rendered_project), str(ROOT), sys.prefix, str(Path.home())}
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert [folder for folder in machine if folder in text] == [], path


def test_values_that_overflow_a_measure_render_as_no_data(tmp_path):
    project = copy_project(tmp_path)
    (project / "data/programs/overflow.yaml").write_text("""\
id: overflow
name: 桁あふれの事業
indicators:
  - {id: a, name: 指標, unit: 件, direction: up, observations: {R2: {actual: 1.0e-300}, R3: {actual: 1.0e+300}, R8: {target: 1.0e-10}}}
  - {id: b, name: 指標2, unit: 件, direction: down, observations: {R2: {actual: 5.0e-324}, R4: {actual: 1.0e+300}}}
sheets:
  R5: {costs: {business_cost: 1.0e+308, personnel_cost: 1.0e+308}}
""", encoding="utf-8")
    result = run_cli(project, "--quiet", "--program", "overflow")
    assert result.returncode == 0, result.stderr
    assert (project / "outputs/2023/overflow.html").exists() and (project / "outputs/2023/index.html").exists()
    again = run_cli(project, "--quiet", "--program", "overflow")
    assert again.stdout.startswith("0 rendered, 1 skipped")  # the cache was saved


@pytest.mark.unit
@pytest.mark.parametrize(("text", "labels", "expected"), [
    # the longest folder first; a folder inside another only where the longer one does not stand
    ("at /home/u/proj/data/x.yaml and /home/u/other", (("/home/u", "~"), ("/home/u/proj", "<project>")),
     "at <project>/data/x.yaml and ~/other"),
    # only where it stands as a path: not inside a longer name, not inside base64, and ending at a separator
    ("/home/user /home/u\naa/home/u/b '/home/u'", (("/home/u", "~"),), "/home/user ~\naa/home/u/b '~'"),
    # labels are literal text (no regex group references), the first of two labels for one folder wins
    ("C /opt/x/y", (("/opt/x", r"\1 \g<0> C:\evalkit"), ("/opt/x", "other")), r"C \1 \g<0> C:\evalkit/y"),
    # folders with regex characters; the empty folder and / are never replaced
    ("/a+b/c (/a+b)", (("/a+b", "A"), ("", "E"), ("/", "R")), "A/c (A)"),
])
def test_machine_folders_are_scrubbed_from_published_text(text, labels, expected):
    from evalkit.execute import scrub_paths

    assert scrub_paths(text, labels) == expected
