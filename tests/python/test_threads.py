"""The GIL is released while the engine runs; concurrent execute() calls are safe."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lightos_accelerated import ExecutionGraph, GraphOp, OpType, PowerGovernor, custom_op
from lightos_accelerated._ext import pyext


def test_go_calls_release_the_gil():
    # While one thread sleeps inside Go, another keeps running Python.
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.02)
    before = counter[0]
    pyext.Sleep(0.2)
    during = counter[0] - before
    stop.set()
    t.join()
    assert during > 1000   # the spinner ran while the main thread was in Go


def test_concurrent_execute_from_threads(device, rng):
    W = rng.standard_normal((48, 33)).astype(np.float32)

    @custom_op
    def halve(a: np.ndarray) -> np.ndarray:
        return a / 2

    g = ExecutionGraph(device)
    x = g.add_tensor([None, 48])
    w = g.add_tensor(W.shape, data=W)
    h = g.add_tensor([None, 33])
    y = g.add_tensor([None, 33])
    g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[x, w], outputs=[h]))
    g.add_op(GraphOp(OpType.CUSTOM, "half", inputs=[h], outputs=[y], custom_fn=halve))
    g.add_op(GraphOp(OpType.RELU, "relu", inputs=[y], outputs=[y]))
    g.optimize()
    inputs = [rng.standard_normal((1 + i % 9, 48)).astype(np.float32) for i in range(64)]

    def job(X):
        return g.execute({x: X})[y]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(job, inputs))
    for X, got in zip(inputs, results):
        np.testing.assert_allclose(got, np.maximum((X.astype(np.float64) @ W) / 2, 0), rtol=1e-4, atol=1e-4)


def test_governor_jobs_on_the_cpu(device, rng):
    @custom_op
    def plus_one(a: np.ndarray) -> np.ndarray:
        return a + 1

    g = ExecutionGraph(device)
    x = g.add_tensor([None, 5])
    h = g.add_tensor([None, 5])
    y = g.add_tensor([None, 5])
    g.add_op(GraphOp(OpType.SIGMOID, "s", inputs=[x], outputs=[h]))
    g.add_op(GraphOp(OpType.CUSTOM, "p1", inputs=[h], outputs=[y], custom_fn=plus_one))
    gov = PowerGovernor(device)
    Xs = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(10)]
    jobs = [gov.submit_job(g, {x: X}, priority=i % 3) for i, X in enumerate(Xs)]
    for X, j in zip(Xs, jobs):
        # runs on the governor's goroutines: the Python custom op is called from there
        np.testing.assert_allclose(j.result(timeout=60)[y], 1 / (1 + np.exp(-X)) + 1, rtol=1e-5)
        info = j.info()
        assert info["status"] == "done" and info["device"]
    assert gov.metrics()["completed"] == 10
    gov.shutdown()


def test_governor_over_simulated_devices(rng):
    from lightos_accelerated import LightDevice
    devs = [LightDevice.simulated("h100", i, cooling=1.0 + 0.3 * i) for i in range(3)]
    assert all(d.get_properties().simulated for d in devs)
    assert all(d.get_temperature() is not None for d in devs)
    g = ExecutionGraph(devs[0])
    W = rng.standard_normal((64, 64)).astype(np.float32)
    x = g.add_tensor([None, 64])
    w = g.add_tensor(W.shape, data=W)
    y = g.add_tensor([None, 64])
    g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[x, w], outputs=[y]))
    gov = PowerGovernor(devices=devs, policy="coolest-first")
    X = rng.standard_normal((8, 64)).astype(np.float32)
    jobs = [gov.submit_job(g, {x: X}) for _ in range(6)]
    for j in jobs:
        np.testing.assert_allclose(j.result()[y], X @ W, rtol=1e-4, atol=1e-4)
    m = gov.metrics()
    assert m["virtual"] and m["completed"] == 6
    assert len({j.device for j in jobs}) >= 1
