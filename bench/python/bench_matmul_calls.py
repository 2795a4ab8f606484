"""Per-call latency quantiles of the fed 512x512 matmul: lightos_accelerated against NumPy.

    python bench/python/bench_matmul_calls.py [--n 512] [--rounds 6] [--calls 300]

bench_matmul.py compares medians of timed loops; this one times every call on its own,
in interleaved blocks (a pause before each, so that OpenBLAS's threads have gone idle),
and prints the 5/10/25/50/75/90% quantiles in microseconds, which show the slow tail
that a worker found asleep adds (gemm's spinFor). Results are checked against float64."""
import argparse
import time

import numpy as np

from _common import check_product, machine, matmul_graph, matmul_operands


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--calls", type=int, default=300)
    args = ap.parse_args()
    n = args.n
    A, B = matmul_operands(n)
    g, a, b, c = matmul_graph(n)
    C, Cn = np.empty((n, n), np.float32), np.empty((n, n), np.float32)
    feeds, out = {a: A, b: B}, {c: C}
    cases = {"lightos": lambda: g.execute(feeds, out=out), "numpy": lambda: np.matmul(A, B, out=Cn)}
    for fn in cases.values():
        for _ in range(50):
            fn()
    ref = A.astype(np.float64) @ B
    for name, arr in (("lightos", C), ("numpy", Cn)):
        check_product(name, arr, ref)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            time.sleep(0.05)
            for _ in range(args.calls):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    qs = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9]
    print(f"# {n}x{n} float32 matmul, both operands fed, per call (us) on {machine()}")
    print(f"{'':10}" + "".join(f"{int(q * 100):>7}%" for q in qs))
    for name, ts in times.items():
        print(f"{name:10}" + "".join(f"{v:8.0f}" for v in np.quantile(np.array(ts) * 1e6, qs)))
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"median per call, NumPy / lightos: {med['numpy'] / med['lightos']:.2f}x")


if __name__ == "__main__":
    main()
