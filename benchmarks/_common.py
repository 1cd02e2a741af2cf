"""What every benchmark records: the machine, versions, commit and date; peak memory."""

from __future__ import annotations

import json
import multiprocessing
import platform
import resource
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def machine(device: str) -> dict:
    """CPU model, threads, memory, Python/torch versions and the GPU (if ``device`` is one)."""
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip()
                   for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "device": device}
    try:
        mem_kb = next(int(line.split()[1])
                      for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        info["ram_gib"] = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name()
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    return info


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def header(device: str) -> dict:
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": commit(), "machine": machine(device)}


def spread(values: list[float]) -> dict:
    """Median, min and max of repeated timings."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": list(values)}


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _child(queue, fn, kwargs):
    try:
        out = fn(**kwargs)
        queue.put((out, peak_rss_gib(), None))
    except Exception as e:  # noqa: BLE001 (reported to the parent)
        queue.put((None, peak_rss_gib(), repr(e)))


def isolated(fn, **kwargs):
    """Run ``fn(**kwargs)`` in a fresh process; return its result and that process's peak
    resident memory in GiB (the interpreter and imports included)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, kwargs))
    proc.start()
    out, rss, err = queue.get()
    proc.join()
    if err:
        raise RuntimeError(f"{fn.__name__}{kwargs} failed: {err}")
    return out, rss


def write(out: str | Path, name: str, result: dict, md: str) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{name}.md").write_text(md)
    print(md)
