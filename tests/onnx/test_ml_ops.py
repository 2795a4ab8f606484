"""ai.onnx.ml operators (what scikit-learn exporters emit) against ONNX Runtime.

Models are built with onnx.helper in the shapes skl2onnx produces (LinearClassifier with
post_transform, TreeEnsembleRegressor/Classifier, Scaler, Normalizer) and run by
`lightos run`; labels must match exactly and scores within 1e-5.
"""
import numpy as np
import pytest
from onnx import TensorProto, helper

ort = pytest.importorskip("onnxruntime")

from conftest import run_lightos  # noqa: E402

F = 5


def save(tmp_path, name, nodes, outputs, inputs=None):
    inputs = inputs or [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", F])]
    g = helper.make_graph(nodes, name, inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    path = str(tmp_path / f"{name}.onnx")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def random_trees(rng, n_trees, depth, leaf_value):
    """Complete binary trees over F features; leaf_value(tree, leaf) -> [(target, weight)]."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                         "nodes_truenodeids", "nodes_falsenodeids"]}
    targets = {"treeids": [], "nodeids": [], "ids": [], "weights": []}
    for t in range(n_trees):
        n_nodes = 2 ** (depth + 1) - 1
        for i in range(n_nodes):
            leaf = i >= 2 ** depth - 1
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(i)
            a["nodes_featureids"].append(0 if leaf else int(rng.integers(0, F)))
            a["nodes_values"].append(0.0 if leaf else float(rng.standard_normal()))
            a["nodes_modes"].append("LEAF" if leaf else str(rng.choice(["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT"])))
            a["nodes_truenodeids"].append(0 if leaf else 2 * i + 1)
            a["nodes_falsenodeids"].append(0 if leaf else 2 * i + 2)
            if leaf:
                for target, w in leaf_value(t, i):
                    targets["treeids"].append(t)
                    targets["nodeids"].append(i)
                    targets["ids"].append(target)
                    targets["weights"].append(w)
    return a, targets


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@case
def linear_classifier_multiclass(rng, tmp_path):
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            coefficients=rng.standard_normal(3 * F).tolist(), intercepts=rng.standard_normal(3).tolist(),
                            classlabels_ints=[10, 20, 30], post_transform="SOFTMAX")
    return save(tmp_path, "lc", [node], [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                                         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])])


@case
def linear_regressor(rng, tmp_path):
    node = helper.make_node("LinearRegressor", ["X"], ["Y"], domain="ai.onnx.ml", targets=2,
                            coefficients=rng.standard_normal(2 * F).tolist(), intercepts=[0.5, -1.0])
    return save(tmp_path, "lr", [node], [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 2])])


@case
def scaler_normalizer(rng, tmp_path):
    nodes = [helper.make_node("Scaler", ["X"], ["S"], domain="ai.onnx.ml", offset=rng.standard_normal(F).tolist(),
                              scale=rng.uniform(0.5, 2, F).tolist()),
             helper.make_node("Normalizer", ["S"], ["Y"], domain="ai.onnx.ml", norm="L2")]
    return save(tmp_path, "sn", nodes, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", F])])


@case
def tree_regressor(rng, tmp_path):
    a, t = random_trees(rng, 4, 3, lambda tree, leaf: [(0, float(rng.standard_normal()))])
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1,
                            aggregate_function="AVERAGE", base_values=[0.25], target_treeids=t["treeids"],
                            target_nodeids=t["nodeids"], target_ids=t["ids"], target_weights=t["weights"], **a)
    return save(tmp_path, "tr", [node], [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])])


@case
def tree_classifier(rng, tmp_path):
    def leaf(tree, i):
        p = rng.dirichlet(np.ones(3))
        return [(c, float(p[c]) / 4) for c in range(3)]

    a, t = random_trees(rng, 4, 3, leaf)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probs"], domain="ai.onnx.ml",
                            classlabels_int64s=[0, 1, 2], class_treeids=t["treeids"], class_nodeids=t["nodeids"],
                            class_ids=t["ids"], class_weights=t["weights"], **a)
    return save(tmp_path, "tc", [node], [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                                         helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])])


@pytest.mark.parametrize("name", sorted(CASES))
def test_ml_op_matches_onnxruntime(name, lightos_bin, tmp_path):
    rng = np.random.default_rng(3)
    path = CASES[name](rng, tmp_path)
    x = rng.standard_normal((37, F)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    want = sess.run(None, {"X": x})
    got, _ = run_lightos(lightos_bin, path, {"X": x}, str(tmp_path), optimize=False)
    for meta, ref in zip(sess.get_outputs(), want):
        out = got[meta.name]
        assert out.shape == ref.shape, (meta.name, out.shape, ref.shape)
        if ref.dtype == np.int64:
            np.testing.assert_array_equal(out, ref)
        else:
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_zipmap_probabilities_come_out_as_a_tensor(lightos_bin, tmp_path):
    """A scikit-learn-style classifier ending in ZipMap: lightos run gives the
    probabilities as an [N, classes] tensor in label order; ORT gives a list of maps."""
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("LinearClassifier", ["X"], ["label", "probs"], domain="ai.onnx.ml",
                              coefficients=rng.standard_normal(3 * F).tolist(), intercepts=[0.1, 0.2, 0.3],
                              classlabels_ints=[0, 1, 2], post_transform="SOFTMAX"),
             helper.make_node("ZipMap", ["probs"], ["output_probability"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2])]
    seq_map = helper.make_sequence_type_proto(helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
               helper.make_value_info("output_probability", seq_map)]
    path = save(tmp_path, "zipmap", nodes, outputs)
    x = rng.standard_normal((9, F)).astype(np.float32)
    labels, maps = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"X": x})
    got, _ = run_lightos(lightos_bin, path, {"X": x}, str(tmp_path), optimize=False)
    np.testing.assert_array_equal(got["label"], labels)
    want = np.array([[m[k] for k in (0, 1, 2)] for m in maps], np.float32)
    np.testing.assert_allclose(got["output_probability"], want, rtol=1e-5, atol=1e-6)
