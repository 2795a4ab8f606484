"""Bad input raises specific exceptions and never crashes the interpreter."""
import numpy as np
import pytest

import lightos_accelerated as la
from lightos_accelerated import (ExecutionGraph, GraphOp, OpType, LightDevice, DeviceType, ModelLoader)
from lightos_accelerated._ext import pyext


@pytest.fixture
def neg_graph(device):
    g = ExecutionGraph(device)
    x = g.add_tensor([4, 3], name="x")
    y = g.add_tensor([4, 3], name="y")
    g.add_op(GraphOp(OpType.NEG, "neg", inputs=[x], outputs=[y]))
    return g, x, y


def test_hierarchy():
    for cls in (la.ShapeError, la.DTypeError, la.MissingInputError, la.GraphError, la.ModelFormatError,
                la.DeviceNotFoundError, la.CustomOpError, la.InvalidHandleError, la.InternalError):
        assert issubclass(cls, la.LightOSError)


def test_wrong_shape(neg_graph):
    g, x, y = neg_graph
    with pytest.raises(la.ShapeError, match=r"x.*\[4,3\]|expected"):
        g.execute({x: np.zeros((4, 4), np.float32)})
    with pytest.raises(la.ShapeError, match="rank"):
        g.execute({x: np.zeros((12,), np.float32)})


def test_wrong_dtype(neg_graph):
    g, x, y = neg_graph
    with pytest.raises(la.DTypeError):
        g.execute({x: np.zeros((4, 3), np.complex64)})
    with pytest.raises(la.DTypeError):
        g.execute({x: np.array([["a"] * 3] * 4)})
    # A safe conversion is done once: float64 -> float32.
    np.testing.assert_array_equal(g.execute({x: np.ones((4, 3))})[y], -np.ones((4, 3), np.float32))


def test_missing_and_unknown_feeds(neg_graph):
    g, x, y = neg_graph
    with pytest.raises(la.MissingInputError, match="x"):
        g.execute({})
    with pytest.raises(la.MissingInputError, match="nope"):
        g.execute({"nope": np.zeros((4, 3), np.float32), x: np.zeros((4, 3), np.float32)})


def test_bad_out_arrays(neg_graph):
    g, x, y = neg_graph
    X = np.zeros((4, 3), np.float32)
    with pytest.raises(la.DTypeError):
        g.execute({x: X}, out={y: np.zeros((4, 3), np.float64)})
    with pytest.raises(la.ShapeError):
        g.execute({x: X}, out={y: np.zeros((3, 4), np.float32)})
    with pytest.raises(la.ArgumentError):
        g.execute({x: X}, out={y: np.zeros((4, 6), np.float32)[:, ::2]})
    ro = np.zeros((4, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(la.ArgumentError):
        g.execute({x: X}, out={y: ro})


def test_graph_building_errors(device):
    g = ExecutionGraph(device)
    a = g.add_tensor([2, 3])
    b = g.add_tensor([4, 5])
    c = g.add_tensor([2, 5])
    g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[a, b], outputs=[c]))
    with pytest.raises(la.ShapeError, match="mm"):
        g.execute({a: np.zeros((2, 3), np.float32), b: np.zeros((4, 5), np.float32)})
    with pytest.raises(la.GraphError, match="unknown tensor"):
        g.add_op(GraphOp(OpType.RELU, "r", inputs=[99], outputs=[c]))
    with pytest.raises(la.GraphError, match="already used"):
        g.add_op(GraphOp(OpType.RELU, "mm", inputs=[c], outputs=[c]))
    with pytest.raises(la.GraphError):
        GraphOp("NoSuchOp", "x")
    with pytest.raises(la.ShapeError):
        g.add_tensor([-3, 2])
    with pytest.raises(la.DTypeError):
        g.add_tensor([2], dtype=np.complex128)


def test_declared_shape_checked(device):
    g = ExecutionGraph(device)
    a = g.add_tensor([2, 3])
    y = g.add_tensor([3, 3])  # wrong: relu keeps [2, 3]
    g.add_op(GraphOp(OpType.RELU, "r", inputs=[a], outputs=[y]))
    with pytest.raises(la.ShapeError, match="declared"):
        g.optimize()


def test_unknown_devices():
    with pytest.raises(la.DeviceNotFoundError):
        LightDevice(DeviceType.NVIDIA, 0)
    with pytest.raises(la.DeviceNotFoundError):
        LightDevice(DeviceType.CPU, 7)
    with pytest.raises(ValueError):
        LightDevice("quantum", 0)


def test_nil_and_closed_handles():
    for bad in (0, -1, 123456789):
        with pytest.raises(RuntimeError, match="InvalidHandleError"):
            pyext.SessionRun(bad, 1, 0)
        with pytest.raises(RuntimeError, match="InvalidHandleError"):
            pyext.GraphDescribe(bad)
        with pytest.raises(RuntimeError, match="InvalidHandleError"):
            pyext.BufferRelease(bad)
    h = pyext.DeviceOpen("cpu", 0)
    pyext.Close(h)
    with pytest.raises(RuntimeError, match="InvalidHandleError"):
        pyext.Close(h)
    with pytest.raises(RuntimeError, match="InvalidHandleError"):
        pyext.DeviceInfo(h)


def test_nil_pointers_and_bad_metadata(neg_graph):
    g, x, y = neg_graph
    s = g._session()
    with pytest.raises(RuntimeError, match="ArgumentError"):
        pyext.SessionRun(s.h, 1, 0)
    meta = np.zeros(4 + 12 * 2, np.int64)
    meta[:3] = [1, 0, len(meta)]
    meta[4:8] = [0, 0, 1, 2]   # input 0, nil pointer, float32, rank 2
    meta[8:10] = [4, 3]
    with pytest.raises(RuntimeError, match="nil pointer"):
        pyext.SessionRun(s.h, 1, meta.ctypes.data)
    meta[2] = 5   # capacity too small
    with pytest.raises(RuntimeError, match="ArgumentError"):
        pyext.SessionRun(s.h, 1, meta.ctypes.data)
    with pytest.raises(RuntimeError, match="ArgumentError"):
        pyext.GraphBuild("{not json")
    with pytest.raises(RuntimeError, match="ArgumentError"):
        pyext.GraphBuild('{"consts":[{"name":"w","dtype":"float32","shape":[4],"ptr":0}]}')


def test_go_panic_becomes_an_exception():
    with pytest.raises(RuntimeError, match=r"\[InternalError\] Go panic: boom"):
        pyext.Panic("boom")


def test_model_files(tmp_path):
    with pytest.raises(la.LightOSIOError):
        ModelLoader.load_lightos_native(tmp_path / "missing.lightos")
    bad = tmp_path / "bad.lightos"
    bad.write_bytes(b"LIGHTOS\x00" + b"\x01" * 100)
    with pytest.raises(la.ModelFormatError):
        ModelLoader.load_lightos_native(bad)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff\x00garbage" * 10)
    with pytest.raises((la.ModelFormatError, la.LightOSNotImplementedError)):
        ModelLoader.load_onnx(junk)
    pt = tmp_path / "m.pt"
    pt.write_bytes(b"PK")
    with pytest.raises(la.ModelFormatError):
        ModelLoader.load_torchscript(pt)


def test_loaded_graph_is_read_only(device, tmp_path, neg_graph):
    g, x, y = neg_graph
    g.save(tmp_path / "g.lightos")
    g2 = ModelLoader.load_lightos_native(tmp_path / "g.lightos", device)
    with pytest.raises(la.GraphError):
        g2.add_tensor([1])


def test_set_power_limit_is_refused(device):
    with pytest.raises(la.LightOSNotImplementedError):
        device.set_power_limit(100)
