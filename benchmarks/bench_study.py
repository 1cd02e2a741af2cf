"""What sharing stages saves a study: the verdict chapter's study, with and without sharing.

The runs `make book` makes: the null phantom (to 05_pos, headless, as `make book` runs it),
the default phantom and the study's variants, which share every stage they have in common
with those runs and with each other (``runs/.store``); then the same study again with every
stage of every variant computed in its own folder.  Each from an empty scratch folder and
an empty BOLD cache.  One after the other (`make book` runs the null phantom beside the
study, and the phantom after it: the stages they share are computed once either way), so
that each part's time is its own.

    python benchmarks/bench_study.py                      # the small study of `make book`
    python benchmarks/bench_study.py --study verdict      # the full study
    python benchmarks/bench_study.py --study verdict --no-isolated --reuse   # after the small one

With ``--reuse`` the scratch folder is kept: the book's runs and the stages earlier studies
left in its store are reused (their times are then not from scratch), which measures what
a study adds after ``make book``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, header, write

from anbn_utils.run import run
from anbn_utils.study import load_study, run_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", default="verdict-small")
    parser.add_argument("--scratch", default="/tmp/anbn-bench-study")
    parser.add_argument("--no-isolated", action="store_true",
                        help="skip the run without sharing (it takes longest)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the scratch folder: reuse the book's runs and the store")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    study = load_study(args.study)
    scratch = Path(args.scratch)
    if not args.reuse:
        shutil.rmtree(scratch, ignore_errors=True)
    runs = scratch / "runs"
    # an empty BOLD cache for every run, the variants' included (an environment variable,
    # not a parameter: the variants' data stage then hashes as the book's runs' does)
    os.environ["ANBN_CACHE_DIR"] = str(scratch / "cache")
    timings = {}
    t0 = time.perf_counter()
    run("phantom-null", run_dir=runs / "phantom-null", stages=["05_pos"], publish=False,
        headless=True, progress=False)
    timings["phantom-null"] = time.perf_counter() - t0
    load = {"phantom-null": os.getloadavg()[0]}  # the 1-min load as each part ended
    t0 = time.perf_counter()
    # the variants read the null run and the study of this scratch folder, as the book's do
    where = [f"null_run_dir={runs / 'phantom-null'}",
             f"study_run_dir={runs / f'study-{study.name}'}"]
    run("phantom", run_dir=runs / "phantom", stages=["06_layers"], publish=False,
        progress=False, overrides=where)
    timings["phantom"] = time.perf_counter() - t0
    load["phantom"] = os.getloadavg()[0]
    variants = [v.name for v in study.variants]
    shared = run_study(study, study_dir=runs / f"study-{study.name}", overrides=where,
                       log=print)
    timings["study_shared"] = float(read_wall(runs / f"study-{study.name}"))
    load["study_shared"] = os.getloadavg()[0]
    result = {**header("cpu"), "study": study.name, "variants": variants, "reuse": args.reuse,
              "n_jobs": study.n_jobs, "book_runs_s": {k: round(v, 1) for k, v in timings.items()
                                                      if k.startswith("phantom")},
              "shared": {"wall_s": timings["study_shared"],
                         "rows": shared[["variant", "status", "wall_s", "stages_computed",
                                         "stages_reused"]].to_dict(orient="records")}}
    if not args.no_isolated:
        isolated = run_study(study, study_dir=scratch / "isolated" / f"study-{study.name}",
                             overrides=where, share=False, log=print)
        result["isolated"] = {
            "wall_s": float(read_wall(scratch / "isolated" / f"study-{study.name}")),
            "rows": isolated[["variant", "status", "wall_s", "stages_computed"]].to_dict(
                orient="records")}
        load["study_isolated"] = os.getloadavg()[0]
    result["load_1min"] = {k: round(v, 1) for k, v in load.items()}
    failed = [r["variant"] for r in result["shared"]["rows"] if r["status"] != "done"]
    if failed:
        raise SystemExit(f"variants failed: {failed}")
    write(args.out, f"study_{study.name}_cpu", result, markdown(result))


def read_wall(study_dir: Path) -> float:
    from anbn_utils.io import read_json

    return read_json(study_dir / "study.json")["wall_s"]


def markdown(r: dict) -> str:
    m = r["machine"]
    shared, load = r["shared"], r["load_1min"]
    computed = sum(row["stages_computed"] for row in shared["rows"])
    reused = sum(row["stages_reused"] for row in shared["rows"])
    md = (f"**Study `{r['study']}`** ({len(r['variants'])} variants, {r['n_jobs']} at a time) "
          f"on {m['cpu']} ({m['cores']} threads), commit `{r['commit']}`, {r['date'][:10]}"
          + ("; after the smaller study in the same folder: the book's runs were there (their "
             "times below are a check that they are up to date), and the study reused the "
             "stages the smaller one left in the store.\n\n" if r.get("reuse") else
             ", from an empty folder and BOLD cache.\n\n")
          + "The load is the machine's 1-min load average as each part ended (other work on "
          "the same cores makes the times longer).\n\n"
          "| run | wall time (s) | stages computed | stages reused | load |\n|---|---|---|---|---|\n"
          f"| the book's null phantom (to 05, headless) | {r['book_runs_s']['phantom-null']:.0f} | | | "
          f"{load['phantom-null']:.1f} |\n"
          f"| the book's phantom (to 06) | {r['book_runs_s']['phantom']:.0f} | | | "
          f"{load['phantom']:.1f} |\n"
          f"| the study, sharing stages | {shared['wall_s']:.0f} | {computed} | {reused} | "
          f"{load['study_shared']:.1f} |\n")
    if "isolated" in r:
        iso = r["isolated"]
        md += (f"| the study, every stage in its variant | {iso['wall_s']:.0f} | "
               f"{sum(row['stages_computed'] for row in iso['rows'])} | 0 | "
               f"{load['study_isolated']:.1f} |\n")
    return md


if __name__ == "__main__":
    main()
