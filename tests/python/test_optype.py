import numpy as np
import pytest

import lightos_accelerated as la
from lightos_accelerated import ExecutionGraph, GraphOp, OpType
from lightos_accelerated._ext import pyext


def test_optype_names_every_engine_operator():
    values = {m.value for m in OpType}
    for q in pyext.OpNames().split(","):
        assert q in values, q
    assert OpType.CUSTOM.value == "custom"
    assert OpType.MATMUL.value == "MatMul" and OpType.RELU.value == "Relu"
    assert OpType.LEAKY_RELU is OpType.LEAKYRELU
    assert any(m.value.endswith("FusedMatMul") for m in OpType)


@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_attributes(device, rng, alpha):
    X = rng.standard_normal((5, 7)).astype(np.float32)
    g = ExecutionGraph(device)
    x = g.add_tensor(X.shape)
    y = g.add_tensor(X.shape)
    z = g.add_tensor(X.shape)
    g.add_op(GraphOp(OpType.LEAKY_RELU, "lr", inputs=[x], outputs=[y], attributes={"alpha": alpha}))
    g.add_op(GraphOp(OpType.SOFTMAX, "sm", inputs=[y], outputs=[z], axis=0))
    out = g.execute({x: X})[z]
    lr = np.where(X > 0, X, alpha * X)
    e = np.exp(lr - lr.max(0))
    np.testing.assert_allclose(out, e / e.sum(0), rtol=1e-5, atol=1e-6)


def test_bad_attributes(device):
    g = ExecutionGraph(device)
    x = g.add_tensor([2])
    y = g.add_tensor([2])
    g.add_op(GraphOp(OpType.LEAKY_RELU, "lr", inputs=[x], outputs=[y], attributes={"alpha": {"no": 1}}))
    with pytest.raises(la.GraphError, match="alpha"):
        g.execute({x: np.zeros(2, np.float32)})


def test_html_views(device, rng):
    assert "<table>" in device._repr_html_()
    g = ExecutionGraph(device)
    x = g.add_tensor([2, 3])
    y = g.add_tensor([2, 3])
    g.add_op(GraphOp(OpType.RELU, "r", inputs=[x], outputs=[y]))
    g.optimize()
    assert "ExecutionGraph" in g._repr_html_() and "r" in repr(g)
    assert "Optimizer" in g.last_report._repr_html_()
