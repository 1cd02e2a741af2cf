"""Sphinx extension of the anbn book.

- The ``{value}`` role prints a number read from the file that holds it (an artifact of the
  run the book is built from, a committed benchmark result, a profile or a package
  constant); no result is typed in the book.  Syntax and sources: :mod:`book_values`.
  ``tests/test_book_numbers.py`` fails on a number typed outside such a role and states
  which numbers are not results (figure, equation and chapter numbers, names, years).
- Repeated inline scripts are dropped from every page: sphinx-thebe 0.3 (loaded by
  Jupyter Book 1) adds its inline configuration script once per read of the environment;
  Jupyter Book reads it twice, so each page declared ``const THEBE_JS_URL`` twice and the
  browser logged a SyntaxError.  Each script is kept once (first occurrence).
"""

import sys
from pathlib import Path

from docutils import nodes

sys.path.insert(0, str(Path(__file__).parent))
from book_values import Resolver, UnresolvedValue, evaluate


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
    return [nodes.inline(rawtext, shown, classes=["anbn-value"])], []


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # an inline script has no file name (None or ''): compare its attributes (body)
        key = (getattr(script, "filename", None) or "", repr(getattr(script, "attributes", {})))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.add_role("value", _value_role)
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
