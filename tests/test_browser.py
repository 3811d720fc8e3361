"""The HTML as evaluators get it, checked in real headless Chromium (Debian's, via Playwright)."""

import re
import unicodedata
from pathlib import Path

import pytest
from conftest import copy_project, run_cli
from pypdf import PdfReader

CARDS = ["2023/chiiki-kyosei.html", "2019/shinjo-gomi-shuseki-hojo.html", "2019/kakogawa-shogaisha-sports.html", "2017/morioka-toshi-koen.html"]


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


@pytest.mark.parametrize("card", CARDS)
def test_card_in_chromium(browser, rendered, card, tmp_path):
    page, errors, requests = open_page(browser, rendered / card)
    assert errors == []
    outside = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert outside == [], outside
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.getAttribute('alt')])")
    for complete, width, alt in images:
        assert complete and width > 0 and alt and alt.strip()
    if "chiiki" in card:
        assert len(images) == 1
        assert page.locator(".mandala-cell").count() == 9
        assert page.locator(".mandala-center").inner_text().strip() == "重層的支援体制の整備"
        badge = page.locator("#indicators .badge").first
        assert badge.inner_text().strip().endswith("順調")
        assert badge.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Sans JP" in family and "Meiryo" in family
    page.screenshot(path=str(tmp_path / (card.replace("/", "_") + ".png")), full_page=True)
    assert (tmp_path / (card.replace("/", "_") + ".png")).stat().st_size > 10_000
    page.close()


#: characters the PDF's fonts give back as look-alikes (— as ―, ／ as ∕, ・ as ‧): one form of each, to compare
_LOOKALIKES = str.maketrans({**{chr(c): "-" for c in range(0x2010, 0x2016)}, "\u2212": "-", "\u2215": "/", "\u2027": "\u30fb"})


def _normal(text: str) -> str:
    """NFKC (Kangxi radicals -> ideographs), look-alikes as one character, no whitespace: PDF text and DOM text compare."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).translate(_LOOKALIKES)


def _pattern(text: str) -> re.Pattern:
    """The DOM text as a regex in which an ideograph may also come out of the PDF as a CJK radical (⻑ for 長)."""
    parts = [f"(?:{re.escape(c)}|[\u2e80-\u2eff])" if "\u4e00" <= c <= "\u9fff" else re.escape(c) for c in text]
    return re.compile("".join(parts))


#: evalkit.css's @page margins (top, left and right, bottom), in millimetres
PAGE_MARGINS_MM = (12, 12, 14)
A4_CONTENT_MM = (210 - 2 * PAGE_MARGINS_MM[1], 297 - PAGE_MARGINS_MM[0] - PAGE_MARGINS_MM[2])
SEED = "2023/chiiki-kyosei.html"
SEED_FOOTER = "地域共生社会推進事業　令和5年度（2023年度）通知表"

#: what must never be cut across two pages, as ``[label, its first text, its last text]``: for a table its first and last
#: body rows, for a heading the start of the block it introduces. A text is a text node of two characters or more, badges
#: left out (their symbol is drawn by CSS, so the PDF's text differs from the DOM's).
UNCUT_BLOCKS = """() => {
  const texts = root => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest('.badge, style') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
    const found = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) { if (n.data.replace(/\\s/g, '').length >= 2) found.push(n.data); }
    return found;
  };
  const blocks = [];
  const add = (label, first, last) => { if (first.length && last.length) blocks.push([label, first[0], last[last.length - 1]]); };
  for (const table of document.querySelectorAll('main table')) {  // header and footer rows are repeated on every page
    const bodies = table.tBodies.length ? table.tBodies : [table];
    add('table.' + table.className, texts(bodies[0]), texts(bodies[bodies.length - 1]));
  }
  for (const box of document.querySelectorAll('.card-title, .card-summary, .checks, .logic-model, .logic-graph-wrap, .mandala, .assessment')) {
    add(box.className, texts(box), texts(box));
  }
  for (const heading of document.querySelectorAll('main :is(h2, h3, h4)')) {
    const next = heading.nextElementSibling ? texts(heading.nextElementSibling) : [];  // its start: a long block may go on
    if (next.length) add(heading.tagName + ' ' + heading.textContent, texts(heading), [next[0].replace(/\\s/g, '').slice(0, 10)]);
  }
  return blocks;
}"""


def print_pdf(page, path: Path) -> list[str]:
    """``page`` printed on A4 as Chromium prints it (its own @page rules win, with an outline); the text of each page."""
    page.pdf(path=str(path), format="A4", prefer_css_page_size=True, print_background=True, outline=True, tagged=True)
    return [p.extract_text() or "" for p in PdfReader(str(path)).pages]


def cut_blocks(texts: list[str], blocks: list[list[str]]) -> list[str]:
    """The blocks whose first and last texts are on no single page."""
    pages = [_normal(text) for text in texts]
    cut = []
    for label, first, last in blocks:
        start, end = _pattern(_normal(first)[:8]), _pattern(_normal(last)[-8:])
        if not any(start.search(text) and end.search(text) for text in pages):
            cut.append(f"{label}: {first.strip()[:20]!r} … {last.strip()[-20:]!r}")
    return cut


def assert_printed_whole(page, pdf: Path, footer: str, max_pages: int) -> list[str]:
    """Print ``page``: A4, at most ``max_pages``, ``footer`` and ``n / total`` on every page, no block or image cut."""
    blocks = page.evaluate(UNCUT_BLOCKS)
    images = page.locator("img").count()
    texts = print_pdf(page, pdf)
    reader = PdfReader(str(pdf))
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4 in points
    assert len(texts) <= max_pages, f"{len(texts)} pages"
    for number, text in enumerate(texts, start=1):
        assert _pattern(_normal(footer)).search(_normal(text)), f"page {number} has no footer naming the program and the cycle"
        assert re.search(rf"(^|\D){number}\s*/\s*{len(texts)}(\D|$)", text), f"page {number} is not numbered"
    assert len(blocks) >= 10
    assert cut_blocks(texts, blocks) == []
    assert sum(len(p.images) for p in reader.pages) == images  # an image cut in two would be drawn on two pages
    return texts


def test_the_seed_card_prints_on_four_a4_pages_at_most_each_with_its_footer(browser, rendered, tmp_path):
    page, _, _ = open_page(browser, rendered / SEED)
    assert_printed_whole(page, tmp_path / "card.pdf", SEED_FOOTER, max_pages=4)
    page.close()


@pytest.mark.parametrize("card", CARDS[1:])
def test_every_sample_card_prints_compactly_with_nothing_cut(browser, rendered, card, tmp_path):
    page, _, _ = open_page(browser, rendered / card)
    footer = page.locator(".card-title .program-name").inner_text() + "　" + page.locator(".card-title h1").inner_text()
    assert_printed_whole(page, tmp_path / "card.pdf", footer, max_pages=6)  # 8 to 12 pages when each section started one
    page.close()


def test_a_fictional_card_prints_compactly_with_nothing_cut(browser, rendered_city, tmp_path):
    page, _, _ = open_page(browser, rendered_city / "2024/sample-bosai.html")
    assert_printed_whole(page, tmp_path / "card.pdf", "地域防災力強化事業　令和6年度（2024年度）通知表", max_pages=6)
    page.close()


def test_a_table_at_a_page_foot_moves_whole_to_the_next_page(browser, rendered, tmp_path):
    """The check above can fail: a spacer leaves the staff table 2 cm at a page's foot; printed as it is, the table moves
    on whole; with break-inside allowed, the same check finds it cut."""
    spacer = f"height: {A4_CONTENT_MM[1] - 20}mm; break-before: page"
    free = "table, tr, thead, tbody { break-inside: auto !important; }"
    found = []
    for style in ("", free):
        page, _, _ = open_page(browser, rendered / SEED)
        page.evaluate("([spacer, style]) => { const t = document.querySelector('table.staff'); const d = document.createElement('div');"
                      " d.style.cssText = spacer; t.before(d); const s = document.createElement('style'); s.textContent = style;"
                      " document.head.append(s); }", [spacer, style])
        blocks = [b for b in page.evaluate(UNCUT_BLOCKS) if b[0] == "table.staff"]
        found.append(cut_blocks(print_pdf(page, tmp_path / "card.pdf"), blocks))
        page.close()
    assert found[0] == [] and len(found[1]) == 1


HOSTILE_NAME = '地域共生"</style><script>window.pwned = 1</script>\\事業'


def test_a_program_name_that_looks_like_markup_breaks_neither_the_page_nor_its_footer(browser, tmp_path):
    project = copy_project(tmp_path)
    program = project / "data/programs/chiiki-kyosei.yaml"
    quoted = "'" + HOSTILE_NAME.replace("'", "''") + "'"  # YAML single quotes keep the backslash as it is
    program.write_text(program.read_text(encoding="utf-8").replace("name: 地域共生社会推進事業", f"name: {quoted}", 1), encoding="utf-8")
    result = run_cli(project, "--quiet", "--year", "2023", "--program", "chiiki-kyosei")
    assert result.returncode == 0, result.stdout + result.stderr
    page, errors, _ = open_page(browser, project / "outputs" / SEED)
    assert errors == [] and page.evaluate("window.pwned") is None and page.locator("script").count() == 0
    assert page.locator(".card-title .program-name").inner_text() == HOSTILE_NAME
    assert page.evaluate("getComputedStyle(document.querySelector('main')).page") == "card-chiiki-kyosei"  # the rule after the string
    assert_printed_whole(page, tmp_path / "card.pdf", HOSTILE_NAME + "　令和5年度（2023年度）通知表", max_pages=4)
    page.close()


def test_cycle_index_links_sort_and_filter(browser, rendered):
    index = rendered / "2019/index.html"
    page, errors, requests = open_page(browser, index)
    assert errors == [] and all(u.startswith(("file://", "data:")) for u in requests)
    hrefs = page.eval_on_selector_all("#programs a", "as => as.map(a => a.getAttribute('href'))")
    assert {"shinjo-gomi-shuseki-hojo.html", "kakogawa-shogaisha-sports.html"} <= set(hrefs)
    for href in hrefs:
        assert (index.parent / href).is_file(), href
    page.locator("th[data-key=status] button").click()
    ranks = page.eval_on_selector_all("#programs tbody.program", "gs => gs.map(g => Number(g.dataset.statusRank))")
    assert ranks == sorted(ranks)
    page.locator("th[data-key=status] button").click()
    ranks = page.eval_on_selector_all("#programs tbody.program", "gs => gs.map(g => Number(g.dataset.statusRank))")
    assert ranks == sorted(ranks, reverse=True)
    page.select_option("#filter-section", "社会教育・スポーツ振興課")
    visible = page.eval_on_selector_all("#programs tbody.program", "gs => gs.filter(g => !g.hidden).map(g => g.dataset.section)")
    assert visible == ["社会教育・スポーツ振興課"]
    page.select_option("#filter-section", "")
    page.select_option("#filter-status", "deterioration")
    visible = page.eval_on_selector_all("#programs tbody.program", "gs => gs.filter(g => !g.hidden).map(g => g.dataset.status)")
    assert visible == ["deterioration"]
    page.close()
    root_page, errors, _ = open_page(browser, rendered / "index.html")
    links = root_page.eval_on_selector_all("a", "as => as.map(a => a.getAttribute('href'))")
    assert {"2017/index.html", "2019/index.html", "2023/index.html"} <= set(links)
    assert all((rendered / link).is_file() for link in links)
    root_page.close()


FICTIONAL_YEARS = (2022, 2023, 2024)
HISTORY_SECTIONS = {"#summary": "ひとことで", "#changes": "前年度からの変化", "#cost-history": "コストの推移", "#external": "外部評価"}


def fictional_cards(rendered_city):
    return sorted(p for year in FICTIONAL_YEARS for p in (rendered_city / str(year)).glob("sample-*.html") if not p.name.endswith(".failed.html"))


def test_the_fictional_city_has_a_history_to_show(rendered_city):
    cards = fictional_cards(rendered_city)
    programs = {p.stem for p in cards}
    assert len(programs) >= 12 and {p.parent.name for p in cards} == {"2022", "2023", "2024"}
    assert len(cards) >= 36


def test_every_fictional_card_shows_the_history_sections_in_words_not_colour_alone(browser, rendered_city):
    for card in fictional_cards(rendered_city):
        page, errors, requests = open_page(browser, card)
        assert errors == [] and all(u.startswith(("file://", "data:")) for u in requests), card
        for selector, heading in HISTORY_SECTIONS.items():
            assert heading in page.locator(f"{selector} h2").inner_text(), (card, selector)
        assert "サンプル市（架空のデータ）" in page.locator(".card-title").inner_text(), card
        # every state has words or a symbol of its own, so a reader without colour loses nothing
        for selector in (".badge", ".change", ".finding-status"):
            texts = page.eval_on_selector_all(selector, "els => els.map(e => (getComputedStyle(e, '::before').content + e.innerText).trim())")
            assert all(len(t.replace('"', "").replace("none", "")) >= 2 for t in texts), (card, selector, texts)
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.getAttribute('alt')])")
        assert images and all(complete and width > 0 and alt for complete, width, alt in images), card
        page.close()


def test_a_finding_raised_one_year_is_followed_up_the_next(browser, rendered_city):
    """Somewhere in the fictional city a finding of an earlier sheet is listed in 「これまでの指摘への対応」 with its status now."""
    followed = []
    for card in fictional_cards(rendered_city):
        page, _, _ = open_page(browser, card)
        rows = page.eval_on_selector_all("#external table.earlier-findings tbody tr", "rs => rs.map(r => r.innerText)")
        followed.extend((card.parent.name, row) for row in rows)
        page.close()
    assert any(year in ("2023", "2024") and ("対応済み" in row or "対応中" in row) for year, row in followed), followed


def test_cycle_index_shows_change_findings_and_one_row_per_indicator(browser, rendered_city):
    page, errors, _ = open_page(browser, rendered_city / "2024/index.html")
    assert errors == []
    groups = page.eval_on_selector_all("#programs tbody.program", """gs => gs.map(g => ({
        change: g.dataset.change, findings: Number(g.dataset.findings), rows: g.rows.length,
        indicators: Array.from(g.rows).map(r => Array.from(r.querySelectorAll('td.ind')).map(c => c.innerText.trim()))}))""")
    assert {g["change"] for g in groups} >= {"improved", "worsened"}
    for g in groups:
        for cells in g["indicators"]:  # an indicator's name and its values share one row
            assert len(cells) == 5 and cells[0], cells
    page.select_option("#filter-change", "worsened")
    visible = page.eval_on_selector_all("#programs tbody.program", "gs => gs.filter(g => !g.hidden).map(g => g.dataset.change)")
    assert visible and set(visible) == {"worsened"}
    page.select_option("#filter-change", "")
    page.check("#filter-findings")
    visible = page.eval_on_selector_all("#programs tbody.program", "gs => gs.filter(g => !g.hidden).map(g => Number(g.dataset.findings))")
    assert visible and all(n > 0 for n in visible) and len(visible) < len(groups)
    page.uncheck("#filter-findings")
    page.locator("th[data-key=plan] button").click()  # grouped by plan item, in the plan's own order
    ranks = page.eval_on_selector_all("#programs tbody.program", "gs => gs.map(g => Number(g.dataset.planRank))")
    assert ranks == sorted(ranks) and len(set(ranks)) < len(ranks)  # programs of one 施策 stand together
    page.select_option("#filter-plan", "3")  # a 基本目標: its 施策's programs
    visible = page.eval_on_selector_all("#programs tbody.program", "gs => gs.filter(g => !g.hidden).map(g => g.dataset.plan)")
    assert visible and all(plan.split()[0] == "3" for plan in visible)
    page.select_option("#filter-plan", "")
    arrows = page.eval_on_selector_all("#programs .change", "es => es.map(e => e.innerText.trim()[0])")
    assert set(arrows) <= set("↑↓→＊－") and "↑" in arrows and "↓" in arrows
    page.close()


def test_the_cycle_index_prints_across_a4_with_its_header_on_every_page_and_no_program_cut(browser, rendered_city, tmp_path):
    page, _, _ = open_page(browser, rendered_city / "2024/index.html")
    blocks = page.eval_on_selector_all("#programs tbody.program", """gs => gs.map(g => {
        const last = g.rows[g.rows.length - 1].querySelector('td.ind');
        return ['program ' + g.dataset.name, g.dataset.name, last ? last.firstChild.textContent : g.dataset.name]; })""")
    texts = print_pdf(page, tmp_path / "index.pdf")
    page.close()
    box = PdfReader(str(tmp_path / "index.pdf")).pages[0].mediabox
    assert float(box.width) > float(box.height) and len(texts) >= 2  # A4 landscape, the list on several pages
    for text in texts:
        assert all(label in text for label in ("事業名", "判定", "未完了の指摘", "進捗率")), "the header row is not repeated"
        assert "すべて" not in text and "件を表示" not in text  # no control is printed
    assert cut_blocks(texts, blocks) == []


def test_root_index_shows_the_status_distribution_of_every_cycle(browser, rendered_city):
    page, errors, _ = open_page(browser, rendered_city / "index.html")
    assert errors == []
    rows = page.eval_on_selector_all("table.distribution tbody tr", "rs => rs.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
    assert [r[0] for r in rows][:3] == ["令和6年度（2024年度）", "令和5年度（2023年度）", "令和4年度（2022年度）"]
    counts = {r[0]: sum(int(c) for c in r[1:]) for r in rows}
    listed = page.eval_on_selector_all("body > main > table:first-of-type tbody tr", "rs => rs.map(r => [r.cells[0].innerText.trim(), Number(r.cells[2].innerText) - Number(r.cells[3].innerText)])")
    assert {label: n for label, n in listed} == counts  # the distribution adds up to the cards each cycle made
    alt = page.get_attribute("figure.chart img", "alt")
    assert alt.startswith("評価年度別の判定の分布。")
    page.close()


def test_plan_pages_roll_up_the_programs_of_each_item(browser, rendered_city):
    page, errors, requests = open_page(browser, rendered_city / "2024/plan/index.html")
    assert errors == [] and all(u.startswith(("file://", "data:")) for u in requests)
    rows = page.eval_on_selector_all("table.plan-tree tbody tr", "rs => rs.map(r => [r.dataset.item, r.className, r.cells[3].innerText])")
    items = [item for item, _, _ in rows]
    assert len(items) >= 6 and items[-1] == "unassigned"  # every level of the plan, then 未分類
    assert {cls for _, cls, _ in rows} >= {"depth-1", "depth-2"}
    links = page.eval_on_selector_all("table.plan-tree a", "as => as.map(a => a.getAttribute('href'))")
    for href in links:
        assert (rendered_city / "2024/plan" / href).is_file(), href
    page.close()
    # a 基本目標 counts the programs of its 施策, each once, and links to their cards
    top = next(item for item, cls, _ in rows if cls == "depth-1" and item != "unassigned")
    page, errors, _ = open_page(browser, rendered_city / f"2024/plan/{top}.html")
    assert errors == []
    cards = page.eval_on_selector_all("main table:last-of-type a", "as => as.map(a => a.getAttribute('href'))")
    assert cards and all((rendered_city / "2024/plan" / href).resolve().is_file() for href in cards)
    counted = next(count for item, _, count in rows if item == top)
    assert counted.startswith(f"{len(cards)}（")
    page.close()


def test_the_logic_graph_is_drawn_without_script_and_flags_an_unreached_activity(browser, rendered_city):
    drawn = [p for p in fictional_cards(rendered_city) if "<svg" in p.read_text(encoding="utf-8")]
    assert len({p.stem for p in drawn}) >= 5
    flagged = []
    for card in drawn:
        html = card.read_text(encoding="utf-8")
        assert "<script" not in html.lower()
        page, errors, _ = open_page(browser, card)
        assert errors == []
        svg = page.locator("svg.logic-graph").first
        assert svg.get_attribute("aria-label").startswith("ロジックモデル。")
        assert page.locator("svg.logic-graph path.lg-link").count() >= 1
        levels = page.eval_on_selector_all("svg.logic-graph text.lg-level", "ts => ts.map(t => t.textContent)")
        assert levels[0] == "活動" and levels[-1] == "最終アウトカム"
        if page.locator("svg.logic-graph .lg-warning").count():
            flagged.append(card.stem)
        box = svg.bounding_box()
        assert box["width"] <= 900  # fits the card's column, printed or on screen
        page.close()
    assert flagged  # the fictional city has an activity from which no path reaches an outcome


def test_triage_lists_programs_with_reasons_and_can_be_narrowed_and_printed(browser, rendered_city, tmp_path):
    page, errors, requests = open_page(browser, rendered_city / "2024/triage.html")
    assert errors == [] and all(u.startswith(("file://", "data:")) for u in requests)
    points = page.eval_on_selector_all("#triage tbody tr", "rs => rs.map(r => Number(r.dataset.points))")
    assert points == sorted(points, reverse=True) and points[0] > 0
    page.select_option("#filter-reason", "worsened")
    visible = page.eval_on_selector_all("#triage tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.reasons)")
    assert visible and all("worsened" in reasons.split() for reasons in visible)
    page.select_option("#filter-reason", "")
    page.locator("#triage tbody tr .pick").first.check()
    page.check("#only-picked")
    shown = page.eval_on_selector_all("#triage tbody tr", "rs => rs.filter(r => getComputedStyle(r).display !== 'none').length")
    assert shown == 1
    pdf = tmp_path / "triage.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert PdfReader(str(pdf)).pages[0].extract_text().count("重点確認の候補") >= 1
    page.close()
    csv_text = (rendered_city / "2024/triage.csv").read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[0] == "fiscal_year,program_id,program_name,organization,section,status,change,points,reasons"


def test_the_plan_view_and_a_card_with_its_logic_graph_print_on_a4(browser, rendered_city, tmp_path):
    page, _, _ = open_page(browser, rendered_city / "2024/plan/index.html")
    pdf = tmp_path / "plan.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    names = page.eval_on_selector_all("table.plan-tree tbody th a", "as => as.map(a => a.innerText)")
    page.close()
    text = _normal("".join(p.extract_text() or "" for p in PdfReader(str(pdf)).pages))
    assert all(_pattern(_normal(name)[:6]).search(text) for name in names)  # every item of the plan is on paper (level and id)
    card = rendered_city / "2024/sample-bosai.html"
    page, _, _ = open_page(browser, card)
    page.emulate_media(media="print")
    page.set_viewport_size({"width": round(A4_CONTENT_MM[0] / 25.4 * 96), "height": 1100})  # A4 less its margins, at 96 dpi
    box = page.locator("svg.logic-graph").bounding_box()
    pdf = tmp_path / "card.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    page.close()
    # A4 at 96 dpi less the page margins: the graph fits one page, so it is never cut (break-inside: avoid)
    assert box["height"] < A4_CONTENT_MM[1] / 25.4 * 96 and box["width"] <= A4_CONTENT_MM[0] / 25.4 * 96 + 1
    pages = [_normal(p.extract_text() or "") for p in PdfReader(str(pdf)).pages]
    holding = [i for i, t in enumerate(pages) if "長期・最終アウトカムにつながる矢印がない" in t or _pattern("成果につながる矢印がない").search(t)]
    assert len(holding) <= 1  # the graph's words are on one page
