"""lightos_accelerated: the LightOS inference engine (Go) from Python.

    from lightos_accelerated import (LightDevice, DeviceType, ExecutionGraph, GraphOp, OpType,
                                     ModelLoader, PowerGovernor, custom_op)

Zero-copy NumPy in and out, Python custom ops as graph nodes, the GIL released while the
engine runs, and specific exceptions (LightOSError and subclasses) for bad input.
"""
from .errors import (LightOSError, ShapeError, DTypeError, MissingInputError, GraphError,
                     UnsupportedOpError, ModelFormatError, DeviceNotFoundError, CustomOpError,
                     InvalidHandleError, ExecutionError, InternalError, LightOSNotImplementedError,
                     ArgumentError, LightOSIOError)
from .device import DeviceType, DeviceProperties, LightDevice
from .optype import OpType
from .custom import custom_op, CustomOp
from .graph import ExecutionGraph, GraphOp, TensorId, Outputs
from .profile import Profile, OptimizationReport
from .loader import ModelLoader
from .governor import PowerGovernor, Job

__version__ = "0.1.0"

__all__ = [
    "LightDevice", "DeviceType", "DeviceProperties", "ExecutionGraph", "GraphOp", "OpType",
    "ModelLoader", "PowerGovernor", "Job", "custom_op", "CustomOp", "TensorId", "Outputs",
    "Profile", "OptimizationReport", "LightOSError", "ShapeError", "DTypeError",
    "MissingInputError", "GraphError", "UnsupportedOpError", "ModelFormatError",
    "DeviceNotFoundError", "CustomOpError", "InvalidHandleError", "ExecutionError",
    "InternalError", "LightOSNotImplementedError", "ArgumentError", "LightOSIOError",
]
