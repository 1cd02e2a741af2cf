"""How well VS-DBN and CanICA recover planted networks, and the null models' false-positive
rates: the measurements the Methods page quotes (its numbers are read from the results).

Three parts, each on data with a known answer:

- ``mixture``: the linear planted mixture of the tests
  (:func:`anbn_utils.synthetic.planted_mixture`: 6 Gaussian blobs, 1,500 samples).
  The paper's rules (``positive_phase="sample"``, ``between_layers="rownorm"``, the paper's
  learning rates and L1) with units shaped like the paper's 512/256/128, nilearn's CanICA,
  and a sweep of positive phase x between-layer rule x learning rate (1x, 10x the paper's)
  x epochs x L1 (0, 1x, 10x) x depth (three layers, or one layer of the last layer's
  size).  Score: mean |r| of planted and recovered maps after a Hungarian matching
  (:func:`anbn_utils.recovery.matched_correlation`), last layer.
- ``phantom``: a finished ``phantom`` run (``--run-dir``): VS-DBN with the public code's
  rules at the paper's and at tenfold learning rates, with the run's own settings, and
  CanICA with as many components, all on the run's prepared data; per network, the
  |spatial r| of the matched BN (:func:`anbn_utils.recovery.map_recovery`) and the |r| of
  its subject-averaged time course with the planted one, per story.  The run's and the
  ``phantom-null`` run's (``--null-run-dir``) share of significant ANs per null model are
  copied from their ``04_coupling/summary.json``.
- ``independence``: 300 AR(1) ANs (phi 0.9) against 6 AR(1) BNs, 150 TRs, independent
  (the setting of ``tests/test_coupling.py``): the share of ANs with p < 0.05 under each
  null model.

    python benchmarks/sweep_vsdbn_canica.py            # its duration is in the results
    python benchmarks/sweep_vsdbn_canica.py --quick    # a smoke run (not for the book)
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from _common import RESULTS, header, write

from anbn_utils.bns import VSDBN
from anbn_utils.recovery import (
    load_truth,
    map_recovery,
    matched_correlation,
    timecourse_recovery,
    true_timecourses,
)
from anbn_utils.synthetic import ar1, planted_mixture

PROFILES = Path(__file__).resolve().parents[1] / "anbn_utils" / "profiles"


def paper_rules() -> dict:
    """The paper's VS-DBN settings (the public code's update rules), from the ``paper``
    profile."""
    params = yaml.safe_load((PROFILES / "paper.yaml").read_text())["params"]
    return {k: params[k] for k in ("learning_rate", "l1", "batch_size", "positive_phase",
                                   "between_layers")}


def _vsdbn(**kw) -> VSDBN:
    return VSDBN(**kw, device="cpu")


def mixture(n_hidden, n_epochs, quick: bool) -> dict:
    X, S, A, shape = planted_mixture()
    rules = paper_rules()
    t0 = time.perf_counter()
    paper = _vsdbn(**rules, n_hidden=n_hidden, n_epochs=n_epochs[0]).fit(X)
    out = {"data": {"n_sources": len(S), "n_samples": len(X), "n_voxels": X.shape[1],
                    "grid": list(shape)},
           "paper_rules": {"n_hidden": list(n_hidden), "n_epochs": n_epochs[0],
                           **{k: rules[k] for k in ("positive_phase", "between_layers")},
                           "map_r_per_layer": [matched_correlation(paper.maps(i + 1), S)
                                               for i in range(len(n_hidden))],
                           "timecourse_r": matched_correlation(paper.transform(X), A.T),
                           "seconds": time.perf_counter() - t0}}
    import nibabel as nib
    from nilearn.decomposition import CanICA

    mask = nib.Nifti1Image(np.ones(shape, np.uint8), np.eye(4))
    imgs = [nib.Nifti1Image(X[i:i + 300].T.reshape(shape + (300,)), np.eye(4))
            for i in range(0, len(X), 300)]
    ica = CanICA(n_components=n_hidden[-1], mask=mask, random_state=0, smoothing_fwhm=None,
                 standardize=False, detrend=False).fit(imgs)
    out["canica"] = {"n_components": n_hidden[-1],
                     "map_r": matched_correlation(ica.components_.T, S)}
    grid = {"positive_phase": ["sample", "prob"],
            "between_layers": ["rownorm", "zscore", "sigmoid"],
            "lr_factor": [1, 10], "n_epochs": list(n_epochs), "l1_factor": [0, 1, 10],
            "depth": [len(n_hidden), 1]}
    if quick:
        grid = {k: v[:1] for k, v in grid.items()} | {"depth": [len(n_hidden), 1]}
    runs = []
    for values in itertools.product(*grid.values()):
        s = dict(zip(grid, values))
        if s["depth"] == 1 and s["between_layers"] != grid["between_layers"][0]:
            continue  # one layer: no between-layer rule
        hidden = tuple(n_hidden) if s["depth"] > 1 else (n_hidden[-1],)
        layers = slice(0, len(hidden))
        lr = [s["lr_factor"] * v for v in rules["learning_rate"][layers]]
        l1 = [s["l1_factor"] * v for v in rules["l1"][layers]]
        t0 = time.perf_counter()
        model = _vsdbn(n_hidden=hidden, learning_rate=lr, l1=l1, n_epochs=s["n_epochs"],
                       batch_size=rules["batch_size"], positive_phase=s["positive_phase"],
                       between_layers=s["between_layers"]).fit(X)
        runs.append({**s, "between_layers": s["between_layers"] if s["depth"] > 1 else None,
                     "map_r": matched_correlation(model.maps(), S),
                     "seconds": time.perf_counter() - t0})
        print(f"mixture {runs[-1]}", flush=True)
    best = max(runs, key=lambda r: r["map_r"])
    best_deep = max((r for r in runs if r["depth"] > 1), key=lambda r: r["map_r"])
    out |= {"grid": grid, "runs": runs, "best": best, "best_deep": best_deep}
    return out


def phantom(run_dir: Path, null_run_dir: Path, quick: bool) -> dict:
    from anbn_utils.bns.networks import fit_brain_networks
    from anbn_utils.io import read_json
    from anbn_utils.narratives import load_story

    params = yaml.safe_load((run_dir / "params.yaml").read_text())["params"]
    truth = load_truth(run_dir / "dataset")
    if truth is None or not truth["planted"]:
        raise SystemExit(f"{run_dir} is not a finished run of the phantom profile: run "
                         "`python -m anbn_utils.run --profile phantom` first")
    stories = {t: load_story(run_dir / "01_data", t) for t in params["tasks"]}
    own = {k: params[k] for k in ("n_hidden", "learning_rate", "l1", "n_epochs", "batch_size",
                                  "positive_phase", "between_layers")}
    if quick:
        own["n_epochs"] = 1
    rules = paper_rules()
    public = own | {k: rules[k] for k in ("positive_phase", "between_layers")}
    variants = {
        "public_rules": public | {"learning_rate": rules["learning_rate"]},
        "public_rules_lr10": public | {"learning_rate": [10 * v for v in rules["learning_rate"]]},
        "profile": own,
    }
    out = {"run_dir": str(run_dir), "profile_params": own, "variants": {}}
    fits = {name: fit_brain_networks(stories, vsdbn=v, random_state=params["seed"],
                                     device="cpu", progress=False)
            for name, v in variants.items()}
    fits["canica"] = fit_brain_networks(stories, method="canica",
                                        n_components=own["n_hidden"][-1],
                                        random_state=params["seed"], device="cpu",
                                        progress=False)
    for name, bns in fits.items():
        rec = map_recovery(bns.maps[-1], truth, bns.mask_img)
        tcs = timecourse_recovery(rec, {t: true_timecourses(truth, s) for t, s in stories.items()},
                                  {t: bns.mean_timecourses(t) for t in stories})
        row = {"settings": variants.get(name, {"n_components": own["n_hidden"][-1]}),
               "networks": [f"{n}: {m}" for n, m in zip(rec["network"], rec["network_name"])],
               "planted_an": rec["planted_an"].tolist(),
               "map_r": rec["spatial_r"].abs().tolist(),
               "timecourse_r": {t: g["timecourse_r"].abs().tolist()
                                for t, g in tcs.groupby("story", sort=False)}}
        out["variants"][name] = row
        print(f"phantom {name}: maps {np.round(row['map_r'], 2)}", flush=True)
    for key, folder in (("coupling", run_dir), ("coupling_null", null_run_dir)):
        summary = folder / "04_coupling" / "summary.json"
        if not summary.is_file():
            raise SystemExit(f"{summary} is missing: run `python -m anbn_utils.run --profile "
                             f"{'phantom' if key == 'coupling' else 'phantom-null'}` first")
        s = read_json(summary)
        out[key] = {"run_dir": str(folder), "alpha": s["parameters"]["alpha"],
                    "n_permutations": s["parameters"]["n_permutations"],
                    "ans_significant_pct": {t: {n: v["ans_significant_pct"]
                                                for n, v in st["nulls"].items()}
                                            for t, st in s["stories"].items()}}
    return out


def independence(n_permutations: int) -> dict:
    from anbn_utils.coupling.statistics import NULL_MODELS, max_statistic_test

    n_trs, n_ans, n_bns, phi, alpha = 150, 300, 6, 0.9, 0.05
    rng = np.random.default_rng(2)
    ans = torch.tensor(ar1(rng, n_trs, n_ans, phi))
    bns = torch.tensor(ar1(rng, n_trs, n_bns, phi))
    rates = {null: float((max_statistic_test(ans, bns, null=null, n_permutations=n_permutations,
                                             random_state=3)["an_p"] < alpha).mean())
             for null in NULL_MODELS}
    return {"n_trs": n_trs, "n_ans": n_ans, "n_bns": n_bns, "phi": phi, "alpha": alpha,
            "n_permutations": n_permutations, "rate": rates}


def _range(values, fmt=".2f") -> str:
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}-{hi}"


def markdown(r: dict) -> str:
    m, mx, ph, ind = r["machine"], r["mixture"], r["phantom"], r["independence"]
    pr = mx["paper_rules"]
    threads = f"{m['cores']} torch thread" + ("s" if m["cores"] != 1 else "")
    md = (f"**VS-DBN against CanICA, and null models** on {m['device']} ({m['cpu']}, "
          f"{threads}), torch {m['torch']}, nilearn {r['versions']['nilearn']}, "
          f"commit `{r['commit']}`, {r['date'][:10]}.\n\n"
          f"Planted mixture ({mx['data']['n_sources']} blobs, {mx['data']['n_samples']:,} "
          f"samples x {mx['data']['n_voxels']:,} voxels), mean matched |r| of the maps:\n\n"
          "| method | maps (last layer) |\n|---|---|\n"
          f"| VS-DBN, paper's rules, {'/'.join(map(str, pr['n_hidden']))}, {pr['n_epochs']} "
          f"epochs | {pr['map_r_per_layer'][-1]:.2f} |\n"
          f"| CanICA, {mx['canica']['n_components']} components | {mx['canica']['map_r']:.2f} |\n")
    for key, label in (("best", "best of the sweep"), ("best_deep", "best with three layers")):
        b = mx[key]
        md += (f"| VS-DBN, {label} ({b['positive_phase']}, {b['between_layers'] or 'one layer'}, "
               f"lr x{b['lr_factor']}, L1 x{b['l1_factor']}, {b['n_epochs']} epochs) | "
               f"{b['map_r']:.2f} |\n")
    md += (f"\nSweep: {len(mx['runs'])} fits ("
           + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in mx["grid"].items())
           + ").\n\nPhantom (`" + ph["run_dir"] + "`), |r| of the matched BN, range over "
           "networks (time courses: and stories):\n\n| method | maps | time courses |\n"
           "|---|---|---|\n")
    for name, v in ph["variants"].items():
        tcs = [x for t in v["timecourse_r"].values() for x in t]
        md += f"| {name} | {_range(v['map_r'])} | {_range(tcs)} |\n"
    md += ("\nShare of ANs significant (FDR), per story and null model, in % "
           "(`phantom`, and `phantom-null` where every one is a false positive):\n\n"
           "| run | story | " + " | ".join(ind["rate"]) + " |\n|---|---|"
           + "---|" * len(ind["rate"]) + "\n")
    for key in ("coupling", "coupling_null"):
        for task, rates in ph[key]["ans_significant_pct"].items():
            md += (f"| {Path(ph[key]['run_dir']).name} | {task} | "
                   + " | ".join(f"{rates[n]:.1f}" for n in ind["rate"]) + " |\n")
    md += (f"\nIndependent AR(1) series ({ind['n_ans']} ANs, {ind['n_bns']} BNs, "
           f"{ind['n_trs']} TRs, phi {ind['phi']}, {ind['n_permutations']} randomizations): "
           f"share of ANs with p < {ind['alpha']}: "
           + ", ".join(f"{n} {v:.3f}" for n, v in ind["rate"].items()) + ".\n")
    return md


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default="runs/phantom")
    parser.add_argument("--null-run-dir", default="runs/phantom-null")
    parser.add_argument("--hidden", default="32,16,8",
                        help="mixture: units per layer, shaped like the paper's 512/256/128")
    parser.add_argument("--epochs", default="30,100", help="mixture: epochs swept")
    parser.add_argument("--permutations", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the matrices are small, and on a "
                             "shared CPU more threads wait on each other)")
    parser.add_argument("--quick", action="store_true", help="a smoke run, not for the book")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    import nilearn
    import sklearn

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    result = {"benchmark": "vsdbn_canica_sweep", **header("cpu"),
              "versions": {"nilearn": nilearn.__version__, "scikit-learn": sklearn.__version__},
              "mixture": mixture(tuple(int(v) for v in args.hidden.split(",")),
                                 tuple(int(v) for v in args.epochs.split(",")), args.quick),
              "phantom": phantom(Path(args.run_dir), Path(args.null_run_dir), args.quick),
              "independence": independence(args.permutations)}
    result["seconds"] = time.perf_counter() - t0
    write(args.out, "vsdbn_canica_sweep_cpu" + ("_quick" if args.quick else ""), result,
          markdown(result))
    return result


if __name__ == "__main__":
    main()
