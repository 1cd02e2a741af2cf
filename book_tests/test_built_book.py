"""The built book as a reader sees it, in headless Chromium (Debian's, not a downloaded one).

Run after ``make book`` (``make check-book``; ``.ci/run`` does both).  Every page of the
table of contents loads from disk with no console error and no request outside the book,
every image and embedded view loads, equations render, nothing is wider than the content
column (except inside a box that scrolls); every figure of a chapter is large enough to
read and has a caption, and its collapsed code opens with a click.

Screenshots go to ``_build/screenshots/``: ``<page>_top.png`` (the window a reader sees
first, 1280 x 1000 px) and ``<page>_full.png`` (the whole page) for every page, where
``<page>`` is the page's path with ``/`` as ``_`` (the landing page
``book_intro_top.png``, a chapter's top ``book_executed_02_ans_top.png``), and the
sections named in :data:`SECTION_SHOTS` (chapter 05's Fig. 7:
``book_executed_05_pos_fig7.png``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: The window every page is checked in (a laptop's).
VIEWPORT = {"width": 1280, "height": 1000}
#: The least width (CSS px, in :data:`VIEWPORT`) at which a chapter's figure is shown: a
#: figure drawn for the page and squeezed below it (a narrow column, a grid of panels
#: scaled down) cannot be read.
MIN_FIGURE_WIDTH_PX = 300
#: Sections screenshotted on their own, by page: ``{name: the start of its heading}``.
SECTION_SHOTS = {"book/executed/05_pos": {"fig7": "Fig. 7"}}
#: A chapter's figures: the images its cells drew (Sphinx copies them to ``_images/``).
FIGURES = 'article img[src*="_images/"]'


#: Figures each chapter of the default book (two stories) is meant to show, as images in
#: the page: a book whose kernels drew nothing (``MPLBACKEND=Agg``) had none and passed
#: every other check.
MIN_FIGURES = {
    "book/executed/00_phantom": 3,  # maps of the networks, time courses, the signal check
    "book/executed/01_data": 6,     # transcript on the TR grid, carpet, tSNR: per story
    "book/executed/02_ans": 5,      # Fig. 2 (q x k), AN series, per-layer views
    "book/executed/03_bns": 4,      # training curves, BN maps, one BN in detail, time courses
    "book/executed/04_coupling": 2,  # Fig. 4 and Fig. 5
    "book/executed/05_pos": 6,      # Fig. 6 (counts and maps), Fig. 7, over-representation, Fig. 10
    "book/executed/06_layers": 4,   # Fig. 8/9 per story: pairs per layer and slices
}


def _pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part["chapters"]]
    return pages


@pytest.fixture(scope="module")
def browser():
    if not HTML.joinpath("index.html").is_file():
        pytest.fail("the book is not built: run `make book` first")
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.mark.parametrize("page", _pages())
def test_page_loads_offline_and_completely(browser, page):
    path = HTML / f"{page}.html"
    assert path.is_file(), f"{path} missing from the built book"
    tab = browser.new_page(viewport=VIEWPORT)
    errors, outside = [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: outside.append(r.url)
           if not r.url.startswith(("file:", "data:", "about:", "blob:")) else None)
    tab.goto(path.as_uri(), wait_until="load")
    tab.wait_for_timeout(800)
    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = page.replace("/", "_")
    tab.screenshot(path=SHOTS / f"{stem}_top.png", full_page=False)
    tab.screenshot(path=SHOTS / f"{stem}_full.png", full_page=True)
    for name, heading in SECTION_SHOTS.get(page, {}).items():
        section = tab.locator("article section").filter(
            has=tab.locator(f"xpath=./*[self::h1 or self::h2 or self::h3]"
                            f"[starts-with(normalize-space(), '{heading}')]"))
        assert section.count() == 1, f"{page}: no single section headed {heading!r}"
        section.screenshot(path=SHOTS / f"{stem}_{name}.png")
    broken = tab.evaluate("Array.from(document.images)"
                          ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    raw_math = tab.evaluate("document.querySelectorAll('.math:not(:has(mjx-container))').length")
    figures = tab.locator(FIGURES).count()
    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    too_wide = tab.evaluate(WIDER_THAN_THE_COLUMN)
    # and with every collapsed block open, as a reader who opens them sees the page
    tab.evaluate("document.querySelectorAll('article details').forEach(d => d.open = true)")
    too_wide += [f"(opened) {e}" for e in tab.evaluate(WIDER_THAN_THE_COLUMN)]
    tab.close()
    assert overflow <= 0, f"{page}: the page is {overflow} px wider than the window"
    assert too_wide == [], f"{page}: {len(too_wide)} element(s) wider than the content " \
        f"column, outside any box that scrolls: {too_wide[:5]}"
    assert figures >= MIN_FIGURES.get(page, 0), \
        f"{page}: {figures} figure(s), at least {MIN_FIGURES[page]} expected"
    assert errors == [], f"{page}: console errors {errors[:3]}"
    assert outside == [], f"{page}: requests outside the book {outside[:3]}"
    assert broken == [], f"{page}: images that did not load {broken[:3]}"
    assert raw_math == 0, f"{page}: {raw_math} equation(s) not rendered by MathJax"


#: The least width (CSS px) of a chapter's content column in a 1920 px window: the theme
#: kept it near 700 px, so figures and tables were drawn small on a wide screen.
MIN_WIDE_COLUMN_PX = 1100


def test_the_content_column_grows_on_a_wide_screen(browser):
    page = "book/executed/04_coupling"
    widths = {}
    for width in (1280, 1920):
        tab = browser.new_page(viewport={"width": width, "height": 1000})
        tab.goto((HTML / f"{page}.html").as_uri(), wait_until="load")
        widths[width] = tab.evaluate("document.querySelector('article').clientWidth")
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        tab.close()
        assert overflow <= 0, f"{page} at {width} px: {overflow} px wider than the window"
    assert widths[1920] >= MIN_WIDE_COLUMN_PX, widths


#: Elements of the article reaching past its left or right edge, unless a box between them
#: and the article scrolls sideways (``overflow-x: auto`` or ``scroll``: a wide table or
#: code block the reader scrolls).  Hidden elements (closed toggles) have no box.
WIDER_THAN_THE_COLUMN = """() => {
  const article = document.querySelector('article');
  if (!article) return ['no <article> on the page'];
  const col = article.getBoundingClientRect();
  const scrolls = el => {
    for (let a = el.parentElement; a && a !== article; a = a.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) return true;
    }
    return false;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + Array.from(el.classList).join('.') : '');
  const out = [];
  for (const el of article.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if ((r.right > col.right + 1 || r.left < col.left - 1) && !scrolls(el)) {
      out.push(`${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}] px, ` +
               `column [${Math.round(col.left)}, ${Math.round(col.right)}] px`);
    }
  }
  return out;
}"""


def _chapter(browser, page):
    tab = browser.new_page(viewport=VIEWPORT)
    tab.goto((HTML / f"{page}.html").as_uri(), wait_until="load")
    tab.wait_for_timeout(500)
    return tab


#: The chapters: the executed notebooks of the table of contents.
CHAPTERS = [p for p in _pages() if p.startswith("book/executed/")]


@pytest.mark.parametrize("page", CHAPTERS)
def test_figures_are_large_enough_to_read(browser, page):
    tab = _chapter(browser, page)
    widths = tab.locator(FIGURES).evaluate_all(
        "imgs => imgs.map(i => [i.getAttribute('src').split('/').pop().slice(0, 12),"
        " Math.round(i.getBoundingClientRect().width)])")
    tab.close()
    assert len(widths) >= MIN_FIGURES.get(page, 0)
    small = [(src, w) for src, w in widths if w < MIN_FIGURE_WIDTH_PX]
    assert small == [], f"{page}: figure(s) shown narrower than {MIN_FIGURE_WIDTH_PX} px " \
        f"in a {VIEWPORT['width']} px window: {small}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_every_figure_has_a_caption(browser, page):
    tab = _chapter(browser, page)
    uncaptioned = tab.locator(FIGURES).evaluate_all(
        "imgs => imgs.filter(i => { const f = i.closest('figure');"
        " const c = f && f.querySelector('figcaption');"
        " return !(c && c.textContent.trim()); })"
        ".map(i => i.getAttribute('src').split('/').pop().slice(0, 12))")
    total = tab.locator(FIGURES).count()
    tab.close()
    assert total >= MIN_FIGURES.get(page, 0)
    assert uncaptioned == [], f"{page}: {len(uncaptioned)} of {total} figure(s) not in a " \
        f"<figure> with a caption: {uncaptioned}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_collapsed_code_opens_with_a_click(browser, page):
    tab = _chapter(browser, page)
    toggle = tab.locator("article details.hide.above-input").first
    assert toggle.count() == 1, f"{page}: no collapsed code cell"
    code = toggle.locator(".cell_input pre").first
    assert code.count() == 1 and code.text_content().strip(), f"{page}: the toggle holds no code"
    assert not code.is_visible(), f"{page}: the code is shown before the click"
    toggle.locator("summary").first.click()
    tab.wait_for_timeout(300)
    opened, visible = toggle.evaluate("d => d.open"), code.is_visible()
    box = code.bounding_box()
    tab.close()
    assert opened and visible, f"{page}: a click on the toggle did not show the code"
    assert box and box["height"] > 0


@pytest.mark.parametrize("page", CHAPTERS)
def test_no_library_paths_in_the_page_or_its_download(page):
    """A warning or log line of a library names its file in ``site-packages``: neither the
    page nor the notebook its download button gives (``_sources/``) shows one."""
    html, source = HTML / f"{page}.html", HTML / "_sources" / f"{page}.ipynb"
    assert source.is_file(), f"{page}: the page's download ({source.name}) is missing"
    for path in (html, source):
        text = path.read_text(encoding="utf-8")
        found = [" ".join(text[max(0, m.start() - 60):m.end() + 60].split())
                 for m in re.finditer("site-packages", text)]
        assert found == [], f"{path.relative_to(HTML)}: {len(found)} library path(s): {found[:2]}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_no_cell_prints_a_stray_value(page):
    """A cell that ended with a call returning a value printed it: nine figures had
    ``'fig-04-an-max'`` and the like under them.  No output of a chapter is a bare string."""
    import json

    nb = json.loads((HTML / "_sources" / f"{page}.ipynb").read_text(encoding="utf-8"))
    strays = ["".join(o["data"]["text/plain"]) for cell in nb["cells"]
              for o in cell.get("outputs", []) if o.get("output_type") == "execute_result"
              and set(o.get("data", {})) == {"text/plain"}
              and re.fullmatch(r"'[^']*'|\"[^\"]*\"", "".join(o["data"]["text/plain"]).strip())]
    assert strays == [], f"{page}: {len(strays)} stray value(s) printed: {strays[:3]}"


#: Chapters that read a study's runs by design (``compare_run_dir``: chapter 04 shows the
#: planted pairs of the study's CanICA variant; ``study_run_dir``: chapter 07's controls).
STUDY_READERS = ("book/executed/04_coupling", "book/executed/07_verdict")


@pytest.mark.parametrize("page", CHAPTERS)
def test_captions_name_the_books_run_and_no_machine_path(page):
    """A stage shared through the store was published with the run (and reproduce command)
    of the study variant that computed it first, and parameters showed the building
    machine's absolute paths.  Every caption of a chapter names the book's own run; no
    page or download shows the repository's absolute path, and no page but those that read
    the study (:data:`STUDY_READERS`) names a study's run."""
    run = Path((ROOT / "book" / "executed" / "RUN.txt").read_text().strip()).name
    html, source = HTML / f"{page}.html", HTML / "_sources" / f"{page}.ipynb"
    text = html.read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text, flags=re.DOTALL)
    named = {m for c in captions for m in re.findall(r"Run <code[^>]*><span class=\"pre\">"
                                                        r"([^<]+)</span>", c)}
    assert named <= {run}, f"{page}: captions name the runs {sorted(named)}, not {run}"
    for path in (html, source):
        found = path.read_text(encoding="utf-8").count(str(ROOT))
        assert found == 0, f"{path.relative_to(HTML)}: {found} absolute path(s) of {ROOT}"
    if page not in STUDY_READERS:
        assert "runs/study-" not in text, f"{page}: names a study's run"


def test_the_repository_button_links_to_the_repository(browser):
    """The address is the build's (``book/_ext/anbn_book.py``, the same environment as the
    build's in ``make book`` and in CI); without one there is no button, and never Jupyter
    Book's default address."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from anbn_book import _git_remote, repository_url
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))
    url = repository_url(os.environ, _git_remote(ROOT))
    tab = browser.new_page(viewport=VIEWPORT)
    tab.goto((HTML / "book" / "intro.html").as_uri(), wait_until="load")
    buttons = tab.locator("a.btn-source-repository-button").evaluate_all(
        "links => links.map(a => a.href)")
    default = tab.locator('a[href*="executablebooks/jupyter-book"]').count()
    tab.close()
    assert buttons == ([url] if url else []), (url, buttons)
    assert default == 0


def test_one_search_field_on_a_wide_screen_and_one_way_to_search_on_a_narrow_one(browser):
    """The theme's header bar held only a second search field beside the sidebar's."""
    shown = "Array.from(document.querySelectorAll('.search-button__button'))" \
        ".filter(b => b.offsetParent !== null).length"
    counts = {}
    for width in (1280, 700):
        tab = browser.new_page(viewport={"width": width, "height": 900})
        tab.goto((HTML / "book" / "executed" / "04_coupling.html").as_uri(), wait_until="load")
        counts[width] = tab.evaluate(shown)
        tab.close()
    assert counts == {1280: 1, 700: 1}, counts


@pytest.mark.parametrize("width", [1280, 1920])
def test_embedded_views_fit_the_column(browser, width):
    """An interactive view (chapter 03's map, the explorer's) is never cut by the column:
    a frame wider than it showed part of the map, the rest in a box to scroll."""
    tab = browser.new_page(viewport={"width": width, "height": 900})
    wide = []
    for page in CHAPTERS:
        tab.goto((HTML / f"{page}.html").as_uri(), wait_until="load")
        wide += tab.evaluate("""() => {
          const col = document.querySelector('article').getBoundingClientRect();
          return Array.from(document.querySelectorAll('article iframe'))
            .map(f => f.getBoundingClientRect())
            .filter(r => r.width > 0 && r.right > col.right + 1)
            .map(r => `${location.pathname.split('/').pop()}: frame to ${Math.round(r.right)} px,` +
                      ` column to ${Math.round(col.right)} px`);
        }""")
    tab.close()
    assert wide == [], wide


def test_equations_and_embedded_views_render(browser):
    tab = browser.new_page()
    tab.goto((HTML / "book" / "methods.html").as_uri(), wait_until="load")
    tab.wait_for_timeout(800)
    assert tab.locator("mjx-container").count() >= 5
    tab.goto((HTML / "book" / "executed" / "03_bns.html").as_uri(), wait_until="load")
    tab.wait_for_timeout(1500)
    frames = [f for f in tab.frames if f != tab.main_frame]
    assert frames, "the interactive view_img of chapter 03 is missing"
    assert frames[0].evaluate("document.body.innerHTML.length") > 1000
    tab.close()


def test_the_book_prints_to_one_pdf_with_every_page_and_its_figures(browser, tmp_path):
    """``make pdf``: every page of the table of contents, in order, one bookmark each, and
    at least as many images as the pages hold figures (Chromium prints them, pypdf joins
    the pages)."""
    sys.path.insert(0, str(ROOT / "book"))
    try:
        from pdf import print_book, toc_pages
    finally:
        sys.path.remove(str(ROOT / "book"))
    from pypdf import PdfReader

    reader = PdfReader(print_book(tmp_path / "book.pdf", browser=browser))
    pages = toc_pages()
    assert reader.outline[0].title.startswith("anbn")
    assert len(reader.outline) == len(pages) and len(reader.pages) > len(pages)
    images = sum(1 for page in reader.pages
                 for obj in page.get("/Resources", {}).get("/XObject", {}).values()
                 if obj.get_object().get("/Subtype") == "/Image")
    assert images >= sum(MIN_FIGURES.values()), images


@pytest.mark.parametrize("page", _pages())
def test_a_page_of_committed_results_names_their_commits(page):
    """A page showing numbers of a committed results file (``benchmarks/results``) says
    which commit and date they come from (the book's own run may be newer)."""
    source = next(p for p in (ROOT / f"{page}.md", ROOT / f"{page}.ipynb") if p.is_file())
    text = (HTML / f"{page}.html").read_text(encoding="utf-8")
    if "{value}`benchmarks/results/" in source.read_text(encoding="utf-8"):
        assert "Committed results on this page: benchmarks/results/" in text, page


#: Tables each chapter shows with a link to the stage file they show
#: (:func:`anbn_utils.figures.show_table`), in the default book.
TABLE_LINKS = {"book/executed/03_bns": 2, "book/executed/04_coupling": 3,
               "book/executed/06_layers": 2, "book/executed/07_verdict": 6}


@pytest.mark.parametrize("page", CHAPTERS)
def test_a_chapters_tables_download(page):
    """Each chapter whose stage writes tables ends with them as files to download; a table
    that shows a stage file links to it under the table; every link resolves to a file of
    the built book."""
    html = (HTML / f"{page}.html").read_text(encoding="utf-8")
    stage = Path(page).name
    run = Path((ROOT / "book" / "executed" / "RUN.txt").read_text().strip())
    if not list((run / stage).resolve().rglob("*.tsv")):
        return
    before, *section = html.split('id="downloads"', 1)
    assert section, f"{page}: no Downloads section"
    links = re.findall(r'href="([^"#]+\.tsv)"', html)
    assert re.findall(r'href="([^"#]+\.tsv)"', section[0]), \
        f"{page}: the Downloads section links no table"
    under_tables = re.findall(r"The table as a file: <a [^>]*href=\"([^\"#]+\.tsv)\"", before)
    assert len(under_tables) >= TABLE_LINKS.get(page, 0), \
        f"{page}: {len(under_tables)} table(s) link their file, {TABLE_LINKS[page]} expected"
    missing = [h for h in links if not (HTML / Path(page).parent / h).resolve().is_file()]
    assert missing == [], f"{page}: download links to missing files {missing[:3]}"


def test_the_pair_explorer_answers_a_pick(browser):
    """Chapter 06's explorer: picking another AN shows that AN (its name, time course and top
    pairs) with its own best BN and that BN's map; with the box unticked, picking a BN keeps
    the AN and changes only the BN's side; the map viewer draws."""
    tab = browser.new_page(viewport=VIEWPORT)
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto((HTML / "book" / "executed" / "06_layers.html").as_uri(), wait_until="load")
    explorer = tab.locator(".anbn-explorer")
    assert explorer.count() == 1, "chapter 06 has no pair explorer"
    data = explorer.evaluate(
        "e => JSON.parse(e.querySelector(\"script[type='application/json']\").textContent)")
    story = data["story"][data["stories"][0]]

    def state():
        return explorer.evaluate("""e => {
            const q = (r) => e.querySelector(`[data-role='${r}']`);
            return {head: q("head").textContent, an: +q("an").value, bn: +q("bn").value,
                    an_line: q("an-line").getAttribute("points"),
                    bn_line: q("bn-line").getAttribute("points"),
                    pairs: q("pairs").textContent, map: q("map").srcdoc};
        }""")

    before = state()
    assert story["an_bn"][before["an"]] == before["bn"]
    assert data["ans"][before["an"]]["name"] in before["head"]
    others = [i for i, bn in enumerate(story["an_bn"]) if bn != before["bn"]]
    assert others, "every AN the explorer carries anchors to the same BN: nothing to pick"
    other = others[0]
    explorer.locator("[data-role=an]").select_option(str(other))
    after = state()
    assert after["an"] == other and after["bn"] == story["an_bn"][other]
    assert data["ans"][other]["name"] in after["head"]
    assert after["an_line"] != before["an_line"] and after["map"] != before["map"]
    assert after["map"] == "".join(data["map_chunks"][i] for i in data["map_docs"][after["bn"]])
    if story["top_pairs"][other] != story["top_pairs"][before["an"]]:
        assert after["pairs"] != before["pairs"]

    explorer.locator("[data-role=follow]").uncheck()
    bn = (after["bn"] + 1) % len(data["bns"])
    explorer.locator("[data-role=bn]").select_option(str(bn))
    last = state()
    assert last["an"] == other and last["bn"] == bn and last["pairs"] == after["pairs"]
    assert data["ans"][other]["name"] in last["head"] and data["bns"][bn]["name"] in last["head"]
    assert last["bn_line"] != after["bn_line"] and last["map"] != after["map"]
    tab.wait_for_timeout(1500)
    frame = explorer.locator("[data-role=map]").element_handle().content_frame()
    assert frame.evaluate("document.body.innerHTML.length") > 1000
    tab.close()
    assert errors == [], errors[:3]


def _plain(html: str, tag: str = " ") -> str:
    """HTML as text: tags replaced by ``tag``, entities decoded, spaces collapsed."""
    import html as html_lib

    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", tag, html))).strip()


def _article_text(page: str) -> str:
    """A page's article as a reader reads it (:func:`_plain`; no space before a closing or
    after an opening bracket or punctuation)."""
    source = (HTML / f"{page}.html").read_text(encoding="utf-8")
    text = _plain(source.split("<article", 1)[1].split("</article>", 1)[0])
    return re.sub(r"([(\[]) ", r"\1", re.sub(r" ([,;.)\]])", r"\1", text))


#: A rate with its interval and null model, as the book prints it: ``0.060 [0.031, 0.102]
#: (circular)``.
RATE = r"(\d\.\d+) \[(\d\.\d+), (\d\.\d+)\] \((\w+)\)"
#: Quantities the book shows on two pages: per page, the passage that holds them; the
#: numbers found there (``RATE``s by null model, else every integer in order) must agree.
SHARED_QUANTITIES = {
    "claims per verdict": {
        "book/intro": r"Of the \d+ claims, \d+ hold on this run; \d+ are reproduced but .*?; "
                      r"\d+ are not reproduced; \d+ are untested,.*? and \d+ is a property",
        "book/executed/07_verdict": r"Of the \d+ claims measured on this run, \d+ hold \(.*?\), "
                                    r"\d+ are reproduced but .*?\), \d+ are not reproduced, "
                                    r"\d+ are untested \(.*?\), and \d+ is a property"},
    "family-wise rate on simulated null data with the phantom's ANs, at 0.05": {
        "book/methods": rf"any AN significant family-wise was {RATE} and {RATE} with the "
                        r"phantom.s own AN series",  # . : Sphinx prints a curly apostrophe
        "book/executed/04_coupling": rf"any AN significant family-wise is {RATE}, {RATE}, "
                                     rf"{RATE} at 0\.05"},
}


def _numbers(passage: str):
    rates = re.findall(RATE, passage)
    return {r[3]: r[:3] for r in rates} if rates else re.findall(r"\d+", passage)


def _claim_verdicts(page: str) -> dict[str, str]:
    """The claims table of a page (the one whose header has ``claim`` and ``verdict``):
    claim -> verdict."""
    source = (HTML / f"{page}.html").read_text(encoding="utf-8")

    def cell(c):  # the text, with the straight apostrophe the notebook's tables keep
        return _plain(c, tag="").replace("\u2019", "'")

    for table in re.findall(r"<table.*?</table>", source, flags=re.DOTALL):
        rows = [[cell(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.DOTALL)]
                for row in re.findall(r"<tr.*?</tr>", table, flags=re.DOTALL)]
        header = next((r for r in rows if "claim" in r and "verdict" in r), None)
        if header is None:
            continue
        body = [r for r in rows if len(r) == len(header) and r != header]
        return {r[header.index("claim")]: r[header.index("verdict")] for r in body
                if r[header.index("claim")]}
    return {}


def test_a_quantity_on_two_pages_has_one_value():
    """The numbers a reader meets on two pages (the claims' verdicts on the landing page and
    in chapter 07; the calibration's rate in Methods and chapter 04) are the same: a page
    that read another file, another scenario or an older result would show another value."""
    for quantity, pages in SHARED_QUANTITIES.items():
        found = {}
        for page, passage in pages.items():
            m = re.search(passage, _article_text(page))
            assert m, f"{page}: the passage of {quantity!r} is not there ({passage[:60]}...)"
            found[page] = _numbers(m.group(0))
        values = list(found.values())
        if isinstance(values[0], dict):  # rates by null model: those both pages show
            common = set.intersection(*(set(v) for v in values))
            assert common, f"{quantity}: no null model on every page {found}"
            values = [{k: v[k] for k in sorted(common)} for v in values]
        assert all(v == values[0] for v in values), f"{quantity}: {found}"
    landing, chapter = _claim_verdicts("book/intro"), _claim_verdicts("book/executed/07_verdict")
    assert landing and landing == chapter, (landing, chapter)
