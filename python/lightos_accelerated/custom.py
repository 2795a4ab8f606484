"""@custom_op: Python functions as graph nodes.

How a Python custom op runs (see pyext/doc.go): the engine runs the graph on the thread
that called execute(), with the GIL released. At a custom node, Go locks that goroutine to
its OS thread and calls one dispatcher function (installed once, kept alive here), which
takes the GIL, wraps the node's input and output tensors as NumPy arrays without copying,
calls the Python function and copies its results into the output tensors. The dispatcher
never raises into Go: it stores the exception under the run's token and returns 1; Go
stops the run and returns an error, and execute() re-raises the stored exception itself,
with a note naming the node.

The arrays a custom op receives (inputs read-only) are views of engine memory that is
reused once the op returns: copy what you want to keep.
"""
import functools
import inspect
import itertools
import threading
import typing

import numpy as np

from . import _core
from ._core import _go
from .errors import CustomOpError, DTypeError, ShapeError

_ops_by_handle = {}        # handle -> CustomOp
_ops_by_name = {}          # op name -> CustomOp
_handles = itertools.count(1)
_lock = threading.Lock()
_pending = {}              # run token -> (exception, node, op)


class CustomOp:
    """A Python function registered as an engine operator. Calling it still calls the
    function. Output types, for graphs: `shape` (one spec, or a list for several outputs)
    where a spec is a tuple of ints and "param.dim" strings (a dimension of an input,
    named or by position), or "@param" (the shape of an input); `dtype` likewise. Left
    out, they come from the output tensors the graph declares (add_tensor), or else are
    input 0's."""

    def __init__(self, fn, name=None, shape=None, dtype=None):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        sig = inspect.signature(fn)
        self.params = [p.name for p in sig.parameters.values()
                       if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.variadic = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
        self.required = sum(1 for p in sig.parameters.values()
                            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
        self.n_outputs = _count_outputs(fn, sig)
        for pname, p in sig.parameters.items():
            ann = _resolve(fn, pname, p.annotation)
            if ann is not p.empty and ann is not np.ndarray and not _is_array_like(ann):
                raise CustomOpError(f"custom op {self.name!r}: parameter {pname!r} is annotated {ann!r}; "
                                    "custom ops take NumPy arrays (np.ndarray)")
        self.shape = shape
        self.dtype = dtype
        with _lock:
            self.handle = next(_handles)
            _ops_by_handle[self.handle] = self
            _ops_by_name[self.name] = self

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return f"<custom_op {self.name} ({len(self.params)} inputs, {self.n_outputs or '?'} outputs)>"

    def check_arity(self, n_in, n_out, node):
        if n_in < self.required or (not self.variadic and n_in > len(self.params)):
            raise CustomOpError(f"node {node!r}: custom op {self.name!r} takes {self.required}"
                                f"{'+' if self.variadic else ''} inputs "
                                f"({', '.join(self.params)}), the node gives it {n_in}")
        if self.n_outputs is not None and n_out != self.n_outputs:
            raise CustomOpError(f"node {node!r}: custom op {self.name!r} returns {self.n_outputs} "
                                f"output(s) by its annotation, the node declares {n_out}")

    def specs(self, n_out):
        """Engine shape specs and dtype names for n_out outputs, or None where undeclared."""
        shapes = dtypes = None
        if self.shape is not None:
            lst = self.shape if (n_out > 1 and isinstance(self.shape, list)) else [self.shape]
            shapes = [self._shape_spec(s) for s in lst]
        if self.dtype is not None:
            lst = self.dtype if isinstance(self.dtype, (list, tuple)) else [self.dtype] * n_out
            dtypes = [_core.to_dtype(d).name for d in lst]
        return shapes, dtypes

    def _index(self, ref):
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return int(ref)
        if ref in self.params:
            return self.params.index(ref)
        raise CustomOpError(f"custom op {self.name!r}: shape refers to {ref!r}, not a parameter "
                            f"({', '.join(self.params)})")

    def _shape_spec(self, s):
        if isinstance(s, str) and s.startswith("@"):
            return f"@{self._index(s[1:])}"
        if isinstance(s, str):
            s = [x for x in s.split(",") if x.strip()]
        parts = []
        for d in s:
            if isinstance(d, (int, np.integer)):
                parts.append(str(int(d)))
            elif isinstance(d, str) and "." in d:
                ref, _, dim = d.strip().rpartition(".")
                parts.append(f"{self._index(ref)}.{int(dim)}")
            else:
                raise CustomOpError(f"custom op {self.name!r}: bad dimension {d!r} in shape {s!r}")
        return ",".join(parts)


def _resolve(fn, name, ann):
    if isinstance(ann, str):
        try:
            return typing.get_type_hints(fn).get(name if name != "return" else "return", ann)
        except Exception:
            return ann if ann not in ("np.ndarray", "numpy.ndarray") else np.ndarray
    return ann


def _is_array_like(ann):
    origin = typing.get_origin(ann)
    return ann is np.ndarray or origin is np.ndarray or getattr(ann, "__name__", "") == "NDArray"


def _count_outputs(fn, sig):
    ret = _resolve(fn, "return", sig.return_annotation)
    if ret is sig.empty or ret is None:
        return None
    if _is_array_like(ret):
        return 1
    origin = typing.get_origin(ret)
    if origin is tuple:
        args = typing.get_args(ret)
        if args and args[-1] is Ellipsis:
            return None
        if all(_is_array_like(a) for a in args):
            return len(args)
    raise CustomOpError(f"custom op {fn.__name__!r}: return annotation {ret!r}; custom ops return "
                        "np.ndarray or tuple[np.ndarray, ...]")


def custom_op(fn=None, *, name=None, shape=None, dtype=None):
    """Register a Python function as a custom operator (usable directly as @custom_op or
    with options: @custom_op(shape=("A.0", "B.1"), dtype=np.float32))."""
    if fn is None:
        return lambda f: CustomOp(f, name=name, shape=shape, dtype=dtype)
    return CustomOp(fn, name=name, shape=shape, dtype=dtype)


def registered():
    """The custom ops registered so far, by name."""
    return dict(_ops_by_name)


def lookup(name):
    return _ops_by_name.get(name)


# ---- the dispatcher, called from Go -------------------------------------------------

_META = 4 + _core.REC * 64


def _records(m, count, start):
    out = []
    for i in range(count):
        r = m[start + i * _core.REC: start + (i + 1) * _core.REC]
        rank = r[3]
        if rank < 0:
            out.append(None)
            continue
        out.append((r[1], _core.CODE_DTYPES[r[2]], tuple(r[4:4 + rank])))
    return out


def _dispatch(call_id):
    """Run one custom-op call. Never raises (gopy would crash on an exception here)."""
    token, node, op = 0, "?", "?"
    try:
        meta = np.zeros(_META, np.int64)
        node, _, op = _core.call(_go.CallDescribe, call_id, meta.ctypes.data, _META).partition("\n")
        m = meta.tolist()
        handle, token, n_in, n_out = m[0], m[1], m[2], m[3]
        cop = _ops_by_handle.get(handle)
        if cop is None:
            raise CustomOpError(f"node {node!r}: custom op handle {handle} is not registered")
        ins = [None if r is None else _core.wrap(r[0], r[2], r[1], readonly=True)
               for r in _records(m, n_in, 4)]
        outs = _records(m, n_out, 4 + n_in * _core.REC)
        result = cop.fn(*ins)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != n_out:
            raise CustomOpError(f"node {node!r}: custom op {cop.name!r} returned {len(result)} value(s), "
                                f"the node has {n_out} output(s)")
        for i, (val, rec) in enumerate(zip(result, outs)):
            if rec is None:
                continue
            ptr, dt, shape = rec
            val = np.asarray(val)
            if val.shape != shape:
                raise ShapeError(f"node {node!r}: custom op {cop.name!r} output {i} has shape {val.shape}, "
                                 f"declared {shape}")
            if not np.can_cast(val.dtype, dt, casting="same_kind"):
                raise DTypeError(f"node {node!r}: custom op {cop.name!r} output {i} is {val.dtype}, "
                                 f"declared {dt}")
            if val.size:
                np.copyto(_core.wrap(ptr, shape, dt), val, casting="same_kind")
        return 0
    except BaseException as e:  # noqa: B036 - must not propagate into Go
        with _lock:
            _pending[token] = (e, node, op)
        return 1


def take_pending(token):
    with _lock:
        return _pending.pop(token, None)


def reraise_pending(token, engine_error):
    """After a failed run: re-raise the custom op's own exception, if one was stored."""
    p = take_pending(token)
    if p is None:
        raise engine_error
    exc, node, op = p
    try:
        exc.add_note(f"raised in custom op node {node!r} ({op})")
    except AttributeError:  # Python < 3.11
        pass
    try:
        exc.lightos_node = node
    except Exception:
        pass
    raise exc.with_traceback(exc.__traceback__)


_go.SetDispatcher(_dispatch)
_dispatcher_ref = _dispatch  # gopy keeps no reference of its own
