#!/usr/bin/env python3
"""Build the ONNX models the architecture tests and benchmarks use, with random weights.

    python scripts/make_onnx_models.py OUT_DIR [--models resnet50,mobilenetv2,bert,gpt] [--seed 0]

Every model is built with onnx.helper (no PyTorch needed), written as OUT_DIR/<name>.onnx and
checked with onnx.checker. With --torch (PyTorch installed) the same architectures are
exported by torch.onnx from scripts/torch_models.py instead, as OUT_DIR/<name>_torch.onnx. The graphs follow what PyTorch's exporter emits for the same
architectures (Conv + BatchNormalization + Relu, MatMul + Add, Reshape/Transpose for heads,
the erf form of GELU, LayerNormalization at opset 17) so that the engine's loader and fusion
passes see realistic patterns. Weights are scaled (He / 1/sqrt(fan_in)) so activations stay
in a sane range through 50 layers. Big model files are generated, never committed.

  resnet50     input [N,3,224,224] float32 -> logits [N,1000]
  mobilenetv2  input [N,3,224,224] float32 -> logits [N,1000]
  bert         input_ids, attention_mask [N,128] int64 -> hidden [N,128,512]
               (6 layers, hidden 512, 8 heads, FFN 2048, post-LN)
  gpt          input_ids [N,64] int64 -> logits [N,64,8000]
               (6 layers, hidden 512, 8 heads, causal mask, pre-LN, tied-free LM head)
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Builder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base, array):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def op(self, op_type, inputs, base=None, n_out=1, **attrs):
        base = base or op_type.lower()
        outs = [self.name(base) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def weight(self, shape, fan_in, gain=2.0):
        return (self.rng.standard_normal(shape) * np.sqrt(gain / fan_in)).astype(np.float32)

    def model(self, name, inputs, outputs):
        g = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lightos-make_onnx_models")
        m.ir_version = 8
        return m

    # --- CNN pieces -----------------------------------------------------------------
    def conv_bn(self, x, cin, cout, k, stride=1, group=1, act="relu"):
        w = self.const("conv.w", self.weight((cout, cin // group, k, k), cin // group * k * k))
        y = self.op("Conv", [x, w], "conv", kernel_shape=[k, k], strides=[stride, stride],
                    pads=[k // 2] * 4, group=group)
        r = self.rng
        scale = self.const("bn.scale", r.uniform(0.5, 1.0, cout).astype(np.float32))
        bias = self.const("bn.bias", r.uniform(-0.1, 0.1, cout).astype(np.float32))
        mean = self.const("bn.mean", r.uniform(-0.1, 0.1, cout).astype(np.float32))
        var = self.const("bn.var", r.uniform(0.5, 1.5, cout).astype(np.float32))
        y = self.op("BatchNormalization", [y, scale, bias, mean, var], "bn", epsilon=1e-5)
        if act == "relu":
            y = self.op("Relu", [y])
        elif act == "relu6":
            lo = self.const("clip.min", np.array(0, np.float32))
            hi = self.const("clip.max", np.array(6, np.float32))
            y = self.op("Clip", [y, lo, hi])
        return y

    def head(self, x, cin, classes=1000):
        y = self.op("GlobalAveragePool", [x])
        y = self.op("Flatten", [y], axis=1)
        w = self.const("fc.w", self.weight((classes, cin), cin, 1.0))
        b = self.const("fc.b", np.zeros(classes, np.float32))
        return self.op("Gemm", [y, w, b], "logits", transB=1)

    # --- transformer pieces -----------------------------------------------------------
    def linear(self, x, cin, cout):
        w = self.const("linear.w", self.weight((cin, cout), cin, 1.0))
        b = self.const("linear.b", (self.rng.standard_normal(cout) * 0.02).astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def layer_norm(self, x, d):
        g = self.const("ln.g", np.ones(d, np.float32))
        b = self.const("ln.b", np.zeros(d, np.float32))
        return self.op("LayerNormalization", [x, g, b], "ln", axis=-1, epsilon=1e-5)

    def gelu(self, x):
        # x * 0.5 * (1 + erf(x / sqrt(2))), as torch.onnx emits it
        s = self.const("gelu.sqrt2", np.array(np.sqrt(2.0), np.float32))
        one = self.const("gelu.one", np.array(1.0, np.float32))
        half = self.const("gelu.half", np.array(0.5, np.float32))
        e = self.op("Erf", [self.op("Div", [x, s])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, one])]), half])

    def attention(self, x, d, heads, mask):
        hd = d // heads
        split = self.const("shape.heads", np.array([0, 0, heads, hd], np.int64))
        merge = self.const("shape.merge", np.array([0, 0, d], np.int64))

        def heads_of(t, perm):
            return self.op("Transpose", [self.op("Reshape", [t, split])], perm=perm)

        q = heads_of(self.linear(x, d, d), [0, 2, 1, 3])
        k = heads_of(self.linear(x, d, d), [0, 2, 3, 1])
        v = heads_of(self.linear(x, d, d), [0, 2, 1, 3])
        scale = self.const("attn.scale", np.array(np.sqrt(hd), np.float32))
        s = self.op("Div", [self.op("MatMul", [q, k]), scale])
        s = self.op("Add", [s, mask])
        p = self.op("Softmax", [s], axis=-1)
        o = self.op("Transpose", [self.op("MatMul", [p, v])], perm=[0, 2, 1, 3])
        return self.linear(self.op("Reshape", [o, merge]), d, d)


def resnet50(seed):
    b = Builder(seed)
    x = b.conv_bn("input", 3, 64, 7, 2)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for i, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)]):
        for j in range(blocks):
            stride = 2 if j == 0 and i > 0 else 1
            y = b.conv_bn(x, cin, width, 1)
            y = b.conv_bn(y, width, width, 3, stride)
            y = b.conv_bn(y, width, width * 4, 1, act=None)
            sc = x
            if j == 0:
                sc = b.conv_bn(x, cin, width * 4, 1, stride, act=None)
            x = b.op("Relu", [b.op("Add", [y, sc])])
            cin = width * 4
    out = b.head(x, cin)
    return b.model("resnet50",
                   [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
                   [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 1000])])


def mobilenetv2(seed):
    b = Builder(seed)
    x = b.conv_bn("input", 3, 32, 3, 2, act="relu6")
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x
            if t != 1:
                y = b.conv_bn(y, cin, hidden, 1, act="relu6")
            y = b.conv_bn(y, hidden, hidden, 3, stride, group=hidden, act="relu6")
            y = b.conv_bn(y, hidden, c, 1, act=None)
            if stride == 1 and cin == c:
                y = b.op("Add", [x, y])
            x, cin = y, c
    x = b.conv_bn(x, cin, 1280, 1, act="relu6")
    out = b.head(x, 1280)
    return b.model("mobilenetv2",
                   [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
                   [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 1000])])


def bert(seed, layers=6, d=512, heads=8, ffn=2048, seq=128, vocab=8000):
    b = Builder(seed)
    tok = b.const("emb.tok", (b.rng.standard_normal((vocab, d)) * 0.5).astype(np.float32))
    pos = b.const("emb.pos", (b.rng.standard_normal((seq, d)) * 0.5).astype(np.float32))
    x = b.op("Add", [b.op("Gather", [tok, "input_ids"], axis=0), pos])
    x = b.layer_norm(x, d)
    # additive mask [N,1,1,S]: 0 where attended, -10000 where padded
    m = b.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    one = b.const("mask.one", np.array(1.0, np.float32))
    big = b.const("mask.big", np.array(-10000.0, np.float32))
    m = b.op("Mul", [b.op("Sub", [one, m]), big])
    axes = b.const("mask.axes", np.array([1, 2], np.int64))
    mask = b.op("Unsqueeze", [m, axes])
    for _ in range(layers):
        a = b.attention(x, d, heads, mask)
        x = b.layer_norm(b.op("Add", [x, a]), d)
        f = b.linear(b.gelu(b.linear(x, d, ffn)), ffn, d)
        x = b.layer_norm(b.op("Add", [x, f]), d)
    return b.model("bert",
                   [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", seq]),
                    helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", seq])],
                   [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", seq, d])])


def gpt(seed, layers=6, d=512, heads=8, ffn=2048, seq=64, vocab=8000):
    b = Builder(seed)
    tok = b.const("emb.tok", (b.rng.standard_normal((vocab, d)) * 0.5).astype(np.float32))
    pos = b.const("emb.pos", (b.rng.standard_normal((seq, d)) * 0.5).astype(np.float32))
    x = b.op("Add", [b.op("Gather", [tok, "input_ids"], axis=0), pos])
    causal = np.triu(np.full((seq, seq), -10000.0, np.float32), k=1).reshape(1, 1, seq, seq)
    mask = b.const("mask.causal", causal)
    for _ in range(layers):
        x = b.op("Add", [x, b.attention(b.layer_norm(x, d), d, heads, mask)])
        x = b.op("Add", [x, b.linear(b.gelu(b.linear(b.layer_norm(x, d), d, ffn)), ffn, d)])
    x = b.layer_norm(x, d)
    w = b.const("lm_head.w", b.weight((d, vocab), d, 1.0))
    out = b.op("MatMul", [x, w], "logits")
    return b.model("gpt",
                   [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", seq])],
                   [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", seq, vocab])])


MODELS = {"resnet50": resnet50, "mobilenetv2": mobilenetv2, "bert": bert, "gpt": gpt}


def build(name, out_dir, seed=0, use_torch=False):
    """Build one model and write it to out_dir/<name>.onnx (out_dir/<name>_torch.onnx
    when exported from PyTorch); return the path."""
    if use_torch:
        import torch_models  # needs torch; scripts/ is on sys.path when run from here

        path = os.path.join(out_dir, name + "_torch.onnx")
        torch_models.export(name, path, seed)
        onnx.checker.check_model(path, full_check=True)
        return path
    m = MODELS[name](seed)
    onnx.checker.check_model(m, full_check=True)
    path = os.path.join(out_dir, name + ".onnx")
    onnx.save(m, path)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch", action="store_true", help="export the PyTorch versions (scripts/torch_models.py) instead")
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    for name in a.models.split(","):
        path = build(name, a.out_dir, a.seed, use_torch=a.torch)
        print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
