import numpy as np
import pytest

from lightos_accelerated import (ExecutionGraph, GraphOp, ModelLoader, OpType, TensorId)
from conftest import AWKWARD


def mlp_graph(device, rng, n_in, n_hidden, n_out, batch=None):
    g = ExecutionGraph(device, name="mlp")
    W1 = rng.standard_normal((n_in, n_hidden)).astype(np.float32)
    b1 = rng.standard_normal(n_hidden).astype(np.float32)
    W2 = rng.standard_normal((n_hidden, n_out)).astype(np.float32)
    x = g.add_tensor([batch, n_in], np.float32, name="x")
    w1 = g.add_tensor(W1.shape, np.float32, data=W1)
    bb = g.add_tensor(b1.shape, np.float32, data=b1)
    w2 = g.add_tensor(W2.shape, np.float32, data=W2)
    h = g.add_tensor([batch, n_hidden], np.float32)
    y = g.add_tensor([batch, n_out], np.float32, name="y")
    g.add_op(GraphOp(OpType.MATMUL, "fc1", inputs=[x, w1], outputs=[h]))
    g.add_op(GraphOp(OpType.ADD, "bias1", inputs=[h, bb], outputs=[h]))
    g.add_op(GraphOp(OpType.RELU, "relu1", inputs=[h], outputs=[h]))
    g.add_op(GraphOp(OpType.MATMUL, "fc2", inputs=[h, w2], outputs=[y]))

    def ref(xv):
        hv = np.maximum(xv.astype(np.float64) @ W1 + b1, 0)
        return hv @ W2
    return g, x, y, ref


@pytest.mark.parametrize("m", AWKWARD[:5])
@pytest.mark.parametrize("k,n", [(5, 3), (33, 17), (130, 65)])
def test_matmul_relu_matches_numpy(device, rng, m, k, n):
    A = rng.standard_normal((m, k)).astype(np.float32)
    B = rng.standard_normal((k, n)).astype(np.float32)
    g = ExecutionGraph(device)
    a = g.add_tensor([m, k], np.float32)
    b = g.add_tensor([k, n], np.float32, data=B)
    y = g.add_tensor([m, n], np.float32)
    g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[a, b], outputs=[y]))
    g.add_op(GraphOp(OpType.RELU, "relu", inputs=[y], outputs=[y]))  # in place
    want = np.maximum(A.astype(np.float64) @ B, 0)
    got = g.execute({a: A})[y]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    g.optimize()
    got2 = g.execute({a: A})[y]
    np.testing.assert_allclose(got2, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_optimize_fuses_and_keeps_numbers(device, rng):
    g, x, y, ref = mlp_graph(device, rng, 37, 29, 11, batch=None)
    X = rng.standard_normal((13, 37)).astype(np.float32)
    before = g.execute({x: X})[y].copy()
    rep = g.optimize()
    assert rep.nodes_after <= rep.nodes_before
    after = g.execute({x: X})[y]
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(after, ref(X), rtol=1e-4, atol=1e-3)
    assert "ExecutionGraph" in g._repr_html_()


@pytest.mark.parametrize("batch", [1, 2, 9, 64])
def test_dynamic_batch(device, rng, batch):
    g, x, y, ref = mlp_graph(device, rng, 20, 30, 7, batch=None)
    X = rng.standard_normal((batch, 20)).astype(np.float32)
    np.testing.assert_allclose(g.execute({x: X})[y], ref(X), rtol=1e-4, atol=1e-3)


def test_feeds_by_name_and_outputs_by_id(device, rng):
    g, x, y, ref = mlp_graph(device, rng, 8, 8, 3, batch=2)
    X = rng.standard_normal((2, 8)).astype(np.float32)
    out = g.execute({"x": X})
    assert isinstance(y, TensorId) and y.name == "y"
    np.testing.assert_array_equal(out["y"], out[y])
    assert y in out


@pytest.mark.parametrize("op,fn", [(OpType.ADD, np.add), (OpType.SUB, np.subtract), (OpType.MUL, np.multiply),
                                   (OpType.DIV, np.divide)])
def test_broadcasting_binary(device, rng, op, fn):
    A = rng.standard_normal((7, 1, 5)).astype(np.float32)
    B = (rng.standard_normal((3, 1)) + 3).astype(np.float32)
    g = ExecutionGraph(device)
    a, b = g.add_tensor(A.shape), g.add_tensor(B.shape)
    y = g.add_tensor([7, 3, 5])
    g.add_op(GraphOp(op, "op", inputs=[a, b], outputs=[y]))
    np.testing.assert_allclose(g.execute({a: A, b: B})[y], fn(A, B), rtol=1e-6)


def test_float64_graph(device, rng):
    A = rng.standard_normal((9, 4))
    g = ExecutionGraph(device)
    a = g.add_tensor(A.shape, np.float64)
    y = g.add_tensor(A.shape, np.float64)
    g.add_op(GraphOp(OpType.TANH, "t", inputs=[a], outputs=[y]))
    np.testing.assert_allclose(g.execute({a: A})[y], np.tanh(A), rtol=1e-12)


def test_save_and_load_native(device, rng, tmp_path):
    g, x, y, ref = mlp_graph(device, rng, 12, 16, 4, batch=None)
    g.optimize()
    path = tmp_path / "mlp.lightos"
    g.save(path)
    g2 = ModelLoader.load_lightos_native(path, device)
    X = rng.standard_normal((5, 12)).astype(np.float32)
    np.testing.assert_allclose(g2.execute({"x": X})["y"], ref(X), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(g2.execute({g2.tensor("x"): X})[g2.tensor("y")], ref(X), rtol=1e-4, atol=1e-3)


def test_weights_are_copied_at_build(device, rng):
    W = rng.standard_normal((4, 4)).astype(np.float32)
    g = ExecutionGraph(device)
    x = g.add_tensor([1, 4])
    w = g.add_tensor(W.shape, data=W)
    y = g.add_tensor([1, 4])
    g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[x, w], outputs=[y]))
    X = np.ones((1, 4), np.float32)
    first = g.execute({x: X})[y].copy()
    W[:] = 0
    np.testing.assert_array_equal(g.execute({x: X})[y], first)


def test_editing_after_run_rebuilds(device, rng):
    g = ExecutionGraph(device)
    x = g.add_tensor([3])
    y = g.add_tensor([3])
    g.add_op(GraphOp(OpType.NEG, "neg", inputs=[x], outputs=[y]))
    X = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(g.execute({x: X})[y], -X)
    g.add_op(GraphOp(OpType.ABS, "abs", inputs=[y], outputs=[y]))
    np.testing.assert_array_equal(g.execute({x: X})[y], X)


def test_profile_has_every_node(device, rng):
    g, x, y, ref = mlp_graph(device, rng, 10, 10, 10, batch=3)
    prof = g.profile({x: rng.standard_normal((3, 10)).astype(np.float32)})
    assert [r["node"] for r in prof] == ["fc1", "bias1", "relu1", "fc2"]
    assert all(r["seconds"] >= 0 for r in prof) and prof.total > 0
    assert "<table>" in prof._repr_html_() and "fc1" in str(prof)
