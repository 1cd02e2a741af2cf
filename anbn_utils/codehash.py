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
import hashlib
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PACKAGE_DIR", "code_hash", "module_imports", "source_closure"]

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


def code_hash(roots: Sequence[str], *, data_files: bool = True, parents: bool = True) -> str:
    """SHA-256 of :func:`source_closure` of ``roots`` (``parents`` as there) and, with
    ``data_files``, of the package's data files (stories, atlases; not the profiles,
    whose content reaches the stages as parameters)."""
    files = set(source_closure(roots, parents=parents))
    if data_files:
        files |= {p for p in PACKAGE_DIR.rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc")
                  and "__pycache__" not in p.parts and "profiles" not in p.parts}
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(str(path.relative_to(PACKAGE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()

