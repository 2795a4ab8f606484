"""512x512 float32 matmul: lightos_accelerated vs a pure-Python triple loop vs NumPy, one run.

    python bench/python/bench_matmul.py [--n 512] [--rounds 5]

The pure-Python loop computes the same product on Python lists (the fastest plain loop
form: row of A times rows of B, accumulating into a row of C). All three are checked
against each other. Ratios are speed-ups over the pure-Python loop, measured here."""
import argparse
import time

import numpy as np

from _common import check_product, fmt, machine, matmul_graph, matmul_operands, timeit


def pure_python_matmul(A, B):
    n, k, m = len(A), len(B), len(B[0])
    C = [[0.0] * m for _ in range(n)]
    for i in range(n):
        Ai, Ci = A[i], C[i]
        for p in range(k):
            a, Bp = Ai[p], B[p]
            for j in range(m):
                Ci[j] += a * Bp[j]
    return C


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    n = args.n
    A, B = matmul_operands(n)
    flops = 2.0 * n ** 3
    print(f"# {n}x{n} float32 matmul on {machine()}")

    g, a, b, c = matmul_graph(n)
    C = np.empty((n, n), np.float32)
    feeds = {a: A, b: B}
    out = {c: C}
    # The same product with B as a graph weight (the engine packs it once, at plan time).
    gw, aw, _, cw = matmul_graph(n, b_data=B)
    Cw = np.empty((n, n), np.float32)
    Cn = np.empty((n, n), np.float32)
    # Interleaved rounds: each times the three in turn (a pause between them, so that
    # OpenBLAS's threads, which spin for a while after a product, have gone idle), and
    # each implementation's best round counts: noise on a shared machine then hits
    # all three alike.
    cases = {"lightos": lambda: g.execute(feeds, out=out),
             "weight": lambda: gw.execute({aw: A}, out={cw: Cw}),
             "numpy": lambda: np.matmul(A, B, out=Cn)}
    medians = {k: [] for k in cases}
    for _ in range(args.rounds):
        for k, fn in cases.items():
            time.sleep(0.05)
            medians[k].append(timeit(fn, repeat=30, min_time=0.3)[0])
    t_lo, t_lw, t_np = (min(medians[k]) for k in ("lightos", "weight", "numpy"))
    ref = A.astype(np.float64) @ B
    check_product("lightos", C, ref)
    check_product("lightos (weight)", Cw, ref)

    Al, Bl = A.tolist(), B.tolist()
    t0 = time.perf_counter()
    Cp = pure_python_matmul(Al, Bl)
    t_py = time.perf_counter() - t0
    check_product("pure Python", Cp, ref)

    print(f"{'implementation':28} {'time':>12} {'GFLOP/s':>9} {'vs pure Python':>15}")
    for name, t in (("pure Python triple loop", t_py), ("NumPy (np.matmul)", t_np),
                    ("lightos_accelerated", t_lo), ("lightos, B as a weight", t_lw)):
        print(f"{name:28} {fmt(t):>12} {flops / t / 1e9:9.2f} {t_py / t:14.0f}x")
    print(f"lightos / NumPy speed: {t_np / t_lo:.2f}x, with B as a weight {t_np / t_lw:.2f}x (above 1: lightos faster)")
    per_round = [f"{m_np / m_lo:.2f}" for m_np, m_lo in zip(medians["numpy"], medians["lightos"])]
    print(f"per round (NumPy median / lightos median, {args.rounds} interleaved rounds): {', '.join(per_round)}")


if __name__ == "__main__":
    main()
