"""Bad inputs cost one program at most: each probe fails that program (or is ignored with one line), never the batch."""

import os

import pytest
from conftest import copy_project, run_cli


def test_odd_files_in_the_programs_folder_are_ignored_or_fail_alone(tmp_path):
    project = copy_project(tmp_path)
    programs = project / "data/programs"
    (programs / "folder.yaml").mkdir()
    os.mkfifo(programs / "pipe.yaml")  # reading it would block: it must never be read
    (programs / ".#chiiki-kyosei.yaml").write_text("id: [unclosed", encoding="utf-8")  # an editor's lock file
    (programs / "copy.yml").write_text("id: copy\nname: x\n", encoding="utf-8")
    result = run_cli(project, "--quiet", timeout=300)
    assert result.returncode == 1
    assert result.stdout.startswith("4 rendered, 0 skipped (unchanged), 6 failed")  # the 4 real cards; 2 odd files × 3 cycles
    notices = [line for line in result.stderr.splitlines() if line.startswith("evalkit: ")]
    assert notices == [
        "evalkit: data/programs/.#chiiki-kyosei.yaml: ignored (only *.yaml files whose name does not start with '.' are read)",
        "evalkit: data/programs/copy.yml: ignored (only *.yaml files whose name does not start with '.' are read)",
    ]
    failed = sorted(line for line in result.stderr.splitlines() if line.startswith("FAILED"))
    assert failed == sorted(
        [f"FAILED {y}/folder: data/programs/folder.yaml: expected a regular file" for y in (2017, 2019, 2023)]
        + [f"FAILED {y}/pipe: data/programs/pipe.yaml: expected a regular file" for y in (2017, 2019, 2023)]
    )
    assert "Traceback" not in result.stderr


@pytest.mark.unit
def test_a_cache_of_another_shape_is_discarded_with_one_line(tmp_path):
    from evalkit.cache import Cache, CardEntry

    lines = []
    shapes = ("[]", "null", '{"version": 3}', '{"version": 3, "programs": {}, "cards": {"k": {"ok": true}}}', "{trunc",
              '{"version": 3, "programs": {"p": {"digest": "d", "years": 5, "error": null}}, "cards": {}}',
              '{"version": 2, "programs": {}, "cards": {}}')
    for text in shapes:
        path = tmp_path / "cache.json"
        path.write_text(text, encoding="utf-8")
        assert Cache.load(path, warn=lines.append) == Cache()
    assert len(lines) == 7 and all("rebuilding it" in line and "\n" not in line for line in lines)
    cache = Cache(cards={"2023/x": CardEntry(fingerprint="f", ok=True, record={"score": float("inf"), "n": float("nan")})})
    cache.save(tmp_path / "cache.json")  # non-finite values are saved as undefined, never an error
    assert Cache.load(tmp_path / "cache.json").cards["2023/x"].record == {"score": None, "n": None}


# ---- one bad input fails its program only, quickly, naming the file and the key ----

def alias_bomb(levels: int = 9) -> str:
    lines = ["id: bomb", "name: x", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines + [f"work_items: *a{levels}"]) + "\n"


BIG = "9" * 400
INDICATOR = "{{id: a, name: x, unit: 人, direction: up, observations: {{R3: {{actual: {actual}}}, R4: {{actual: 2}}, R8: {{target: {target}}}}}}}"


@pytest.mark.unit
@pytest.mark.parametrize("text, key, message", [
    (alias_bomb(), "a4", "YAML aliases (*name) expand to more than 100,000 values"),  # a4 stands for 111,111 nodes (10^5 x and their lists)
    (f"id: p\nname: x\nindicators:\n  - {INDICATOR.format(actual=BIG, target=1)}\n", "indicators[0].observations.R3.actual",
     "expected a number of at most 308 digits, got one of 400 digits"),
    (f"id: p\nname: x\nsheets:\n  R5: {{staff: [{{role: x, count: {BIG}}}]}}\n", "sheets.R5.staff[0].count", "at most 308 digits"),
    (f"id: p\nname: x\nsheets:\n  R5: {{costs: {{business_cost: {BIG}}}}}\n", "sheets.R5.costs.business_cost", "at most 308 digits"),
    (f"id: p\nname: x\nindicators:\n  - {INDICATOR.format(actual=1, target=2)[:-1]}, limit: -{BIG}}}\n", "indicators[0].limit", "at most 308 digits"),
    ("id: p\nname: x\nstarted: 1925\n", "started", "got 1925"),
    ("id: p\nname: x\nsheets:\n  R990: {}\n", "sheets", "key 'R990' is not a fiscal year"),
    ('id: p\nname: "a\\ud800b"\n', "name", "expected text that can be written as UTF-8"),
    ('id: p\nname: x\nwork_items: [ok, "\\udfff"]\n', "work_items[1]", "lone surrogate"),
    ("id: index\nname: x\n", "id", "'index' is the name of one of the site's own pages"),
    ("id: p\nname: x\nwork_items: [" + "9" * 5000 + "]\n", "", "unreadable value: a number of more than 4,300 digits"),
])
def test_bad_program_values_are_one_clear_error(write_program, text, key, message):
    import evalkit

    stem = "index" if text.startswith("id: index") else "bomb" if text.startswith("id: bomb") else "p"
    path = write_program(text, stem=stem)
    with pytest.raises(evalkit.ProgramDataError) as info:
        evalkit.load_program(path)
    assert (info.value.key, str(path)) == (key, info.value.file)
    assert message in str(info.value)
    assert len(str(info.value)) < 400  # the value is never expanded into the message


@pytest.mark.unit
@pytest.mark.parametrize("text, key, message", [
    ("fiscal_year: 1900\n", "fiscal_year", "got 1900"),
    ("fiscal_year: R990\n", "fiscal_year", "got 'R990'"),
    (f"fiscal_year: 2023\nresults_lag: {BIG}\n", "results_lag", "expected a value ≤ 10"),
    (f"fiscal_year: 2023\nthresholds: {{substantial: {BIG}}}\n", "thresholds.substantial", "at most 308 digits"),
    (f"fiscal_year: 2023\nrating: {{measure: pace, bands: [[{BIG}, A], [-inf, B]]}}\n", "rating.bands", "at most 308 digits"),
    ("fiscal_year: 2023\nprograms: [a, b, a]\n", "programs", "'a' is listed twice (items 0 and 2)"),
])
def test_bad_cycle_values_are_one_clear_error(tmp_path, text, key, message):
    import evalkit

    path = tmp_path / "cycle.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(evalkit.ProgramDataError) as info:
        evalkit.load_cycle(path)
    assert info.value.key == key and message in str(info.value)


@pytest.mark.unit
def test_two_cycle_files_of_one_year_are_a_configuration_error_naming_both(tmp_path):
    from evalkit.errors import ProgramDataError
    from evalkit.loader import load_cycles

    (tmp_path / "2023.yaml").write_text("fiscal_year: 2023\n", encoding="utf-8")
    (tmp_path / "r5.yaml").write_text("fiscal_year: R5\n", encoding="utf-8")
    with pytest.raises(ProgramDataError) as info:
        load_cycles(tmp_path)
    assert str(info.value) == f"{tmp_path}/r5.yaml: fiscal_year: 2023 is also the year of {tmp_path}/2023.yaml; expected one cycle file per year"


@pytest.mark.unit
def test_measures_that_overflow_are_undefined_never_infinite():
    import math

    from evalkit.assessment import assess_indicators
    from evalkit.model import Program

    program = Program.model_validate({"id": "p", "name": "x", "indicators": [
        {"id": "huge", "name": "x", "unit": "u", "direction": "up",
         "observations": {2020: {"actual": 1e-10}, 2022: {"actual": 1e300}, 2030: {"target": 1e-10}}},
        {"id": "tiny", "name": "x", "unit": "u", "direction": "down",
         "observations": {2020: {"actual": 5e-324}, 2022: {"actual": 1e300}, 2030: {"target": 1e300}}},
        {"id": "nope", "name": "x", "unit": "u", "direction": "up",
         "observations": {2020: {"actual": 1e-300}, 2021: {"actual": 1e300}}},
    ]})
    for m in assess_indicators(program, 2023).values():
        for name in ("achievement", "progress", "elapsed", "cagr_observed", "cagr_required", "pace", "projected", "score"):
            value = getattr(m, name)
            assert math.isnan(value) or math.isfinite(value), (m.indicator_id, name, value)
    nope = assess_indicators(program, 2023)["nope"]
    # (1e300 / 1e-300)^(1/1) − 1 overflows to inf: undefined, so no pace and 判定不能
    assert math.isnan(nope.cagr_observed) and nope.status == "not_available"


@pytest.mark.unit
def test_text_a_chart_library_would_interpret_is_drawn_literally():
    from matplotlib.text import Text

    from evalkit import charts
    from evalkit.assessment import assess_indicators
    from evalkit.model import Program

    program = Program.model_validate({"id": "p", "name": "x", "indicators": [
        {"id": "a", "name": r"$\frac{1", "unit": r"$\alpha$ 千$", "direction": "up",
         "observations": {2020: {"actual": 1}, 2022: {"actual": 2}, 2026: {"target": 3}}}]})
    indicator = program.indicators[0]
    fig = charts.indicator_chart(indicator, assess_indicators(program, 2023)["a"], 2022)
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert r"（単位：$\alpha$ 千$）" in [t.get_text() for t in texts]
    assert all(not t.get_parse_math() for t in texts)
    charts.figure_img(fig, "alt")  # drawing it does not try to parse mathtext (an unbalanced $ would raise)


# ---- the batch survives its own processes failing, and is stopped cleanly ----

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from conftest import ROOT, evalkit_processes_started_after, own_notebook  # noqa: E402

COUNT_RUNS = 'from pathlib import Path\nwith open(Path("{marker}"), "a") as f: f.write("ran\\n")\n'
# The card's process is a child of the run's zygote, not of its worker: the worker is the process at the other end
# of the socket it answers on (the one that made the socket pair).
KILL_WORKER = """import os, signal, socket, struct
for fd in map(int, os.listdir('/proc/self/fd')):
    try:
        if not os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'):
            continue
        with socket.socket(fileno=os.dup(fd)) as sock:
            peer = struct.unpack('3i', sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    except OSError:
        continue
    if peer not in (0, os.getpid(), os.getppid()):
        os.kill(peer, signal.SIGKILL)
        break
"""
KILL_ZYGOTE = 'import os, signal\nopen("{marker}", "w").write(str(os.getppid()))\nos.kill(os.getppid(), signal.SIGKILL)'
RECORD_PARENT = 'import os\nopen("{marker}", "w").write(str(os.getppid()))'
SLOW = "import time\ntime.sleep(60)"


def start(project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "run_all.py"), "--quiet", *args], cwd=project, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_gone(since: float, seconds: float = 20) -> list[str]:
    deadline = time.time() + seconds
    while evalkit_processes_started_after(since) and time.time() < deadline:
        time.sleep(0.3)
    return evalkit_processes_started_after(since)


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".partial" in p.name or (p.is_file() and p.stat().st_size == 0)]


def test_a_killed_worker_fails_only_its_card_and_is_retried(tmp_path):
    project = copy_project(tmp_path)
    marker = tmp_path / "kakogawa-runs.txt"
    own_notebook(project, "kakogawa-shogaisha-sports", COUNT_RUNS.format(marker=marker) + KILL_WORKER)
    since = time.time()
    first = run_cli(project, "--workers", "2", "--quiet", timeout=300)
    assert first.returncode == 1, first.stderr
    assert first.stdout.startswith("3 rendered, 0 skipped (unchanged), 1 failed")
    assert "FAILED 2019/kakogawa-shogaisha-sports: the worker process running this card died" in first.stderr
    assert (project / "outputs/2023/chiiki-kyosei.html").exists() and (project / "outputs/2017/morioka-toshi-koen.html").exists()
    runs = marker.read_text().count("ran")
    assert runs in (1, 2)  # a second time, alone, when another card was in flight as its worker died
    assert wait_until_gone(since, seconds=10) == []  # the card's process died with its worker
    second = run_cli(project, "--workers", "2", "--quiet", timeout=300)
    assert second.stdout.startswith("0 rendered, 3 skipped (unchanged), 1 failed")
    assert marker.read_text().count("ran") > runs  # a failure of the run is retried without --force
    assert leftovers(project / "outputs") == []


def test_a_killed_zygote_costs_no_card_and_later_cards_fork_from_another(tmp_path):
    project = copy_project(tmp_path)
    killed, later = tmp_path / "killed.txt", tmp_path / "later.txt"
    own_notebook(project, "shinjo-gomi-shuseki-hojo", KILL_ZYGOTE.format(marker=killed))
    own_notebook(project, "chiiki-kyosei", RECORD_PARENT.format(marker=later))  # 2023: after 2019 with one worker
    since = time.time()
    result = run_cli(project, "--workers", "1", "--quiet", timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4 rendered, 0 skipped (unchanged), 0 failed")
    assert later.read_text() != killed.read_text()  # forked by the worker's own zygote
    assert (project / "outputs/2019/shinjo-gomi-shuseki-hojo.html").exists()
    assert wait_until_gone(since, seconds=10) == []
    assert leftovers(project / "outputs") == []


def test_sigterm_stops_like_ctrl_c_and_a_second_run_is_refused_meanwhile(tmp_path):
    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports", SLOW)
    since = time.time()
    run = start(project, "--workers", "2")
    time.sleep(8)
    assert run.poll() is None, "the run ended before it could be stopped"
    second = run_cli(project, "--quiet")
    assert second.returncode == 2
    assert f"evalkit: error: another evalkit run (pid {run.pid}, since " in second.stderr and "is writing outputs" in second.stderr
    os.kill(run.pid, signal.SIGTERM)  # the process only, as `timeout` and CI cancellation do
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143 and "terminated; finished cards were kept" in err
    assert wait_until_gone(since) == []
    assert leftovers(project / "outputs") == [] and not (project / "outputs/2019/kakogawa-shogaisha-sports.html").exists()
    assert (project / ".evalkit/outputs/cache.json").is_file()  # saved on the way out


STRAY = ("import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)  # evalkit-stray-probe'], "
         "start_new_session=True)\n")


def test_sigkill_of_run_all_leaves_nothing_running_or_writing_and_a_rerun_converges(tmp_path):
    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports", STRAY + SLOW)  # what it started in a session of its own goes too
    since = time.time()
    run = start(project, "--workers", "2")
    time.sleep(8)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert wait_until_gone(since, seconds=10) == []  # workers notice their parent is gone; zygotes and kernels follow
    out = project / "outputs"
    snapshot = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    time.sleep(2)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == snapshot  # nobody writes any more
    (project / "notebooks/kakogawa-shogaisha-sports.ipynb").unlink()
    rerun = run_cli(project, "--quiet", timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "2019/kakogawa-shogaisha-sports.html").exists() and (out / "2019/index.html").exists()
    assert leftovers(out) == []


def test_a_process_a_notebook_starts_in_its_own_session_is_stopped_with_the_card(tmp_path):
    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports", STRAY)
    since = time.time()
    result = run_cli(project, "--program", "kakogawa-shogaisha-sports", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "evalkit: 2019/kakogawa-shogaisha-sports: stopped 1 process(es) the notebook left running:" in result.stderr
    assert "evalkit-stray-probe" in result.stderr
    assert wait_until_gone(since, seconds=5) == []


def test_with_kernels_what_a_cell_leaves_in_the_background_is_stopped_after_the_card_not_during_it(tmp_path):
    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports",
                 "import os, time\nos.system('sleep 40 &')  # orphaned at once, in the kernel's process group\ntime.sleep(3)")
    since = time.time()
    result = run_cli(project, "--program", "kakogawa-shogaisha-sports", "--kernels", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "evalkit: 2019/kakogawa-shogaisha-sports: stopped 1 process(es) the notebook left running: sleep 40" in result.stderr
    assert wait_until_gone(since, seconds=5) == []


def test_the_same_timeout_retries_a_card_and_another_timeout_is_another_card(tmp_path):
    project = copy_project(tmp_path)
    marker = tmp_path / "runs.txt"
    own_notebook(project, "kakogawa-shogaisha-sports", COUNT_RUNS.format(marker=marker) + "import time\ntime.sleep(30)")
    args = ("--program", "kakogawa-shogaisha-sports", "--quiet", "--timeout")
    first = run_cli(project, *args, "4")
    assert first.returncode == 1 and "NotebookTimeout: the notebook ran longer than 4 s" in first.stderr
    again = run_cli(project, *args, "4")
    assert again.returncode == 1 and marker.read_text().count("ran") == 2  # a timeout is the run's failure: retried
    (project / "notebooks/kakogawa-shogaisha-sports.ipynb").unlink()
    fixed = run_cli(project, *args, "120")
    assert fixed.returncode == 0 and fixed.stdout.startswith("1 rendered")


def test_output_limit_unprintable_output_and_data_errors_raised_in_the_kernel(tmp_path):
    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports", 'print("x" * 3_000_000)')
    own_notebook(project, "shinjo-gomi-shuseki-hojo", 'print("before \\ud800 after")')
    own_notebook(project, "morioka-toshi-koen",
                 'raise evalkit.ProgramDataError("data/programs/morioka-toshi-koen.yaml", "indicators[0].unit", "expected a unit")')
    result = run_cli(project, "--quiet", "--max-card-mb", "2")
    assert result.returncode == 1
    lines = sorted(line for line in result.stderr.splitlines() if line.startswith("FAILED"))
    assert lines[0] == "FAILED 2017/morioka-toshi-koen: data/programs/morioka-toshi-koen.yaml: indicators[0].unit: expected a unit"
    assert lines[1].startswith("FAILED 2019/kakogawa-shogaisha-sports: CardTooLarge: the card would be 2.9 MiB, more than the limit of 2 MiB")
    assert "Traceback" not in result.stderr
    out = project / "outputs"
    assert leftovers(out) == [] and (out / "2019/index.html").exists()
    assert not (out / "2019/kakogawa-shogaisha-sports.html").exists()
    failed_page = out / "2019/kakogawa-shogaisha-sports.failed.html"
    assert failed_page.stat().st_size < 2 * 2**20 and "出力が大きすぎるため省略しました" in failed_page.read_text(encoding="utf-8")


def test_unusable_folders_are_one_message_and_exit_2(tmp_path):
    project = copy_project(tmp_path)
    (project / "a-file").write_text("x", encoding="utf-8")
    (project / "empty-notebooks").mkdir()
    cases = {
        ("--out", "a-file"): "--out: a-file is not a folder",
        ("--notebooks", "nowhere"): "--notebooks: folder nowhere does not exist",
        ("--notebooks", "empty-notebooks"): "--notebooks: empty-notebooks has no report_card.ipynb",
        ("--out", "a-file/inside"): "cannot write",
    }
    for args, message in cases.items():
        result = run_cli(project, "--quiet", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small or read-only file system needs root (CI runs as root)")
def test_a_full_disk_and_a_read_only_output_folder(tmp_path):
    project = copy_project(tmp_path / "p")
    full, read_only = tmp_path / "full", tmp_path / "ro"
    assert _mount_tmpfs(full, "160k") and _mount_tmpfs(read_only, "4m")
    try:
        result = run_cli(project, "--quiet", "--out", str(full / "outputs"), timeout=300)
        assert result.returncode in (1, 2) and "No space left on device" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert [p for p in full.rglob("*") if p.name.endswith(".tmp") or ".partial" in p.name] == []

        (read_only / "outputs").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(read_only)], check=True)
        result = run_cli(project, "--quiet", "--out", str(read_only / "outputs"))
        assert result.returncode == 2 and "Read-only file system" in result.stderr and "Traceback" not in result.stderr
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False)
        subprocess.run(["umount", "-l", str(read_only)], check=False)


@pytest.mark.unit
def test_cached_validation_results_are_trusted_only_for_the_same_evalkit_and_never_with_force(tmp_path):
    from evalkit.batch import BatchOptions, plan_batch
    from evalkit.cache import Cache, ProgramEntry
    from evalkit.fingerprint import environment_digest, file_digest

    for folder in ("data/programs", "params", "notebooks"):
        (tmp_path / folder).mkdir(parents=True)
    program = tmp_path / "data/programs/p.yaml"
    program.write_text("id: p\nname: x\nsheets: {R5: {}}\n", encoding="utf-8")
    (tmp_path / "params/2023.yaml").write_text("fiscal_year: 2023\n", encoding="utf-8")
    options = BatchOptions(data_dir=tmp_path / "data", params_dir=tmp_path / "params", out_dir=tmp_path / "out",
                           notebooks_dir=tmp_path / "notebooks")

    def error_planned(environment: str, force: bool = False) -> str | None:
        entry = ProgramEntry(digest=file_digest(program), years=[2023], error="a stale error", environment=environment)
        cache = Cache(programs={str(program.resolve()): entry})
        (job,) = plan_batch(BatchOptions(**{**options.__dict__, "force": force}), cache).planned
        return job.data_error

    assert error_planned(environment_digest()) == "a stale error"  # same evalkit, same file: the cached result stands
    assert error_planned("an older evalkit") is None  # validated again
    assert error_planned(environment_digest(), force=True) is None  # --force always validates again


def test_a_bad_plan_a_non_leaf_policy_or_a_link_down_a_level_fails_only_the_programs_concerned(tmp_path):
    from conftest import SAMPLE_CITY

    project = copy_project(tmp_path, city=SAMPLE_CITY)
    plan = project / "data/plan.yaml"
    good_plan = plan.read_text(encoding="utf-8")
    only = ("--year", "2024", "--program", "sample-bosai", "--program", "sample-keiro-shukukin", "--program", "sample-kenshin", "--quiet")
    # sample-bosai names the 施策 "3-1", sample-kenshin "1-1"; sample-keiro-shukukin names no policy
    plan.write_text(good_plan.replace('id: "3-2"', 'id: "3-1"', 1), encoding="utf-8")
    result = run_cli(project, *only)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("2 rendered, 0 skipped (unchanged), 1 failed")  # only the program under the bad item fails
    notices = [line for line in result.stderr.splitlines() if line.startswith("evalkit: data/plan.yaml")]
    assert notices == ["evalkit: data/plan.yaml: items[2].items[1].id: duplicate id '3-1' (also items[2].items[0]) "
                       "(the programs under this item fail until the plan is fixed)"]  # said once, not once per card
    assert ("FAILED 2024/sample-bosai: data/programs/sample-bosai.yaml: policy: '3-1' is under an item of data/plan.yaml that is "
            "invalid (items[2].items[1].id: duplicate id '3-1' (also items[2].items[0])); fix the plan") in result.stderr
    assert (project / "outputs/2024/sample-keiro-shukukin.html").exists() and (project / "outputs/2024/sample-kenshin.html").exists()

    plan.write_text(good_plan, encoding="utf-8")
    bosai = project / "data/programs/sample-bosai.yaml"
    bosai.write_text(bosai.read_text(encoding="utf-8").replace('policy: "3-1"', 'policy: "3"'), encoding="utf-8")
    kenshin = project / "data/programs/sample-kenshin.yaml"
    text = kenshin.read_text(encoding="utf-8")
    first_link = next(line for line in text.splitlines() if line.strip().startswith("- [") and "," in line)
    source, target = first_link.strip()[3:-1].split(", ")
    kenshin.write_text(text.replace(first_link, first_link.replace(f"[{source}, {target}]", f"[{target}, {source}]")), encoding="utf-8")
    result = run_cli(project, *only)
    assert result.returncode == 1
    failed = sorted(line for line in result.stderr.splitlines() if line.startswith("FAILED"))
    assert len(failed) == 2
    assert failed[0].startswith("FAILED 2024/sample-bosai: data/programs/sample-bosai.yaml: policy: expected the id of an item of the "
                                "last level (施策), got '3', a 基本目標")
    assert failed[1].startswith("FAILED 2024/sample-kenshin: data/programs/sample-kenshin.yaml: logic.links[0]: a link must go up a level")
    assert result.stdout.startswith("1 rendered, 0 skipped (unchanged), 2 failed")  # the plan changed back: keiro re-rendered


def test_a_batch_run_in_process_leaves_the_callers_own_processes_alone(tmp_path):
    """run_batch as a library: the processes its caller started are neither waited for nor stopped as strays."""
    import subprocess
    import sys

    from evalkit.batch import BatchOptions, run_batch

    project = copy_project(tmp_path / "project")
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        options = BatchOptions(data_dir=project / "data", params_dir=project / "params", out_dir=project / "outputs",
                               notebooks_dir=project / "notebooks", programs=["chiiki-kyosei"], workers=1)
        summary = run_batch(options)
        assert (summary.rendered, summary.failed) == (1, 0)
        assert mine.poll() is None  # still running: not the batch's to stop
    finally:
        mine.kill()
        mine.wait()
