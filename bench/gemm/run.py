#!/usr/bin/env python3
"""Compare backends/cpu/gemm with NumPy (OpenBLAS) in one run.

Measures, interleaved over several rounds so that the shared machine's noise
hits both sides alike:
  * float32 matmul n x n x n, n = 1024, 2048: NumPy with OPENBLAS_NUM_THREADS=1
    and with all threads, gemm.Sgemm with 1 thread and all threads;
  * MatMul+bias+ReLU (64x1024 . 1024x1024, weights pre-packed) fused in the
    GEMM epilogue vs GEMM then a separate bias+ReLU pass (vectorized, or a plain
    Go loop);
  * Conv 3x3, 64->64 channels, 56x56, batch 1: Conv+bias+ReLU fused vs a
    separate bias+ReLU pass, and vs separate BatchNorm and ReLU passes;
  * the machine's peak: an FMA-only loop on one core, times the cores.

Prints a Markdown report (best GFLOP/s and the spread of per-round bests).
Usage: bench/gemm/run.sh [--rounds 3] [--sizes 1024,2048]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NUMPY_PROG = r"""
import json, sys, time
import numpy as np
n, reps = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = np.empty((n, n), dtype=np.float32)
for _ in range(2):
    np.matmul(a, b, out=c)
ts = []
for _ in range(reps):
    calls, t0 = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < 0.05:
        np.matmul(a, b, out=c)
        calls += 1
    ts.append((time.perf_counter() - t0) / calls)
print(json.dumps({"seconds": ts}))
"""


def lscpu_model():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpuinfo_mhz():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1])
    except OSError:
        pass
    return None


def numpy_run(n, threads, reps):
    env = dict(os.environ)
    if threads == 1:
        env["OPENBLAS_NUM_THREADS"] = "1"
    else:
        env.pop("OPENBLAS_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", NUMPY_PROG, str(n), str(reps)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["seconds"]


def go_run(binary, args):
    out = subprocess.run([binary] + args, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def summarize(rounds_seconds, flops):
    """rounds_seconds: per round, a list of per-rep times. Returns best GFLOP/s,
    and the min and max of the per-round best GFLOP/s."""
    per_round = [flops / min(ts) / 1e9 for ts in rounds_seconds]
    return max(per_round), min(per_round), max(per_round)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--kernel", default="", help="gemm micro-kernel (default: the package's choice)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ncpu = os.cpu_count()
    import numpy
    npcfg = ""
    try:
        npcfg = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"].get("openblas configuration", "")
    except Exception:
        pass

    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "gemm-bench")
        subprocess.run(["go", "build", "-o", binary, "./bench/gemm"], cwd=ROOT, check=True)
        kargs = ["-kernel", args.kernel] if args.kernel else []
        peak = go_run(binary, ["-case", "peak"])
        gemm_res = {}  # (who, n, threads) -> list of per-round rep times
        fuse_res = {}
        kernel_name = ""
        for r in range(args.rounds):
            for n in sizes:
                for threads in (1, ncpu):
                    gemm_res.setdefault(("numpy", n, threads), []).append(numpy_run(n, threads, args.reps))
                    g = go_run(binary, ["-case", "sgemm", "-n", str(n), "-threads", str(threads),
                                        "-reps", str(args.reps)] + kargs)
                    kernel_name = g["kernel"]
                    gemm_res.setdefault(("go", n, threads), []).append(g["seconds"])
            for threads in (1, ncpu):
                for case in ("mlp-fused", "mlp-unfused", "mlp-unfused-scalar", "conv-fused", "conv-unfused",
                             "conv-unfused-scalar", "convbn-unfused"):
                    g = go_run(binary, ["-case", case, "-threads", str(threads), "-reps", str(args.reps)] + kargs)
                    fuse_res.setdefault((case, threads), []).append(g)
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    core_peak = peak["gflops_per_core"]
    mach_peak = core_peak * ncpu
    mhz = cpuinfo_mhz()
    lines = []
    w = lines.append
    w(f"Machine: {lscpu_model()}, {ncpu} cores; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    w(f"NumPy {numpy.__version__} ({npcfg or 'OpenBLAS'}); Go kernel: {kernel_name}; "
      f"{args.rounds} rounds x {args.reps} reps, best and [min-max of per-round bests]")
    w("")
    w(f"Peak: FMA-only loop {core_peak:.1f} GFLOP/s on one core (if 32 flop/cycle, {core_peak / 32:.2f} GHz: "
      f"8 lanes x 2 flops x 2 FMA pipes); machine peak {mach_peak:.1f} GFLOP/s. "
      f"/proc/cpuinfo says {mhz} MHz (nominal; x 32 x {ncpu} cores = {mhz * 32 * ncpu / 1000 if mhz else 0:.1f} GFLOP/s).")
    w("")
    w("| n | threads | NumPy GFLOP/s | gemm GFLOP/s | gemm / NumPy | gemm % of peak |")
    w("|---|---|---|---|---|---|")
    for n in sizes:
        flops = 2.0 * n ** 3
        for threads in (1, ncpu):
            nb, nlo, nhi = summarize(gemm_res[("numpy", n, threads)], flops)
            gb, glo, ghi = summarize(gemm_res[("go", n, threads)], flops)
            peak_t = core_peak * threads
            frac = f"{100 * gb / peak_t:.0f}% of {peak_t:.0f}" if peak_t > 0 else "n/a (no FMA probe)"
            w(f"| {n} | {threads} | {nb:.1f} [{nlo:.1f}-{nhi:.1f}] | {gb:.1f} [{glo:.1f}-{ghi:.1f}] | "
              f"{gb / nb:.2f} | {frac} |")
    w("")
    w("| case | threads | fused ms | unfused ms | unfused / fused |")
    w("|---|---|---|---|---|")
    for name, fused, unfused in (("MatMul 64x1024x1024 + bias + ReLU, vectorized pass", "mlp-fused", "mlp-unfused"),
                                 ("MatMul 64x1024x1024 + bias + ReLU, plain Go pass", "mlp-fused", "mlp-unfused-scalar"),
                                 ("Conv 3x3 64ch 56x56 + bias + ReLU, vectorized pass", "conv-fused", "conv-unfused"),
                                 ("Conv 3x3 64ch 56x56 + bias + ReLU, plain Go pass", "conv-fused", "conv-unfused-scalar"),
                                 ("Conv 3x3 64ch 56x56 + BN + ReLU (BN folded vs 2 passes)", "conv-fused", "convbn-unfused")):
        for threads in (1, ncpu):
            f = fuse_res[(fused, threads)]
            u = fuse_res[(unfused, threads)]
            fb = min(min(x["seconds"]) for x in f) * 1e3
            ub = min(min(x["seconds"]) for x in u) * 1e3
            fr = [min(x["seconds"]) * 1e3 for x in f]
            ur = [min(x["seconds"]) * 1e3 for x in u]
            w(f"| {name} | {threads} | {fb:.3f} [{min(fr):.3f}-{max(fr):.3f}] | {ub:.3f} [{min(ur):.3f}-{max(ur):.3f}] | "
              f"{ub / fb:.2f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
