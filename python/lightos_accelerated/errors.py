"""The LightOSError hierarchy, and the translation of engine errors into it.

Every error the Go engine returns starts with its kind in brackets ("[ShapeError] ...");
`translate` maps it to the class of the same name. Errors raised by a Python custom op
are not translated: the caller gets the very exception the function raised (see
custom.py)."""


class LightOSError(Exception):
    """Base class of every error lightos_accelerated raises."""


class ShapeError(LightOSError, ValueError):
    """A tensor's shape does not match what the graph expects (feeds, out= arrays, ops)."""


class DTypeError(LightOSError, TypeError):
    """A tensor's element type does not match and cannot be converted safely."""


class MissingInputError(LightOSError, KeyError):
    """A graph input was not fed, or a feed names no input of the graph."""

    def __str__(self):  # KeyError would quote the message
        return Exception.__str__(self)


class GraphError(LightOSError, ValueError):
    """The graph is malformed: unknown tensors, duplicate names, cycles, bad attributes."""


class UnsupportedOpError(LightOSError):
    """The device has no kernel for an operator, dtype or attribute combination."""


class ModelFormatError(LightOSError):
    """A model file is damaged or not in the expected format."""


class DeviceNotFoundError(LightOSError):
    """No device of the requested kind and id exists on this host."""


class CustomOpError(LightOSError):
    """A custom op is unknown, declared wrongly, or returned the wrong outputs."""


class InvalidHandleError(LightOSError):
    """An engine object was used after close (or never existed)."""


class ExecutionError(LightOSError, RuntimeError):
    """The engine failed while running a graph."""


class InternalError(LightOSError, RuntimeError):
    """A bug inside the engine (a recovered Go panic). Please report it."""


class LightOSNotImplementedError(LightOSError, NotImplementedError):
    """The feature exists in the API but its engine part has not landed yet."""


class ArgumentError(LightOSError, ValueError):
    """A bad argument was passed to the engine."""


class LightOSIOError(LightOSError, OSError):
    """A file could not be read or written."""


_KINDS = {
    "ShapeError": ShapeError,
    "DTypeError": DTypeError,
    "MissingInputError": MissingInputError,
    "GraphError": GraphError,
    "UnsupportedOpError": UnsupportedOpError,
    "ModelFormatError": ModelFormatError,
    "DeviceNotFoundError": DeviceNotFoundError,
    "CustomOpError": CustomOpError,
    "InvalidHandleError": InvalidHandleError,
    "ExecutionError": ExecutionError,
    "InternalError": InternalError,
    "NotImplementedError": LightOSNotImplementedError,
    "ArgumentError": ArgumentError,
    "IOError": LightOSIOError,
}


def translate(exc):
    """Turn the RuntimeError gopy raises for a Go error into a LightOSError subclass."""
    msg = str(exc)
    if msg.startswith("[") and "]" in msg:
        kind, _, rest = msg[1:].partition("]")
        cls = _KINDS.get(kind)
        if cls is not None:
            return cls(rest.strip())
    return ExecutionError(msg)
