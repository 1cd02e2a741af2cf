"""The registry of the book's figures, their captions, and the README's figure map."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nbformat
import pytest
import yaml

from anbn_utils.errors import ParameterError
from anbn_utils.figures import (
    FIGURES,
    PAPER_FIGURES,
    BookFigure,
    by_paper_figure,
    caption,
    figure,
    glue_key,
    min_displayed_fontsize,
    paper_figure,
    readme_table,
    reproduce_command,
    run_profile,
    show_figure,
)
from anbn_utils.runner.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def test_every_paper_figure_with_data_has_a_book_figure():
    """Supp. Fig. 1-2 (part of speech of each layer's best pair) had no counterpart, and
    Supp. Fig. 3-4 (the transcript heatmaps) only the first story's."""
    expected = ["Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6", "Fig. 7", "Fig. 8", "Fig. 9",
                "Fig. 10", "Supp. Fig. 1", "Supp. Fig. 2", "Supp. Fig. 3", "Supp. Fig. 4"]
    assert list(PAPER_FIGURES) == expected
    mapping = by_paper_figure()
    assert [p for p in expected if not mapping[p]] == []
    # the per-story entries point to the paper's story order
    assert [(e.label, s) for e, s in mapping["Fig. 9"]] == [
        ("fig-06-best-pairs", "shapes"), ("fig-06-peak-slices", "shapes")]
    assert [(e.label, s) for e, s in mapping["Supp. Fig. 4"]] == [("fig-05-text-heatmap", "shapes")]


def test_labels_are_unique_and_name_their_stage():
    labels = [f.label for f in FIGURES]
    assert len(labels) == len(set(labels))
    assert {f.stage for f in FIGURES} <= {s.name for s in STAGES}
    with pytest.raises(ValueError, match="not named after its stage"):
        BookFigure("fig-04-x", "05_pos", "x")
    with pytest.raises(ValueError, match="not figures of the paper"):
        BookFigure("fig-05-x", "05_pos", "x", ("Fig. 11",))
    with pytest.raises(ParameterError, match="not in anbn_utils.figures.FIGURES"):
        figure("fig-05-nope")


def test_paper_figure_of_a_story():
    entry = figure("fig-06-best-pairs")
    assert paper_figure(entry, "pieman") == "Fig. 8"
    assert paper_figure(entry, "shapessocial") == "Fig. 9"
    assert paper_figure(entry, "black") is None  # a story the paper does not have
    assert paper_figure(figure("fig-04-an-max")) == "Fig. 4"
    assert paper_figure(figure("fig-02-an-heatmaps"), "pieman") is None
    assert glue_key("fig-06-best-pairs", "pieman") == "fig-06-best-pairs-pieman"
    with pytest.raises(ParameterError, match="per story"):
        glue_key("fig-06-best-pairs")
    with pytest.raises(ParameterError, match="once"):
        glue_key("fig-04-an-max", "pieman")


def _notebook_calls():
    """(stage, label, story passed, cell metadata) of every show_figure call."""
    calls = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines()
                               if not line.lstrip().startswith("%"))
            for node in ast.walk(ast.parse(source)):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "show_figure"):
                    label = node.args[1].value
                    story = any(k.arg == "story" for k in node.keywords)
                    calls.append((path.stem, label, story, cell.metadata))
    return calls


def test_every_figure_of_the_chapters_is_registered_and_captioned():
    """Chapters drew with plt.show(): no caption, no number, no paper figure, no command."""
    calls = _notebook_calls()
    shown = {(stage, label) for stage, label, _, _ in calls}
    assert shown == {(f.stage, f.label) for f in FIGURES}
    for stage, label, story, metadata in calls:
        assert figure(label).per_story == story, label
        # show_figure displays a MyST directive: the cell renders its Markdown as MyST
        assert metadata.get("mystnb", {}).get("markdown_format") == "myst", (stage, label)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            assert "plt.show()" not in cell.source, f"{path.name}: a figure without a caption"
            # show_table's link is a download only when MyST renders it
            if cell.cell_type == "code" and "show_table(" in cell.source:
                assert cell.metadata.get("mystnb", {}).get("markdown_format") == "myst", \
                    (path.name, cell.source[:60])


def test_each_chapter_opens_with_what_it_shows():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0]
        lines = [line for line in first.source.splitlines() if line.strip()]
        assert lines[0].startswith("# ") and lines[1].startswith("**What this chapter shows.**"), path.name


def test_glued_numbers_of_the_openings_are_glued_by_their_notebook():
    """A {glue:text} key that no cell glues fails the book build; each is glued on every path
    of the notebook (checked here by its name appearing in a glue call)."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        used = set(re.findall(r"\{glue:text\}`([\w-]+)", cells[0].source))
        glued = set(re.findall(r"glue\(\s*\"([\w-]+)\"", "\n".join(
            c.source for c in cells if c.cell_type == "code")))
        assert used and used <= glued, (path.name, used - glued)


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "runs" / "my-run"
    run.mkdir(parents=True)
    (run / "params.yaml").write_text(yaml.safe_dump(
        {"profile": "phantom", "overrides": ["word_order=shuffled", "seed=3"]}))
    return run


def test_profile_and_command_come_from_the_run(run_dir, tmp_path):
    assert run_profile(run_dir) == ("phantom", ["word_order=shuffled", "seed=3"])
    assert reproduce_command("04_coupling", run_dir) == (
        f"python -m anbn_utils.run --profile phantom --run-dir {run_dir} "
        "--set word_order=shuffled --set seed=3 --stage 04_coupling")
    # the runner's default folder runs/<profile> names a shipped profile
    assert run_profile(tmp_path / "runs" / "phantom-null") == ("phantom-null", [])
    assert reproduce_command("05_pos", "runs/phantom-null") == (
        "python -m anbn_utils.run --profile phantom-null --stage 05_pos")
    # nothing says: the caption says so rather than guess
    assert run_profile(tmp_path / "elsewhere") == (None, [])
    assert "--profile <profile> --run-dir" in reproduce_command("05_pos", tmp_path / "elsewhere")


def test_caption_names_paper_figure_run_profile_and_command(run_dir):
    text = caption("fig-06-best-pairs", run_dir, story="shapessocial", note="Threshold 0.3.")
    assert text.startswith("**The best AN-BN pair in each layer (shapessocial).** "
                           "Regenerates the paper's Fig. 9. Threshold 0.3. Run `my-run`, "
                           "profile `phantom` with `word_order=shuffled`, `seed=3`; reproduce: `")
    assert text.endswith(f"`{reproduce_command('06_layers', run_dir)}`.")
    assert "Beyond the paper." in caption("fig-02-an-heatmaps", run_dir, story="pieman")


def test_show_figure_glues_the_figure_and_displays_a_numbered_myst_figure(run_dir, monkeypatch):
    import IPython.display
    import myst_nb

    glued, shown = {}, []
    monkeypatch.setattr(myst_nb, "glue", lambda name, obj, display=True: glued.update({name: (obj, display)}))
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj.data))
    fig, _ = plt.subplots()
    assert show_figure(fig, "fig-04-an-max", run_dir, note="A note") is None  # no stray output
    key = glue_key("fig-04-an-max")
    assert key == "fig-04-an-max" and glued == {key: (fig, False)}
    assert not plt.fignum_exists(fig.number)  # closed: not drawn a second time by the backend
    expected = (f"```{{glue:figure}} {key}\n:name: {key}\n\n"
                f"{caption('fig-04-an-max', run_dir, note='A note')}\n```")
    assert shown == [expected]


def test_displayed_font_size_accounts_for_the_column_width():
    fig = plt.figure(figsize=(6, 3), dpi=100)  # 600 px: shown at its natural size
    fig.text(0.5, 0.5, "ten points", fontsize=10)
    assert min_displayed_fontsize(fig, content_px=750) == pytest.approx(10 * 100 / 96)
    fig.set_figwidth(15)  # 1500 px in a 750 px column: shown at half its size
    assert min_displayed_fontsize(fig, content_px=750) == pytest.approx(10 * 50 / 96)
    plt.close("all")


def test_readme_maps_every_paper_figure_to_its_notebook_and_artifact():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Paper figures", 1)[1].split("\n## ", 1)[0]
    assert readme_table() in section, "README's 'Paper figures' table is not readme_table()"
    for paper, entries in by_paper_figure().items():
        for entry, _ in entries:
            assert re.search(rf"\| {re.escape(paper)} \| `notebooks/{entry.stage}.ipynb` \| "
                             rf"`{entry.label}`[^|]*\| `{re.escape(entry.artifact)}` \|", section)

