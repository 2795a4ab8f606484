"""@custom_op: Python functions as graph nodes."""
import gc

import numpy as np
import pytest

import lightos_accelerated as la
from lightos_accelerated import ExecutionGraph, GraphOp, OpType, custom_op


@custom_op
def sparse_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The product description's example: SciPy CSR when more than half of A is zero."""
    sparsity = np.sum(A == 0) / A.size
    if sparsity > 0.5:
        from scipy.sparse import csr_matrix
        sparse_matmul.used_sparse = True
        return csr_matrix(A).dot(B)
    sparse_matmul.used_sparse = False
    return np.matmul(A, B)


class Boom(Exception):
    pass


@custom_op
def explode(a: np.ndarray) -> np.ndarray:
    if a.sum() > 0:
        raise Boom("positive input")
    return a


def test_sparse_matmul_example_as_a_node(device, rng):
    A = rng.standard_normal((100, 60))
    A[A < 1.0] = 0  # about 84% zeros
    B = rng.standard_normal((60, 50))
    g = ExecutionGraph(device)
    a = g.add_tensor(A.shape, np.float64)
    b = g.add_tensor(B.shape, np.float64)
    c = g.add_tensor([100, 50], np.float64)
    g.add_op(GraphOp(OpType.CUSTOM, "sparse", inputs=[a, b], outputs=[c], custom_fn=sparse_matmul))
    out = g.execute({a: A, b: B})[c]
    assert sparse_matmul.used_sparse
    np.testing.assert_allclose(out, A @ B, rtol=1e-10, atol=1e-10)
    # Still an ordinary function when called directly.
    np.testing.assert_allclose(sparse_matmul(A, B), A @ B)
    dense = rng.standard_normal((100, 60)) + 5
    np.testing.assert_allclose(g.execute({a: dense, b: B})[c], dense @ B, rtol=1e-10, atol=1e-10)
    assert not sparse_matmul.used_sparse


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 3), (33, 17, 65)])
def test_custom_node_between_engine_ops(device, rng, m, k, n):
    @custom_op(shape=("x.0", "w.1"), dtype=np.float32)
    def scaled_mm(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return 0.5 * (x @ w)

    X = rng.standard_normal((m, k)).astype(np.float32)
    W = rng.standard_normal((k, n)).astype(np.float32)
    g = ExecutionGraph(device)
    x = g.add_tensor([None, k])           # dynamic batch: the shape spec follows it
    w = g.add_tensor(W.shape, data=W)
    h = g.add_tensor([None, n])
    y = g.add_tensor([None, n])
    g.add_op(GraphOp(OpType.RELU, "pre", inputs=[x], outputs=[x]))
    g.add_op(GraphOp(OpType.CUSTOM, "smm", inputs=[x, w], outputs=[h], custom_fn=scaled_mm))
    g.add_op(GraphOp(OpType.TANH, "post", inputs=[h], outputs=[y]))
    want = np.tanh(0.5 * (np.maximum(X, 0).astype(np.float64) @ W))
    np.testing.assert_allclose(g.execute({x: X})[y], want, rtol=1e-4, atol=1e-5)
    g.optimize()
    np.testing.assert_allclose(g.execute({x: X})[y], want, rtol=1e-4, atol=1e-5)
    names = [r["node"] for r in g.profile()]
    assert "smm" in names                  # custom nodes appear in the profile


def test_multiple_outputs(device, rng):
    @custom_op
    def split_signs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.maximum(a, 0), np.minimum(a, 0)

    A = rng.standard_normal((5, 6)).astype(np.float32)
    g = ExecutionGraph(device)
    a = g.add_tensor(A.shape)
    p, q = g.add_tensor(A.shape), g.add_tensor(A.shape)
    g.add_op(GraphOp(OpType.CUSTOM, "split", inputs=[a], outputs=[p, q], custom_fn=split_signs))
    out = g.execute({a: A})
    np.testing.assert_array_equal(out[p] + out[q], A)
    with pytest.raises(la.CustomOpError, match="2 output"):
        g.add_op(GraphOp(OpType.CUSTOM, "split2", inputs=[a], outputs=[p], custom_fn=split_signs))


def test_exception_is_the_same_and_names_the_node(device):
    g = ExecutionGraph(device)
    a = g.add_tensor([3])
    b = g.add_tensor([3])
    g.add_op(GraphOp(OpType.CUSTOM, "kaboom", inputs=[a], outputs=[b], custom_fn=explode))
    with pytest.raises(Boom) as ei:
        g.execute({a: np.ones(3, np.float32)})
    assert str(ei.value) == "positive input"
    assert ei.value.lightos_node == "kaboom"
    assert any("kaboom" in n for n in getattr(ei.value, "__notes__", []))
    # The traceback reaches into the function that raised.
    assert any(f.name == "explode" for f in __import__("traceback").extract_tb(ei.tb))
    # The graph stays usable.
    np.testing.assert_array_equal(g.execute({a: -np.ones(3, np.float32)})[b], -np.ones(3, np.float32))
    for _ in range(3):
        with pytest.raises(Boom):
            g.execute({a: np.ones(3, np.float32)})


def test_wrong_results_from_a_custom_op(device):
    @custom_op
    def wrong_shape(a: np.ndarray) -> np.ndarray:
        return np.zeros(7, np.float32)

    @custom_op
    def wrong_dtype(a: np.ndarray) -> np.ndarray:
        return np.zeros(3, np.complex64)

    @custom_op
    def not_an_array(a: np.ndarray) -> np.ndarray:
        return "hello"

    for fn, exc in ((wrong_shape, la.ShapeError), (wrong_dtype, la.DTypeError), (not_an_array, la.ShapeError)):
        g = ExecutionGraph(device)
        a = g.add_tensor([3])
        b = g.add_tensor([3])
        g.add_op(GraphOp(OpType.CUSTOM, "n_" + fn.name, inputs=[a], outputs=[b], custom_fn=fn))
        with pytest.raises(exc, match="n_" + fn.name):
            g.execute({a: np.zeros(3, np.float32)})


def test_annotations_are_checked_when_building(device):
    with pytest.raises(la.CustomOpError, match="annotated"):
        @custom_op
        def bad_param(a: int) -> np.ndarray:
            return a

    with pytest.raises(la.CustomOpError, match="return"):
        @custom_op
        def bad_return(a: np.ndarray) -> int:
            return 1

    @custom_op
    def two_in(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    g = ExecutionGraph(device)
    a = g.add_tensor([2])
    c = g.add_tensor([2])
    with pytest.raises(la.CustomOpError, match="takes 2 inputs"):
        g.add_op(GraphOp(OpType.CUSTOM, "two", inputs=[a], outputs=[c], custom_fn=two_in))
    with pytest.raises(la.CustomOpError, match="custom_fn"):
        GraphOp(OpType.CUSTOM, "nofn", inputs=[a], outputs=[c])


def test_custom_op_by_registered_name(device, rng):
    @custom_op(name="double_it")
    def dbl(a: np.ndarray) -> np.ndarray:
        return 2 * a

    g = ExecutionGraph(device)
    a = g.add_tensor([4])
    b = g.add_tensor([4])
    g.add_op(GraphOp(OpType.CUSTOM, "d", inputs=[a], outputs=[b], custom_fn="double_it"))
    A = rng.standard_normal(4).astype(np.float32)
    np.testing.assert_array_equal(g.execute({a: A})[b], 2 * A)


def test_keyboard_interrupt_like_exceptions_pass_through(device):
    @custom_op
    def stop(a: np.ndarray) -> np.ndarray:
        raise KeyboardInterrupt

    g = ExecutionGraph(device)
    a = g.add_tensor([1])
    b = g.add_tensor([1])
    g.add_op(GraphOp(OpType.CUSTOM, "stop", inputs=[a], outputs=[b], custom_fn=stop))
    with pytest.raises(KeyboardInterrupt):
        g.execute({a: np.zeros(1, np.float32)})
    gc.collect()
