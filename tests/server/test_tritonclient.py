"""The server against unchanged tritonclient (gRPC and HTTP), grpc health, and curl."""

from __future__ import annotations

import concurrent.futures
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import IN_DIM, OUT_DIM, Served, free_port, reference, start_server

grpcclient = pytest.importorskip("tritonclient.grpc")
httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

RTOL = 1e-4


def check(out: np.ndarray, x: np.ndarray, served: Served) -> None:
    want = reference(x, served.weights)
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=RTOL, atol=RTOL * np.abs(want).max())


@pytest.mark.parametrize("batch", [1, 7])
def test_grpc_infer(served: Served, batch: int) -> None:
    client = grpcclient.InferenceServerClient(served.grpc_url)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("mlp")
    meta = client.get_model_metadata("mlp")
    assert meta.inputs[0].name == "x" and list(meta.inputs[0].shape) == [-1, IN_DIM]
    x = np.random.default_rng(batch).standard_normal((batch, IN_DIM)).astype(np.float32)
    inp = grpcclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    res = client.infer("mlp", [inp], outputs=[grpcclient.InferRequestedOutput("y")])
    check(res.as_numpy("y"), x, served)


@pytest.mark.parametrize("binary", [True, False])
def test_http_infer(served: Served, binary: bool) -> None:
    client = httpclient.InferenceServerClient(served.http_url)
    assert client.is_server_live() and client.is_model_ready("mlp")
    x = np.random.default_rng(3).standard_normal((5, IN_DIM)).astype(np.float32)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = httpclient.InferRequestedOutput("y", binary_data=binary)
    res = client.infer("mlp", [inp], outputs=[out])
    check(res.as_numpy("y"), x, served)


def test_dynamic_batching_under_concurrency(served: Served) -> None:
    client = grpcclient.InferenceServerClient(served.grpc_url)
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((1, IN_DIM)).astype(np.float32) for _ in range(48)]

    def one(x: np.ndarray) -> np.ndarray:
        inp = grpcclient.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        return client.infer("mlp_batched", [inp]).as_numpy("y")

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        outs = list(pool.map(one, xs))
    for x, out in zip(xs, outs):
        check(out, x, served)


def test_bad_requests_get_protocol_errors(served: Served) -> None:
    client = grpcclient.InferenceServerClient(served.grpc_url)
    x = np.zeros((2, IN_DIM + 1), np.float32)
    inp = grpcclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException, match="expected"):
        client.infer("mlp", [inp])
    with pytest.raises(InferenceServerException, match="not loaded"):
        client.infer("nope", [inp])
    x64 = np.zeros((2, IN_DIM), np.float64)
    inp64 = grpcclient.InferInput("x", list(x64.shape), "FP64")
    inp64.set_data_from_numpy(x64)
    with pytest.raises(InferenceServerException, match="datatype FP64"):
        client.infer("mlp", [inp64])
    assert not client.is_model_ready("broken")
    with pytest.raises(InferenceServerException):
        client.load_model("broken")
    # and the server still serves
    ok = np.zeros((1, IN_DIM), np.float32)
    good = grpcclient.InferInput("x", list(ok.shape), "FP32")
    good.set_data_from_numpy(ok)
    check(client.infer("mlp", [good]).as_numpy("y"), ok, served)


def test_repository_api(served: Served) -> None:
    client = grpcclient.InferenceServerClient(served.grpc_url)
    index = {m.name: m.state for m in client.get_model_repository_index().models}
    assert index["mlp"] == "READY" and index["broken"] == "UNAVAILABLE"
    client.unload_model("mlp_batched")
    assert not client.is_model_ready("mlp_batched")
    client.load_model("mlp_batched")
    assert client.is_model_ready("mlp_batched")


def test_grpc_health(served: Served) -> None:
    grpc = pytest.importorskip("grpc")
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

    with grpc.insecure_channel(served.grpc_url) as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_rest_and_metrics(served: Served) -> None:
    base = f"http://{served.http_url}"

    def curl(*args: str) -> str:
        return subprocess.run(["curl", "-sS", "--fail-with-body", *args], check=True,
                              capture_output=True, text=True).stdout

    assert '"name":"lightos"' in curl(f"{base}/v2").replace(" ", "")
    curl(f"{base}/v2/health/ready")
    body = '{"inputs":[{"name":"x","shape":[1,%d],"datatype":"FP32","data":[%s]}]}' % (
        IN_DIM, ",".join(["0.5"] * IN_DIM))
    out = curl("-X", "POST", "-H", "Content-Type: application/json", "-d", body,
               f"{base}/v2/models/mlp/infer")
    assert '"name":"y"' in out.replace(" ", "")
    bad = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                          "-d", "{broken", f"{base}/v2/models/mlp/infer"],
                         capture_output=True, text=True).stdout
    assert bad == "400"
    metrics = curl(f"{base}/metrics")
    assert 'lightos_requests_total{model="mlp",outcome="success"}' in metrics
    assert "lightos_request_duration_seconds_bucket" in metrics


def test_sigterm_drains_requests_in_flight(served: Served) -> None:
    # A second server on the same repository: start a slow stream of requests, send
    # SIGTERM mid-way, and check that every request that was accepted completed.
    grpc_port, http_port = free_port(), free_port()
    proc = start_server(served.repo, grpc_port, http_port)
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
    x = np.ones((64, IN_DIM), np.float32)

    def one(_: int) -> str:
        inp = grpcclient.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        try:
            client.infer("mlp", [inp])
            return "ok"
        except InferenceServerException as e:  # refused after the drain began
            return "refused" if "shutting down" in str(e) or "UNAVAILABLE" in str(e) else str(e)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(200)]
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        results = [f.result() for f in futures]
    assert proc.wait(timeout=30) == 0
    assert results.count("ok") > 0
    assert all(r in ("ok", "refused") or "connect" in r.lower() or "unavailable" in r.lower()
               for r in results), set(results)
