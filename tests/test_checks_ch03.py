"""Chapter 03 checks: the reference answers pass; realistic wrong answers get specific hints."""
import numpy as np

from conftest import accept_tests, check_tests


# --------------------------------------------------------------------------- references
def gradient_descent(grad, x0, learning_rate, steps):
    xs = [np.asarray(x0, dtype=float)]
    for _ in range(steps):
        xs.append(xs[-1] - learning_rate * grad(xs[-1]))
    return np.array(xs)


def mse_gradient(X, y, w, b):
    r = X @ w + b - y
    n = len(y)
    return 2.0 / n * X.T @ r, 2.0 / n * r.sum()


def minibatch_indices(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def momentum_step(params, grads, state, learning_rate, momentum):
    v = momentum * state.get("v", np.zeros_like(params)) - learning_rate * grads
    return params + v, {"v": v}


def nesterov_step(params, grad_fn, state, learning_rate, momentum):
    v = state.get("v", np.zeros_like(params))
    v = momentum * v - learning_rate * grad_fn(params + momentum * v)
    return params + v, {"v": v}


def adagrad_step(params, grads, state, learning_rate, initial_accumulator_value, epsilon):
    a = state.get("a", np.full_like(params, initial_accumulator_value)) + grads**2
    return params - learning_rate * grads / np.sqrt(a + epsilon), {"a": a}


def rmsprop_step(params, grads, state, learning_rate, rho, epsilon):
    v = rho * state.get("v", np.zeros_like(params)) + (1 - rho) * grads**2
    return params - learning_rate * grads / np.sqrt(v + epsilon), {"v": v}


def adadelta_step(params, grads, state, rho, epsilon):
    eg = rho * state.get("eg", np.zeros_like(params)) + (1 - rho) * grads**2
    ed = state.get("ed", np.zeros_like(params))
    delta = -np.sqrt(ed + epsilon) / np.sqrt(eg + epsilon) * grads
    ed = rho * ed + (1 - rho) * delta**2
    return params + delta, {"eg": eg, "ed": ed}


def adam_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", np.zeros_like(params)) + (1 - beta_2) * grads**2
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return params - alpha * m / (np.sqrt(v) + epsilon), {"t": t, "m": m, "v": v}


def adamax_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    u = np.maximum(beta_2 * state.get("u", np.zeros_like(params)), np.abs(grads))
    return params - learning_rate / (1 - beta_1**t) * m / (u + epsilon), {"t": t, "m": m, "u": u}


def amsgrad_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", np.zeros_like(params)) + (1 - beta_2) * grads**2
    v_hat = np.maximum(state.get("v_hat", np.zeros_like(params)), v)
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return params - alpha * m / (np.sqrt(v_hat) + epsilon), {"t": t, "m": m, "v": v, "v_hat": v_hat}


def nadam_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    mu_t = beta_1 * (1 - 0.5 * 0.96**t)
    mu_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    prod = state.get("prod", 1.0) * mu_t
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", np.zeros_like(params)) + (1 - beta_2) * grads**2
    m_hat = mu_next * m / (1 - prod * mu_next) + (1 - mu_t) * grads / (1 - prod)
    v_hat = v / (1 - beta_2**t)
    return params - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), {"t": t, "prod": prod, "m": m, "v": v}


# --------------------------------------------------------------------------- wrong answers
def gd_ascent(grad, x0, learning_rate, steps):
    xs = [np.asarray(x0, dtype=float)]
    for _ in range(steps):
        xs.append(xs[-1] + learning_rate * grad(xs[-1]))
    return np.array(xs)


def gd_without_x0(grad, x0, learning_rate, steps):
    return gradient_descent(grad, x0, learning_rate, steps)[1:]


def gd_final_only(grad, x0, learning_rate, steps):
    return gradient_descent(grad, x0, learning_rate, steps)[-1]


def gd_frozen_gradient(grad, x0, learning_rate, steps):
    x0 = np.asarray(x0, dtype=float)
    g = grad(x0)
    return np.array([x0 - k * learning_rate * g for k in range(steps + 1)])


def mse_over_n_twice(X, y, w, b):
    r = X @ w + b - y
    n = len(y)
    return 2.0 / n * (X.T @ r) / n, 2.0 / n * r.sum() / n


def mse_without_2(X, y, w, b):
    r = X @ w + b - y
    return X.T @ r / len(y), r.sum() / len(y)


def mse_sum(X, y, w, b):
    r = X @ w + b - y
    return 2 * X.T @ r, 2 * r.sum()


def mse_sign(X, y, w, b):
    dw, db = mse_gradient(X, y, w, b)
    return -dw, -db


def mse_db_vector(X, y, w, b):
    r = X @ w + b - y
    return 2.0 / len(y) * X.T @ r, 2.0 / len(y) * r


def random_slice_end(n, batch_size, rng):
    return [np.arange(rng.integers(1, n + 1)) for _ in range(max(1, n // batch_size))]


def no_shuffle(n, batch_size, rng):
    order = np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def shuffled_once(n, batch_size, rng):
    order = np.random.default_rng(0).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def with_replacement(n, batch_size, rng):
    idx = rng.integers(0, n, size=n)
    return [idx[i:i + batch_size] for i in range(0, n, batch_size)]


def drop_last(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def flat_permutation(n, batch_size, rng):
    return rng.permutation(n)


def momentum_forgets(params, grads, state, learning_rate, momentum):
    v = -learning_rate * grads
    return params + v, {}


def momentum_ema(params, grads, state, learning_rate, momentum):
    v = momentum * state.get("v", 0.0) + (1 - momentum) * grads
    return params - learning_rate * v, {"v": v}


def momentum_ascent(params, grads, state, learning_rate, momentum):
    v = momentum * state.get("v", 0.0) + learning_rate * grads
    return params + v, {"v": v}


def nesterov_current_point(params, grad_fn, state, learning_rate, momentum):
    v = momentum * state.get("v", np.zeros_like(params)) - learning_rate * grad_fn(params)
    return params + v, {"v": v}


def nesterov_behind(params, grad_fn, state, learning_rate, momentum):
    v = state.get("v", np.zeros_like(params))
    v = momentum * v - learning_rate * grad_fn(params - momentum * v)
    return params + v, {"v": v}


def adagrad_from_zero(params, grads, state, learning_rate, initial_accumulator_value, epsilon):
    a = state.get("a", np.zeros_like(params)) + grads**2
    return params - learning_rate * grads / np.sqrt(a + epsilon), {"a": a}


def adagrad_no_sqrt(params, grads, state, learning_rate, initial_accumulator_value, epsilon):
    a = state.get("a", np.full_like(params, initial_accumulator_value)) + grads**2
    return params - learning_rate * grads / (a + epsilon), {"a": a}


def rmsprop_swapped(params, grads, state, learning_rate, rho, epsilon):
    return rmsprop_step(params, grads, state, learning_rate=rho, rho=learning_rate, epsilon=epsilon)


def rmsprop_no_one_minus_rho(params, grads, state, learning_rate, rho, epsilon):
    v = rho * state.get("v", np.zeros_like(params)) + grads**2
    return params - learning_rate * grads / np.sqrt(v + epsilon), {"v": v}


def rmsprop_is_adagrad(params, grads, state, learning_rate, rho, epsilon):
    v = state.get("v", np.zeros_like(params)) + grads**2
    return params - learning_rate * grads / np.sqrt(v + epsilon), {"v": v}


def adadelta_with_lr(params, grads, state, rho, epsilon, learning_rate=1e-3):
    eg = rho * state.get("eg", np.zeros_like(params)) + (1 - rho) * grads**2
    ed = state.get("ed", np.zeros_like(params))
    delta = -np.sqrt(ed + epsilon) / np.sqrt(eg + epsilon) * grads
    ed = rho * ed + (1 - rho) * delta**2
    return params + learning_rate * delta, {"eg": eg, "ed": ed}


def adadelta_as_rmsprop(params, grads, state, rho, epsilon):
    eg = rho * state.get("eg", np.zeros_like(params)) + (1 - rho) * grads**2
    return params - 1e-3 * grads / np.sqrt(eg + epsilon), {"eg": eg}


def adadelta_numerator_now(params, grads, state, rho, epsilon):
    eg = rho * state.get("eg", np.zeros_like(params)) + (1 - rho) * grads**2
    ed_old = state.get("ed", np.zeros_like(params))
    guess = -np.sqrt(ed_old + epsilon) / np.sqrt(eg + epsilon) * grads
    ed_new = rho * ed_old + (1 - rho) * guess**2
    delta = -np.sqrt(ed_new + epsilon) / np.sqrt(eg + epsilon) * grads
    return params + delta, {"eg": eg, "ed": rho * ed_old + (1 - rho) * delta**2}


def adam_no_bias_correction(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    return params - learning_rate * m / (np.sqrt(v) + epsilon), {"m": m, "v": v}


def adam_swapped_betas(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return adam_step(params, grads, state, learning_rate, beta_2, beta_1, epsilon)


def adam_paper_epsilon(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return params - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), {"t": t, "m": m, "v": v}


def adam_frozen_t_eps_on_param(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = 1  # the step counter never advances
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return params - learning_rate * m_hat / np.sqrt(v_hat) + epsilon, {"m": m, "v": v}


def adam_frozen_t(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    new, s = adam_step(params, grads, {k: v for k, v in state.items() if k != "t"}, learning_rate,
                       beta_1, beta_2, epsilon)
    s.pop("t")
    return new, s


def adam_t_from_zero(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0)  # used before incrementing: 1 - beta**0 = 0
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    with np.errstate(all="ignore"):
        alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        return params - alpha * m / (np.sqrt(v) + epsilon), {"t": t + 1, "m": m, "v": v}


def adam_float_state_reused(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    # mutates and returns the same dict but forgets to store m: momentum lost
    t = state.get("t", 0) + 1
    m = (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    state.update(t=t, v=v)
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return params - alpha * m / (np.sqrt(v) + epsilon), state


def adamax_no_abs(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    u = np.maximum(beta_2 * state.get("u", 0.0), grads)
    return params - learning_rate / (1 - beta_1**t) * m / (u + epsilon), {"t": t, "m": m, "u": u}


def adamax_u_corrected(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    u = np.maximum(beta_2 * state.get("u", 0.0), np.abs(grads))
    return params - learning_rate / (1 - beta_1**t) * m / (u / (1 - beta_2**t) + epsilon), {"t": t, "m": m, "u": u}


def amsgrad_without_max(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return adam_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon)


def amsgrad_paper(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    v_hat = np.maximum(state.get("v_hat", 0.0), v)
    return params - learning_rate * m / (np.sqrt(v_hat) + epsilon), {"m": m, "v": v, "v_hat": v_hat}


def nadam_is_adam(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return adam_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon)


def nadam_constant_momentum(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    m_hat = beta_1 * m / (1 - beta_1 ** (t + 1)) + (1 - beta_1) * grads / (1 - beta_1**t)
    return params - learning_rate * m_hat / (np.sqrt(v / (1 - beta_2**t)) + epsilon), {"t": t, "m": m, "v": v}


def nadam_frozen_product(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    new, s = nadam_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon)
    s["prod"] = state.get("prod", 1.0)  # forgets to carry the product of mu's forward
    return new, s


# review additions: ε placement, fixed batch composition, Keras's Nesterov form, named slips
def shuffle_within_fixed_batches(n, batch_size, rng):
    return [rng.permutation(np.arange(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]


def nesterov_keras_form(params, grad_fn, state, learning_rate, momentum):
    g = grad_fn(params)
    v = momentum * state.get("v", np.zeros_like(params)) - learning_rate * g
    return params + momentum * v - learning_rate * g, {"v": v}


def adagrad_eps_outside_root(params, grads, state, learning_rate, initial_accumulator_value, epsilon):
    a = state.get("a", np.full_like(params, initial_accumulator_value)) + grads**2
    return params - learning_rate * grads / (np.sqrt(a) + epsilon), {"a": a}


def rmsprop_eps_outside_root(params, grads, state, learning_rate, rho, epsilon):
    v = rho * state.get("v", np.zeros_like(params)) + (1 - rho) * grads**2
    return params - learning_rate * grads / (np.sqrt(v) + epsilon), {"v": v}


def rmsprop_no_sqrt(params, grads, state, learning_rate, rho, epsilon):
    v = rho * state.get("v", np.zeros_like(params)) + (1 - rho) * grads**2
    return params - learning_rate * grads / (v + epsilon), {"v": v}


def adam_bias_correction_lagging(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    tc = max(t - 1, 1)  # corrects with the previous step's t
    alpha = learning_rate * np.sqrt(1 - beta_2**tc) / (1 - beta_1**tc)
    return params - alpha * m / (np.sqrt(v) + epsilon), {"t": t, "m": m, "v": v}


def adamax_sum_not_max(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    u = beta_2 * state.get("u", 0.0) + np.abs(grads)
    return params - learning_rate / (1 - beta_1**t) * m / (u + epsilon), {"t": t, "m": m, "u": u}


def nadam_eps_hat(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    mu_t = beta_1 * (1 - 0.5 * 0.96**t)
    mu_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    prod = state.get("prod", 1.0) * mu_t
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    m_bar = mu_next * m / (1 - prod * mu_next) + (1 - mu_t) * grads / (1 - prod)
    step = learning_rate * np.sqrt(1 - beta_2**t) * m_bar / (np.sqrt(v) + epsilon)  # Adam's ε̂ form
    return params - step, {"t": t, "prod": prod, "m": m, "v": v}


# issue 9: ε dropped or misplaced, in-place updates of the caller's arrays, float32 answers
def adagrad_no_eps(params, grads, state, learning_rate, initial_accumulator_value, epsilon):
    a = state.get("a", np.full_like(params, initial_accumulator_value)) + grads**2
    return params - learning_rate * grads / np.sqrt(a), {"a": a}


def rmsprop_no_eps(params, grads, state, learning_rate, rho, epsilon):
    v = rho * state.get("v", np.zeros_like(params)) + (1 - rho) * grads**2
    return params - learning_rate * grads / np.sqrt(v), {"v": v}


def _adadelta(params, grads, state, rho, epsilon, numerator, denominator):
    eg = rho * state.get("eg", np.zeros_like(params)) + (1 - rho) * grads**2
    ed = state.get("ed", np.zeros_like(params))
    delta = -numerator(ed, epsilon) / denominator(eg, epsilon) * grads
    return params + delta, {"eg": eg, "ed": rho * ed + (1 - rho) * delta**2}


def adadelta_eps_outside_numerator(params, grads, state, rho, epsilon):
    return _adadelta(params, grads, state, rho, epsilon, lambda e, eps: np.sqrt(e) + eps, lambda e, eps: np.sqrt(e + eps))


def adadelta_eps_outside_denominator(params, grads, state, rho, epsilon):
    return _adadelta(params, grads, state, rho, epsilon, lambda e, eps: np.sqrt(e + eps), lambda e, eps: np.sqrt(e) + eps)


def adadelta_no_eps_numerator(params, grads, state, rho, epsilon):
    return _adadelta(params, grads, state, rho, epsilon, lambda e, eps: np.sqrt(e), lambda e, eps: np.sqrt(e + eps))


def adadelta_no_eps_denominator(params, grads, state, rho, epsilon):
    return _adadelta(params, grads, state, rho, epsilon, lambda e, eps: np.sqrt(e + eps), lambda e, eps: np.sqrt(e))


def _adam_like(params, grads, state, learning_rate, beta_1, beta_2, epsilon, denominator):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", np.zeros_like(params)) + (1 - beta_2) * grads**2
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return params - alpha * m / denominator(v, epsilon), {"t": t, "m": m, "v": v}


def adam_no_eps(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _adam_like(params, grads, state, learning_rate, beta_1, beta_2, epsilon, lambda v, eps: np.sqrt(v))


def adam_eps_under_root(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _adam_like(params, grads, state, learning_rate, beta_1, beta_2, epsilon, lambda v, eps: np.sqrt(v + eps))


def _adamax(params, grads, state, learning_rate, beta_1, beta_2, epsilon, form):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    if form == "eps_in_max":
        u = np.maximum(beta_2 * state.get("u", np.zeros_like(params)), np.abs(grads) + epsilon)
    else:
        u = np.maximum(beta_2 * state.get("u", np.zeros_like(params)), np.abs(grads))
    step = {"no_eps": lambda: learning_rate / (1 - beta_1**t) * m / u,
            "eps_in_max": lambda: learning_rate / (1 - beta_1**t) * m / u,
            "eps_on_param": lambda: learning_rate / (1 - beta_1**t) * m / u - epsilon}[form]()
    return params - step, {"t": t, "m": m, "u": u}


def adamax_no_eps(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _adamax(params, grads, state, learning_rate, beta_1, beta_2, epsilon, "no_eps")


def adamax_eps_in_max(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _adamax(params, grads, state, learning_rate, beta_1, beta_2, epsilon, "eps_in_max")


def adamax_eps_on_param(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _adamax(params, grads, state, learning_rate, beta_1, beta_2, epsilon, "eps_on_param")


def _amsgrad(params, grads, state, learning_rate, beta_1, beta_2, epsilon, form):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", np.zeros_like(params)) + (1 - beta_2) * grads**2
    v_hat = np.maximum(state.get("v_hat", np.zeros_like(params)), v)
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    new = {"no_eps": lambda: params - alpha * m / np.sqrt(v_hat),
           "under_root": lambda: params - alpha * m / np.sqrt(v_hat + epsilon),
           "paper": lambda: params - learning_rate * (m / (1 - beta_1**t)) / (np.sqrt(v_hat / (1 - beta_2**t)) + epsilon)}[form]()
    return new, {"t": t, "m": m, "v": v, "v_hat": v_hat}


def amsgrad_no_eps(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _amsgrad(params, grads, state, learning_rate, beta_1, beta_2, epsilon, "no_eps")


def amsgrad_eps_under_root(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _amsgrad(params, grads, state, learning_rate, beta_1, beta_2, epsilon, "under_root")


def amsgrad_eps_after_correction(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _amsgrad(params, grads, state, learning_rate, beta_1, beta_2, epsilon, "paper")


def _nadam(params, grads, state, learning_rate, beta_1, beta_2, epsilon, denominator):
    t = state.get("t", 0) + 1
    mu_t, mu_next = beta_1 * (1 - 0.5 * 0.96**t), beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    prod = state.get("prod", 1.0) * mu_t
    m = beta_1 * state.get("m", np.zeros_like(params)) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", np.zeros_like(params)) + (1 - beta_2) * grads**2
    m_bar = mu_next * m / (1 - prod * mu_next) + (1 - mu_t) * grads / (1 - prod)
    return params - learning_rate * m_bar / denominator(v / (1 - beta_2**t), epsilon), {"t": t, "prod": prod, "m": m, "v": v}


def nadam_no_eps(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _nadam(params, grads, state, learning_rate, beta_1, beta_2, epsilon, lambda v, eps: np.sqrt(v))


def nadam_eps_under_root(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    return _nadam(params, grads, state, learning_rate, beta_1, beta_2, epsilon, lambda v, eps: np.sqrt(v + eps))


def in_float32(step):
    """The same rule computed in float32 (parameters, gradients and state), returning float32."""
    def run(params, grads, state, **hyper):
        state32 = {k: (np.float32(v) if np.isscalar(v) and not isinstance(v, int) else
                       np.asarray(v, np.float32) if isinstance(v, np.ndarray) else v) for k, v in state.items()}
        new, new_state = step(params.astype(np.float32), grads.astype(np.float32), state32,
                              **{k: np.float32(v) for k, v in hyper.items()})
        return np.asarray(new, np.float32), new_state
    return run


def updating_params_in_place(step):
    """Writes the new parameters into the caller's array (params[...] = new) and returns it."""
    def run(params, grads, state, **hyper):
        new, new_state = step(params, grads, state, **hyper)
        params[...] = new
        return params, new_state
    return run


def updating_grads_in_place(step):
    """Scales the caller's gradient array in place while computing the step."""
    def run(params, grads, state, **hyper):
        new, new_state = step(params, grads.copy(), state, **hyper)
        grads *= 0.5
        return new, new_state
    return run


def updating_state_in_place(step):
    """Updates the state dict it was given and returns that same dict (the chapter allows it)."""
    def run(params, grads, state, **hyper):
        new, new_state = step(params, grads, dict(state), **hyper)
        state.clear()
        state.update(new_state)
        return new, state
    return run


def gd_preallocated(grad, x0, learning_rate, steps):
    x0 = np.asarray(x0, dtype=np.float64)
    out = np.empty((steps + 1,) + x0.shape)
    out[0] = x0
    for k in range(steps):
        out[k + 1] = out[k] - learning_rate * grad(out[k])
    return out


def gd_tf_variable(grad, x0, learning_rate, steps):
    import tensorflow as tf

    x = tf.Variable(x0)  # float32 for a Python float, float64 for a float64 array
    xs = [x.numpy().copy()]
    for _ in range(steps):
        x.assign_sub(learning_rate * grad(x))
        xs.append(x.numpy().copy())
    return np.array(xs)


def gd_float32_list(grad, x0, learning_rate, steps):
    xs = [np.asarray(x0, dtype=np.float32)]
    for _ in range(steps):
        xs.append((xs[-1] - np.float32(learning_rate) * grad(xs[-1])).astype(np.float32))
    return xs  # a list of iterates


def gd_in_place_on_copy(grad, x0, learning_rate, steps):
    x = np.array(x0, dtype=float)  # a copy: the caller's x0 is not touched
    xs = [x.copy()]
    for _ in range(steps):
        x -= learning_rate * grad(x)
        xs.append(x.copy())
    return np.stack(xs)


def gd_updates_x0_in_place(grad, x0, learning_rate, steps):
    x = np.asarray(x0, dtype=float)  # no copy for a float array: x IS the caller's x0
    xs = [x.copy()]
    for _ in range(steps):
        x -= learning_rate * grad(x)
        xs.append(x.copy())
    return np.array(xs)


def mse_gradient_tf32(X, y, w, b):
    import tensorflow as tf

    wv, bv = tf.Variable(w.astype(np.float32)), tf.Variable(np.float32(b))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.linalg.matvec(tf.constant(X, tf.float32), wv) + bv - y.astype(np.float32)))
    dw, db = tape.gradient(loss, [wv, bv])
    return [dw, db]  # a list of float32 tensors


def mse_gradient_einsum(X, y, w, b):
    r = np.einsum("nd,d->n", X, w) + b - y
    return np.einsum("nd,n->d", X, r) * (2 / len(y)), np.array([2 * r.mean()])  # db of shape (1,)


def mse_gradient_centres_x_in_place(X, y, w, b):
    r = X @ w + b - y
    X *= 2.0 / len(y)  # scales the caller's X
    return X.T @ r, 2.0 / len(y) * r.sum()


def minibatch_array_split(n, batch_size, rng):
    order = rng.permutation(n)
    return np.array_split(order, range(batch_size, n, batch_size))


def minibatch_shuffle_lists(n, batch_size, rng):
    order = np.arange(n)
    rng.shuffle(order)  # the same draws as rng.permutation(n)
    return [order[i:i + batch_size].tolist() for i in range(0, n, batch_size)]


def minibatch_drops_last_single(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n - 1, batch_size)]


def momentum_tf(params, grads, state, learning_rate, momentum):
    import tensorflow as tf

    v = momentum * state.get("v", tf.zeros_like(params)) - learning_rate * tf.constant(grads)
    return tf.constant(params) + v, {"v": v}


def momentum_other_convention(params, grads, state, learning_rate, momentum):
    v = momentum * state.get("v", np.zeros_like(params)) + grads
    return params - learning_rate * v, {"v": v}


def nesterov_in_place(params, grad_fn, state, learning_rate, momentum):
    v = state.get("v", np.zeros_like(params))
    v = momentum * v - learning_rate * grad_fn(params + momentum * v)
    params += v  # the task allows updating params in place
    return params, {"v": v}


def nesterov_look_ahead_in_place(params, grad_fn, state, learning_rate, momentum):
    v = state.setdefault("v", np.zeros_like(params))
    params += momentum * v            # move to the look-ahead point ...
    g = grad_fn(params)
    params -= momentum * v            # ... and back
    state["v"] = momentum * v - learning_rate * g
    params += state["v"]
    return params, state


def nesterov_float32(params, grad_fn, state, learning_rate, momentum):
    p = params.astype(np.float32)
    v = state.get("v", np.zeros_like(p))
    v = (np.float32(momentum) * v - np.float32(learning_rate) * grad_fn(p + momentum * v)).astype(np.float32)
    return p + v, {"v": v}


def adagrad_tf(params, grads, state, learning_rate, initial_accumulator_value, epsilon):
    import tensorflow as tf

    a = state.get("a", tf.fill(params.shape, tf.constant(initial_accumulator_value, tf.float64))) + tf.square(grads)
    return params - learning_rate * grads / tf.sqrt(a + epsilon), {"a": a}


def rmsprop_keras_form(params, grads, state, learning_rate, rho, epsilon):
    v = state.get("v", np.zeros_like(params))
    v = v + (1 - rho) * (grads**2 - v)  # the same average, written as Keras writes it
    return params - learning_rate * grads * (v + epsilon) ** -0.5, {"v": v}


def adadelta_rms_helper(params, grads, state, rho, epsilon):
    rms = lambda e: np.sqrt(e + epsilon)  # noqa: E731
    eg = rho * state.get("eg", 0.0) + (1 - rho) * grads**2
    delta = -(rms(state.get("ed", 0.0)) / rms(eg)) * grads
    return params + delta, {"eg": eg, "ed": rho * state.get("ed", 0.0) + (1 - rho) * delta**2}


def adam_paper_form_with_eps_hat(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    eps_paper = epsilon / np.sqrt(1 - beta_2**t)  # Keras's ε̂ rewritten in the paper's form
    return params - learning_rate * m_hat / (np.sqrt(v_hat) + eps_paper), {"t": t, "m": m, "v": v}


def adam_tf(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    import tensorflow as tf

    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", tf.zeros_like(grads)) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", tf.zeros_like(grads)) + (1 - beta_2) * tf.square(grads)
    alpha = learning_rate * tf.sqrt(tf.constant(1.0 - beta_2**t, tf.float64)) / (1.0 - beta_1**t)
    return params - alpha * m / (tf.sqrt(v) + epsilon), {"t": t, "m": m, "v": v}


def adamax_tf(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    import tensorflow as tf

    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", tf.zeros_like(grads)) + (1 - beta_1) * grads
    u = tf.maximum(beta_2 * state.get("u", tf.zeros_like(grads)), tf.abs(grads))
    return params - learning_rate * m / ((1 - beta_1**t) * (u + epsilon)), {"t": t, "m": m, "u": u}


def amsgrad_list_state(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t, m, v, v_hat = state.get("all", (0, 0.0, 0.0, 0.0))
    t += 1
    m = beta_1 * m + (1 - beta_1) * grads
    v = beta_2 * v + (1 - beta_2) * grads**2
    v_hat = np.maximum(v_hat, v)
    step = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (np.sqrt(v_hat) + epsilon)
    return [params - step, {"all": (t, m, v, v_hat)}]  # a list for the pair


def nadam_product_from_t(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    t = state.get("t", 0) + 1
    mus = beta_1 * (1 - 0.5 * 0.96 ** np.arange(1, t + 2))  # μ_1 … μ_{t+1}, recomputed every call
    prod, prod_next = np.prod(mus[:t]), np.prod(mus)
    m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grads
    v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grads**2
    m_bar = mus[t] * m / (1 - prod_next) + (1 - mus[t - 1]) * grads / (1 - prod)
    return params - learning_rate * m_bar / (np.sqrt(v / (1 - beta_2**t)) + epsilon), {"t": t, "m": m, "v": v}


REFERENCE = {
    "3.1": gradient_descent, "3.2": mse_gradient, "3.3": minibatch_indices,
    "3.4": momentum_step, "3.5": nesterov_step, "3.6": adagrad_step, "3.7": rmsprop_step,
    "3.8": adadelta_step, "3.9": adam_step, "3.10": adamax_step, "3.11": amsgrad_step,
    "3.12": nadam_step,
}

WRONG = {
    "3.1": [
        (gd_ascent, r"uphill"),
        (gd_without_x0, r"steps \+ 1.*x₀"),
        (gd_final_only, r"one value.*whole sequence"),
        (gd_frozen_gradient, r"gradient at x₀"),
        (lambda grad, x0, lr, steps: None, r"None"),
        (gd_updates_x0_in_place, r"modified its input `x0` in place"),
    ],
    "3.2": [
        (mse_over_n_twice, r"divided by N twice"),
        (mse_without_2, r"factor 2"),
        (mse_sum, r"SUM of squares"),
        (mse_sign, r"sign"),
        (mse_db_vector, r"db .*one number"),
        (lambda X, y, w, b: mse_gradient(X, y, w, b)[0], r"2 values"),
        (mse_gradient_centres_x_in_place, r"modified its input `X` in place"),
        (lambda X, y, w, b: tuple(np.float32(v) * 2 for v in mse_gradient(X, y, w, b)), r"factor of 2"),
    ],
    "3.3": [
        (random_slice_end, r"random slice end"),
        (no_shuffle, r"stored order.*shuffle"),
        (shuffled_once, r"same order.*rng"),
        (with_replacement, r"appear twice.*permutation"),
        (drop_last, r"all \d+ examples"),
        (flat_permutation, r"LIST"),
        (shuffle_within_fixed_batches, r"same examples in every epoch"),
        (minibatch_drops_last_single, r"all 33 examples"),
    ],
    "3.4": [
        (momentum_forgets, r"plain gradient descent.*velocity"),
        (momentum_ema, r"\(1 − μ\)"),
        (momentum_ascent, r"wrong way|sign"),
        (lambda p, g, s, learning_rate, momentum: (p - momentum * s.get("v", 0.0) - learning_rate * g,
                                                   {"v": -momentum * s.get("v", 0.0) - learning_rate * g}),
         r"step 2"),
        (lambda p, g, s, learning_rate, momentum: p - learning_rate * g, r"pair"),
        (lambda p, g, s, learning_rate, momentum: (p - learning_rate * g, None), r"state.*dict"),
        (updating_params_in_place(momentum_step), r"modified its input `params` in place"),
        (updating_grads_in_place(momentum_step), r"modified its input `grads` in place"),
    ],
    "3.5": [
        (nesterov_current_point, r"current point.*classical momentum.*look-ahead"),
        (nesterov_behind, r"backwards"),
        (nesterov_keras_form, r"Keras's shifted form.*θ \+ μv"),
        (lambda p, f, s, learning_rate, momentum: (p, s), r"grad_fn was never called"),
        (lambda p, f, s, learning_rate, momentum: nesterov_step(p[:2, :3].copy(), f, s, learning_rate, momentum)
         if p.shape == (2, 3) else nesterov_step(np.zeros((2, 3)), f, s, learning_rate, momentum), r"shape"),
    ],
    "3.6": [
        (adagrad_from_zero, r"start at initial_accumulator_value"),
        (adagrad_no_sqrt, r"square ROOT"),
        (adagrad_eps_outside_root, r"ε belongs inside the square root"),
        (lambda p, g, s, learning_rate, initial_accumulator_value, epsilon:
         rmsprop_step(p, g, s, learning_rate, 0.9, epsilon), r"differ|step"),
        (adagrad_no_eps, r"ε is missing"),
        (in_float32(adagrad_eps_outside_root), r"ε belongs inside the square root"),
        (updating_params_in_place(adagrad_step), r"modified its input `params` in place"),
        (updating_grads_in_place(adagrad_step), r"modified its input `grads` in place"),
    ],
    "3.7": [
        (rmsprop_swapped, r"swapped"),
        (rmsprop_no_one_minus_rho, r"\(1 − ρ\)"),
        (rmsprop_is_adagrad, r"Adagrad"),
        (rmsprop_no_sqrt, r"square ROOT"),
        (rmsprop_eps_outside_root, r"ε belongs inside the square root"),
        (rmsprop_no_eps, r"ε is missing"),
        (in_float32(rmsprop_eps_outside_root), r"ε belongs inside the square root"),
        (updating_params_in_place(rmsprop_step), r"modified its input `params` in place"),
    ],
    "3.8": [
        (adadelta_with_lr, r"no learning rate"),
        (adadelta_as_rmsprop, r"RMSProp"),
        (adadelta_numerator_now, r"PREVIOUS step"),
        (lambda p, g, s, rho, epsilon, learning_rate=1.0: adadelta_step(p, g, {}, rho, epsilon), r"state|step 2"),
        (adadelta_eps_outside_numerator, r"inside the square root in the numerator"),
        (adadelta_eps_outside_denominator, r"inside the square root in the denominator"),
        (in_float32(adadelta_eps_outside_denominator), r"inside the square root in the denominator"),
        (adadelta_no_eps_numerator, r"did not move at all"),
        (adadelta_no_eps_denominator, r"ε is missing in the denominator"),
        (updating_params_in_place(adadelta_step), r"modified its input `params` in place"),
    ],
    "3.9": [
        (adam_no_bias_correction, r"no bias correction"),
        (adam_swapped_betas, r"swapped"),
        (adam_paper_epsilon, r"paper's form.*ε̂"),
        (adam_frozen_t_eps_on_param, r"ε is added to the parameter and the step counter is frozen"),
        (adam_frozen_t, r"step counter is frozen"),
        (adam_t_from_zero, r"inf|NaN"),
        (adam_float_state_reused, r"differ.*step 2|state"),
        (adam_bias_correction_lagging, r"step 2"),
        (adam_no_eps, r"ε is missing"),
        (in_float32(adam_no_eps), r"ε is missing"),
        (adam_eps_under_root, r"ε is added under the square root"),
        (updating_params_in_place(adam_step), r"modified its input `params` in place"),
        (updating_grads_in_place(adam_step), r"modified its input `grads` in place"),
    ],
    "3.10": [
        (adamax_no_abs, r"absolute value"),
        (adamax_u_corrected, r"u is not bias-corrected"),
        (lambda p, g, s, **h: adam_step(p, g, s, **h), r"this is Adam"),
        (adamax_sum_not_max, r"step 2"),
        (adamax_no_eps, r"ε is missing"),
        (in_float32(adamax_no_eps), r"small gradients.*ε is missing"),
        (in_float32(adamax_eps_in_max), r"ε went into the maximum"),
        (adamax_eps_on_param, r"ε is added to the parameter"),
        (updating_params_in_place(adamax_step), r"modified its input `params` in place"),
    ],
    "3.11": [
        (amsgrad_without_max, r"plain Adam.*running maximum"),
        (amsgrad_paper, r"without bias correction"),
        (amsgrad_no_eps, r"ε is missing"),
        (in_float32(amsgrad_no_eps), r"small gradients.*ε is missing"),
        (amsgrad_eps_under_root, r"ε is added under the square root"),
        (amsgrad_eps_after_correction, r"ε is added after the bias correction"),
        (in_float32(amsgrad_eps_after_correction), r"ε is added after the bias correction"),
        (updating_params_in_place(amsgrad_step), r"modified its input `params` in place"),
    ],
    "3.12": [
        (nadam_is_adam, r"this is Adam"),
        (nadam_constant_momentum, r"constant μ"),
        (nadam_frozen_product, r"differ|step"),
        (nadam_eps_hat, r"ε is added to √v before the bias correction"),
        (nadam_no_eps, r"ε is missing"),
        (in_float32(nadam_eps_under_root), r"ε is added under the square root"),
        (updating_params_in_place(nadam_step), r"modified its input `params` in place"),
    ],
}

ACCEPT = {
    "3.1": [gd_preallocated, gd_tf_variable, gd_float32_list, gd_in_place_on_copy],
    "3.2": [mse_gradient_tf32, mse_gradient_einsum],
    "3.3": [minibatch_array_split, minibatch_shuffle_lists],
    "3.4": [momentum_tf, momentum_other_convention, in_float32(momentum_step), updating_state_in_place(momentum_step)],
    "3.5": [nesterov_in_place, nesterov_look_ahead_in_place, nesterov_float32],
    "3.6": [adagrad_tf, in_float32(adagrad_step), updating_state_in_place(adagrad_step)],
    "3.7": [rmsprop_keras_form, in_float32(rmsprop_step), updating_state_in_place(rmsprop_step)],
    "3.8": [adadelta_rms_helper, in_float32(adadelta_step), updating_state_in_place(adadelta_step)],
    "3.9": [adam_paper_form_with_eps_hat, adam_tf, in_float32(adam_step), updating_state_in_place(adam_step)],
    "3.10": [adamax_tf, in_float32(adamax_step), updating_state_in_place(adamax_step)],
    "3.11": [amsgrad_list_state, in_float32(amsgrad_step), updating_state_in_place(amsgrad_step)],
    "3.12": [nadam_product_from_t, in_float32(nadam_step), updating_state_in_place(nadam_step)],
}

# mutants of the solution answers that compute exactly what the exercise asks (see helpers.mutants)
EQUIVALENT = {
    "3.1": {"L4 Call dropped: np.array(xs)": "returns the list of iterates, which the exercise accepts like the stacked array "
                                             "(as_array stacks it; see gd_float32_list in ACCEPT)",
            "L1 Call dropped: np.asarray(x0, dtype=float)": "x0 is a number or a float array; the first subtraction makes "
                                                            "a new float array either way, so the iterates are the same"},
    "3.2": {"L3 Transposed right operand: 2.0 / n * X.T @ r": "r is 1-D: r.T is r",
            "L1 Transposed right operand: X @ w": "w is 1-D: w.T is w"},
    "3.5": {'L3 In place on argument params: return params + v, {"v": v}': "exercise 3.5 allows updating params in "
                                                                          "place; the check reads the returned value"},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_nesterov_oracle_is_sutskever_form():
    """The shifted kernel trajectory equals the look-ahead form computed directly."""
    from helpers.checks import ch03

    direct = ch03._nesterov_path(0.05, 0.9, 8, "ahead")  # θ + μv: the right rule
    assert np.allclose(direct, ch03._nesterov_oracle(0.05, 0.9, 8), rtol=1e-10, atol=1e-12)


def test_diabetes_loader_is_verified_and_shaped():
    from helpers import data

    X, y = data.diabetes()
    assert X.shape == (442, 10) and y.shape == (442,) and X.dtype == np.float64
    assert len(data.DIABETES_FEATURES) == 10 and 25 <= y.min() and y.max() <= 346


def test_optimizer_paths_draws_one_line_per_path():
    import matplotlib

    matplotlib.use("Agg")
    from helpers import plots

    paths = {"a": np.array([[0.0, 0.0], [0.5, 0.2]]), "b": np.array([[0.0, 0.0], [0.1, 0.4], [0.2, 0.5]])}
    fig = plots.optimizer_paths(lambda x, y: x**2 + y**2, paths, xlim=(-1, 1), ylim=(-1, 1), minimum=(0, 0))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "a" in labels and "b" in labels
