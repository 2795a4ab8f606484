"""ExecutionGraph and GraphOp: build, optimize and run graphs with zero-copy NumPy I/O.

Zero copy, both ways:
  * Inputs are borrowed by pointer for the duration of the run. A C-contiguous, aligned
    ndarray of the input's dtype passes as it is; anything else (another dtype that
    converts safely, a strided view, a list) is converted once into a temporary copy.
    Dtypes that do not convert safely (float -> int, complex -> float) raise DTypeError.
  * Outputs are ndarrays over engine memory mapped outside the Go heap; the memory stays
    valid while any view of it lives and then returns to the engine's pool. Or pass your
    own arrays with out={tensor: array} (C-contiguous, writeable, exact dtype and shape):
    the engine writes into them and execute() returns those very arrays.
  * Weights given to add_tensor(data=...) are copied once when the graph is built, so
    later changes to your array do not change the graph.
"""
import array
import html
import json
import threading
import weakref

import numpy as np

from . import _core
from ._core import _go, _tokens, CODE_DTYPES, DTYPE_CODES, EngineBuffer, REC, MAX_RANK, data_ptr
from .custom import CustomOp, lookup as _lookup_custom, reraise_pending, take_pending
from .device import LightDevice, default_device
from .errors import (ArgumentError, CustomOpError, DTypeError, GraphError, LightOSError,
                     MissingInputError, ShapeError, translate)
from .optype import OpType, op_parts
from .profile import OptimizationReport, Profile


class TensorId(int):
    """The id add_tensor returns: an int (usable as a feed key) that knows its name."""

    def __new__(cls, value, name):
        t = super().__new__(cls, value)
        t.name = name
        return t

    def __repr__(self):
        return f"TensorId({int(self)}, {self.name!r})"


class TensorInfo:
    __slots__ = ("id", "name", "shape", "dtype", "data")

    def __init__(self, tid, name, shape, dtype, data=None):
        self.id, self.name, self.shape, self.dtype, self.data = tid, name, shape, dtype, data

    def __repr__(self):
        kind = "weight" if self.data is not None else "tensor"
        return f"<{kind} {self.name} {self.dtype}{list(self.shape) if self.shape is not None else '[?]'}>"


class GraphOp:
    """One operation: GraphOp(OpType.MATMUL, "fc1", inputs=[x, w], outputs=[y]).
    attributes holds the operator's attributes (ints, floats, strings and lists of them);
    for OpType.CUSTOM, custom_fn is a @custom_op function (or its registered name)."""

    def __init__(self, op_type, name, inputs=(), outputs=(), attributes=None, custom_fn=None, **attrs):
        if not isinstance(op_type, OpType):
            if isinstance(op_type, str) and op_type.upper() in OpType.__members__:
                op_type = OpType[op_type.upper()]
            else:
                try:
                    op_type = OpType(op_type)
                except ValueError:
                    raise GraphError(f"op {name!r}: unknown operator {op_type!r}") from None
        self.op_type = op_type
        self.name = str(name)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.attributes = dict(attributes or {}, **attrs)
        if isinstance(custom_fn, str):
            fn = _lookup_custom(custom_fn)
            if fn is None:
                raise CustomOpError(f"op {name!r}: no custom op registered as {custom_fn!r}")
            custom_fn = fn
        if custom_fn is not None and not isinstance(custom_fn, CustomOp):
            if callable(custom_fn):
                custom_fn = CustomOp(custom_fn)
            else:
                raise CustomOpError(f"op {name!r}: custom_fn must be a @custom_op function")
        if op_type is OpType.CUSTOM and custom_fn is None:
            raise CustomOpError(f"op {name!r}: OpType.CUSTOM needs custom_fn=")
        self.custom_fn = custom_fn

    def __repr__(self):
        return f"GraphOp({self.op_type.name}, {self.name!r}, inputs={self.inputs}, outputs={self.outputs})"


def _attr_json(node, k, v):
    if isinstance(v, (bool, np.bool_)):
        return {"i": int(v)}
    if isinstance(v, (int, np.integer)):
        return {"i": int(v)}
    if isinstance(v, (float, np.floating)):
        return {"f": float(v)}
    if isinstance(v, str):
        return {"s": v}
    if isinstance(v, (list, tuple, np.ndarray)):
        v = list(np.asarray(v).ravel().tolist()) if isinstance(v, np.ndarray) else list(v)
        if v and all(isinstance(x, (int, np.integer, bool)) for x in v):
            return {"ints": [int(x) for x in v]}
        if v and all(isinstance(x, (int, float, np.number)) for x in v):
            return {"floats": [float(x) for x in v]}
        if v and all(isinstance(x, str) for x in v):
            return {"strings": v}
    raise GraphError(f"op {node!r}: attribute {k!r} = {v!r}: use ints, floats, strings or non-empty lists of one of them")


class Outputs(dict):
    """A run's outputs by tensor name; also indexable by the TensorId of an output.
    (Each session makes a subclass whose _ids maps its outputs' TensorIds to names, so
    that building one costs no Python-level __init__.)"""

    _ids = {}

    def __getitem__(self, key):
        if not isinstance(key, str) and key in self._ids:
            key = self._ids[key]
        return super().__getitem__(key)

    def __contains__(self, key):
        return super().__contains__(self._ids.get(key, key) if not isinstance(key, str) else key)


class _Session:
    """A compiled graph on a device. Thread-safe: run() may be called from many threads."""

    def __init__(self, gh, device, custom_spec, tensors):
        self.h = _core.call(_go.SessionNew, gh, device.handle, custom_spec)
        self._fin = weakref.finalize(self, _go.Close, self.h)
        d = json.loads(_core.call(_go.SessionDescribe, self.h))
        self.in_names = [v["name"] for v in d["inputs"]]
        # the canonical dtype objects, so that `arr.dtype is dt` holds for the fast path
        self.in_dtypes = [np.dtype(getattr(np, v["dtype"])) for v in d["inputs"]]
        self.in_shapes = [v["shape"] for v in d["inputs"]]
        self.out_names = [v["name"] for v in d["outputs"]]
        self.out_dtypes = [np.dtype(v["dtype"]) for v in d["outputs"]]
        self.key_in = {n: i for i, n in enumerate(self.in_names)}
        self.key_out = {n: i for i, n in enumerate(self.out_names)}
        self.ids = {}
        for t in tensors:
            if t.name in self.key_in:
                self.key_in[t.id] = self.key_in[t.name]
            if t.name in self.key_out:
                self.key_out[t.id] = self.key_out[t.name]
                self.ids[t.id] = t.name
        self.n_out = len(self.out_names)
        self.outputs_type = type("Outputs", (Outputs,), {"_ids": self.ids, "__module__": __name__})

    def close(self):
        self._fin()

    def _coerce(self, val, i, key):
        dt = self.in_dtypes[i]
        if type(val) is np.ndarray and val.dtype is dt and val.flags.carray:
            return val
        try:
            arr = np.asarray(val)
        except Exception as e:
            raise DTypeError(f"input {self.in_names[i]!r}: cannot make an array of {type(val).__name__}: {e}") from None
        if arr.dtype != dt:
            if arr.dtype == object or not np.can_cast(arr.dtype, dt, casting="same_kind"):
                raise DTypeError(f"input {self.in_names[i]!r}: got {arr.dtype}, expected {dt} "
                                 f"(no safe conversion)")
            arr = arr.astype(dt)
        arr = np.ascontiguousarray(arr)  # no copy when it already is
        if not arr.flags.aligned:
            arr = arr.copy()
        return arr

    def pack(self, feeds):
        """Input records (SessionRun's layout), the arrays they point to, and the input count."""
        recs = [0, 0, 0, 0]
        keep = []
        seen = set()
        key_in = self.key_in
        for key, val in feeds.items():
            i = key_in.get(key)
            if i is None:
                raise MissingInputError(f"feed {key!r} is not an input of the graph (inputs: {self.in_names})")
            if i in seen:
                raise ArgumentError(f"input {self.in_names[i]!r} is fed twice")
            seen.add(i)
            arr = self._coerce(val, i, key)
            keep.append(arr)
            shape = arr.shape
            if len(shape) > MAX_RANK:
                raise ShapeError(f"input {self.in_names[i]!r}: rank {len(shape)} > {MAX_RANK}")
            recs += (i, data_ptr(arr), DTYPE_CODES[arr.dtype], len(shape), *shape)
            recs += (0,) * (MAX_RANK - len(shape))
        if len(seen) < len(self.in_names):
            missing = [n for j, n in enumerate(self.in_names) if j not in seen]
            raise MissingInputError(f"no value fed for input(s) {missing} (feed them by TensorId or name)")
        return recs, keep, len(seen)

    def run(self, feeds, out=None):
        recs, keep, n_in = self.pack(feeds)
        caller = {}
        if out:
            for key, arr in out.items():
                j = self.key_out.get(key)
                if j is None:
                    raise ArgumentError(f"out= key {key!r} is not an output of the graph (outputs: {self.out_names})")
                if not isinstance(arr, np.ndarray):
                    raise ArgumentError(f"out= array for {self.out_names[j]!r} must be an ndarray")
                if arr.dtype != self.out_dtypes[j]:
                    raise DTypeError(f"out= array for {self.out_names[j]!r} is {arr.dtype}, output is {self.out_dtypes[j]}")
                if not (arr.flags.c_contiguous and arr.flags.writeable and arr.flags.aligned):
                    raise ArgumentError(f"out= array for {self.out_names[j]!r} must be C-contiguous, aligned and writeable")
                caller[j] = arr
                recs += (j, data_ptr(arr), DTYPE_CODES[arr.dtype], arr.ndim, *arr.shape)
                recs += (0,) * (MAX_RANK - arr.ndim)
        base = len(recs)
        recs[0], recs[1] = n_in, len(caller)
        recs += (0,) * (REC * self.n_out)
        recs[2] = len(recs)
        meta = array.array("q", recs)
        token = next(_tokens)
        try:
            _go.SessionRun(self.h, token, meta.buffer_info()[0])
        except RuntimeError as e:
            err = translate(e)
            if isinstance(err, CustomOpError):
                reraise_pending(token, err)
            take_pending(token)
            raise err from None
        return self.unpack(meta[base:].tolist(), caller)

    def unpack(self, m, caller=None):
        res = self.outputs_type()
        names = self.out_names
        for j in range(self.n_out):
            if caller and j in caller:
                res[names[j]] = caller[j]
                continue
            r = m[j * REC:(j + 1) * REC]
            ptr = r[1]
            if ptr:
                res[names[j]] = np.asarray(EngineBuffer(r[0], ptr, tuple(r[4:4 + r[3]]), CODE_DTYPES[r[2]]))
            else:
                res[names[j]] = np.zeros(tuple(r[4:4 + r[3]]), CODE_DTYPES[r[2]])
        return res

    def profile(self):
        return Profile(json.loads(_core.call(_go.SessionProfile, self.h)))


class ExecutionGraph:
    """A computation graph on a device.

    graph = ExecutionGraph(device)
    x = graph.add_tensor([1, 784], np.float32)                 # an input
    w = graph.add_tensor([784, 128], np.float32, data=weights) # a weight
    y = graph.add_tensor([1, 128], np.float32)
    graph.add_op(GraphOp(OpType.MATMUL, "fc1", inputs=[x, w], outputs=[y]))
    graph.add_op(GraphOp(OpType.RELU, "relu1", inputs=[y], outputs=[y]))  # in place
    graph.optimize()
    out = graph.execute({x: batch})[y]
    """

    def __init__(self, device=None, name="graph"):
        if device is not None and not isinstance(device, LightDevice):
            raise ArgumentError(f"device must be a LightDevice, got {type(device).__name__}")
        self.device = device or default_device()
        self.name = name
        self._tensors = []
        self._by_name = {}
        self._ops = []
        self._outputs = []
        self._gh = None
        self._gfin = None
        self._sess = None
        self._loaded = False
        self._optimize = None          # options of the last optimize(), re-applied on rebuild
        self._custom = {}              # op name -> CustomOp used by this graph
        self._lock = threading.Lock()
        self.last_report = None

    # ---- building ---------------------------------------------------------------------

    def add_tensor(self, shape, dtype=np.float32, data=None, name=None):
        """Declare a tensor and return its TensorId. With data it is a weight (copied when
        the graph is built); a tensor no op writes is an input; None or -1 in the shape of an
        input is a dynamic dimension."""
        self._check_editable()
        dt = _core.to_dtype(dtype)
        if shape is None:
            shape = None if data is None else np.shape(data)
        if shape is not None:
            try:
                shape = tuple(-1 if d is None else int(d) for d in shape)
            except (TypeError, ValueError):
                raise ShapeError(f"tensor {name!r}: shape {shape!r} is not a list of ints") from None
            if any(d < -1 for d in shape):
                raise ShapeError(f"tensor {name!r}: shape {shape} has a negative dimension")
        if data is not None:
            data = np.asarray(data)
            if data.dtype != dt:
                if not np.can_cast(data.dtype, dt, casting="same_kind"):
                    raise DTypeError(f"tensor {name!r}: data is {data.dtype}, declared {dt}")
                data = data.astype(dt)
            if shape is not None and tuple(data.shape) != shape:
                raise ShapeError(f"tensor {name!r}: data has shape {data.shape}, declared {list(shape)}")
            shape = tuple(data.shape)
            data = np.ascontiguousarray(data)
        tid = len(self._tensors)
        if name is None:
            name = f"t{tid}"
            while name in self._by_name:
                name = "_" + name
        name = str(name)
        if name in self._by_name:
            raise GraphError(f"tensor name {name!r} is already used")
        t = TensorId(tid, name)
        self._tensors.append(TensorInfo(t, name, shape, dt, data))
        self._by_name[name] = t
        self._invalidate()
        return t

    def _tensor(self, ref, what):
        if isinstance(ref, str):
            t = self._by_name.get(ref)
        elif isinstance(ref, (int, np.integer)) and not isinstance(ref, bool) and 0 <= int(ref) < len(self._tensors):
            t = self._tensors[int(ref)].id
        else:
            t = None
        if t is None:
            raise GraphError(f"{what}: unknown tensor {ref!r}")
        return self._tensors[int(t)]

    def add_op(self, op):
        """Append an operation. Inputs and outputs are TensorIds or names; an op may write a
        tensor it reads (in place): later ops see the new value."""
        self._check_editable()
        if not isinstance(op, GraphOp):
            raise GraphError(f"add_op takes a GraphOp, got {type(op).__name__}")
        if any(o.name == op.name for o in self._ops):
            raise GraphError(f"op name {op.name!r} is already used")
        for r in op.inputs:
            self._tensor(r, f"op {op.name!r} input")
        for r in op.outputs:
            t = self._tensor(r, f"op {op.name!r} output")
            if t.data is not None:
                raise GraphError(f"op {op.name!r} writes {t.name!r}, which is a weight")
        if not op.outputs:
            raise GraphError(f"op {op.name!r} has no outputs")
        if op.custom_fn is not None:
            op.custom_fn.check_arity(len(op.inputs), len(op.outputs), op.name)
            prev = self._custom.get(op.custom_fn.name)
            if prev is not None and prev is not op.custom_fn:
                raise CustomOpError(f"op {op.name!r}: another custom op is already called {op.custom_fn.name!r} in this graph")
            self._custom[op.custom_fn.name] = op.custom_fn
        self._ops.append(op)
        self._invalidate()
        return op

    def mark_output(self, tensor):
        """Make tensor a graph output. Without marks, every tensor no op reads is an output."""
        self._check_editable()
        self._outputs.append(self._tensor(tensor, "mark_output").name)
        self._invalidate()

    def _check_editable(self):
        if self._loaded:
            raise GraphError("this graph was loaded from a model file; it cannot be edited")

    def _invalidate(self):
        with self._lock:
            self._drop()

    def _drop(self):
        if self._sess is not None:
            self._sess.close()
            self._sess = None
        if not self._loaded and self._gfin is not None:
            self._gfin()
            self._gh = self._gfin = None

    def _spec(self):
        written = set()
        read_first = set()   # read before any op writes them: graph inputs
        nodes = []
        for op in self._ops:
            ins = [self._tensor(r, "").name for r in op.inputs]
            outs = [self._tensor(r, "").name for r in op.outputs]
            read_first.update(n for n in ins if n not in written)
            attrs = {k: _attr_json(op.name, k, v) for k, v in op.attributes.items()}
            if op.op_type is OpType.CUSTOM:
                cop = op.custom_fn
                domain, opname = "", cop.name
                shapes, dtypes = cop.specs(len(outs))
                decl = [self._tensor(r, "") for r in op.outputs]
                if shapes is None:
                    if all(t.shape is not None and -1 not in t.shape for t in decl):
                        shapes = [",".join(str(d) for d in t.shape) for t in decl]
                    else:
                        shapes = ["@0"] * len(outs)
                if dtypes is None:
                    dtypes = [t.dtype.name for t in decl]
                attrs["_custom"] = {"i": 1}
                attrs["_out_dtypes"] = {"ints": [DTYPE_CODES[np.dtype(d)] for d in dtypes]}
                attrs["_out_shapes"] = {"strings": shapes}
            else:
                domain, opname = op_parts(op.op_type)
            nodes.append({"op": opname, "domain": domain, "name": op.name, "inputs": ins,
                          "outputs": outs, "attrs": attrs})
            written.update(outs)
        inputs, consts = [], []
        for t in self._tensors:
            if t.data is not None:
                consts.append({"name": t.name, "dtype": t.dtype.name, "shape": list(t.shape),
                               "ptr": data_ptr(t.data) if t.data.size else 0})
            elif t.name in read_first or t.name not in written:
                if t.shape is None:
                    raise ShapeError(f"input {t.name!r} needs a shape (use None for dynamic dimensions)")
                inputs.append({"name": t.name, "dtype": t.dtype.name, "shape": list(t.shape)})
        return {"name": self.name, "inputs": inputs, "consts": consts, "nodes": nodes, "outputs": self._outputs}

    def _graph(self):
        """The engine graph handle, built (and optimized, if asked before) on demand."""
        if self._gh is None:
            spec = self._spec()
            gh = _core.call(_go.GraphBuild, json.dumps(spec))
            self._gh, self._gfin = gh, weakref.finalize(self, _go.Close, gh)
            self._check_declared()
            if self._optimize is not None:
                self.last_report = OptimizationReport(json.loads(_core.call(_go.GraphOptimize, gh, self._optimize)))
        return self._gh

    def _check_declared(self):
        d = self.describe()
        types = {}
        for n in d["nodes"]:
            for v in n["outputs"]:
                types[v["name"]] = v
        for t in self._tensors:
            v = types.get(t.name)
            if v is None or t.data is not None or t.shape is None:
                continue
            if v["dtype"] != t.dtype.name:
                raise DTypeError(f"tensor {t.name!r} is declared {t.dtype} but its op produces {v['dtype']}")
            got = v["shape"]
            if got is not None and (len(got) != len(t.shape) or any(
                    isinstance(g, int) and w >= 0 and g != w for g, w in zip(got, t.shape))):
                raise ShapeError(f"tensor {t.name!r} is declared {list(t.shape)} but its op produces {got}")

    def _session(self):
        s = self._sess
        if s is None:
            with self._lock:
                if self._sess is None:
                    gh = self._graph()
                    spec = ",".join(f"{n}={c.handle}" for n, c in self._custom.items())
                    self._sess = _Session(gh, self.device, spec, self._tensors)
                s = self._sess
        return s

    # ---- optimizing and running -------------------------------------------------------

    def optimize(self, disable=()):
        """Run the optimizer (fusions, constant folding, dead code, ...) and return its report.

        Once optimized, a graph is optimized again for each set of concrete input shapes
        it runs with (a symbolic batch becomes known), so fusions that need those shapes
        fire too; the report describes the shape-independent pass."""
        with self._lock:
            if self._sess is not None:
                self._sess.close()
                self._sess = None
            self._optimize = ",".join(disable)
            if self._gh is not None and not self._loaded:
                self._gfin()
                self._gh = self._gfin = None
            if self._loaded:
                self.last_report = OptimizationReport(json.loads(_core.call(_go.GraphOptimize, self._gh, self._optimize)))
            else:
                self._graph()
        return self.last_report

    def execute(self, feeds=None, out=None):
        """Run the graph. feeds maps input TensorIds or names to arrays; out optionally maps
        outputs to your own arrays to write into. Returns the outputs by name (and TensorId).
        Safe to call from several threads at once; the GIL is released while the engine runs."""
        return self._session().run(feeds or {}, out)

    __call__ = execute

    def profile(self, feeds=None):
        """Per-node times: of a fresh run when feeds are given, else of the last run."""
        s = self._session()
        if feeds is not None:
            s.run(feeds)
        return s.profile()

    def save(self, path):
        """Write the graph (with its weights) in the native .lightos format."""
        _core.call(_go.GraphSave, self._graph(), str(path))

    def close(self):
        with self._lock:
            if self._sess is not None:
                self._sess.close()
                self._sess = None
            if self._gfin is not None:
                self._gfin()
                self._gh = self._gfin = None

    # ---- looking at it ----------------------------------------------------------------

    def describe(self):
        return json.loads(_core.call(_go.GraphDescribe, self._graph()))

    @property
    def inputs(self):
        return [TensorInfo(self._by_name.get(v["name"]), v["name"], v["shape"], np.dtype(v["dtype"]))
                for v in self.describe()["inputs"]]

    @property
    def outputs(self):
        return [TensorInfo(self._by_name.get(v["name"]), v["name"], v["shape"], np.dtype(v["dtype"]))
                for v in self.describe()["outputs"]]

    def __str__(self):
        return self.describe()["text"]

    def __repr__(self):
        try:
            d = self.describe()
        except LightOSError as e:
            return f"<ExecutionGraph {self.name!r}: not buildable: {e}>"
        return (f"<ExecutionGraph {self.name!r}: {len(d['nodes'])} nodes, inputs "
                f"{[v['name'] for v in d['inputs']]}, outputs {[v['name'] for v in d['outputs']]}>")

    def _repr_html_(self):
        try:
            d = self.describe()
        except LightOSError as e:
            return f"<p>ExecutionGraph {html.escape(self.name)}: <b>not buildable</b>: {html.escape(str(e))}</p>"
        esc = html.escape

        def ty(v):
            return f"{v['dtype']}{v['shape'] if v['shape'] is not None else '[?]'}"
        rows = []
        for n in d["nodes"]:
            fused = n["op"].startswith("Fused") or n["domain"] == "lightos"
            style = " style='background:#e8f4e8'" if fused else (" style='background:#fdf3e1'" if n["custom"] else "")
            kind = " (fused)" if fused else (" (custom)" if n["custom"] else "")
            rows.append(f"<tr{style}><td>{esc(n['name'])}</td><td>{esc(n['op'])}{kind}</td>"
                        f"<td>{esc(', '.join(n['inputs']))}</td>"
                        f"<td>{esc(', '.join(o['name'] + ': ' + ty(o) for o in n['outputs']))}</td></tr>")
        head = (f"<b>ExecutionGraph {esc(d['name'])}</b> on {esc(repr(self.device))}: {len(d['nodes'])} nodes; "
                f"inputs {esc(', '.join(v['name'] + ': ' + ty(v) for v in d['inputs']))}; "
                f"outputs {esc(', '.join(v['name'] + ': ' + ty(v) for v in d['outputs']))}")
        rep = self.last_report._repr_html_() if self.last_report is not None else ""
        return (f"<div>{head}<table><tr><th>node</th><th>op</th><th>inputs</th><th>outputs</th></tr>"
                f"{''.join(rows)}</table>{rep}</div>")

    # ---- loaded models ----------------------------------------------------------------

    @classmethod
    def _from_handle(cls, gh, device, name):
        g = cls(device, name)
        g._loaded = True
        g._gh = gh
        g._gfin = weakref.finalize(g, _go.Close, gh)
        d = g.describe()
        for v in d["inputs"] + d["outputs"]:
            if v["name"] in g._by_name:
                continue
            shape = None if v["shape"] is None else tuple(x if isinstance(x, int) else -1 for x in v["shape"])
            tid = TensorId(len(g._tensors), v["name"])
            g._tensors.append(TensorInfo(tid, v["name"], shape, np.dtype(v["dtype"])))
            g._by_name[v["name"]] = tid
        for n in d["nodes"]:
            if n["custom"]:
                cop = _lookup_custom(n["op"])
                if cop is None:
                    continue  # SessionNew reports it, naming the node
                shapes, dtypes = cop.specs(len(n["outputs"]))
                _core.call(_go.GraphSetCustomTypes, gh, cop.name, ",".join(dtypes or []),
                           json.dumps(shapes) if shapes else "")
                g._custom[cop.name] = cop
        return g

    def tensor(self, name):
        """The TensorId of a tensor by name (for loaded models)."""
        return self._tensor(name, "tensor").id
