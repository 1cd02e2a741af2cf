"""Source notebooks: clean, parameterized, documented, and runnable with papermill alone."""

import json
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from anbn_utils.runner.stages import REPO_ROOT, STAGES, notebook_parameters

NOTEBOOKS = [REPO_ROOT / "notebooks" / f"{s.name}.ipynb" for s in STAGES]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebooks_are_clean_and_parameterized(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code")
    assert {"run_dir", "stage_dir"} <= set(notebook_parameters(path))


@pytest.mark.parametrize("name", [s.name for s in STAGES])
def test_how_to_run_documents_every_parameter(name):
    page = (REPO_ROOT / "book" / "how_to_run.md").read_text()
    table = page.split(f"### Parameters of {name[:2]} ·", 1)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert documented == list(notebook_parameters(REPO_ROOT / "notebooks" / f"{name}.ipynb"))


def test_data_notebook_runs_with_papermill_cli(tiny_root, tmp_path):
    """Every documented parameter of 01_data, set to a non-default value, in one CLI call."""
    out = tmp_path / "out.ipynb"
    args = {
        "run_dir": tmp_path / "run", "stage_dir": tmp_path / "stage", "dataset_root": tiny_root,
        "tasks": '["pieman"]', "exclude": "False", "n_subjects": "2", "seed": "5",
        "subjects": "{pieman: [sub-001, sub-002, sub-003]}",
        "duration_rounding": "round", "initial_trim": "6", "word_anchor": "mid",
        "words_outside": "clip", "alignment": "csv", "cache_dir": tmp_path / "cache",
        "n_jobs": "2", "example_subject": "sub-003", "common_grid": "pieman",
        "bold_surrogate": "phase",
    }
    assert set(args) == set(notebook_parameters(REPO_ROOT / "notebooks" / "01_data.ipynb"))
    cmd = [sys.executable, "-m", "papermill", str(REPO_ROOT / "notebooks" / "01_data.ipynb"),
           str(out), "--no-progress-bar", "-k", "python3"]
    for name, value in args.items():
        yaml_value = name in ("tasks", "subjects")
        cmd += ["-y" if yaml_value else "-p", *(
            [f"{name}: {value}"] if yaml_value else [name, str(value)])]
    subprocess.run(cmd, check=True, cwd=REPO_ROOT, capture_output=True)
    scans = (tmp_path / "stage" / "pieman" / "scans.tsv").read_text().splitlines()
    header = scans[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in scans[1:]]
    assert len(rows) == 2  # a seeded subset of the 3 subjects (sub-001 kept: exclude=False)
    assert {r["start"] for r in rows} == {"16"} and {r["stop"] for r in rows} == {"291"}
    # the surrogate scans live in the stage, found through paths relative to the story
    assert all(r["cache_path"] == f"surrogate/{r['subject']}.npy" for r in rows)
    assert all((tmp_path / "stage" / "pieman" / r["cache_path"]).is_file() for r in rows)
    text = json.dumps(nbformat.read(out, as_version=4).cells[-1].outputs)
    assert "pieman/words.tsv" in text
    assert (tmp_path / "stage" / "pieman" / "transcript.txt").read_text().count(",") == 0  # csv


def test_ans_notebook_runs_with_every_parameter(tiny_root, tiny_bert_dir, tmp_path):
    """02_ans with each documented parameter set (another model, device, aggregation, ...)."""
    from anbn_utils.ans import load_ans
    from anbn_utils.runner.preflight import stage_values
    from anbn_utils.runner.stages import declared_parameters, stage_named
    from anbn_utils.stages.data import DataParameters, run_data

    run_dir = tmp_path / "run"
    data = stage_values(declared_parameters([stage_named("01_data")])["01_data"],
                        {"dataset_root": str(tiny_root), "tasks": ["pieman"],
                         "cache_dir": str(tmp_path / "c"), "n_jobs": 1})
    run_data(DataParameters.from_mapping(data), run_dir / "01_data").save(run_dir / "01_data")
    params = {
        "run_dir": str(run_dir), "stage_dir": str(tmp_path / "stage"), "tasks": ["pieman"],
        "model": str(tiny_bert_dir), "model_dtype": "bfloat16", "device": "cpu", "seed": 4,
        "word_order": "shuffled",
        "aggregation": "max", "pairs": "all",
        "an_unit": "dimension",  # a BERT has no rotary pairs (test_end_to_end_ans: a Llama's)
        "include_bias": False, "hrf_model": "glover", "top_k": 20, "segmentation": "balanced",
        "split_long_sentences": True, "max_tokens": 100, "fig2_sentence": "A man ran.",
        "fig2_layer": 2, "fig2_head": 3, "example_ans": ["L2H3D8"],
        "compare_models": [f"random:{tiny_bert_dir}"],
    }
    assert set(params) == set(notebook_parameters(REPO_ROOT / "notebooks" / "02_ans.ipynb"))
    import papermill

    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / "02_ans.ipynb"),
                               str(tmp_path / "out.ipynb"), parameters=params,
                               progress_bar=False, cwd=str(REPO_ROOT))
    ans = load_ans(tmp_path / "stage" / "pieman")
    assert ans.activations.shape == (282, 2, 3, 8) and ans.n_ans == 48
    assert ans.meta["model_dtype"] == "bfloat16" and ans.activations.dtype == np.float32
    executed = (tmp_path / "out.ipynb").read_text()
    assert f"random:{tiny_bert_dir}</th>" in executed  # the architecture table's second row
    assert ans.top_values.shape[1:] == (48, 20)
    lengths = ans.meta["segment_lengths"]
    assert max(lengths) <= 100 and len(lengths) >= 10
    assert ans.meta["aggregation"] == "max" and ans.meta["hrf_model"] == "glover"
    # the nuisance regressors, on the ANs' grid, as the package rebuilds them from the files
    from anbn_utils.ans import nuisance_regressors
    from anbn_utils.io import read_table

    nuisance = read_table(tmp_path / "stage" / "pieman" / "nuisance.tsv")
    expected = nuisance_regressors(ans.tokens, ans.meta)
    assert list(nuisance.columns) == list(expected.columns) and len(nuisance) == 282
    np.testing.assert_allclose(nuisance, expected, rtol=1e-12)
    # the model read the shuffled story (seed 4), saved beside the ANs for later chapters
    from anbn_utils.ans.wordorder import shuffle_word_order
    from anbn_utils.narratives import load_story

    story = load_story(run_dir / "01_data", "pieman")
    words, text = shuffle_word_order(story.words, random_state=4)
    assert ans.meta["word_order"] == "shuffled" and ans.meta["seed"] == 4
    assert ans.transcript == text != story.transcript
    assert ans.words["source_index"].tolist() == words["source_index"].tolist()
    assert sorted(ans.words["source_index"]) == list(range(len(story.words)))
    shown = json.dumps([o for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
                        if c.cell_type == "code" for o in c.outputs])
    assert "Control: shuffled story" in shown


def test_figures_are_drawn_whatever_mplbackend_says(tiny_root, tmp_path):
    """With MPLBACKEND=Agg exported (as CI and most headless servers do) the kernels drew
    nothing and the book had no figure; each notebook now draws inline."""
    import os

    counts = {}
    for backend in ("Agg", None):
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
        if backend:
            env["MPLBACKEND"] = backend
        out = tmp_path / f"{backend}.ipynb"
        subprocess.run([sys.executable, "-m", "papermill", str(REPO_ROOT / "notebooks" / "01_data.ipynb"),
                        str(out), "--no-progress-bar", "-p", "run_dir", str(tmp_path / "run"),
                        "-p", "dataset_root", str(tiny_root), "-p", "cache_dir", str(tmp_path / "c"),
                        "-y", "tasks: [pieman]"], check=True, cwd=REPO_ROOT, capture_output=True,
                       env=env)
        # figures are glued (anbn_utils.figures.show_figure): their PNG is stored under
        # myst-nb's glue prefix, application/papermill.record/image/png
        counts[backend] = sum(any(k.endswith("image/png") for k in o.get("data", {}))
                              for c in nbformat.read(out, as_version=4).cells
                              if c.cell_type == "code" for o in c.outputs)
    assert counts["Agg"] == counts[None] >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_valid_python(path):
    """Each code cell parses on its own (IPython magics aside): a statement split across
    cells fails only when the runner reaches the stage."""
    import ast

    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code":
            src = "\n".join(line for line in cell.source.splitlines()
                            if not line.lstrip().startswith(("%", "!")))
            ast.parse(src, filename=f"{path.name} cell {i}")


#: Calls that write files (the package's writers and the usual library ones).
WRITERS = {"write_table", "write_json", "write_text", "save_array", "save_ans", "save_story",
           "save_brain_networks", "save_coupling", "save_replicates", "save_partition",
           "to_csv", "to_parquet", "to_json", "savez", "savez_compressed", "save", "dump",
           "write", "write_bytes", "savefig", "to_filename"}


def _writes(path):
    """Every call in a notebook's code cells whose name is in :data:`WRITERS`, as
    ``(name, owner, first argument)`` source strings."""
    import ast

    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        src = "\n".join(line for line in cell.source.splitlines()
                        if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in WRITERS:
                    owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
                    first = ast.unparse(node.args[0]) if node.args else ""
                    found.append((name, owner, first))
    return found


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_no_notebook_cell_writes_a_file_another_stage_reads(stage):
    """A stage's results are written by its package function's result (``run_<stage>`` in
    :mod:`anbn_utils.stages`, then ``<result>.save(stage_dir)``: the package owns the
    format); a notebook writes besides only tables it shows, which no other stage and no
    package module reads (the figure catalogue, ``figures.py``, names them as artifacts)."""
    writes = _writes(stage.notebook())
    saves = [w for w in writes if w[0] == "save"]
    tables = [w for w in writes if w[0] != "save"]
    if stage.name in ("00_phantom", "07_verdict"):  # no stage function: they compute nothing
        assert saves == []                          # that another stage reads
    else:
        assert len(saves) == 1 and saves[0][2] == "stage_dir", saves
        module = stage.name.split("_", 1)[1]
        code = "\n".join(c.source for c in nbformat.read(stage.notebook(), as_version=4).cells)
        assert re.search(rf"from anbn_utils\.stages\.{module} import .*run_{module}", code)
    names = [re.fullmatch(r"stage_dir / [\"']([\w.]+)[\"']", first) for _, _, first in tables]
    assert all(w[0] == "write_table" for w in tables) and all(names), tables
    sources = [p for p in (REPO_ROOT / "anbn_utils").rglob("*.py") if p.name != "figures.py"]
    sources += [nb for nb in NOTEBOOKS if nb != stage.notebook()]
    for name in {n.group(1) for n in names}:
        literal = re.compile(rf"[\"'/]{re.escape(name)}[\"']")  # in a string, as a path is
        readers = [p.name for p in sources if literal.search(p.read_text())]
        assert not readers, f"{stage.name}'s {name} (written by a notebook cell) is read by {readers}"
