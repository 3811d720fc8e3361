"""``evalkit check PATH...``: one ``file: key.path: message`` line per problem, exit 1 when any, nothing else."""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from evalkit.check import check_paths, file_kind

GOOD = "id: good\nname: 良い事業\n"
BAD = """\
id: bad
name: 悪い事業
indicators:
  - {id: a, name: x, unit: 人, direction: higher, observations: {R3: {actual: 1}}}
sheets:
  R5: {directions: [{work_item: x, program: 頑張る}]}
"""


def evalkit(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "programs").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "programs/good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "programs/bad.yaml").write_text(BAD, encoding="utf-8")
    (tmp_path / "params/2023.yaml").write_text("fiscal_year: 2023\nresults_lag: soon\n", encoding="utf-8")
    return tmp_path


@pytest.mark.unit
def test_every_problem_is_one_line_naming_file_and_key(folder):
    problems = check_paths([folder / "params", folder])  # a cycle folder, and a data folder (its programs/)
    cycle, program = folder / "params/2023.yaml", folder / "programs/bad.yaml"
    assert problems == [
        f"{cycle}: results_lag: expected an integer, got 'soon'",
        f"{program}: indicators[0].direction: expected 'up' or 'down', got 'higher'",
        f"{program}: sheets.R5.directions[0].program: expected one of 拡充, 拡大, 継続, 維持, 改善, 見直し, 縮小, 統合, 休止, 廃止, 完了, 終了, got '頑張る'",
    ]


@pytest.mark.unit
def test_valid_files_have_no_problems(folder):
    assert check_paths([folder / "programs/good.yaml"]) == []
    assert check_paths([ROOT / "data", ROOT / "params"]) == []


@pytest.mark.unit
def test_a_file_s_kind_follows_its_folder_or_its_content(tmp_path):
    (tmp_path / "cycle.yaml").write_text("fiscal_year: 2023\n", encoding="utf-8")
    (tmp_path / "thing.yaml").write_text(GOOD, encoding="utf-8")
    assert file_kind(tmp_path / "cycle.yaml") == "cycle" and file_kind(tmp_path / "thing.yaml") == "program"
    assert file_kind(ROOT / "params/2023.yaml") == "cycle"
    assert file_kind(ROOT / "data/programs/chiiki-kyosei.yaml") == "program"


@pytest.mark.unit
def test_missing_paths_odd_names_and_non_files_are_problems_not_crashes(tmp_path):
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs/x.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "programs/.#lock.yaml").write_text("not: [yaml", encoding="utf-8")  # an editor's lock file: hidden, skipped
    (tmp_path / "programs/dir.yaml").mkdir()
    os.mkfifo(tmp_path / "programs/pipe.yaml")
    problems = check_paths([tmp_path / "programs", tmp_path / "nowhere.yaml", tmp_path / "programs/pipe.yaml"])
    assert problems == [
        f"{tmp_path}/programs/dir.yaml: expected a regular file",
        f"{tmp_path}/programs/pipe.yaml: expected a regular file",
        f"{tmp_path}/programs/x.yml: expected the extension .yaml (evalkit reads only *.yaml files, so this one is ignored)",
        f"{tmp_path}/nowhere.yaml: no such file or folder",
        f"{tmp_path}/programs/pipe.yaml: expected a regular file",
    ]


@pytest.mark.unit
def test_a_program_whose_id_is_a_year_is_a_program(tmp_path):
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs/2023.yaml").write_text('id: "2023"\nname: x\n', encoding="utf-8")
    assert check_paths([tmp_path]) == []


@pytest.mark.unit
def test_a_cycle_listing_a_program_without_a_file_is_reported(tmp_path):
    shutil.copytree(ROOT / "data", tmp_path / "data")
    (tmp_path / "params").mkdir()
    (tmp_path / "params/2023.yaml").write_text("fiscal_year: 2023\nprograms: [chiiki-kyosei, chiiki-kyousei]\n", encoding="utf-8")
    assert check_paths([tmp_path / "data", tmp_path / "params"]) == [
        f"{tmp_path}/params/2023.yaml: programs[1]: no program file chiiki-kyousei.yaml among the files checked"
    ]


def test_the_command_prints_only_the_problems_and_exits_1(folder):
    result = evalkit("check", str(folder / "params"), str(folder))
    assert result.returncode == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith(str(folder)) for line in lines)
    assert "Traceback" not in result.stdout


def test_the_command_is_silent_and_exits_0_on_valid_data(tmp_path):
    shutil.copytree(ROOT / "data", tmp_path / "data")
    result = evalkit("check", "data/programs/chiiki-kyosei.yaml", "data", str(ROOT / "params"), cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_command_without_paths_is_a_usage_error():
    result = evalkit("check")
    assert result.returncode == 2 and "PATH" in result.stderr


@pytest.mark.unit
def test_a_conclusion_the_cycle_does_not_accept_is_reported(tmp_path):
    (tmp_path / "programs").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "programs/p.yaml").write_text("id: p\nname: x\nsheets:\n  R5: {external_evaluation: {conclusion: 全面見直し}}\n", encoding="utf-8")
    (tmp_path / "params/2023.yaml").write_text("fiscal_year: 2023\n", encoding="utf-8")
    assert check_paths([tmp_path, tmp_path / "params"]) == [
        f"{tmp_path}/programs/p.yaml: sheets.R5.external_evaluation.conclusion: expected one of 現状通り, 一部改善, 抜本的改善, 縮小, 休止・廃止 "
        "(the cycle's conclusions), got '全面見直し'"
    ]


def test_check_cycle_lists_the_diagnostics_of_every_card_and_fails_only_on_problems(tmp_path):
    (tmp_path / "data/programs").mkdir(parents=True)
    (tmp_path / "params").mkdir()
    (tmp_path / "params/2023.yaml").write_text("fiscal_year: 2023\n", encoding="utf-8")
    (tmp_path / "data/programs/p.yaml").write_text(
        "id: p\nname: x\nindicators:\n  - {id: a, name: 講座の開催回数, unit: 回, direction: up, source: 台帳, observations: {R4: {actual: 3}}}\n"
        "sheets: {R5: {}}\n", encoding="utf-8")
    result = evalkit("check", "--cycle", "R5", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        # one actual (R4 = C): single_actual; no target: no_target; its name counts activities (heuristic)
        "data/programs/p.yaml: a: [no_target] 目標値がない：成果指標「講座の開催回数」に目標値がありません。目標年度と目標値を設定してください。",
        "data/programs/p.yaml: a: [single_actual] 実績が1年度のみ：「講座の開催回数」の実績が1年度分しかなく、伸びを判定できません。過去の実績があれば記入してください。",
        "data/programs/p.yaml: a: [outcome_counts_activities] 成果指標が活動量（推定）：成果指標「講座の開催回数」は活動の量を数えているようです。"
        "対象者の変化をはかる指標か確かめてください。",
    ]
    missing = evalkit("check", "--cycle", "2030", cwd=tmp_path)
    assert missing.returncode == 1 and "no cycle file for 2030" in missing.stdout
