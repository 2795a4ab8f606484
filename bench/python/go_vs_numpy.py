#!/usr/bin/env python3
"""The engine's MLP and 512x512 matmul against NumPy on a machine without the extension.

For a machine where the gopy extension cannot be built (another Python version, no Go),
such as the GPU machine's host: the same math as bench_mlp.py and bench_matmul.py, timed
in Go test binaries built here with CGO_ENABLED=0 and in NumPy, in interleaved rounds
of one run. The Go side is `exec.Session.Run` on the optimized MLP (what `execute`
calls; the Python bridge adds about 7 us per call on top, see README.md) and
`gemm.Sgemm` on 512x512 with both operands fed (B packed on every call, as a fed
operand is).

    CGO_ENABLED=0 go test -c -o bin/bench/exec.test ./engine/exec
    CGO_ENABLED=0 go test -c -o bin/bench/gemm.test ./backends/cpu/gemm
    taskset -c 0,1 python3 bench/python/go_vs_numpy.py --bins bin/bench [--rounds 3]

Prints a Markdown table: medians per round, best over rounds, and NumPy time / engine
time (above 1.0: the engine is faster).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import time

import numpy as np

LINE = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op")


def go_bench(binary: str, pattern: str, benchtime: str) -> dict[str, float]:
    """Run one Go test binary's benchmarks; returns name -> seconds per op."""
    p = subprocess.run([binary, "-test.run", "^$", "-test.bench", pattern,
                        "-test.benchtime", benchtime], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{binary} {pattern}: {p.stdout[-2000:]}{p.stderr[-2000:]}")
    out = {}
    for line in p.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            out[m.group(1)] = float(m.group(2)) * 1e-9
    if not out:
        raise RuntimeError(f"{binary} {pattern}: no benchmark lines in {p.stdout[-1000:]}")
    return out


def median_time(fn, reps: int) -> float:
    """Median seconds of reps calls after a few warm-up calls."""
    for _ in range(5):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def numpy_cases() -> dict[str, float]:
    """NumPy timings of the same cases, seconds (medians)."""
    rng = np.random.default_rng(1)
    sizes = [784, 512, 512, 10]
    ws = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(b, dtype=np.float32) for b in sizes[1:]]

    def mlp(x: np.ndarray) -> np.ndarray:
        for i, (w, b) in enumerate(zip(ws, bs)):
            x = x @ w + b
            if i + 1 < len(ws):
                x = np.maximum(x, 0)
        return x

    out = {}
    for batch, reps in ((1, 2000), (64, 300)):
        x = rng.standard_normal((batch, 784), dtype=np.float32)
        out[f"mlp-b{batch}"] = median_time(lambda: mlp(x), reps)
    a = rng.standard_normal((512, 512), dtype=np.float32)
    b = rng.standard_normal((512, 512), dtype=np.float32)
    out["matmul-512"] = median_time(lambda: a @ b, 200)
    return out


def engine_cases(bins: str) -> dict[str, float]:
    """Engine timings of the same cases, seconds per op (Go's benchmark averages)."""
    ex = go_bench(os.path.join(bins, "exec.test"), "^BenchmarkSessionMLP$", "1s")
    gm = go_bench(os.path.join(bins, "gemm.test"), "^BenchmarkSgemm$/avx512-12x32/threads=[2-9]/n=512$", "1s")
    sg = [v for k, v in gm.items() if k.endswith("/n=512")]
    return {"mlp-b1": ex["BenchmarkSessionMLP/batch1"], "mlp-b64": ex["BenchmarkSessionMLP/batch64"],
            "matmul-512": sg[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", default="bin/bench", help="folder with exec.test and gemm.test")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    rounds: list[tuple[dict[str, float], dict[str, float]]] = []
    for _ in range(a.rounds):
        rounds.append((numpy_cases(), engine_cases(a.bins)))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"affinity {len(os.sched_getaffinity(0))} CPUs, NumPy {np.__version__}, Python {platform.python_version()}")
    print()
    print("| case | NumPy per round (us) | engine per round (us) | best NumPy | best engine | NumPy / engine |")
    print("|---|---|---|---|---|---|")
    for case in ("mlp-b1", "mlp-b64", "matmul-512"):
        npt = [r[0][case] * 1e6 for r in rounds]
        eng = [r[1][case] * 1e6 for r in rounds]
        print(f"| {case} | {', '.join(f'{t:.1f}' for t in npt)} | {', '.join(f'{t:.1f}' for t in eng)} | "
              f"{min(npt):.1f} | {min(eng):.1f} | {min(npt) / min(eng):.2f} |")


if __name__ == "__main__":
    main()
