"""The report card produced by real Papermill runs and real nbconvert output."""

import html
import re

import nbformat
import papermill
import pytest
from conftest import ROOT, XSS_NAME, copy_project, own_notebook, run_cli

import evalkit
from evalkit import scraps
from evalkit.export import notebook_to_html

SECTIONS = ["1 事業概要", "2 事業の実施体制", "3 事業の目的", "4 成果指標", "5 事業のふりかえり", "6 課題分析", "7 おわりに"]
SAMPLES = [(2023, "chiiki-kyosei"), (2019, "shinjo-gomi-shuseki-hojo"), (2019, "kakogawa-shogaisha-sports"), (2017, "morioka-toshi-koen")]


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("year, program_id", SAMPLES)
def test_every_sample_card_has_every_section_and_its_own_text(rendered, year, program_id):
    page = (rendered / str(year) / f"{program_id}.html").read_text(encoding="utf-8")
    text = text_of(page)
    for heading in SECTIONS:
        assert heading in text, heading
    program = evalkit.load_program(ROOT / "data/programs" / f"{program_id}.yaml")
    assert program.name in text
    if program.background:
        assert program.background.splitlines()[0].strip() in text
    for indicator in program.indicators:
        assert indicator.name in text
    sheet = program.sheet(year)
    for line in (sheet.status_comment,) if sheet.status_comment else ():
        assert line in text
    assert f"{evalkit.era_label(year, long=True)}（{year}年度）通知表" in text


def test_seed_card_numbers(rendered):
    text = text_of((rendered / "2023/chiiki-kyosei.html").read_text(encoding="utf-8"))
    for expected in ("87者（R4）", "102者（R8）", "94.6%", "59.5%", "順調", "令和5年度（2023年度）通知表",
                     "地域共生推進課", "重層的支援体制の整備", "拡充", "維持", "どう評価するとよいでしょうか",
                     "追加分析", "令和4年度の活動エピソード"):
        assert expected in text, expected


def test_card_is_clean_html_without_code_or_banners(rendered):
    page = (rendered / "2023/chiiki-kyosei.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "https://cdn" not in page and "cdnjs" not in page
    assert "load_card" not in page and "sections.title" not in page  # no code
    assert "injected-parameters" not in page and "Parameters" not in page
    assert "jp-InputArea" not in page.split("</style>")[-1] and "In&nbsp;[" not in page
    assert 'lang="ja"' in page
    assert "@page" in page and "size: A4" in page
    assert 'src="data:image/png;base64,' in page
    assert "evalkit " + evalkit.__version__ in text_of(page)
    assert "data/programs/chiiki-kyosei.yaml" in page


def test_text_from_data_is_escaped(rendered):
    page = (rendered / "2023/xss-check.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<iframe" not in page and "<b>課</b>" not in page
    assert html.escape(XSS_NAME) in page or "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    index = (rendered / "2023/index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in index and "&lt;script&gt;alert(1)&lt;/script&gt;" in index


def test_program_without_indicators_or_sheet_text_still_renders_quietly(rendered):
    text = text_of((rendered / "2019/kakogawa-shogaisha-sports.html").read_text(encoding="utf-8"))
    assert "この事業には成果指標が設定されていません。" in text
    assert "このシートには記載がありません。" in text
    assert "判定不能" in text


def test_scraps_recorded_for_the_index(rendered):
    recorded = scraps.read(rendered / "2023/chiiki-kyosei.ipynb")
    assert recorded["program_status"] == "substantial_progress"
    assert recorded["program"]["id"] == "chiiki-kyosei"
    frame = recorded["assessment"]
    assert list(frame.columns) == evalkit.assessment.ASSESSMENT_COLUMNS
    assert frame.loc[0, "current"] == 87 and abs(frame.loc[0, "achievement"] - 87 / 92) < 1e-12
    (indicator,) = recorded["indicators"]
    assert indicator["status"] == "substantial_progress" and abs(indicator["progress"] - 22 / 37) < 1e-12


def test_template_runs_with_its_default_parameters(tmp_path):
    """What an analyst gets in Jupyter: run top to bottom with no parameters at all."""
    out = tmp_path / "default.ipynb"
    node = papermill.execute_notebook(str(ROOT / "notebooks/report_card.ipynb"), str(out), cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert scraps.from_node(node)["program"]["id"] == "chiiki-kyosei"
    assert "94.6%" in text_of(notebook_to_html(node))


def test_committed_notebooks_are_clean_and_short():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, path
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path
                assert len(cell.source.splitlines()) <= 8, f"{path}: logic belongs in evalkit"


def test_chart_font_has_japanese_glyphs():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from evalkit.charts import JAPANESE_FONT

    path = font_manager.findfont(font_manager.FontProperties(family=JAPANESE_FONT), fallback_to_default=False)
    font = FT2Font(path)
    charmap = font.get_charmap()
    for char in "実績目標令和年度支援者":
        assert ord(char) in charmap, char


def test_chart_alt_text_states_the_numbers(root):
    card = evalkit.load_card("chiiki-kyosei", 2023, root / "data")
    from evalkit import charts

    indicator = card.program.indicators[0]
    alt = charts.indicator_alt_text(indicator, card.measures[indicator.id], card.cutoff)
    for part in ("R3 65", "R4 87", "R5 92", "R8 102", "者"):
        assert part in alt


PYPLOT_CELL = """\
import matplotlib.pyplot as plt
plt.figure(figsize=(4, 2))
plt.bar(["a", "b"], [3, 5])
plt.title("analyst chart")
plt.show()"""


@pytest.mark.parametrize("kernels", ["forked", "fresh"])
def test_a_pyplot_cell_in_a_program_notebook_shows_on_its_card(tmp_path, kernels):
    """evalkit leaves matplotlib's backend alone: an analyst's own pyplot chart reaches the card inline."""
    project = copy_project(tmp_path)
    own_notebook(project, "kakogawa-shogaisha-sports", PYPLOT_CELL)  # no indicators: evalkit draws no chart of its own
    args = ["--program", "kakogawa-shogaisha-sports", "--quiet"] + (["--fresh-kernels"] if kernels == "fresh" else [])
    result = run_cli(project, *args)
    assert result.returncode == 0, result.stderr
    page = (project / "outputs/2019/kakogawa-shogaisha-sports.html").read_text(encoding="utf-8")
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) == 1 and 'src="data:image/png;base64,' in images[0]
