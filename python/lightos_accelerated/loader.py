"""ModelLoader: ONNX, TorchScript and native .lightos models as ExecutionGraphs."""
import os

from . import _core
from ._core import _go
from .custom import registered
from .device import default_device
from .graph import ExecutionGraph


class ModelLoader:
    """Load models from files. Nodes whose operator was registered with @custom_op become
    custom nodes that run the Python function."""

    @staticmethod
    def load_onnx(path, device=None, custom_ops=None):
        names = list(custom_ops) if custom_ops is not None else list(registered())
        names = [getattr(n, "name", n) for n in names]
        gh = _core.call(_go.LoadONNX, os.fspath(path), ",".join(names))
        return ExecutionGraph._from_handle(gh, device or default_device(), os.path.basename(os.fspath(path)))

    @staticmethod
    def load_torchscript(path, device=None):
        gh = _core.call(_go.LoadTorchScript, os.fspath(path))
        return ExecutionGraph._from_handle(gh, device or default_device(), os.path.basename(os.fspath(path)))

    @staticmethod
    def load_lightos_native(path, device=None):
        """Map a .lightos file; its weights are borrowed from the map, not copied."""
        gh = _core.call(_go.LoadNative, os.fspath(path))
        return ExecutionGraph._from_handle(gh, device or default_device(), os.path.basename(os.fspath(path)))

    load_native = load_lightos_native

    @staticmethod
    def load(path, device=None):
        """Pick the loader by file extension (.onnx, .pt/.pth/.torchscript, .lightos)."""
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext == ".onnx":
            return ModelLoader.load_onnx(path, device)
        if ext in (".pt", ".pth", ".torchscript"):
            return ModelLoader.load_torchscript(path, device)
        return ModelLoader.load_lightos_native(path, device)
