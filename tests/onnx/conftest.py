"""Fixtures for the ONNX tests: the lightos binary and generated models."""
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


@pytest.fixture(scope="session")
def lightos_bin(tmp_path_factory):
    """The lightos CLI: $LIGHTOS_BIN, or built from this checkout."""
    if os.environ.get("LIGHTOS_BIN"):
        return os.environ["LIGHTOS_BIN"]
    out = str(tmp_path_factory.mktemp("bin") / "lightos")
    subprocess.run(["go", "build", "-o", out, "./cmd/lightos"], cwd=ROOT, check=True)
    return out


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("onnx_models"))


def write_npy_inputs(dirname, feeds):
    """Write feeds as NAME.npy files and return --input flags for lightos run."""
    flags = []
    for name, arr in feeds.items():
        path = os.path.join(dirname, f"in_{name}.npy")
        np.save(path, arr)
        flags += ["--input", f"{name}={path}"]
    return flags


def run_lightos(lightos_bin, model, feeds, workdir, optimize=True, repeat=0, threads=0, extra=()):
    """Run a model with the lightos CLI (extra: more flags); return (outputs by name, stdout)."""
    out_dir = os.path.join(workdir, "out_opt" if optimize else "out_noopt")
    args = [lightos_bin, "run", model, "--save", out_dir, "--repeat", str(repeat), "--threads", str(threads)]
    args += list(extra) + write_npy_inputs(workdir, feeds)
    if not optimize:
        args.append("--no-optimize")
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"lightos run failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    outs = {}
    for f in os.listdir(out_dir):
        if f.endswith(".npy"):
            outs[f[:-4]] = np.load(os.path.join(out_dir, f))
    return outs, p.stdout
