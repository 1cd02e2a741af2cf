"""The stage functions: their parameters, their file format and its version."""

import json

import pytest

from anbn_utils.errors import DataError, ParameterError
from anbn_utils.runner.preflight import stage_values
from anbn_utils.runner.stages import declared_parameters, stage_named
from anbn_utils.stages.coupling import FORMAT, CouplingParameters, load_coupling_summary
from anbn_utils.verdict import COMPARED_PARAMETERS


def test_coupling_parameters_are_the_notebooks_and_record_what_the_verdict_compares():
    declared = declared_parameters([stage_named("04_coupling")])["04_coupling"]
    defaults = stage_values(declared, {})
    params = CouplingParameters.from_mapping(defaults)
    assert params.nulls == tuple(defaults["nulls"])
    recorded = params.recorded()
    assert set(COMPARED_PARAMETERS) <= set(recorded)
    assert recorded["alpha"] == defaults["alphas"][0] and "device" not in recorded
    with pytest.raises(ParameterError, match=r"04_coupling: parameters \['claim_block'\] not given"):
        CouplingParameters.from_mapping({k: v for k, v in defaults.items() if k != "claim_block"})


def test_a_coupling_folder_of_another_format_is_refused_with_its_command(tmp_path):
    stage = tmp_path / "run" / "04_coupling"
    with pytest.raises(DataError, match=r"summary.json is missing: the run .*run has not "
                                        r"finished 04_coupling"):
        load_coupling_summary(stage)
    stage.mkdir(parents=True)
    (stage / "summary.json").write_text(json.dumps({"stories": {}}))
    (stage / "stage.json").write_text(json.dumps({"profile": "phantom"}))
    with pytest.raises(DataError, match=(
            rf"04_coupling was written in format 1 of 04_coupling, this version reads format "
            rf"{FORMAT}: recompute it \(python -m anbn_utils.run --profile phantom --run-dir "
            rf"{tmp_path / 'run'} --force 04_coupling\)")):
        load_coupling_summary(stage)
    (stage / "summary.json").write_text(json.dumps({"format": FORMAT, "stories": {}}))
    assert load_coupling_summary(stage) == {"format": FORMAT, "stories": {}}


def test_a_headless_run_writes_every_stage_and_links_what_it_reuses(tiny_root, tiny_bert_dir,
                                                                     tmp_path):
    """The stage functions run a profile without notebooks (the verdict calibration's way):
    every stage folder is written and readable by the later stages' readers; a control
    reusing the data, ANs and BNs links them and computes its coupling anew."""
    from anbn_utils.stages.pipeline import STAGE_FUNCTIONS, run_headless
    from anbn_utils.verdict import load_run

    overrides = [f"dataset_root={tiny_root}", f"model={tiny_bert_dir}",
                 f"cache_dir={tmp_path / 'cache'}", "device=cpu", "n_jobs=1",
                 "bn_method=canica", "n_components=3", "top_k=5", "n_permutations=99",
                 "claim_boot=50", "partition_shifts=5", "exemplar_layers=[1, 2]"]
    run = run_headless("paper", tmp_path / "real", overrides=overrides)
    assert sorted(p.name for p in run.iterdir()) == list(STAGE_FUNCTIONS)
    real = load_run(run, "real")
    assert set(real.an_tags) == {"pieman", "shapessocial"} and real.summary["format"] == FORMAT
    assert (run / "06_layers" / "best_pairs.tsv").is_file()

    reused = {s: run / s for s in ("01_data", "02_ans", "03_bns")}
    control = run_headless("paper", tmp_path / "an_phase", overrides=[*overrides,
                           "an_surrogate=phase"], stages=STAGE_FUNCTIONS[:4], reuse=reused)
    for stage, folder in reused.items():
        assert (control / stage).is_symlink() and (control / stage).resolve() == folder
    assert not (control / "04_coupling").is_symlink()
    summary = load_coupling_summary(control / "04_coupling")
    assert summary["parameters"]["an_surrogate"] == "phase"
    assert summary["stories"]["pieman"]["an_max_pcc_mean"] != \
        real.summary["stories"]["pieman"]["an_max_pcc_mean"]

    with pytest.raises(ParameterError, match=r"04_coupling is already there"):
        run_headless("paper", run, overrides=overrides, stages=["04_coupling"])
    with pytest.raises(ParameterError, match=r"no stage function for \['07_verdict'\]"):
        run_headless("paper", tmp_path / "x", overrides=overrides, stages=["07_verdict"])
