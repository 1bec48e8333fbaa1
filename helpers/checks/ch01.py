"""Checks for chapter 01 (tensors, autodiff and TensorFlow): axes, broadcasting, reductions,
first and second derivatives with GradientTape, and a linear fit by gradient descent."""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers import tensorflow
from helpers.checks import ExerciseFailed, as_array, assert_close, call, exercise, fail, random_inputs, require, unpack


# --------------------------------------------------------------------------- 1.1
@exercise("1.1", "time-major to batch-major", "[s, b, n] → [b, s, n] with the elements in the right places")
def ex_1_1(to_batch_major) -> None:
    tf = tensorflow()
    for s, b, n in [(5, 3, 4), (2, 6, 1), (7, 1, 3)]:
        x = np.arange(s * b * n, dtype=np.float32).reshape(s, b, n)
        out = call(to_batch_major, tf.constant(x), name="to_batch_major")
        expected = np.transpose(x, (1, 0, 2))
        assert_close(
            out, expected, f"to_batch_major of a [s={s}, b={b}, n={n}] tensor", rtol=0, atol=0,
            hints=[(x.reshape(b, s, n), "the shape is right but the elements are scrambled: reshape keeps "
                    "the element order (it re-reads the same numbers in a new shape); swapping axes needs "
                    "tf.transpose(x, perm=[1, 0, 2]).")],
        )


# --------------------------------------------------------------------------- 1.2
def _standardize_cases() -> list[np.ndarray]:
    """Two data matrices of different N and d (a hard-coded size fails one of them), columns on
    very different scales and offsets (a shared mean or standard deviation is visibly wrong)."""
    rng = np.random.default_rng(12)
    A = rng.standard_normal((6, 4)) * np.array([1.0, 10.0, 0.1, 3.0]) + np.array([5.0, -2.0, 0.0, 100.0])
    B = rng.standard_normal((9, 3)) * np.array([0.5, 4.0, 20.0]) + np.array([-7.0, 1.0, 30.0])
    return [A, B]


@exercise("1.2", "standardise features", "each feature (column) has mean 0 and standard deviation 1")
def ex_1_2(standardize) -> None:
    for X in _standardize_cases():
        N, d = X.shape
        out = call(standardize, X, name="standardize")
        expected = (X - X.mean(axis=0)) / X.std(axis=0)
        by_row = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
        whole = (X - X.mean()) / X.std()
        sample_std = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
        centred_only = X - X.mean(axis=0)
        assert_close(
            out, expected, f"standardize(X) for X of shape ({N}, {d})", rtol=1e-6, atol=1e-9,
            hints=[
                (by_row, "you standardised each row (example). Features are the columns: reduce over axis 0 "
                         "(the batch axis) with keepdims=True."),
                (whole, "you used one mean and one standard deviation for the whole matrix; each feature "
                        "(column) needs its own: reduce over axis=0 only."),
                (sample_std, "you divided by the sample standard deviation (ddof=1); use the population one "
                             "(np.std / tf.math.reduce_std default, ddof=0)."),
                (centred_only, "you subtracted the mean but did not divide by the standard deviation."),
            ],
            index_names=["row", "column"],
        )


# --------------------------------------------------------------------------- 1.4
_FUNCTIONS = [
    ("x**3", lambda tf: (lambda x: x ** 3), lambda x: 3 * x ** 2, lambda x: 6 * x),
    ("x·sin(x)", lambda tf: (lambda x: x * tf.sin(x)),
     lambda x: np.sin(x) + x * np.cos(x), lambda x: 2 * np.cos(x) - x * np.sin(x)),
    ("exp(-x²)", lambda tf: (lambda x: tf.exp(-x ** 2)),
     lambda x: -2 * x * np.exp(-x ** 2), lambda x: (4 * x ** 2 - 2) * np.exp(-x ** 2)),
]


@exercise("1.4", "first and second derivatives with GradientTape",
          "GradientTape first and second derivatives match the hand derivatives")
def ex_1_4(first_and_second_derivative) -> None:
    tf = tensorflow()
    grids = [np.linspace(-2.0, 2.0, 9), np.array([[-1.5, -0.3, 0.4], [0.9, 1.7, 2.5]])]   # any shape
    for (label, make_f, d1, d2), x in [(f, x) for x in grids for f in _FUNCTIONS]:
        out = call(first_and_second_derivative, make_f(tf), tf.constant(x), name="first_and_second_derivative")
        dy, d2y = unpack(out, "first_and_second_derivative", ("dy", "d2y"))
        for value, which in [(dy, "first"), (d2y, "second")]:
            if value is None:
                fail(f"the {which} derivative of {label} is None. GradientTape.gradient returns None for a "
                     "tensor it did not watch: call tape.watch(x) in each tape (a tf.constant is not watched "
                     "automatically), and compute the first derivative inside the outer tape.")
        assert_close(dy, d1(x), f"the first derivative of {label}", rtol=1e-6, atol=1e-9,
                     hints=[(d2(x), "you returned the two derivatives in the wrong order: (dy, d2y).")])
        assert_close(d2y, d2(x), f"the second derivative of {label}", rtol=1e-6, atol=1e-9,
                     hints=[(d1(x), "it equals the first derivative: differentiate dy (computed inside the "
                                    "outer tape) with the outer tape, not y again.")])


# --------------------------------------------------------------------------- 1.5
def _scalar(value: Any, name: str) -> float:
    array = as_array(value, name)
    require(array.size == 1, f"{name} should be a single number, got shape {array.shape}.")
    return float(array.reshape(-1)[0])


def _nonfinite(value: Any) -> bool:
    try:
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    except Exception:  # not numeric: as_array will say so
        return False
    return bool(array.size) and not np.all(np.isfinite(array))


# Any keras optimizer is allowed: SGD converges onto least squares, RMSprop and Adam with a constant
# learning rate η end jittering within about η/2 of it (RMSprop(0.05) ends ≈ 0.025 off).
_W_TOL, _B_TOL = 0.04, 0.06


@exercise("1.5", "linear fit with GradientTape and an optimizer",
          "w and b found by gradient descent match least squares")
def ex_1_5(fit_line) -> None:
    rng = np.random.default_rng(14)
    x2 = np.linspace(-2.0, 2.0, 20)
    y2 = 0.7 * x2 - 1.3 + 0.05 * rng.standard_normal(20)
    cases = [
        ("x=[1, 2, 3, 4], y=[0, -1, -2, -3]", np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, -1.0, -2.0, -3.0])),
        ("20 noisy points on y = 0.7x - 1.3", x2, y2),
    ]
    for label, x, y in cases:
        try:
            out = call(fit_line, x.astype(np.float32), y.astype(np.float32), name="fit_line", timeout=60)
        except ExerciseFailed as failure:
            message = str(failure)
            if "NoneType" in message:
                fail("a gradient was None. Writing `w = w - lr * grad` replaces the tf.Variable by a plain tensor "
                     "that the next tape does not watch: update in place (w.assign_sub) or with "
                     f"optimizer.apply_gradients. ({message})")
            if "_unique_id" in message or "EagerTensor" in message:
                fail("w and b must be tf.Variable objects: an optimizer can only update variables, and a tape "
                     f"watches only variables automatically. ({message})")
            raise
        w, b = unpack(out, "fit_line", ("w", "b"))
        diverged = any(_nonfinite(v) for v in (w, b))
        w, b = (np.nan, np.nan) if diverged else (_scalar(w, "w"), _scalar(b, "b"))
        w_ls, b_ls = np.polyfit(x, y, 1)
        if diverged or abs(w) > 1e3 or abs(b) > 1e3:
            fail(f"on {label} the fit diverged (w = {w:.3g}, b = {b:.3g}): a step must go against the "
                 "gradient (optimizer.apply_gradients does that), the loss must be the mean (not the sum) of the "
                 "squared errors, and the learning rate must be small enough.")
        if b == 0.0 and b_ls != 0.0:
            fail(f"on {label} b is exactly 0: the bias was never trained — make it a tf.Variable and pass it "
                 "to tape.gradient and the optimizer together with w.")
        if abs(w - w_ls) > _W_TOL or abs(b - b_ls) > _B_TOL:
            fail(f"on {label} the fit is (w = {w:.3f}, b = {b:.3f}); least squares gives (w = {w_ls:.3f}, "
                 f"b = {b_ls:.3f}). Train longer (more steps, or a larger learning rate: Keras's default 0.001 "
                 "for RMSprop and Adam is slow here), or check the loss (mean squared error) and the update. "
                 "(An adaptive optimizer with a constant learning rate ends within about its learning rate "
                 "of the minimum: up to 0.05 is fine.)")


# --------------------------------------------------------------------------- 1.3
@exercise("1.3", "pairwise squared distances by broadcasting",
          "pairwise squared distances by broadcasting have shape (n, m) and the right values")
def ex_1_3(pairwise_sq_distances) -> None:
    # two (n, m, d): a hard-coded size fails one of them; n ≠ m and d ≠ n, m catch swapped axes
    for seed, (n, m, d) in [(15, (5, 4, 3)), (16, (2, 7, 6))]:
        A, B = random_inputs(seed, (n, d), (m, d))
        B = B + 0.5                                      # rows of A and B from different distributions
        out = call(pairwise_sq_distances, A, B, name="pairwise_sq_distances")
        expected = np.array([[np.sum((a - b) ** 2) for b in B] for a in A])
        assert_close(
            out, expected, f"pairwise_sq_distances(A, B) for A of shape ({n}, {d}), B of shape ({m}, {d})",
            rtol=1e-6, atol=1e-9,
            hints=[(np.sqrt(expected), "these are distances; the exercise asks for squared distances (no sqrt)."),
                   (np.sum(A[:, None, :] - B[None, :, :], axis=-1) ** 2,
                    "you summed the differences before squaring: square each coordinate's difference, then sum.")],
            index_names=["row of A", "row of B"],
        )
