"""Benchmark of the coupling permutation test against what a user would otherwise write.

Workload: 9,216 ANs x 128 BNs x 282 TRs, 5,000 phase randomizations of the max statistic
(anbn_utils also times the circular null, every one of the 281 lags).  anbn_utils does more
than its peers: besides each AN's maximum over BNs and each BN's maximum over ANs, the
step-down family-wise p-values of the pairs (exact for the 512 ANs of largest statistic, a
bound for the rest) and the tail p-values.

==========================  ===================================================================
implementation              what it does
==========================  ===================================================================
anbn_utils                  randomized BN copies in batches, one batched matrix product each,
                            step-down maxima over all pairs
per-permutation loop        for each randomization: phase-randomize the BN matrix, one
                            (9216 x 128) PCC matrix of standardized products, maxima
scipy.stats.permutation_test  the same statistic through scipy's generic test, one AN at a time
                            (it offers no circular shift: it permutes time points, at the same
                            cost; timed on a subset of ANs and permutations, extrapolated)
==========================  ===================================================================

    python benchmarks/bench_coupling.py --device cpu --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from scipy.stats import permutation_test

from anbn_utils.coupling.statistics import max_statistic_test

N_ANS, N_BNS, N_TRS, N_PERM = 9216, 128, 282, 5000


def _data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((N_TRS, N_ANS)).astype(np.float32),
            rng.standard_normal((N_TRS, N_BNS)).astype(np.float32))


def per_permutation_loop(ans, bns, n_perm, rng):
    a = (ans - ans.mean(0)) / np.linalg.norm(ans - ans.mean(0), axis=0)
    b = (bns - bns.mean(0)) / np.linalg.norm(bns - bns.mean(0), axis=0)
    obs_an, obs_bn = (a.T @ b).max(1), (a.T @ b).max(0)
    ex_an, ex_bn = np.zeros(N_ANS), np.zeros(N_BNS)
    f = np.fft.rfft(b, axis=0)
    for _ in range(n_perm):
        phase = np.exp(2j * np.pi * rng.random((f.shape[0], 1)))
        phase[0] = phase[-1] = 1
        s = np.fft.irfft(f * phase, n=N_TRS, axis=0)
        s = (s - s.mean(0)) / np.linalg.norm(s - s.mean(0), axis=0)
        pcc = a.T @ s
        ex_an += pcc.max(1) >= obs_an
        ex_bn += pcc.max(0) >= obs_bn
    return ex_an, ex_bn


def scipy_subset(ans, bns, n_ans, n_perm):
    b = bns

    def stat(x):  # x: one AN's series, shifted by scipy's resampling of the time index
        xc = x - x.mean()
        bc = b - b.mean(0)
        return ((xc @ bc) / (np.linalg.norm(xc) * np.linalg.norm(bc, axis=0))).max()

    for i in range(n_ans):
        permutation_test((ans[:, i],), stat, permutation_type="pairings", n_resamples=n_perm,
                         random_state=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    ans, bns = _data()
    a, b = torch.tensor(ans, device=args.device), torch.tensor(bns, device=args.device)
    ours, circular = [], []
    for _ in range(args.repeats):
        for null, times in (("phase", ours), ("circular", circular)):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            max_statistic_test(a, b, null=null, n_permutations=N_PERM)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    loop_perm = 200  # timed, then extrapolated to 5,000
    t0 = time.perf_counter()
    per_permutation_loop(ans, bns, loop_perm, np.random.default_rng(0))
    loop = (time.perf_counter() - t0) * N_PERM / loop_perm
    sc_ans, sc_perm = 4, 200
    t0 = time.perf_counter()
    scipy_subset(ans, bns, sc_ans, sc_perm)
    sc = (time.perf_counter() - t0) * (N_ANS / sc_ans) * (N_PERM / sc_perm)
    med = statistics.median(ours)
    result = {
        "benchmark": "coupling", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"device": args.device, "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    **({"gpu": torch.cuda.get_device_name()} if args.device.startswith("cuda") else {})},
        "workload": {"n_ans": N_ANS, "n_bns": N_BNS, "n_trs": N_TRS, "n_permutations": N_PERM,
                     "null": "phase"},
        "anbn_utils_s": {"median": med, "min": min(ours), "max": max(ours), "runs": len(ours)},
        "anbn_utils_circular_s": {"median": statistics.median(circular), "min": min(circular),
                                  "max": max(circular), "runs": len(circular),
                                  "n_lags": N_TRS - 1},
        "per_permutation_loop_s": {"extrapolated": loop, "timed_permutations": loop_perm},
        "scipy_permutation_test_s": {"extrapolated": sc, "timed_ans": sc_ans,
                                     "timed_permutations": sc_perm},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"coupling_{args.device.split(':')[0]}"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = (f"**Coupling** on {args.device} ({result['machine'].get('gpu', str(result['machine']['threads']) + ' threads')}), "
          f"torch {torch.__version__}, {result['date'][:10]}: {N_ANS:,} ANs x {N_BNS} BNs x {N_TRS} TRs, "
          f"{N_PERM:,} phase randomizations of the max statistic.\n\n"
          "| implementation | time (s) | ratio to anbn_utils |\n|---|---|---|\n"
          f"| anbn_utils (batched products; also the step-down FWER, exact for the pairs of the 512 ANs of largest statistic, and tail p-values), median of {len(ours)} | {med:.1f} ({min(ours):.1f}-{max(ours):.1f}) | 1 |\n"
          f"| anbn_utils, circular null (all {N_TRS - 1} lags), median of {len(circular)} | {statistics.median(circular):.1f} | {statistics.median(circular) / med:.2f} |\n"
          f"| per-permutation NumPy loop (200 permutations timed, extrapolated) | {loop:.1f} | {loop / med:.1f} |\n"
          f"| `scipy.stats.permutation_test`, one AN at a time ({sc_ans} ANs x {sc_perm} permutations timed, extrapolated) | {sc:,.0f} | {sc / med:,.0f} |\n")
    (out / f"{name}.md").write_text(md)
    print(md)
    return result


if __name__ == "__main__":
    main()
