"""Every stage of a profile, timed over repeated runs, with its peak memory; and the book build.

Each repeat is a fresh run directory and a fresh BOLD cache (so the data stage builds
its cache each time), or, with ``--keep-data``, the same run directory whose dataset and
BOLD cache the first repeat makes and the others reuse (every stage forced: the times
"from cached data"); each stage runs in its own runner process, whose peak resident
memory (the notebook's kernel included) is read from ``wait4``.  The first process of a
repeat also generates the dataset (timed separately from ``dataset.json``).  Then the
book is built ``--repeats`` times into a scratch folder from the last repeat's notebooks.

    python benchmarks/bench_stages.py --profile phantom --repeats 3 --out benchmarks/results
    python benchmarks/bench_stages.py --profile paper-synthetic --repeats 2 --keep-data --no-book

GPU peak memory is sampled from ``nvidia-smi`` (every 0.2 s) when it is present.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from _common import RESULTS, header, spread, write

from anbn_utils.run import BOOK_EXECUTED_DIR, REPO_ROOT, STAGES, publish_notebooks


class GpuMemory:
    """Peak memory used on GPU 0 while the context is open (MiB), from ``nvidia-smi``."""

    def __init__(self):
        self.peak = None
        self._stop = threading.Event()

    def _poll(self):
        while not self._stop.is_set():
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used",
                                  "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, check=False)
            if out.returncode == 0:
                self.peak = max(self.peak or 0, int(out.stdout.split()[0]))
            self._stop.wait(0.2)

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()


def timed_process(cmd: list[str], log: Path) -> tuple[float, float, float | None]:
    """Wall time (s), peak RSS of the process tree (GiB), peak GPU memory (GiB)."""
    with GpuMemory() as gpu, open(log, "a") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log}")
    return wall, usage.ru_maxrss / 2**20, (gpu.peak / 1024 if gpu.peak else None)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="phantom")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", dest="overrides", default=[],
                        metavar="NAME=VALUE", help="passed to the runner")
    parser.add_argument("--keep-data", action="store_true",
                        help="one run folder and BOLD cache for all repeats (see above)")
    parser.add_argument("--scratch", default=None, help="run folders (default: a temp folder)")
    parser.add_argument("--book", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the book build")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="anbn-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    log = scratch / "log.txt"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    walls: dict[str, list[float]] = {}
    rss: dict[str, float] = {}
    gpu: dict[str, float] = {}
    load: dict[str, float] = {}  # the machine's 1-min load average as each stage ended
    for i in range(args.repeats):
        tag = 0 if args.keep_data else i
        run_dir, cache = scratch / f"run{tag}", scratch / f"cache{tag}"
        for n, stage in enumerate(STAGES):
            cmd = [sys.executable, "-m", "anbn_utils.run", "--profile", args.profile,
                   "--run-dir", str(run_dir), "--stage", stage.name, "--force", stage.name,
                   "--no-publish", "--no-progress", "--no-store", "--set", f"cache_dir={cache}",
                   *(f"--set={o}" for o in args.overrides)]
            made = (run_dir / "dataset" / "dataset.json").is_file()
            wall, peak, peak_gpu = timed_process(cmd, log)
            stamp = json.loads((run_dir / stage.name / "stage.json").read_text())
            keys = [stage.name]
            if n == 0 and not made:
                keys.insert(0, "dataset")
                data = json.loads((run_dir / "dataset" / "dataset.json").read_text())
                walls.setdefault("dataset", []).append(data["wall_s"])
            walls.setdefault(stage.name, []).append(stamp["wall_s"])
            for k in keys:
                rss[k] = max(rss.get(k, 0.0), peak)
                load[k] = max(load.get(k, 0.0), os.getloadavg()[0])
                if peak_gpu is not None:
                    gpu[k] = max(gpu.get(k, 0.0), peak_gpu)
            print(f"repeat {i + 1}/{args.repeats} {stage.name}: {stamp['wall_s']:.1f} s, "
                  f"peak {peak:.2f} GiB", flush=True)
    if args.book:
        publish_notebooks(run_dir, BOOK_EXECUTED_DIR)
        for i in range(args.repeats):
            out = scratch / f"book{i}"
            wall, peak, _ = timed_process(
                [str(Path(sys.executable).parent / "jupyter-book"), "build", "--path-output",
                 str(out), str(REPO_ROOT)], log)
            walls.setdefault("book build", []).append(wall)
            rss["book build"] = max(rss.get("book build", 0.0), peak)
    result = {"benchmark": "stages", **header(device), "profile": args.profile,
              "overrides": args.overrides, "repeats": args.repeats, "keep_data": args.keep_data,
              "stages": {k: {"wall_s": spread(v), "peak_rss_gib": rss.get(k),
                             "peak_gpu_gib": gpu.get(k), "load_1min": load.get(k)}
                         for k, v in walls.items()}}
    total = sum(v["wall_s"]["median"] for k, v in result["stages"].items() if k != "book build")
    m = result["machine"]
    where = m.get("gpu") or f"{m['cpu']}, {m['cores']} threads"
    md = (f"**Stages of the `{args.profile}` profile**"
          + (f" with `{' '.join(args.overrides)}`" if args.overrides else "")
          + f" on {device} ({where}, {m.get('ram_gib', '?')} GiB RAM), torch {m['torch']}, "
          f"commit `{result['commit']}`, {result['date'][:10]}: {args.repeats} repeat(s), "
          + ("one run folder and BOLD cache for all (made by the first)"
             if args.keep_data else "each from an empty run folder and BOLD cache")
          + ("" if "dataset" in walls else " (the dataset was already generated)")
          + "; peak memory of the process running the stage (its notebook kernel included; "
          "pages of the memory-mapped BOLD cache it reads count too). Total without the book: "
          f"**{total:.0f} s** (median per stage, summed). The machine's load (1-min average "
          f"as the stage ended, highest over repeats; {m['cores']} threads) says whether other "
          "work shared the cores.\n\n"
          "| stage | median (s) | min-max (s) | peak RAM (GiB) | load |"
          + (" peak GPU (GiB) |" if gpu else "") + "\n|---|---|---|---|---|"
          + ("---|" if gpu else "") + "\n")
    for k, v in result["stages"].items():
        w = v["wall_s"]
        md += (f"| {k} | {w['median']:.1f} | {w['min']:.1f}-{w['max']:.1f} | "
               f"{v['peak_rss_gib']:.2f} | {v['load_1min'] or 0:.1f} |" + (f" {v['peak_gpu_gib'] or 0:.2f} |" if gpu else "")
               + "\n")
    write(args.out, f"stages_{args.profile}_{device}", result, md)
    return result


if __name__ == "__main__":
    main()
