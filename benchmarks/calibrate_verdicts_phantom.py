"""Calibration of chapter 07's verdicts through the whole pipeline: per claim, how often it
"holds" on phantoms without coupling (goal: at most the level) and on phantoms with the
book's planted couplings.

Each dataset is a phantom generated with its own seed (``dataset.random_state``: its noise,
its networks' signals and, in the planted scenario, the same planted ANs as the book's),
never the book's seed 0; every stage runs with the book's ``phantom`` parameters through
the stage functions (:func:`anbn_utils.stages.pipeline.run_headless`: generation, data,
ANs, VS-DBN, coupling with its tests and predictive check, part of speech), and so do its
four controls (untrained model, shuffled words, the other story's BNs, phase-randomized
ANs).  The verdict is chapter 07's (:func:`anbn_utils.verdict.claims_table` with
:data:`anbn_utils.verdict.claims.DEFAULT_RULES`); its null-phantom run is another null dataset's
real run (null scenario: the next seed's; planted scenario: the null dataset of the same
index), a phantom at the same shape with no coupling.

Two departures from the book, both outside what the claims read: only the circular and
phase nulls are tested (the claims read no other; the book adds the shuffle), and the ANs
(02_ans) are computed once per model and linked into every dataset whose stories have the
same words on the same TRs (checked; the phantom draws its word timings with its seed, so
its datasets other than the first compute their own, recorded as ``shared_ans``).

Results: the scenarios ``phantom_null`` and ``phantom_planted`` of
``benchmarks/results/verdict_calibration.json`` (and ``.md``), beside the simulated ones of
``calibrate_verdicts.py``.  Each dataset's claims table is kept in ``--work`` (default
``/tmp/anbn-verdict-calibration``), so an interrupted calibration resumes.

    python benchmarks/calibrate_verdicts_phantom.py                 # 20 null, 10 planted
    python benchmarks/calibrate_verdicts_phantom.py --null 2 --planted 1 --tiny   # a check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from _common import RESULTS, header
from calibrate_verdicts import _markdown
from joblib import Parallel, delayed

from anbn_utils.stages.pipeline import run_headless
from anbn_utils.verdict import NULL_NAME, claims_table, load_run
from anbn_utils.verdict.calibration import verdict_rates
from anbn_utils.verdict.claims import DEFAULT_RULES

CONTROLS = {"untrained": ["model=random:sentence-transformers/all-MiniLM-L6-v2"],
            "shuffled_words": ["word_order=shuffled"],
            "other_story": ["bn_pairing=crossed"],
            "an_phase": ["an_surrogate=phase"]}
#: The controls whose ANs differ from the real run's (computed once, like the real ANs).
OWN_ANS = ("untrained", "shuffled_words")
#: First dataset seed of each scenario (the book's phantoms use 0).
SEED0 = {"null": 100, "planted": 200}
PROFILE = {"null": "phantom-null", "planted": "phantom"}
#: --tiny: a quick check of the harness, not a calibration.
TINY = ["dataset.n_subjects=2", "n_epochs=2", "n_permutations=99", "partition_shifts=5",
        "claim_boot=50"]
STAGES = ["01_data", "02_ans", "03_bns", "04_coupling", "05_pos"]


def _overrides(work: Path, seed: int, tiny: bool) -> list[str]:
    return ["null_run_dir=null", "compare_run_dir=null", "study_run_dir=null", "device=cpu",
            "nulls=[circular, phase]", f"cache_dir={work / 'cache'}",
            f"dataset.random_state={seed}", *(TINY if tiny else [])]


def _same_text(run_a: Path, run_b: Path) -> bool:
    """The two runs' stories have the same words on the same TRs (so the same ANs)."""
    from anbn_utils.narratives import load_story

    for folder in sorted((run_a / "01_data").glob("*/")):
        a, b = load_story(run_a / "01_data", folder.name), load_story(run_b / "01_data",
                                                                       folder.name)
        if (a.n_trs, a.start, a.tr, a.transcript) != (b.n_trs, b.start, b.tr, b.transcript) \
                or not a.words.equals(b.words):
            return False
    return True


def _shared_ans(work: Path, tiny: bool) -> Path:
    """The ANs of the real model and of the two controls with their own, on the stories of
    the first null dataset (``<work>/ans/<run>/02_ans``)."""
    folder = work / "ans"
    if (folder / "done").is_file():
        return folder
    base = _overrides(work, SEED0["null"], tiny)
    run_headless(PROFILE["null"], folder / "real", stages=["01_data", "02_ans"], overrides=base)
    for control in OWN_ANS:
        run_headless(PROFILE["null"], folder / control, stages=["01_data", "02_ans"],
                     overrides=base + CONTROLS[control],
                     reuse={"dataset": folder / "real" / "dataset",
                            "01_data": folder / "real" / "01_data"})
    (folder / "done").write_text("")
    return folder


def _dataset(scenario: str, index: int, work: Path, shared: Path, tiny: bool) -> Path:
    """One dataset's real run and controls, run to 05_pos (skipped when done)."""
    folder = work / f"{scenario}-{index:03d}"
    if (folder / "done.json").is_file():
        return folder
    start = time.perf_counter()
    base = _overrides(work, SEED0[scenario] + index, tiny)
    real = folder / "real"
    run_headless(PROFILE[scenario], real, stages=["01_data"], overrides=base)
    same = _same_text(real, shared / "real")
    run_headless(PROFILE[scenario], real, stages=STAGES[1:], overrides=base,
                 reuse={"02_ans": shared / "real" / "02_ans"} if same else None)
    for control, sets in CONTROLS.items():
        reuse = {"dataset": real / "dataset", "01_data": real / "01_data",
                 "03_bns": real / "03_bns"}
        if control not in OWN_ANS:
            reuse["02_ans"] = real / "02_ans"
        elif same:
            reuse["02_ans"] = shared / control / "02_ans"
        run_headless(PROFILE[scenario], folder / control, stages=STAGES, overrides=base + sets,
                     reuse=reuse)
    (folder / "done.json").write_text(json.dumps({
        "seed": SEED0[scenario] + index, "shared_ans": same,
        "wall_s": time.perf_counter() - start}))
    return folder


def _table(real: Path, null: Path) -> pd.DataFrame:
    """Chapter 07's claims table of a dataset, its null-phantom run given."""
    controls = {c: load_run(real.parent / c, c) for c in CONTROLS}
    return claims_table(load_run(real, "this run"), load_run(null, NULL_NAME), controls,
                        DEFAULT_RULES)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null", type=int, default=20, help="null datasets (at least 2)")
    ap.add_argument("--planted", type=int, default=10, help="planted datasets (at most --null)")
    ap.add_argument("--n-jobs", type=int, default=2, help="datasets at once")
    ap.add_argument("--work", type=Path, default=Path("/tmp/anbn-verdict-calibration"))
    ap.add_argument("--tiny", action="store_true", help=f"a check of the harness: {TINY}")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.null < 2 or args.planted > args.null:
        ap.error("--null must be at least 2 (each null dataset's null run is another's) and "
                 "--planted at most --null (each planted dataset's null run is a null one's)")
    work = args.work / ("tiny" if args.tiny else "book")
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    shared = _shared_ans(work, args.tiny)
    jobs = [(s, i) for s, n in (("null", args.null), ("planted", args.planted))
            for i in range(n)]
    Parallel(n_jobs=args.n_jobs)(delayed(_dataset)(s, i, work, shared, args.tiny)
                                 for s, i in jobs)
    wall = time.perf_counter() - start
    nulls = [work / f"null-{i:03d}" / "real" for i in range(args.null)]
    tables = {
        "phantom_null": [_table(nulls[i], nulls[(i + 1) % args.null]).assign(dataset=i)
                         for i in range(args.null)],
        "phantom_planted": [_table(work / f"planted-{i:03d}" / "real", nulls[i])
                            .assign(dataset=i) for i in range(args.planted)]}
    datasets = [json.loads((work / f"{s}-{i:03d}" / "done.json").read_text()) for s, i in jobs]
    path = args.out / "verdict_calibration.json"
    result = json.loads(path.read_text()) if path.is_file() else {"scenarios": {}}
    result.update(benchmark="verdict_calibration", **header("cpu"))
    for name, parts in tables.items():
        if not parts:
            continue
        rates = verdict_rates(pd.concat(parts, ignore_index=True))
        result["scenarios"][name] = {
            "commit": result["commit"], "datasets": len(parts), "seconds": wall,
            "dataset_seconds_median": float(pd.Series([d["wall_s"] for d in datasets]).median()),
            "alpha": DEFAULT_RULES.alpha, "planted_r": None, "pipeline": "phantom",
            "tiny": args.tiny, "rates": rates.to_dict(orient="records")}
        print(name, rates.to_string(index=False), sep="\n", flush=True)
    if args.tiny:
        print(f"tiny check done in {wall:.0f} s; nothing written to {path}")
        return
    path.write_text(json.dumps(result, indent=1) + "\n")
    _markdown(result, path.with_suffix(".md"))


if __name__ == "__main__":
    main()
