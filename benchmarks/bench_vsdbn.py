"""Benchmark of the VS-DBN's first layer: per CD-1 step against its memory-bandwidth floor,
one epoch against scikit-learn and nilearn, and (``--full-fit``, a GPU job) the paper's fit.

Workload: ``--volumes`` volumes x the voxels of nilearn's MNI152 ``--mask`` at
``--resolution`` mm (random z-scored data: timing does not depend on the values), 512
hidden units, batch 20, as in the paper.  Timed on the same matrix:

- a CD-1 step of anbn_utils (``cd1_step``: fused weight update, 9 passes over ``W``) and
  the straightforward one (``cd1_gradients`` then ``apply_update``, 18 passes), median
  of ``--steps`` steps after a warm-up;
- ``VSDBN`` layer 1, one epoch (what a user runs; on a CPU it gathers batches from the
  data, on a GPU the matrix is resident);
- ``sklearn.neural_network.BernoulliRBM``, one epoch (``n_iter=1``, same units and batch);
- ``nilearn.decomposition.CanICA`` with 128 components, one fit (with ``--canica``);
- ``--full-fit``: the paper's configuration (512/256/128, 100 epochs per layer) on
  ``--fit-volumes`` volumes (default the paper's, ``anbn_utils.paper.POOLED_VOLUMES``),
  the matrix resident on the GPU.

The floor: a step must read ``W`` (n_voxels x 512 float32) at least five times (three
products, then read and write it in the update), so ``floor = 5 x bytes(W) / bandwidth``
with the bandwidth measured here by copying a 1 GiB tensor on the device.

    python benchmarks/bench_vsdbn.py --out benchmarks/results
    python benchmarks/bench_vsdbn.py --device cuda --full-fit --out benchmarks/results
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import RESULTS, header, spread, write

from anbn_utils.bns import VSDBN, apply_update, cd1_gradients, cd1_step
from anbn_utils.paper import POOLED_VOLUMES as PAPER_VOLUMES
from anbn_utils.synthetic import brain_mask

N_HIDDEN, BATCH = 512, 20


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bandwidth(device: str, gib: float = 1.0) -> float:
    """Copy bandwidth of the device memory (bytes/s: read + write), best of 5."""
    src = torch.empty(int(gib * 2**30) // 4, dtype=torch.float32, device=device).normal_()
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(5):
        _sync(device)
        t0 = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best


def step_times(X: torch.Tensor, fused: bool, n_steps: int) -> list[float]:
    device = str(X.device)
    g = torch.Generator(device=X.device).manual_seed(0)
    W = torch.empty(X.shape[1], N_HIDDEN, device=X.device).normal_(0, 0.01, generator=g)
    b, c = torch.zeros(X.shape[1], device=X.device), torch.zeros(N_HIDDEN, device=X.device)
    times = []
    for s in range(n_steps + 3):  # 3 warm-up steps
        batch = X[(s * BATCH) % (len(X) - BATCH):][:BATCH]
        _sync(device)
        t0 = time.perf_counter()
        if fused:
            cd1_step(batch, W, b, c, lr=1e-3, l1=1e-3, generator=g)
        else:
            dW, db, dc, _ = cd1_gradients(batch, W, b, c, generator=g)
            apply_update(W, b, c, dW, db, dc, lr=1e-3, l1=1e-3)
        _sync(device)
        if s >= 3:
            times.append(time.perf_counter() - t0)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volumes", type=int, default=400)
    parser.add_argument("--resolution", type=float, default=3.0)
    parser.add_argument("--mask", default="gm", choices=["gm", "brain"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--canica", action="store_true",
                        help="also time nilearn's CanICA (minutes on a 2-core CPU)")
    parser.add_argument("--full-fit", action="store_true",
                        help="the paper's whole fit (a GPU job: about 21 h per layer-1 "
                             "100 epochs on a 2-core CPU)")
    parser.add_argument("--fit-volumes", type=int, default=PAPER_VOLUMES)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    dev = args.device
    mask_img = brain_mask(args.resolution, kind=args.mask)
    n_vox = int(np.asanyarray(mask_img.dataobj).sum())
    X = np.random.default_rng(0).standard_normal((args.volumes, n_vox), dtype=np.float32)
    Xd = torch.from_numpy(X).to(dev)
    bw = bandwidth(dev)
    w_bytes = n_vox * N_HIDDEN * 4
    floor = 5 * w_bytes / bw
    steps_per_epoch = -(-PAPER_VOLUMES // BATCH)
    res = {"fused": spread(step_times(Xd, True, args.steps)),
           "straightforward": spread(step_times(Xd, False, args.steps))}
    times = {}
    t0 = time.perf_counter()
    VSDBN(n_hidden=(N_HIDDEN,), learning_rate=(1e-3,), l1=(1e-3,), n_epochs=1,
          batch_size=BATCH, device=dev).fit(X)
    _sync(dev)
    times["vsdbn_layer1_epoch"] = time.perf_counter() - t0

    from sklearn.neural_network import BernoulliRBM

    t0 = time.perf_counter()
    BernoulliRBM(n_components=N_HIDDEN, batch_size=BATCH, n_iter=1, learning_rate=1e-3,
                 random_state=0).fit(X)
    times["sklearn_bernoullirbm_epoch"] = time.perf_counter() - t0
    if args.canica:
        from nilearn.decomposition import CanICA
        from nilearn.masking import unmask

        img = unmask(X, mask_img)
        t0 = time.perf_counter()
        CanICA(n_components=128, mask=mask_img, smoothing_fwhm=None, standardize=False,
               detrend=False, random_state=0).fit(img)
        times["nilearn_canica_fit"] = time.perf_counter() - t0
    full = None
    if args.full_fit:
        del Xd
        F = np.random.default_rng(1).standard_normal((args.fit_volumes, n_vox), dtype=np.float32)
        model = VSDBN(device=dev, verbose=1)  # the paper's defaults
        t0 = time.perf_counter()
        model.fit(F)
        _sync(dev)
        full = {"volumes": args.fit_volumes, "seconds": time.perf_counter() - t0,
                "peak_gpu_gib": (torch.cuda.max_memory_allocated() / 2**30
                                 if dev.startswith("cuda") else None)}
    scale = PAPER_VOLUMES / args.volumes
    med = {k: v["median"] for k, v in res.items()}
    result = {"benchmark": "vsdbn", **header(dev),
              "workload": {"volumes": args.volumes, "voxels": n_vox, "mask": args.mask,
                           "resolution_mm": args.resolution, "hidden": N_HIDDEN, "batch": BATCH},
              "bandwidth_gb_s": bw / 1e9, "w_bytes": w_bytes, "floor_step_s": floor,
              "step_s": res, "times_s": times, "full_fit": full,
              "layer1_100_epochs_s": {k: v * steps_per_epoch * 100 for k, v in med.items()},
              "extrapolated_to_paper_volumes_s": {k: v * scale for k, v in times.items()
                                                  if "epoch" in k}}
    m = result["machine"]
    where = m.get("gpu") or f"{m['cpu']}, {m['cores']} threads"
    flops = 2 * n_vox * N_HIDDEN * (3 * BATCH + 2 * BATCH)
    md = (f"**VS-DBN layer 1** on {dev} ({where}), torch {m['torch']}, commit "
          f"`{result['commit']}`, {result['date'][:10]}: {args.volumes:,} volumes x {n_vox:,} "
          f"voxels (MNI152 {args.mask} mask at {args.resolution:g} mm), {N_HIDDEN} hidden units, "
          f"batch {BATCH}. `W` is {w_bytes / 1e6:.0f} MB; measured copy bandwidth "
          f"{bw / 1e9:.0f} GB/s, so the floor of a step (5 passes over `W`) is "
          f"{floor * 1e3:.2f} ms, and of layer 1's 100 epochs on {PAPER_VOLUMES:,} volumes "
          f"({steps_per_epoch:,} steps each) {floor * steps_per_epoch * 100:.0f} s. A step is "
          f"{flops / 1e9:.1f} GFLOP.\n\n"
          "| CD-1 step | median (ms) | min-max (ms) | x floor | GFLOP/s | layer 1, 100 epochs (s) |\n"
          "|---|---|---|---|---|---|\n")
    for k, label in (("fused", "anbn_utils `cd1_step`"),
                     ("straightforward", "straightforward (`cd1_gradients` + `apply_update`)")):
        v = res[k]
        md += (f"| {label} | {v['median'] * 1e3:.2f} | {v['min'] * 1e3:.2f}-{v['max'] * 1e3:.2f} | "
               f"{v['median'] / floor:.1f} | {flops / v['median'] / 1e9:.0f} | "
               f"{result['layer1_100_epochs_s'][k]:.0f} |\n")
    t = times
    md += (f"\n| one epoch of layer 1 | time (s) | per {PAPER_VOLUMES:,} volumes "
           "(s, extrapolated) |\n"
           "|---|---|---|\n"
           f"| anbn_utils `VSDBN` | {t['vsdbn_layer1_epoch']:.1f} | "
           f"{t['vsdbn_layer1_epoch'] * scale:.0f} |\n"
           f"| scikit-learn `BernoulliRBM` | {t['sklearn_bernoullirbm_epoch']:.1f} | "
           f"{t['sklearn_bernoullirbm_epoch'] * scale:.0f} |\n"
           + (f"| nilearn `CanICA`, 128 components, one fit (10 FastICA restarts; on this "
              f"noise matrix each runs to its iteration limit) | {t['nilearn_canica_fit']:.1f} "
              "| - |\n"
              if "nilearn_canica_fit" in t else
              "| nilearn `CanICA` | not timed in this run (`--canica`) | - |\n"))
    if full:
        md += (f"\nThe paper's whole fit (512/256/128, 100 epochs per layer, batch 20) on "
               f"{full['volumes']:,} volumes resident on the device: **{full['seconds']:.0f} s**"
               + (f", peak {full['peak_gpu_gib']:.1f} GiB of GPU memory" if full['peak_gpu_gib']
                  else "") + ".\n")
    write(args.out, f"vsdbn_{dev.split(':')[0]}", result, md)
    return result


if __name__ == "__main__":
    main()
