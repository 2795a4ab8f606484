"""Packaging: `pip wheel .` makes a wheel that installs and runs where there is no Go.

The wheel is built from this checkout (setup.py's gopy build, the pinned gopy, without
build isolation so that nothing is downloaded), installed with pip into an empty
directory, and imported by the base interpreter (not this venv) in a subprocess whose
PATH holds no Go toolchain and whose only other package is NumPy; there it runs a
matmul graph that is checked against NumPy in float64."""
import glob
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHECK = r"""
import sys
import numpy as np
import lightos_accelerated as la
from lightos_accelerated import DeviceType, ExecutionGraph, GraphOp, LightDevice, OpType

assert la.__file__.startswith(sys.argv[1]), la.__file__
rng = np.random.default_rng(7)
A = rng.standard_normal((31, 17)).astype(np.float32)
B = rng.standard_normal((17, 65)).astype(np.float32)
g = ExecutionGraph(LightDevice(DeviceType.CPU, 0))
a, b = g.add_tensor([31, 17]), g.add_tensor([17, 65], data=B)
c = g.add_tensor([31, 65])
g.add_op(GraphOp(OpType.MATMUL, "mm", inputs=[a, b], outputs=[c]))
g.add_op(GraphOp(OpType.RELU, "relu", inputs=[c], outputs=[c]))
got = g.execute({a: A})[c]
want = np.maximum(A.astype(np.float64) @ B, 0)
err = float(np.abs(got - want).max())
assert err < 1e-4, err
print("ok", err)
"""


def base_python() -> str:
    """The interpreter this venv was made from (it has none of the venv's packages)."""
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        exe = os.path.join(sys.base_prefix, "bin", name)
        if os.path.exists(exe):
            return exe
    pytest.skip(f"no base interpreter under {sys.base_prefix}")


@pytest.mark.skipif(shutil.which("go") is None and not os.path.exists("/usr/local/go/bin/go"),
                    reason="building the wheel needs Go")
def test_wheel_installs_and_runs_without_go(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                    "-w", str(dist), ROOT], check=True, cwd=ROOT, timeout=600)
    wheels = glob.glob(str(dist / "lightos_accelerated-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert any(n.startswith("lightos_accelerated/_ext/_lightos") and n.endswith(".so") for n in names), names

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), wheels[0]], check=True, timeout=120)
    # NumPy alone, from this venv, in a directory of its own.
    numpy_dir = tmp_path / "numpy_only"
    numpy_dir.mkdir()
    np_site = os.path.dirname(os.path.dirname(np.__file__))
    for entry in os.listdir(np_site):
        if entry == "numpy" or entry.startswith(("numpy.libs", "numpy-")):
            os.symlink(os.path.join(np_site, entry), numpy_dir / entry)

    path = os.pathsep.join(d for d in ("/usr/bin", "/bin") if os.path.isdir(d))
    assert shutil.which("go", path=path) is None, f"a go binary is on {path}"
    env = {"PATH": path, "PYTHONPATH": os.pathsep.join([str(site), str(numpy_dir)]),
           "HOME": str(tmp_path), "PYTHONNOUSERSITE": "1"}
    p = subprocess.run([base_python(), "-c", CHECK, str(site)], env=env, cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("ok"), p.stdout
