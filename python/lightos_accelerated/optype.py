"""OpType: every engine operator (read from the engine at import), plus CUSTOM."""
import enum
import re

from . import _core
from ._core import _go


def _member(name):
    """"MatMul" -> MATMUL; "LeakyRelu" -> LEAKYRELU (LEAKY_RELU is an alias)."""
    return re.sub(r"\W", "_", name).upper()


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def _build():
    members = {}
    for q in _core.call(_go.OpNames).split(","):
        if not q:
            continue
        domain, _, op = q.rpartition(".")
        key = _member(op if domain in ("", "lightos") else q)
        if key in members:              # the same name in two domains: qualify the second
            key = _member(q)
        members[key] = q
    members["CUSTOM"] = "custom"
    aliases = {}
    for key, q in list(members.items()):
        op = q.rpartition(".")[2]
        s = _snake(op) if q != "custom" else "CUSTOM"
        if s not in members:
            aliases[s] = q
    # Names the product description uses.
    for alias, target in {"CONV2D": "Conv", "BATCHNORM": "BatchNormalization", "LAYERNORM": "LayerNormalization",
                          "LINEAR": "Gemm", "DENSE": "Gemm", "ADD_BIAS": "Add"}.items():
        if _member(target) in members and alias not in members:
            aliases[alias] = members[_member(target)]
    return enum.Enum("OpType", list(members.items()) + list(aliases.items()), module=__name__)


OpType = _build()
OpType.__doc__ = ("Engine operators. The value is the engine's op name (\"MatMul\"; "
                  "\"lightos.FusedMatMul\" for LightOS's own), or \"custom\".")


def op_parts(op):
    """(domain, name) of an OpType or an op-name string."""
    q = op.value if isinstance(op, OpType) else str(op)
    domain, _, name = q.rpartition(".")
    return domain, name
