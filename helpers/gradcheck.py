"""Gradient checking with centered differences, one element at a time.

Perturbing *every* weight at once and dividing by eps gives a directional derivative
(the sum of all partials), not the gradient: each element is perturbed on its own here.

The default ``eps = 1e-5``: the centered difference has truncation error about eps²·|f‴|/6 and
rounding error about u·|f|/eps (u = 1.1e-16 in float64), smallest at eps* = (3u·|f|/|f‴|)^(1/3),
about 7e-6 when |f| and |f‴| are of the same size; 1e-5 is that power of ten (chapter 02, §6,
measures it).
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

Array = np.ndarray


def numerical_gradient(f: Callable[[], float], x: Array, eps: float = 1e-5) -> Array:
    """dF/dx for a scalar function ``f()`` that reads ``x`` (changed in place, then restored).

    Uses (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps) per element i; error O(eps²).
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient needs a float array, got dtype {x.dtype}")
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = float(f())
        flat[i] = old - eps
        minus = float(f())
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def numerical_gradients(
    f: Callable[[], float], params: Mapping[str, Array], eps: float = 1e-5
) -> dict[str, Array]:
    """Centered-difference gradient of ``f()`` with respect to every array in ``params``."""
    return {name: numerical_gradient(f, p, eps) for name, p in params.items()}


def relative_error(a: Array, b: Array, floor: float = 1e-8) -> float:
    """max |a − b| / max(|a| + |b|, floor), elementwise; 0 for identical arrays.

    Below ~1e-7 (float64) a gradient is right; above ~1e-3 it is almost surely wrong.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    denom = np.maximum(np.abs(a) + np.abs(b), floor)
    return float(np.max(np.abs(a - b) / denom))


def compare_gradients(
    analytic: Mapping[str, Array], numeric: Mapping[str, Array]
) -> dict[str, float]:
    """Relative error per parameter name (names must match)."""
    missing = set(numeric) - set(analytic)
    if missing:
        raise KeyError(f"no analytic gradient for {sorted(missing)}")
    return {name: relative_error(analytic[name], numeric[name]) for name in numeric}
