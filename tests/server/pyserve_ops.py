"""Custom ops for test_python_serve.py, imported by the server with --custom-ops."""

import numpy as np

from lightos_accelerated import custom_op


@custom_op
def SwishPy(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.exp(-x))


@custom_op(shape=("x.0", 1))
def RowNorm(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(x.astype(np.float64) ** 2, axis=1, keepdims=True)).astype(x.dtype)


@custom_op
def Explode(x: np.ndarray) -> np.ndarray:
    if (x < 0).any():
        raise ValueError(f"boom: {int((x < 0).sum())} negative inputs")
    return x * 2
