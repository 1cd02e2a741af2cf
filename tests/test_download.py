"""The DataLad downloader, run against a fake `datalad` that records its calls."""

import fnmatch
import os
import stat

import pytest

from anbn_utils.errors import DataError
from anbn_utils.narratives import download, download_patterns
from anbn_utils.narratives.download import DATASET_URL, main


def test_patterns_fetch_runs_and_not_piemanpni():
    patterns = download_patterns(["pieman"])
    bold = next(p for p in patterns if p.endswith("desc-clean_bold.nii.gz"))
    base = "derivatives/afni-smooth/sub-013/func/sub-013_task-{}_space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz"
    assert fnmatch.fnmatch(base.format("pieman_run-2"), bold)
    assert fnmatch.fnmatch(base.format("pieman"), bold)  # single-run files have no run entity
    assert not fnmatch.fnmatch(base.format("piemanpni"), bold)
    assert "code/scan_exclude.json" in patterns
    assert "stimuli/gentle/pieman/align.json" in patterns
    with pytest.raises(DataError, match="unknown task"):
        download_patterns(["shapes"])


def test_dry_run_lists_without_running(tmp_path, capsys):
    assert main(["--root", str(tmp_path / "n"), "--task", "shapessocial", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "stimuli/gentle/shapessocial/align.json" in out
    assert not (tmp_path / "n").exists()


def test_missing_tools_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DataError, match=r"datalad and git-annex not found on PATH.*pip install datalad"):
        download(tmp_path / "n", ["pieman"])


@pytest.fixture
def fake_datalad(tmp_path, monkeypatch):
    """A `datalad` that logs its arguments; `clone` makes a tree with one annexed-looking file."""
    bindir, log = tmp_path / "bin", tmp_path / "calls.log"
    bindir.mkdir()
    script = bindir / "datalad"
    script.write_text(f"""#!/bin/sh
echo "$PWD|$*" >> {log}
if [ "$1" = clone ]; then
  mkdir -p "$3/.datalad" "$3/code" "$3/stimuli/gentle/pieman" "$3/derivatives/afni-smooth/sub-002/func"
  touch "$3/code/scan_exclude.json" "$3/stimuli/gentle/pieman/align.json"
  touch "$3/derivatives/afni-smooth/sub-002/func/sub-002_task-pieman_run-1_space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz"
  touch "$3/derivatives/afni-smooth/sub-002/func/sub-002_task-piemanpni_space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz"
fi
[ "$1" = get ] && [ "$2" = -J ] && [ -n "$FAIL_GET" ] && exit 1
exit 0
""")
    (bindir / "git-annex").write_text("#!/bin/sh\nexit 0\n")
    for f in bindir.iterdir():
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_download_clones_installs_and_gets_the_files(tmp_path, fake_datalad, monkeypatch):
    root = tmp_path / "narratives"
    got = download(root, ["pieman"], jobs=2)
    calls = fake_datalad.read_text().splitlines()
    assert calls[0].endswith(f"clone {DATASET_URL} {root}")
    assert [c.split("|")[1] for c in calls[1:4]] == [
        "get -n derivatives/afni-smooth", "get -n stimuli", "get -n stimuli/gentle"]
    assert got == [
        "code/scan_exclude.json",
        "derivatives/afni-smooth/sub-002/func/sub-002_task-pieman_run-1_space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz",
        "stimuli/gentle/pieman/align.json",
    ]
    assert calls[4] == f"{root}|get -J 2 " + " ".join(got)
    # a second call reuses the clone; the dry run now lists real files
    assert download(root, ["pieman"], dry_run=True) == got
    monkeypatch.setenv("FAIL_GET", "1")
    with pytest.raises(DataError, match=r"exit code 1.*network.*re-run to resume"):
        download(root, ["pieman"])


def test_download_refuses_a_non_empty_foreign_folder(tmp_path, fake_datalad):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").touch()
    with pytest.raises(DataError, match="not empty and is not a DataLad dataset"):
        download(tmp_path / "x", ["pieman"])
