"""The built book as a reader sees it, in headless Chromium (Debian's, not a downloaded one).

Run after ``make book`` (``make check-book``; ``.ci/run`` does both).  Every page of the
table of contents loads from disk with no console error and no request outside the book,
every image and embedded view loads, equations render; a screenshot of each page goes to
``_build/screenshots/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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
    tab = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors, outside = [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: outside.append(r.url)
           if not r.url.startswith(("file:", "data:", "about:", "blob:")) else None)
    tab.goto(path.as_uri(), wait_until="load")
    tab.wait_for_timeout(800)
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=SHOTS / f"{page.replace('/', '_')}.png", full_page=False)
    broken = tab.evaluate("Array.from(document.images)"
                          ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    raw_math = tab.evaluate("document.querySelectorAll('.math:not(:has(mjx-container))').length")
    figures = tab.evaluate("document.querySelectorAll('article img[src*=\"_images/\"]').length")
    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    tab.close()
    assert overflow <= 0, f"{page}: the page is {overflow} px wider than the window"
    assert figures >= MIN_FIGURES.get(page, 0), \
        f"{page}: {figures} figure(s), at least {MIN_FIGURES[page]} expected"
    assert errors == [], f"{page}: console errors {errors[:3]}"
    assert outside == [], f"{page}: requests outside the book {outside[:3]}"
    assert broken == [], f"{page}: images that did not load {broken[:3]}"
    assert raw_math == 0, f"{page}: {raw_math} equation(s) not rendered by MathJax"


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
