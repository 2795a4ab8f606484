#!/usr/bin/env python3
"""Compare the CPU backend's NN kernels with NumPy in one run.

For each case of bench/nn/main.go that NumPy can express (the matrix products of
a BERT-base layer at sequence 128, batch 1; softmax over the attention scores;
layer normalization), both sides are timed interleaved over several rounds with
1 thread (OPENBLAS_NUM_THREADS=1) and with all threads, so the shared machine's
noise hits both alike. Convolutions have no NumPy anchor; their GFLOP/s are
reported against the FMA peak measured by bench/gemm's peak case.

The MatMul and Conv cases are also timed on ONNX Runtime's CPU provider (a one-node
model with the weights as initializers, intra-op threads 1 or all), the anchor the
convolutions otherwise lack.

Prints a Markdown table: best time per side, GFLOP/s, and LightOS's speed relative
to NumPy and to ONNX Runtime.
Usage: bench/nn/run.sh [--rounds 3] [--reps 3] [--cases softmax,bert-ffn1]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NUMPY_PROG = r"""
import json, sys, time
import numpy as np
case, reps = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
r = lambda *s: rng.standard_normal(s, dtype=np.float32)
if case.startswith("bert-"):
    shapes = {"bert-qkv": ((1, 128, 768), (768, 768)), "bert-ffn1": ((1, 128, 768), (768, 3072)),
              "bert-ffn2": ((1, 128, 3072), (3072, 768)), "bert-scores": ((1, 12, 128, 64), (1, 12, 64, 128)),
              "bert-context": ((1, 12, 128, 128), (1, 12, 128, 64))}[case]
    a, b = r(*shapes[0]), r(*shapes[1])
    out = np.matmul(a, b)
    f = lambda: np.matmul(a, b, out=out)
elif case == "softmax":
    x = r(1, 12, 128, 128); y = np.empty_like(x); m = np.empty((1, 12, 128, 1), np.float32)
    def f():
        np.max(x, axis=-1, keepdims=True, out=m)
        np.subtract(x, m, out=y); np.exp(y, out=y)
        np.sum(y, axis=-1, keepdims=True, out=m); np.divide(y, m, out=y)
elif case == "layernorm":
    x = r(1, 128, 768); g = r(768); b = r(768); y = np.empty_like(x); m = np.empty((1, 128, 1), np.float32)
    v = np.empty_like(m)
    def f():
        np.mean(x, axis=-1, keepdims=True, out=m); np.subtract(x, m, out=y)
        np.mean(np.square(y), axis=-1, keepdims=True, out=v); np.add(v, 1e-5, out=v); np.sqrt(v, out=v)
        np.divide(y, v, out=y); np.multiply(y, g, out=y); np.add(y, b, out=y)
else:
    raise SystemExit("no NumPy anchor for " + case)
for _ in range(2):
    f()
ts = []
for _ in range(reps):
    calls, t0 = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < 0.05:
        f(); calls += 1
    ts.append((time.perf_counter() - t0) / calls)
print(json.dumps({"seconds": ts}))
"""

ORT_PROG = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
from onnx import helper, TensorProto
case, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
r = lambda *s: rng.standard_normal(s, dtype=np.float32)
convs = {"conv-7x7s2": ((1, 3, 224, 224), (64, 3, 7, 7), [3, 3, 3, 3], [2, 2]),
         "conv-3x3-64": ((1, 64, 56, 56), (64, 64, 3, 3), [1, 1, 1, 1], [1, 1]),
         "conv-1x1-256": ((1, 256, 14, 14), (1024, 256, 1, 1), [0, 0, 0, 0], [1, 1])}
mms = {"bert-qkv": ((1, 128, 768), (768, 768)), "bert-ffn1": ((1, 128, 768), (768, 3072)),
       "bert-ffn2": ((1, 128, 3072), (3072, 768))}
if case in convs:
    xs, ws, pads, strides = convs[case]
    w, b = helper.make_tensor("w", TensorProto.FLOAT, ws, r(*ws).ravel()), helper.make_tensor("b", TensorProto.FLOAT, [ws[0]], r(ws[0]))
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=pads, strides=strides)
    inits = [w, b]
elif case in mms:
    xs, ws = mms[case]
    inits = [helper.make_tensor("w", TensorProto.FLOAT, ws, r(*ws).ravel())]
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
else:
    raise SystemExit("no ORT anchor for " + case)
g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, xs)],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
feeds = {"x": r(*xs)}
for _ in range(2):
    sess.run(None, feeds)
ts = []
for _ in range(reps):
    calls, t0 = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < 0.05:
        sess.run(None, feeds); calls += 1
    ts.append((time.perf_counter() - t0) / calls)
print(json.dumps({"seconds": ts}))
"""

ANCHORED = ["bert-qkv", "bert-ffn1", "bert-ffn2", "bert-scores", "bert-context", "softmax", "layernorm"]
UNANCHORED = ["conv-7x7s2", "conv-3x3-64", "conv-1x1-256"]


def numpy_run(case, threads, reps):
    env = dict(os.environ)
    if threads == 1:
        env["OPENBLAS_NUM_THREADS"] = "1"
    else:
        env.pop("OPENBLAS_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", NUMPY_PROG, case, str(reps)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["seconds"]


def ort_run(case, threads, reps):
    """ONNX Runtime (CPU provider, one-node model, graph optimizations on) or None."""
    try:
        out = subprocess.run([sys.executable, "-c", ORT_PROG, case, str(reps), str(threads)],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["seconds"]
    except (subprocess.CalledProcessError, ValueError, KeyError):
        return None


ORT_CASES = ["bert-qkv", "bert-ffn1", "bert-ffn2", "conv-7x7s2", "conv-3x3-64", "conv-1x1-256"]


def go_run(binary, case, threads, reps):
    out = subprocess.run([binary, "-case", case, "-threads", str(threads), "-reps", str(reps)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", default="", help="comma-separated subset of the cases")
    args = ap.parse_args()
    chosen = [c for c in ANCHORED + UNANCHORED if not args.cases or c in args.cases.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "nn-bench")
        subprocess.run(["go", "build", "-o", binary, "./bench/nn"], cwd=ROOT, check=True)
        peak = None
        try:
            gb = os.path.join(tmp, "gemm-bench")
            subprocess.run(["go", "build", "-o", gb, "./bench/gemm"], cwd=ROOT, check=True)
            peak = json.loads(subprocess.run([gb, "-case", "peak"], capture_output=True, text=True,
                                             check=True).stdout)["gflops_per_core"]
        except (subprocess.CalledProcessError, OSError, KeyError, ValueError):
            pass
        cores = os.cpu_count() or 1
        rows = []
        for threads in (1, cores):
            for case in chosen:
                best_go, best_np, best_ort, flops = float("inf"), float("inf"), float("inf"), 0.0
                for _ in range(args.rounds):
                    g = go_run(binary, case, 1 if threads == 1 else 0, args.reps)
                    best_go, flops = min(best_go, g["best_seconds"]), g["flops"]
                    if case in ANCHORED:
                        best_np = min(best_np, min(numpy_run(case, threads, args.reps)))
                    if case in ORT_CASES:
                        o = ort_run(case, threads, args.reps)
                        if o:
                            best_ort = min(best_ort, min(o))
                rows.append((threads, case, best_go, best_np, best_ort, flops))
    print(f"# LightOS NN kernels vs NumPy {__import__('numpy').__version__} ({cores} cores)\n")
    if peak:
        print(f"FMA peak measured on one core: {peak:.1f} GFLOP/s ({peak * cores:.1f} for {cores} cores).\n")
    print("| threads | case | LightOS ms | GFLOP/s | NumPy ms | LightOS / NumPy speed | ORT ms | LightOS / ORT speed |")
    print("|---|---|---|---|---|---|---|---|")
    inf = float("inf")
    for threads, case, g, n, o, flops in rows:
        gf = flops / g / 1e9
        np_cols = "- | -" if n == inf else f"{n * 1e3:.3f} | {n / g:.2f}"
        ort_cols = "- | -" if o == inf else f"{o * 1e3:.3f} | {o / g:.2f}"
        print(f"| {threads} | {case} | {g * 1e3:.3f} | {gf:.1f} | {np_cols} | {ort_cols} |")


if __name__ == "__main__":
    main()
