"""Shared helpers for bench/python: timing, machine description, import of the package."""
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    import lightos_accelerated  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "python"))


def timeit(fn, repeat=50, warmup=3, min_time=0.0):
    """Median and minimum seconds of fn() over repeat runs (after warmup runs)."""
    for _ in range(warmup):
        fn()
    ts = []
    start = time.perf_counter()
    while len(ts) < repeat or time.perf_counter() - start < min_time:
        t0 = time.perf_counter_ns()
        fn()
        ts.append((time.perf_counter_ns() - t0) * 1e-9)
    return statistics.median(ts), min(ts)


def machine():
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy as np
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"


def fmt(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.2f} us"


def matmul_graph(n, b_data=None):
    """A one-op graph C = A @ B of n x n float32 on the CPU device: (graph, a, b, c).

    With b_data, B is a graph weight holding it (packed once, at plan time); else it is
    fed like A."""
    from lightos_accelerated import DeviceType, ExecutionGraph, GraphOp, LightDevice, OpType
    name = "matmul" if b_data is None else "matmul-weight"
    g = ExecutionGraph(LightDevice(DeviceType.CPU, 0), name=name)
    a, b, c = g.add_tensor([n, n]), g.add_tensor([n, n], data=b_data), g.add_tensor([n, n])
    g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[a, b], outputs=[c]))
    return g, a, b, c


def matmul_operands(n, seed=0):
    """Two random n x n float32 matrices (the same for a given seed)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, n)).astype(np.float32),
            rng.standard_normal((n, n)).astype(np.float32))


def check_product(name, got, ref):
    """Fail unless got (n x n) is the product ref (computed in float64) to float32 accuracy."""
    import numpy as np
    n = ref.shape[1]
    assert np.allclose(np.asarray(got), ref, rtol=1e-3, atol=1e-3 * np.sqrt(n)), f"{name} result is wrong"
