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


def test_governor_jobs(device, rng):
    g = ExecutionGraph(device)
    x = g.add_tensor([None, 5])
    y = g.add_tensor([None, 5])
    g.add_op(GraphOp(OpType.SIGMOID, "s", inputs=[x], outputs=[y]))
    gov = PowerGovernor(device, workers=2)
    try:
        Xs = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(10)]
        jobs = [gov.submit_job(g, {x: X}, priority=i % 3) for i, X in enumerate(Xs)]
        for X, j in zip(Xs, jobs):
            np.testing.assert_allclose(j.result(timeout=30)[y], 1 / (1 + np.exp(-X)), rtol=1e-5)
            assert j.latency_s is not None and j.telemetry_before is not None
    finally:
        gov.shutdown()
