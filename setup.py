"""Build lightos_accelerated: the Go engine bound with gopy (pinned in go.mod).

`pip install .` and `pip wheel .` run build_ext, which
  1. builds the pinned tools (`go build -o .work/tools/ tool`: gopy, goimports),
  2. runs `gopy build` over ./pyext for the interpreter running this build
     (sys.executable; it needs pybindgen, which pyproject.toml lists), and
  3. copies the extension (_lightos*.so) and gopy's wrappers (pyext.py, go.py) into
     lightos_accelerated/_ext/.
Needs Go (>= the go.mod version), a C compiler and the Python headers. The wheel has no
libpython in its NEEDED list (-dynamic-link=true), so it installs without Go.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
MODULE = "github.com/lightiam/lightos"


def find_go():
    go = os.environ.get("GO") or shutil.which("go")
    if not go and os.path.exists("/usr/local/go/bin/go"):
        go = "/usr/local/go/bin/go"
    if not go:
        raise RuntimeError("building lightos_accelerated needs Go (https://go.dev/dl/) on PATH")
    return go


class GopyBuild(build_ext):
    def build_extension(self, ext):
        go = find_go()
        tools = os.path.join(ROOT, ".work", "tools")
        gen = os.path.join(ROOT, "pyext", "_gen")
        os.makedirs(tools, exist_ok=True)
        env = dict(os.environ)
        env["GOFLAGS"] = "-mod=mod"
        env["CGO_LDFLAGS_ALLOW"] = "-fwrapv"
        env["PATH"] = os.pathsep.join([tools, os.path.dirname(go), os.path.dirname(sys.executable), env.get("PATH", "")])
        subprocess.check_call([go, "build", "-o", tools + os.sep, "tool"], cwd=ROOT, env=env)
        shutil.rmtree(gen, ignore_errors=True)
        os.makedirs(gen)
        subprocess.check_call([os.path.join(tools, "gopy"), "build", "-vm=" + sys.executable, "-name=lightos",
                               "-output=" + gen, "-dynamic-link=true", MODULE + "/pyext"], cwd=ROOT, env=env)
        sos = glob.glob(os.path.join(gen, "_lightos*.so"))
        if not sos:
            raise RuntimeError("gopy build produced no _lightos*.so in " + gen)
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(sos[0], dest)
        # Next to the built extension (wheels) and in the source tree (editable installs,
        # build_ext --inplace: setuptools copies only the .so there itself).
        dirs = {os.path.dirname(dest), os.path.join(ROOT, "python", "lightos_accelerated", "_ext")}
        for d in dirs:
            for name in ("pyext.py", "go.py"):
                shutil.copyfile(os.path.join(gen, name), os.path.join(d, name))


setup(
    ext_modules=[Extension("lightos_accelerated._ext._lightos", sources=[])],
    cmdclass={"build_ext": GopyBuild},
)
