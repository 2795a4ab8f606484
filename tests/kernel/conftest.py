"""Build the lightos binary and install its kernelspec into this Python
environment (--sys-prefix) before the kernel tests run."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "bin" / "lightos"


def pytest_sessionstart(session):
    subprocess.run(["go", "build", "-o", str(BINARY), "./cmd/lightos"], cwd=ROOT, check=True)
    env = dict(os.environ, VIRTUAL_ENV=sys.prefix)
    subprocess.run([str(BINARY), "kernel", "install", "--sys-prefix"], cwd=ROOT, env=env, check=True)
