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
- The repository button links to the repository the book is built from, read from that
  build (GitHub Actions' ``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``, else the clone's
  ``origin``), so no address is typed anywhere; with neither (a clone of a local folder)
  the book has no such button.  Credentials in a remote's address never reach the page.
"""

import os
import re
import subprocess
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


def setup(app):
    app.add_role("value", _value_role)
    app.connect("config-inited", _repository_button)
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
