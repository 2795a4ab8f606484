"""Real architectures through the engine, against ONNX Runtime.

Each model (ResNet-50, MobileNetV2, a BERT-style encoder, a GPT-style decoder) is built with
scripts/make_onnx_models.py (onnx.helper, random weights; and, when PyTorch is installed,
exported by torch.onnx from scripts/torch_models.py), run by `lightos run` with and
without the optimizer (which runs the convolution models channels-last; both layouts are
tested at batch 1), and compared with onnxruntime on the same inputs: the largest
absolute difference must be within 1e-4 of the output's scale (its largest magnitude).
"""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import make_onnx_models  # noqa: E402  (scripts/ is on sys.path via conftest)
from conftest import run_lightos  # noqa: E402

TOLERANCE = 1e-4


def feeds_for(name, batch, rng):
    if name in ("resnet50", "mobilenetv2"):
        return {"input": rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)}
    if name == "bert":
        ids = rng.integers(0, 8000, (batch, 128)).astype(np.int64)
        mask = np.ones((batch, 128), np.int64)
        mask[:, 100:] = 0  # padded tail: exercises the additive mask
        return {"input_ids": ids, "attention_mask": mask}
    return {"input_ids": rng.integers(0, 8000, (batch, 64)).astype(np.int64)}


@pytest.fixture(scope="module")
def built(model_dir):
    cache = {}

    def get(name, use_torch=False):
        if (name, use_torch) not in cache:
            cache[name, use_torch] = make_onnx_models.build(name, model_dir, use_torch=use_torch)
        return cache[name, use_torch]

    return get


@pytest.mark.parametrize("optimize", [False, True], ids=["plain", "optimized"])
@pytest.mark.parametrize("name", ["resnet50", "mobilenetv2", "bert", "gpt"])
@pytest.mark.parametrize("source", ["helper", "torch"])
def test_matches_onnxruntime(source, name, optimize, built, lightos_bin, tmp_path):
    if source == "torch":
        pytest.importorskip("torch", reason="PyTorch is not installed: the torch.onnx export path is skipped")
    path = built(name, use_torch=source == "torch")
    rng = np.random.default_rng(7)
    feeds = feeds_for(name, 2, rng)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    want = sess.run(None, feeds)
    got, _ = run_lightos(lightos_bin, path, feeds, str(tmp_path), optimize=optimize)
    for meta, ref in zip(sess.get_outputs(), want):
        out = got[meta.name]
        assert out.shape == ref.shape, f"{name} {meta.name}: shape {out.shape}, expected {ref.shape}"
        scale = float(np.abs(ref).max())
        err = float(np.abs(out.astype(np.float64) - ref).max())
        assert err <= TOLERANCE * scale, f"{name} {meta.name}: max abs error {err:.3g} > {TOLERANCE} x scale {scale:.3g}"


@pytest.mark.parametrize("channels_last", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("name", ["resnet50", "mobilenetv2"])
def test_conv_layouts_match_onnxruntime(name, channels_last, built, lightos_bin, tmp_path):
    """The optimized CPU path of the convolution models in each layout, batch 1:
    channels-last (NhwcConv, the default of `lightos run`) and NCHW
    (--channels-last=false); the profile shows which one ran."""
    path = built(name)
    feeds = feeds_for(name, 1, np.random.default_rng(11))
    want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    flags = ["--profile", f"--channels-last={'true' if channels_last else 'false'}"]
    got, stdout = run_lightos(lightos_bin, path, feeds, str(tmp_path), extra=flags)
    assert ("NhwcConv" in stdout) == channels_last, stdout
    out = next(iter(got.values()))
    assert out.shape == want.shape
    scale = float(np.abs(want).max())
    err = float(np.abs(out.astype(np.float64) - want).max())
    assert err <= TOLERANCE * scale, f"{name}: max abs error {err:.3g} > {TOLERANCE} x scale {scale:.3g}"


def test_resnet50_conv_routes_match_onnxruntime(built, lightos_bin, tmp_path):
    """ResNet-50's 3x3 layers through each route the CPU may take, batch 2: by
    default the first run (the only one here) writes each 3x3 stride-1 layer last
    through Winograd F(4x4, 3x3) (up to 256 channels; F(2x2, 3x3) above) while
    timing the routes; --no-winograd4 makes that F(2x2, 3x3), --no-winograd the
    direct kernel. Each output is checked against onnxruntime, and the three must
    differ in their rounding (else a flag did not change the route)."""
    path = built("resnet50")
    feeds = feeds_for("resnet50", 2, np.random.default_rng(13))
    want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    scale = float(np.abs(want).max())
    outs = {}
    for flag in ["", "--no-winograd4", "--no-winograd"]:
        work = tmp_path / (flag.strip("-") or "default")
        work.mkdir()
        got, _ = run_lightos(lightos_bin, path, feeds, str(work), extra=[flag] if flag else [])
        out = next(iter(got.values()))
        err = float(np.abs(out.astype(np.float64) - want).max())
        assert err <= TOLERANCE * scale, f"{flag or 'default'}: max abs error {err:.3g} > {TOLERANCE} x scale {scale:.3g}"
        outs[flag] = out
    flags = list(outs)
    for a in range(len(flags)):
        for b in range(a + 1, len(flags)):
            assert not np.array_equal(outs[flags[a]], outs[flags[b]]), f"{flags[a]!r} and {flags[b]!r} gave identical outputs"


def test_model_files_are_valid(built):
    for name in make_onnx_models.MODELS:
        onnx.checker.check_model(built(name))
