"""ModelLoader.load_torchscript on traced PyTorch archives (testdata/torchscript, made by
scripts/make_torchscript_models.py), against the outputs PyTorch computed."""

from pathlib import Path

import numpy as np
import pytest

from lightos_accelerated import ModelLoader

DATA = Path(__file__).resolve().parents[2] / "testdata" / "torchscript"


@pytest.mark.parametrize("name", ["mlp", "cnn", "encoder", "gpt"])
def test_traced_model_matches_pytorch(name: str) -> None:
    g = ModelLoader.load_torchscript(DATA / f"{name}.pt")
    x = np.load(DATA / f"{name}.input.npy")
    want = np.load(DATA / f"{name}.output.npy")
    out = g.execute({g.inputs[0].name: x})
    got = out[g.outputs[0].name]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
