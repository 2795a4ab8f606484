"""ModelLoader: ONNX (with a custom op by name), native round trip."""
import numpy as np
import pytest

import lightos_accelerated as la
from lightos_accelerated import ModelLoader, custom_op

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


@custom_op(name="TripleIt")
def triple_it(a: np.ndarray) -> np.ndarray:
    return 3 * a


def make_model(path, W, custom):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["r"])]
    last = "r"
    if custom:
        nodes.append(helper.make_node(custom, ["r"], ["y"]))
        last = "y"
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", W.shape[0]])],
                          [helper.make_tensor_value_info(last, TensorProto.FLOAT, ["N", W.shape[1]])],
                          [numpy_helper.from_array(W, "W")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return last


@pytest.mark.parametrize("batch", [1, 7, 33])
def test_onnx_with_custom_op(device, rng, tmp_path, batch):
    W = rng.standard_normal((13, 6)).astype(np.float32)
    path = str(tmp_path / "m.onnx")
    out = make_model(path, W, "TripleIt")
    g = ModelLoader.load_onnx(path, device)
    X = rng.standard_normal((batch, 13)).astype(np.float32)
    want = 3 * np.maximum(X.astype(np.float64) @ W, 0)
    np.testing.assert_allclose(g.execute({"x": X})[out], want, rtol=1e-4, atol=1e-4)
    g.optimize()
    np.testing.assert_allclose(g.execute({"x": X})[out], want, rtol=1e-4, atol=1e-4)
    assert any(n["custom"] for n in g.describe()["nodes"])


def test_onnx_unknown_op_is_an_error(device, rng, tmp_path):
    W = rng.standard_normal((4, 4)).astype(np.float32)
    path = str(tmp_path / "u.onnx")
    make_model(path, W, "NoSuchOpAnywhere")
    with pytest.raises(la.LightOSError, match="NoSuchOpAnywhere"):
        g = ModelLoader.load_onnx(path, device)
        g.execute({"x": np.zeros((1, 4), np.float32)})


def test_native_round_trip_of_an_onnx_model(device, rng, tmp_path):
    W = rng.standard_normal((5, 3)).astype(np.float32)
    path = str(tmp_path / "p.onnx")
    out = make_model(path, W, None)
    g = ModelLoader.load_onnx(path, device)
    g.optimize()
    g.save(tmp_path / "p.lightos")
    g2 = ModelLoader.load(tmp_path / "p.lightos", device)
    X = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(g2.execute({"x": X})[out], np.maximum(X @ W, 0), rtol=1e-5, atol=1e-5)
