"""The downloader against a real DataLad dataset in the Narratives layout (real DataLad
and git-annex: see tests/datalad_narratives.py), cloned from its path as a user clones
``///labs/hasson/narratives``."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datalad_narratives import (
    BOLD,
    DECOYS,
    GIT_IDENTITY,
    N_PIEMAN,
    PIEMAN_TWO_RUNS,
    annexed_present,
    build_source,
    object_of,
    require_tools,
)

from anbn_utils.errors import DataError
from anbn_utils.narratives import download, select_scans
from anbn_utils.narratives.download import _datalad, main

MASK = ("derivatives/afni-smooth/tpl-MNI152NLin2009cAsym/"
        "tpl-MNI152NLin2009cAsym_res-{}_desc-brain_mask.nii.gz")


def bold(subject: int, task: str = "pieman") -> str:
    """The BOLD file a run reads for a subject: its first run (the notes' rule)."""
    sub = f"sub-{subject:03d}"
    run = "_run-1" if task == "pieman" and subject in PIEMAN_TWO_RUNS else ""
    return f"derivatives/afni-smooth/{sub}/func/{sub}_task-{task}{run}_{BOLD}"


#: Annexed files a Pie Man run reads: the mask and one scan per subject, sub-001 left out
#: (both its runs are in the real scan_exclude.json); no second run (sub-013's and
#: sub-014's are excluded too, the others are not read).
PIEMAN = {MASK.format("pieman")} | {bold(s) for s in range(2, N_PIEMAN + 1)}


@pytest.fixture(scope="session")
def source(tmp_path_factory):
    require_tools()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in GIT_IDENTITY.items():
            mp.setenv(name, value)
        return build_source(tmp_path_factory.mktemp("datalad") / "narratives")


@pytest.fixture(autouse=True)
def git_identity(monkeypatch):
    for name, value in GIT_IDENTITY.items():
        monkeypatch.setenv(name, value)


def paths(files, status):
    return set(files.loc[files["status"] == status, "path"])


def fsck(root: Path) -> None:
    """git-annex checks the checksum of every file content present in the clone."""
    for d in (root, root / "derivatives" / "afni-smooth"):
        subprocess.run(["git", "annex", "fsck", "--quiet"], cwd=d, check=True,
                       capture_output=True)


def test_download_fetches_exactly_what_the_runs_read(source, tmp_path):
    root = tmp_path / "narratives"
    dry = download(root, ["pieman"], source=str(source), dry_run=True)
    assert (root / "derivatives" / "afni-smooth" / ".datalad").is_dir()  # cloned, installed
    assert (root / "stimuli" / "gentle" / ".datalad").is_dir()
    assert annexed_present(root) == set()  # the dry run fetched no content
    assert paths(dry, "to fetch") == PIEMAN

    got = download(root, ["pieman"], source=str(source), jobs=2)
    assert list(got["path"]) == list(dry["path"])  # the dry run listed the same files
    assert paths(got, "fetched") == PIEMAN
    # nothing else: no second run, no excluded scan, no other task, no decoy
    assert annexed_present(root) == PIEMAN
    assert not any((root / d).resolve().is_file() for d in DECOYS)
    assert paths(got, "excluded") == {bold(1), "sub-001/func/sub-001_task-pieman_run-1_events.tsv"}
    assert {"code/scan_exclude.json", "stimuli/gentle/pieman/align.json",
            "stimuli/gentle/pieman/align.csv",
            "sub-014/func/sub-014_task-pieman_run-1_events.tsv"} <= paths(got, "present")
    assert got.loc[got["path"].isin(PIEMAN), "annexed"].all()
    assert not got.loc[got["path"] == "code/scan_exclude.json", "annexed"].any()
    sizes = dict(zip(got["path"], got["size"]))
    assert all(sizes[p] == (root / p).stat().st_size for p in got["path"][~got["excluded"]])
    fsck(root)
    # the data stage finds every scan it reads, and those are the ones fetched
    scans = select_scans(root, "pieman")
    assert {str(Path(p).relative_to(root)) for p in scans["bold_path"]} == PIEMAN - {
        MASK.format("pieman")}

    objects = {p: (root / p).resolve().stat().st_ino for p in PIEMAN}
    again = download(root, ["pieman"], source=str(source))
    assert set(again["status"]) == {"present", "excluded"}  # a second run fetches nothing
    assert {p: (root / p).resolve().stat().st_ino for p in PIEMAN} == objects
    assert annexed_present(root) == PIEMAN


def test_subjects_and_exclusions_choose_the_files(source, tmp_path, capsys):
    root = tmp_path  # an existing empty folder is cloned into
    chosen = {"pieman": ["sub-001", "sub-002", "sub-013"]}
    dry = download(root, ["pieman", "shapessocial"], subjects=chosen, source=str(source),
                   dry_run=True)
    shapes = {MASK.format("shapessocial")} | {bold(s, "shapessocial") for s in (201, 202, 203)}
    assert paths(dry, "to fetch") == {MASK.format("pieman"), bold(2), bold(13)} | shapes
    assert bold(1) in paths(dry, "excluded")
    every = download(root, ["pieman"], subjects=chosen, exclude=False, dry_run=True)
    assert paths(every, "to fetch") == {MASK.format("pieman"), bold(1), bold(2), bold(13)}
    assert "code/scan_exclude.json" not in set(every["path"])
    with pytest.raises(DataError, match=r"subjects \['sub-099'\] have no scan of task 'pieman'"):
        download(root, ["pieman"], subjects={"pieman": ["sub-099"]}, dry_run=True)
    with pytest.raises(DataError, match=r"subjects\['pieman'\] must be a list .*\['sub-002'\]"):
        download(root, ["pieman"], subjects={"pieman": "sub-002"}, dry_run=True)
    assert annexed_present(root) == set()

    assert main(["--root", str(root), "--task", "pieman", "--subject", "sub-002",
                 "--subject", "sub-007", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert {line.split()[-1] for line in out if line.startswith("to fetch")} == {
        MASK.format("pieman"), bold(2), bold(7)}
    assert re.fullmatch(r"3 to fetch \(.+ kB\); \d+ present \(.+\)", out[-1])


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    start = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the downloader ended (exit code {proc.returncode}) before it "
                        "fetched a file")
        if time.monotonic() - start > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the downloader fetched no file in {timeout} s")
        time.sleep(0.05)


def test_a_killed_download_resumes(source, tmp_path):
    """The downloader (its command line, in its own process) is killed with SIGKILL in the
    middle of its get; running it again fetches the rest and re-fetches nothing."""
    root = tmp_path / "narratives"
    download(root, ["pieman"], source=str(source), dry_run=True)
    deriv = root / "derivatives" / "afni-smooth"
    # git-annex runs this after each file it gets: the first one stops the get there
    marker = tmp_path / "first-file-done"
    subprocess.run(["git", "config", "annex.freezecontent-command",
                    f"touch {marker}; sleep 600"], cwd=deriv, check=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "anbn_utils.narratives.download", "--root", str(root),
         "--task", "pieman", "--jobs", "1"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(marker, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    subprocess.run(["git", "config", "--unset", "annex.freezecontent-command"], cwd=deriv,
                   check=True)
    before = annexed_present(root)
    assert 1 <= len(before) < len(PIEMAN) and before <= PIEMAN  # interrupted mid-way

    got = download(root, ["pieman"])  # the clone is reused; the source is its origin
    assert paths(got, "fetched") == PIEMAN - before
    assert before <= paths(got, "present")
    assert annexed_present(root) == PIEMAN
    fsck(root)


def test_a_file_that_fails_is_named_and_the_next_run_fetches_it(source, tmp_path):
    root = tmp_path / "narratives"
    victim = bold(5)
    content = object_of(source, victim)
    mode = content.parent.stat().st_mode
    content.parent.chmod(mode | 0o700)  # annex object folders are read-only
    content.rename(content.with_name(content.name + ".away"))  # the source lost it for now
    try:
        with pytest.raises(DataError) as err:
            download(root, ["pieman"], source=str(source))
    finally:
        content.with_name(content.name + ".away").rename(content)
        content.parent.chmod(mode)
    message = str(err.value)
    assert f"1 of {len(PIEMAN)} file(s) could not be fetched" in message
    assert str(root / victim) in message and "run the same command again to resume" in message
    assert (root / victim).is_symlink() and not (root / victim).exists()  # broken symlink
    assert annexed_present(root) == PIEMAN - {victim}  # the others are kept

    got = download(root, ["pieman"])
    assert paths(got, "fetched") == {victim}
    assert annexed_present(root) == PIEMAN


def test_a_file_the_dataset_lacks_is_named(source, tmp_path):
    """A scan listed by its events.tsv whose BOLD file is not in the dataset."""
    root = tmp_path / "narratives"
    download(root, ["pieman"], source=str(source), dry_run=True)
    deriv = root / "derivatives" / "afni-smooth"
    lost = Path(bold(3)).relative_to("derivatives/afni-smooth")
    subprocess.run(["git", "rm", "-q", str(lost)], cwd=deriv, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "lose a scan"], cwd=deriv, check=True)
    with pytest.raises(DataError, match=rf"1 file\(s\) that the chosen scans need are not in "
                       rf"the dataset at {re.escape(str(root))}: {re.escape(bold(3))}\. .*"
                       r"Leave those subjects out with --subject"):
        download(root, ["pieman"])
    assert annexed_present(root) == set()  # nothing fetched before the error
    got = download(root, ["pieman"], subjects={"pieman": ["sub-002", "sub-004"]})
    assert paths(got, "fetched") == {MASK.format("pieman"), bold(2), bold(4)}


def test_a_plain_folder_is_refused(source, tmp_path):
    plain = tmp_path / "mydata"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=rf"{re.escape(str(plain))} is a plain folder, not a "
                       r"DataLad dataset .*Pass a new or empty folder as root"):
        download(plain, ["pieman"], source=str(source))
    assert os.listdir(plain) == ["notes.txt"]


def test_a_source_that_is_not_a_datalad_dataset_is_named_and_leaves_nothing_behind(source,
                                                                                   tmp_path):
    """A plain folder as source was reported as a repository that "does not exist"; a plain
    git repository was cloned, then refused, and its clone blocked the retry. A DataLad
    dataset that is not Narratives, cloned by this call, is removed when refused."""
    import datalad.api as dl

    plain = tmp_path / "files"
    plain.mkdir()
    (plain / "a.txt").write_text("a")
    with pytest.raises(DataError, match=rf"source {re.escape(str(plain))} is a plain folder, "
                       r"not a DataLad dataset \(no .git/\): if .* holds the Narratives files, "
                       r"do not download: point the run at it \(dataset_root or \$ANBN_DATA\)"):
        download(tmp_path / "r1", ["pieman"], source=str(plain))
    assert not (tmp_path / "r1").exists()
    subprocess.run(["git", "init", "-q"], cwd=plain, check=True)
    with pytest.raises(DataError, match=r"is a git repository but not a DataLad dataset "
                                        r"\(no .datalad/\)"):
        download(tmp_path / "r1", ["pieman"], source=str(plain))
    assert not (tmp_path / "r1").exists()
    other = tmp_path / "other"
    dl.create(str(other), result_renderer="disabled")
    with pytest.raises(DataError, match=r"could not be installed.*\(the clone this call made "
                                        r"at .*r1 was removed: the same command can run again\)"):
        download(tmp_path / "r1", ["pieman"], source=str(other))
    assert not (tmp_path / "r1").exists()
    files = download(tmp_path / "r1", ["pieman"], source=str(source), dry_run=True)
    assert len(files) and (tmp_path / "r1" / ".datalad").is_dir()  # the retry is not blocked


def test_a_dataset_that_is_not_narratives_is_refused(source, tmp_path):
    import datalad.api as dl

    other = tmp_path / "other"
    dl.create(str(other), result_renderer="disabled")
    with pytest.raises(DataError, match=rf"{re.escape(str(other))} is a DataLad dataset, but "
                       r"its subdataset\(s\) .*derivatives/afni-smooth \(path does not exist\).*"
                       r"pass a new or empty folder as root"):
        download(other, ["pieman"])


def test_an_unreachable_source_is_named(tmp_path):
    require_tools()
    nowhere = tmp_path / "nowhere"
    with pytest.raises(DataError, match=rf"cloning {re.escape(str(nowhere))} into .* failed"):
        download(tmp_path / "n", ["pieman"], source=str(nowhere))
    assert not (tmp_path / "n").exists()


def test_missing_git_annex_is_named_with_its_install(tmp_path, monkeypatch):
    require_tools()
    annex = shutil.which("git-annex")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(DataError, match=rf"git-annex is not on PATH \({re.escape(str(bindir))}\)"
                       r".*apt-get install git-annex"):
        download(tmp_path / "n", ["pieman"])
    assert not (tmp_path / "n").exists()
    # git-annex finds the datalad package's helpers (special remotes) without an
    # activated environment: the environment's scripts folder is on PATH while it runs
    (bindir / "git-annex").symlink_to(annex)
    with _datalad():
        assert shutil.which("git-annex-remote-datalad") == str(
            Path(sys.executable).parent / "git-annex-remote-datalad")
    assert os.environ["PATH"] == str(bindir)


def test_missing_datalad_package_is_named_with_its_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datalad.api", None)
    with pytest.raises(DataError, match=r"the Python package datalad is missing .*"
                       r"pip install -c requirements/constraints.txt -e '\.\[download\]'"):
        download(tmp_path / "n", ["pieman"])


def test_missing_git_identity_is_named_with_its_fix(tmp_path, monkeypatch):
    require_tools()
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tuseConfigOnly = true\n")  # git must not guess one
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in [*GIT_IDENTITY, "EMAIL"]:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DataError, match=r"git has no user identity.*git config --global "
                       r"user.name"):
        download(tmp_path / "n", ["pieman"])
    assert not (tmp_path / "n").exists()
