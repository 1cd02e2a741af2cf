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
