"""`python -m lightos_accelerated.serve`: the LightOS inference server inside Python.

    python -m lightos_accelerated.serve --grpc-port 50051 --http-port 8000 \\
        --model-repository models/ --custom-ops my_ops.py

The same server and flags as `lightos serve` (KServe v2 over gRPC and HTTP, health,
/metrics, dynamic batching, the PowerGovernor; see server/doc.go): the flags are parsed by
the Go code that parses `lightos serve`'s. The one extra flag, --custom-ops (repeatable),
imports a Python module (a file path or a module name) before the models load; every
function it registers with @custom_op then serves the ONNX nodes whose op type has its
name, in every model of the repository.

Go serves on its own threads; the Python main thread waits in Go with the GIL released,
in short slices so that SIGTERM and SIGINT run their Python handlers, which drain the
requests in flight (up to --drain-timeout) and exit. A custom op that raises fails only
its request (gRPC INTERNAL / HTTP 500, the message names the node and the exception) and
logs the traceback; the server keeps serving.

From Python code: `server = Server(["--grpc-port", "8001", ...])`, `server.addresses`,
`server.stop()` (also a context manager).
"""
import argparse
import importlib
import importlib.util
import json
import os
import signal
import sys
import traceback

from . import _core, custom
from ._core import _go
from .errors import ArgumentError

_SLICE_MS = 200  # how long the main thread waits in Go between signal checks


def _serve_dispatch(call_id):
    """The custom-op dispatcher while serving: the standard one, plus, for a call from a
    served request (negative token), the exception's message handed to Go so that the
    request's error carries it. Never raises."""
    rc = custom._dispatch(call_id)
    if rc:
        try:
            token = _go.CallToken(call_id)
            if token < 0:
                p = custom.take_pending(token)
                if p is not None:
                    exc, node, op = p
                    print(f"lightos serve: custom op node {node!r} ({op}) raised:", file=sys.stderr)
                    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
                    _go.ServeCallFailed(token, f"{type(exc).__name__}: {exc}")
        except BaseException:  # noqa: B036 - must not propagate into Go
            pass
    return rc


def import_custom_ops(spec):
    """Import a module of @custom_op functions: a path to a .py file, or a module name."""
    if spec.endswith(".py") or os.sep in spec or os.path.exists(spec):
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise ArgumentError(f"--custom-ops {spec!r}: no such file")
        name = os.path.splitext(os.path.basename(path))[0]
        mod_spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(mod_spec)
        sys.modules.setdefault(name, mod)
        mod_spec.loader.exec_module(mod)
        return mod
    return importlib.import_module(spec)


def _specs():
    out = []
    for name, cop in custom.registered().items():
        n_out = cop.n_outputs or (len(cop.shape) if isinstance(cop.shape, list) else 1)
        shapes, dtypes = cop.specs(n_out)  # a single dtype for several outputs: Go repeats it
        out.append({"name": name, "handle": cop.handle, "dtypes": dtypes or [], "shapes": shapes or []})
    return out


class Server:
    """A running server (the Go server of `lightos serve`) in this process. args are the
    `lightos serve` flags; the @custom_op functions registered so far serve custom nodes."""

    def __init__(self, args):
        _go.SetDispatcher(_serve_dispatch)
        self._h = _core.call(_go.ServeStart, json.dumps([str(a) for a in args]), json.dumps(_specs()))
        self.addresses = json.loads(_core.call(_go.ServeAddresses, self._h))

    def wait(self, timeout_ms=_SLICE_MS):
        """Wait up to timeout_ms for the server to stop by itself; True when it has."""
        return bool(_core.call(_go.ServeWait, self._h, int(timeout_ms)))

    def stop(self):
        """Stop taking requests, drain those in flight, close the ports (idempotent)."""
        h, self._h = self._h, 0
        if h:
            _core.call(_go.ServeStop, h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# Keep the dispatcher alive: gopy holds no reference of its own.
_dispatcher_ref = _serve_dispatch


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(prog="python -m lightos_accelerated.serve", add_help=False,
                                  description="The LightOS server (lightos serve's flags) with Python custom ops.")
    pre.add_argument("--custom-ops", action="append", default=[], metavar="MODULE",
                     help="a .py file or module name whose @custom_op functions serve custom nodes (repeatable)")
    ns, rest = pre.parse_known_args(argv)
    if any(a in rest for a in ("-h", "--help", "-help")):
        pre.print_help()
        print("\nServer flags (those of lightos serve):")
        try:
            _core.call(_go.ServeStart, json.dumps(["-h"]), "[]")
        except ArgumentError as e:
            print(e)
        return 0
    for spec in ns.custom_ops:
        try:
            import_custom_ops(spec)
        except Exception as e:
            print(f"lightos serve: --custom-ops {spec}: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
    try:
        server = Server(rest)
    except ArgumentError as e:
        print(f"lightos serve: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        print(f"lightos serve: {e}", file=sys.stderr)
        return 1

    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    rc = 0
    try:
        while not stopping:
            if server.wait(_SLICE_MS):
                break
    except Exception as e:  # the server stopped by itself: a listener failed
        print(f"lightos serve: {e}", file=sys.stderr)
        rc = 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        try:
            server.stop()
        except Exception as e:
            print(f"lightos serve: {e}", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
