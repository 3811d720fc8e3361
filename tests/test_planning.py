"""evalkit.jobs.plan_jobs and notebook_for: which program × cycle cards a batch renders, with what.

Pure planning on a throw-away data folder: no kernel is started.
"""

import math
import os
from pathlib import Path

import pytest

from evalkit.cycle import Cycle
from evalkit.jobs import TEMPLATE_NOTEBOOK, notebook_for, plan_jobs

pytestmark = pytest.mark.unit

PROGRAMS = {
    # a sheet for R5 (2023) only
    "alpha": "id: alpha\nname: アルファ事業\nsheets:\n  R5: {status_comment: 順調}\n",
    # a sheet for R1 (2019) only
    "beta": "id: beta\nname: ベータ事業\nsheets:\n  令和元年度: {}\n",
    # sheets for both cycles
    "gamma": "id: gamma\nname: ガンマ事業\nsheets:\n  2019: {}\n  R5: {}\n",
    # invalid (a direction the contract does not know), but it still says it has a 2023 sheet
    "bad": (
        "id: bad\nname: 不正事業\n"
        "indicators:\n  - {id: a, name: x, unit: 人, direction: higher}\n"
        "sheets:\n  R5: {}\n"
    ),
}


@pytest.fixture
def project(tmp_path):
    data = tmp_path / "data"
    (data / "programs").mkdir(parents=True)
    for stem, text in PROGRAMS.items():
        (data / "programs" / f"{stem}.yaml").write_text(text, encoding="utf-8")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / TEMPLATE_NOTEBOOK).write_text("{}", encoding="utf-8")
    (notebooks / "alpha.ipynb").write_text("{}", encoding="utf-8")  # alpha has its own notebook
    return tmp_path


def cycle(year: int, **values) -> tuple[Path, Cycle]:
    return Path(f"/params/{year}.yaml"), Cycle.model_validate({"fiscal_year": year, **values})


def plan(project: Path, cycles, **extra):
    return plan_jobs(
        cycles=cycles, data_dir=project / "data", out_dir=project / "outputs", notebooks_dir=project / "notebooks", **extra
    )


def test_default_selection_is_the_programs_with_a_sheet_for_the_cycle_year(project):
    jobs = plan(project, [cycle(2019), cycle(2023)])
    assert [job.key for job in jobs] == ["2019/beta", "2019/gamma", "2023/alpha", "2023/bad", "2023/gamma"]
    programs = project / "data" / "programs"
    gamma = jobs[-1]
    assert (gamma.program_id, gamma.fiscal_year) == ("gamma", 2023)
    assert gamma.program_file == programs / "gamma.yaml"
    assert gamma.cycle_file == Path("/params/2023.yaml")
    assert gamma.out_dir == project / "outputs" / "2023"
    assert gamma.html == project / "outputs" / "2023" / "gamma.html"
    assert gamma.executed == project / "outputs" / "2023" / "gamma.ipynb"
    assert gamma.failed_html == project / "outputs" / "2023" / "gamma.failed.html"
    assert all(job.data_error is None for job in jobs if job.program_id != "bad")


def test_a_cycle_without_matching_sheets_plans_nothing(project):
    assert plan(project, [cycle(2020)]) == []
    assert plan(project, []) == []


def test_parameters_are_what_papermill_injects(project):
    jobs = plan(project, [cycle(2023, title="令和5年度 通知表", results_lag=2, thresholds={"substantial": 0.9, "moderate": 0.5})])
    alpha = jobs[0]
    assert alpha.parameters == {
        "program_id": "alpha",
        "fiscal_year": 2023,
        "data_dir": "../data",  # relative to the notebook's folder (notebooks/ and data/ are siblings)
        "params_dir": os.path.relpath("/params", project / "notebooks"),  # the cycle files' folder, also relative
        "results_lag": 2,
        "title": "令和5年度 通知表",
        "thresholds": {"substantial": 0.9, "moderate": 0.5, "method1_substantial": 0.015, "method1_moderate": 0.005},
    }
    # no title: an empty string; a rating is passed as [bound, label] pairs
    rated = plan(project, [cycle(2019, rating={"measure": "achievement", "bands": [[1.0, "A"], [0.8, "B"], ["-inf", "C"]]})])
    params = rated[0].parameters
    assert params["title"] == ""
    assert params["results_lag"] == 1
    assert params["rating"]["measure"] == "achievement"
    assert params["rating"]["bands"][:2] == [[1.0, "A"], [0.8, "B"]]
    bound, label = params["rating"]["bands"][2]
    assert bound == -math.inf and label == "C"


def test_invalid_program_file_is_still_planned_with_its_error(project):
    jobs = plan(project, [cycle(2023)])
    bad = next(job for job in jobs if job.program_id == "bad")
    assert bad.data_error is not None
    assert str(project / "data" / "programs" / "bad.yaml") in bad.data_error  # names the file
    assert "indicators[0].direction" in bad.data_error  # and the key
    assert "higher" in bad.data_error  # and what it found
    assert bad.program_file == project / "data" / "programs" / "bad.yaml"


def test_unreadable_program_file_is_planned_in_every_cycle(project):
    (project / "data" / "programs" / "broken.yaml").write_text("id: broken\nname: [unclosed\n", encoding="utf-8")
    jobs = plan(project, [cycle(2019), cycle(2020), cycle(2023)])
    broken = [job for job in jobs if job.program_id == "broken"]
    assert [job.fiscal_year for job in broken] == [2019, 2020, 2023]  # no sheet years can be read: every cycle
    for job in broken:
        assert "broken.yaml" in job.data_error and "malformed YAML" in job.data_error


def test_explicit_programs_list_overrides_the_sheets(project):
    jobs = plan(project, [cycle(2023, programs=["gamma", "beta", "ghost"])])
    # exactly the listed ones, in the listed order; beta has no 2023 sheet but is listed; alpha is not listed
    assert [job.program_id for job in jobs] == ["gamma", "beta", "ghost"]
    assert jobs[0].data_error is None and jobs[1].data_error is None
    ghost = jobs[2]
    assert ghost.program_file == project / "data" / "programs" / "ghost.yaml"
    assert ghost.data_error is not None
    assert "ghost.yaml" in ghost.data_error and "not found" in ghost.data_error
    assert "/params/2023.yaml" in ghost.data_error  # says which cycle file lists it


def test_an_empty_programs_list_selects_nothing(project):
    assert plan(project, [cycle(2023, programs=[])]) == []


def test_invalid_program_file_listed_explicitly_keeps_its_error(project):
    # the file is validated even though no sheet-based selection parsed it (and whatever other cycles exist)
    jobs = plan(project, [cycle(2023, programs=["bad"])])
    assert jobs[0].data_error is not None and "indicators[0].direction" in jobs[0].data_error
    assert "bad.yaml" in jobs[0].data_error


def test_known_sheet_years_are_used_and_filled_in(project):
    programs = project / "data" / "programs"
    # the cache says alpha (unchanged file) has a 2019 sheet: it is trusted, the file is not parsed again
    known = {programs / "alpha.yaml": ({2019}, None)}
    jobs = plan(project, [cycle(2019), cycle(2023)], sheet_years=known)
    assert [job.key for job in jobs] == ["2019/alpha", "2019/beta", "2019/gamma", "2023/bad", "2023/gamma"]
    # what it had to parse is now known too (the batch caches it)
    assert set(known) == {programs / f"{stem}.yaml" for stem in PROGRAMS}
    assert known[programs / "gamma.yaml"] == ({2019, 2023}, None)
    years, error = known[programs / "bad.yaml"]
    assert years == {2023} and "indicators[0].direction" in error


def test_programs_directly_in_the_data_dir(tmp_path):
    (tmp_path / "gamma.yaml").write_text(PROGRAMS["gamma"], encoding="utf-8")
    jobs = plan_jobs(cycles=[cycle(2023)], data_dir=tmp_path, out_dir=tmp_path / "out", notebooks_dir=tmp_path / "nb")
    assert [job.key for job in jobs] == ["2023/gamma"]
    assert jobs[0].program_file == tmp_path / "gamma.yaml"


def test_notebook_for_prefers_the_programs_own_notebook(project):
    notebooks = project / "notebooks"
    assert notebook_for(notebooks, "alpha") == notebooks / "alpha.ipynb"
    assert notebook_for(notebooks, "gamma") == notebooks / "report_card.ipynb"
    assert notebook_for(notebooks, "ghost") == notebooks / "report_card.ipynb"
    jobs = {job.program_id: job for job in plan(project, [cycle(2023)])}
    assert jobs["alpha"].notebook == notebooks / "alpha.ipynb"
    assert jobs["gamma"].notebook == notebooks / "report_card.ipynb"
    assert jobs["bad"].notebook == notebooks / "report_card.ipynb"
