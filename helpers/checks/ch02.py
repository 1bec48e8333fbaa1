"""Checks for chapter 02 (neural networks from scratch): activations and their derivatives,
losses from logits, the softmax-cross-entropy gradient, backprop of a 2-layer network with
biases, per-element gradient checking and the perceptron rule. Oracles: TensorFlow autodiff
and TensorFlow's own activations and losses."""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers import tensorflow
from helpers.checks import as_array, assert_close, call, exercise, fail, precision, random_inputs, require, unpack


def _value_and_grad(fn, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TF value and elementwise derivative of an elementwise TF function."""
    tf = tensorflow()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
    return y.numpy(), tape.gradient(y, xt).numpy()


_X = np.concatenate([np.linspace(-6.0, -0.05, 12), np.linspace(0.05, 6.0, 12)])
_X2D = np.array([[-3.0, -0.7, -0.01, 0.02], [0.9, -1.9, 2.4, -0.2], [4.5, -5.5, 0.3, -0.04]])  # a second shape


# --------------------------------------------------------------------------- 2.1
@exercise("2.1", "ELU and its derivative", "ELU (default α = 1) and its derivative match TensorFlow")
def ex_2_1(elu) -> None:
    tf = tensorflow()
    import keras

    for x in (_X, _X2D):
        shape = f"x of shape {x.shape}"
        value, grad = unpack(call(elu, x, name="elu"), "elu", ("value", "derivative"))
        expected, expected_grad = _value_and_grad(tf.nn.elu, x)
        small = np.where(x > 0, x, 0.01 * np.expm1(x))
        assert_close(value, expected, f"elu(x) with the default α, {shape}", rtol=1e-7, atol=1e-10, hints=[
            (small, "the default α must be 1 (Clevert, Unterthiner & Hochreiter, 2016; tf.nn.elu, Keras). "
                    "α = 0.01 is a leaky-ReLU slope: with it, ELU barely goes below zero and loses its point."),
            (np.where(x > 0, x, x), "for x < 0 ELU is α(eˣ − 1), not x."),
            (np.where(x > 0, x, np.exp(x)), "for x < 0 ELU is α(eˣ − 1): you forgot the − 1."),
        ])
        assert_close(grad, expected_grad, f"the derivative of elu with the default α, {shape}", rtol=1e-7,
                     atol=1e-10, hints=[
            (np.where(x > 0, 1.0, 1.0), "for x < 0 the derivative is α eˣ, not 1 (ELU is not the identity there)."),
            (np.where(x > 0, 1.0, 0.0), "for x < 0 the derivative is α eˣ, not 0 (that is ReLU's)."),
            (np.where(x > 0, 1.0, 0.01 * np.exp(x)), "the default α must be 1, not 0.01."),
            (np.where(x > 0, 1.0, np.expm1(x)), "for x < 0 the derivative is α eˣ = ELU(x) + α: the + α is missing."),
        ])
    for alpha, x in ((0.5, _X), (2.0, _X2D)):
        value, grad = unpack(call(elu, x, alpha, name="elu"), "elu", ("value", "derivative"))
        expected, expected_grad = _value_and_grad(lambda t: keras.activations.elu(t, alpha=alpha), x)
        assert_close(value, expected, f"elu(x, alpha={alpha})", rtol=1e-7, atol=1e-10,
                     hints=[(_value_and_grad(tf.nn.elu, x)[0], "the alpha argument is ignored.")])
        assert_close(grad, expected_grad, f"the derivative of elu(x, alpha={alpha})", rtol=1e-7, atol=1e-10,
                     hints=[(np.where(x > 0, 1.0, alpha), "for x < 0 the derivative is α eˣ, not α."),
                            (np.where(x > 0, 1.0, np.exp(x)), "for x < 0 the derivative is α eˣ: the factor α is missing."),
                            (np.where(x > 0, 1.0, alpha * np.expm1(x) + 1.0),
                             "for x < 0 the derivative is α eˣ = ELU(x) + α, not ELU(x) + 1.")])


# --------------------------------------------------------------------------- 2.2
@exercise("2.2", "the derivative of Swish", "the Swish derivative matches GradientTape for β = 0.5, 1 and 2")
def ex_2_2(swish_grad) -> None:
    tf = tensorflow()
    for beta, x in ((1.0, _X), (2.0, _X), (0.5, _X), (1.7, _X2D)):
        out = call(swish_grad, x, beta, name="swish_grad")
        _, expected = _value_and_grad(lambda t: t * tf.sigmoid(beta * t), x)
        s = 1.0 / (1.0 + np.exp(-beta * x))
        assert_close(out, expected, f"swish_grad(x, beta={beta}) for x of shape {x.shape}", rtol=1e-7, atol=1e-10, hints=[
            (s, "that is σ(βx) alone: Swish is a product, x·σ(βx), so the product rule adds x · d/dx σ(βx)."),
            (s + x * s * (1 - s), "the chain rule gives d/dx σ(βx) = β σ(βx)(1 − σ(βx)): the factor β is missing."),
            (s * (1 - s) * beta, "that is the derivative of σ(βx), not of x·σ(βx)."),
        ])


# --------------------------------------------------------------------------- 2.3
_Z = np.array([[-1000.0, -30.0, -2.0, -0.5, 0.0, 0.3, 1.5, 4.0, 30.0, 1000.0]])
_Y = np.array([[1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0]])


def _bce_logits(z: np.ndarray, y: np.ndarray) -> float:
    tf = tensorflow()
    return float(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(y), logits=tf.constant(z))))


@exercise("2.3", "binary cross-entropy from logits",
          "binary cross-entropy from logits matches TensorFlow, finite for logits ±1000")
def ex_2_3(bce_with_logits) -> None:
    tf = tensorflow()
    z43 = random_inputs(23, (4, 3), scale=3.0)[0]
    y43 = (np.random.default_rng(23).random((4, 3)) > 0.5).astype(float)
    cases = [("logits from −1000 to 1000", _Z.ravel(), _Y.ravel()), ("a (4, 3) batch", z43, y43)]
    for label, z, y in cases:
        out = call(bce_with_logits, z, y, name="bce_with_logits")
        expected = _bce_logits(z, y)
        if out is not None and not callable(out):
            try:
                raw = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float64)
            except (TypeError, ValueError):
                raw = None
            if raw is not None and raw.size == 1 and not np.isfinite(raw).all():
                fail(f"on {label} the loss is {raw.ravel()[0]}: for large |z|, σ(z) rounds to 0 or 1 so log σ(z) or "
                     "log(1 − σ(z)) underflows to −∞ (or e^(−z) overflows). Use the stable form "
                     "max(z, 0) − z·y + log(1 + e^(−|z|)).")
        value = as_array(out, f"bce_with_logits on {label}")
        require(value.size == 1, f"bce_with_logits should return one number (the mean loss), got shape {value.shape}.")
        s = 1 / (1 + np.exp(-np.clip(z, -500, 500)))
        double = _bce_logits(s, y)
        total = float(tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(y), logits=tf.constant(z))))
        assert_close(value.reshape(()), expected, f"bce_with_logits on {label}", rtol=1e-6, atol=1e-9, hints=[
            (double, "this is a double sigmoid: you applied σ to the logits and then used a formula that applies σ "
                     "again (a from_logits/with-logits loss expects raw scores z, not probabilities)."),
            (total, "that is the sum over the examples; the loss is the mean."),
        ])


# --------------------------------------------------------------------------- 2.4
def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@exercise("2.4", "gradient of softmax cross-entropy",
          "∂L/∂z = (softmax(z) − y)/B matches GradientTape")
def ex_2_4(softmax_ce_grad) -> None:
    tf = tensorflow()
    large = np.array([[1000.0, 1001.0, 999.0], [-3.0, 0.5, 2.0]])       # logits that overflow exp()
    for B, K, scale in [(5, 4, 2.0), (3, 7, 30.0), (1, 3, 1.0), (2, 3, None)]:
        z = large if scale is None else random_inputs(24 + K, (B, K), scale=scale)[0]
        y = np.eye(K)[np.random.default_rng(K).integers(0, K, B)]
        zt = tf.constant(z)
        with tf.GradientTape() as tape:
            tape.watch(zt)
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=zt))
        expected = tape.gradient(loss, zt).numpy()
        out = call(softmax_ce_grad, z, y, name="softmax_ce_grad")
        if scale is None and out is not None and not callable(out):
            try:
                raw = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float64)
            except (TypeError, ValueError):
                raw = None
            if raw is not None and raw.size and not np.all(np.isfinite(raw)):
                fail("for logits [1000, 1001, 999] the gradient contains NaN or inf: exp(1000) overflows. "
                     "Use the stable softmax: subtract each row's maximum before exponentiating.")
        p = _softmax(z)
        assert_close(out, expected, f"softmax_ce_grad for a batch of shape ({B}, {K})", rtol=1e-6, atol=1e-10, hints=[
            ((y - p) / B, "the sign is flipped: ∂L/∂z = ŷ − y (prediction minus target). Check the minus sign "
                          "of −Σ y log ŷ through the chain rule."),
            (y - p, "the sign is flipped (∂L/∂z = ŷ − y) and the 1/B of the batch mean is missing."),
            (p - y, "the loss is the mean over the batch, so the gradient is (ŷ − y)/B: divide by the batch size."),
            ((p - y) / K, "divide by the batch size B (axis 0), not by the number of classes."),
            (p / B, "you dropped the − y term of ∂L/∂z = ŷ − y."),
        ], index_names=["example", "class"])


# --------------------------------------------------------------------------- 2.5
_KEYS = ("W1", "b1", "W2", "b2")


def _mlp_case(seed: int, B: int, n: int, h: int, K: int) -> tuple[np.ndarray, np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, n))
    Y = np.eye(K)[rng.integers(0, K, B)]
    params = {"W1": rng.standard_normal((n, h)) * 0.8, "b1": rng.standard_normal(h) * 0.5,
              "W2": rng.standard_normal((h, K)) * 0.8, "b2": rng.standard_normal(K) * 0.5}
    return X, Y, params


def _tf_grads(X: np.ndarray, Y: np.ndarray, params: dict) -> dict:
    tf = tensorflow()
    v = {k: tf.Variable(p) for k, p in params.items()}
    with tf.GradientTape() as tape:
        a1 = tf.nn.relu(tf.matmul(X, v["W1"]) + v["b1"])
        z2 = tf.matmul(a1, v["W2"]) + v["b2"]
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=z2))
    grads = tape.gradient(loss, v)
    return {k: g.numpy() for k, g in grads.items()}


@exercise("2.5", "backprop of a 2-layer network with biases",
          "all four gradients (W1, b1, W2, b2) match GradientTape")
def ex_2_5(backprop) -> None:
    for seed, shape in [(25, (6, 4, 5, 3)), (26, (3, 2, 7, 4))]:
        X, Y, params = _mlp_case(seed, *shape)
        out = call(backprop, X, Y, params, name="backprop")   # fails an answer that changes params
        if out is None:
            fail("backprop returned None — return a dict {'W1': ..., 'b1': ..., 'W2': ..., 'b2': ...}.")
        if not isinstance(out, dict):
            fail(f"backprop should return a dict with keys W1, b1, W2, b2, got {type(out).__name__}.")
        expected = _tf_grads(X, Y, params)
        for key in _KEYS:
            if key not in out or out[key] is None:
                if key.startswith("b"):
                    fail(f"there is no gradient for the bias {key}. Biases are parameters too and must be trained: "
                         f"∂L/∂{key} = the sum over the batch of δ{key[1]} (np.sum(delta, axis=0)).")
                fail(f"there is no gradient for {key}.")
        for key in ("b2", "b1"):
            value = np.asarray(out[key].numpy() if hasattr(out[key], "numpy") else out[key])
            if value.dtype != object and value.size and np.issubdtype(value.dtype, np.number) and not np.any(value):
                fail(f"the gradient for the bias {key} is all zeros — biases never updated. "
                     f"∂L/∂{key} is the sum over the batch of δ{key[1]}.")
        for key in ("b2", "b1"):
            shape = np.shape(out[key])
            require(shape != (1,) + params[key].shape,
                    f"the gradient for {key} has shape {shape}; it must have the shape of {key}, "
                    f"{params[key].shape}: sum δ over the batch axis without keepdims.")
        a1 = np.maximum(X @ params["W1"] + params["b1"], 0)
        wrong_sign = {k: -g for k, g in expected.items()}
        for key in ("W2", "b2", "W1", "b1"):
            hints = [(wrong_sign[key], "every gradient has the wrong sign: δ2 = ∂L/∂z2 = (ŷ − y)/B, prediction "
                                       "minus target (the sign of ∂L/∂ŷ was dropped?).")]
            if key == "b2":
                hints.append((expected["b2"] * len(X), "b2's gradient is summed over the batch of δ2 = (ŷ − y)/B: "
                                                       "the 1/B is missing."))
            if key in ("W1", "b1"):
                delta1_nomask = (_softmax(a1 @ params["W2"] + params["b2"]) - Y) / len(X) @ params["W2"].T
                hints.append((X.T @ delta1_nomask if key == "W1" else delta1_nomask.sum(axis=0),
                              "the derivative of the ReLU is missing: δ1 = (δ2 W2ᵀ) ⊙ relu'(z1), with relu'(z1) = 1[z1 > 0]."))
            assert_close(out[key], expected[key], f"the gradient for {key}", rtol=1e-6, atol=1e-10, hints=hints)


# --------------------------------------------------------------------------- 2.6
def _test_function(x: np.ndarray) -> float:
    return float(np.sum(np.sin(x) * x ** 2) + np.prod(x.ravel()[:2]) + 0.5 * np.sum(x) ** 2)


def _test_gradient(x: np.ndarray) -> np.ndarray:
    g = np.cos(x) * x ** 2 + 2 * x * np.sin(x) + np.sum(x)
    flat = g.reshape(-1)
    xs = x.reshape(-1)
    flat[0] += xs[1]
    flat[1] += xs[0]
    return g


def _restored(after: np.ndarray, original: np.ndarray) -> bool:
    """x is back where it was, up to a few ulps (x + ε − 2ε + ε need not round back exactly)."""
    return after.shape == original.shape and bool(
        np.all(np.abs(after - original) <= 4 * np.spacing(np.abs(original) + 1e-4)))


@exercise("2.6", "gradient checking with centered differences",
          "centered differences, one element at a time, match the analytic gradient", float32=False)
def ex_2_6(numerical_gradient) -> None:
    if not callable(numerical_gradient):
        call(numerical_gradient, name="numerical_gradient")     # the framework's message for a non-function
    for shape in [(3, 4), (5,), (2, 1, 3)]:
        x = random_inputs(26 + len(shape), shape)[0]
        calls = {"n": 0}

        def f(arg):
            calls["n"] += 1
            return _test_function(np.asarray(arg, dtype=np.float64))

        def run(f, x):
            # perturbing x in place is the method (inplace=True); the answer must put it back, which is
            # checked below with a tolerance of a few ulps, on the very array the answer was given
            return numerical_gradient(f, x), x

        out, x_after = call(run, f, x, name="numerical_gradient", inplace=True)
        if not _restored(x_after, x):
            fail("x was left changed after the call: restore each element after perturbing it "
                 "(x[i] = old), or perturb a copy.")
        expected = _test_gradient(x)
        if out is not None:
            try:
                raw = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float64)
            except (TypeError, ValueError):
                raw = None
            if raw is not None and raw.size > 1 and raw.shape == x.shape and np.all(np.isfinite(raw)) \
                    and np.ptp(raw) < 1e-9 * (1 + np.abs(raw).max()):
                fail("every entry is the same number: you perturbed all elements at once. That measures the "
                     "directional derivative along (1, 1, ..., 1) — the sum of the partials — not the gradient. "
                     "Perturb one element at a time.")
        value = as_array(out, f"numerical_gradient for x of shape {shape}", shape)
        require(calls["n"] >= 2 * x.size,
                f"f was called {calls['n']} times for {x.size} elements; centered differences need two calls per element.")
        error = np.max(np.abs(value - expected) / np.maximum(np.abs(value) + np.abs(expected), 1e-8))
        if 1e-7 < error < 1e-2:
            fail(f"close, but the relative error is {error:.1e}: use the centered difference "
                 "(f(x + ε eᵢ) − f(x − ε eᵢ)) / (2ε) with ε ≈ 1e-5 (error O(ε²)); a one-sided difference has error O(ε).")
        assert_close(value, expected, f"numerical_gradient for x of shape {shape}", rtol=1e-6, atol=1e-8,
                     factors={"2": 2.0, "½": 0.5, "ε": 1e-5, "1/ε": 1e5})


# --------------------------------------------------------------------------- 2.7
def _perceptron(X: np.ndarray, y: np.ndarray, epochs: int, lr: float, *, strict: bool = True,
                bias: bool = True, bias_lr: bool = True, sign: float = 1.0, batch: bool = False,
                early_stop: bool = True) -> np.ndarray:
    """The rule from w = 0, b = 0 (and its usual variants, for hints); returns [w..., b]."""
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        if batch:  # all predictions first, then one summed update: not the perceptron rule
            z = X @ w + b
            err = y - ((z > 0) if strict else (z >= 0))
            w, b = w + sign * lr * err @ X, b + sign * (lr if bias_lr else 1.0) * err.sum() * bias
            if early_stop and not err.any():
                break
            continue
        mistakes = 0
        for xi, yi in zip(X, y):
            z = xi @ w + b
            err = yi - float(z > 0 if strict else z >= 0)
            w = w + sign * lr * err * xi
            if bias:
                b = b + sign * (lr if bias_lr else 1.0) * err
            mistakes += err != 0
        if early_stop and mistakes == 0:
            break
    return np.append(w, b)


def _perceptron_cases() -> list[tuple[str, np.ndarray, np.ndarray, int, float]]:
    X2 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    rng = np.random.default_rng(27)
    Xr = rng.uniform(-1, 1, (60, 3))
    direction = np.array([0.6, -0.8, 0.3]) / np.linalg.norm([0.6, -0.8, 0.3])
    margin = Xr @ direction - 0.1
    keep = np.abs(margin) > 0.2
    Xr, yr = Xr[keep], (margin[keep] > 0).astype(float)
    X5 = rng.uniform(-1, 1, (25, 5))
    y5 = (X5 @ np.array([1.0, -0.5, 0.8, 0.2, -1.0]) + 0.3 > 0).astype(float)
    Xn = rng.uniform(-1, 1, (10, 2))
    yn = (rng.random(10) > 0.5).astype(float)
    return [("OR", X2, np.array([0.0, 1.0, 1.0, 1.0]), 100, 1.0),
            ("AND", X2, np.array([0.0, 0.0, 0.0, 1.0]), 100, 1.0),
            ("AND after exactly 3 passes (epochs=3)", X2, np.array([0.0, 0.0, 0.0, 1.0]), 3, 1.0),
            ("XOR (not separable)", X2, np.array([0.0, 1.0, 1.0, 0.0]), 7, 1.0),
            (f"{len(Xr)} linearly separable points in 3-D", Xr, yr, 100, 1.0),
            (f"the same {len(Xr)} points, 1 pass only, lr = 0.5", Xr, yr, 1, 0.5),
            ("25 points in 5-D, 4 passes, lr = 0.3", X5, y5, 4, 0.3),
            ("10 random labels in 2-D (not separable), 5 passes", Xn, yn, 5, 1.0),
            ("x = [1, −3], both of class 1 (every example a mistake in the first pass)",
             np.array([[1.0], [-3.0]]), np.array([1.0, 1.0]), 100, 1.0)]


@exercise("2.7", "the perceptron learning rule",
          "the perceptron rule from zero gives exactly the expected (w, b) on OR, AND, XOR and random data")
def ex_2_7(perceptron_train) -> None:
    for label, X, y, epochs, lr in _perceptron_cases():
        out = call(perceptron_train, X, y, epochs, lr, name="perceptron_train")
        raw_w, b = unpack(out, "perceptron_train", ("w", "b"))
        w = as_array(raw_w, f"w on {label}", (X.shape[1],))
        b_arr = as_array(b, f"b on {label}")
        require(b_arr.size == 1, f"b should be one number, got shape {b_arr.shape}.")
        got = np.append(w, b_arr.reshape(-1)[0])
        if precision(raw_w) == "float32":
            got = got.astype(np.float32)                 # compared at float32 precision
        expected = _perceptron(X, y, epochs, lr)
        more = _perceptron(X, y, epochs + 1, lr)
        fewer = _perceptron(X, y, epochs - 1, lr)
        hints = [
            (_perceptron(X, y, epochs, lr, strict=False),
             "the step is strict: ŷ = 1 only if w·x + b > 0 (at w = 0, b = 0 every example is predicted 0)."),
            (_perceptron(X, y, epochs, lr, bias=False),
             "b is never updated: update it like a weight whose input is always 1, b ← b + η(y − ŷ)."),
            (_perceptron(X, y, epochs, lr, bias_lr=False), "the bias update needs the learning rate too: b ← b + η(y − ŷ)."),
            (_perceptron(X, y, epochs, lr, sign=-1.0),
             "the update has the wrong sign: w ← w + η(y − ŷ)x (a missed positive example adds x)."),
            (_perceptron(X, y, epochs, lr, batch=True),
             "that is a batch update (all predictions first, then one summed step); the perceptron rule "
             "updates after each example, in order, so later predictions in a pass see the new w."),
        ]
        if lr != 1.0:
            hints.append((_perceptron(X, y, epochs, 1.0), "the learning rate lr is ignored."))
        if not np.allclose(more, expected):
            hints.append((more, f"that is the result of {epochs + 1} passes; `epochs` = {epochs} passes are asked for."))
        if epochs > 1 and not np.allclose(fewer, expected):
            hints.append((fewer, f"that is the result of {epochs - 1} passes; `epochs` = {epochs} passes are asked for."))
        hints = [(value, text) for value, text in hints if not np.allclose(value, expected, rtol=1e-6, atol=1e-9)]
        if np.allclose(got, 0.0) and np.any(expected):
            fail(f"on {label} w and b are still 0: no update was made (the rule is w ← w + η(y − ŷ)x, "
                 "b ← b + η(y − ŷ), for every example, in order).")
        assert_close(got, expected, f"(w, b) on {label}", rtol=1e-9, atol=1e-9, hints=hints,
                     index_names=["entry (w..., b)"])
