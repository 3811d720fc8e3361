"""The city's plan (program-format.md, "The city's plan", `policy`, `logic`) and the plan roll-up
(indicator-method.md, "Plan roll-up").

Plan files are validated through ``load_plan`` (messages name the file and the key path); a
program's ``policy`` is checked by ``policy_problem``; a program's logic graph through
``load_program``; the roll-up is computed by ``roll_up`` from hand-made card results, every
expected number worked out by hand in a comment.
"""

import copy
import math
from pathlib import Path

import pytest
import yaml

from evalkit import ProgramDataError, load_program
from evalkit.loader import load_plan
from evalkit.plan import UNASSIGNED, CityPlan, policy_problem
from evalkit.rollup import ProgramResult, Rollup, roll_up

pytestmark = pytest.mark.unit


# ---------------------------------------------------------------- plan files

# Two levels: 基本目標 "1" (施策 1-1, 1-2) and 基本目標 "2" (施策 2-1).
PLAN = {
    "name": "第6次長久手市総合計画",
    "levels": ["基本目標", "施策"],
    "items": [
        {"id": "1", "name": "安心して暮らせるまち", "items": [{"id": "1-1", "name": "防災"}, {"id": "1-2", "name": "防犯"}]},
        {"id": "2", "name": "誰もが役割と居場所のあるまち", "items": [{"id": "2-1", "name": "地域共生社会の実現"}]},
    ],
}


def write_plan(tmp_path: Path, value: dict) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(value, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def plan_error(tmp_path: Path, value: dict) -> tuple[Path, ProgramDataError]:
    path = write_plan(tmp_path, value)
    with pytest.raises(ProgramDataError) as caught:
        load_plan(path)
    return path, caught.value


def plan_with(change) -> dict:
    value = copy.deepcopy(PLAN)
    change(value)
    return value


def only_problem(tmp_path: Path, value: dict) -> tuple[str, str, list[str]]:
    """The single problem of the file (key, message) and the lines ``str(error)`` prints."""
    _, error = plan_error(tmp_path, value)
    assert len(error.problems) == 1, error.problems
    (key, message), = error.problems
    return key, message, str(error).splitlines()


def test_a_valid_plan_loads(tmp_path):
    plan = load_plan(write_plan(tmp_path, PLAN))
    assert plan.name == "第6次長久手市総合計画"
    assert plan.levels == ["基本目標", "施策"]
    assert [item.id for item, _ in plan.walk()] == ["1", "1-1", "1-2", "2", "2-1"]  # depth first, file order
    assert [leaf.id for leaf in plan.leaves()] == ["1-1", "1-2", "2-1"]


def test_duplicate_id_is_the_specs_example_line(tmp_path):
    # 2-1 appears under 基本目標 1 first (items[0].items[0]) and again under 基本目標 2 (items[1].items[0])
    value = plan_with(lambda p: p["items"][0]["items"].__setitem__(0, {"id": "2-1", "name": "重複"}))
    path, error = plan_error(tmp_path, value)
    assert [key for key, _ in error.problems] == ["items[1].items[0].id"]
    assert error.problems[0][1].startswith("duplicate id '2-1'")
    assert str(error).startswith(f"{path}: items[1].items[0].id: duplicate id '2-1'")  # the spec's example line


def test_an_id_is_unique_across_levels(tmp_path):
    # a 施策 with the id of a 基本目標 is a duplicate too: "unique in the file", not per level
    value = plan_with(lambda p: p["items"][1]["items"][0].__setitem__("id", "1"))
    key, message, _ = only_problem(tmp_path, value)
    assert key == "items[1].items[0].id"
    assert message.startswith("duplicate id '1'")


@pytest.mark.parametrize("bad", ["-1", ".1", "_1", "あ", "2 1", "1/2", "a" * 33, ""])
def test_an_id_outside_the_pattern(tmp_path, bad):
    # ^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$: an ASCII letter or digit first, at most 32 characters, only . _ - besides
    key, message, lines = only_problem(tmp_path, plan_with(lambda p: p["items"][0]["items"][1].__setitem__("id", bad)))
    assert key == "items[0].items[1].id"
    assert "^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$" in message
    assert repr(bad) in message
    assert lines[0].startswith(f"{tmp_path / 'plan.yaml'}: items[0].items[1].id: ")


@pytest.mark.parametrize("good", ["A", "9", "1.2", "a_b-c.D", "a" * 32])
def test_ids_inside_the_pattern(tmp_path, good):
    plan = load_plan(write_plan(tmp_path, plan_with(lambda p: p["items"][0]["items"][1].__setitem__("id", good))))
    assert [leaf.id for leaf in plan.leaves()] == ["1-1", good, "2-1"]


def test_an_id_that_is_not_text(tmp_path):
    # `id: 2` unquoted is a YAML integer: reported at the id's key, not a crash
    key, _, _ = only_problem(tmp_path, plan_with(lambda p: p["items"][1].__setitem__("id", 2)))
    assert key == "items[1].id"


def test_an_item_above_the_last_level_without_items(tmp_path):
    key, message, lines = only_problem(tmp_path, plan_with(lambda p: p["items"][1].pop("items")))
    assert key == "items[1].items"
    assert "施策" in message  # names the level that is missing below this 基本目標
    assert lines == [f"{tmp_path / 'plan.yaml'}: items[1].items: {message}"]


def test_an_item_above_the_last_level_with_an_empty_list_of_items(tmp_path):
    key, message, _ = only_problem(tmp_path, plan_with(lambda p: p["items"][0].__setitem__("items", [])))
    assert key == "items[0].items"
    assert "施策" in message


def test_an_item_of_the_last_level_with_items(tmp_path):
    # minimal: one level; its item "1" has an item below it
    value = {"name": "計画", "levels": ["基本目標"], "items": [{"id": "1", "name": "A", "items": [{"id": "1-1", "name": "a"}]}]}
    _, error = plan_error(tmp_path, value)
    assert [key for key, _ in error.problems] == ["items[0].items"]
    assert "基本目標" in error.problems[0][1]


def test_an_item_of_the_last_level_with_items_two_levels(tmp_path):
    value = plan_with(lambda p: p["items"][1]["items"][0].__setitem__("items", [{"id": "2-1-1", "name": "細目"}]))
    _, error = plan_error(tmp_path, value)
    assert [key for key, _ in error.problems] == ["items[1].items[0].items"]


@pytest.mark.parametrize(("levels", "bound"), [([], "at least 1"), (["a", "b", "c", "d", "e"], "at most 4")])
def test_zero_or_five_levels(tmp_path, levels, bound):
    key, message, _ = only_problem(tmp_path, plan_with(lambda p: p.__setitem__("levels", levels)))
    assert key == "levels"
    assert bound in message


def test_one_level_and_four_levels_load(tmp_path):
    one = {"name": "計画", "levels": ["基本目標"], "items": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}]}
    assert [leaf.id for leaf in load_plan(write_plan(tmp_path, one)).leaves()] == ["1", "2"]
    four = {"name": "計画", "levels": ["a", "b", "c", "d"], "items": [
        {"id": "1", "name": "A", "items": [{"id": "1.1", "name": "B", "items": [{"id": "1.1.1", "name": "C", "items": [
            {"id": "1.1.1.1", "name": "D"}, {"id": "1.1.1.2", "name": "E"}]}]}]}]}
    plan = load_plan(write_plan(tmp_path, four))
    assert [leaf.id for leaf in plan.leaves()] == ["1.1.1.1", "1.1.1.2"]
    assert plan.level_of("1.1.1.2") == "d"


def test_a_four_level_plan_missing_its_last_level(tmp_path):
    # depth = len(levels): a branch that stops at the third of four levels
    four = {"name": "計画", "levels": ["a", "b", "c", "d"], "items": [
        {"id": "1", "name": "A", "items": [{"id": "1.1", "name": "B", "items": [{"id": "1.1.1", "name": "C"}]}]}]}
    key, message, _ = only_problem(tmp_path, four)
    assert key == "items[0].items[0].items[0].items"
    assert "d" in message


@pytest.mark.parametrize("field", ["name", "levels", "items"])
def test_a_required_top_level_key_missing(tmp_path, field):
    key, message, _ = only_problem(tmp_path, plan_with(lambda p: p.pop(field)))
    assert (key, message) == (field, "required key missing")


def test_an_item_without_a_name(tmp_path):
    key, message, _ = only_problem(tmp_path, plan_with(lambda p: p["items"][0]["items"][1].pop("name")))
    assert (key, message) == ("items[0].items[1].name", "required key missing")


def test_an_unknown_key_is_an_error(tmp_path):
    key, message, _ = only_problem(tmp_path, plan_with(lambda p: p["items"][0].__setitem__("nmae", "x")))
    assert key == "items[0].nmae"
    assert message.startswith("unknown key")


def test_several_tree_problems_are_reported_together(tmp_path):
    def change(p):
        p["items"][0]["items"][1]["id"] = "1-1"  # duplicate of items[0].items[0]
        p["items"][1].pop("items")  # 基本目標 2 without 施策
        p["items"].append({"id": "2", "name": "重複"})  # duplicate of items[1], and without 施策
    path, error = plan_error(tmp_path, plan_with(change))
    assert [key for key, _ in error.problems] == ["items[0].items[1].id", "items[1].items", "items[2].id", "items[2].items"]
    lines = str(error).splitlines()
    assert len(lines) == 4
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_several_field_problems_are_reported_together(tmp_path):
    def change(p):
        p.pop("name")
        p["levels"] = []
        p["items"][0]["id"] = "-1"
        p["items"][1]["items"][0].pop("name")
    _, error = plan_error(tmp_path, plan_with(change))
    assert {key for key, _ in error.problems} == {"name", "levels", "items[0].id", "items[1].items[0].name"}


def test_a_field_problem_and_a_tree_problem_are_reported_together(tmp_path):
    def change(p):
        p["items"][0].pop("name")  # field problem
        p["items"][1]["items"][0]["id"] = "1-1"  # tree problem: duplicate id
    _, error = plan_error(tmp_path, plan_with(change))
    assert {key for key, _ in error.problems} == {"items[0].name", "items[1].items[0].id"}


# ---------------------------------------------------------------- policy

THREE = CityPlan.model_validate({
    "name": "計画",
    "levels": ["政策", "施策", "基本事業"],
    "items": [{"id": "A", "name": "政策A", "items": [
        {"id": "A1", "name": "施策A1", "items": [{"id": "A1a", "name": "事業A1a"}, {"id": "A1b", "name": "事業A1b"}]},
        {"id": "A2", "name": "施策A2", "items": [{"id": "A2a", "name": "事業A2a"}]},
    ]}],
})


@pytest.mark.parametrize("leaf", ["A1a", "A1b", "A2a"])
def test_policy_naming_a_leaf_is_fine(leaf):
    assert policy_problem(THREE, leaf) is None


@pytest.mark.parametrize(("item", "level"), [("A", "政策"), ("A1", "施策"), ("A2", "施策")])
def test_policy_naming_an_item_above_the_last_level(item, level):
    problem = policy_problem(THREE, item)
    assert problem is not None
    assert f"a {level}" in problem  # names the level of the item it names
    assert repr(item) in problem
    assert "基本事業" in problem  # and the level it must name


def test_policy_naming_no_item():
    problem = policy_problem(THREE, "B9")
    assert problem is not None
    assert "'B9'" in problem


def test_policy_without_a_plan():
    problem = policy_problem(None, "A1a")
    assert problem is not None
    assert "'A1a'" in problem and "plan.yaml" in problem


@pytest.mark.parametrize("plan", [THREE, None])
def test_no_policy_is_never_a_problem(plan):
    assert policy_problem(plan, None) is None


def test_a_program_names_its_policy(write_program):
    program = load_program(write_program('id: p\nname: 事業\npolicy: "2-1"\n'))
    assert program.policy == "2-1"


def test_a_policy_outside_the_id_pattern(write_program):
    path = write_program("id: p\nname: 事業\npolicy: '2 1'\n")
    with pytest.raises(ProgramDataError) as caught:
        load_program(path)
    assert [key for key, _ in caught.value.problems] == ["policy"]
    assert str(caught.value).startswith(f"{path}: policy: ")


# ---------------------------------------------------------------- logic

LOGIC_PROGRAM = """\
id: p
name: 事業
indicators:
  - {id: partners, name: 関係者数, unit: 者, direction: up}
  - {id: meetings, name: 会議, unit: 回, direction: up, kind: activity}
logic:
  nodes:
    - {id: act1, level: activity, text: 支援体制を構築, indicators: [meetings]}
    - {id: out1, level: output, text: 会議の開催}
    - {id: short1, level: short, text: 関係者がつながる, indicators: [partners]}
    - {id: mid1, level: mid, text: 相談が早まる}
    - {id: long1, level: long, text: 孤立が減る}
    - {id: fin1, level: final, text: 誰もが居場所のあるまち}
  links:
%s
"""


def logic_file(write_program, links: list[tuple[str, str]], extra_nodes: str = "") -> Path:
    text = LOGIC_PROGRAM % "\n".join(f"    - [{a}, {b}]" for a, b in links)
    if extra_nodes:
        text = text.replace("  links:\n", extra_nodes + "  links:\n")
    return write_program(text)


def logic_problems(write_program, links, extra_nodes: str = "") -> tuple[Path, ProgramDataError]:
    path = logic_file(write_program, links, extra_nodes)
    with pytest.raises(ProgramDataError) as caught:
        load_program(path)
    return path, caught.value


def test_a_valid_graph_loads(write_program):
    # up one level each time, and also skipping levels (activity → mid, output → final): both go up
    links = [("act1", "out1"), ("out1", "short1"), ("short1", "mid1"), ("mid1", "long1"), ("long1", "fin1"),
             ("act1", "mid1"), ("out1", "fin1")]
    program = load_program(logic_file(write_program, links))
    assert [(n.id, n.level) for n in program.logic.nodes] == [
        ("act1", "activity"), ("out1", "output"), ("short1", "short"), ("mid1", "mid"), ("long1", "long"), ("fin1", "final")]
    assert [tuple(link) for link in program.logic.links] == links
    assert program.logic.nodes[0].indicators == ["meetings"]


def test_a_link_to_an_unknown_node(write_program):
    path, error = logic_problems(write_program, [("act1", "out1"), ("act1", "nowhere")])
    assert [key for key, _ in error.problems] == ["logic.links[1]"]
    assert "'nowhere'" in error.problems[0][1]
    assert str(error).startswith(f"{path}: logic.links[1]: ")


def test_a_link_from_an_unknown_node(write_program):
    _, error = logic_problems(write_program, [("ghost", "fin1")])
    assert [key for key, _ in error.problems] == ["logic.links[0]"]
    assert "'ghost'" in error.problems[0][1]


@pytest.mark.parametrize("link", [("mid1", "mid1"), ("act1", "act1")])
def test_a_link_within_one_node_or_level_does_not_go_up(write_program, link):
    _, error = logic_problems(write_program, [("act1", "out1"), link])
    assert [key for key, _ in error.problems] == ["logic.links[1]"]


def test_a_link_between_two_nodes_of_the_same_level(write_program):
    extra = "    - {id: short2, level: short, text: 別の短期}\n"
    _, error = logic_problems(write_program, [("short1", "short2")], extra)
    assert [key for key, _ in error.problems] == ["logic.links[0]"]
    assert "'short1'" in error.problems[0][1] and "'short2'" in error.problems[0][1]


@pytest.mark.parametrize("link", [("out1", "act1"), ("fin1", "act1"), ("long1", "short1")])
def test_a_link_going_down(write_program, link):
    _, error = logic_problems(write_program, [link])
    assert [key for key, _ in error.problems] == ["logic.links[0]"]


def test_an_unknown_indicator_in_a_node(write_program):
    extra = "    - {id: mid2, level: mid, text: 別の中期, indicators: [partners, partner]}\n"
    path, error = logic_problems(write_program, [("act1", "mid2")], extra)
    assert [key for key, _ in error.problems] == ["logic.nodes[6].indicators[1]"]
    assert "'partner'" in error.problems[0][1]
    assert str(error).startswith(f"{path}: logic.nodes[6].indicators[1]: ")


def test_a_duplicate_node_id(write_program):
    extra = "    - {id: mid1, level: mid, text: 二つめ}\n"
    _, error = logic_problems(write_program, [("act1", "out1")], extra)
    assert [key for key, _ in error.problems] == ["logic.nodes[6].id"]
    assert "'mid1'" in error.problems[0][1]


@pytest.mark.parametrize("bad", ["act 2", "-act", "活動"])
def test_a_node_id_must_be_an_ascii_slug(write_program, bad):
    extra = f"    - {{id: '{bad}', level: activity, text: 活動}}\n"
    _, error = logic_problems(write_program, [("act1", "out1")], extra)
    assert [key for key, _ in error.problems] == ["logic.nodes[6].id"]


def test_a_level_outside_the_six(write_program):
    extra = "    - {id: imp, level: impact, text: インパクト}\n"
    _, error = logic_problems(write_program, [("act1", "out1")], extra)
    assert [key for key, _ in error.problems] == ["logic.nodes[6].level"]


def test_several_logic_problems_are_reported_together(write_program):
    extra = "    - {id: act1, level: activity, text: 重複, indicators: [zzz]}\n"
    _, error = logic_problems(write_program, [("act1", "out1"), ("fin1", "long1"), ("act1", "nobody")], extra)
    assert [key for key, _ in error.problems] == [
        "logic.nodes[6].id", "logic.nodes[6].indicators[0]", "logic.links[1]", "logic.links[2]"]


# ---------------------------------------------------------------- plan roll-up

# 政策 A: 施策 A1 (基本事業 A1a, A1b) and 施策 A2 (基本事業 A2a) — THREE above.

def result(program_id: str, status: str, score: float, policy: str | None = None, cost: float = math.nan,
           unit: str | None = "千円") -> ProgramResult:
    return ProgramResult(program_id=program_id, name=f"{program_id}事業", status=status, score=score, policy=policy,
                         total_cost=cost, cost_unit=unit)


def by_id(rollups: list[Rollup]) -> dict[str, Rollup]:
    return {r.item_id: r for r in rollups}


def members(rollup: Rollup) -> list[str]:
    return [p.program_id for p in rollup.programs]


def one_leaf_plan() -> CityPlan:
    return CityPlan.model_validate({"name": "計画", "levels": ["施策"], "items": [{"id": "x", "name": "施策X"}]})


def single(programs: list[ProgramResult]) -> Rollup:
    """The roll-up of the one item of a one-leaf plan, whose programs are exactly ``programs`` (all with policy x)."""
    return by_id(roll_up(one_leaf_plan(), programs))["x"]


def test_each_item_collects_the_programs_at_it_and_below_it_each_once():
    programs = [
        result("p1", "substantial_progress", 3.0, "A1a"),
        result("p2", "limited_progress", -1.0, "A1a"),
        result("p3", "moderate_progress", 1.0, "A1b"),
        result("p4", "deterioration", -4.0, "A2a"),
        result("p5", "not_available", math.nan, None),
    ]
    rollups = roll_up(THREE, programs)
    # every item, depth first in file order, then 未分類
    assert [r.item_id for r in rollups] == ["A", "A1", "A1a", "A1b", "A2", "A2a", UNASSIGNED]
    got = by_id(rollups)
    assert members(got["A1a"]) == ["p1", "p2"]
    assert members(got["A1b"]) == ["p3"]
    assert members(got["A1"]) == ["p1", "p2", "p3"]  # both of its 基本事業
    assert members(got["A2"]) == ["p4"]
    assert members(got["A"]) == ["p1", "p2", "p3", "p4"]  # two levels down, each program once
    assert members(got[UNASSIGNED]) == ["p5"]
    assert [got[i].count for i in ("A", "A1", "A1a", "A1b", "A2", "A2a", UNASSIGNED)] == [4, 3, 2, 1, 1, 1, 1]
    # levels and depths of the plan, 未分類 as its own level
    assert [(got[i].level, got[i].depth) for i in ("A", "A1", "A1a")] == [("政策", 1), ("施策", 2), ("基本事業", 3)]
    assert got["A1a"].ancestors == ("A", "A1")
    assert (got[UNASSIGNED].name, got[UNASSIGNED].level) == ("未分類", "未分類")


def test_scores_are_means_over_the_scored_programs_at_every_level():
    programs = [
        result("p1", "substantial_progress", 3.0, "A1a"),
        result("p2", "limited_progress", -1.0, "A1a"),
        result("p3", "not_available", math.nan, "A1b"),
        result("p4", "deterioration", -4.0, "A2a"),
    ]
    got = by_id(roll_up(THREE, programs))
    # A1a: (3 + -1) / 2 = 1.0; A1b: none scored; A1: p1, p2 scored -> 1.0; A2a: -4.0; A: (3 - 1 - 4) / 3 = -2/3
    assert (got["A1a"].count, got["A1a"].scored, got["A1a"].score) == (2, 2, 1.0)
    assert (got["A1b"].count, got["A1b"].scored) == (1, 0)
    assert math.isnan(got["A1b"].score)
    assert (got["A1"].count, got["A1"].scored, got["A1"].score) == (3, 2, 1.0)
    assert (got["A2a"].scored, got["A2a"].score) == (1, -4.0)
    assert (got["A"].count, got["A"].scored) == (4, 3)
    assert got["A"].score == pytest.approx(-0.6666666666666666, rel=1e-12)
    # statuses: 1.0 ≥ 0 -> moderate; none scored -> not_available; -4 < -2.5 -> deterioration; -2/3 ≥ -2.5 -> limited
    assert [got[i].status for i in ("A1a", "A1b", "A1", "A2a", "A")] == [
        "moderate_progress", "not_available", "moderate_progress", "deterioration", "limited_progress"]


def test_an_item_without_programs():
    got = by_id(roll_up(THREE, [result("p1", "moderate_progress", 1.0, "A1a")]))
    empty = got["A2"]
    assert (empty.count, empty.scored, empty.status) == (0, 0, "not_available")
    assert math.isnan(empty.score)
    assert math.isnan(empty.total_cost)
    assert empty.distribution() == {}


def test_no_program_scored_is_not_available_whatever_their_statuses():
    item = single([result("p1", "not_available", math.nan, "x"), result("p2", "not_available", math.nan, "x")])
    assert (item.count, item.scored, item.status) == (2, 0, "not_available")
    assert math.isnan(item.score)


def test_target_achieved_when_every_scored_program_achieved_its_target():
    # the unscored program does not count against it: scored = 2, both target_achieved; score (5 + 5) / 2 = 5
    item = single([result("p1", "target_achieved", 5.0, "x"), result("p2", "target_achieved", 5.0, "x"),
                   result("p3", "not_available", math.nan, "x")])
    assert (item.count, item.scored, item.score, item.status) == (3, 2, 5.0, "target_achieved")


def test_one_scored_program_short_of_its_target_means_the_bands_decide():
    # (5 + 5 + 2.5) / 3 = 12.5 / 3 = 4.1666… ≥ 2.5 -> substantial_progress, not target_achieved
    item = single([result("p1", "target_achieved", 5.0, "x"), result("p2", "target_achieved", 5.0, "x"),
                   result("p3", "substantial_progress", 2.5, "x")])
    assert item.status == "substantial_progress"
    assert item.score == pytest.approx(4.166666666666667, rel=1e-12)


def test_a_mean_score_of_five_without_every_program_achieved_is_not_target_achieved():
    # a program scored 5 without target_achieved (method 1 with c = 0 scores 5): mean 5.0 -> substantial_progress
    item = single([result("p1", "target_achieved", 5.0, "x"), result("p2", "substantial_progress", 5.0, "x")])
    assert (item.score, item.status) == (5.0, "substantial_progress")


@pytest.mark.parametrize(
    ("scores", "mean", "status"),
    [
        ((2.0, 3.0), 2.5, "substantial_progress"),  # (2 + 3) / 2 = 2.5: the boundary itself is 順調
        ((2.0, 2.75), 2.375, "moderate_progress"),  # (2 + 2.75) / 2 = 2.375 < 2.5
        ((1.0, -1.0), 0.0, "moderate_progress"),  # (1 - 1) / 2 = 0: the boundary itself is 概ね順調
        ((0.25, -0.5), -0.125, "limited_progress"),  # (0.25 - 0.5) / 2 = -0.125 < 0
        ((-2.0, -3.0), -2.5, "limited_progress"),  # (-2 - 3) / 2 = -2.5: the boundary itself is 遅れ
        ((-2.5, -2.75), -2.625, "deterioration"),  # (-2.5 - 2.75) / 2 = -2.625 < -2.5
        ((5.0, 0.0), 2.5, "substantial_progress"),  # a target_achieved program among them: (5 + 0) / 2 = 2.5
    ],
)
def test_score_bands_and_their_boundaries(scores, mean, status):
    statuses = {5.0: "target_achieved", 3.0: "substantial_progress", 2.75: "substantial_progress", 2.0: "moderate_progress",
                1.0: "moderate_progress", 0.25: "moderate_progress", 0.0: "moderate_progress", -0.5: "limited_progress",
                -1.0: "limited_progress", -2.0: "limited_progress", -2.5: "limited_progress", -2.75: "deterioration",
                -3.0: "deterioration"}
    item = single([result(f"p{i}", statuses[s], s, "x") for i, s in enumerate(scores)])
    assert item.score == mean
    assert item.status == status


def test_total_cost_sums_the_programs_that_have_one():
    # p1 1200 + p3 800.5 = 2000.5 千円 over 2 programs; p2 has no トータルコスト
    item = single([result("p1", "moderate_progress", 1.0, "x", 1200.0), result("p2", "moderate_progress", 1.0, "x"),
                   result("p3", "moderate_progress", 1.0, "x", 800.5)])
    assert (item.total_cost, item.cost_unit, item.cost_programs) == (2000.5, "千円", 2)
    assert item.cost_note is None


def test_total_cost_of_an_ancestor_sums_over_its_programs():
    programs = [result("p1", "moderate_progress", 1.0, "A1a", 100.0), result("p2", "moderate_progress", 1.0, "A1b", 250.0),
                result("p3", "moderate_progress", 1.0, "A2a", 40.0), result("p4", "moderate_progress", 1.0, "A2a")]
    got = by_id(roll_up(THREE, programs))
    # A1: 100 + 250 = 350 (2 programs); A2: 40 (1 of its 2); A: 100 + 250 + 40 = 390 (3 of 4)
    assert (got["A1"].total_cost, got["A1"].cost_programs) == (350.0, 2)
    assert (got["A2"].total_cost, got["A2"].cost_programs) == (40.0, 1)
    assert (got["A"].total_cost, got["A"].cost_programs) == (390.0, 3)


def test_total_cost_is_empty_when_no_program_has_one():
    item = single([result("p1", "moderate_progress", 1.0, "x"), result("p2", "limited_progress", -1.0, "x")])
    assert math.isnan(item.total_cost)
    assert (item.cost_unit, item.cost_programs, item.cost_note) == (None, 0, None)


def test_a_zero_total_cost_is_a_cost():
    # 0 is a value, not "no data": 0 + 300 = 300 over 2 programs
    item = single([result("p1", "moderate_progress", 1.0, "x", 0.0), result("p2", "moderate_progress", 1.0, "x", 300.0)])
    assert (item.total_cost, item.cost_programs) == (300.0, 2)


def test_units_that_differ_leave_the_total_and_its_unit_empty_and_say_why():
    item = single([result("p1", "moderate_progress", 1.0, "x", 1200.0, "千円"), result("p2", "moderate_progress", 1.0, "x", 3.5, "百万円"),
                   result("p3", "moderate_progress", 1.0, "x")])
    assert math.isnan(item.total_cost)
    assert item.cost_unit is None
    assert item.cost_note  # the card says why
    assert "千円" in item.cost_note and "百万円" in item.cost_note


def test_units_that_differ_only_at_an_ancestor():
    programs = [result("p1", "moderate_progress", 1.0, "A1a", 10.0, "千円"), result("p2", "moderate_progress", 1.0, "A2a", 2.0, "円")]
    got = by_id(roll_up(THREE, programs))
    assert (got["A1"].total_cost, got["A1"].cost_unit) == (10.0, "千円")
    assert (got["A2"].total_cost, got["A2"].cost_unit) == (2.0, "円")
    assert math.isnan(got["A"].total_cost)
    assert got["A"].cost_unit is None and got["A"].cost_note


def test_the_number_summed_is_given_also_without_a_unit():
    # 100 + 50 = 150 over 2 programs, neither names a unit
    item = single([result("p1", "moderate_progress", 1.0, "x", 100.0, None), result("p2", "moderate_progress", 1.0, "x", 50.0, None)])
    assert (item.total_cost, item.cost_programs) == (150.0, 2)


def test_programs_without_a_policy_are_unassigned():
    programs = [result("p1", "moderate_progress", 1.0, "A1a"), result("p2", "limited_progress", -1.0, None, 70.0),
                result("p3", "deterioration", -3.0, None, 30.0)]
    got = by_id(roll_up(THREE, programs))
    unassigned = got[UNASSIGNED]
    assert members(unassigned) == ["p2", "p3"]
    # (-1 - 3) / 2 = -2.0 ≥ -2.5 -> limited_progress; cost 70 + 30 = 100
    assert (unassigned.scored, unassigned.score, unassigned.status) == (2, -2.0, "limited_progress")
    assert (unassigned.total_cost, unassigned.cost_programs) == (100.0, 2)
    assert members(got["A"]) == ["p1"]  # never in the plan's items


def test_a_city_without_a_plan_has_only_unassigned_with_every_program():
    programs = [result("p1", "moderate_progress", 1.0, "2-1"), result("p2", "target_achieved", 5.0, None),
                result("p3", "not_available", math.nan, "1-1")]
    rollups = roll_up(None, programs)
    assert [r.item_id for r in rollups] == [UNASSIGNED]
    (only,) = rollups
    assert (only.name, only.depth) == ("未分類", 1)
    assert members(only) == ["p1", "p2", "p3"]  # their policies name nothing without a plan
    # scored p1, p2: (1 + 5) / 2 = 3.0 ≥ 2.5 -> substantial_progress (p1 is not target_achieved)
    assert (only.count, only.scored, only.score, only.status) == (3, 2, 3.0, "substantial_progress")


def test_a_city_without_a_plan_or_programs():
    (only,) = roll_up(None, [])
    assert (only.item_id, only.count, only.status) == (UNASSIGNED, 0, "not_available")


def test_distribution_counts_the_statuses_of_the_programs():
    programs = [result("p1", "moderate_progress", 1.0, "A1a"), result("p2", "target_achieved", 5.0, "A1b"),
                result("p3", "moderate_progress", 0.5, "A2a"), result("p4", "not_available", math.nan, "A2a"),
                result("p5", "moderate_progress", 2.0, "A1a")]
    got = by_id(roll_up(THREE, programs))
    assert got["A"].distribution() == {"moderate_progress": 3, "target_achieved": 1, "not_available": 1}
    assert got["A1"].distribution() == {"moderate_progress": 2, "target_achieved": 1}
    assert got["A2a"].distribution() == {"moderate_progress": 1, "not_available": 1}
    assert sum(got["A"].distribution().values()) == got["A"].count == 5


def test_an_invalid_plan_is_salvaged_and_its_problems_point_at_their_items(tmp_path):
    from evalkit.loader import read_plan

    path = tmp_path / "plan.yaml"
    path.write_text("""\
name: 計画
levels: [基本目標, 施策]
items:
  - {id: "1", name: A, items: [{id: "1-1", name: a}, {id: "1-1", name: b}]}
  - {id: "2", name: B, items: [{id: "2-1", name: c}]}
  - {id: "3", name: C}
""", encoding="utf-8")
    reading = read_plan(path)
    assert [key for key, _ in reading.error.problems] == ["items[0].items[1].id", "items[2].items"]
    # the duplicate points at both 1-1 items (its own and the one named in "also"), the missing 施策 at item 3
    assert set(reading.affected) == {"1-1", "3"}
    assert [item.id for item in reading.plan.leaves()] == ["1-1", "1-1", "2-1", "3"]
    assert [item.id for item in reading.plan.path("2-1")] == ["2", "2-1"]  # 2-1 is untouched: its programs keep their place


def test_a_file_without_the_shape_of_a_tree_cannot_be_salvaged(tmp_path):
    from evalkit.loader import read_plan

    path = tmp_path / "plan.yaml"
    path.write_text("name: 計画\nlevels: [基本目標]\nitems: [{id: 1, name: A}]\n", encoding="utf-8")  # an id that is a number
    reading = read_plan(path)
    assert reading.plan is None and reading.error is not None and reading.affected == {}
