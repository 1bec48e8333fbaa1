"""Chapter 11 checks: the reference answers pass, realistic wrong answers get specific hints,
correct answers written differently pass.

The reference functions here are the answers of solutions/11_autoencoders_vae.ipynb.
"""
import numpy as np

from conftest import accept_tests, check_tests


def _sig(a):
    return 1 / (1 + np.exp(-a))


# --------------------------------------------------------------------------- 11.1
def principal_angles(a, b):
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    cos = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.sort(np.arccos(np.clip(cos, -1.0, 1.0)))


def angles_raw(a, b):
    s = np.linalg.svd(a.T @ b, compute_uv=False)
    return np.sort(np.arccos(np.clip(s / s.max(), -1, 1)))


def angles_cos(a, b):
    return np.sort(np.cos(principal_angles(a, b)))


def angles_degrees(a, b):
    return np.degrees(principal_angles(a, b))


def angles_descending(a, b):
    return principal_angles(a, b)[::-1]


def angles_svd_basis_f32(a, b):
    ua = np.linalg.svd(a, full_matrices=False)[0].astype(np.float32)
    ub = np.linalg.svd(b, full_matrices=False)[0].astype(np.float32)
    cos = np.linalg.svd(ua.T @ ub, compute_uv=False)
    return np.sort(np.arccos(np.minimum(cos, 1))).astype(np.float32)


def angles_tf(a, b):
    import tensorflow as tf
    qa, _ = tf.linalg.qr(tf.constant(a))
    qb, _ = tf.linalg.qr(tf.constant(b))
    s = tf.linalg.svd(tf.transpose(qa) @ qb, compute_uv=False)
    return tf.sort(tf.acos(tf.clip_by_value(s, -1.0, 1.0)))


# --------------------------------------------------------------------------- 11.2
def sparse_kl(h, rho):
    n = h.shape[0]
    rho_hat = h.mean(axis=0)
    penalty = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    grad = np.broadcast_to((-rho / rho_hat + (1 - rho) / (1 - rho_hat)) / n, h.shape).copy()
    return penalty, grad


def sparse_missing_rho(h, rho):
    q = h.mean(0)
    return np.sum(np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))), sparse_kl(h, rho)[1]


def sparse_all_units(h, rho):
    q = h.mean()
    p = rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))
    g = np.full(h.shape, (-rho / q + (1 - rho) / (1 - q)) / h.size)
    return p * h.shape[1], g


def sparse_no_1_over_n(h, rho):
    p, g = sparse_kl(h, rho)
    return p, g * h.shape[0]


def sparse_reversed(h, rho):
    q = h.mean(0)
    return np.sum(q * np.log(q / rho) + (1 - q) * np.log((1 - q) / (1 - rho))), sparse_kl(h, rho)[1]


def sparse_per_example(h, rho):
    p = np.mean(np.sum(rho * np.log(rho / h) + (1 - rho) * np.log((1 - rho) / (1 - h)), 1))
    return p, sparse_kl(h, rho)[1]


def sparse_grad_sign(h, rho):
    p, g = sparse_kl(h, rho)
    return p, -g


def sparse_grad_missing_rho(h, rho):
    q = h.mean(0)
    return sparse_kl(h, rho)[0], np.broadcast_to((-1 / q + (1 - rho) / (1 - q)) / len(h), h.shape)


def sparse_tf(h, rho):
    import tensorflow as tf
    ht = tf.constant(h, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(ht)
        q = tf.reduce_mean(ht, 0)
        p = tf.reduce_sum(rho * tf.math.log(rho / q) + (1 - rho) * tf.math.log((1 - rho) / (1 - q)))
    return [p, tape.gradient(p, ht)]


def sparse_loops(h, rho):
    n, k = h.shape
    grad = np.empty((n, k))
    total = 0.0
    for j in range(k):
        q = sum(h[i, j] for i in range(n)) / n
        total += rho * (np.log(rho) - np.log(q)) + (1 - rho) * (np.log(1 - rho) - np.log(1 - q))
        grad[:, j] = ((1 - rho) / (1 - q) - rho / q) / n
    return total, grad


# --------------------------------------------------------------------------- 11.3
def contractive_penalty(x, W, b):
    n = x.shape[0]
    h = _sig(x @ W + b)
    s = h * (1 - h)
    c = np.sum(W ** 2, axis=0)
    penalty = np.mean((s ** 2) @ c)
    dW = 2 * W * (s ** 2).mean(0) + x.T @ (c * 2 * s ** 2 * (1 - 2 * h)) / n
    return penalty, dW


def contractive_frozen(x, W, b):
    h = _sig(x @ W + b)
    s = h * (1 - h)
    return np.mean((s ** 2) @ (W ** 2).sum(0)), 2 * W * (s ** 2).mean(0)


def contractive_frozen_norm(x, W, b):
    h = _sig(x @ W + b)
    s, c = h * (1 - h), (W ** 2).sum(0)
    return np.mean((s ** 2) @ c), x.T @ (c * 2 * s ** 2 * (1 - 2 * h)) / len(x)


def contractive_unsquared(x, W, b):
    h = _sig(x @ W + b)
    s = h * (1 - h)
    return np.mean(s @ (W ** 2).sum(0)), contractive_penalty(x, W, b)[1]


def contractive_sum(x, W, b):
    p, g = contractive_penalty(x, W, b)
    return p * len(x), g * len(x)


def contractive_tf(x, W, b):
    import tensorflow as tf
    w = tf.Variable(W)
    with tf.GradientTape() as tape:
        h = tf.sigmoid(x @ w + b)
        p = tf.reduce_mean(tf.reduce_sum((h * (1 - h)) ** 2 * tf.reduce_sum(w ** 2, 0), 1))
    return p, tape.gradient(p, w)


def contractive_einsum_f32(x, W, b):
    x, W, b = (np.asarray(v, np.float32) for v in (x, W, b))
    h = _sig(x @ W + b)
    s2 = (h * (1 - h)) ** 2
    c = np.einsum("ij,ij->j", W, W)
    p = np.einsum("nj,j->", s2, c) / len(x)
    dW = 2 * W * s2.mean(0) + 2 * np.einsum("ni,nj->ij", x, s2 * (1 - 2 * h) * c) / len(x)
    return (p, dW)


# --------------------------------------------------------------------------- 11.4
def gaussian_kl(mu, log_var):
    return 0.5 * np.sum(mu ** 2 + np.exp(log_var) - log_var - 1.0, axis=-1)


def kl_log_sigma(mu, log_var):
    return 0.5 * np.sum(mu ** 2 + np.exp(2 * log_var) - 2 * log_var - 1, -1)


def kl_half_log(mu, log_var):
    return 0.5 * np.sum(mu ** 2 + np.exp(log_var) - 0.5 * log_var - 1, -1)


def kl_reversed(mu, log_var):
    return 0.5 * np.sum((1 + mu ** 2) / np.exp(log_var) - 1 + log_var, -1)


def kl_to_posterior(mu, log_var):
    return np.zeros(mu.shape[0])     # KL(q ‖ q): "the posterior" taken to be q itself


def kl_mean_dims(mu, log_var):
    return 0.5 * np.mean(mu ** 2 + np.exp(log_var) - log_var - 1, -1)


def kl_no_half(mu, log_var):
    return np.sum(mu ** 2 + np.exp(log_var) - log_var - 1, -1)


def kl_tf_f32(mu, log_var):
    import tensorflow as tf
    mu, lv = tf.constant(mu, tf.float32), tf.constant(log_var, tf.float32)
    return -0.5 * tf.reduce_sum(1 + lv - tf.square(mu) - tf.exp(lv), axis=1)


def kl_sigma_form(mu, log_var):
    sigma = np.exp(0.5 * log_var)
    return list(np.sum(0.5 * (mu ** 2 + sigma ** 2) - np.log(sigma) - 0.5, axis=1))


# --------------------------------------------------------------------------- 11.5
def reparameterise(mu, log_var, eps):
    import tensorflow as tf
    return mu + tf.exp(0.5 * log_var) * eps


def reparam_no_noise(mu, log_var, eps):
    return mu + 0 * log_var


def reparam_detached(mu, log_var, eps):
    import tensorflow as tf
    return tf.stop_gradient(mu + tf.exp(0.5 * log_var) * eps)


def reparam_numpy(mu, log_var, eps):
    return np.asarray(mu) + np.exp(0.5 * np.asarray(log_var)) * np.asarray(eps)


def reparam_variance(mu, log_var, eps):
    import tensorflow as tf
    return mu + tf.exp(log_var) * eps


def reparam_log_sigma(mu, log_var, eps):
    import tensorflow as tf
    return mu + tf.exp(2 * log_var) * eps


def reparam_sigma_detached(mu, log_var, eps):
    import tensorflow as tf
    return mu + tf.stop_gradient(tf.exp(0.5 * log_var)) * eps


def reparam_sqrt_f32(mu, log_var, eps):
    import tensorflow as tf
    sigma = tf.sqrt(tf.exp(tf.cast(log_var, tf.float32)))
    return tf.cast(mu, tf.float32) + sigma * tf.cast(eps, tf.float32)


def reparam_keras_ops(mu, log_var, eps):
    import keras
    return keras.ops.add(mu, keras.ops.multiply(keras.ops.exp(log_var / 2), eps))


# --------------------------------------------------------------------------- 11.6
def vae_loss(x, logits, mu, log_var):
    rec = np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))), axis=1)
    kl = 0.5 * np.sum(mu ** 2 + np.exp(log_var) - log_var - 1.0, axis=1)
    return np.mean(rec + kl)


def _kl(mu, lv):
    return 0.5 * np.sum(mu ** 2 + np.exp(lv) - lv - 1, 1)


def vae_linear_bce(x, logits, mu, log_var):
    p = np.clip(logits, 1e-7, 1 - 1e-7)                       # logits used as probabilities
    return np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), 1) + _kl(mu, log_var))


def vae_double_sigmoid(x, logits, mu, log_var):
    return vae_loss(x, _sig(logits), mu, log_var)


def vae_naive_log(x, logits, mu, log_var):
    p = _sig(logits)
    return np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), 1) + _kl(mu, log_var))


def vae_pixel_mean(x, logits, mu, log_var):
    rec = np.mean(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))), axis=1)
    return np.mean(rec + _kl(mu, log_var))


def vae_no_kl(x, logits, mu, log_var):
    return np.mean(np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))), axis=1))


def vae_kl_sign(x, logits, mu, log_var):
    return vae_no_kl(x, logits, mu, log_var) - np.mean(_kl(mu, log_var))


def vae_kl_log_sigma(x, logits, mu, log_var):
    return vae_no_kl(x, logits, mu, log_var) + np.mean(kl_log_sigma(mu, log_var))


def vae_batch_sum(x, logits, mu, log_var):
    return vae_loss(x, logits, mu, log_var) * len(x)


def vae_keras_f32(x, logits, mu, log_var):
    import keras
    import tensorflow as tf
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(x, tf.float32),
                                                  logits=tf.constant(logits, tf.float32))
    kl = kl_tf_f32(mu, log_var)
    return keras.ops.mean(tf.reduce_sum(bce, 1) + kl)


def vae_logaddexp(x, logits, mu, log_var):
    # −log σ(l) = log(1 + e^{−l}) = logaddexp(0, −l)
    rec = x * np.logaddexp(0, -logits) + (1 - x) * np.logaddexp(0, logits)
    return float(rec.sum() / len(x) + gaussian_kl(mu, log_var).mean())


REFERENCE = {
    "11.1": principal_angles,
    "11.2": sparse_kl,
    "11.3": contractive_penalty,
    "11.4": gaussian_kl,
    "11.5": reparameterise,
    "11.6": vae_loss,
}

WRONG = {
    "11.1": [
        (angles_raw, r"not orthonormalised"),
        (angles_cos, r"cosines"),
        (angles_degrees, r"radians"),
        (angles_descending, r"ascending"),
    ],
    "11.2": [
        (sparse_missing_rho, r"missing its factor ρ"),
        (sparse_all_units, r"averaged over ALL units"),
        (sparse_no_1_over_n, r"lacks 1/N"),
        (sparse_reversed, r"reversed"),
        (sparse_per_example, r"batch mean of unit j"),
        (sparse_grad_sign, r"wrong sign"),
        (sparse_grad_missing_rho, r"missing ρ"),
    ],
    "11.3": [
        (contractive_frozen, r"weights inside h were frozen"),
        (contractive_frozen_norm, r"factor was frozen"),
        (contractive_unsquared, r"must be squared"),
        (contractive_sum, r"MEAN over the batch"),
    ],
    "11.4": [
        (kl_log_sigma, r"log_var is log σ², not log σ"),
        (kl_half_log, r"not log σ \(= log_var / 2\)"),
        (kl_reversed, r"wrong direction.*to the prior"),
        (kl_to_posterior, r"to the prior N\(0, I\), not to q"),
        (kl_mean_dims, r"do not average"),
        (kl_no_half, r"factor ½"),
    ],
    "11.5": [
        (reparam_no_noise, r"no noise"),
        (reparam_detached, r"detached"),
        (reparam_numpy, r"detached.*TF ops"),
        (reparam_variance, r"σ² multiplies ε"),
        (reparam_log_sigma, r"log σ², not log σ"),
        (reparam_sigma_detached, r"log σ².*detached"),
    ],
    "11.6": [
        (vae_linear_bce, r"LOGITS"),
        (vae_double_sigmoid, r"sigmoid was applied twice"),
        (vae_naive_log, r"not finite for saturated logits"),
        (vae_pixel_mean, r"SUM over pixels"),
        (vae_no_kl, r"KL term is missing"),
        (vae_kl_sign, r"\+ sign"),
        (vae_kl_log_sigma, r"log σ², not log σ"),
        (vae_batch_sum, r"factor|N"),
    ],
}

ACCEPT = {
    "11.1": [angles_svd_basis_f32, angles_tf],
    "11.2": [sparse_tf, sparse_loops],
    "11.3": [contractive_tf, contractive_einsum_f32],
    "11.4": [kl_tf_f32, kl_sigma_form],
    "11.5": [reparam_sqrt_f32, reparam_keras_ops],
    "11.6": [vae_keras_f32, vae_logaddexp],
}

EQUIVALENT = {
    "11.1": {
        "L4 Call dropped: np.sort(np.arccos(np.clip(cos, -1.0, 1.0)))":
            "np.linalg.svd returns the cosines in descending order, so their arccos is already ascending",
        "L4 Constant 1.0→0.0: -1.0": "cosines are singular values, never negative: the lower clip at 0 changes nothing",
        "L4 Constant 1.0→2.0: -1.0": "cosines are singular values, never negative: the lower clip at −2 changes nothing",
    },
    "11.3": {
        "L3 Sign flipped (x→−x): h * (1 - h)": "s = h(1 − h) enters the penalty and dW only as s², so −s is the same",
        "L3 Operands swapped: 1 - h": "h − 1 = −(1 − h): s is negated, and it enters only as s²",
        "L5 Transposed right operand: (s ** 2) @ c": "c is 1-D; .T of a 1-D array is the array itself",
    },
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_kl_oracle_matches_monte_carlo():
    """The closed-form KL the check uses agrees with a Monte Carlo estimate E_q[log q − log p]."""
    from helpers.checks.ch11 import gaussian_kl_oracle

    rng = np.random.default_rng(0)
    mu, lv = np.array([[0.7, -1.2]]), np.array([[-0.5, 0.8]])
    z = mu + np.exp(0.5 * lv) * rng.standard_normal((400_000, 2))
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + lv + (z - mu) ** 2 / np.exp(lv), 1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z ** 2, 1)
    mc = np.mean(log_q - log_p)
    assert abs(mc - gaussian_kl_oracle(mu, lv)[0]) < 0.01


def test_contractive_oracle_matches_closed_form_penalty():
    from helpers.checks.ch11 import contractive_oracle

    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    h = _sig(x @ w + b)
    jac = (h * (1 - h))[:, :, None] * w.T[None]               # [N, k, d]
    assert np.isclose(contractive_oracle(x, w, b)[0], np.mean(np.sum(jac ** 2, (1, 2))))
