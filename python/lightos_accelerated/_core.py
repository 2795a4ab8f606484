"""Low-level glue: the gopy binding, dtype codes, zero-copy wrapping of engine buffers."""
import ctypes
import itertools

import numpy as np

from .errors import LightOSError, translate

try:
    from ._ext import pyext as _go
except ImportError as e:  # pragma: no cover - only without a built extension
    raise ImportError(
        "lightos_accelerated's Go extension is not built: run `make pyext` (or `pip install .`) "
        f"in the LightOS repository ({e})") from e

# Engine dtype codes (ONNX TensorProto numbering, engine/tensor/dtype.go).
DTYPE_CODES = {
    np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.uint16): 4,
    np.dtype(np.int16): 5, np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9,
    np.dtype(np.float16): 10, np.dtype(np.float64): 11, np.dtype(np.uint32): 12, np.dtype(np.uint64): 13,
}
CODE_DTYPES = {v: k for k, v in DTYPE_CODES.items()}
NAME_DTYPES = {d.name: d for d in DTYPE_CODES}

REC = 12      # int64 values per tensor record: index/id, ptr, dtype, rank, 8 dims
MAX_RANK = 8

_tokens = itertools.count(1)


def next_token():
    return next(_tokens)


def call(fn, *args):
    """Call a pyext function, turning its errors into LightOSError subclasses."""
    try:
        return fn(*args)
    except RuntimeError as e:
        if isinstance(e, LightOSError):
            raise
        raise translate(e) from None


def to_dtype(dt):
    """np.dtype of a dtype-like (np.float32, "float32", np.dtype)."""
    try:
        d = np.dtype(dt)
    except TypeError:
        from .errors import DTypeError
        raise DTypeError(f"not a dtype: {dt!r}") from None
    if d not in DTYPE_CODES:
        from .errors import DTypeError
        raise DTypeError(f"dtype {d} is not supported by the engine (supported: "
                         f"{', '.join(sorted(x.name for x in DTYPE_CODES))})")
    return d


class EngineBuffer:
    """Owns one engine output buffer (memory mapped outside the Go heap). NumPy arrays made
    from it keep it alive through their .base chain; when the last one dies the buffer goes
    back to the engine's pool."""

    __slots__ = ("__array_interface__", "_id", "__weakref__")

    def __init__(self, buf_id, ptr, shape, dtype, readonly=False):
        self._id = buf_id
        self.__array_interface__ = {"data": (ptr, readonly), "shape": shape, "typestr": dtype.str, "version": 3}

    def __del__(self):
        bid = self._id
        if bid:
            self._id = 0
            try:
                _go.BufferRelease(bid)
            except Exception:  # interpreter shutting down
                pass


def wrap(ptr, shape, dtype, buf_id=0, readonly=False):
    """An ndarray over engine memory at ptr, without copying."""
    if ptr == 0:
        return np.zeros(shape, dtype)
    return np.asarray(EngineBuffer(buf_id, ptr, shape, dtype, readonly))


_from_buffer = ctypes.c_char.from_buffer
_addressof = ctypes.addressof


def data_ptr(arr):
    """Address of a C-contiguous array's first element. ctypes' from_buffer is about 5x
    faster than __array_interface__ (which builds a dict); it needs a writeable,
    non-empty buffer, so read-only and empty arrays take the slow path."""
    try:
        return _addressof(_from_buffer(arr))
    except (TypeError, ValueError, BufferError):
        return arr.__array_interface__["data"][0]
