"""The built book as one PDF, offline: Chromium prints every page of the table of contents,
in its order, and pypdf joins them with a bookmark per page.

Chromium is Debian's (the one the browser check uses); the pages are the built HTML
(``make book`` first).  Each page is printed with every collapsed block closed, as a reader
first sees it; the page's own print styles apply.

    python book/pdf.py                      # -> _build/anbn-book.pdf (make pdf)
    python book/pdf.py --out book.pdf
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
DEFAULT_OUT = ROOT / "_build" / "anbn-book.pdf"


def toc_pages(root: Path = ROOT) -> list[tuple[str, str]]:
    """``(page, title)`` of every page of ``_toc.yml``, in order (the title: the page's)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part["chapters"]]
    return [(p, Path(p).name) for p in pages]


def print_book(out: Path = DEFAULT_OUT, html: Path = HTML, browser=None) -> Path:
    """Print every page of the built book to one PDF at ``out``; return it.

    ``browser``: a launched Playwright Chromium to print with (the browser check's);
    default: Debian's Chromium, launched here.

    Raises
    ------
    SystemExit
        When the book is not built or Debian's Chromium is missing (the message says what
        to run).
    """
    from playwright.sync_api import sync_playwright
    from pypdf import PdfWriter

    if not (html / "index.html").is_file():
        raise SystemExit(f"the book is not built ({html}): run `make book` first")
    if browser is None:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            raise SystemExit("Debian's chromium is not installed: `apt-get install chromium`")
        with sync_playwright() as pw:
            launched = pw.chromium.launch(executable_path=chromium,
                                          args=["--no-sandbox", "--disable-gpu"])
            try:
                return print_book(out, html, launched)
            finally:
                launched.close()
    writer = PdfWriter()
    with tempfile.TemporaryDirectory() as tmp:
        for page, name in toc_pages():
            path = html / f"{page}.html"
            if not path.is_file():
                raise SystemExit(f"{path} is missing from the built book: run `make book`")
            tab = browser.new_page()
            tab.goto(path.as_uri(), wait_until="load")
            tab.wait_for_timeout(500)  # MathJax
            title = tab.title().split(" \N{EM DASH} ")[0].split(" - ")[0].strip() or name
            part = Path(tmp) / f"{len(writer.pages):05d}.pdf"
            tab.pdf(path=str(part), format="A4", print_background=True,
                    margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            tab.close()
            first = len(writer.pages)
            writer.append(str(part))
            writer.add_outline_item(title=title, page_number=first)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        writer.write(f)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    print(f"wrote {print_book(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
