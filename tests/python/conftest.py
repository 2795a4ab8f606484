import os
import zlib
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    import lightos_accelerated  # noqa: F401  (installed: pip install -e . / make pyext)
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "python"))

from lightos_accelerated import DeviceType, LightDevice  # noqa: E402


@pytest.fixture(scope="session")
def device():
    return LightDevice(DeviceType.CPU, 0)


@pytest.fixture
def rng(request):
    # A seed per test, stable across runs (crc32, not hash(): str hashes are salted).
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


AWKWARD = [1, 3, 7, 17, 31, 64, 65, 129]
