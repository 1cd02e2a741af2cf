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


@pytest.fixture(scope="module")
def headless(tiny_root, tiny_bert_dir, tmp_path_factory):
    """A run of the ``paper`` profile by the stage functions on the tiny dataset: (its
    folder, the overrides)."""
    from anbn_utils.stages.pipeline import run_headless

    tmp_path = tmp_path_factory.mktemp("headless")
    overrides = [f"dataset_root={tiny_root}", f"model={tiny_bert_dir}",
                 f"cache_dir={tmp_path / 'cache'}", "device=cpu", "n_jobs=1",
                 "bn_method=canica", "n_components=3", "top_k=5", "n_permutations=99",
                 "claim_boot=50", "partition_shifts=5", "exemplar_layers=[1, 2]"]
    return run_headless("paper", tmp_path / "real", overrides=overrides), overrides


def test_a_headless_run_writes_every_stage_and_links_what_it_reuses(headless, tmp_path):
    """The stage functions run a profile without notebooks (the verdict calibration's way):
    every stage folder is written and readable by the later stages' readers; a control
    reusing the data, ANs and BNs links them and computes its coupling anew."""
    from anbn_utils.stages.pipeline import STAGE_FUNCTIONS, run_headless
    from anbn_utils.verdict import load_run

    run, overrides = headless
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


#: The result class of each stage with a :data:`~anbn_utils.stages.formats.RECORD`.
def _result_classes():
    from anbn_utils.stages.ans import AnsResult
    from anbn_utils.stages.bns import BnsResult
    from anbn_utils.stages.data import DataResult
    from anbn_utils.stages.layers import LayersResult
    from anbn_utils.stages.pos import PosResult

    return {"01_data": DataResult, "02_ans": AnsResult, "03_bns": BnsResult,
            "05_pos": PosResult, "06_layers": LayersResult}


def _files(folder):
    """Every file under a folder (its relative path -> what it holds: the array of a NIfTI,
    gzip's header differs between writes; the bytes of any other)."""
    import nibabel as nib
    import numpy as np

    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = str(path.relative_to(folder))
            out[key] = (np.asarray(nib.load(path).dataobj).tobytes() if path.name.endswith(".nii.gz")
                        else path.read_bytes())
    return out


def test_each_stage_folder_loads_back_into_its_result_and_saves_the_same_files(headless,
                                                                                tmp_path):
    """``<Stage>Result.load`` reads every file of its folder: saving the loaded result
    writes the same files, the record's parameters are those the run was given."""
    from anbn_utils.stages.formats import FORMATS, RECORD
    from anbn_utils.stages.pipeline import stage_parameters

    run, overrides = headless
    values = stage_parameters("paper", overrides)
    for stage, cls in _result_classes().items():
        loaded = cls.load(run / stage)
        assert loaded.parameters == cls.PARAMETERS.from_mapping(values[stage]), stage
        copy = tmp_path / stage / stage
        copy.parent.mkdir()
        for sibling in ("02_ans", "04_coupling", "05_pos"):  # what 05 and 06 read beside them
            if sibling != stage:
                (copy.parent / sibling).symlink_to(run / sibling)
        loaded.save(copy)
        record = json.loads((copy / RECORD).read_text())
        assert record["stage"] == stage and record["format"] == FORMATS[stage]
        assert _files(copy) == _files(run / stage), stage
    pos = _result_classes()["05_pos"].load(run / "05_pos")
    assert set(pos.stories) == {"pieman", "shapessocial"} and pos.top_bn.keys() == pos.stories.keys()


def test_a_stage_folder_of_another_format_is_refused_by_its_loader_and_the_later_stages(
        headless, tmp_path):
    import shutil

    from anbn_utils.stages.ans import AnsResult
    from anbn_utils.stages.formats import FORMATS, RECORD, require

    run, _ = headless
    old = tmp_path / "run" / "02_ans"
    shutil.copytree(run / "02_ans", old)
    record = json.loads((old / RECORD).read_text())
    (old / RECORD).write_text(json.dumps({**record, "format": FORMATS["02_ans"] + 1}))
    (old / "stage.json").write_text(json.dumps({"profile": "paper"}))
    message = (rf"02_ans was written in format {FORMATS['02_ans'] + 1} of 02_ans, this version "
               rf"reads format {FORMATS['02_ans']}: recompute it \(python -m anbn_utils.run "
               rf"--profile paper --run-dir {tmp_path / 'run'} --force 02_ans\)")
    with pytest.raises(DataError, match=message):
        AnsResult.load(old)
    with pytest.raises(DataError, match=message):
        require(tmp_path / "run", "02_ans")  # what 04_coupling, 05_pos, 06_layers check first
    (old / RECORD).unlink()  # a folder of before the record
    with pytest.raises(DataError, match=r"written in format 1 of 02_ans \(no result.json: "):
        AnsResult.load(old)
    with pytest.raises(DataError, match=r"records stage '02_ans', not '03_bns'"):
        _result_classes()["03_bns"].load(run / "02_ans")
    with pytest.raises(DataError, match=r"05_pos/result.json is missing: the run .* has not "
                                        r"finished 05_pos"):
        require(tmp_path / "run", "05_pos")


def test_a_rotary_grouped_query_model_runs_through_every_stage(tiny_root, tmp_path):
    """``model=random:llama-wordpiece`` (rotary embeddings, 8 query heads on 2 key-value
    heads, causal) through every stage function and the verdict's reader."""
    from anbn_utils.ans import load_ans
    from anbn_utils.stages.pipeline import STAGE_FUNCTIONS, run_headless
    from anbn_utils.verdict import load_run

    overrides = [f"dataset_root={tiny_root}", "model=random:llama-wordpiece",
                 f"cache_dir={tmp_path / 'cache'}", "device=cpu", "n_jobs=1",
                 "bn_method=canica", "n_components=3", "top_k=5", "n_permutations=99",
                 "claim_boot=50", "partition_shifts=5", "exemplar_layers=[1, 4]"]
    run = run_headless("paper", tmp_path / "llama", overrides=overrides)
    assert sorted(p.name for p in run.iterdir()) == list(STAGE_FUNCTIONS)
    ans = load_ans(run / "02_ans" / "pieman")
    assert ans.meta["model_type"] == "llama" and ans.meta["pairs"] == "causal"
    assert (ans.meta["n_layers"], ans.meta["n_heads"], ans.meta["n_kv_heads"]) == (4, 8, 2)
    assert ans.n_ans == 4 * 8 * 32 and ans.names[-1] == "L4H8D32"
    real = load_run(run, "llama")
    assert set(real.summary["stories"]) == {"pieman", "shapessocial"}


def test_planted_pairs_are_scored_only_in_the_model_whose_ans_the_phantom_planted(tmp_path):
    """The phantom plants couplings in ANs of one model; a run of another model (an
    untrained twin, another architecture) has ANs of the same names that are other units,
    and the scoring failed (``L3H9D18`` absent from a Llama) or, worse, scored them."""
    import nibabel as nib
    import numpy as np

    from anbn_utils.stages.coupling import _planted

    truth = tmp_path / "run" / "dataset" / "phantom_truth"
    truth.mkdir(parents=True)
    (truth / "truth.json").write_text(json.dumps({
        "parameters": {"model": "sentence-transformers/all-MiniLM-L6-v2"},
        "planted": [{"an": "L3H9D18", "network": 1, "network_name": "auditory"}],
        "networks": []}))
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2, 1), np.float32), np.eye(4)),
             truth / "maps.nii.gz")
    for model in ("random:sentence-transformers/all-MiniLM-L6-v2", "random:llama-wordpiece"):
        assert _planted(tmp_path / "run", {}, ["L1H1D1"], model) is None


def test_the_explorer_shows_what_the_run_computed(headless):
    """The pair explorer's numbers against the run's own files and brute force: the time
    courses it draws give the PCC chapter 04 tested, each AN's rank in its layer and its
    top pairs (with their tokens' text and tags) are the run's, every BN's best AN and
    each layer's best AN are carried; the HTML holds the data and a map per BN."""
    import numpy as np
    import pandas as pd
    from nilearn.masking import unmask

    from anbn_utils.ans import load_ans
    from anbn_utils.bns.networks import display_maps, load_brain_networks
    from anbn_utils.explorer import P_VALUE_KINDS, explorer_data
    from anbn_utils.plotting.explorer import explorer_html
    from anbn_utils.units import an_layers

    run, _ = headless
    tasks = ["pieman", "shapessocial"]
    data = explorer_data(run, tasks, n_top=3, n_pairs=4)
    carried = np.array([a["index"] for a in data["ans"]])
    assert list(carried) == sorted(set(carried))
    strongest = np.max([np.load(run / "04_coupling" / t / "an_max.npy") for t in tasks], axis=0)
    assert set(np.argsort(-strongest)[:3]) <= set(carried)
    for task in tasks:
        folder, s = run / "04_coupling" / task, data["story"][task]
        pcc = np.load(folder / "pcc.npy")
        an_max, bn_to_an = np.load(folder / "an_max.npy"), np.load(folder / "bn_to_an.npy")
        assert set(bn_to_an) <= set(carried)
        assert [carried[i] for i in s["bn_an"]] == list(bn_to_an)
        np.testing.assert_allclose(s["pcc"], pcc[carried], atol=1e-4)
        # the series drawn are those coupled: their correlation is the tested PCC
        a, b = np.array(s["an_series"]), np.array(s["bn_series"])
        drawn = np.corrcoef(a, b)[:len(a), len(a):]
        np.testing.assert_allclose(drawn, pcc[carried], atol=2e-3)
        ans = load_ans(run / "02_ans" / task)
        layers = an_layers(len(an_max), ans.meta["n_layers"])
        best = [np.flatnonzero(layers == la)[np.argmax(an_max[layers == la])]
                for la in np.unique(layers)]
        assert set(best) <= set(carried)
        for i, an in enumerate(carried):
            same = an_max[layers == layers[an]]
            assert s["rank_in_layer"][i] == 1 + int((same > an_max[an]).sum())
        for null in data["nulls"]:
            for label, pattern in P_VALUE_KINDS.items():
                f = folder / pattern.format(unit="an", null=null)
                if f.is_file():
                    np.testing.assert_allclose(s["an_p"][null][label], np.load(f)[carried],
                                               rtol=5e-3)
        tags = pd.read_csv(run / "05_pos" / task / "token_tags.tsv", sep="\t")
        an = carried[0]
        values = np.asarray(ans.top_values[:, an]).ravel()
        top = np.argsort(-values, kind="stable")[:4]
        assert [p[4] for p in s["top_pairs"][0]] == pytest.approx(values[top], abs=1e-4)
        seg, j = np.unravel_index(top[0], ans.top_values[:, an].shape)
        query = tags[(tags.segment == seg) & (tags.position == ans.top_query[seg, an, j])].iloc[0]
        text = query.token if query.special else \
            ans.transcript[query.char_start:query.char_end]
        assert s["top_pairs"][0][0][:2] == [text, query.tag]

    bns = load_brain_networks(run / "03_bns")
    shown = unmask(display_maps(bns.maps[-1]).T, bns.mask_img)
    page = explorer_html(data, shown)
    assert page.split('"', 2)[1] == explorer_html(data, shown).split('"', 2)[1]  # the id
    payload = json.loads(page.split('<script type="application/json">')[1]
                         .split("</script>")[0].replace("<\\/", "</"))
    assert len(payload["map_docs"]) == bns.n_bns and payload["story"] == data["story"]
    docs = ["".join(payload["map_chunks"][i] for i in d) for d in payload["map_docs"]]
    assert all("brainsprite" in d and f'"BN{k + 1}"' in d for k, d in enumerate(docs))
