"""Corner cases that must not crash the interpreter."""
import subprocess
import sys
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import lightos_accelerated as la
from lightos_accelerated import ExecutionGraph, GraphOp, OpType, PowerGovernor, custom_op

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def neg_graph(device):
    g = ExecutionGraph(device)
    x = g.add_tensor([None, 3])
    y = g.add_tensor([None, 3])
    g.add_op(GraphOp(OpType.NEG, "neg", inputs=[x], outputs=[y]))
    return g, x, y


def test_custom_op_may_run_another_graph(device, rng):
    inner, ix, iy = neg_graph(device)

    @custom_op
    def nested(a: np.ndarray) -> np.ndarray:
        return inner.execute({ix: np.ascontiguousarray(a)})[iy] * 2

    g = ExecutionGraph(device)
    x = g.add_tensor([4, 3])
    y = g.add_tensor([4, 3])
    g.add_op(GraphOp(OpType.CUSTOM, "outer", inputs=[x], outputs=[y], custom_fn=nested))
    X = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(g.execute({x: X})[y], -2 * X)


def test_exceptions_from_many_threads_reach_their_own_callers(device):
    class Mine(Exception):
        pass

    @custom_op
    def maybe_raise(a: np.ndarray) -> np.ndarray:
        if a[0] < 0:
            raise Mine(float(a[0]))
        return a

    g = ExecutionGraph(device)
    x = g.add_tensor([1])
    y = g.add_tensor([1])
    g.add_op(GraphOp(OpType.CUSTOM, "m", inputs=[x], outputs=[y], custom_fn=maybe_raise))

    def job(i):
        v = np.array([i - 50], np.float32)
        try:
            return ("ok", float(g.execute({x: v})[y][0]))
        except Mine as e:
            return ("raised", e.args[0])

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(job, range(100)))
    for i, (kind, val) in enumerate(results):
        assert kind == ("raised" if i < 50 else "ok") and val == i - 50


def test_governor_job_reraises_custom_op_exception(device):
    @custom_op
    def bad(a: np.ndarray) -> np.ndarray:
        raise ZeroDivisionError("in a job")

    g = ExecutionGraph(device)
    x = g.add_tensor([2])
    y = g.add_tensor([2])
    g.add_op(GraphOp(OpType.CUSTOM, "bad", inputs=[x], outputs=[y], custom_fn=bad))
    gov = PowerGovernor(device)
    job = gov.submit_job(g, {x: np.zeros(2, np.float32)})
    with pytest.raises(ZeroDivisionError, match="in a job"):
        job.result(timeout=30)
    gov.shutdown()


def test_use_after_close(device):
    g, x, y = neg_graph(device)
    g.execute({x: np.zeros((1, 3), np.float32)})
    s = g._session()
    g.close()
    with pytest.raises(la.InvalidHandleError):
        s.run({x: np.zeros((1, 3), np.float32)})
    # The graph itself rebuilds on demand.
    np.testing.assert_array_equal(g.execute({x: np.ones((1, 3), np.float32)})[y], -np.ones((1, 3), np.float32))


def test_interpreter_exit_with_live_outputs():
    code = (
        "import numpy as np, lightos_accelerated as la\n"
        "g = la.ExecutionGraph(); x = g.add_tensor([1000]); y = g.add_tensor([1000])\n"
        "g.add_op(la.GraphOp(la.OpType.EXP, 'e', inputs=[x], outputs=[y]))\n"
        "keep = [g.execute({x: np.zeros(1000, np.float32)})[y] for _ in range(50)]\n"
        "import sys; sys.modules['__main__'].cycle = keep\n"
        "print('ok', float(keep[-1][0]))\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok 1.0"


def test_zero_size_tensors(device):
    g, x, y = neg_graph(device)
    out = g.execute({x: np.zeros((0, 3), np.float32)})[y]
    assert out.shape == (0, 3)
