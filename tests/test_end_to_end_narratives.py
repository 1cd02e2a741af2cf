"""End to end on the ``narratives`` path: the ``paper`` profile and its ``verdict-paper``
study (the null at the data's shape and the four controls) on a dataset in the exact
Narratives layout, through chapter 07, whose claims table then has no untested row.

The data are :func:`anbn_utils.synthetic.make_narratives_like`'s (the real events, volume
counts and story lengths, a tiny grid); the model is a tiny random BERT saved as a local
folder (``bert-base-uncased`` cannot be downloaded here).  Everything else is the shipped
profile and study, made cheaper where that changes nothing the table depends on: CanICA
instead of the VS-DBN, fewer pairs and randomizations.
"""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from anbn_utils.run import run
from anbn_utils.runner.profiles import load_profile
from anbn_utils.stages.coupling import FORMAT, CouplingParameters, load_coupling_summary
from anbn_utils.study import load_study, run_study
from anbn_utils.verdict import NULL_NAME, REQUIRED_CONTROLS

#: The cheaper settings (see the module docstring; 99 randomizations resolve alpha 0.01),
#: chapter 05's example layers within the tiny model's two, and no second architecture in
#: chapter 02 (its notebook test runs one).
CHEAPER = {"n_jobs": 1, "device": "cpu", "bn_method": "canica", "n_components": 3,
           "top_k": 5, "n_permutations": 99, "claim_boot": 100, "partition_shifts": 10,
           "exemplar_layers": [1, 2], "compare_models": []}


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory, tiny_root, tiny_bert_dir) -> Path:
    """The paper profile's run through every stage, after its verdict-paper study."""
    folder = tmp_path_factory.mktemp("narratives-verdict")
    study_dir = folder / "study-verdict-paper"
    paper = load_profile("paper")
    params = {**paper["params"], **CHEAPER, "dataset_root": str(tiny_root),
              "model": str(tiny_bert_dir), "cache_dir": str(folder / "cache"),
              "null_run_dir": str(study_dir / "null"), "study_run_dir": str(study_dir)}
    profile = folder / "paper.yaml"
    profile.write_text(yaml.safe_dump({"description": "paper, cheaper, for the tests",
                                       "dataset": paper["dataset"], "params": params}))
    # the shipped study on this profile; its untrained control is the architecture of the
    # run's model with random weights, as `random:bert-base-uncased` is of the paper's
    study = yaml.safe_load(load_study("verdict-paper").path.read_text())
    study["base"] = str(profile)
    study["variants"]["untrained"] = [f"model=random:{tiny_bert_dir}"]
    study_file = folder / "verdict-paper.yaml"
    study_file.write_text(yaml.safe_dump(study))
    table = run_study(study_file, study_dir=study_dir, n_jobs=2, log=lambda *_: None)
    assert (table["status"] == "done").all(), table[["variant", "status", "error"]]
    return run(profile, run_dir=folder / "paper", stages=["06_layers", "07_verdict"], publish=False,
               progress=False)


def test_the_paper_profile_gets_a_verdict_for_every_claim(paper_run):
    claims = pd.read_csv(paper_run / "07_verdict" / "claims.tsv", sep="\t")
    untested = claims[claims["verdict"].str.startswith("untested")]
    assert untested.empty, untested[["key", "verdict"]].to_string()
    for name in (NULL_NAME, *REQUIRED_CONTROLS):  # every comparison run was measured
        statuses = claims[f"{name} status"].dropna()
        assert len(statuses) and not statuses.str.startswith("untested").any(), (name, statuses)


def test_the_coupling_stage_result_is_typed_and_versioned(paper_run, tiny_bert_dir):
    config = json.loads((tiny_bert_dir / "config.json").read_text())
    layers, heads = config["num_hidden_layers"], config["num_attention_heads"]
    summary = load_coupling_summary(paper_run / "04_coupling")
    assert summary["format"] == FORMAT
    params = {k: v for k, v in summary["parameters"].items() if k != "alpha"}
    recorded = CouplingParameters.from_mapping(
        {**params, "tasks": list(summary["stories"]), "device": "cpu"}).recorded()
    assert recorded == summary["parameters"]
    assert list(summary["stories"]) == ["pieman", "shapessocial"]
    assert summary["bn_stories"] == {"pieman": "pieman", "shapessocial": "shapessocial"}
    for story, st in summary["stories"].items():
        assert (st["n_ans"], st["n_heads"], st["n_bns"]) == (
            config["hidden_size"] * layers, heads, CHEAPER["n_components"])
        assert len(st["an_max_pcc_per_layer"]) == layers
        assert set(st["nulls"]) == set(summary["parameters"]["nulls"])
        assert summary["n_trs"][story] > 0 and "r2_unique_mean" in st


def _values(run_dir: Path, stage: str) -> dict:
    """The values a finished stage ran with: its notebook's defaults, then the profile's."""
    from anbn_utils.runner.stages import declared_parameters, stage_values

    record = json.loads((run_dir / stage / "stage.json").read_text())
    return stage_values(declared_parameters()[stage], record["params"])


def test_every_stage_function_gives_the_typed_result_its_notebook_saved(paper_run, tmp_path):
    """Each stage's package function, called again with the values its notebook ran with,
    returns a typed result equal to what the run's folders hold (the notebooks compute
    nothing that a later stage reads: they call these functions and save their results)."""
    import numpy as np

    from anbn_utils.ans import load_ans
    from anbn_utils.ans.nuisance import load_nuisance
    from anbn_utils.bns.networks import load_brain_networks
    from anbn_utils.io import read_table
    from anbn_utils.narratives import load_story
    from anbn_utils.stages.ans import AnsParameters, AnsResult, run_ans
    from anbn_utils.stages.bns import BnsParameters, BnsResult, run_bns
    from anbn_utils.stages.coupling import CouplingResult, run_coupling
    from anbn_utils.stages.data import DataParameters, DataResult, run_data
    from anbn_utils.stages.layers import LayersParameters, LayersResult, run_layers
    from anbn_utils.stages.pos import PosParameters, PosResult, run_pos

    tasks = ["pieman", "shapessocial"]
    data = run_data(DataParameters.from_mapping(_values(paper_run, "01_data")), tmp_path)
    assert isinstance(data, DataResult) and list(data.stories) == tasks
    for task, story in data.stories.items():
        saved = load_story(paper_run / "01_data", task)
        assert story.n_trs == saved.n_trs and story.start == saved.start
        assert story.scans["subject"].tolist() == saved.scans["subject"].tolist()

    ans = run_ans(paper_run, AnsParameters.from_mapping(_values(paper_run, "02_ans")))
    assert isinstance(ans, AnsResult) and list(ans.ans) == tasks
    for task in tasks:
        saved = load_ans(paper_run / "02_ans" / task)
        np.testing.assert_allclose(ans.ans[task].activations_hrf, saved.activations_hrf,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(ans.ans[task].top_query, saved.top_query)
        pd.testing.assert_frame_equal(ans.nuisance[task].reset_index(drop=True),
                                      load_nuisance(paper_run / "02_ans" / task),
                                      check_dtype=False)

    bns = run_bns(paper_run, BnsParameters.from_mapping(_values(paper_run, "03_bns")))
    saved = load_brain_networks(paper_run / "03_bns")
    assert isinstance(bns, BnsResult) and bns.networks.n_bns == CHEAPER["n_components"]
    assert bns.map_recovery is None  # no phantom, no planted networks
    for task in tasks:
        np.testing.assert_allclose(bns.networks.mean_timecourses(task),
                                   saved.mean_timecourses(task), rtol=1e-4, atol=1e-5)

    coupling = run_coupling(paper_run,
                            CouplingParameters.from_mapping(_values(paper_run, "04_coupling")))
    assert isinstance(coupling, CouplingResult)
    summary = load_coupling_summary(paper_run / "04_coupling")
    assert json.loads(json.dumps(coupling.summary)) == summary

    pos = run_pos(paper_run, PosParameters.from_mapping(_values(paper_run, "05_pos")))
    assert isinstance(pos, PosResult) and list(pos.stories) == tasks
    for task in tasks:
        tags = read_table(paper_run / "05_pos" / task / "an_tags.tsv")
        np.testing.assert_array_equal(pos.stories[task].categories, tags["category"])
        np.testing.assert_array_equal(
            pos.stories[task].counts, np.load(paper_run / "05_pos" / task / "category_counts.npy"))
    pd.testing.assert_frame_equal(pos.anchor_counts,
                                  read_table(paper_run / "05_pos" / "anchor_counts.tsv"),
                                  check_dtype=False)
    pd.testing.assert_frame_equal(pos.random_baseline,
                                  read_table(paper_run / "05_pos" / "random_baseline.tsv"),
                                  check_dtype=False)

    layers = run_layers(paper_run, LayersParameters.from_mapping(_values(paper_run, "06_layers")))
    assert isinstance(layers, LayersResult)
    pd.testing.assert_frame_equal(layers.best_pairs,
                                  read_table(paper_run / "06_layers" / "best_pairs.tsv"),
                                  check_dtype=False)


def _patterns(files) -> list:
    """Regular expressions of a stage's ``FILES`` names (``<x>``: any name, ``{a,b}``:
    either), each story's files under a story folder."""
    import re

    out = []
    for f in files:
        for name in re.findall(r"`([^`]+)`", f.name):
            rx = re.sub(r"\\\{([^}]*)\\\}", lambda m: "(" + m.group(1).replace(",", "|") + ")",
                        re.escape(name))
            rx = re.sub(r"<[^>]+>", r"[^/]+", rx.replace(r"\<", "<").replace(r"\>", ">"))
            out.append(re.compile(("[^/]+/" if f.per_story else "") + rx))
    return out


def test_the_artifacts_page_lists_every_file_a_stage_writes(paper_run):
    """Each stage module's ``FILES`` (which the Artifacts page renders) names every file of
    its stage folder in a finished run, besides the runner's record and the tables the
    stage's notebook writes to show them."""
    import importlib
    import re

    from anbn_utils.runner.stages import stage_named
    from anbn_utils.stages.pipeline import STAGE_FUNCTIONS

    for stage in STAGE_FUNCTIONS:
        files = importlib.import_module(f"anbn_utils.stages.{stage.split('_', 1)[1]}").FILES
        patterns = _patterns(files)
        shown = set(re.findall(r'write_table\(stage_dir / \\"([\w.]+)\\"',
                               stage_named(stage).notebook().read_text()))
        folder = (paper_run / stage).resolve()
        written = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        unlisted = [w for w in written if w not in shown | {"stage.json", f"{stage}.ipynb"}
                    and not any(p.fullmatch(w) for p in patterns)]
        assert written and not unlisted, (stage, unlisted)
