"""Run one ONNX operator with onnx.reference.ReferenceEvaluator (or, where a case
says "engine": "onnxruntime", with ONNX Runtime), for the CPU backend's cross-check
test (TestAgainstONNXReference).

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
    attrs = {}
    for k, v in case["attrs"].items():  # {"i": 1}, {"f": 2.0}, {"ints": [..]}, {"s": ".."}
        if "f" in v:
            attrs[k] = float(v["f"])
        elif "i" in v:
            attrs[k] = int(v["i"])
        elif "ints" in v:
            attrs[k] = [int(x) for x in v["ints"]]
        else:
            attrs[k] = v["s"]
    node = helper.make_node(case["op"], names, outs, **attrs)
    out_type = case.get("out_types") or []
    out_vis = [helper.make_tensor_value_info(o, DTYPES[out_type[i]][1] if i < len(out_type) else TensorProto.UNDEFINED, None)
               for i, o in enumerate(outs)]
    graph = helper.make_graph([node], "g", vis, out_vis)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", case["opset"])])
    if case.get("engine") == "onnxruntime":
        import onnxruntime as ort
        model.ir_version = min(model.ir_version, 10)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        results = sess.run(None, feeds)
    else:
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
