"""Calibration of chapter 07's verdicts: per claim, how often it "holds" on data without
coupling (goal: at most the level) and on data with planted coupling.

Each dataset is a whole verdict (:func:`anbn_utils.verdict.claims_table`) of six runs built
from the phantom's own AN series (the real dependence between ANs) and simulated brain
networks (16 per story, AR(1) 0.8 convolved with SPM's HRF, like the phantom's):

==================  =========================================================================
run                 series
==================  =========================================================================
real                the trained model's ANs (``--run-dir``'s 02_ans) against the dataset's BNs
null phantom        the same ANs against other, independent BNs
untrained           the ANs of the untrained model (``--untrained-dir``) against the real BNs
shuffled_words      the ANs of the story with shuffled words (``--shuffled-dir``), real BNs
other_story         the real ANs against the other story's BNs (their first common TRs)
an_phase            the real ANs phase-randomized (one set of phases), against the real BNs
==================  =========================================================================

Scenario ``null``: the BNs follow no AN.  Scenario ``planted``: in the real BNs, 4 BNs per
story follow 4 ANs of the trained model at r ``--planted-r`` (so the null phantom and the
controls, whose ANs or BNs do not carry them, should not match the real run);
``planted_strong`` the same at r ``--strong-r``.  The variance
partition is not computed (its claim is untested here; chapter 04's calibration measures its
null).

Results: ``benchmarks/results/verdict_calibration.json`` and ``.md`` (per claim: the share of
datasets on which it held and on which the real run reproduced it, with 95 % Clopper-Pearson
intervals; the settings, machine and commit).

    python benchmarks/calibrate_verdicts.py                     # 100 null, 30 + 30 planted datasets
    python benchmarks/calibrate_verdicts.py --scenario null --datasets 20
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, header

from anbn_utils.coupling.statistics import surrogate_series
from anbn_utils.inference.calibration import plant, smooth_series
from anbn_utils.verdict import NULL_NAME, Rules, claims_table
from anbn_utils.verdict.calibration import DEFAULT_PARAMETERS, verdict_rates, write_coupling_run

N_BNS = 16
CONTROLS = ("untrained", "shuffled_words", "other_story", "an_phase")


def _ans(run_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], tuple[int, int]]:
    """A run's AN series per story (n_trs, n_ans), their categories (05_pos), and its layers
    and heads per layer."""
    from anbn_utils.ans import load_ans
    from anbn_utils.io import read_table

    series, tags, shape = {}, {}, None
    for folder in sorted(p.parent for p in (run_dir / "02_ans").glob("*/ans.json")):
        ans = load_ans(folder)
        a = np.asarray(ans.activations_hrf, dtype=np.float64)
        series[folder.name] = a.reshape(len(a), -1)
        shape = (ans.meta["n_layers"], ans.meta["n_heads"])
        tag_file = run_dir / "05_pos" / folder.name / "an_tags.tsv"
        if tag_file.is_file():
            tags[folder.name] = read_table(tag_file)["category"].to_numpy()
    if not series:
        raise SystemExit(f"{run_dir}/02_ans holds no stories: run `make book` first (or give "
                         "the run directories)")
    return series, tags, shape


def _dataset(rng, seed, scenario, args, root: Path) -> pd.DataFrame:
    real_ans, untrained, shuffled = args.real[0], args.untrained[0], args.shuffled[0]
    stories = list(real_ans)
    bns = {s: smooth_series(rng, len(real_ans[s]), N_BNS, kind="hrf", phi=0.8) for s in stories}
    r = {"planted": args.planted_r, "planted_strong": args.strong_r}.get(scenario)
    if r is not None:
        for s in stories:
            pairs = list(zip(rng.choice(real_ans[s].shape[1], 4, replace=False).tolist(),
                             rng.choice(N_BNS, 4, replace=False).tolist()))
            bns[s] = plant(real_ans[s], bns[s], pairs, r)
    other_bns = {s: smooth_series(rng, len(real_ans[s]), N_BNS, kind="hrf", phi=0.8)
                 for s in stories}
    partner = {s: stories[(i + 1) % len(stories)] for i, s in enumerate(stories)}
    common = min(len(real_ans[s]) for s in stories)
    runs = {
        "real": {s: (real_ans[s], bns[s]) for s in stories},
        NULL_NAME: {s: (real_ans[s], other_bns[s]) for s in stories},
        "untrained": {s: (untrained[s], bns[s]) for s in stories},
        "shuffled_words": {s: (shuffled[s], bns[s]) for s in stories},
        "other_story": {s: (real_ans[s][:common], bns[partner[s]][:common]) for s in stories},
        "an_phase": {s: (surrogate_series(real_ans[s], "phase", random_state=seed, story=i),
                         bns[s]) for i, s in enumerate(stories)},
    }
    tags = {"real": args.real[1], NULL_NAME: args.real[1], "untrained": args.untrained[1],
            "shuffled_words": args.shuffled[1], "other_story": args.real[1],
            "an_phase": args.real[1]}
    params = {"n_permutations": args.permutations, "claim_boot": args.boot, "seed": seed}
    results = {name: write_coupling_run(
        root / name.replace(" ", "_"), series, *args.real[2], tags=tags[name] or None,
        parameters={**params, **({"bn_pairing": "crossed"} if name == "other_story" else {})},
        name=name, device=args.device) for name, series in runs.items()}
    table = claims_table(results["real"], results[NULL_NAME],
                         {c: results[c] for c in CONTROLS}, Rules(alpha=args.alpha))
    return table.assign(dataset=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", action="append", choices=["null", "planted", "planted_strong"])
    ap.add_argument("--datasets", type=int, help="datasets per scenario (default 100 null, "
                                                    "30 for each planted r)")
    ap.add_argument("--permutations", type=int, default=DEFAULT_PARAMETERS["n_permutations"],
                    help="randomizations of the phase null")
    ap.add_argument("--boot", type=int, default=DEFAULT_PARAMETERS["claim_boot"],
                    help="bootstrap resamples of the contrasts")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--planted-r", type=float, default=0.5)
    ap.add_argument("--strong-r", type=float, default=0.8,
                    help="the planted r of the scenario planted_strong")
    ap.add_argument("--run-dir", type=Path, default=Path("runs/phantom-null"),
                    help="a run whose 02_ans (and 05_pos) give the trained model's ANs")
    ap.add_argument("--untrained-dir", type=Path,
                    default=Path("runs/study-verdict-small/untrained"))
    ap.add_argument("--shuffled-dir", type=Path,
                    default=Path("runs/study-verdict-small/shuffled_words"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    args.real, args.untrained, args.shuffled = (
        _ans(d) for d in (args.run_dir, args.untrained_dir, args.shuffled_dir))
    path = args.out / "verdict_calibration.json"
    result = json.loads(path.read_text()) if path.is_file() else {"scenarios": {}}
    result.update(benchmark="verdict_calibration", **header(args.device))
    defaults = {"null": 100, "planted": 30, "planted_strong": 30}
    for scenario in args.scenario or list(defaults):
        n = args.datasets or defaults[scenario]
        start, tables = time.perf_counter(), []
        for seed in range(n):
            rng = np.random.default_rng([seed, list(defaults).index(scenario)])
            with tempfile.TemporaryDirectory() as tmp:
                tables.append(_dataset(rng, seed, scenario, args, Path(tmp)))
            print(f"{scenario} {seed + 1}/{n}", flush=True)
        rates = verdict_rates(pd.concat(tables, ignore_index=True))
        result["scenarios"][scenario] = {
            "commit": result["commit"], "datasets": n, "seconds": time.perf_counter() - start,
            "alpha": args.alpha, "n_permutations": args.permutations, "claim_boot": args.boot,
            "planted_r": {"planted": args.planted_r, "planted_strong": args.strong_r}.get(scenario),
            "rates": rates.to_dict(orient="records")}
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(rates.to_string(index=False), flush=True)
    _markdown(result, path.with_suffix(".md"))


def _markdown(result: dict, path: Path) -> None:
    lines = [f"# Calibration of the verdicts ({result['date']}, commit {result['commit']})", ""]
    for name, s in result["scenarios"].items():
        lines += [f"## {name}: {s['datasets']} datasets, level {s['alpha']}", "",
                  "| claim | kind | holds | 95 % interval | reproduced | 95 % interval | untested |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['key']} | {r['kind']} | {r['holds']:.3f} | {r['holds_low']:.3f}-"
                  f"{r['holds_high']:.3f} | {r['reproduced']:.3f} | {r['reproduced_low']:.3f}-"
                  f"{r['reproduced_high']:.3f} | {r['untested']} |" for r in s["rates"]]
        lines.append("")
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
