"""Which package source a computation depends on, and its hash.

Caches and checkpoints are keyed by the code that produced them (besides their inputs), so
an edit of that code never serves a stale result: the runner keys each stage by the
modules its notebook imports, the BOLD cache by :mod:`anbn_utils.narratives.bold`, VS-DBN
checkpoints by :mod:`anbn_utils.bns.vsdbn`.  The dependency set of a module is its *import
closure*, read from the source with :mod:`ast` (imports inside functions included), so
editing an unrelated module does not invalidate anything.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DATA_FILES", "PACKAGE_DIR", "code_files", "code_hash", "library_versions",
           "module_imports", "source_closure"]

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


def _module_file(module: str) -> Path | None:
    """Source file of a module of this package (``anbn_utils.x.y``), or None."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Modules of this package that ``tree`` (the source of ``module``) imports, anywhere
    (also inside functions): ``from .x import y`` gives ``x`` and ``x.y`` when it is one."""
    out = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if _module_file(m) is not None}


def source_closure(roots: Sequence[str], *, parents: bool = True) -> list[Path]:
    """Source files of the package modules ``roots`` run when imported: the modules, the
    packages above them and, recursively, every package module they import.

    With ``parents=False`` the packages above a module (their ``__init__.py``, which may
    import every sibling) are left out: the code a function of the module *runs*, which is
    what a cache of that function's results depends on."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        module = stack.pop()
        if module in seen or _module_file(module) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        if parents:
            stack.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        path = _module_file(module)
        stack.extend(module_imports(ast.parse(path.read_text()), module,
                                    path.name == "__init__.py"))
    return sorted(_module_file(m) for m in seen)


#: The package's data files that code reads, by the module that reads them (the phantom's
#: stories, the explorer's script): part of the code of whatever runs that module.  Not
#: the profiles and studies, whose content reaches the stages as parameters, nor any other
#: file lying in the package (an editor's swap file).
DATA_FILES = {"anbn_utils.phantom": ("phantom_stories/*.txt",),
              "anbn_utils.plotting.explorer": ("plotting/explorer.js",)}


def code_files(roots: Sequence[str], *, data_files: bool = True,
               parents: bool = True) -> dict[str, str]:
    """``{path relative to the package: SHA-256}`` of :func:`source_closure` of ``roots``
    (``parents`` as there) and, with ``data_files``, of the :data:`DATA_FILES` of the
    modules in that closure."""
    files = set(source_closure(roots, parents=parents))
    if data_files:
        files |= {p for module, patterns in DATA_FILES.items()
                  if _module_file(module) in files for pattern in patterns
                  for p in PACKAGE_DIR.glob(pattern) if p.is_file()}
    return {str(path.relative_to(PACKAGE_DIR)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(files)}


def code_hash(roots: Sequence[str], *, data_files: bool = True, parents: bool = True) -> str:
    """SHA-256 of :func:`code_files` (the files' paths and contents)."""
    h = hashlib.sha256()
    for name, digest in code_files(roots, data_files=data_files, parents=parents).items():
        h.update(name.encode())
        h.update(digest.encode())
    return h.hexdigest()


def library_versions(sources: Sequence[str], roots: Sequence[str] = ()) -> dict[str, str]:
    """``{distribution: version}`` of the third-party libraries that ``sources`` (code as
    text) and the package modules ``roots`` with their :func:`source_closure` import (imports
    inside functions included; the standard library left out), and ``python``."""
    import platform
    import sys
    from importlib.metadata import PackageNotFoundError, version

    trees = [ast.parse(src) for src in sources]
    trees += [ast.parse(path.read_text()) for path in source_closure(roots)]
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    names -= {PACKAGE, "__future__", *sys.stdlib_module_names}
    dists = _distributions()
    out = {"python": platform.python_version()}
    for name in sorted(names):
        for dist in dists.get(name, []):
            try:
                out[dist] = version(dist)
            except PackageNotFoundError:
                continue
    return out


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Top-level import name -> installed distributions (read once: it scans them all)."""
    from importlib.metadata import packages_distributions

    return packages_distributions()
