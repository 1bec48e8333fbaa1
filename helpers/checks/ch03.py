"""Checks for chapter 03 (gradient descent and its variants).

Oracles: closed forms and TensorFlow autodiff for plain gradient descent and the regression
gradient; the TensorFlow update kernels of :mod:`helpers.kernels.optimizers` (themselves tested
against ``keras.optimizers``) for every update rule, compared step by step over several steps.
The wrong variants below are written here only to recognise a known mistake and name it.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from helpers import tensorflow
from helpers.checks import (_parameter_names, as_array, assert_close, call, exercise, fail,
                            precision, require, unpack)

# --------------------------------------------------------------------------- 3.1 plain GD


def _gd_oracle(f_tf: Callable, x0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Iterates x_0 .. x_steps of x <- x - lr grad f(x), the gradient by tf.GradientTape."""
    tf = tensorflow()
    x = tf.Variable(np.asarray(x0, dtype=np.float64))
    out = [x.numpy().copy()]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            y = f_tf(x)
        x.assign_sub(lr * tape.gradient(y, x))
        out.append(x.numpy().copy())
    return np.array(out)


def _matvec(A: np.ndarray, x: Any) -> Any:
    """A x for a NumPy x, and for a TF tensor or variable (an answer may keep x in a tf.Variable)."""
    if hasattr(getattr(x, "dtype", None), "as_numpy_dtype"):
        tf = tensorflow()
        return tf.linalg.matvec(tf.constant(A, x.dtype), x)
    return A @ x


@exercise("3.1", "gradient descent iterates", "gradient descent iterates match (0.7 → 0.49 → 0.343 …)")
def ex_3_1(gradient_descent) -> None:
    tf = tensorflow()
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    cases = [
        ("y = x², x₀ = 0.7, α = 0.15", lambda x: 2 * x, lambda x: x**2, 0.7, 0.15, 10),
        ("y = (x − 3)², x₀ = −1, α = 0.4", lambda x: 2 * (x - 3), lambda x: (x - 3) ** 2, -1.0, 0.4, 6),
        ("y = ½ xᵀAx, x₀ = [1, −2], α = 0.1", lambda x: _matvec(A, x),
         lambda x: 0.5 * tf.reduce_sum(x * tf.linalg.matvec(tf.constant(A), x)), np.array([1.0, -2.0]), 0.1, 8),
    ]
    for label, grad, f_tf, x0, lr, steps in cases:
        out = call(gradient_descent, grad, x0 if np.isscalar(x0) else x0.copy(), lr, steps,
                   name="gradient_descent")
        expected = _gd_oracle(f_tf, x0, lr, steps)
        if out is not None and not isinstance(out, (str, dict)):
            try:
                shape = np.shape(out)
            except Exception:  # ragged
                shape = None
            if shape is not None and shape[:1] == (steps,):
                fail(f"for {label} with steps={steps} you returned {steps} iterates; return steps + 1 "
                     "of them, starting with x₀ itself.")
            if shape == expected.shape[1:] or shape == ():
                fail(f"for {label} you returned one value; return the whole sequence x₀, x₁, …, x_steps.")
        x0a = np.asarray(x0, dtype=float)
        x, ascent_list = x0a, [x0a]
        for _ in range(steps):
            x = x + lr * grad(x)
            ascent_list.append(x)
        frozen = [x0a - k * lr * grad(x0a) for k in range(steps + 1)]
        assert_close(
            out, expected, f"iterates for {label}", rtol=1e-9, atol=1e-12,
            hints=[(np.array(ascent_list), "the iterates move uphill: subtract α·f′(x), do not add it."),
                   (np.array(frozen), "every step uses the gradient at x₀; evaluate the gradient at the "
                                      "current x inside the loop.")],
            index_names=["step"] if expected.ndim == 1 else ["step", "coordinate"],
        )


# --------------------------------------------------------------------------- 3.2 MSE gradient


def _regression_problem(seed: int, n: int, d: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 + 0.3 * rng.standard_normal(n)
    return X, y, rng.standard_normal(d), float(rng.standard_normal())


def _mse_grad_tf(X, y, w, b):
    tf = tensorflow()
    wv, bv = tf.Variable(w), tf.Variable(b, dtype=tf.float64)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.linalg.matvec(tf.constant(X), wv) + bv - y))
    dw, db = tape.gradient(loss, [wv, bv])
    return dw.numpy(), float(db.numpy())


@exercise("3.2", "gradient of the mean squared error", "MSE gradient matches tf.GradientTape (2/N, once)")
def ex_3_2(mse_gradient) -> None:
    for seed, n, d in [(0, 50, 3), (1, 7, 1), (2, 200, 5)]:
        X, y, w, b = _regression_problem(seed, n, d)
        out = unpack(call(mse_gradient, X.copy(), y.copy(), w.copy(), b, name="mse_gradient"),
                     "mse_gradient", ["dw", "db"])
        dw_true, db_true = _mse_grad_tf(X, y, w, b)
        r = X @ w + b - y
        label = f"(N = {n}, {d} features)"
        hints_w = [(2 * X.T @ r / n**2, "divided by N twice: the mean already contains 1/N, so the gradient is (2/N) Xᵀr with r = Xw + b − y, with 1/N once."),
                   (X.T @ r / n, "off by a factor 2: d/dr of r² is 2r, so the gradient is (2/N) Xᵀr."),
                   (2 * X.T @ r, "this is the gradient of the SUM of squares; the loss is the mean, so divide by N (once)."),
                   (2 * X.T @ (y - X @ w - b) / n, "sign flipped: with r = Xw + b − y the gradient is +(2/N) Xᵀr.")]
        assert_close(out[0], dw_true, f"dw {label}", rtol=1e-8, atol=1e-12, hints=hints_w, factors={"1/N": 1 / n})
        hints_b = [(2 * r.sum() / n**2, "db is divided by N twice: it is (2/N) Σ r_i."),
                   (r.sum() / n, "db is off by a factor 2: it is (2/N) Σ r_i."),
                   (2 * r.sum(), "db is the gradient of the sum of squares; divide by N once."),
                   (-2 * r.sum() / n, "db has the wrong sign: it is +(2/N) Σ r_i with r = Xw + b − y.")]
        db = as_array(out[1], f"db {label}")
        if db.size != 1:
            fail(f"db {label} should be one number (the bias is a scalar), got shape {db.shape} — "
                 "sum the residuals over the examples.")
        # compared in the shape and dtype given (a float32 db is judged at float32 precision)
        assert_close(out[1], np.full(db.shape, db_true), f"db {label}", rtol=1e-8, atol=1e-12,
                     hints=[(np.full(db.shape, v), text) for v, text in hints_b], factors={"1/N": 1 / n})


# --------------------------------------------------------------------------- 3.3 mini-batches


@exercise("3.3", "mini-batches reshuffled every epoch",
          "mini-batches: fixed size, every example once per epoch, a new order every epoch")
def ex_3_3(minibatch_indices) -> None:
    for n, bs in [(103, 10), (64, 16), (5, 8), (33, 8)]:  # 33 = 4·8 + 1: a last batch of one
        rng = np.random.default_rng(7)
        epochs, compositions = [], []
        for epoch in range(3):
            out = call(minibatch_indices, n, bs, rng, name="minibatch_indices")
            if out is None:
                fail("minibatch_indices returned None — return a list of index arrays.")
            if isinstance(out, np.ndarray) and out.ndim == 1:
                fail("return a LIST of index arrays (one per mini-batch), not one flat array.")
            if isinstance(out, (str, bytes, dict)) or not hasattr(out, "__len__"):
                fail(f"return a list of index arrays, got {type(out).__name__}.")
            batches = [as_array(b, f"batch {k}", allow_int=True) for k, b in enumerate(out)]
            if any(b.ndim != 1 for b in batches):
                fail("each mini-batch should be a 1-D array of example indices.")
            if any(np.any(b != np.round(b)) for b in batches):
                fail("indices must be whole numbers.")
            sizes = [len(b) for b in batches]
            flat = np.concatenate(batches).astype(int) if batches else np.array([], int)
            label = f"n = {n}, batch_size = {bs}, epoch {epoch + 1}"
            require(np.all((flat >= 0) & (flat < n)), f"{label}: indices must lie in 0 … {n - 1}.")
            if len(batches) and all(b[0] == 0 for b in batches) and len(set(sizes)) > 1:
                fail(f"{label}: every batch starts at index 0 and has a random length — a random slice "
                     "end is not a mini-batch; shuffle the indices and cut them into consecutive pieces.")
            if len(flat) != len(set(flat.tolist())):
                fail(f"{label}: some examples appear twice in one epoch (sampling with replacement?); "
                     "use a permutation so each example is used exactly once per epoch.")
            require(len(flat) == n, f"{label}: the batches hold {len(flat)} indices; an epoch must visit "
                                    f"all {n} examples exactly once (keep the last, smaller batch).")
            full = -(-n // bs)
            expected_sizes = [bs] * (n // bs) + ([n % bs] if n % bs else [])
            require(sizes == expected_sizes,
                    f"{label}: batch sizes {sizes[:6]}{'…' if len(sizes) > 6 else ''} — expected {full} batches "
                    f"of exactly {bs} (only the last may be smaller).")
            epochs.append(flat)
            compositions.append(sorted(tuple(sorted(b.astype(int).tolist())) for b in batches))
        if n > 1:
            if all(np.array_equal(e, np.arange(n)) for e in epochs):
                fail("the examples come in their stored order; shuffle them (rng.permutation(n)).")
            if np.array_equal(epochs[0], epochs[1]) and np.array_equal(epochs[1], epochs[2]):
                fail("every epoch has the same order: shuffle anew each epoch with the rng you are given "
                     "(do not create a new, fixed-seed generator inside the function).")
        if n > bs and all(c == compositions[0] for c in compositions):
            fail(f"n = {n}, batch_size = {bs}: the mini-batches hold the same examples in every epoch (only "
                 "the order changes); shuffle all n indices each epoch (rng.permutation(n)), then cut them "
                 "into consecutive pieces.")
    # the generator passed in must drive the shuffle (reproducibility)
    a = call(minibatch_indices, 50, 10, np.random.default_rng(3), name="minibatch_indices")
    b = call(minibatch_indices, 50, 10, np.random.default_rng(3), name="minibatch_indices")
    c = call(minibatch_indices, 50, 10, np.random.default_rng(4), name="minibatch_indices")
    cat = lambda z: np.concatenate([np.asarray(v) for v in z])  # noqa: E731
    require(np.array_equal(cat(a), cat(b)), "two generators with the same seed gave different batches: "
                                            "shuffle with the rng argument only (rng.permutation(n)).")
    require(not np.array_equal(cat(a), cat(c)), "different seeds gave the same batches: shuffle with the rng argument.")


# --------------------------------------------------------------------------- update rules

_P0 = np.array([[0.8, -1.2, 0.3], [1.5, -0.4, 2.0]])


def _start(shape: tuple[int, ...]) -> np.ndarray:
    """The parameters every rule starts from, for a parameter tensor of this shape."""
    if tuple(shape) == _P0.shape:
        return _P0.copy()
    return np.random.default_rng(sum(shape) + 40).uniform(-2.0, 2.0, shape)


def _gradients(seed: int, scales: list[float], shape: tuple[int, ...] = _P0.shape) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [s * rng.standard_normal(shape) for s in scales]


# large gradients first, then small ones: running maxima and moving averages rise, then fall
_SCALES = [2.0, 1.5, 1.0, 0.6, 0.3, 0.2, 0.1, 0.05]
# gradients of the size of ε (0.01), rising and falling: ε's place in the formula shows, and the
# maximum in Adamax / AMSGrad switches between the old value and the new gradient
_SMALL = [0.02, 0.005, 0.01, 0.001, 0.015, 0.002, 0.0005, 0.008]


def _kernel_path(rule: str, grads: list[np.ndarray], hyper: dict) -> list[np.ndarray]:
    from helpers.kernels import RULES

    p, state, out = _start(grads[0].shape), {}, []
    for g in grads:
        p, state = RULES[rule](p, g, state, **hyper)
        out.append(np.asarray(p.numpy(), dtype=np.float64))
    return out


def _numpy_path(rule: Callable, grads: list[np.ndarray], hyper: dict) -> list[np.ndarray]:
    """Trajectory of a (wrong) NumPy variant, used only to recognise a mistake."""
    p, s, out = _start(grads[0].shape), {}, []
    with np.errstate(all="ignore"):
        for t, g in enumerate(grads, start=1):
            p = rule(p, g, s, t, **hyper)
            out.append(p.copy())
    return out


def _call_step(step: Callable, name: str, args: tuple, hyper: dict, *, params_inplace: bool = False) -> Any:
    """``call(step, params, second, state, **hyper)``. The state dict may be updated in place (the
    chapter allows returning the updated dict); ``params`` may not, unless ``params_inplace``
    (exercise 3.5), and an array in second place (the gradients) never. The result is read from
    what ``step`` returns, never from the arrays passed in. (Arguments are matched by position:
    the student may name them as they like.)"""
    names = [n.strip("`") for n in _parameter_names(step, 3)]
    allowed = {names[2]} | ({names[0]} if params_inplace else set())
    return call(step, *args, name=name, inplace=allowed, **hyper)


def _student_path(step: Callable, name: str, grads: list[np.ndarray], hyper: dict) -> tuple[list[np.ndarray], bool]:
    """The student's parameters after every step, and whether any of them was float32."""
    p0 = _start(grads[0].shape)
    params, state, out, single = p0.copy(), {}, [], False
    for t, g in enumerate(grads, start=1):
        result = _call_step(step, name, (params, g.copy(), state), hyper)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail(f"{name} should return a pair (new_params, new_state); at step {t} it returned "
                 f"{type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
                 + ".")
        params, state = result
        if not isinstance(state, dict):
            fail(f"the state returned at step {t} is a {type(state).__name__}; return the dict of "
                 "accumulators (and the step counter) so the next call can continue from it.")
        single = single or precision(params) == "float32"
        params = as_array(params, f"parameters after step {t}", p0.shape)
        out.append(params.copy())
        params = params.copy()
    return out, single


def _compare_paths(student: list, expected: list, label: str, hints: list[tuple[list, str]],
                   rtol: float = 1e-4, single: bool = False) -> None:
    """Step by step: the displacement from the start must match. A float64 answer within 1e-7 of
    the displacement; a float32 one within ``rtol`` plus 1e-6 absolute (float32 rounding of |θ| ≈ 1)."""
    p0 = _start(expected[0].shape)
    rtol, atol = (rtol, 1e-6) if single else (min(rtol, 1e-7), 1e-12)
    for t, (ps, pe) in enumerate(zip(student, expected), start=1):
        d_s, d_e = ps - p0, pe - p0
        scale = np.abs(d_e).max() + 1e-300
        if np.abs(d_s - d_e).max() <= rtol * scale + atol:
            continue
        best, best_text = (0, 0.0), ""
        hint_rtol = max(1e-6, rtol) if single else 1e-9
        for wrong_path, explanation in hints:  # the known mistake that explains the most steps
            agree, closeness = 0, 0.0
            for k in range(t - 1, len(student)):
                d_w, d_k = wrong_path[k] - p0, student[k] - p0
                size = np.abs(d_w).max() + 1e-300
                if not (np.all(np.isfinite(d_w)) and np.abs(d_k - d_w).max() <= hint_rtol * size + atol):
                    break
                if k == t - 1:
                    closeness = -np.abs(d_k - d_w).max() / size
                agree += 1
            if agree and (agree, closeness) > best:
                best, best_text = (agree, closeness), explanation
        if best_text:
            fail(f"{label}, step {t}: {best_text}")
        if np.allclose(d_s, -d_e, rtol=max(rtol, 1e-6), atol=atol):
            fail(f"{label}, step {t}: the parameters move the wrong way — a sign flipped (subtract the step).")
        if not d_s.any():
            fail(f"{label}, step {t}: the parameters did not move at all — is the step multiplied by zero "
                 "(an accumulator that starts at 0 in a numerator)?")
        ratio = np.median(np.abs(d_s) / (np.abs(d_e) + 1e-300))
        where = np.unravel_index(int(np.argmax(np.abs(d_s - d_e))), d_e.shape)
        fail(f"{label}: the parameters first differ from the reference at step {t} "
             f"(entry {tuple(int(i) for i in where)}: moved {d_s[where]:.6g} from the start, expected "
             f"{d_e[where]:.6g}; typical ratio {ratio:.4g})" + (" — right at the first step: check the formula "
                                                                "and the initial state." if t == 1 else
                                                                " — the first step is right: check what you keep "
                                                                "in the state between calls (accumulators, t)."))


def _check_rule(step: Callable, name: str, rule: str, settings: list[tuple[str, dict, list]],
                wrong: dict[str, tuple[Callable, str]], rtol: float = 1e-4) -> None:
    for label, hyper, grads in settings:
        expected = _kernel_path(rule, grads, hyper)
        student, single = _student_path(step, name, grads, hyper)
        hints = [(_numpy_path(fn, grads, hyper), text) for fn, text in wrong.values()]
        _compare_paths(student, expected, f"{name} with {label}", hints, rtol=rtol, single=single)


# -- wrong variants (NumPy, one tensor; s is this call's accumulator dict; t counts from 1)

def _w_sgd(p, g, s, t, learning_rate, **_):
    return p - learning_rate * g


def _w_momentum_ema(p, g, s, t, learning_rate, momentum):
    s["v"] = momentum * s.get("v", 0.0) + (1 - momentum) * g
    return p - learning_rate * s["v"]


MOMENTUM_WRONG = {
    "sgd": (_w_sgd, "this is plain gradient descent — the velocity is not carried over between calls "
                    "(keep it in the state dict)."),
    "ema": (_w_momentum_ema, "you averaged the gradients with a (1 − μ) factor; the heavy ball keeps "
                             "v ← μv − ηg (a sum, not an average)."),
}


@exercise("3.4", "momentum (heavy ball)", "momentum matches the helpers kernel / keras SGD(momentum) for 8 steps")
def ex_3_4(momentum_step) -> None:
    g = _gradients(1, [1.0] * 8)
    _check_rule(momentum_step, "momentum_step", "momentum",
                [("η = 0.1, μ = 0.9", dict(learning_rate=0.1, momentum=0.9), g),
                 ("η = 0.05, μ = 0.5 (5 parameters)", dict(learning_rate=0.05, momentum=0.5), _gradients(2, _SCALES, (5,)))],
                MOMENTUM_WRONG)


# -- Nesterov: the student's rule is the look-ahead form, the kernel the shifted (Keras) form

_A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 4.0]])


def _test_grad(theta: np.ndarray) -> np.ndarray:
    """Gradient of f(θ) = ½ Σ_rows θ_r A θ_rᵀ + Σ sin θ (a non-quadratic test function)."""
    theta = np.asarray(theta, dtype=np.float64)
    return theta @ _A + np.cos(theta)


def _nesterov_oracle(lr: float, mu: float, steps: int, shape: tuple[int, ...] = _P0.shape) -> list[np.ndarray]:
    """θ_t = φ_t − μ v_t where (φ, v) follow the kernel (Keras form, gradient at φ)."""
    from helpers.kernels import nesterov_update

    phi, state, out = _start(shape), {}, []
    for _ in range(steps):
        phi, state = nesterov_update(phi, _test_grad(np.asarray(phi)), state, learning_rate=lr, momentum=mu)
        phi = phi.numpy()
        out.append(phi - mu * state["velocity"][0].numpy())
    return out


def _nesterov_path(lr: float, mu: float, steps: int, at: str, shape: tuple[int, ...] = _P0.shape) -> list[np.ndarray]:
    theta = _start(shape)
    v, out = np.zeros_like(theta), []
    if at == "keras":  # the shifted form: returns the stored point φ, not θ
        for _ in range(steps):
            g = _test_grad(theta)
            v = mu * v - lr * g
            theta = theta + mu * v - lr * g
            out.append(theta.copy())
        return out
    for _ in range(steps):
        point = {"current": theta, "behind": theta - mu * v, "ahead": theta + mu * v}[at]
        v = mu * v - lr * _test_grad(point)
        theta = theta + v
        out.append(theta.copy())
    return out


@exercise("3.5", "Nesterov momentum", "Nesterov (gradient at the look-ahead point) matches the helpers kernel for 8 steps")
def ex_3_5(nesterov_step) -> None:
    # two shapes (a hard-coded one fails); params may be updated in place here (the task allows
    # it), so the check reads only what nesterov_step returns
    for lr, mu, shape in [(0.05, 0.9, _P0.shape), (0.1, 0.5, (4, 3))]:
        calls: list[np.ndarray] = []

        def grad_fn(theta):
            calls.append(np.array(theta, dtype=float, copy=True))
            return _test_grad(theta)

        expected = _nesterov_oracle(lr, mu, 8, shape)
        params, state, student, single = _start(shape), {}, [], False
        for t in range(1, 9):
            calls.clear()
            result = _call_step(nesterov_step, "nesterov_step", (params, grad_fn, state),
                                dict(learning_rate=lr, momentum=mu), params_inplace=True)
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                fail("nesterov_step should return a pair (new_params, new_state).")
            params, state = result
            if not isinstance(state, dict):
                fail(f"the state returned at step {t} is a {type(state).__name__}; return a dict.")
            single = single or precision(params) == "float32"
            params = as_array(params, f"parameters after step {t}", shape).copy()
            student.append(params)
            if t == 1 and not calls:
                fail("grad_fn was never called: compute the gradient with grad_fn(point).")
        hints = [(_nesterov_path(lr, mu, 8, "current", shape),
                  "the gradient is taken at the current point θ — that is classical momentum. Nesterov "
                  "evaluates it at the look-ahead point θ + μv."),
                 (_nesterov_path(lr, mu, 8, "behind", shape),
                  "the look-ahead went backwards (θ − μv); with v ← μv − ηg it is θ + μv."),
                 (_nesterov_path(lr, mu, 8, "keras", shape),
                  "this is Keras's shifted form (p + μv − ηg with the gradient at the stored point); here "
                  "params is θ itself: take the gradient at θ + μv and return θ + v.")]
        _compare_paths(student, expected, f"nesterov_step with η = {lr}, μ = {mu}", hints, rtol=1e-6, single=single)


# -- Adagrad

def _w_adagrad_zero(p, g, s, t, learning_rate, initial_accumulator_value, epsilon):
    s["a"] = s.get("a", 0.0) + g**2
    return p - learning_rate * g / np.sqrt(s["a"] + epsilon)


def _w_adagrad_nosqrt(p, g, s, t, learning_rate, initial_accumulator_value, epsilon):
    s["a"] = s.get("a", initial_accumulator_value) + g**2
    return p - learning_rate * g / (s["a"] + epsilon)


def _w_adagrad_eps_out(p, g, s, t, learning_rate, initial_accumulator_value, epsilon):
    s["a"] = s.get("a", initial_accumulator_value) + g**2
    return p - learning_rate * g / (np.sqrt(s["a"]) + epsilon)


def _w_adagrad_noeps(p, g, s, t, learning_rate, initial_accumulator_value, epsilon):
    s["a"] = s.get("a", initial_accumulator_value) + g**2
    return p - learning_rate * g / np.sqrt(s["a"])


def _w_adagrad_current(p, g, s, t, learning_rate, initial_accumulator_value, epsilon):
    a = s.get("a", initial_accumulator_value)
    s["a"] = a + g**2
    return p - learning_rate * g / np.sqrt(a + epsilon)


@exercise("3.6", "Adagrad", "Adagrad matches the helpers kernel / keras Adagrad for 8 steps")
def ex_3_6(adagrad_step) -> None:
    _check_rule(adagrad_step, "adagrad_step", "adagrad",
                [("η = 0.1 (Keras's accumulator start 0.1)", dict(learning_rate=0.1, initial_accumulator_value=0.1, epsilon=1e-7), _gradients(3, _SCALES)),
                 ("η = 0.5, accumulator start 1.0 (4 parameters)", dict(learning_rate=0.5, initial_accumulator_value=1.0, epsilon=1e-7), _gradients(4, [1.0] * 8, (4,))),
                 # ε large next to the accumulated squares: tells √(a + ε) from √a + ε
                 ("small gradients, accumulator start 0, ε = 0.01", dict(learning_rate=0.01, initial_accumulator_value=0.0, epsilon=1e-2), _gradients(18, [0.01] * 6))],
                {"zero": (_w_adagrad_zero, "the accumulator must start at initial_accumulator_value (Keras: 0.1), not 0."),
                 "nosqrt": (_w_adagrad_nosqrt, "divide by the square ROOT of the accumulated squares."),
                 "stale": (_w_adagrad_current, "add g² to the accumulator before using it in this step's update."),
                 "eps_out": (_w_adagrad_eps_out, "ε belongs inside the square root, √(a + ε) (Keras's convention), not √a + ε."),
                 "noeps": (_w_adagrad_noeps, "ε is missing: divide by √(a + ε), with ε inside the square root.")})


# -- RMSProp

def _w_rms_noavg(p, g, s, t, learning_rate, rho, epsilon):
    s["v"] = rho * s.get("v", 0.0) + g**2
    return p - learning_rate * g / np.sqrt(s["v"] + epsilon)


def _w_rms_nosqrt(p, g, s, t, learning_rate, rho, epsilon):
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g**2
    return p - learning_rate * g / (s["v"] + epsilon)


def _w_rms_swapped(p, g, s, t, learning_rate, rho, epsilon):
    s["v"] = learning_rate * s.get("v", 0.0) + (1 - learning_rate) * g**2
    return p - rho * g / np.sqrt(s["v"] + epsilon)


def _w_rms_eps_out(p, g, s, t, learning_rate, rho, epsilon):
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g**2
    return p - learning_rate * g / (np.sqrt(s["v"]) + epsilon)


def _w_rms_noeps(p, g, s, t, learning_rate, rho, epsilon):
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g**2
    return p - learning_rate * g / np.sqrt(s["v"])


def _w_rms_sum(p, g, s, t, learning_rate, rho, epsilon):
    s["v"] = s.get("v", 0.0) + g**2
    return p - learning_rate * g / np.sqrt(s["v"] + epsilon)


@exercise("3.7", "RMSProp", "RMSProp matches the helpers kernel / keras RMSprop for 8 steps")
def ex_3_7(rmsprop_step) -> None:
    _check_rule(rmsprop_step, "rmsprop_step", "rmsprop",
                [("η = 0.01, ρ = 0.9", dict(learning_rate=0.01, rho=0.9, epsilon=1e-7), _gradients(5, _SCALES)),
                 ("η = 0.001, ρ = 0.7 (3 × 1 parameters)", dict(learning_rate=0.001, rho=0.7, epsilon=1e-7), _gradients(6, [1.0] * 8, (3, 1))),
                 # ε large next to v: tells √(v + ε) from √v + ε
                 ("small gradients, ε = 0.001", dict(learning_rate=0.001, rho=0.9, epsilon=1e-3), _gradients(19, [0.01] * 6))],
                {"noavg": (_w_rms_noavg, "the new g² needs the weight (1 − ρ): v ← ρv + (1 − ρ)g²."),
                 "nosqrt": (_w_rms_nosqrt, "divide by the square ROOT of the moving average, √(v + ε)."),
                 "swapped": (_w_rms_swapped, "learning rate and decay ρ are swapped: ρ ≈ 0.9 is the decay of "
                                             "the average, η ≈ 0.001 the step size."),
                 "sum": (_w_rms_sum, "this is Adagrad (a growing sum); RMSProp keeps a decaying average."),
                 "eps_out": (_w_rms_eps_out, "ε belongs inside the square root, √(v + ε) (Keras's convention), not √v + ε."),
                 "noeps": (_w_rms_noeps, "ε is missing: divide by √(v + ε), with ε inside the square root.")})


# -- Adadelta (no learning rate)

def _adadelta_common(p, g, s, rho, epsilon, lr=1.0, scale_accum=False, num=None, den=None):
    s["eg"] = rho * s.get("eg", 0.0) + (1 - rho) * g**2
    ed = s.get("ed", 0.0)
    numerator = np.sqrt(ed + epsilon) if num is None else num(ed, epsilon)
    denominator = np.sqrt(s["eg"] + epsilon) if den is None else den(s["eg"], epsilon)
    d = -numerator / denominator * g
    d_acc = lr * d if scale_accum else d
    s["ed"] = rho * s.get("ed", 0.0) + (1 - rho) * d_acc**2
    return p + lr * d


def _w_adadelta_lr(p, g, s, t, rho, epsilon):
    return _adadelta_common(p, g, s, rho, epsilon, lr=1e-3)


def _w_adadelta_lr_acc(p, g, s, t, rho, epsilon):
    return _adadelta_common(p, g, s, rho, epsilon, lr=1e-3, scale_accum=True)


def _w_adadelta_rmsprop(p, g, s, t, rho, epsilon):
    s["eg"] = rho * s.get("eg", 0.0) + (1 - rho) * g**2
    return p - 1e-3 * g / np.sqrt(s["eg"] + epsilon)


def _w_adadelta_current(p, g, s, t, rho, epsilon):
    s["eg"] = rho * s.get("eg", 0.0) + (1 - rho) * g**2
    ed_old = s.get("ed", 0.0)
    # uses E[Δθ²] updated with the previous step only after computing: numerator at t, not t−1
    d_guess = -np.sqrt(ed_old + epsilon) / np.sqrt(s["eg"] + epsilon) * g
    ed_new = rho * ed_old + (1 - rho) * d_guess**2
    d = -np.sqrt(ed_new + epsilon) / np.sqrt(s["eg"] + epsilon) * g
    s["ed"] = rho * ed_old + (1 - rho) * d**2
    return p + d


def _w_adadelta_num_out(p, g, s, t, rho, epsilon):
    return _adadelta_common(p, g, s, rho, epsilon, num=lambda e, eps: np.sqrt(e) + eps)


def _w_adadelta_den_out(p, g, s, t, rho, epsilon):
    return _adadelta_common(p, g, s, rho, epsilon, den=lambda e, eps: np.sqrt(e) + eps)


def _w_adadelta_den_noeps(p, g, s, t, rho, epsilon):
    return _adadelta_common(p, g, s, rho, epsilon, den=lambda e, eps: np.sqrt(e))


ADADELTA_WRONG = {
    "lr": (_w_adadelta_lr, "the steps are 1000× too small: Adadelta has no learning rate (Zeiler's rule "
                           "is Δθ = −RMS[Δθ]ₜ₋₁ / RMS[g]ₜ · gₜ, nothing else multiplies it)."),
    "lr_acc": (_w_adadelta_lr_acc, "a learning rate scales the steps: Adadelta has no learning rate."),
    "rmsprop": (_w_adadelta_rmsprop, "this is RMSProp (η g / RMS[g]); Adadelta replaces η by RMS[Δθ]ₜ₋₁, "
                                     "the running RMS of its own previous updates."),
    "current": (_w_adadelta_current, "the numerator must use E[Δθ²] from the PREVIOUS step (t − 1); "
                                     "update it only after the step is taken."),
    "num_out": (_w_adadelta_num_out, "ε belongs inside the square root in the numerator too: RMS[Δθ]ₜ₋₁ = "
                                     "√(E[Δθ²]ₜ₋₁ + ε) (it sets the size of the first steps)."),
    "den_out": (_w_adadelta_den_out, "ε belongs inside the square root in the denominator: RMS[g]ₜ = √(E[g²]ₜ + ε)."),
    "den_noeps": (_w_adadelta_den_noeps, "ε is missing in the denominator: RMS[g]ₜ = √(E[g²]ₜ + ε)."),
}


@exercise("3.8", "Adadelta (no learning rate)",
          "Adadelta matches the helpers kernel / keras Adadelta(learning_rate=1) for 8 steps")
def ex_3_8(adadelta_step) -> None:
    _check_rule(adadelta_step, "adadelta_step", "adadelta",
                [("ρ = 0.95, ε = 1e-6", dict(rho=0.95, epsilon=1e-6), _gradients(7, _SCALES)),
                 ("ρ = 0.9, ε = 1e-4 (4 parameters)", dict(rho=0.9, epsilon=1e-4), _gradients(8, [1.0] * 8, (4,))),
                 # gradients of the size of √ε: tells √(E + ε) from √E + ε and a missing ε
                 ("small gradients, ρ = 0.9, ε = 1e-4", dict(rho=0.9, epsilon=1e-4), _gradients(21, _SMALL))],
                ADADELTA_WRONG, rtol=1e-5)


# -- Adam family

def _adam_core(p, g, s, t, learning_rate, beta_1, beta_2, epsilon, *, bias=True, paper_eps=False,
               eps_on_param=False, amsgrad=False, eps_sqrt=False):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    v = s["v"]
    if amsgrad:
        s["vh"] = np.maximum(s.get("vh", 0.0), s["v"])
        v = s["vh"]
    if not bias:
        return p - learning_rate * s["m"] / (np.sqrt(v) + epsilon)
    if paper_eps:
        return p - learning_rate * (s["m"] / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + epsilon)
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    if eps_on_param:
        return p - alpha * s["m"] / np.sqrt(v) + epsilon
    if eps_sqrt:
        return p - alpha * s["m"] / np.sqrt(v + epsilon)
    return p - alpha * s["m"] / (np.sqrt(v) + epsilon)


def _w_adam_nobias(p, g, s, t, **h):
    return _adam_core(p, g, s, t, **h, bias=False)


def _w_adam_swapped(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    return _adam_core(p, g, s, t, learning_rate, beta_2, beta_1, epsilon)


def _w_adam_paper_eps(p, g, s, t, **h):
    return _adam_core(p, g, s, t, **h, paper_eps=True)


def _w_adam_frozen(p, g, s, t, **h):
    return _adam_core(p, g, s, 1, **h)


def _w_adam_frozen_eps(p, g, s, t, **h):
    return _adam_core(p, g, s, 1, **h, eps_on_param=True)


def _w_adam_eps_param(p, g, s, t, **h):
    return _adam_core(p, g, s, t, **h, eps_on_param=True)


def _w_adam_noeps(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    return _adam_core(p, g, s, t, learning_rate, beta_1, beta_2, 0.0)


def _w_adam_eps_sqrt(p, g, s, t, **h):
    return _adam_core(p, g, s, t, **h, eps_sqrt=True)


def _w_adam_m_only(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    return p - learning_rate * (s["m"] / (1 - beta_1**t)) / (np.sqrt(s["v"]) + epsilon)


ADAM_WRONG = {
    "nobias": (_w_adam_nobias, "no bias correction: m and v start at 0, so divide them by (1 − β₁ᵗ) and "
                               "(1 − β₂ᵗ) (Keras: α_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ))."),
    "swapped": (_w_adam_swapped, "β₁ and β₂ are swapped: β₁ (0.9) averages the gradient m, β₂ (0.999) the "
                                 "squared gradient v."),
    "paper_eps": (_w_adam_paper_eps, "this is the paper's form m̂ / (√v̂ + ε); Keras adds ε̂ to √v BEFORE the "
                                     "bias correction: p ← p − α_t m / (√v + ε) with α_t = η√(1−β₂ᵗ)/(1−β₁ᵗ)."),
    "frozen": (_w_adam_frozen, "the step counter is frozen at t = 1: increment t in the state every call "
                               "(bias correction depends on it)."),
    "frozen_eps": (_w_adam_frozen_eps, "ε is added to the parameter and the step counter is frozen: ε belongs "
                                       "in the denominator and t must grow every call."),
    "eps_param": (_w_adam_eps_param, "ε is added to the parameter; it belongs in the denominator, √v + ε."),
    "m_only": (_w_adam_m_only, "only m is bias-corrected; v needs (1 − β₂ᵗ) too."),
    "noeps": (_w_adam_noeps, "ε is missing: p ← p − α_t m / (√v + ε)."),
    "eps_sqrt": (_w_adam_eps_sqrt, "ε is added under the square root; Adam adds it to the root: √v + ε."),
}

_ADAM_SETTINGS = [
    ("Keras defaults (η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-7)",
     dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7), _gradients(9, _SCALES)),
    ("η = 0.05, β₁ = 0.8, β₂ = 0.95, ε = 1e-7 (5 parameters)",
     dict(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-7), _gradients(10, _SCALES, (5,))),
    # ε comparable to the gradients: tells Keras's ε̂ form from the paper's
    ("small gradients and ε = 0.01 (ε̂ form)", dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=0.01),
     _gradients(11, [0.01] * 6)),
]


@exercise("3.9", "Adam", "Adam (bias correction, Keras's ε̂ form) matches the helpers kernel / keras Adam")
def ex_3_9(adam_step) -> None:
    _check_rule(adam_step, "adam_step", "adam", _ADAM_SETTINGS, ADAM_WRONG)


def _w_adamax_noabs(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), g)
    return p - learning_rate * s["m"] / ((1 - beta_1**t) * (s["u"] + epsilon))


def _w_adamax_nobias(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), np.abs(g))
    return p - learning_rate * s["m"] / (s["u"] + epsilon)


def _w_adamax_ubias(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), np.abs(g))
    return p - learning_rate * s["m"] / ((1 - beta_1**t) * (s["u"] / (1 - beta_2**t) + epsilon))


def _w_adamax_adam(p, g, s, t, **h):
    return _adam_core(p, g, s, t, **h)


def _adamax_u(s, g, beta_2, add=0.0):
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), np.abs(g) + add)
    return s["u"]


def _w_adamax_noeps(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    u = _adamax_u(s, g, beta_2)
    return p - learning_rate * s["m"] / ((1 - beta_1**t) * u)


def _w_adamax_eps_param(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    u = _adamax_u(s, g, beta_2)
    return p - learning_rate * s["m"] / ((1 - beta_1**t) * u) + epsilon


def _w_adamax_eps_in_max(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    u = _adamax_u(s, g, beta_2, add=epsilon)
    return p - learning_rate * s["m"] / ((1 - beta_1**t) * u)



@exercise("3.10", "Adamax", "Adamax (u = max(β₂u, |g|)) matches the helpers kernel / keras Adamax for 8 steps")
def ex_3_10(adamax_step) -> None:
    _check_rule(adamax_step, "adamax_step", "adamax",
                [("η = 0.002, β₁ = 0.9, β₂ = 0.999", dict(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-7), _gradients(12, _SCALES)),
                 ("η = 0.05, β₁ = 0.8, β₂ = 0.9 (5 parameters)", dict(learning_rate=0.05, beta_1=0.8, beta_2=0.9, epsilon=1e-7), _gradients(13, _SCALES, (5,))),
                 # gradients of the size of ε: ε's place shows (and β₂ = 0.9 lets the maximum switch)
                 ("small gradients, β₂ = 0.9, ε = 0.01", dict(learning_rate=0.01, beta_1=0.9, beta_2=0.9, epsilon=0.01), _gradients(22, _SMALL))],
                {"noabs": (_w_adamax_noabs, "take the maximum of β₂u and |g| — the absolute value is missing."),
                 "noeps": (_w_adamax_noeps, "ε is missing: divide by (1 − β₁ᵗ)(u + ε)."),
                 "eps_param": (_w_adamax_eps_param, "ε is added to the parameter; it belongs in the denominator, u + ε."),
                 "eps_in_max": (_w_adamax_eps_in_max, "ε went into the maximum, max(β₂u, |g| + ε); it is added after it: "
                                                     "m / ((1 − β₁ᵗ)(u + ε)) with u = max(β₂u, |g|)."),
                 "nobias": (_w_adamax_nobias, "m needs its bias correction 1/(1 − β₁ᵗ) (u does not: a maximum is not biased toward 0)."),
                 "ubias": (_w_adamax_ubias, "u is not bias-corrected: only m is divided by (1 − β₁ᵗ)."),
                 "adam": (_w_adamax_adam, "this is Adam; Adamax replaces √v by the infinity norm u ← max(β₂u, |g|).")})


def _w_ams_nomax(p, g, s, t, **h):
    return _adam_core(p, g, s, t, **h)


def _w_ams_paper(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    s["vh"] = np.maximum(s.get("vh", 0.0), s["v"])
    return p - learning_rate * s["m"] / (np.sqrt(s["vh"]) + epsilon)


def _w_ams_max_of_corrected(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    s["vh"] = np.maximum(s.get("vh", 0.0), s["v"] / (1 - beta_2**t))
    return p - learning_rate * (s["m"] / (1 - beta_1**t)) / (np.sqrt(s["vh"]) + epsilon)


def _ams_v_hat(s, g, beta_1, beta_2):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    s["vh"] = np.maximum(s.get("vh", 0.0), s["v"])
    return s["m"], s["vh"]


def _w_ams_noeps(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    m, vh = _ams_v_hat(s, g, beta_1, beta_2)
    return p - learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / np.sqrt(vh)


def _w_ams_eps_sqrt(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    m, vh = _ams_v_hat(s, g, beta_1, beta_2)
    return p - learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / np.sqrt(vh + epsilon)


def _w_ams_paper_eps(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    m, vh = _ams_v_hat(s, g, beta_1, beta_2)
    return p - learning_rate * (m / (1 - beta_1**t)) / (np.sqrt(vh / (1 - beta_2**t)) + epsilon)


def _w_ams_max_replaces_v(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = np.maximum(s.get("v", 0.0), beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2)
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return p - alpha * s["m"] / (np.sqrt(s["v"]) + epsilon)


@exercise("3.11", "AMSGrad", "AMSGrad (running max of v) matches the helpers kernel / keras Adam(amsgrad=True)")
def ex_3_11(amsgrad_step) -> None:
    _check_rule(amsgrad_step, "amsgrad_step", "amsgrad",
                [("η = 0.01, β₁ = 0.9, β₂ = 0.99", dict(learning_rate=0.01, beta_1=0.9, beta_2=0.99, epsilon=1e-7), _gradients(14, _SCALES)),
                 ("η = 0.05, β₁ = 0.8, β₂ = 0.9 (5 parameters)", dict(learning_rate=0.05, beta_1=0.8, beta_2=0.9, epsilon=1e-7), _gradients(15, _SCALES, (5,))),
                 # gradients of the size of ε, rising and falling: ε's place shows, and so does the maximum
                 ("small gradients, ε = 0.01", dict(learning_rate=0.01, beta_1=0.9, beta_2=0.9, epsilon=0.01), _gradients(23, _SMALL))],
                {"noeps": (_w_ams_noeps, "ε is missing: p ← p − α_t m / (√v̂ + ε)."),
                 "eps_sqrt": (_w_ams_eps_sqrt, "ε is added under the square root; it is added to the root: √v̂ + ε."),
                 "paper_eps": (_w_ams_paper_eps, "ε is added after the bias correction (the paper's form m̂/(√(v̂ₜ/(1−β₂ᵗ)) + ε)); "
                                                 "Keras, as in its Adam, adds ε to √v̂ before it: α_t m / (√v̂ + ε)."),
                 "nomax": (_w_ams_nomax, "this is plain Adam: AMSGrad divides by the running maximum v̂ ← max(v̂, v), "
                                         "kept in the state."),
                 "paper": (_w_ams_paper, "this is the paper's AMSGrad without bias correction; Keras keeps Adam's α_t = "
                                         "η√(1−β₂ᵗ)/(1−β₁ᵗ) and takes the max of the uncorrected v."),
                 "corrected": (_w_ams_max_of_corrected, "the maximum is taken over bias-corrected v̂ₜ; Keras takes "
                                                        "it over the raw moving averages v and corrects afterwards."),
                 "replaces": (_w_ams_max_replaces_v, "the maximum replaced v itself; keep v as Adam's moving average "
                                                     "and the maximum v̂ in a separate accumulator.")})


_NADAM_DECAY = 0.96


def _w_nadam_constant(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    m_hat = beta_1 * s["m"] / (1 - beta_1 ** (t + 1)) + (1 - beta_1) * g / (1 - beta_1**t)
    return p - learning_rate * m_hat / (np.sqrt(s["v"] / (1 - beta_2**t)) + epsilon)


def _w_nadam_adam(p, g, s, t, **h):
    return _adam_core(p, g, s, t, **h)


def _w_nadam_no_g(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    mu_next = beta_1 * (1 - 0.5 * _NADAM_DECAY ** (t + 1))
    s["prod"] = s.get("prod", 1.0) * beta_1 * (1 - 0.5 * _NADAM_DECAY**t)
    m_hat = mu_next * s["m"] / (1 - s["prod"] * mu_next)
    return p - learning_rate * m_hat / (np.sqrt(s["v"] / (1 - beta_2**t)) + epsilon)


def _nadam_moments(g, s, t, beta_1, beta_2):
    """Keras's Nadam moments, updated in ``s``; returns the momentum term m̄ of step t."""
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    mu_t = beta_1 * (1 - 0.5 * _NADAM_DECAY**t)
    mu_next = beta_1 * (1 - 0.5 * _NADAM_DECAY ** (t + 1))
    prod = s.get("prod", 1.0) * mu_t
    s["prod"] = prod
    return mu_next * s["m"] / (1 - prod * mu_next) + (1 - mu_t) * g / (1 - prod)


def _w_nadam_eps_hat(p, g, s, t, learning_rate, beta_1, beta_2, epsilon):
    m_bar = _nadam_moments(g, s, t, beta_1, beta_2)
    return p - learning_rate * np.sqrt(1 - beta_2**t) * m_bar / (np.sqrt(s["v"]) + epsilon)


def _w_nadam_eps(p, g, s, t, learning_rate, beta_1, beta_2, epsilon, *, where):
    m_bar = _nadam_moments(g, s, t, beta_1, beta_2)
    v_hat = s["v"] / (1 - beta_2**t)
    denominator = {"none": np.sqrt(v_hat), "sqrt": np.sqrt(v_hat + epsilon)}[where]
    return p - learning_rate * m_bar / denominator


def _w_nadam_noeps(p, g, s, t, **h):
    return _w_nadam_eps(p, g, s, t, **h, where="none")


def _w_nadam_eps_sqrt(p, g, s, t, **h):
    return _w_nadam_eps(p, g, s, t, **h, where="sqrt")


@exercise("3.12", "Nadam (Dozat)", "Nadam (Dozat's form, Keras's momentum schedule) matches the helpers kernel / keras Nadam")
def ex_3_12(nadam_step) -> None:
    _check_rule(nadam_step, "nadam_step", "nadam",
                [("Keras defaults", dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7), _gradients(16, _SCALES)),
                 ("η = 0.05, β₁ = 0.8, β₂ = 0.95 (5 parameters)", dict(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-7), _gradients(17, _SCALES, (5,))),
                 # ε comparable to the gradients: tells ε added to √v̂ (Keras's Nadam) from Adam's ε̂ form
                 ("small gradients and ε = 0.01", dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=0.01), _gradients(20, [0.01] * 6))],
                {"adam": (_w_nadam_adam, "this is Adam: Nadam mixes the look-ahead momentum μₜ₊₁ m̂ with the current "
                                         "gradient term (1 − μₜ) g / (1 − Πμ)."),
                 "constant": (_w_nadam_constant, "a constant μ = β₁; Keras uses Dozat's schedule μₜ = β₁(1 − ½·0.96ᵗ) "
                                                 "with the products Π μ in the corrections."),
                 "no_g": (_w_nadam_no_g, "the current-gradient term (1 − μₜ) gₜ / (1 − Π₁ᵗ μ) is missing."),
                 "eps_hat": (_w_nadam_eps_hat, "ε is added to √v before the bias correction (Adam's ε̂ form); Keras's "
                                               "Nadam adds it to the corrected √v̂ₜ = √(v/(1 − β₂ᵗ))."),
                 "noeps": (_w_nadam_noeps, "ε is missing: divide by √v̂ₜ + ε."),
                 "eps_sqrt": (_w_nadam_eps_sqrt, "ε is added under the square root; Keras's Nadam adds it to the root: √v̂ₜ + ε.")})
