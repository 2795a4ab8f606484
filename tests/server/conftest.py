"""Fixtures: a model repository made with onnx.helper and a `lightos serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LIGHTOS = ROOT / "bin" / "lightos"
IN_DIM, HIDDEN, OUT_DIM = 13, 32, 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_mlp(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """A 2-layer MLP with a dynamic batch, and its weights for the NumPy reference."""
    w = {
        "w1": rng.standard_normal((IN_DIM, HIDDEN)).astype(np.float32),
        "b1": rng.standard_normal(HIDDEN).astype(np.float32),
        "w2": rng.standard_normal((HIDDEN, OUT_DIM)).astype(np.float32),
        "b2": rng.standard_normal(OUT_DIM).astype(np.float32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"], name="fc2"),
        helper.make_node("Add", ["h3", "b2"], ["y"], name="fc2_bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", IN_DIM])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", OUT_DIM])],
        initializer=[numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, w


def reference(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    x64 = x.astype(np.float64)
    h = np.maximum(x64 @ w["w1"] + w["b1"], 0)
    return h @ w["w2"] + w["b2"]


class Served:
    """A running `lightos serve` with its ports and the MLP's weights."""

    def __init__(self, proc: subprocess.Popen[bytes], grpc_port: int, http_port: int,
                 weights: dict[str, np.ndarray], repo: Path) -> None:
        self.proc = proc
        self.grpc_port = grpc_port
        self.http_port = http_port
        self.weights = weights
        self.repo = repo

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"


def start_server(repo: Path, grpc_port: int, http_port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(LIGHTOS), "serve", "--grpc-port", str(grpc_port), "--http-port", str(http_port),
         "--host", "127.0.0.1", "--model-repository", str(repo)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"lightos serve exited with {proc.returncode}:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", http_port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("lightos serve did not start within 30 s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not LIGHTOS.exists():
        pytest.skip(f"{LIGHTOS} is not built (make setup builds it)")
    repo = tmp_path_factory.mktemp("repo")
    model, weights = make_mlp(np.random.default_rng(7))
    for name, config in {
        "mlp": '{"max_batch_size": 64}',
        "mlp_batched": '{"max_batch_size": 64, "dynamic_batching": {}}',
    }.items():
        (repo / name / "1").mkdir(parents=True)
        onnx.save(model, str(repo / name / "1" / "model.onnx"))
        (repo / name / "config.json").write_text(config)
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "1" / "model.onnx").write_bytes(b"\x08\x07garbage")
    grpc_port, http_port = free_port(), free_port()
    proc = start_server(repo, grpc_port, http_port)
    yield Served(proc, grpc_port, http_port, weights, repo)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
