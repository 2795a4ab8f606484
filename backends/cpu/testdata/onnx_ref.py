"""Run one ONNX operator with onnx.reference.ReferenceEvaluator, for the CPU
backend's cross-check test (TestAgainstONNXReference).

Usage: python onnx_ref.py DIR... Each DIR/case.json names the operator, opset, attributes,
inputs (raw little-endian files with shape and dtype, or null when omitted) and the
number of outputs; the outputs are written as DIR/out<i>.bin plus DIR/out.json.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import helper, TensorProto
from onnx.reference import ReferenceEvaluator

DTYPES = {"float32": (np.float32, TensorProto.FLOAT), "float64": (np.float64, TensorProto.DOUBLE),
          "int64": (np.int64, TensorProto.INT64), "int32": (np.int32, TensorProto.INT32),
          "uint8": (np.uint8, TensorProto.UINT8), "int8": (np.int8, TensorProto.INT8)}


def main(d):
    with open(os.path.join(d, "case.json")) as f:
        case = json.load(f)
    names, feeds, vis = [], {}, []
    for i, inp in enumerate(case["inputs"]):
        if inp is None:
            names.append("")
            continue
        np_t, onnx_t = DTYPES[inp["dtype"]]
        a = np.fromfile(os.path.join(d, inp["file"]), dtype=np_t).reshape(inp["shape"])
        name = f"in{i}"
        names.append(name)
        feeds[name] = a
        vis.append(helper.make_tensor_value_info(name, onnx_t, inp["shape"]))
    outs = [f"out{i}" for i in range(case["n_outputs"])]
    node = helper.make_node(case["op"], names, outs, **case["attrs"])
    out_vis = [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outs]
    graph = helper.make_graph([node], "g", vis, out_vis)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", case["opset"])])
    results = ReferenceEvaluator(model).run(None, feeds)
    meta = []
    for i, r in enumerate(results):
        r = np.asarray(r)
        r.tofile(os.path.join(d, f"out{i}.bin"))
        meta.append({"shape": list(r.shape), "dtype": str(r.dtype)})
    with open(os.path.join(d, "out.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    for d in sys.argv[1:]:
        try:
            main(d)
        except Exception as e:  # reported per case: the Go test names it
            with open(os.path.join(d, "error.txt"), "w") as f:
                f.write(repr(e))
