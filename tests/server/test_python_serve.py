"""`python -m lightos_accelerated.serve`: the server inside Python, with Python custom ops
(pyserve_ops.py) serving the unknown nodes of ONNX models, against unchanged tritonclient."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import free_port

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

pytest.importorskip("lightos_accelerated._ext.pyext", reason="the extension is not built (make pyext)")
grpcclient = pytest.importorskip("tritonclient.grpc")
httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

HERE = Path(__file__).resolve().parent
OPS = HERE / "pyserve_ops.py"
IN_DIM, HID = 7, 5


def swish_model(w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    """x @ w -> SwishPy (custom) -> + b = y, and RowNorm (custom, declared shape [N, 1]) of
    the Swish output = n. The custom nodes are in a domain of their own."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
        helper.make_node("SwishPy", ["h"], ["s"], name="swish", domain="com.example"),
        helper.make_node("Add", ["s", "b"], ["y"], name="bias"),
        helper.make_node("RowNorm", ["s"], ["n"], name="norm", domain="com.example"),
    ]
    graph = helper.make_graph(
        nodes, "swish",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", IN_DIM])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", HID]),
         helper.make_tensor_value_info("n", TensorProto.FLOAT, ["batch", 1])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                  helper.make_opsetid("com.example", 1)])


def explode_model() -> onnx.ModelProto:
    """y = Explode(x) + 1, where Explode raises on negative inputs."""
    nodes = [helper.make_node("Explode", ["x"], ["e"], name="explode", domain="com.example"),
             helper.make_node("Add", ["e", "one"], ["y"], name="plus1")]
    graph = helper.make_graph(
        nodes, "explode",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(np.ones(1, np.float32), "one")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                  helper.make_opsetid("com.example", 1)])


def reference(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = x.astype(np.float64) @ w
    s = h / (1 + np.exp(-h))
    return s + b, np.sqrt((s ** 2).sum(axis=1, keepdims=True))


class PyServed:
    def __init__(self, proc: subprocess.Popen[bytes], grpc_port: int, http_port: int) -> None:
        self.proc, self.grpc_port, self.http_port = proc, grpc_port, http_port
        self.grpc_url, self.http_url = f"127.0.0.1:{grpc_port}", f"127.0.0.1:{http_port}"


def start(repo: Path, *extra: str) -> PyServed:
    grpc_port, http_port = free_port(), free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightos_accelerated.serve", "--grpc-port", str(grpc_port),
         "--http-port", str(http_port), "--host", "127.0.0.1", "--model-repository", str(repo),
         "--custom-ops", str(OPS), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"python -m lightos_accelerated.serve exited with {proc.returncode}:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", http_port), timeout=0.2):
                return PyServed(proc, grpc_port, http_port)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("python -m lightos_accelerated.serve did not start within 60 s")


def stop(s: PyServed) -> tuple[int, str]:
    s.proc.send_signal(signal.SIGTERM)
    try:
        rc = s.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        raise
    return rc, s.proc.stdout.read().decode() if s.proc.stdout else ""


@pytest.fixture(scope="module")
def weights() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    return (rng.standard_normal((IN_DIM, HID)).astype(np.float32),
            rng.standard_normal(HID).astype(np.float32))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, weights: tuple[np.ndarray, np.ndarray]) -> Path:
    repo = tmp_path_factory.mktemp("pyrepo")
    for name, model, config in [
        ("swish", swish_model(*weights), '{"max_batch_size": 32}'),
        ("swish_batched", swish_model(*weights), '{"max_batch_size": 32, "dynamic_batching": {}}'),
        ("explode", explode_model(), '{"max_batch_size": 32}'),
    ]:
        (repo / name / "1").mkdir(parents=True)
        onnx.save(model, str(repo / name / "1" / "model.onnx"))
        (repo / name / "config.json").write_text(config)
    return repo


@pytest.fixture(scope="module")
def served(repo: Path) -> Iterator[PyServed]:
    s = start(repo)
    yield s
    if s.proc.poll() is None:
        rc, out = stop(s)
        assert rc == 0, out


def grpc_swish(client, model: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inp = grpcclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    res = client.infer(model, [inp], outputs=[grpcclient.InferRequestedOutput("y"),
                                              grpcclient.InferRequestedOutput("n")])
    return res.as_numpy("y"), res.as_numpy("n")


def close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("batch", [1, 3, 17])
def test_grpc_custom_ops_match_numpy(served: PyServed, weights, batch: int) -> None:
    client = grpcclient.InferenceServerClient(served.grpc_url)
    assert client.is_server_live() and client.is_model_ready("swish")
    meta = client.get_model_metadata("swish")
    assert {o.name for o in meta.outputs} == {"y", "n"}
    x = np.random.default_rng(batch).standard_normal((batch, IN_DIM)).astype(np.float32)
    y, n = grpc_swish(client, "swish", x)
    want_y, want_n = reference(x, *weights)
    close(y, want_y)
    close(n, want_n)


@pytest.mark.parametrize("binary", [True, False])
def test_http_custom_ops_match_numpy(served: PyServed, weights, binary: bool) -> None:
    client = httpclient.InferenceServerClient(served.http_url)
    x = np.random.default_rng(5).standard_normal((4, IN_DIM)).astype(np.float32)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    res = client.infer("swish", [inp], outputs=[httpclient.InferRequestedOutput("y", binary_data=binary),
                                                 httpclient.InferRequestedOutput("n", binary_data=binary)])
    want_y, want_n = reference(x, *weights)
    close(res.as_numpy("y"), want_y)
    close(res.as_numpy("n"), want_n)


def test_concurrent_requests_call_python_from_many_threads(served: PyServed, weights) -> None:
    # Dynamic batching and plain runs at once: custom ops are called from several Go
    # threads (each takes the GIL), while the main thread waits in Go.
    client = grpcclient.InferenceServerClient(served.grpc_url)
    rng = np.random.default_rng(9)
    xs = [rng.standard_normal((1 + i % 3, IN_DIM)).astype(np.float32) for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda ix: grpc_swish(client, ("swish", "swish_batched")[ix[0] % 2], ix[1]),
                             enumerate(xs)))
    for x, (y, n) in zip(xs, outs):
        want_y, want_n = reference(x, *weights)
        close(y, want_y)
        close(n, want_n)


def test_raising_custom_op_is_a_protocol_error(served: PyServed, weights) -> None:
    gc = grpcclient.InferenceServerClient(served.grpc_url)
    hc = httpclient.InferenceServerClient(served.http_url)
    bad = np.array([[1, -2, 3], [-4, 5, 6]], np.float32)
    good = np.array([[1, 2, 3]], np.float32)
    for _ in range(3):  # repeatedly: nothing leaks into later requests
        inp = grpcclient.InferInput("x", list(bad.shape), "FP32")
        inp.set_data_from_numpy(bad)
        with pytest.raises(InferenceServerException, match="boom: 2 negative inputs") as e:
            gc.infer("explode", [inp])
        assert e.value.status() == "StatusCode.INTERNAL"
        assert "explode" in e.value.message() and "ValueError" in e.value.message()
        hin = httpclient.InferInput("x", list(bad.shape), "FP32")
        hin.set_data_from_numpy(bad)
        with pytest.raises(InferenceServerException, match="boom") as e:
            hc.infer("explode", [hin])
        assert e.value.status() == "500"
        # The server keeps serving: the same model, and the other ones.
        inp = grpcclient.InferInput("x", list(good.shape), "FP32")
        inp.set_data_from_numpy(good)
        np.testing.assert_array_equal(gc.infer("explode", [inp]).as_numpy("y"), good * 2 + 1)
        x = np.random.default_rng(1).standard_normal((2, IN_DIM)).astype(np.float32)
        close(grpc_swish(gc, "swish", x)[0], reference(x, *weights)[0])
    assert served.proc.poll() is None
    assert gc.is_server_live() and gc.is_server_ready()


def test_sigterm_drains_requests_in_flight(repo: Path, weights) -> None:
    s = start(repo)
    client = grpcclient.InferenceServerClient(s.grpc_url)
    x = np.random.default_rng(2).standard_normal((32, IN_DIM)).astype(np.float32)
    want_y, _ = reference(x, *weights)

    def one(_: int) -> str:
        try:
            y, _ = grpc_swish(client, "swish", x)
        except InferenceServerException as e:  # refused after the drain began
            m = str(e).lower()
            return "refused" if any(w in m for w in ("shutting down", "unavailable", "connect")) else str(e)
        close(y, want_y)
        return "ok"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(150)]
        while not any(f.done() for f in futures):
            time.sleep(0.01)
        s.proc.send_signal(signal.SIGTERM)
        results = [f.result() for f in futures]
    rc = s.proc.wait(timeout=30)
    out = s.proc.stdout.read().decode() if s.proc.stdout else ""
    assert rc == 0, out
    assert "draining" in out and "stopped" in out, out
    assert results.count("ok") > 0
    assert all(r in ("ok", "refused") for r in results), set(results)


def test_sigint_stops(repo: Path) -> None:
    s = start(repo)
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(timeout=30) == 0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lightos_accelerated.serve", *args],
                          capture_output=True, text=True, timeout=60)


def test_flags_are_lightos_serves(tmp_path: Path) -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for flag in ("--custom-ops", "-grpc-port", "-http-port", "-model-repository", "-drain-timeout", "-devices"):
        assert flag in r.stdout + r.stderr, flag
    r = run_cli("--model-repository", str(tmp_path), "--devices", "gpu7")
    assert r.returncode == 2 and "gpu7" in r.stderr
    r = run_cli("--grpc-port", "0", "--http-port", "0")
    assert r.returncode == 2 and "--model-repository is required" in r.stderr
    r = run_cli("--model-repository", str(tmp_path / "missing"), "--grpc-port", "0", "--http-port", "0")
    assert r.returncode == 1 and "is not a folder" in r.stderr
    r = run_cli("--model-repository", str(tmp_path), "--custom-ops", str(tmp_path / "nope.py"))
    assert r.returncode == 2 and "nope.py" in r.stderr


def test_model_with_unregistered_custom_op_is_not_loaded(tmp_path: Path) -> None:
    # Without --custom-ops the Explode model fails to load (logged); the server still runs.
    (tmp_path / "explode" / "1").mkdir(parents=True)
    onnx.save(explode_model(), str(tmp_path / "explode" / "1" / "model.onnx"))
    grpc_port, http_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightos_accelerated.serve", "--grpc-port", str(grpc_port),
         "--http-port", str(http_port), "--host", "127.0.0.1", "--model-repository", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        while True:
            try:
                if client.is_server_live():
                    break
            except InferenceServerException:
                pass
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.1)
        assert not client.is_model_ready("explode")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert rc == 0, out
    assert "Explode" in out, out
