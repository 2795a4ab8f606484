"""Writes tiny_mlp.onnx, the small model the QuickStart notebook loads:
y = Relu(x @ W1 + b1) @ W2 + b2 with x: [N, 16] (dynamic batch), seeded weights.
Run with the project venv: .venv/bin/python notebooks/models/make_tiny_mlp.py"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
w1 = rng.standard_normal((16, 32)).astype(np.float32) * 0.25
b1 = rng.standard_normal(32).astype(np.float32) * 0.1
w2 = rng.standard_normal((32, 4)).astype(np.float32) * 0.25
b2 = rng.standard_normal(4).astype(np.float32) * 0.1

nodes = [
    helper.make_node("MatMul", ["x", "W1"], ["h0"], name="fc1"),
    helper.make_node("Add", ["h0", "B1"], ["h1"], name="bias1"),
    helper.make_node("Relu", ["h1"], ["h2"], name="relu1"),
    helper.make_node("MatMul", ["h2", "W2"], ["h3"], name="fc2"),
    helper.make_node("Add", ["h3", "B2"], ["y"], name="bias2"),
]
graph = helper.make_graph(
    nodes,
    "tiny_mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
    initializer=[numpy_helper.from_array(a, n) for a, n in [(w1, "W1"), (b1, "B1"), (w2, "W2"), (b2, "B2")]],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lightos-notebook")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, Path(__file__).with_name("tiny_mlp.onnx"))
