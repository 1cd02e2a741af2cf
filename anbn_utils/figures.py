"""The book's figures: one registry, and the helper that shows a figure with its caption.

Every figure a chapter shows is a :class:`BookFigure` of :data:`FIGURES`: its label (the
anchor of the figure in the book, ``fig-04-an-max``), the stage (chapter) that draws it,
the figures of the paper it regenerates (none for figures beyond the paper), a short title
and the artifact it is drawn from.  The registry is read by

- :func:`show_figure`, which every chapter calls instead of ``plt.show()``: the figure is
  glued (myst-nb) and shown as a numbered MyST ``{glue:figure}`` whose caption names the
  paper figure, the run, its profile and the command that reproduces the figure
  (:func:`caption`);
- the landing page's gallery (``book/_ext/anbn_book.py``: each paper figure beside the
  book's figure that regenerates it, read from the executed notebooks);
- the README's "Paper figures" table (:func:`readme_table`; ``tests/test_figures.py``
  checks the README against it).

A figure drawn once per story has one glue key per story (``<label>-<story>``); when it
regenerates one paper figure per story (Fig. 8 for Pie Man, Fig. 9 for Shapes), ``paper``
lists them in the paper's story order and :func:`paper_figure` picks the story's.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ParameterError

__all__ = ["FIGURES", "PAPER_FIGURES", "PAPER_STORIES", "PROVENANCE", "TABLES", "BookFigure",
           "by_paper_figure", "caption", "figure", "glue_key", "min_displayed_fontsize",
           "paper_figure", "provenance", "readme_table", "reproduce_command", "run_profile",
           "show_figure", "show_table"]

#: The paper's figures that have data (Fig. 1 is the framework's diagram), in its order,
#: with what each shows (from its caption).
PAPER_FIGURES = {
    "Fig. 2": "The definitions of an AN and its activation in BERT",
    "Fig. 3": "The definitions of a BN and its activation in fMRI (VS-DBN)",
    "Fig. 4": "The ANs' maximal PCC to BNs: distribution, mean per layer, % below 0.25",
    "Fig. 5": "The BNs' maximal PCC to ANs, and the layers of the ANs BNs anchor",
    "Fig. 6": "The number of ANs anchored by each BN; the most anchored BNs' maps",
    "Fig. 7": "The part-of-speech tags of ANs in each story, and their difference",
    "Fig. 8": "The best synchronized BN-AN pair in each layer, Pie Man",
    "Fig. 9": "The best synchronized BN-AN pair in each layer, Shapes",
    "Fig. 10": "The part-of-speech distribution of three exemplar ANs, Pie Man",
    "Supp. Fig. 1": "The part-of-speech distributions of the best pair of each layer, Pie Man",
    "Supp. Fig. 2": "The part-of-speech distributions of the best pair of each layer, Shapes",
    "Supp. Fig. 3": "The top query-key pairs of each layer's best AN on the transcript, Pie Man",
    "Supp. Fig. 4": "The top query-key pairs of each layer's best AN on the transcript, Shapes",
}

#: The paper's stories in its order (Pie Man, Shapes): the i-th paper figure of a
#: per-story entry is this story's.  Shapes is ``shapessocial`` or ``shapesphysical``.
PAPER_STORIES = ("pieman", "shapes")

#: The width of the book's content column (CSS px) at which figures are shown (the lower
#: end: sphinx-book-theme's column is 750-850 px wide on a desktop screen).
CONTENT_PX = 750


@dataclass(frozen=True)
class BookFigure:
    """One figure of the book.

    Attributes
    ----------
    label : str
        Anchor of the figure in the book (``fig-<stage number>-<name>``).
    stage : str
        The stage (chapter) that draws it, e.g. ``"05_pos"``.
    title : str
        What it shows, in a few words (the caption's first sentence).
    paper : tuple of str
        The paper's figures it regenerates (``"Fig. 4"``, ``"Supp. Fig. 1"``); empty for a
        figure beyond the paper.  For a figure drawn per story with one paper figure per
        story, one entry per story in the paper's order (:data:`PAPER_STORIES`).
    artifact : str
        The artifact it is drawn from, relative to the run directory (``<story>`` stands
        for each story).
    per_story : bool
        Drawn once per story (glue key ``<label>-<story>``).
    """

    label: str
    stage: str
    title: str
    paper: tuple[str, ...] = ()
    artifact: str = ""
    per_story: bool = False

    def __post_init__(self):
        if not re.fullmatch(r"fig-\d\d-[a-z0-9-]+", self.label):
            raise ValueError(f"figure label {self.label!r}: write fig-<stage number>-<name>")
        if self.label[4:6] != self.stage[:2]:
            raise ValueError(f"figure {self.label!r} is not named after its stage {self.stage}")
        unknown = [p for p in self.paper if p not in PAPER_FIGURES]
        if unknown:
            raise ValueError(f"figure {self.label!r}: {unknown} are not figures of the paper "
                             f"({', '.join(PAPER_FIGURES)})")
        if len(self.paper) > 1 and not self.per_story:
            raise ValueError(f"figure {self.label!r}: several paper figures need per_story")


F = BookFigure
#: Every figure of the book, in chapter order.
FIGURES: tuple[BookFigure, ...] = (
    F("fig-00-planted-maps", "00_phantom", "The phantom's planted spatial maps",
      artifact="dataset/phantom_truth/maps.nii.gz"),
    F("fig-00-planted-timecourses", "00_phantom", "The phantom's planted time courses",
      artifact="dataset/phantom_truth/timecourses_<story>.npy", per_story=True),
    F("fig-01-transcript", "01_data", "The transcript on the TR grid",
      artifact="01_data/<story>/words.tsv", per_story=True),
    F("fig-01-carpet", "01_data", "Carpet plot of one subject's z-scored BOLD",
      artifact="01_data/<story>/scans.tsv", per_story=True),
    F("fig-01-tsnr", "01_data", "Mean image and temporal SNR of one subject",
      artifact="01_data/<story>/scans.tsv", per_story=True),
    F("fig-02-qk-decomposition", "02_ans",
      "An attention map is the sum of one map per artificial neuron", ("Fig. 2",),
      artifact="02_ans (the model, on the sentence fig2_sentence)"),
    F("fig-02-an-heatmaps", "02_ans", "AN activations per layer over the story",
      artifact="02_ans/<story>/activations.npy", per_story=True),
    F("fig-02-an-examples", "02_ans", "Example ANs before and after the HRF",
      artifact="02_ans/<story>/activations_hrf.npy", per_story=True),
    F("fig-02-an-distributions", "02_ans", "Distribution of AN activations per layer",
      artifact="02_ans/<story>/activations.npy", per_story=True),
    F("fig-02-architectures", "02_ans",
      "The ANs of another architecture beside this run's model",
      artifact="02_ans (the models of compare_models, on the first story; not saved)"),
    F("fig-02-nuisance", "02_ans",
      "AN variance explained by token count, speech and position in the segment",
      artifact="02_ans/<story>/nuisance.tsv"),
    F("fig-03-training", "03_bns", "VS-DBN training curves", ("Fig. 3",),
      artifact="03_bns/bns.json"),
    F("fig-03-bn-maps", "03_bns", "Spatial maps of the brain networks (BNs)", ("Fig. 3",),
      artifact="03_bns/maps_layer3.nii.gz"),
    F("fig-03-bn-detail", "03_bns", "One BN's map in detail",
      artifact="03_bns/maps_layer3.nii.gz"),
    F("fig-03-bn-view", "03_bns", "One BN's map, interactive",
      artifact="03_bns/maps_layer3.nii.gz"),
    F("fig-03-bn-timecourses", "03_bns", "Temporal activations of BNs", ("Fig. 3",),
      artifact="03_bns/mean_timecourses_<story>.npy"),
    F("fig-04-calibration", "04_coupling",
      "Calibration of the coupling tests: false positives on null data, planted pairs found",
      artifact="benchmarks/results/calibration_cpu.json (committed, not in the run)"),
    F("fig-04-an-max", "04_coupling", "The ANs' maximal synchronization with the BNs",
      ("Fig. 4",), artifact="04_coupling/<story>/an_max.npy"),
    F("fig-04-bn-max", "04_coupling",
      "The BNs' maximal synchronization and the layers of their anchors", ("Fig. 5",),
      artifact="04_coupling/<story>/bn_max.npy"),
    F("fig-04-predictive", "04_coupling", "Out-of-sample prediction of each BN from the ANs",
      artifact="04_coupling/<story>/ridge_r2.npy"),
    F("fig-05-anchor-counts", "05_pos", "ANs anchored by each BN", ("Fig. 6",),
      artifact="05_pos/anchor_counts.tsv"),
    F("fig-05-top-bn", "05_pos", "The map of the most frequently anchored BN",
      ("Fig. 6", "Fig. 6"), artifact="03_bns/maps_layer3.nii.gz", per_story=True),
    F("fig-05-tag-distribution", "05_pos", "The distribution of AN part-of-speech tags",
      ("Fig. 7", "Fig. 7"), artifact="05_pos/<story>/tag_distribution.npy", per_story=True),
    F("fig-05-tag-difference", "05_pos", "The difference of the stories' AN tag distributions",
      ("Fig. 7",), artifact="05_pos/<story>/tag_distribution.npy"),
    F("fig-05-over-representation", "05_pos", "Tags the top pairs over-represent",
      artifact="05_pos/<story>/over_representation.npy", per_story=True),
    F("fig-05-exemplars", "05_pos", "Part of speech of the top pairs of exemplar ANs",
      ("Fig. 10",), artifact="05_pos/exemplars.tsv"),
    F("fig-05-text-heatmap", "05_pos", "Top query-key pairs on the transcript",
      ("Supp. Fig. 3", "Supp. Fig. 4"), artifact="02_ans/<story>/top_query.npy",
      per_story=True),
    F("fig-06-best-pairs", "06_layers", "The best AN-BN pair in each layer",
      ("Fig. 8", "Fig. 9"), artifact="06_layers/best_pairs.tsv", per_story=True),
    F("fig-06-peak-slices", "06_layers", "Axial slice through each best BN's peak",
      ("Fig. 8", "Fig. 9"), artifact="06_layers/best_pairs.tsv", per_story=True),
    F("fig-06-best-pair-tags", "06_layers",
      "Part of speech of the top pairs of the best AN of each layer",
      ("Supp. Fig. 1", "Supp. Fig. 2"), artifact="05_pos/<story>/category_counts.npy",
      per_story=True),
    F("fig-07-claims", "07_verdict", "The claims on each run and their verdicts",
      artifact="07_verdict/claims.tsv"),
    F("fig-07-verdict-calibration", "07_verdict",
      "How often each claim holds on null and on planted data",
      artifact="benchmarks/results/verdict_calibration.json"),
    F("fig-07-an-max-controls", "07_verdict",
      "The ANs' maximal PCC: this run, the null phantom and the controls",
      artifact="07_verdict/controls.tsv"),
    F("fig-07-layer-curves-controls", "07_verdict",
      "Mean maximal PCC per layer: this run, the null phantom and the controls",
      artifact="07_verdict/controls.tsv"),
    F("fig-07-layer-curves-models", "07_verdict",
      "Mean maximal PCC per layer: models and aggregations",
      artifact="07_verdict/layer_curves.tsv"),
    F("fig-07-methods", "07_verdict",
      "Brain-network methods on the phantom: map and planted-pair recovery, fit time",
      artifact="07_verdict/methods.tsv"),
    F("fig-07-split-halves", "07_verdict",
      "The ANs' maximal PCC with BNs fitted on two halves of the subjects",
      artifact="07_verdict/reliability.tsv"),
    F("fig-07-predictive", "07_verdict",
      "Out-of-sample R² of the best BN: this run, the null phantom and the controls",
      artifact="07_verdict/predictive.tsv"),
)
del F

_BY_LABEL = {f.label: f for f in FIGURES}


def figure(label: str) -> BookFigure:
    """The registry entry of ``label``; a clear error for an unknown one."""
    try:
        return _BY_LABEL[label]
    except KeyError:
        raise ParameterError(f"figure {label!r} is not in anbn_utils.figures.FIGURES: add it "
                             "there (label, stage, paper figure, title)") from None


def glue_key(label: str, story: str | None = None) -> str:
    """The glue key (and the book's anchor) of a figure, per story when it is drawn per story."""
    entry = figure(label)
    if entry.per_story != (story is not None):
        raise ParameterError(f"figure {label!r} is drawn {'per' if entry.per_story else 'once, not per'}"
                             f" story: {'pass' if entry.per_story else 'do not pass'} story=")
    return label if story is None else f"{label}-{story}"


def paper_figure(entry: BookFigure, story: str | None = None) -> str | None:
    """The paper figure that ``entry`` regenerates for ``story`` (None when it regenerates
    none, or one per story and ``story`` is not one of the paper's)."""
    if not entry.paper:
        return None
    if len(entry.paper) == 1:
        return entry.paper[0]
    for name, paper in zip(PAPER_STORIES, entry.paper):
        if story is not None and story.startswith(name):
            return paper
    return None


def by_paper_figure() -> dict[str, list[tuple[BookFigure, str | None]]]:
    """Paper figure -> the book's figures that regenerate it, as ``(entry, story)`` (story
    None for a figure drawn once, else the paper's story name of :data:`PAPER_STORIES`)."""
    out: dict[str, list] = {p: [] for p in PAPER_FIGURES}
    for entry in FIGURES:
        if len(entry.paper) == 1 and not entry.per_story:
            out[entry.paper[0]].append((entry, None))
        else:
            for story, paper in zip(PAPER_STORIES, entry.paper):
                out[paper].append((entry, story))
    return out


def run_profile(run_dir: str | os.PathLike) -> tuple[str | None, list[str]]:
    """The profile and overrides of the run in ``run_dir``: from its ``params.yaml`` (the
    resolved profile of its last finished run), else the run directory's name when it is
    a shipped profile's (the runner's default ``runs/<profile>``); ``(None, [])`` when
    neither says."""
    run_dir = Path(run_dir)
    record = run_dir / "params.yaml"
    if record.is_file():
        params = yaml.safe_load(record.read_text()) or {}
        if params.get("profile"):
            return params["profile"], list(params.get("overrides") or [])
    shipped = Path(__file__).parent / "profiles" / f"{run_dir.name}.yaml"
    return (run_dir.name, []) if shipped.is_file() else (None, [])


def reproduce_command(stage: str, run_dir: str | os.PathLike,
                      shown_dir: str | os.PathLike | None = None) -> str:
    """The command that re-runs ``stage`` of the run in ``run_dir`` (written as
    ``shown_dir`` when given, e.g. relative to the repository)."""
    profile, overrides = run_profile(run_dir)
    parts = ["python", "-m", "anbn_utils.run", "--profile", profile or "<profile>"]
    if profile is None or Path(run_dir).name != profile:
        parts += ["--run-dir", str(shown_dir or run_dir)]
    for o in overrides:
        parts += ["--set", o]
    parts += ["--stage", stage]
    return shlex.join(parts).replace("'<profile>'", "<profile>")


def caption(label: str, run_dir: str | os.PathLike, *, story: str | None = None,
            note: str = "") -> str:
    """The MyST caption of a figure: its title (and story), the paper figure it regenerates,
    ``note`` (what the figure's numbers are: thresholds, parameters), the run, its profile
    and the command that reproduces it."""
    entry = figure(label)
    glue_key(label, story)  # checks story
    paper = paper_figure(entry, story)
    parts = [f"**{entry.title}" + (f" ({story})" if story else "") + ".**"]
    parts.append(f"Regenerates the paper's {paper}." if paper else "Beyond the paper.")
    if note:
        parts.append(note.strip().rstrip(".") + ".")
    parts.append(provenance(entry.stage, run_dir))
    return " ".join(parts)


def provenance(stage: str, run_dir: str | os.PathLike,
               shown_dir: str | os.PathLike | None = None) -> str:
    """A caption's last sentence: the run, its profile and overrides, and the command that
    reproduces ``stage`` (:data:`PROVENANCE` matches it), the run directory written as
    ``shown_dir`` when given.  The runner rewrites it when it publishes a stage that another
    run computed (shared through the store)."""
    profile, overrides = run_profile(run_dir)
    return (f"Run `{Path(run_dir).name}`, profile `{profile or 'not recorded'}`"
            + (f" with {', '.join(f'`{o}`' for o in overrides)}" if overrides else "")
            + f"; reproduce: `{reproduce_command(stage, run_dir, shown_dir)}`.")


#: The sentence :func:`provenance` writes, for any run.
PROVENANCE = re.compile(r"Run `[^`]*`, profile `[^`]*`(?: with `[^`]*`(?:, `[^`]*`)*)?; "
                        r"reproduce: `[^`]*`\.")


def show_figure(fig, label: str, run_dir: str | os.PathLike, *, story: str | None = None,
                note: str = "") -> None:
    """Show ``fig`` in a chapter as a numbered figure with its caption, and close it.

    The figure (a matplotlib figure, or any object a notebook can display, e.g.
    ``IPython.display.HTML``) is glued under its key (:func:`glue_key`) without being
    displayed, then a MyST ``{glue:figure}`` directive with :func:`caption` is displayed
    as Markdown (the cell's ``mystnb.markdown_format`` metadata is ``myst``, which
    ``tests/test_figures.py`` checks).  Nothing is returned, so that a cell ending with it
    prints no stray value; the figure's anchor in the book is :func:`glue_key`.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display
    from myst_nb import glue

    key = glue_key(label, story)
    glue(key, fig, display=False)
    if isinstance(fig, plt.Figure):
        plt.close(fig)
    display(Markdown(f"```{{glue:figure}} {key}\n:name: {key}\n\n"
                     f"{caption(label, run_dir, story=story, note=note)}\n```"))


#: Where the runner's publication puts each chapter's tables, beside the published chapters
#: (``<TABLES>/<stage>/``; :func:`anbn_utils.runner.execute.publish_notebooks`).
TABLES = "tables"


def show_table(table, stage: str, file: str) -> None:
    """Show a table of a chapter and, under it, a link to the stage's file it shows
    (``file``, relative to the stage folder: ``best_pairs.tsv``, ``pieman/an_tags.tsv``),
    which the published book holds beside the chapter (MyST renders the link as a download
    in a cell whose ``mystnb.markdown_format`` is ``myst``). Long texts are shown whole
    (pandas cuts them at 50 characters); the table scrolls in its box."""
    import pandas as pd
    from IPython.display import Markdown, display

    with pd.option_context("display.max_colwidth", None):
        display(table)
    display(Markdown(f"The table as a file: [`{file}`]({TABLES}/{stage}/{file})"))


def min_displayed_fontsize(fig, *, content_px: int = CONTENT_PX) -> float:
    """The smallest font size (pt) of ``fig``'s visible text as the reader sees it.

    The figure is saved at its dpi and shown at its natural width, or scaled down to the
    content column (``content_px`` CSS px) when wider; a CSS pixel is 1/96 in, so a font
    of ``f`` pt shows at ``f * min(dpi, content_px / width_in) / 96`` pt.
    """
    from matplotlib.text import Text

    fig.canvas.draw()
    px_per_inch = min(fig.dpi, content_px / fig.get_figwidth())
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_figure() is fig]
    return min(sizes) * px_per_inch / 96 if sizes else float("inf")


def readme_table() -> str:
    """The README's "Paper figures" table: each paper figure, the notebook and the book
    figure (anchor) that regenerate it, and the artifact it is drawn from."""
    rows = ["| paper figure | notebook | book figure | artifact (in the run directory) |",
            "|---|---|---|---|"]
    names = dict(zip(PAPER_STORIES, ("Pie Man", "Shapes")))
    for paper, entries in by_paper_figure().items():
        for entry, story in entries:
            label = f"`{entry.label}`" + (f" ({names[story]})" if story else "")
            rows.append(f"| {paper} | `notebooks/{entry.stage}.ipynb` | {label} "
                        f"| `{entry.artifact}` |")
    return "\n".join(rows)
