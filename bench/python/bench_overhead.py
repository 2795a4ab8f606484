"""execute() overhead: a one-op graph (Relu on 16 floats) run from Python, median of many.

    python bench/python/bench_overhead.py

Also shows where the time goes: a no-op Go call, the raw SessionRun call with prebuilt
metadata, execute() with a caller out= array, and execute() returning an engine array."""
import numpy as np

from _common import fmt, machine, timeit
from lightos_accelerated import ExecutionGraph, GraphOp, LightDevice, DeviceType, OpType
from lightos_accelerated._ext import pyext


def main():
    print(f"# execute() overhead, one Relu on float32[1,16], on {machine()}")
    g = ExecutionGraph(LightDevice(DeviceType.CPU, 0), name="one-op")
    x = g.add_tensor([1, 16])
    y = g.add_tensor([1, 16])
    g.add_op(GraphOp(OpType.RELU, "relu", inputs=[x], outputs=[y]))
    X = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    Y = np.empty_like(X)
    feeds, out = {x: X}, {y: Y}
    g.execute(feeds)
    s = g._session()
    recs, keep, n_in = s.pack(feeds)
    recs[0] = n_in
    recs += [0] * (12 * s.n_out)
    recs[2] = len(recs)
    meta = np.array(recs, np.int64)
    mptr = meta.ctypes.data

    def raw():
        pyext.SessionRun(s.h, 1, mptr)
        pyext.BufferRelease(meta[-12])

    rows = [
        ("no-op Go call (pyext.Version)", lambda: pyext.Version()),
        ("raw SessionRun + BufferRelease", raw),
        ("np.maximum(X, 0) (reference)", lambda: np.maximum(X, 0)),
        ("execute(feeds, out=...)", lambda: g.execute(feeds, out=out)),
        ("execute(feeds) -> engine array", lambda: g.execute(feeds)[y]),
    ]
    print(f"{'call':36} {'median':>10} {'min':>10}")
    for name, fn in rows:
        med, mn = timeit(fn, repeat=20000, warmup=200)
        print(f"{name:36} {fmt(med):>10} {fmt(mn):>10}")


if __name__ == "__main__":
    main()
