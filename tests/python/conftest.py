import os
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
    # A seed per test, printed on failure by pytest's -l, stable across runs.
    return np.random.default_rng(abs(hash(request.node.name)) % 2**32)


AWKWARD = [1, 3, 7, 17, 31, 64, 65, 129]
