"""The book's Sphinx extension: the gallery of paper figures and the TSV tables."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import anbn_book


def _png(width_in: float = 8.0) -> str:
    fig, ax = plt.subplots(figsize=(width_in, 3))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _glued(name: str, data: dict) -> dict:
    """A display_data output as myst_nb.glue(name, obj, display=False) writes it."""
    return {"output_type": "display_data", "metadata": {"scrapbook": {
        "name": name, "mime_prefix": anbn_book.GLUE_PREFIX}},
        "data": {anbn_book.GLUE_PREFIX + k: v for k, v in data.items()}}


def _notebook(path: Path, outputs: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "", "metadata": {},
                                           "outputs": outputs}]}))


def test_glued_outputs_are_read_without_their_prefix(tmp_path):
    png = _png()
    _notebook(tmp_path / "nb.ipynb", [_glued("fig-04-an-max", {"image/png": png}),
                                      {"output_type": "stream", "text": "x"}])
    assert anbn_book._glued_outputs(tmp_path / "nb.ipynb") == {"fig-04-an-max": {"image/png": png}}
    assert anbn_book._glued_outputs(tmp_path / "missing.ipynb") == {}


def test_thumbnails_are_scaled_to_the_gallery_width():
    uri = anbn_book._thumbnail(_png(8.0))  # 576 px wide
    image = Image.open(io.BytesIO(base64.b64decode(uri.removeprefix("data:image/png;base64,"))))
    assert image.width == anbn_book.THUMB_PX
    assert abs(image.height - round(216 * anbn_book.THUMB_PX / 576)) <= 1


def test_gallery_links_each_paper_figure_to_the_books_figure(tmp_path):
    executed = tmp_path / "book" / "executed"
    _notebook(executed / "04_coupling.ipynb", [_glued("fig-04-an-max", {"image/png": _png()})])
    _notebook(executed / "05_pos.ipynb", [
        _glued("fig-05-text-heatmap-pieman", {"text/html": "<div>pairs</div>"}),
        _glued("fig-05-text-heatmap-shapessocial", {"text/html": "<div>pairs</div>"})])
    labels = {"fig-04-an-max": ("book/executed/04_coupling", "fig-04-an-max", ""),
              "fig-05-text-heatmap-shapessocial": ("book/executed/05_pos",
                                                   "fig-05-text-heatmap-shapessocial", "")}
    env = SimpleNamespace(srcdir=str(tmp_path), domaindata={"std": {"labels": labels}})
    app = SimpleNamespace(builder=SimpleNamespace(
        env=env, get_relative_uri=lambda src, dst: dst.removeprefix("book/") + ".html"))
    html = anbn_book._gallery_html(app, "book/intro")
    rows = {row.split("<br>")[0]: row for row in html.split('<th style="vertical-align:top;width:12em">')[1:]}
    assert '<a href="executed/04_coupling.html#fig-04-an-max"><img src="data:image/png;base64,' in rows["Fig. 4"]
    assert "not drawn by this run" in rows["Fig. 5"]  # no such figure in these notebooks
    # Supp. Fig. 4 is the second story's (Shapes) heatmap, an HTML view: linked, no image
    assert ('<a href="executed/05_pos.html#fig-05-text-heatmap-shapessocial">'
            '<span class="anbn-gallery-html">') in rows["Supp. Fig. 4"]
    assert "shapessocial" not in rows["Supp. Fig. 3"]


def test_a_chapters_figure_is_shown_on_another_page_linked_to_it(tmp_path):
    import pytest

    png = _png()
    executed = tmp_path / "book" / "executed"
    _notebook(executed / "04_coupling.ipynb", [_glued("fig-04-calibration", {"image/png": png})])
    labels = {"fig-04-calibration": ("book/executed/04_coupling", "fig-04-calibration", "")}
    env = SimpleNamespace(srcdir=str(tmp_path), domaindata={"std": {"labels": labels}})
    app = SimpleNamespace(builder=SimpleNamespace(
        env=env, get_relative_uri=lambda src, dst: dst.removeprefix("book/") + ".html"))
    html = anbn_book._book_figure_html(app, "book/methods", "fig-04-calibration")
    assert f'<a href="executed/04_coupling.html#fig-04-calibration"><img src="data:image/png;base64,{png}"' in html
    _notebook(executed / "04_coupling.ipynb", [])
    with pytest.raises(RuntimeError, match="has no such figure; run that stage"):
        anbn_book._book_figure_html(app, "book/methods", "fig-04-calibration")


def test_tsv_table_columns_optional_and_missing():
    import pytest

    available = ["claim", "paper", "this run", "verdict"]
    assert anbn_book.table_columns(None, available) == available
    # the claims of a run without a null phantom have no "null phantom" column
    assert anbn_book.table_columns("claim, null phantom?, verdict", available) == ["claim", "verdict"]
    assert anbn_book.table_columns("claim, this run?", available) == ["claim", "this run"]
    with pytest.raises(ValueError, match="no column null phantom"):
        anbn_book.table_columns("claim, null phantom", available)


def test_a_page_of_committed_numbers_names_each_files_commit_and_date(tmp_path):
    """Methods gave rates from a results file of an older commit than the book beside
    numbers of the book's own run, with nothing to tell them apart."""
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "a.json").write_text(json.dumps({"commit": "abc1234",
                                                "date": "2026-12-01T10:00:00+00:00"}))
    (results / "b.json").write_text(json.dumps({"rates": [0.05]}))
    text = anbn_book.results_provenance_text(
        tmp_path, {"benchmarks/results/b.json", "benchmarks/results/a.json"})
    assert text == ("Committed results on this page: benchmarks/results/a.json (commit abc1234, "
                    "2026-12-01); benchmarks/results/b.json (commit not recorded, date not "
                    "recorded).")
