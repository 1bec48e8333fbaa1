"""Checks for chapter 00 (orientation): a numerically stable softmax and log-softmax."""
from __future__ import annotations

import numpy as np

from helpers import tensorflow
from helpers.checks import assert_close, call, exercise, fail, random_inputs

# Inputs every softmax must survive: large, very negative, equal, a batch, one element.
_CASES = [
    ("[1000, 1001]", np.array([1000.0, 1001.0])),
    ("[-1000, -999, -1001]", np.array([-1000.0, -999.0, -1001.0])),
    ("[0, 0, 0, 0]", np.zeros(4)),
    ("[3]", np.array([3.0])),
    ("a batch of shape (4, 5)", random_inputs(0, (4, 5), scale=3.0)[0]),
    ("a batch of shape (2, 3) with entries near 800", 800.0 + random_inputs(1, (2, 3))[0]),
]


def _tf(fn_name: str, z: np.ndarray) -> np.ndarray:
    tf = tensorflow()
    return getattr(tf.nn, fn_name)(tf.constant(z, tf.float64), axis=-1).numpy()


@exercise("0.1", "numerically stable softmax", "stable softmax matches tf.nn.softmax, also on [1000, 1001]")
def ex_0_1(softmax) -> None:
    for label, z in _CASES:
        out = call(softmax, z.copy(), name="softmax")
        expected = _tf("softmax", z)
        name = f"softmax({label})"
        if np.shape(out) == z.shape and z.ndim == 2:
            sums = np.asarray(out, dtype=np.float64).sum(axis=-1)
            if np.all(np.isfinite(sums)) and not np.allclose(sums, 1.0) and np.allclose(np.asarray(out).sum(axis=0), 1.0):
                fail(f"{name}: the columns sum to 1, the rows do not — normalise along the last axis (axis=-1, keepdims=True).")
        assert_close(
            out, expected, name, rtol=1e-6, atol=1e-12,
            hints=[(np.exp(z - z.max(axis=-1, keepdims=True)), "the values do not sum to 1 — divide by the sum of the exponentials.")],
        )


@exercise("0.2", "numerically stable log-softmax", "stable log-softmax matches tf.nn.log_softmax, no -inf")
def ex_0_2(log_softmax) -> None:
    cases = _CASES + [("[0, -1000]", np.array([0.0, -1000.0]))]
    for label, z in cases:
        out = call(log_softmax, z.copy(), name="log_softmax")
        expected = _tf("log_softmax", z)
        name = f"log_softmax({label})"
        if out is not None and np.shape(out) == z.shape:
            values = np.asarray(out, dtype=np.float64)
            if np.isneginf(values).any():
                fail(f"{name} contains -inf: the log of a probability that underflowed to 0. "
                     "Compute z − max(z) − log Σ exp(z − max(z)) instead of log(softmax(z)).")
        shifted = z - z.max(axis=-1, keepdims=True)
        assert_close(
            out, expected, name, rtol=1e-7, atol=1e-9,
            hints=[(shifted, "you shifted by the maximum but forgot to subtract log Σ exp(z − max z).")],
        )
