"""The papermill runner: profiles, parameter checks, skipping, resuming, failure safety."""

import json

import papermill
import pytest
import yaml

from anbn_utils.config import list_profiles, load_profile
from anbn_utils.errors import ParameterError
from anbn_utils.codehash import PACKAGE_DIR, module_imports, source_closure
from anbn_utils.run import (
    NOTEBOOK_DIR,


    apply_overrides,
    declared_parameters,
    resolve_params,
    run,

)


def _profile(tmp_path, cache_dir, **params):
    spec = {
        "description": "test",
        "dataset": {"kind": "synthetic",
                    "params": {"tasks": ["pieman", "shapessocial"], "n_subjects": 3,
                               "random_state": 1}},
        "params": {"cache_dir": str(cache_dir), **params},
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_shipped_profiles_resolve():
    assert {"phantom", "phantom-null", "paper"} <= set(list_profiles())
    declared = declared_parameters()
    for name in ("phantom", "phantom-null", "paper", "paper-synthetic"):
        per_stage = resolve_params(load_profile(name), declared)
        assert per_stage["01_data"]["tasks"] == ["pieman", "shapessocial"]


def test_unknown_names_are_errors(tmp_path, cache_dir):
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['duration_roundin'\]"):
        run(_profile(tmp_path, cache_dir, duration_roundin="round"), run_dir=tmp_path / "r")
    with pytest.raises(ParameterError, match="may not set"):
        run(_profile(tmp_path, cache_dir, stage_dir="x"), run_dir=tmp_path / "r")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: {kind: synthetic}\nparms: {}\n")
    with pytest.raises(ParameterError, match=r"unknown key\(s\) \['parms'\]"):
        load_profile(bad)
    with pytest.raises(ParameterError, match="profile 'nope' not found"):
        load_profile("nope")
    assert not (tmp_path / "r" / "01_data").exists()


def test_run_skips_reruns_and_never_loses_results(tmp_path, cache_dir, capsys):
    run_dir, book = tmp_path / "run", tmp_path / "book"
    kwargs = {"run_dir": run_dir, "stages": ["01_data"], "book_dir": book, "progress": False}
    run(_profile(tmp_path, cache_dir), **kwargs)
    stamp = json.loads((run_dir / "01_data" / "stage.json").read_text())
    assert stamp["params"]["cache_dir"] == str(cache_dir)
    assert stamp["params"]["dataset_root"] == str(run_dir / "dataset")
    assert (book / "01_data.ipynb").is_file()
    assert yaml.safe_load((run_dir / "params.yaml").read_text())["profile"] == "test"
    scans = (run_dir / "01_data" / "pieman" / "scans.tsv").read_text()
    assert "\t282\t" in scans

    capsys.readouterr()
    run(_profile(tmp_path, cache_dir), **kwargs)
    assert "01_data: up to date" in capsys.readouterr().out
    assert json.loads((run_dir / "01_data" / "stage.json").read_text()) == stamp

    # a changed parameter re-runs the stage
    run(_profile(tmp_path, cache_dir, duration_rounding="round"), **kwargs)
    assert "inputs or parameters changed" in capsys.readouterr().out
    assert "\t281\t" in (run_dir / "01_data" / "pieman" / "scans.tsv").read_text()
    assert (run_dir / "params.previous.yaml").is_file()
    good = (run_dir / "01_data" / "stage.json").read_text()

    # a failing stage leaves the finished results untouched and its partial output for inspection
    with pytest.raises(papermill.PapermillExecutionError, match="shapesphysical"):
        run(_profile(tmp_path, cache_dir, tasks=["shapesphysical"]), **kwargs)
    assert (run_dir / "01_data" / "stage.json").read_text() == good
    assert (run_dir / ".partial" / "01_data" / "01_data.ipynb").is_file()


def test_overrides_change_params_and_dataset_params():
    prof = load_profile("paper-synthetic")
    new = apply_overrides(prof, ["n_epochs=1", "dataset.n_subjects={pieman: 3, shapessocial: 2}",
                                 "tasks=[pieman]"])
    assert new["params"]["n_epochs"] == 1 and new["params"]["tasks"] == ["pieman"]
    assert new["dataset"]["params"]["n_subjects"] == {"pieman": 3, "shapessocial": 2}
    assert prof["params"]["n_epochs"] == 100  # the loaded profile is not changed
    assert new["overrides"][0] == "n_epochs=1"
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        apply_overrides(prof, ["n_epochs"])


def test_stage_code_is_the_import_closure():
    import ast

    src = "from ..ans import extract\nfrom ..io import write_json\nfrom .vsdbn import VSDBN\n"
    found = module_imports(ast.parse(src + "import anbn_utils.pos\n"), "anbn_utils.bns.networks", False)
    assert found == {"anbn_utils.ans", "anbn_utils.ans.extract", "anbn_utils.io",
                     "anbn_utils.bns.vsdbn", "anbn_utils.pos"}
    names = {str(p.relative_to(PACKAGE_DIR)) for p in source_closure(["anbn_utils.phantom"])}
    # the phantom's planted ANs come from the AN code (imported inside a function) ...
    assert {"phantom.py", "synthetic.py", "ans/extract.py", "ans/capture.py", "__init__.py",
            "ans/__init__.py", "narratives/bold.py"} <= names
    # ... but editing the VS-DBN or the coupling does not regenerate it
    assert not names & {"bns/vsdbn.py", "coupling.py", "pos.py", "run.py", "recovery.py"}


def test_stage_reruns_when_a_run_it_reads_changes(tmp_path, cache_dir, capsys):
    """A ``*_run_dir`` parameter (04's ``null_run_dir``) makes that run's stage hashes an input."""
    import shutil

    import nbformat

    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, notebooks)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("run_dir = None\nstage_dir = None\nnull_run_dir = None",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(null_run_dir)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, notebooks / "01_data.ipynb")
    other = tmp_path / "null-run"
    (other / "04_coupling").mkdir(parents=True)
    (other / "04_coupling" / "stage.json").write_text(json.dumps({"hash": "first"}))
    kwargs = {"run_dir": tmp_path / "run", "stages": ["01_data"], "notebook_dir": notebooks,
                  "publish": False, "progress": False}
    profile = _profile(tmp_path, cache_dir, null_run_dir=str(other))

    run(profile, **kwargs)
    run(profile, **kwargs)
    assert "01_data: up to date" in capsys.readouterr().out
    (other / "04_coupling" / "stage.json").write_text(json.dumps({"hash": "second"}))
    run(profile, **kwargs)
    assert "01_data: inputs or parameters changed" in capsys.readouterr().out
