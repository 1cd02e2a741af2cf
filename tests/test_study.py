"""Studies: variants of one profile, shared stages computed once, failures kept apart."""

import json

import pytest
import yaml

from anbn_utils.errors import ParameterError, RunError
from anbn_utils.study import load_study, run_study


@pytest.fixture
def study_file(tmp_path, cache_dir):
    base = {"description": "test", "dataset": {"kind": "synthetic", "params": {
        "tasks": ["pieman"], "n_subjects": 2, "shape": [2, 2, 2], "random_state": 1}},
        "params": {"cache_dir": str(cache_dir), "tasks": ["pieman"], "compare_models": []}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    base["dataset"]["params"]["random_state"] = 2
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(base))

    def write(variants, **extra):
        spec = {"description": "a test study", "base": "base.yaml", "stages": ["01_data"],
                "variants": variants, **extra}
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path
    return write


def test_shared_stages_are_computed_once_and_a_failure_stays_apart(study_file, tmp_path):
    path = study_file({
        "real": [],
        "more_epochs": ["n_epochs=2"],           # a 03_bns parameter: 01_data is the same
        "rounded": ["duration_rounding=round"],  # a 01_data parameter: computed again
        "broken": ["tasks=[shapessocial]"],      # the dataset has no such story: fails
        "other": {"base": "other.yaml", "set": []},  # another profile: computed
    })
    study_dir = tmp_path / "study"
    table = run_study(path, study_dir=study_dir, n_jobs=1, log=lambda m: None)
    rows = table.set_index("variant")
    assert rows.loc[["real", "more_epochs", "rounded"], "status"].tolist() == ["done"] * 3
    assert rows.loc["broken", "status"] == "failed"
    assert "01_data failed" in rows.loc["broken", "error"]
    assert rows.loc["real", "stages_computed"] == 1
    assert (rows.loc["more_epochs", "stages_computed"], rows.loc["more_epochs", "stages_reused"]) \
        == (0, 1)
    assert rows.loc["rounded", "stages_computed"] == 1
    assert (rows.loc["other", "profile"], rows.loc["other", "stages_computed"]) == ("other", 1)
    assert "01_data: reused from" in (study_dir / "more_epochs.log").read_text()
    assert (study_dir / "more_epochs" / "01_data").resolve() == \
        (study_dir / "real" / "01_data").resolve()
    assert "\t282\t" in (study_dir / "real" / "01_data" / "pieman" / "scans.tsv").read_text()
    assert "\t281\t" in (study_dir / "rounded" / "01_data" / "pieman" / "scans.tsv").read_text()
    saved = json.loads((study_dir / "study.json").read_text())
    assert [r["variant"] for r in saved["rows"]] == ["real", "more_epochs", "rounded", "broken",
                                                     "other"]
    assert (study_dir / "study.tsv").is_file()

    # an override for every variant: `real` then is `rounded`, whose stage it reuses
    once = run_study(path, study_dir=study_dir, variants=["real"],
                     overrides=["duration_rounding=round"], log=lambda m: None).set_index("variant")
    assert (once.loc["real", "stages_computed"], once.loc["real", "stages_reused"]) == (0, 1)
    run_study(path, study_dir=study_dir, variants=["real"], log=lambda m: None)

    # a rerun resumes: nothing computed again, the failed variant fails again on its own
    again = run_study(path, study_dir=study_dir, n_jobs=2, log=lambda m: None).set_index("variant")
    assert again.loc[["real", "more_epochs", "rounded", "other"], "stages_computed"].sum() == 0
    assert again.loc["broken", "status"] == "failed"


def test_a_variant_runs_its_own_stages(study_file, tmp_path):
    path = study_file({"real": [], "to_ans": {"set": [], "stages": ["02_ans"]}})
    assert [v.stages for v in load_study(path).variants] == [None, ("02_ans",)]
    run_study(path, study_dir=tmp_path / "s", variants=["to_ans"], log=lambda m: None)
    done = sorted(p.parent.name for p in (tmp_path / "s" / "to_ans").glob("*/stage.json"))
    assert done == ["01_data", "02_ans"]  # its stage and what that needs, not the study's


def test_a_dask_cluster_gives_the_same_table(study_file, tmp_path):
    from distributed import LocalCluster

    path = study_file({"real": [], "rounded": ["duration_rounding=round"]})
    # each study in its own parent folder, so that neither reuses the other's store
    local = run_study(path, study_dir=tmp_path / "a" / "local", log=lambda m: None)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        on_dask = run_study(path, study_dir=tmp_path / "b" / "dask",
                            scheduler=cluster.scheduler_address, log=lambda m: None)
    columns = ["variant", "status", "stages_computed", "stages_reused"]
    assert on_dask[columns].equals(local[columns])
    assert (tmp_path / "b" / "dask" / "rounded" / "01_data" / "stage.json").is_file()


def test_a_studys_set_comes_before_each_variants_own(study_file):
    study = load_study(study_file({"a": [], "b": ["n_epochs=3"]}, set=["n_epochs=2"]))
    assert [v.overrides for v in study.variants] == [("n_epochs=2",), ("n_epochs=2", "n_epochs=3")]


def test_bad_studies_fail_before_anything_runs(study_file, tmp_path):
    with pytest.raises(ParameterError, match=r"variant 'typo'.*unknown parameter\(s\) \['n_epoch'\]"):
        load_study(study_file({"real": [], "typo": ["n_epoch=2"]}))
    with pytest.raises(ParameterError, match=r"(?s)variant 'bad'.*n_epochs='two'"):
        load_study(study_file({"bad": ["n_epochs=two"]}))
    with pytest.raises(ParameterError, match=r"unknown: \['variant'\]"):
        load_study(study_file({"real": []}, variant={}))
    with pytest.raises(ParameterError, match=r"variant 'v': unknown stage '04_coupl'"):
        load_study(study_file({"v": {"set": [], "stages": ["04_coupl"]}}))
    with pytest.raises(ParameterError, match=r"variant 'v': stages must be a list"):
        load_study(study_file({"v": {"set": [], "stages": "04_coupling"}}))
    with pytest.raises(ParameterError, match="must be a list of 'NAME=VALUE'"):
        load_study(study_file({"real": "n_epochs=2"}))
    with pytest.raises(ParameterError, match=r"'set' \(overrides of every variant\) must be a list"):
        load_study(study_file({"real": []}, set="n_epochs=2"))
    with pytest.raises(ParameterError, match=r"(?s)variant 'real'.*n_epochs='two'"):
        load_study(study_file({"real": []}, set=["n_epochs=two"]))
    with pytest.raises(RunError, match=r"no Dask scheduler answers at tcp://127.0.0.1:9"):
        run_study(study_file({"real": []}), study_dir=tmp_path / "x",
                  scheduler="tcp://127.0.0.1:9", log=lambda m: None)
    assert not (tmp_path / "x" / "real").exists()


def test_every_shipped_study_loads():
    """Each study's variants resolve against their profiles (a typo would fail minutes in)."""
    from anbn_utils.study import STUDY_DIR

    names = sorted(p.stem for p in STUDY_DIR.glob("*.yaml"))
    assert {"verdict", "verdict-small", "methods-holdout"} <= set(names)
    for name in names:
        assert load_study(name).variants
    holdout = {v.name: v for v in load_study("methods-holdout").variants}
    assert set(holdout) == {"vsdbn", "vsdbn_paper_rules", "canica", "dictlearning"}


@pytest.mark.parametrize("name", ["verdict-small", "verdict"])
def test_only_the_controls_run_the_predictive_check_as_the_book_run_does(name):
    """Chapter 07 compares the book's run with the controls (the claims refuse runs whose
    predictive check differs) and reads no predictive check of the other variants, which skip
    it (the study's time)."""
    from anbn_utils.runner.profiles import apply_overrides, load_profile, resolve_params
    from anbn_utils.runner.stages import declared_parameters

    study, declared = load_study(name), declared_parameters()

    def predictive(overrides):
        profile = apply_overrides(load_profile(study.base), overrides)
        # not set: the notebook's default, True
        return resolve_params(profile, declared)["04_coupling"].get("predictive_check", True)

    controls = {"untrained", "shuffled_words", "other_story", "an_phase"}
    assert declared["04_coupling"]["predictive_check"]["default"] == "True"
    assert predictive([]) is True  # the book's run
    assert {v.name: predictive(v.overrides) for v in study.variants} == {
        v.name: v.name in controls for v in study.variants}
    # no variant reads another run: not the study (it is part of it), nor the null run,
    # which `make book` runs beside the study
    for v in study.variants:
        coupling = resolve_params(apply_overrides(load_profile(study.base), v.overrides),
                                  declared)["04_coupling"]
        assert coupling["null_run_dir"] is None and coupling["compare_run_dir"] is None, v


def test_a_mistyped_override_is_refused_before_the_table_is_touched(study_file, tmp_path):
    """``--set`` with a typo used to run every variant into a failure and rewrite the
    finished variants as failed in ``study.json`` (chapter 07 then read no variant); it is
    refused before any variant runs, and the table stays as it was."""
    study_dir = tmp_path / "study"
    study_dir.mkdir()
    table = {"study": "s", "rows": [{"variant": "real", "status": "done"}]}
    (study_dir / "study.json").write_text(json.dumps(table))
    with pytest.raises(ParameterError, match=r"variant 'real' with the overrides given: .*"
                                             r"duration_roundin"):
        run_study(study_file({"real": []}), study_dir=study_dir,
                  overrides=["duration_roundin=round"], log=lambda m: None)
    assert json.loads((study_dir / "study.json").read_text()) == table
    assert sorted(p.name for p in study_dir.iterdir()) == ["study.json"]


def test_a_study_n_jobs_that_is_not_a_positive_integer_is_refused(study_file):
    for bad in ("abc", 0, True):
        with pytest.raises(ParameterError, match=r"n_jobs \(variants at once\) must be a "
                                                 r"positive integer"):
            load_study(study_file({"real": []}, n_jobs=bad))


def test_the_verdict_stage_reruns_when_the_study_it_reads_is_repaired(tmp_path):
    """Chapter 07 reads which variants finished (``study.json``): their statuses are part of
    what its hash covers, so a repaired study (a failed variant now done, its stages
    unchanged) reruns it (it used to stay "up to date" with the variants it had missed)."""
    from anbn_utils.runner.execute import _run_hashes

    study = tmp_path / "study"
    (study / "canica" / "04_coupling").mkdir(parents=True)
    (study / "canica" / "04_coupling" / "stage.json").write_text(json.dumps({"hash": "h"}))
    rows = [{"variant": "canica", "status": "failed"}]
    (study / "study.json").write_text(json.dumps({"rows": rows}))
    failed = _run_hashes(study)
    assert failed["canica/04_coupling"] == "h"
    rows[0]["status"] = "done"
    (study / "study.json").write_text(json.dumps({"rows": rows}))
    done = _run_hashes(study)
    assert done["study.json"] != failed["study.json"]
    assert {k: v for k, v in done.items() if k != "study.json"} == \
        {k: v for k, v in failed.items() if k != "study.json"}


def test_a_variant_with_a_bad_dataset_parameter_is_refused_when_the_study_loads(study_file):
    """``dataset.n_subjectz=3`` or a dataset value of the wrong type in a variant used to fail
    only when the variant ran."""
    with pytest.raises(ParameterError, match=r"variant 'typo': .*unknown dataset "
                                             r"parameter\(s\) \['n_subjectz'\]"):
        load_study(study_file({"real": [], "typo": ["dataset.n_subjectz=3"]}))
    with pytest.raises(ParameterError, match=r"(?s)variant 'words': .*dataset.n_subjects='three'"):
        load_study(study_file({"real": [], "words": ["dataset.n_subjects=three"]}))


def test_a_variant_failure_is_recorded_with_its_cause_whatever_it_is(tmp_path, monkeypatch):
    """The table's ``error`` holds the cause, not only "stage 03_bns failed in cell [8]
    (...):"; an unexpected exception (a bug) is recorded too, with its traceback in the
    variant's log, instead of stopping the study before its table is written."""
    from anbn_utils.runner import execute
    from anbn_utils.runner.stages import stage_named
    from anbn_utils.study import Variant, _run_variant

    class CellError(Exception):
        ename, evalue, exec_count, source = "ValueError", "BN99 is not a BN", 8, "k = bn(...)"

    failure = execute._failure(stage_named("03_bns"), CellError(), tmp_path / "03_bns.ipynb")
    for error, expected in (
            (failure, ("stage 03_bns failed in cell [8] (k = bn(...)): ValueError: BN99 is "
                       "not a BN")),
            (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero")):
        def fail(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(execute, "run", fail)
        row = _run_variant("phantom", Variant("v"), str(tmp_path), None, ())
        assert (row["status"], row["error"]) == ("failed", expected)
    log = (tmp_path / "v.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError" in log


def test_a_second_study_into_one_folder_is_refused_and_logs_keep_every_attempt(
        study_file, tmp_path, monkeypatch):
    """Two studies into one folder: the second is refused up front, naming the first (the
    last to finish used to write the table, and a variant's log was overwritten); a
    variant's log keeps every attempt, each counted on its own."""
    from anbn_utils.runner import execute
    from anbn_utils.runner.lock import hold
    from anbn_utils.study import Variant, _run_variant

    study_dir = tmp_path / "study"
    study_dir.mkdir()
    busy = r"the study folder .*study is in use by process \d+ on .*: wait for that study"
    with hold(study_dir / ".study.lock"), pytest.raises(RunError, match=busy):  # one running
        run_study(study_file({"real": []}), study_dir=study_dir, log=lambda m: None)
    assert not (study_dir / "study.json").exists()

    def computed(*args, **kwargs):
        print("[anbn] 01_data: running: done in 1.0 s")

    monkeypatch.setattr(execute, "run", computed)
    first = _run_variant("phantom", Variant("v"), str(study_dir), None, ())
    second = _run_variant("phantom", Variant("v"), str(study_dir), None, ())
    assert first["stages_computed"] == second["stages_computed"] == 1
    assert (study_dir / "v.log").read_text().count("=== attempt of ") == 2


def test_a_dask_scheduler_without_workers_is_named_not_waited_on(study_file, tmp_path,
                                                                 monkeypatch):
    """A scheduler with no worker used to take the study and hang with no message."""
    from distributed import LocalCluster

    from anbn_utils import study as study_module

    monkeypatch.setattr(study_module, "DASK_WORKER_TIMEOUT", 2)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, \
            pytest.raises(RunError, match=r"the Dask scheduler at \S+ has no worker after "
                                          r"2 s: start workers \(`dask worker "):
        run_study(study_file({"real": []}), study_dir=tmp_path / "s",
                  scheduler=cluster.scheduler_address, log=lambda m: None)


_DRIVER = '''
import os, signal, subprocess, sys
from pathlib import Path
import anbn_utils.study as study_module

signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with it ignored

marks = Path(sys.argv[1])
real = study_module._run_variant

def variant_with_a_kernel(*args):
    from anbn_utils.runner import execute
    def run(*a, **k):  # stands for the runner: a kernel that computes for minutes
        kernel = subprocess.Popen(["sleep", "300"])
        (marks / f"{os.getpid()}.pids").write_text(f"{os.getpid()} {kernel.pid}")
        kernel.wait()
    execute.run = run
    return real(*args)

study_module._run_variant = variant_with_a_kernel
sys.exit(study_module.main([sys.argv[2], "--study-dir", str(marks / "study"), "--n-jobs", "2"]))
'''


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_stopped_or_killed_study_ends_its_workers_and_their_kernels(study_file, tmp_path, sig):
    """A killed study used to leave its workers computing as orphans for minutes (a rerun
    then found their stages "in use by process N"): now SIGTERM and SIGINT end every
    process below the study before it exits, and after SIGKILL (no chance to) each worker
    notices and ends its own."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER)
    marks = tmp_path / "marks"
    marks.mkdir()
    study = subprocess.Popen([sys.executable, str(driver), str(marks),
                              str(study_file({"a": [], "b": []}))],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while len(list(marks.glob("*.pids"))) < 2:  # both variants' workers have a kernel running
        assert study.poll() is None and time.monotonic() < deadline, study.stdout.read()
        time.sleep(0.2)
    pids = [int(p) for f in marks.glob("*.pids") for p in f.read_text().split()]
    assert len(pids) == 4 and all(psutil.pid_exists(p) for p in pids)
    study.send_signal(getattr(signal, sig))
    output, _ = study.communicate(timeout=60)
    if sig != "SIGKILL":
        assert study.returncode == 128 + getattr(signal, sig), output
        assert "study stopped: " in output and "run the study again to resume" in output
    deadline = time.monotonic() + 30
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    assert alive == [], f"left running after {sig}: {alive}"


def test_a_variant_shares_with_the_base_only_the_stages_a_published_run_reuses():
    """A study computes headless the stages of its variants that the book's run of the base
    profile cannot reuse (``shared_with_base``): those whose values, or those of a stage
    they read, differ from the base's (a study-wide ``set`` included), and every stage of
    a variant on another dataset."""
    from anbn_utils.runner.stages import STAGES
    from anbn_utils.study import load_study, shared_with_base

    study = load_study("verdict-small")
    shared = {v.name: shared_with_base(study.base, v.base or study.base, v.overrides)
              for v in study.variants}
    book_stages = ["00_phantom", "01_data"]
    assert shared["other_story"] == [*book_stages, "02_ans", "03_bns"]  # 04's pairing differs
    assert shared["shuffled_words"] == [*book_stages, "03_bns"]  # the text the model reads
    assert shared["canica"] == [*book_stages, "02_ans"]  # other BNs
    assert shared["random_llama"] == [*book_stages, "03_bns"]  # another model
    every = [s.name for s in STAGES]
    assert shared_with_base("phantom", "phantom", []) == every
    assert shared_with_base("phantom", "phantom", ["n_jobs=1"]) == every  # execution only
    assert shared_with_base("phantom", "phantom-null", []) == []  # another dataset
