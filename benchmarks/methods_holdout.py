"""The brain-network methods on a phantom they were not chosen on (chapter 07's test set).

The `phantom` profile's VS-DBN rules (``positive_phase=prob``, ``between_layers=zscore``)
were chosen because they recover the phantom's planted maps better than the paper's.  This
runs the study ``methods-holdout`` (the same four methods on ``phantom-holdout``: another
seed, other network locations, other planted ANs) and writes the method comparison of both
phantoms side by side: the default book's (the tuning data: ``runs/phantom`` and the
``verdict-small`` study's method variants) and the held-out one (the test).

Results: ``benchmarks/results/methods_holdout.json`` and ``.md`` (per phantom and method:
map recovery, planted pairs at rank one, their |r|, fit time; with the date, machine and
commit).

    python benchmarks/methods_holdout.py            # after `make book` (about 20 min on 2 cores)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import RESULTS, header

from anbn_utils.comparisons import method_comparison
from anbn_utils.study import run_study

#: The methods compared, by their variant name in each study (the book's run is `vsdbn`).
METHODS = ("vsdbn", "vsdbn_paper_rules", "canica", "dictlearning")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs"),
                    help="the book's runs (phantom, study-verdict-small)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    holdout_dir = args.runs / "study-methods-holdout"
    table = run_study("methods-holdout", study_dir=holdout_dir)
    failed = table[table["status"] != "done"]
    if len(failed):
        raise SystemExit(f"variants failed: {', '.join(failed['variant'])} (logs in {holdout_dir})")
    tuning = {m: args.runs / ("phantom" if m == "vsdbn" else f"study-verdict-small/{m}")
              for m in METHODS}
    holdout = {m: holdout_dir / m for m in METHODS}
    result = {"benchmark": "methods_holdout", **header("cpu"), "phantoms": {
        name: method_comparison(runs).to_dict(orient="records")
        for name, runs in (("phantom", tuning), ("phantom-holdout", holdout))}}
    path = args.out / "methods_holdout.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    lines = [(f"# Brain-network methods on a held-out phantom ({result['date']}, commit "
              f"{result['commit']})"), ""]
    for name, rows in result["phantoms"].items():
        header_row = ("| method | maps \\|r\\| | planted at rank 1 (\\|r\\|) | (signed r) | "
                      "planted \\|r\\| | fit s |")
        lines += [f"## {name}", "", header_row, "|---|---|---|---|---|---|"]
        lines += [f"| {r['run']} ({r['method']}) | {r['map_r']:.2f} | {r['planted_rank1_abs']} "
                  f"of {r['planted_pairs']} | {r['planted_rank1_signed']} | "
                  f"{r['planted_abs_r']:.2f} | {r['fit_s']:.0f} |" for r in rows]
        lines.append("")
    path.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
