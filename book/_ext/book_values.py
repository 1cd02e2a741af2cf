"""Numbers of the book read from the files that hold them (the ``{value}`` role).

No result is typed in the book's text: a number is written as a reference to the artifact,
committed results file, profile or package constant that holds it, and the build prints it.

Syntax
------
``{value}`EXPRESSION ; FILTER ; FILTER ...` ``, for example::

    {value}`benchmarks/results/vsdbn_cpu.json#/times_s/nilearn_canica_fit / 60 ; .0f`
    {value}`benchmarks/results/scaling_cpu.json#/points/[axis=voxels]/seconds ; join " -> "`
    {value}`anbn_utils/profiles/paper.yaml#/params/n_hidden ; join /`
    {value}`anbn_utils.paper.COUPLING#/*/ans_significant_pct ; range ; .1f`
    {value}`@run/04_coupling/summary.json#/stories/pieman/nulls/phase/ans_significant_pct`

A **reference** is ``SOURCE#POINTER``:

- ``SOURCE`` is a file relative to the repository root (``.json``, ``.yaml``/``.yml``,
  ``.tsv``), a file of the run the book was built from (``@run/...``: the run directory
  named in ``book/executed/RUN.txt``), or a dotted Python name (``anbn_utils.paper.COUPLING``;
  a function stands for the defaults of its signature, so
  ``anbn_utils.phantom.make_phantom#/snr`` is ``make_phantom``'s default ``snr``).
- ``POINTER`` is a JSON pointer (RFC 6901: ``/key/0/key``; ``~1`` is ``/``, ``~0`` is
  ``~``; empty for the whole value, as in ``anbn_utils.narratives.layout.TR#``).  A
  ``*`` segment takes every key (or item) at that level, and a ``[key=value]`` segment
  (conditions joined by ``&``) the items of a list whose fields have these values;
  either makes the value a list (``[verdict^=not evidence]``: the items whose field starts
  with the text after ``^=``; ``len`` counts them, zero when none).  A ``.tsv`` file is a list of rows
  (``/0/column``; numbers are parsed).

An **expression** combines references, numbers, ``+ - * / **`` (written with spaces
around them) and parentheses, element-wise over lists: unit conversions (``... / 1e6``)
and ratios of two measurements.  **Filters** follow, each after `` ; `` (not ``|``, which
would split a table cell), applied left to right: ``min``, ``max``, ``mean``, ``sum``,
``len``, ``abs``; ``range`` (a list shown as ``lowest-highest``, or one value when both
print the same); ``join SEP`` (a list joined by SEP, default ``", "``; quote SEP to keep
its spaces: ``join " -> "``); anything else is a Python format specification applied to
each number (``.2f``, ``,``, ``.1%``).  Without one, numbers print as they are stored
(floats without an exponent).

A missing file, key or run is an error naming the reference and the page (the book is
built with ``--warningiserror``).
"""

from __future__ import annotations

import ast
import csv
import importlib
import inspect
import json
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

__all__ = ["REFERENCE", "Resolver", "UnresolvedValue", "evaluate"]

#: a reference: a file (extension), a run file or a dotted Python name, then ``#/pointer``
REFERENCE = re.compile(
    r"(?P<source>@run/[^\s#]+|[\w./-]+\.(?:json|ya?ml|tsv)|[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+)"
    r"#(?P<pointer>(?:/(?:\[[^\]]*\]|[^\s)/\[]*))*)")

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv}
_REDUCE = {"min": np.min, "max": np.max, "mean": np.mean, "sum": np.sum, "len": len,
           "abs": np.abs}


class UnresolvedValue(Exception):
    """A ``{value}`` reference that cannot be read or computed."""


@dataclass
class Resolver:
    """Read references relative to ``root`` (the repository) and the book's run.

    Parameters
    ----------
    root : Path
        Repository root; file sources are relative to it.
    run_file : Path
        File holding the run directory the book was built from (``book/executed/RUN.txt``).
    """

    root: Path
    run_file: Path | None = None
    read: set = field(default_factory=set)  # files read (Sphinx dependencies)
    _cache: dict = field(default_factory=dict)

    def run_dir(self) -> Path:
        if self.run_file is None or not self.run_file.is_file():
            raise UnresolvedValue(
                f"'@run' needs the run the book is built from, named in {self.run_file}: "
                "run `python -m anbn_utils.run` first (it publishes the notebooks and RUN.txt)")
        run = Path(self.run_file.read_text().strip())
        return run if run.is_absolute() else self.root / run

    def document(self, source: str):
        """The object a source names: a parsed file, or a Python object."""
        if source in self._cache:
            return self._cache[source]
        if source.startswith("@run/"):
            self.read.add(self.run_file)
            path = self.run_dir() / source.removeprefix("@run/")
        elif re.search(r"\.(json|ya?ml|tsv)$", source):
            path = self.root / source
        else:
            return self._cache.setdefault(source, self._python(source))
        if not path.is_file():
            raise UnresolvedValue(f"{source}: no such file ({path})")
        self.read.add(path)
        text = path.read_text()
        if path.suffix == ".json":
            doc = json.loads(text)
        elif path.suffix == ".tsv":
            doc = [{k: _number(v) for k, v in row.items()}
                   for row in csv.DictReader(text.splitlines(), delimiter="\t")]
        else:
            doc = yaml.safe_load(text)
        return self._cache.setdefault(source, doc)

    def _python(self, name: str):
        module, _, attr = name.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise UnresolvedValue(f"{name}: cannot import it ({e})") from e
        if (src := inspect.getsourcefile(importlib.import_module(module))) is not None:
            self.read.add(Path(src))
        if callable(obj):  # a function: the defaults of its signature
            return {k: p.default for k, p in inspect.signature(obj).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        return obj

    def get(self, source: str, pointer: str):
        """The value at ``pointer`` in ``source`` (a list where the pointer has ``*``)."""
        values, wild = [self.document(source)], False
        for raw in pointer.split("/")[1:] if pointer else []:
            key = raw.replace("~1", "/").replace("~0", "~")
            if raw.startswith("[") and raw.endswith("]"):
                wild = True
                values = [item for node in values for item in _items(node, source, pointer)
                          if _selected(item, raw[1:-1])]
                continue
            if key == "*":
                wild = True
                values = [v for node in values
                          for v in (node.values() if isinstance(node, dict)
                                    else _items(node, source, pointer))]
                continue
            values = [_child(node, key, source, pointer) for node in values]
        return values if wild else values[0]


def _items(node, source, pointer):
    if isinstance(node, (list, tuple)):
        return node
    raise UnresolvedValue(f"{source}#{pointer}: a '*' or '[...]' segment over a "
                          f"{type(node).__name__}")


def _selected(item, conditions: str) -> bool:
    """Whether ``item`` (a mapping) has every ``key=value`` (or ``key^=prefix``: the value
    starts with it) of ``conditions`` (``&``)."""
    for condition in conditions.split("&"):
        key, _, value = condition.partition("=")
        prefix = key.endswith("^")
        key = key.removesuffix("^")
        if not isinstance(item, dict) or key not in item:
            return False
        if not (str(item[key]).startswith(value) if prefix else str(item[key]) == value):
            return False
    return True


def _child(node, key, source, pointer):
    if isinstance(node, dict):
        for k in (key, _number(key)):
            if k in node:
                return node[k]
        raise UnresolvedValue(f"{source}#{pointer}: no key {key!r} "
                              f"(keys: {', '.join(map(str, node))})")
    if isinstance(node, (list, tuple)):
        try:
            return node[int(key)]
        except (ValueError, IndexError):
            raise UnresolvedValue(f"{source}#{pointer}: no item {key!r} "
                                  f"in a list of {len(node)}") from None
    raise UnresolvedValue(f"{source}#{pointer}: {key!r} inside a {type(node).__name__}")


def _number(text):
    if not isinstance(text, str):
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _array(values: list):
    """Numbers as an array (element-wise arithmetic); anything else stays a list."""
    try:
        out = np.asarray(values)
    except ValueError:  # ragged
        return values
    return values if out.dtype == object else out


def _compute(expression: str, resolver: Resolver):
    names = {}

    def substitute(match):
        name = f"_ref{len(names)}"
        value = resolver.get(match["source"], match["pointer"])
        names[name] = _array(value) if isinstance(value, list) else value
        return name

    code = REFERENCE.sub(substitute, expression)
    if not names:
        raise UnresolvedValue(f"{expression!r} reads no file: a number needs a source "
                              "(SOURCE#/POINTER)")
    try:
        tree = ast.parse(code.strip(), mode="eval").body
    except SyntaxError as e:
        raise UnresolvedValue(f"{expression!r}: not an expression ({e.msg}); write "
                              "operators with spaces around them") from None

    def walk(node):
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = walk(node.left), walk(node.right)
            try:
                return _OPERATORS[type(node.op)](left, right)
            except (TypeError, ValueError, ZeroDivisionError) as e:
                raise UnresolvedValue(f"{expression!r}: {e}") from None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise UnresolvedValue(f"{expression!r}: only references, numbers, + - * / ** "
                              "and parentheses are allowed")

    return walk(tree)


def _format_one(value, spec: str) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError) as e:
            raise UnresolvedValue(f"cannot format {value!r} with {spec!r} ({e})") from None
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    return str(value)


def evaluate(text: str, resolver: Resolver) -> str:
    """The printed value of a ``{value}`` role's text."""
    expression, *filters = [part.strip() for part in text.split(" ; ")]
    value = _compute(expression, resolver)
    spec, joiner, as_range = "", ", ", False
    for f in filters:
        name, _, arg = f.partition(" ")
        if name in _REDUCE:
            value = _REDUCE[name](np.asarray(value)) if name != "len" else len(value)
        elif name == "range":
            as_range = True
        elif name == "join":
            joiner = arg[1:-1] if len(arg) > 1 and arg[0] == arg[-1] == '"' else (arg or ", ")
        else:
            spec = f
    if isinstance(value, (np.ndarray, list, tuple)):
        items = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
        if not items:
            raise UnresolvedValue(f"{text!r}: the reference selects no value")
        if as_range:
            low, high = (_format_one(v, spec) for v in (min(items), max(items)))
            return low if low == high else f"{low}-{high}"
        return joiner.join(_format_one(v, spec) for v in items)
    return _format_one(value, spec)
