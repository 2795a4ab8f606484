"""Zero copy both ways, proved by pointer identity."""
import gc

import numpy as np

from lightos_accelerated import ExecutionGraph, GraphOp, OpType, custom_op
from lightos_accelerated._ext import pyext


def ptr(a):
    return a.__array_interface__["data"][0]


def test_inputs_are_borrowed_not_copied(device, rng):
    seen = {}

    @custom_op
    def spy(a: np.ndarray) -> np.ndarray:
        seen["ptr"] = ptr(a)
        seen["writeable"] = a.flags.writeable
        return a * 2

    X = rng.standard_normal((17, 5)).astype(np.float32)
    g = ExecutionGraph(device)
    x = g.add_tensor(X.shape)
    y = g.add_tensor(X.shape)
    g.add_op(GraphOp(OpType.CUSTOM, "spy", inputs=[x], outputs=[y], custom_fn=spy))
    out = g.execute({x: X})[y]
    assert seen["ptr"] == ptr(X)          # the engine read the caller's memory itself
    assert seen["writeable"] is False     # and the custom op got it read-only
    np.testing.assert_array_equal(out, X * 2)


def test_strided_or_other_dtype_inputs_are_converted_once(device, rng):
    seen = {}

    @custom_op
    def spy2(a: np.ndarray) -> np.ndarray:
        seen["ptr"] = ptr(a)
        return a + 0

    big = rng.standard_normal((10, 8))            # float64, and a strided view of it
    view = big[::2, ::2]
    g = ExecutionGraph(device)
    x = g.add_tensor([5, 4])
    y = g.add_tensor([5, 4])
    g.add_op(GraphOp(OpType.CUSTOM, "spy2", inputs=[x], outputs=[y], custom_fn=spy2))
    out = g.execute({x: view})[y]
    assert seen["ptr"] != ptr(view)
    np.testing.assert_allclose(out, view.astype(np.float32))


def test_out_arrays_are_written_in_place(device, rng):
    A = rng.standard_normal((31, 7)).astype(np.float32)
    B = rng.standard_normal((7, 65)).astype(np.float32)
    g = ExecutionGraph(device)
    a, b = g.add_tensor(A.shape), g.add_tensor(B.shape, data=B)
    y = g.add_tensor([31, 65])
    g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[a, b], outputs=[y]))
    dest = np.full((31, 65), np.nan, np.float32)
    p = ptr(dest)
    res = g.execute({a: A}, out={y: dest})
    assert res[y] is dest and ptr(res[y]) == p
    np.testing.assert_allclose(dest, A.astype(np.float64) @ B, rtol=1e-4, atol=1e-4)


def test_outputs_wrap_engine_memory_and_return_to_the_pool(device, rng):
    X = rng.standard_normal((64, 64)).astype(np.float32)
    g = ExecutionGraph(device)
    x = g.add_tensor(X.shape)
    y = g.add_tensor(X.shape)
    g.add_op(GraphOp(OpType.NEG, "neg", inputs=[x], outputs=[y]))
    out = g.execute({x: X})[y]
    # The array is a view of an engine buffer, not a NumPy-owned copy.
    assert not out.flags.owndata and type(out.base).__name__ == "EngineBuffer"
    p = ptr(out)
    view = out[3:, 5:]                      # views keep the buffer alive
    del out
    gc.collect()
    np.testing.assert_array_equal(view, -X[3:, 5:])
    pooled = pyext.BuffersPooled()
    del view
    gc.collect()
    assert pyext.BuffersPooled() == pooled + 1   # released when the last view died
    # The next run of the same size reuses that very buffer: no allocation, no copy.
    out2 = g.execute({x: X})[y]
    assert ptr(out2) == p
    np.testing.assert_array_equal(out2, -X)


def test_many_runs_do_not_leak_handles(device, rng):
    X = rng.standard_normal((3, 3)).astype(np.float32)
    g = ExecutionGraph(device)
    x = g.add_tensor(X.shape)
    y = g.add_tensor(X.shape)
    g.add_op(GraphOp(OpType.EXP, "exp", inputs=[x], outputs=[y]))
    g.execute({x: X})
    gc.collect()
    before = pyext.OpenHandles()
    for _ in range(200):
        g.execute({x: X})
    gc.collect()
    assert pyext.OpenHandles() == before
