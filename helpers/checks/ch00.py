"""Checks for chapter 00 (orientation): a numerically stable softmax and log-softmax.

The test inputs reach the point of the exercise: single vectors and batches of two shapes, rows
that span more than 709 (a shift by the row *minimum* overflows there) and rows whose maxima lie
far apart (a shift by the *global* maximum of the batch underflows a whole row to 0).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from helpers import tensorflow
from helpers.checks import assert_close, call, exercise, fail, random_inputs

# Rows spanning > 709, rows with maxima ~1000 apart, huge and tiny values, equal values.
_SPREAD = np.array([[0.0, 800.0, -10.0, 3.0],
                    [-900.0, -100.0, -120.0, -101.0],
                    [500.0, 499.0, 510.0, -300.0]])
_FAR_APART = np.array([[1000.0, 999.0, 1001.0, 0.0, -5.0, 2.0],
                       [-2.0, 0.5, 1.0, -1.5, 0.0, 0.25]])

# (label, logits): 1-D vectors and batches of two shapes.
_CASES = [
    ("[1000, 1001]", np.array([1000.0, 1001.0])),
    ("[-1000, -999, -1001]", np.array([-1000.0, -999.0, -1001.0])),
    ("[0, 0, 0, 0]", np.zeros(4)),
    ("[3]", np.array([3.0])),
    ("a 1-D vector spanning 1600 ([-800, 0, 800, 799])", np.array([-800.0, 0.0, 800.0, 799.0])),
    ("a batch of shape (4, 5)", random_inputs(0, (4, 5), scale=3.0)[0]),
    ("a batch of shape (3, 4) whose rows span more than 709 and have very different maxima", _SPREAD),
    ("a batch of shape (2, 6), one row near 1000 and one near 0", _FAR_APART),
]


def _tf(fn_name: str, z: np.ndarray) -> np.ndarray:
    tf = tensorflow()
    return getattr(tf.nn, fn_name)(tf.constant(z, tf.float64), axis=-1).numpy()


def _softmax_shifted_by(z: np.ndarray, shift: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(z - shift)
        return e / e.sum(axis=-1, keepdims=True)


def _log_softmax_shifted_by(z: np.ndarray, shift: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        s = z - shift
        return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _wrong_shifts(z: np.ndarray, make: Callable[[np.ndarray, Any], np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """What the usual wrong shifts compute on z (with their overflows), and what to say."""
    out = [(make(z, z.min(axis=-1, keepdims=True)),
            "you shifted by the row *minimum*: on a row spanning more than 709 the largest exponent "
            "is still above 709 and e^z overflows. Subtract each row's maximum (np.max(z, axis=-1, keepdims=True))."),
           (make(z, 0.0), "exp overflowed (or underflowed to 0 everywhere): subtract each row's maximum first.")]
    if z.ndim == 2:
        out.insert(0, (make(z, z.max()),
                       "you shifted by the maximum of the whole batch (np.max(z) without axis): a row whose "
                       "maximum is far below it underflows to all zeros, and 0/0 = NaN. Shift each row by "
                       "its own maximum: np.max(z, axis=-1, keepdims=True)."))
    return out


def _raw(out: Any) -> np.ndarray | None:
    """The answer as a float64 array without judging it (None when it is not numeric)."""
    if out is None or callable(out) or isinstance(out, (str, bytes, dict, set)):
        return None
    try:
        raw = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return raw


def _name_non_finite(out: Any, z: np.ndarray, name: str, make: Callable[[np.ndarray, Any], np.ndarray]) -> None:
    """A non-finite answer that matches a known wrong shift (NaN/inf in the same places) is named."""
    raw = _raw(out)
    if raw is None or raw.shape != z.shape or np.all(np.isfinite(raw)):
        return
    for wrong, explanation in _wrong_shifts(z, make):
        same_pattern = np.array_equal(np.isfinite(wrong), np.isfinite(raw)) and np.array_equal(
            np.where(np.isfinite(raw), 0.0, raw), np.where(np.isfinite(wrong), 0.0, wrong), equal_nan=True)
        finite = np.isfinite(raw)
        if same_pattern and np.allclose(raw[finite], wrong[finite], rtol=1e-4, atol=1e-6):
            fail(f"{name} contains {'NaN' if np.isnan(raw).any() else 'inf'}: {explanation}")


@exercise("0.1", "numerically stable softmax", "stable softmax matches tf.nn.softmax, also on [1000, 1001]")
def ex_0_1(softmax) -> None:
    for label, z in _CASES:
        out = call(softmax, z, name="softmax")
        expected = _tf("softmax", z)
        name = f"softmax({label})"
        raw = _raw(out)
        if raw is not None and raw.shape == z.shape and z.ndim == 2 and np.all(np.isfinite(raw)):
            if not np.allclose(raw.sum(axis=-1), 1.0, atol=1e-4) and np.allclose(raw.sum(axis=0), 1.0, atol=1e-4):
                fail(f"{name}: the columns sum to 1, the rows do not — normalise along the last axis "
                     "(axis=-1, keepdims=True).")
        _name_non_finite(out, z, name, _softmax_shifted_by)
        assert_close(
            out, expected, name, rtol=1e-6, atol=1e-12,
            hints=[(np.exp(z - z.max(axis=-1, keepdims=True)),
                    "the values do not sum to 1 — divide by the sum of the exponentials.")],
        )


@exercise("0.2", "numerically stable log-softmax", "stable log-softmax matches tf.nn.log_softmax, no -inf")
def ex_0_2(log_softmax) -> None:
    cases = _CASES + [("[0, -1000]", np.array([0.0, -1000.0]))]
    for label, z in cases:
        out = call(log_softmax, z, name="log_softmax")
        expected = _tf("log_softmax", z)
        name = f"log_softmax({label})"
        raw = _raw(out)
        if raw is not None and raw.shape == z.shape and np.isneginf(raw).any():
            with np.errstate(divide="ignore"):
                log_of_softmax = np.log(_softmax_shifted_by(z, z.max(axis=-1, keepdims=True)))
            if np.array_equal(np.isneginf(raw), np.isneginf(log_of_softmax)):
                fail(f"{name} contains -inf: the log of a probability that underflowed to 0. "
                     "Compute z − max(z) − log Σ exp(z − max(z)) instead of log(softmax(z)).")
        _name_non_finite(out, z, name, _log_softmax_shifted_by)
        shifted = z - z.max(axis=-1, keepdims=True)
        assert_close(
            out, expected, name, rtol=1e-7, atol=1e-9,
            hints=[(shifted, "you shifted by the maximum but forgot to subtract log Σ exp(z − max z).")],
        )
