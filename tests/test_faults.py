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
    for text in ("[]", "null", '{"version": 2}', '{"version": 2, "programs": {}, "cards": {"k": {"ok": true}}}', "{trunc"):
        path = tmp_path / "cache.json"
        path.write_text(text, encoding="utf-8")
        assert Cache.load(path, warn=lines.append) == Cache()
    assert len(lines) == 5 and all("rebuilding it" in line for line in lines)
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
