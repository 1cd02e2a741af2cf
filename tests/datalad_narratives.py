"""A real DataLad dataset in the Narratives layout, for the downloader tests.

:func:`build_source` writes a small dataset with :func:`anbn_utils.synthetic.make_narratives_like`
and saves it with DataLad as ``///labs/hasson/narratives`` is organised: a superdataset
(raw BIDS ``events.tsv`` and ``code/scan_exclude.json`` in git) with the subdatasets
``derivatives/afni-smooth`` (BOLD and masks, annexed) and ``stimuli``, which holds
``stimuli/gentle`` (the Gentle files, in git).  NIfTI files are annexed, the small
text files are in git.  Files that no run reads are added next to the needed ones
(another task's BOLD, surface and intermediate derivatives, raw BOLD, audio), so that
a test can see that the downloader leaves them alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np

from anbn_utils.narratives.download import SUBDATASETS
from anbn_utils.narratives.layout import mask_path
from anbn_utils.synthetic import make_narratives_like

#: Git identity for the tests' commits (set in the environment, never in a git config).
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "anbn tests", "GIT_AUTHOR_EMAIL": "tests@anbn.invalid",
    "GIT_COMMITTER_NAME": "anbn tests", "GIT_COMMITTER_EMAIL": "tests@anbn.invalid",
}

#: Pie Man subjects written (sub-001 ... sub-014) and those among them with two runs
#: (from the dataset's ``task_meta.json``, see the project's narratives notes).
N_PIEMAN = 14
PIEMAN_TWO_RUNS = {1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14}

BOLD = "space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz"

_FUNC = "derivatives/afni-smooth/sub-002/func/"
#: Annexed files added to the source that no run reads (besides the second runs and the
#: other task, which make_narratives_like writes).
DECOYS = (
    _FUNC + "sub-002_task-piemanpni_" + BOLD,  # another task
    _FUNC + "sub-002_task-pieman_run-1_space-fsaverage6_hemi-L_desc-clean.func.gii",
    _FUNC + "sub-002_task-pieman_run-1_space-MNI152NLin2009cAsym_res-native_desc-sm6_bold.nii.gz",
    "sub-002/func/sub-002_task-pieman_run-1_bold.nii.gz",  # raw BOLD
    "stimuli/pieman_audio.wav",
)

_ATTRIBUTES = "* annex.largefiles=nothing\n*.nii.gz annex.largefiles=anything\n" \
              "*.gii annex.largefiles=anything\n*.wav annex.largefiles=anything\n"


def require_tools() -> None:
    """Fail (not skip: CI installs them) with how to install what is missing."""
    import pytest

    problems = []
    try:
        import datalad.api  # noqa: F401
    except ImportError:
        problems.append("the datalad package (`pip install -c requirements/constraints.txt "
                        "-e '.[dev,download]'`, as `make venv` does)")
    if shutil.which("git-annex") is None:
        problems.append("git-annex (`apt-get install git-annex`, as .ci/run does)")
    if problems:
        pytest.fail("the downloader tests run the real DataLad; install "
                    + " and ".join(problems), pytrace=False)


def _dataset_dirs(root: Path) -> list[Path]:
    return [root] + [root / sub for sub in SUBDATASETS]


def build_source(path: Path) -> Path:
    """Write and save the source dataset at ``path`` (about 5 s)."""
    import datalad.api as dl

    dl.create(str(path), result_renderer="disabled")
    made = [path]
    for sub in SUBDATASETS:  # each in the deepest dataset made so far that contains it
        parent = max((d for d in made if (path / sub).is_relative_to(d)),
                     key=lambda d: len(d.parts))
        dl.create(str(path / sub), dataset=str(parent), result_renderer="disabled")
        made.append(path / sub)
    for d in _dataset_dirs(path):
        with open(d / ".gitattributes", "a") as f:
            f.write(_ATTRIBUTES)
    make_narratives_like(path, tasks=("pieman", "shapessocial"),
                         n_subjects={"pieman": N_PIEMAN, "shapessocial": 3},
                         shape=(3, 3, 3), random_state=3)
    # The real masks differ per task (each is on its task's grid); these share one grid,
    # so tell them apart, else git-annex stores them as one content (one key)
    for task in ("pieman", "shapessocial"):
        mask = nib.load(mask_path(path, task))
        mask.header["descrip"] = f"brain mask of {task}".encode()
        nib.save(nib.Nifti1Image(np.asanyarray(mask.dataobj), mask.affine, mask.header),
                 mask_path(path, task))
    rng = np.random.default_rng(3)
    for rel in DECOYS:
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(rng.bytes(4096))
    dl.save(dataset=str(path), recursive=True, message="Narratives-like test dataset",
            result_renderer="disabled")
    return path


def annexed_present(root: Path) -> set[str]:
    """Annexed files of ``root`` and its installed subdatasets whose content is here,
    relative to ``root``, as git-annex itself lists them."""
    out = set()
    for d in _dataset_dirs(root):
        if not (d / ".git").exists():
            continue
        listing = subprocess.run(["git", "annex", "find", "--in", "here"], cwd=d,
                                 capture_output=True, text=True, check=True).stdout
        out |= {str((d / line).relative_to(root)) for line in listing.splitlines()}
    return out


def object_of(source: Path, rel: str) -> Path:
    """The annex object (content) of an annexed file of the source."""
    return Path(os.path.realpath(source / rel))
