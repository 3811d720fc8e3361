"""``--pdf``: each card as <id>.pdf and each cycle as booklet.pdf, printed by the real headless Chromium, read back with
pypdf and poppler (pdffonts): the table of contents, page numbers, Japanese text and embedded fonts; incremental
printing; stale PDFs withdrawn; a missing engine said in one line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CHROMIUM, SAMPLE_CITY, copy_project, run_cli
from pypdf import PdfReader

CARDS = ("2017/morioka-toshi-koen", "2019/kakogawa-shogaisha-sports", "2019/shinjo-gomi-shuseki-hojo", "2023/chiiki-kyosei")


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("pdf"))
    result = run_cli(project, "--pdf", "--quiet", env={"EVALKIT_CHROMIUM": CHROMIUM})
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture(scope="module")
def city_booklet(tmp_path_factory):
    """The fictional city's R6 cycle: 15 cards in the order of its plan."""
    project = copy_project(tmp_path_factory.mktemp("pdf-city"), city=SAMPLE_CITY)
    result = run_cli(project, "--pdf", "--year", "2024", "--quiet", env={"EVALKIT_CHROMIUM": CHROMIUM}, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "outputs/2024"


def page_texts(path: Path) -> list[str]:
    """The text of each page as poppler extracts it through the fonts' Unicode maps (what a reader's search finds)."""
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[: len(PdfReader(str(path)).pages)]


def toc_numbers(texts: list[str]) -> dict[str, int]:
    """The table of contents as printed: program name -> the page number written beside it."""
    toc = next(text for text in texts if "目次" in text)
    return {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"^(.+?)[\s.…·]*?(\d{1,4})\s*$", toc, re.M)}


def test_every_card_has_its_pdf_and_every_cycle_a_booklet(printed):
    out = printed / "outputs"
    for card in CARDS:
        pdf = out / f"{card}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF-")
        assert len(PdfReader(str(pdf)).pages) <= (4 if card == "2023/chiiki-kyosei" else 8)  # the seed: at most 4 A4 pages
    for year in (2017, 2019, 2023):
        assert (out / str(year) / "booklet.pdf").is_file()
        assert 'href="booklet.pdf"' in (out / str(year) / "index.html").read_text(encoding="utf-8")


def test_a_card_pdf_carries_its_japanese_text_and_footer(printed):
    texts = page_texts(printed / "outputs/2023/chiiki-kyosei.pdf")
    assert "地域共生社会推進事業" in texts[0] and "支援のために連携した関係者の数" in "".join(texts)
    assert all("地域共生社会推進事業" in text for text in texts)  # the running footer names the program on every page


def test_fonts_are_embedded_with_their_unicode_maps(printed):
    for pdf in (printed / "outputs/2023/chiiki-kyosei.pdf", printed / "outputs/2019/booklet.pdf"):
        lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
        assert lines, "no fonts at all"
        for line in lines:
            emb, sub, uni = line.split()[-5:-2]
            assert emb == "yes" and uni == "yes", line


def test_the_booklet_has_a_cover_a_table_of_contents_the_index_and_every_card(printed):
    texts = page_texts(printed / "outputs/2019/booklet.pdf")
    assert "平成31年度" in texts[0] or "令和元年度" in texts[0] or "2019" in texts[0]  # the cover names the cycle
    toc = toc_numbers(texts)
    names = {"kakogawa-shogaisha-sports": "障がい者スポーツ推進事業", "shinjo-gomi-shuseki-hojo": "ごみ集積器具購入費補助金"}
    for fragment in names.values():
        (page,) = [number for name, number in toc.items() if fragment in name]
        assert fragment in texts[page - 1], f"the table of contents sends {fragment} to page {page}"
        assert fragment not in texts[page - 2] or "目次" in texts[page - 2] or "一覧" in texts[page - 2]  # it starts there
    assert any("一覧" in text for text in texts[1:3])  # the index table comes before the cards


def test_the_booklet_numbers_its_pages_in_the_footer(printed):
    texts = page_texts(printed / "outputs/2019/booklet.pdf")
    for number, text in enumerate(texts[1:], start=2):
        assert re.search(rf"(^|\D){number}\s*/\s*{len(texts)}(\D|$)", text), f"page {number} has no page number"


def test_the_city_booklet_follows_the_plan_and_its_contents_are_right(city_booklet):
    texts = page_texts(city_booklet / "booklet.pdf")
    toc = toc_numbers(texts)
    programs = {line.split(",")[0]: line.split(",")[1]
                for line in (city_booklet / "data/programs.csv").read_text(encoding="utf-8-sig").splitlines()[1:]}
    assert len(programs) == 15
    listed = {name: page for name, page in toc.items() if name in programs.values()}
    assert len(listed) == 15, sorted(toc)
    for name, page in listed.items():
        assert name in texts[page - 1], f"{name}: the table of contents says page {page}"
    pages = [listed[name] for name in listed]
    assert pages == sorted(pages)  # the cards come in the table's order


def test_a_rerun_prints_nothing_and_a_changed_card_is_printed_again(printed):
    out = printed / "outputs"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.pdf")}
    again = run_cli(printed, "--pdf", "--quiet", env={"EVALKIT_CHROMIUM": CHROMIUM})
    assert again.returncode == 0 and again.stdout.startswith("0 rendered")
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.pdf")} == before
    program = printed / "data/programs/shinjo-gomi-shuseki-hojo.yaml"
    program.write_text(program.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    changed = run_cli(printed, "--pdf", "--quiet", env={"EVALKIT_CHROMIUM": CHROMIUM})
    assert changed.returncode == 0 and changed.stdout.startswith("1 rendered")
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*.pdf")}
    redone = sorted(str(p.relative_to(out)) for p in after if after[p] != before.get(p))
    assert redone == ["2019/booklet.pdf", "2019/shinjo-gomi-shuseki-hojo.pdf"]


def test_without_pdf_a_pdf_that_no_longer_matches_its_card_is_withdrawn(tmp_path, printed):
    project = tmp_path / "p"
    shutil.copytree(printed, project, symlinks=True)
    program = project / "data/programs/chiiki-kyosei.yaml"
    program.write_text(program.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    result = run_cli(project, "--quiet")
    assert result.returncode == 0, result.stderr
    out = project / "outputs/2023"
    assert not (out / "chiiki-kyosei.pdf").exists() and not (out / "booklet.pdf").exists()
    assert "removed 1 PDF(s) that no longer matched their cards" in result.stderr
    assert 'href="booklet.pdf"' not in (out / "index.html").read_text(encoding="utf-8")
    assert (project / "outputs/2019/booklet.pdf").exists()  # untouched cycles keep theirs


def test_without_a_browser_the_run_says_so_once_and_publishes_the_html(tmp_path):
    project = copy_project(tmp_path)
    result = run_cli(project, "--pdf", "--year", "2023", "--quiet", env={"EVALKIT_CHROMIUM": str(tmp_path / "no-such-browser")})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "PDF" in line]
    assert lines == [f"evalkit: --pdf: cannot print PDFs here: EVALKIT_CHROMIUM={tmp_path / 'no-such-browser'} is not a file; "
                     "the HTML is published as usual"]
    assert (project / "outputs/2023/chiiki-kyosei.html").exists() and not list((project / "outputs").rglob("*.pdf"))
