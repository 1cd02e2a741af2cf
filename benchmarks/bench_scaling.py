"""How time and memory grow with subjects, voxels, volumes, ANs, BNs and permutations.

Each point runs in a fresh process (its peak resident memory is that process's, the
interpreter and imports included: about 0.4 GiB with torch) on random data of the
stated shape; timings do not depend on the values.

=============  ==================================================================  ========
axis           workload (the other sizes fixed)                                    sizes
=============  ==================================================================  ========
subjects       BOLD cache build (crop, mask, z-score, memmap) of N Pie Man scans    2, 4, 8
               at 3 mm (anbn_utils), and nilearn ``NiftiMasker`` on the same files
voxels         one epoch of VS-DBN layer 1 (400 volumes, 512 units, batch 20) on    6, 4, 3 mm
               the MNI152 mask at 6/4/3 mm
volumes        the same at 3 mm, 200/400/800 volumes                               3 sizes
hidden units   the same at 3 mm, 128/256/512 units                                 3 sizes
ANs            top-500 query-key pairs of N ANs on a 505-token segment; coupling    2,304 to 9,216
               (1,000 circular shifts, 128 BNs, 282 TRs)
BNs            coupling of 9,216 ANs with N BNs (circular shift, every lag)         32, 64, 128
permutations   coupling of 9,216 x 128, phase randomization                         1,000 to 5,000
=============  ==================================================================  ========

    python benchmarks/bench_scaling.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS, header, isolated, write

N_TRS = 282


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def coupling(n_ans: int, n_bns: int, n_permutations: int, null: str, device: str) -> float:
    from anbn_utils.coupling.statistics import max_statistic_test

    g = torch.Generator().manual_seed(0)
    a = torch.randn(N_TRS, n_ans, generator=g).to(device)
    b = torch.randn(N_TRS, n_bns, generator=g).to(device)
    max_statistic_test(a[:, :64], b, null=null, n_permutations=10)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    max_statistic_test(a, b, null=null, n_permutations=n_permutations)
    _sync(device)
    return time.perf_counter() - t0


def toppairs(n_ans: int, n_tokens: int, device: str) -> float:
    from anbn_utils.ans import top_pairs

    g = torch.Generator().manual_seed(0)
    q = torch.randn(n_ans, n_tokens, generator=g).to(device)
    k = torch.randn(n_ans, n_tokens, generator=g).to(device)
    top_pairs(q[:64], k[:64], 500)
    _sync(device)
    t0 = time.perf_counter()
    top_pairs(q, k, 500)
    _sync(device)
    return time.perf_counter() - t0


def vsdbn_epoch(resolution: float, n_volumes: int, n_hidden: int, device: str) -> float:
    from anbn_utils.bns import VSDBN
    from anbn_utils.synthetic import brain_mask

    n_vox = int(np.asanyarray(brain_mask(resolution).dataobj).sum())
    X = np.random.default_rng(0).standard_normal((n_volumes, n_vox), dtype=np.float32)
    t0 = time.perf_counter()
    VSDBN(n_hidden=(n_hidden,), learning_rate=(1e-3,), l1=(1e-3,), n_epochs=1,
          device=device).fit(X)
    _sync(device)
    return time.perf_counter() - t0


def cache_build(root: str, n_subjects: int, how: str) -> float:
    from nilearn.image import index_img
    from nilearn.maskers import NiftiMasker

    from anbn_utils.narratives import layout
    from anbn_utils.narratives.bold import cache_task_bold, read_story_window

    scans = layout.select_scans(Path(root), "pieman").head(n_subjects)
    mask = layout.mask_path(Path(root), "pieman")
    t0 = time.perf_counter()
    if how == "anbn_utils":
        with tempfile.TemporaryDirectory() as cache:
            cache_task_bold(scans, mask, cache_dir=cache, progress=False)
    else:  # what a user would write with nilearn: mask and z-score each scan, keep in memory
        w = read_story_window(scans["events_path"].iloc[0])
        masker = NiftiMasker(mask_img=str(mask), standardize="zscore_sample").fit()
        [masker.transform(index_img(str(p), slice(w.start, w.stop))) for p in scans["bold_path"]]
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--quick", action="store_true", help="smallest sizes only (smoke test)")
    args = parser.parse_args(argv)
    dev = args.device
    pick = (lambda xs: xs[:1]) if args.quick else (lambda xs: xs)
    rows = []

    def point(axis, size, label, fn, **kw):
        seconds, rss = isolated(fn, **kw)
        rows.append({"axis": axis, "size": size, "workload": label, "seconds": seconds,
                     "peak_rss_gib": rss})
        print(f"{axis:>12} {size!s:>8} {label:<48} {seconds:8.2f} s {rss:6.2f} GiB", flush=True)

    for n in pick([2304, 4608, 9216]):
        point("ANs", n, "top-500 pairs, 505 tokens", toppairs, n_ans=n, n_tokens=505, device=dev)
        point("ANs", n, "coupling, 128 BNs, circular (every lag)", coupling, n_ans=n, n_bns=128,
              n_permutations=1000, null="circular", device=dev)
    for n in pick([32, 64, 128]):
        point("BNs", n, "coupling, 9,216 ANs, circular (every lag)", coupling, n_ans=9216,
              n_bns=n, n_permutations=1000, null="circular", device=dev)
    for n in pick([1000, 2500, 5000]):  # the circular null enumerates its lags: no such axis
        point("permutations", n, "coupling 9,216 x 128, phase", coupling, n_ans=9216,
              n_bns=128, n_permutations=n, null="phase", device=dev)
    from anbn_utils.synthetic import brain_mask

    for res in pick([6.0, 4.0, 3.0]):
        n_vox = int(np.asanyarray(brain_mask(res).dataobj).sum())
        point("voxels", n_vox, f"VS-DBN layer-1 epoch, {res:g} mm, 400 vols, 512 units",
              vsdbn_epoch, resolution=res, n_volumes=400, n_hidden=512, device=dev)
    for n in pick([200, 400, 800]):
        point("volumes", n, "VS-DBN layer-1 epoch, 3 mm, 512 units", vsdbn_epoch,
              resolution=3.0, n_volumes=n, n_hidden=512, device=dev)
    for n in pick([128, 256, 512]):
        point("hidden units", n, "VS-DBN layer-1 epoch, 3 mm, 400 vols", vsdbn_epoch,
              resolution=3.0, n_volumes=400, n_hidden=n, device=dev)
    sizes = pick([2, 4, 8])
    with tempfile.TemporaryDirectory() as root:
        from anbn_utils.synthetic import make_narratives_like

        make_narratives_like(root, tasks=("pieman",), n_subjects=max(sizes) + 1,
                             resolution=3.0)  # sub-001 is excluded
        for n in sizes:
            for how in ("anbn_utils", "nilearn NiftiMasker"):
                point("subjects", n, f"BOLD cache at 3 mm: {how}", cache_build, root=root,
                      n_subjects=n, how=how)
    result = {"benchmark": "scaling", **header(dev), "points": rows}
    m = result["machine"]
    where = m.get("gpu") or f"{m['cpu']}, {m['cores']} threads"
    md = (f"**Scaling** on {dev} ({where}), torch {m['torch']}, commit `{result['commit']}`, "
          f"{result['date'][:10]}; one run per point, each in a fresh process (peak memory "
          "includes the interpreter and imports).\n\n"
          "| axis | size | workload | time (s) | peak RAM (GiB) |\n|---|---|---|---|---|\n")
    md += "".join(f"| {r['axis']} | {r['size']:,} | {r['workload']} | {r['seconds']:.2f} | "
                  f"{r['peak_rss_gib']:.2f} |\n" for r in rows)
    write(args.out, f"scaling_{dev.split(':')[0]}", result, md)
    return result


if __name__ == "__main__":
    main()
