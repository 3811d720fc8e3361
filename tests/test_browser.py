"""The HTML as evaluators get it, checked in real headless Chromium (Debian's, via Playwright)."""

import re
import unicodedata
from pathlib import Path

import pytest
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


def _normal(text: str) -> str:
    """NFKC (Kangxi radicals -> ideographs) without whitespace: PDF text and DOM text compare."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _pattern(text: str) -> re.Pattern:
    """The DOM text as a regex in which an ideograph may also come out of the PDF as a CJK radical (⻑ for 長)."""
    parts = [f"(?:{re.escape(c)}|[\u2e80-\u2eff])" if "\u4e00" <= c <= "\u9fff" else re.escape(c) for c in text]
    return re.compile("".join(parts))


@pytest.mark.parametrize("card", CARDS)
def test_printed_a4_keeps_every_table_on_one_page(browser, rendered, card, tmp_path):
    page, _, _ = open_page(browser, rendered / card)
    pdf = tmp_path / "card.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    tables = page.eval_on_selector_all(
        "main table", "ts => ts.map(t => [t.rows[0].innerText, t.rows[t.rows.length - 1].innerText])"
    )
    page.close()
    reader = PdfReader(str(pdf))
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4 in points
    pages = [_normal(p.extract_text() or "") for p in reader.pages]
    assert len(pages) >= 2
    for first, last in tables:
        first, last = _pattern(_normal(first)[:12]), _pattern(_normal(last)[:12])
        holding = [i for i, text in enumerate(pages) if first.search(text) and last.search(text)]
        assert holding, f"table starting {first!r} is cut across pages"
    for heading in ("2事業の実施体制", "4成果指標", "6課題分析"):
        starts = [i for i, text in enumerate(pages) if _pattern(heading).match(text)]
        assert starts, f"section {heading} does not start a printed page"


def test_cycle_index_links_sort_and_filter(browser, rendered):
    index = rendered / "2019/index.html"
    page, errors, requests = open_page(browser, index)
    assert errors == [] and all(u.startswith(("file://", "data:")) for u in requests)
    hrefs = page.eval_on_selector_all("#programs a", "as => as.map(a => a.getAttribute('href'))")
    assert {"shinjo-gomi-shuseki-hojo.html", "kakogawa-shogaisha-sports.html"} <= set(hrefs)
    for href in hrefs:
        assert (index.parent / href).is_file(), href
    page.locator("th[data-key=status] button").click()
    ranks = page.eval_on_selector_all("#programs tbody tr", "rs => rs.map(r => Number(r.dataset.statusRank))")
    assert ranks == sorted(ranks)
    page.locator("th[data-key=status] button").click()
    ranks = page.eval_on_selector_all("#programs tbody tr", "rs => rs.map(r => Number(r.dataset.statusRank))")
    assert ranks == sorted(ranks, reverse=True)
    page.select_option("#filter-section", "社会教育・スポーツ振興課")
    visible = page.eval_on_selector_all("#programs tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.section)")
    assert visible == ["社会教育・スポーツ振興課"]
    page.select_option("#filter-section", "")
    page.select_option("#filter-status", "deterioration")
    visible = page.eval_on_selector_all("#programs tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.status)")
    assert visible == ["deterioration"]
    page.close()
    root_page, errors, _ = open_page(browser, rendered / "index.html")
    links = root_page.eval_on_selector_all("a", "as => as.map(a => a.getAttribute('href'))")
    assert {"2017/index.html", "2019/index.html", "2023/index.html"} <= set(links)
    assert all((rendered / link).is_file() for link in links)
    root_page.close()
