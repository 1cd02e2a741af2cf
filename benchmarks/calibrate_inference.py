"""Calibration of the coupling inference: false-positive rates on null data, power on planted.

Every null model (shuffle, circular, phase) and every reading (uncorrected per test,
family-wise by the step-down max statistic, FDR with tail p-values) on many simulated
datasets at the book's sizes (:mod:`anbn_utils.inference.calibration`):

==================  =========================================================================
scenario            data
==================  =========================================================================
pair_ar1            one AN against one BN, independent AR(1) series (rho 0.9) at the paper's
                    282 TRs: the per-test false-positive rate, also of the circular null with
                    a 10-TR exclusion window (``min_shift=10``, the old default:
                    ``circular_window``), and of the tail p-values when every test with
                    fewer than 10 randomizations above it gets the tail (Knijnenburg's rule:
                    ``<null>_tail10``) instead of only those at the floor
phantom_real_ans    the phantom's own AN series (the ``phantom-null`` run's 02_ans, both
                    stories; real dependence between ANs) against 16 BNs made like the
                    phantom's networks unrelated to the text (AR(1) 0.8, SPM HRF): FWER, FDR
phantom_null        simulated HRF-smooth ANs and BNs at the phantom's size (2,304 ANs, 16 BNs,
                    the phantom story's TRs), no coupling
phantom_planted     the same with 4 planted pairs at r = ``--planted-r``: power
paper_null          the paper's size (9,216 ANs, 128 BNs, 282 TRs), no coupling
paper_planted       the same with 8 planted pairs: power
tail_extremes       null families at the phantom's size: tail p-values of null ANs below
                    1e-3, 1e-4, 3e-5 (far under the permutation floor), with the fitted shape
                    held at zero or above (the default) and free
nuisance_<how>      the phantom's AN series against 16 BNs of which 4 follow the story's
                    nuisance regressors (02_ans nuisance.tsv: tokens, words, speech, and a
                    random mixture of all; r ``--planted-r``) and none follows an AN: with ``nuisance=none``
                    every significant AN is a coupling that is not about the words; with
                    ``regress`` the regressors are removed from the ANs first, with
                    ``regress_both`` from the ANs and the BNs (and every BN copy)
nuisance_planted_<how>  the same BNs, and 4 more that follow phantom ANs (r ``--planted-r``):
                    power with and without the regression
==================  =========================================================================

Results: ``benchmarks/results/calibration_cpu.json`` (rates with Clopper-Pearson intervals,
the settings, machine and commit) and ``.md``; each scenario is written as soon as it ends,
and a rerun of some scenarios keeps the others' results.

    python benchmarks/calibrate_inference.py                       # everything (about 2 h on 2 cores)
    python benchmarks/calibrate_inference.py --scenario pair_ar1 --datasets 500

The nuisance scenarios re-measured on AN series the default was not chosen on: those of the
20 null phantoms of ``calibrate_verdicts_phantom.py`` (seeds 100-119, each with word timings
of its own), of the trained model (``_holdout``) and of the untrained one (``_untrained``)::

    NUISANCE="$(printf -- '--scenario %s ' nuisance_{,planted_}{none,regress,regress_both})"
    WORK=/tmp/anbn-verdict-calibration/book   # calibrate_verdicts_phantom.py's --work, then book/
    python benchmarks/calibrate_inference.py $NUISANCE --suffix _holdout \\
        $(printf -- '--run-dir %s ' $WORK/null-*/real)
    python benchmarks/calibrate_inference.py $NUISANCE --suffix _untrained \\
        $(printf -- '--run-dir %s ' $WORK/null-*/untrained)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import RESULTS, header

from anbn_utils.choices import NUISANCE_MODELS
from anbn_utils.inference.calibration import (
    PAIR_PHI,
    WINDOW,
    evaluate,
    plant,
    rate_table,
    smooth_series,
)

NULLS = ("shuffle", "circular", "phase")
ALPHAS = (0.01, 0.05)


def _pair_ar1(rng, seed, args):
    ans, bns = (smooth_series(rng, 282, 1, kind="ar1", phi=PAIR_PHI) for _ in range(2))
    rows = evaluate(ans, bns, nulls=NULLS, n_permutations=args.permutations, alphas=ALPHAS,
                    random_state=seed, device=args.device)
    window = evaluate(ans, bns, nulls=["circular"], alphas=ALPHAS, min_shift=WINDOW,
                      random_state=seed, device=args.device)
    tail10 = evaluate(ans, bns, nulls=["circular", "phase"], n_permutations=args.permutations,
                      alphas=ALPHAS, tail_options={"min_count": 10}, random_state=seed,
                      device=args.device)
    return (rows + [{**r, "null": "circular_window"} for r in window]
            + [{**r, "null": f"{r['null']}_tail10"} for r in tail10])


def _real_ans(run_dir: Path):
    """The AN series of a run's stories (HRF-convolved, (n_trs, n_ans) each) and their
    nuisance regressors ((n_trs, n_regressors) each)."""
    from anbn_utils.ans import load_ans
    from anbn_utils.ans.nuisance import load_nuisance

    folders = sorted(p.parent for p in (run_dir / "02_ans").glob("*/ans.json"))
    if not folders:
        raise SystemExit(f"{run_dir}/02_ans holds no stories: run `python -m anbn_utils.run "
                         f"--profile phantom-null --stage 02_ans` first (or give --run-dir)")
    out = []
    for folder in folders:
        a = np.asarray(load_ans(folder).activations_hrf, dtype=np.float64)
        a = a.reshape(len(a), -1)
        out.append((a[:, a.std(0) > 0], load_nuisance(folder).to_numpy()))
    return out


def _phantom_real_ans(rng, seed, args):
    ans = args.real_ans[seed % len(args.real_ans)][0]
    bns = smooth_series(rng, len(ans), 16, kind="hrf", phi=0.8)
    return evaluate(ans, bns, nulls=NULLS, n_permutations=args.permutations, alphas=ALPHAS,
                    random_state=seed, device=args.device)


#: Levels far below the permutation floor, where only the tail speaks.
EXTREMES = (1e-3, 1e-4, 3e-5)


def _tail_extremes(rng, seed, args):
    """Null families at the phantom's size: how often the tail p-value of a null AN falls
    below levels far under the permutation floor, with the shape held at zero or above (the
    default) and free (Knijnenburg et al.)."""
    from anbn_utils.coupling.statistics import max_statistic_test

    ans = torch.tensor(smooth_series(rng, args.phantom_trs, 2304, kind="hrf", phi=0.5),
                       device=args.device)
    bns = torch.tensor(smooth_series(rng, args.phantom_trs, 16, kind="hrf", phi=0.8),
                       device=args.device)
    rows = []
    for null in ("circular", "phase"):
        for fit, options in (("held", None), ("free", {"min_shape": None})):
            p = max_statistic_test(ans, bns, null=null, n_permutations=args.permutations,
                                   random_state=seed, tail_options=options)["an_p_tail"]
            rows += [{"null": f"{null}_{fit}", "alpha": x, "per_test_tail": float((p <= x).mean()),
                      "n_null_ans": len(p), "n_planted": 0} for x in EXTREMES]
    return rows


def _nuisance(how, n_planted):
    """BNs 0-3 follow the story's nuisance regressors; BNs 4 .. follow ``n_planted`` random
    ANs; the rest are independent."""
    def run(rng, seed, args):
        ans, regressors = args.real_ans[seed % len(args.real_ans)]
        bns = smooth_series(rng, len(ans), 16, kind="hrf", phi=0.8)
        # BNs 0-2 follow the tokens, words and speech regressors (an auditory network follows
        # the speech rate), BN 3 a random mixture of all of them
        mixtures = np.column_stack([regressors[:, :3],
                                    regressors @ rng.standard_normal(regressors.shape[1])])
        bns = plant(mixtures, bns, [(j, j) for j in range(4)], args.planted_r)
        pairs = list(zip(rng.choice(ans.shape[1], n_planted, replace=False).tolist(),
                         range(4, 4 + n_planted)))
        if pairs:
            bns = plant(ans, bns, pairs, args.planted_r)
        return evaluate(ans, bns, planted=pairs, nulls=("circular", "phase"),
                        n_permutations=args.permutations, alphas=ALPHAS, random_state=seed,
                        regressors=None if how == "none" else regressors, nuisance=how,
                        device=args.device)
    return run


def _simulated(n_trs, n_ans, n_bns, n_planted, nulls):
    def run(rng, seed, args):
        ans = smooth_series(rng, n_trs, n_ans, kind="hrf", phi=0.5)
        bns = smooth_series(rng, n_trs, n_bns, kind="hrf", phi=0.8)
        pairs = list(zip(rng.choice(n_ans, n_planted, replace=False).tolist(),
                         rng.choice(n_bns, n_planted, replace=False).tolist()))
        if pairs:
            bns = plant(ans, bns, pairs, args.planted_r)
        return evaluate(ans, bns, planted=pairs, nulls=nulls, n_permutations=args.permutations,
                        alphas=ALPHAS, random_state=seed, device=args.device)
    return run


def scenarios(phantom_trs: int) -> dict:
    """Scenario name -> (one dataset's evaluation, default number of datasets, TRs)."""
    # the shuffle's invalidity shows in the pair and real-AN scenarios; the others leave it
    # out (its p-values sit at the floor, and their tail fits cost most of the time)
    fast = ("circular", "phase")
    return {
        "pair_ar1": (_pair_ar1, 4000, 282),
        "phantom_real_ans": (_phantom_real_ans, 200, phantom_trs),
        "phantom_null": (_simulated(phantom_trs, 2304, 16, 0, fast), 200, phantom_trs),
        "phantom_planted": (_simulated(phantom_trs, 2304, 16, 4, fast), 200, phantom_trs),
        "paper_null": (_simulated(282, 9216, 128, 0, fast), 100, 282),
        "paper_planted": (_simulated(282, 9216, 128, 8, fast), 50, 282),
        "tail_extremes": (_tail_extremes, 30, phantom_trs),
        **{f"nuisance_{how}": (_nuisance(how, 0), 100, phantom_trs) for how in NUISANCE_MODELS},
        **{f"nuisance_planted_{how}": (_nuisance(how, 4), 100, phantom_trs)
           for how in NUISANCE_MODELS},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", action="append", choices=list(scenarios(0)))
    ap.add_argument("--datasets", type=int, help="datasets per scenario (default: its own)")
    ap.add_argument("--permutations", type=int, default=999,
                    help="randomizations of the shuffle and phase nulls")
    ap.add_argument("--planted-r", type=float, default=0.5)
    ap.add_argument("--run-dir", type=Path, action="append",
                    help="a run whose 02_ans gives the AN series of the real-AN and nuisance "
                         "scenarios (repeat for several; default: runs/phantom-null)")
    ap.add_argument("--suffix", default="",
                    help="appended to the scenario names written (e.g. `_holdout` for AN "
                         "series of runs the defaults were not chosen on)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    args.run_dir = args.run_dir or [Path("runs/phantom-null")]
    args.real_ans = [story for run_dir in args.run_dir for story in _real_ans(run_dir)]
    args.phantom_trs = len(args.real_ans[0][0])
    table_of = scenarios(args.phantom_trs)
    path = args.out / f"calibration_{'cpu' if args.device == 'cpu' else 'gpu'}.json"
    result = json.loads(path.read_text()) if path.is_file() else {"scenarios": {}}
    for kept in result["scenarios"].values():  # each scenario says which commit measured it
        kept.setdefault("commit", result.get("commit"))
    result.update(benchmark="calibration", **header(args.device))
    for name in args.scenario or list(table_of):
        fn, n_default, n_trs = table_of[name]
        n = args.datasets or n_default
        start, rows = time.perf_counter(), []
        for seed in range(n):
            rng = np.random.default_rng([seed, list(table_of).index(name)])
            rows += [{**r, "dataset": seed} for r in fn(rng, seed, args)]
        table = rate_table(pd.DataFrame(rows), ["null", "alpha"])
        result["scenarios"][name + args.suffix] = {
            "commit": result["commit"], "datasets": n, "seconds": time.perf_counter() - start,
            "n_trs": n_trs,
            "an_sources": ([str(d) for d in args.run_dir]
                           if name.startswith(("nuisance", "phantom_real")) else None),
            "n_permutations": args.permutations,
            "planted_r": args.planted_r if "planted" in name else None,
            "rates": table.to_dict(orient="records")}
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"{name}{args.suffix}: {n} datasets in {time.perf_counter() - start:.0f} s", flush=True)
        print(table.to_string(index=False), flush=True)
    _markdown(result, path.with_suffix(".md"))


def _markdown(result: dict, path: Path) -> None:
    lines = [(f"# Calibration of the coupling inference ({result['date']}, commit "
              f"{result['commit']})"), ""]
    for name, s in result["scenarios"].items():
        lines += [f"## {name}: {s['datasets']} datasets, {s['n_trs']} TRs", "",
                  "| null | alpha | outcome | rate | 95 % interval | trials |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['null']} | {r['alpha']} | {r['outcome']} | {r['rate']:.4f} | "
                  f"{r['low']:.4f}-{r['high']:.4f} | {r['trials']} |" for r in s["rates"]]
        lines.append("")
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
