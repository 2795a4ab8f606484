"""MLP 784-512-512-10 (ReLU), batch 1 and 64: lightos_accelerated vs NumPy doing the same math.

    python bench/python/bench_mlp.py [--rounds 5]

Rounds interleave the three (NumPy, lightos, lightos with out=), a pause before each so
that OpenBLAS's threads have gone idle; each reports its best round's median, and the
ratio NumPy / lightos of every round is printed with its median (above 1: lightos faster)."""
import argparse
import time

import numpy as np

from _common import fmt, machine, timeit
from lightos_accelerated import ExecutionGraph, GraphOp, LightDevice, DeviceType, OpType


def build(dev, Ws, bs):
    g = ExecutionGraph(dev, name="mlp")
    x = g.add_tensor([None, 784], name="x")
    h = x
    for i, (W, b) in enumerate(zip(Ws, bs)):
        w = g.add_tensor(W.shape, data=W, name=f"W{i}")
        bb = g.add_tensor(b.shape, data=b, name=f"b{i}")
        o = g.add_tensor([None, W.shape[1]], name=f"h{i}")
        g.add_op(GraphOp(OpType.MATMUL, f"fc{i}", inputs=[h, w], outputs=[o]))
        g.add_op(GraphOp(OpType.ADD, f"bias{i}", inputs=[o, bb], outputs=[o]))
        if i < len(Ws) - 1:
            g.add_op(GraphOp(OpType.RELU, f"relu{i}", inputs=[o], outputs=[o]))
        h = o
    return g, x, h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(f"# MLP 784-512-512-10 on {machine()}")
    rng = np.random.default_rng(0)
    sizes = [784, 512, 512, 10]
    Ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(b).astype(np.float32) * 0.1 for b in sizes[1:]]
    g, x, y = build(LightDevice(DeviceType.CPU, 0), Ws, bs)
    rep = g.optimize()
    print(f"optimizer: {rep.nodes_before} -> {rep.nodes_after} nodes; "
          f"{', '.join(f['pass'] + ':' + f['result'] for f in rep.fired) or 'no rewrites'}")

    def numpy_mlp(X):
        h = np.maximum(X @ Ws[0] + bs[0], 0)
        h = np.maximum(h @ Ws[1] + bs[1], 0)
        return h @ Ws[2] + bs[2]

    print(f"{'batch':>5} {'NumPy':>10} {'lightos':>10} {'lightos out=':>13} {'NumPy/lightos':>14}  per round (median)")
    for batch in (1, 64):
        X = rng.standard_normal((batch, 784)).astype(np.float32)
        got = g.execute({x: X})[y]
        assert np.allclose(got, numpy_mlp(X), rtol=1e-3, atol=1e-3), "lightos result is wrong"
        Y = np.empty((batch, 10), np.float32)
        cases = {"numpy": lambda: numpy_mlp(X), "lightos": lambda: g.execute({x: X}),
                 "out": lambda: g.execute({x: X}, out={y: Y})}
        medians: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.rounds):
            for k, fn in cases.items():
                time.sleep(0.05)
                medians[k].append(timeit(fn, repeat=300, min_time=0.3)[0])
        assert np.allclose(Y, numpy_mlp(X), rtol=1e-3, atol=1e-3), "lightos (out=) result is wrong"
        t_np, t_lo, t_out = (min(medians[k]) for k in ("numpy", "lightos", "out"))
        per_round = [n / lo for n, lo in zip(medians["numpy"], medians["lightos"])]
        print(f"{batch:5} {fmt(t_np):>10} {fmt(t_lo):>10} {fmt(t_out):>13} {t_np / t_lo:13.2f}x  "
              f"{' '.join(f'{r:.2f}' for r in per_round)} ({float(np.median(per_round)):.2f})")


if __name__ == "__main__":
    main()
