"""Benchmark of one epoch of the VS-DBN's first layer against scikit-learn and nilearn.

Workload: a paper-shaped matrix of ``--volumes`` volumes x the voxels of nilearn's MNI152
brain mask at ``--resolution`` mm (random z-scored data: timing does not depend on the
values), 512 hidden units, batch 20.  Timed on the same matrix:

- ``VSDBN`` layer 1, one epoch (anbn_utils, CD-1 as in the paper);
- ``sklearn.neural_network.BernoulliRBM``, one epoch (``n_iter=1``, same units and batch);
- ``nilearn.decomposition.CanICA`` with 128 components, one fit (with ``--canica``).

The paper's full matrix (37,080 volumes) takes 7.4 GB and an epoch of either RBM takes
many minutes on 2 cores; the default here is 400 volumes, and the RBM times scale linearly
with the volumes (the report extrapolates to 37,080).

    python benchmarks/bench_vsdbn.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from anbn_utils.bns import VSDBN
from anbn_utils.synthetic import brain_mask

PAPER_VOLUMES = 37_080


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volumes", type=int, default=400)
    parser.add_argument("--resolution", type=float, default=3.0)
    parser.add_argument("--canica", action="store_true",
                        help="also time nilearn's CanICA (minutes on a 2-core CPU)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    mask_img = brain_mask(args.resolution)
    n_vox = int(np.asanyarray(mask_img.dataobj).sum())
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.volumes, n_vox), dtype=np.float32)
    times = {}

    t0 = time.perf_counter()
    VSDBN(n_hidden=(512,), learning_rate=(1e-3,), l1=(1e-3,), n_epochs=1, batch_size=20,
          device=args.device, progress=False).fit(X)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    times["vsdbn_layer1_epoch"] = time.perf_counter() - t0

    from sklearn.neural_network import BernoulliRBM

    t0 = time.perf_counter()
    BernoulliRBM(n_components=512, batch_size=20, n_iter=1, learning_rate=1e-3,
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

    scale = PAPER_VOLUMES / args.volumes
    result = {
        "benchmark": "vsdbn", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"device": args.device, "threads": torch.get_num_threads(),
                    "torch": torch.__version__},
        "workload": {"volumes": args.volumes, "voxels": n_vox, "hidden": 512, "batch": 20,
                     "resolution_mm": args.resolution},
        "times_s": times,
        "extrapolated_to_paper_volumes_s": {k: v * scale for k, v in times.items()
                                            if "epoch" in k},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"vsdbn_{args.device.split(':')[0]}"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    t = times
    md = (f"**VS-DBN layer 1** on {args.device} ({torch.get_num_threads()} threads), torch "
          f"{torch.__version__}, {result['date'][:10]}: {args.volumes:,} volumes x {n_vox:,} "
          f"voxels (MNI152 mask at {args.resolution:g} mm), 512 hidden units, batch 20, one run.\n\n"
          "| implementation | time (s) | per 37,080 volumes (s, extrapolated) |\n|---|---|---|\n"
          f"| anbn_utils `VSDBN`, one epoch of layer 1 | {t['vsdbn_layer1_epoch']:.1f} | "
          f"{t['vsdbn_layer1_epoch'] * scale:.0f} |\n"
          f"| scikit-learn `BernoulliRBM`, one epoch | {t['sklearn_bernoullirbm_epoch']:.1f} | "
          f"{t['sklearn_bernoullirbm_epoch'] * scale:.0f} |\n"
          + (f"| nilearn `CanICA`, 128 components, one fit | {t['nilearn_canica_fit']:.1f} | - |\n"
             if "nilearn_canica_fit" in t else
             "| nilearn `CanICA` | not timed in this run (`--canica`: over 8 min at 1,000 volumes here) | - |\n"))
    (out / f"{name}.md").write_text(md)
    print(md)
    return result


if __name__ == "__main__":
    main()
