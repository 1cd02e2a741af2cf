"""Sphinx extension of the anbn book: drop repeated inline scripts from every page.

sphinx-thebe 0.3 (loaded by Jupyter Book 1) adds its inline configuration script once per
read of the environment; Jupyter Book reads it twice, so each page declared
``const THEBE_JS_URL`` twice and the browser logged a SyntaxError.  Each script is kept
once (first occurrence).
"""


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
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
