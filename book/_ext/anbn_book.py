"""Sphinx extension of the anbn book.

- The ``{value}`` role prints a number read from the file that holds it (an artifact of the
  run the book is built from, a committed benchmark result, a profile or a package
  constant); no result is typed in the book.  Syntax and sources: :mod:`book_values`.
  ``tests/test_book_numbers.py`` fails on a number typed outside such a role and states
  which numbers are not results (figure, equation and chapter numbers, names, years).
- The ``{tsv-table}`` directive shows a TSV artifact of the run as a table (the claims of
  chapter 07 on the landing page), and ``{paper-gallery}`` each figure of the paper beside
  the book's figures that regenerate it (thumbnails of the executed notebooks' glued
  figures, linked to them; the registry is :mod:`anbn_utils.figures`); ``{stage-files}``
  lists a stage folder's files from its stage module (``anbn_utils.stages.<stage>.FILES``),
  so the Artifacts page is generated from the code that writes them.
- Repeated inline scripts are dropped from every page: sphinx-thebe 0.3 (loaded by
  Jupyter Book 1) adds its inline configuration script once per read of the environment;
  Jupyter Book reads it twice, so each page declared ``const THEBE_JS_URL`` twice and the
  browser logged a SyntaxError.  Each script is kept once (first occurrence).
- The repository button links to the repository the book is built from, read from that
  build (GitHub Actions' ``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``, else the clone's
  ``origin``), so no address is typed anywhere; with neither (a clone of a local folder)
  the book has no such button.  Credentials in a remote's address never reach the page.
"""

import base64
import html
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives

sys.path.insert(0, str(Path(__file__).parent))
# the book reads the package of the checkout it is built from (the figure registry, the
# constants of {value} references), not another installed copy
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from book_values import Resolver, UnresolvedValue, evaluate

#: Width (px) of the gallery's thumbnails.
THUMB_PX = 200
#: Glued outputs' MIME prefix (myst-nb's ``glue(..., display=False)``).
GLUE_PREFIX = "application/papermill.record/"


def _value_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    root = Path(env.srcdir)  # the book is built from the repository root
    resolver = Resolver(root=root, run_file=root / "book" / "executed" / "RUN.txt")
    try:
        shown = evaluate(text, resolver)
    except UnresolvedValue as e:
        msg = inliner.reporter.error(f"{{value}}`{text}`: {e}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    for path in resolver.read:  # the page is rebuilt when a file it reads changes
        env.note_dependency(str(path))
        rel = Path(path).resolve()
        if rel.is_relative_to((root / RESULTS).resolve()) and rel.suffix == ".json":
            if not hasattr(env, "anbn_results"):
                env.anbn_results = {}
            env.anbn_results.setdefault(env.docname, set()).add(
                str(rel.relative_to(root.resolve())))
    return [nodes.inline(rawtext, shown, classes=["anbn-value"])], []


#: The committed results files (``benchmarks/results``): a page that shows numbers from
#: them names each file's commit and date (:func:`_results_provenance`).
RESULTS = Path("benchmarks") / "results"


def results_provenance_text(root: Path, files) -> str:
    """"Committed results on this page: <file> (commit <c>, <date>); ..." for ``files``
    (relative to ``root``), read from each file's ``commit`` and ``date``."""
    parts = []
    for name in sorted(files):
        data = json.loads((root / name).read_text())
        date = str(data["date"])[:10] if data.get("date") else "date not recorded"
        parts.append(f"{name} (commit {data.get('commit') or 'not recorded'}, {date})")
    return "Committed results on this page: " + "; ".join(parts) + "."


def _results_provenance(app, doctree, docname):
    """At the end of a page that shows numbers of committed results files, their commits
    and dates (a number can be older than the code that built the book)."""
    files = getattr(app.env, "anbn_results", {}).get(docname)
    if files:
        text = results_provenance_text(Path(app.env.srcdir), files)
        doctree += nodes.paragraph(text, text, classes=["anbn-results-provenance"])


def _purge_results(app, env, docname):
    getattr(env, "anbn_results", {}).pop(docname, None)


def _merge_results(app, env, docnames, other):
    if not hasattr(env, "anbn_results"):
        env.anbn_results = {}
    for name in docnames:
        if name in getattr(other, "anbn_results", {}):
            env.anbn_results[name] = other.anbn_results[name]


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # an inline script has no file name (None or ''): compare its attributes (body)
        key = (getattr(script, "filename", None) or "", repr(getattr(script, "attributes", {})))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def repository_url(environ, remote: str | None = None) -> str | None:
    """The web address of the repository: ``environ``'s GitHub Actions variables, else the
    git ``remote`` (``https://host/owner/name`` or ``git@host:owner/name``, without its
    credentials or ``.git``); ``None`` for anything else (a local path)."""
    server, repo = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    if server and repo:
        return f"{server.rstrip('/')}/{repo}"
    match = (re.fullmatch(r"(?:https?|ssh|git)://(?:[^@/]*@)?([^/:]+)(?::\d+)?/(.+?)(?:\.git)?/?",
                          remote or "")
             or re.fullmatch(r"[^@/:]+@([^/:]+):(.+?)(?:\.git)?/?", remote or ""))
    return f"https://{match[1]}/{match[2]}" if match else None


def _git_remote(root) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def _repository_button(app, config):
    url = repository_url(os.environ, _git_remote(app.srcdir))
    if url:
        config.html_theme_options = {**config.html_theme_options, "repository_url": url,
                                     "use_repository_button": True}
def _resolver(env) -> Resolver:
    root = Path(env.srcdir)
    return Resolver(root=root, run_file=root / "book" / "executed" / "RUN.txt")


def table_columns(spec: str | None, available: list[str]) -> list[str]:
    """The columns a ``{tsv-table}`` shows: those of ``spec`` (comma-separated; ``name?`` is
    shown only when the file has it, e.g. a run without a null phantom), else all."""
    if spec is None:
        return available
    wanted = [c.strip() for c in spec.split(",") if c.strip()]
    shown = [c.rstrip("?") for c in wanted if not c.endswith("?") or c.rstrip("?") in available]
    missing = [c for c in shown if available and c not in available]
    if missing:
        raise ValueError(f"no column {', '.join(missing)} (columns: {', '.join(available)})")
    return shown


class TsvTable(Directive):
    """A table read from a TSV file of the run (or the repository), e.g.::

        ```{tsv-table} @run/07_verdict/claims.tsv
        :columns: claim, paper, this run, null phantom?, verdict
        ```

    The source is written as in the ``{value}`` role (``@run/...`` or a path); the page is
    rebuilt when the file changes; a missing file or column is an error, except a column
    written ``name?``, shown only when the file has it.
    """

    required_arguments = 1
    option_spec = {"columns": directives.unchanged,  # noqa: RUF012 (docutils' API)
                   "class": directives.class_option}

    def run(self):
        env = self.state.document.settings.env
        resolver = _resolver(env)
        try:
            rows = resolver.document(self.arguments[0])
        except UnresolvedValue as e:
            raise self.error(f"tsv-table {self.arguments[0]}: {e}") from None
        for path in resolver.read:
            env.note_dependency(str(path))
        try:
            columns = table_columns(self.options.get("columns"), list(rows[0]) if rows else [])
        except ValueError as e:
            raise self.error(f"tsv-table {self.arguments[0]}: {e}") from None
        table = nodes.table(classes=["anbn-tsv"] + self.options.get("class", []))
        group = nodes.tgroup(cols=len(columns))
        table += group
        group += [nodes.colspec(colwidth=1) for _ in columns]
        head, body = nodes.thead(), nodes.tbody()
        group += [head, body]
        for target, cells in [(head, columns)] + [(body, [r[c] for c in columns]) for r in rows]:
            row = nodes.row()
            for cell in cells:
                row += nodes.entry("", nodes.paragraph(text=str(cell)))
            target += row
        return [table]


class StageFiles(Directive):
    """The files of a stage folder, from the stage module's ``FILES``
    (:class:`anbn_utils.stages._base.StageFile`: the package describes what it writes)::

        ```{stage-files} 05_pos
        :rows: story
        ```

    ``rows``: ``story`` (the files of each story's folder) or ``stage`` (the others); default
    all.  The rows are Markdown (roles such as ``{value}`` work in them).
    """

    required_arguments = 1
    option_spec = {"rows": lambda arg: directives.choice(arg, ("story", "stage"))}  # noqa: RUF012

    def run(self):
        import importlib

        from docutils.statemachine import StringList

        stage = self.arguments[0]
        try:
            module = importlib.import_module(f"anbn_utils.stages.{stage.split('_', 1)[1]}")
            files = module.FILES
        except (ImportError, AttributeError, IndexError):
            raise self.error(f"stage-files {stage}: no anbn_utils.stages module with FILES "
                             "for that stage") from None
        wanted = self.options.get("rows")
        rows = [f for f in files if wanted in (None, "story" if f.per_story else "stage")]
        lines = ["| file | content |", "|---|---|",
                 *(f"| {f.name} | {f.content} |" for f in rows)]
        self.state.document.settings.env.note_dependency(module.__file__)
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source=module.__file__), self.content_offset,
                                node)
        return node.children


class paper_gallery(nodes.General, nodes.Element):
    """Placeholder of the gallery, filled once every figure's anchor is known."""


class PaperGallery(Directive):
    """Each figure of the paper beside the book's figures that regenerate it: thumbnails read
    from the executed notebooks (``book/executed/*.ipynb``, their glued outputs) and links to
    the figures, from the registry :data:`anbn_utils.figures.FIGURES`."""

    def run(self):
        env = self.state.document.settings.env
        for path in sorted((Path(env.srcdir) / "book" / "executed").glob("*.ipynb")):
            env.note_dependency(str(path))
        return [paper_gallery()]


def _glued_outputs(notebook: Path) -> dict:
    """Glue key -> MIME bundle (without the glue prefix) of an executed notebook."""
    out = {}
    if not notebook.is_file():
        return out
    for cell in json.loads(notebook.read_text()).get("cells", []):
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                out[name] = {k.removeprefix(GLUE_PREFIX): v for k, v in output["data"].items()}
    return out


def _thumbnail(png_b64) -> str:
    """A PNG (base64) scaled to THUMB_PX wide, as a data URI."""
    from PIL import Image

    png_b64 = "".join(png_b64) if isinstance(png_b64, list) else png_b64
    image = Image.open(io.BytesIO(base64.b64decode(png_b64)))
    if image.width > THUMB_PX:
        image = image.resize((THUMB_PX, round(image.height * THUMB_PX / image.width)),
                             Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _gallery_html(app, fromdocname: str) -> str:
    from anbn_utils.figures import PAPER_FIGURES, by_paper_figure

    env = app.builder.env
    executed = Path(env.srcdir) / "book" / "executed"
    labels = env.domaindata["std"]["labels"]
    glued: dict[str, dict] = {}
    rows = []
    for paper, entries in by_paper_figure().items():
        cells = []
        for entry, story in entries:
            if entry.stage not in glued:
                glued[entry.stage] = _glued_outputs(executed / f"{entry.stage}.ipynb")
            keys = [k for k in glued[entry.stage]
                    if k == entry.label or (story and k.startswith(f"{entry.label}-{story}"))]
            if not keys:
                cells.append(f'<div class="anbn-gallery-missing">{html.escape(entry.title)}: '
                             "not drawn by this run</div>")
            for key in keys:
                target = labels.get(key)
                href = (app.builder.get_relative_uri(fromdocname, target[0]) + "#" + target[1]
                        if target else "")
                bundle = glued[entry.stage][key]
                name = html.escape(entry.title + (f" ({key.removeprefix(entry.label + '-')})"
                                                  if key != entry.label else ""))
                if "image/png" in bundle:
                    inner = (f'<img src="{_thumbnail(bundle["image/png"])}" alt="{name}" '
                             f'style="width:{THUMB_PX}px;max-width:100%;height:auto">')
                else:
                    inner = '<span class="anbn-gallery-html">[interactive view]</span>'
                cells.append(f'<figure style="margin:0 0.8em 0.8em 0;display:inline-block;'
                             f'vertical-align:top;width:{THUMB_PX}px;max-width:100%">'
                             f'<a href="{href}">{inner}</a><figcaption style="font-size:0.85em">'
                             f'<a href="{href}">{name}</a></figcaption></figure>')
        rows.append(f'<tr><th style="vertical-align:top;width:12em">{paper}<br>'
                    f'<span style="font-weight:normal;font-size:0.85em">'
                    f'{html.escape(PAPER_FIGURES[paper])}</span></th>'
                    f'<td>{"".join(cells)}</td></tr>')
    return ('<div class="anbn-gallery" style="overflow-x:auto"><table class="table">'
            "<thead><tr><th>the paper's figure</th><th>the book's figures that regenerate it "
            "(click one for its chapter)</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table></div>")


class book_figure(nodes.General, nodes.Element):
    """Placeholder of a chapter's figure shown on another page."""


class BookFigureDirective(Directive):
    """A figure of the registry (:data:`anbn_utils.figures.FIGURES`), by its label, as its
    chapter's executed notebook glued it, with a link to it."""

    required_arguments = 1

    def run(self):
        from anbn_utils.figures import figure

        env = self.state.document.settings.env
        entry = figure(self.arguments[0])
        env.note_dependency(str(Path(env.srcdir) / "book" / "executed" / f"{entry.stage}.ipynb"))
        node = book_figure()
        node["label"] = entry.label
        return [node]


def _book_figure_html(app, fromdocname: str, label: str) -> str:
    from anbn_utils.figures import figure

    entry = figure(label)
    env = app.builder.env
    bundle = _glued_outputs(Path(env.srcdir) / "book" / "executed" / f"{entry.stage}.ipynb").get(label)
    if not bundle or "image/png" not in bundle:
        raise RuntimeError(f"{{book-figure}} {label}: the executed {entry.stage} notebook has no "
                           "such figure; run that stage (make book)")
    png = "".join(bundle["image/png"]) if isinstance(bundle["image/png"], list) else bundle["image/png"]
    target = env.domaindata["std"]["labels"].get(label)
    href = app.builder.get_relative_uri(fromdocname, target[0]) + "#" + target[1] if target else ""
    return (f'<figure class="anbn-book-figure"><a href="{href}"><img src="data:image/png;base64,'
            f'{png}" alt="{html.escape(entry.title)}" style="max-width:100%;height:auto"></a>'
            f'<figcaption><a href="{href}">{html.escape(entry.title)}</a> (chapter '
            f'{html.escape(entry.stage)})</figcaption></figure>')


def _fill_gallery(app, doctree, fromdocname):
    for node in doctree.findall(paper_gallery):
        node.replace_self(nodes.raw("", _gallery_html(app, fromdocname), format="html"))
    for node in doctree.findall(book_figure):
        node.replace_self(nodes.raw("", _book_figure_html(app, fromdocname, node["label"]),
                                    format="html"))


def setup(app):
    app.add_role("value", _value_role)
    app.connect("config-inited", _repository_button)
    app.add_directive("tsv-table", TsvTable)
    app.add_directive("stage-files", StageFiles)
    app.add_node(paper_gallery)
    app.add_directive("paper-gallery", PaperGallery)
    app.add_node(book_figure)
    app.add_directive("book-figure", BookFigureDirective)
    app.connect("doctree-resolved", _fill_gallery)
    app.connect("doctree-resolved", _results_provenance)
    app.connect("env-purge-doc", _purge_results)
    app.connect("env-merge-info", _merge_results)
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
