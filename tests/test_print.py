"""A cycle's booklet (evalkit.booklet): cover, 目次, 事業一覧 and every card in one HTML document, as Chromium prints it."""

from __future__ import annotations

import re
import subprocess

import pytest
from pypdf import PdfReader
from test_browser import _normal, _pattern, open_page, print_pdf

from evalkit import load_program
from evalkit.booklet import TOC_PLACEHOLDER, booklet_html

HOSTILE = '"</style><script>alert(1)</script>\\'


def fake_card(program_id: str, name: str) -> str:
    """A card page as nbconvert writes it: the shared stylesheets in the head, the card's own named page in its body."""
    return (f'<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8"/><title>{program_id}</title>\n<style type="text/css">\n'
            "pre { line-height: 125%; }\n</style>\n<style type=\"text/css\">\nh1 { font-size: 2rem; }\n</style>\n</head>\n"
            f'<body class="evalkit-card">\n<main><style>@page card-{program_id} {{ }}</style><header class="card-title">'
            f'<h1>令和6年度（2024年度）通知表</h1><p class="program-name">{name}</p></header></main>\n</body>\n</html>\n')


def parts(html: str) -> list[str]:
    """The booklet's parts (cover, contents, index, cards), each as its markup."""
    return re.split(r'(?=<(?:section|article) class="booklet-part)', html[html.index("<body"):])[1:]


@pytest.mark.unit
def test_a_booklet_has_one_h1_per_part_its_stylesheets_once_and_every_card_on_its_named_page():
    entries = [{"id": "a", "name": "事業A", "organization": "総務部", "section": "企画課", "ok": True, "status": "target_achieved",
                "score": 5.0, "change": "improved", "open_findings": 1, "conclusion": "拡充"},
               {"id": "b", "name": "事業B", "ok": True, "status": "deterioration"},
               {"id": "c", "name": "事業C", "ok": False, "error": "invalid data"}]
    cards = [("b", fake_card("b", "事業B")), ("a", fake_card("a", "事業A"))]  # the booklet keeps the order it is given
    html = booklet_html(fiscal_year=2024, title=None, municipality="サンプル市", entries=entries, cards=cards, pages=None)
    cover, contents, index, *printed = parts(html)
    assert [part.count("<h1") for part in (cover, contents, index, *printed)] == [1] * 5
    assert "令和6年度 行政評価 通知表" in cover and "サンプル市" in cover
    assert re.findall(r'class="name">(.+?)<', contents) == ["事業B", "事業A"]
    assert re.findall(r'class="page">(.+?)<', contents) == [TOC_PLACEHOLDER] * 2
    assert "作成できませんでした" in index and "拡充" in index
    assert [re.search(r'data-program="(\w+)" style="page: (card-\w+)"', p).groups() for p in printed] == [("b", "card-b"), ("a", "card-a")]
    assert "@page card-b" in printed[0] and "@page card-a" in printed[1]  # each card keeps its own footer
    head = html[: html.index("<body")]
    assert head.count("line-height: 125%") == 1 and head.count("h1 { font-size: 2rem; }") == 1
    twice = fake_card("b", "事業B").replace("</main>", "<h1>追加分析</h1></main>")
    untitled = re.sub(r"<h1>.*?</h1>", "", fake_card("a", "事業A"))
    again = parts(booklet_html(fiscal_year=2024, title=None, municipality=None, entries=entries, cards=[("b", twice), ("a", untitled)], pages=None))
    assert [part.count("<h1") for part in again] == [1] * 5 and "<h2>追加分析</h2>" in again[3] and '<h1 class="booklet-name">事業A</h1>' in again[4]
    numbered = booklet_html(fiscal_year=2024, title=None, municipality=None, entries=entries, cards=cards, pages={"a": 12, "b": 4})
    assert re.findall(r'class="page">(.+?)<', parts(numbered)[1]) == ["4", "12"]


@pytest.mark.unit
def test_a_booklet_keeps_data_as_text_in_its_markup_and_its_footer():
    entries = [{"id": "a", "name": HOSTILE, "organization": HOSTILE, "ok": True}]
    html = booklet_html(fiscal_year=2024, title=HOSTILE, municipality=HOSTILE, entries=entries, cards=[("a", fake_card("a", "x"))], pages=None)
    assert "<script>" not in html
    assert r'@page booklet { @bottom-left { content: "\22 \3C /style\3E \3C script\3E alert(1)\3C /script\3E \5C "; } }' in html
    assert html.count("&#34;&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;\\") >= 4  # title, cover, contents, index
    with pytest.raises(ValueError, match="b: not a card page"):
        booklet_html(fiscal_year=2024, title=None, municipality=None, entries=entries, cards=[("b", "<p>no body</p>")], pages=None)


#: the booklet printed below: five of the fictional city's R6 cards, in an order of its own (not the ids')
BOOKLET_CARDS = ["sample-toshokan", "sample-bosai", "sample-kenshin", "sample-akiya-taisaku", "sample-kosodate-shien"]


def outline(pdf) -> list[int]:
    reader = PdfReader(str(pdf))
    return [reader.get_destination_page_number(entry) + 1 for entry in reader.outline if not isinstance(entry, list)]


@pytest.fixture(scope="module")
def city_booklet(browser, rendered_city, tmp_path_factory):
    """The booklet printed as the batch prints it: once with placeholders to find where the cards start, then with
    those page numbers. Returns the PDF, the names of its cards and their first pages, and both outlines."""
    folder = tmp_path_factory.mktemp("booklet")
    programs = {p.id: p for p in (load_program(path) for path in sorted((rendered_city.parent / "data/programs").glob("*.yaml")))}
    entries = [{"id": p.id, "name": p.name, "organization": p.organization, "section": p.section, "ok": True, "status": "not_available"}
               for p in programs.values()] + [{"id": "sample-broken", "ok": False, "error": "invalid data"}]
    cards = [(program_id, (rendered_city / f"2024/{program_id}.html").read_text(encoding="utf-8")) for program_id in BOOKLET_CARDS]
    outlines, pages = [], None
    for attempt in ("first", "second"):
        html = folder / f"{attempt}.html"
        html.write_text(booklet_html(fiscal_year=2024, title="令和6年度 サンプル市 行政評価（架空のデータ）", municipality="サンプル市",
                                     entries=entries, cards=cards, pages=pages), encoding="utf-8")
        page, errors, _ = open_page(browser, html)
        assert errors == []
        if pages is None:
            assert page.eval_on_selector_all(".booklet-part", "ps => ps.map(p => p.querySelectorAll('h1').length)") == [1] * (3 + len(cards))
        print_pdf(page, folder / f"{attempt}.pdf")
        page.close()
        outlines.append(outline(folder / f"{attempt}.pdf"))
        pages = dict(zip(BOOKLET_CARDS, outlines[-1][3:], strict=True))
    return {"pdf": folder / "second.pdf", "names": [programs[i].name for i in BOOKLET_CARDS], "starts": outlines[-1][3:], "outlines": outlines}


def test_the_booklet_has_a_cover_contents_index_and_each_card_from_a_page_of_its_own(city_booklet):
    texts = [_normal(page.extract_text() or "") for page in PdfReader(str(city_booklet["pdf"])).pages]
    names, starts = city_booklet["names"], city_booklet["starts"]
    first, second = city_booklet["outlines"]
    assert first == second and len(first) == 3 + len(names)  # one <h1> per part; the page numbers moved nothing
    assert first[:3] == [1, 2, 3] and starts == sorted(starts) and starts[0] == 4
    assert _pattern(_normal("令和6年度 サンプル市 行政評価（架空のデータ）")).search(texts[0]) and "サンプル市" in texts[0]
    assert not re.search(rf"1/{len(texts)}", texts[0])  # the cover has no footer
    assert "目次" in texts[1] and "事業一覧" in texts[2] and "作成できませんでした" in texts[2]
    contents = PdfReader(str(city_booklet["pdf"])).pages[1].extract_text()
    lines = [(_normal(m.group(1)), int(m.group(2))) for m in re.finditer(r"^(.+?)\s*(\d{1,3})\s*$", contents, re.M)]
    listed = [(name, number) for text, number in lines for name in names if _pattern(_normal(name)).fullmatch(text)]
    assert listed == list(zip(names, starts, strict=True))  # every card, in order, with the page it starts on
    ends = [*starts[1:], len(texts) + 1]
    for name, start, end in zip(names, starts, ends, strict=True):
        own = _pattern(_normal(name))
        assert own.search(texts[start - 1]) and _pattern(_normal("令和6年度（2024年度）通知表")).search(texts[start - 1])
        if start > 4:
            assert not own.search(texts[start - 2]), f"{name} does not start a page"
        for number in range(start, end):  # every page of the card: its footer, and the booklet's page number
            assert own.search(texts[number - 1]) and re.search(rf"(^|\D){number}/{len(texts)}(\D|$)", texts[number - 1]), number
    for number in (2, 3):
        assert re.search(rf"(^|\D){number}/{len(texts)}(\D|$)", texts[number - 1])


def test_the_booklet_embeds_its_fonts_with_their_unicode_maps(city_booklet):
    lines = subprocess.run(["pdffonts", str(city_booklet["pdf"])], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert lines
    for line in lines:
        emb, _, uni = line.split()[-5:-2]
        assert emb == "yes" and uni == "yes", line
