"""Chapter 04 checks: the reference answers pass, realistic wrong answers get specific hints,
correct answers written differently pass.

The reference functions here are the answers of solutions/04_training_deep_networks.ipynb.
"""
import numpy as np
import pytest

from conftest import accept_tests, check_tests


# --------------------------------------------------------------------------- 4.1
def init_scale(scheme, fan_in, fan_out):
    fan = {"lecun": fan_in, "glorot": (fan_in + fan_out) / 2, "he": fan_in}[scheme]
    gain = 2.0 if scheme == "he" else 1.0
    var = gain / fan
    return np.sqrt(var), np.sqrt(3 * var)


def init_scale_he_fan_avg(scheme, fan_in, fan_out):
    fan = {"lecun": fan_in, "glorot": (fan_in + fan_out) / 2, "he": (fan_in + fan_out) / 2}[scheme]
    var = (2.0 if scheme == "he" else 1.0) / fan
    return np.sqrt(var), np.sqrt(3 * var)


def init_scale_glorot_sum(scheme, fan_in, fan_out):
    fan = {"lecun": fan_in, "glorot": fan_in + fan_out, "he": fan_in}[scheme]
    var = (2.0 if scheme == "he" else 1.0) / fan
    return np.sqrt(var), np.sqrt(3 * var)


def init_scale_variance(scheme, fan_in, fan_out):
    std, limit = init_scale(scheme, fan_in, fan_out)
    return std**2, limit


def init_scale_limit_sqrt6(scheme, fan_in, fan_out):
    std, _ = init_scale(scheme, fan_in, fan_out)
    return std, np.sqrt(6.0) * std


def init_scale_limit_is_std(scheme, fan_in, fan_out):
    std, _ = init_scale(scheme, fan_in, fan_out)
    return std, std


def init_scale_he_gain1(scheme, fan_in, fan_out):
    std, limit = init_scale(scheme, fan_in, fan_out)
    return (std / np.sqrt(2), limit / np.sqrt(2)) if scheme == "he" else (std, limit)


def init_scale_list_f32(scheme, fan_in, fan_out):
    n = {"lecun": fan_in, "he": fan_in}.get(scheme, 0.5 * (fan_in + fan_out))
    sigma = np.float32(np.sqrt((2.0 if scheme == "he" else 1.0) / n))
    return [sigma, np.float32(np.sqrt(3.0)) * sigma]


def init_scale_keras(scheme, fan_in, fan_out):
    import math
    if scheme == "glorot":
        return math.sqrt(2 / (fan_in + fan_out)), math.sqrt(6 / (fan_in + fan_out))
    if scheme == "he":
        return math.sqrt(2 / fan_in), math.sqrt(6 / fan_in)
    return math.sqrt(1 / fan_in), math.sqrt(3 / fan_in)


# --------------------------------------------------------------------------- 4.2
def batchnorm_forward(x, gamma, beta, eps):
    mu = x.mean(axis=0)
    var = x.var(axis=0)                    # biased: divide by N, as Keras does
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def bn_unbiased(x, gamma, beta, eps):
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + beta


def bn_eps_outside(x, gamma, beta, eps):
    return gamma * (x - x.mean(0)) / (x.std(0) + eps) + beta


def bn_layer_norm(x, gamma, beta, eps):
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def bn_no_eps(x, gamma, beta, eps):
    return gamma * (x - x.mean(0)) / x.std(0) + beta


def bn_swapped(x, gamma, beta, eps):
    return beta * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + gamma


def bn_forward_tf(x, gamma, beta, eps):
    import tensorflow as tf
    mean, var = tf.nn.moments(tf.constant(x, tf.float32), axes=[0])
    return tf.nn.batch_normalization(tf.constant(x, tf.float32), mean, var, tf.constant(beta, tf.float32),
                                     tf.constant(gamma, tf.float32), eps)


def bn_forward_loops(x, gamma, beta, eps):
    out = np.empty_like(x)
    n = x.shape[0]
    for j in range(x.shape[1]):
        col = x[:, j]
        mu = sum(col) / n
        var = sum((c - mu) ** 2 for c in col) / n
        out[:, j] = gamma[j] * (col - mu) / (var + eps) ** 0.5 + beta[j]
    return out.tolist()


# --------------------------------------------------------------------------- 4.3
def batchnorm_backward(dy, x, gamma, eps):
    n = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    dgamma = (dy * x_hat).sum(axis=0)
    dbeta = dy.sum(axis=0)
    dx = gamma * inv_std / n * (n * dy - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def bn_back_direct_only(dy, x, gamma, eps):
    _, dgamma, dbeta = batchnorm_backward(dy, x, gamma, eps)
    return gamma * dy / np.sqrt(x.var(0) + eps), dgamma, dbeta


def bn_back_no_var_term(dy, x, gamma, eps):
    _, dgamma, dbeta = batchnorm_backward(dy, x, gamma, eps)
    g = gamma * dy
    return (g - g.mean(0)) / np.sqrt(x.var(0) + eps), dgamma, dbeta


def bn_back_no_mean_term(dy, x, gamma, eps):
    _, dgamma, dbeta = batchnorm_backward(dy, x, gamma, eps)
    inv = 1 / np.sqrt(x.var(0) + eps)
    xh = (x - x.mean(0)) * inv
    g = gamma * dy
    return inv * (g - xh * (g * xh).mean(0)), dgamma, dbeta


def bn_back_unbiased(dy, x, gamma, eps):
    n = x.shape[0]
    inv = 1 / np.sqrt(x.var(0, ddof=1) + eps)
    xh = (x - x.mean(0)) * inv
    g = gamma * dy
    dx = inv * (g - g.mean(0) - xh * (g * xh).mean(0) * n / (n - 1))
    return dx, (dy * xh).sum(0), dy.sum(0)


def bn_back_raw_dgamma(dy, x, gamma, eps):
    dx, _, dbeta = batchnorm_backward(dy, x, gamma, eps)
    return dx, (dy * x).sum(0), dbeta


def bn_back_mean_dbeta(dy, x, gamma, eps):
    dx, dgamma, _ = batchnorm_backward(dy, x, gamma, eps)
    return dx, dgamma, dy.mean(0)


def bn_back_staged(dy, x, gamma, eps):
    """The chain rule step by step through μ and σ² (the computational-graph form), float32."""
    x = x.astype(np.float32)
    dy = dy.astype(np.float32)
    gamma = gamma.astype(np.float32)
    n = x.shape[0]
    mu = x.mean(0)
    xc = x - mu
    var = (xc**2).mean(0)
    std = np.sqrt(var + eps)
    xh = xc / std
    dxh = dy * gamma
    dvar = np.sum(dxh * xc, 0) * -0.5 * std**-3
    dmu = -np.sum(dxh / std, 0) + dvar * np.mean(-2 * xc, 0)
    dx = dxh / std + dvar * 2 * xc / n + dmu / n
    return [dx, np.sum(dy * xh, 0), np.sum(dy, 0)]


def bn_back_tf(dy, x, gamma, eps):
    import tensorflow as tf
    xt, gt = tf.constant(x), tf.constant(gamma)
    with tf.GradientTape() as tape:
        tape.watch([xt, gt])
        mean, var = tf.nn.moments(xt, axes=[0])
        y = gt * (xt - mean) / tf.sqrt(var + eps)
        loss = tf.reduce_sum(dy * y)
    dx, dg = tape.gradient(loss, [xt, gt])
    return dx, dg, tf.reduce_sum(dy, 0)


# --------------------------------------------------------------------------- 4.4
def update_moving(moving_mean, moving_var, x, momentum):
    new_mean = momentum * moving_mean + (1 - momentum) * x.mean(axis=0)
    new_var = momentum * moving_var + (1 - momentum) * x.var(axis=0)
    return new_mean, new_var


def moving_swapped(moving_mean, moving_var, x, momentum):
    return (1 - momentum) * moving_mean + momentum * x.mean(0), (1 - momentum) * moving_var + momentum * x.var(0)


def moving_unbiased(moving_mean, moving_var, x, momentum):
    return momentum * moving_mean + (1 - momentum) * x.mean(0), momentum * moving_var + (1 - momentum) * x.var(0, ddof=1)


def moving_std(moving_mean, moving_var, x, momentum):
    return momentum * moving_mean + (1 - momentum) * x.mean(0), momentum * moving_var + (1 - momentum) * x.std(0)


def moving_batch_only(moving_mean, moving_var, x, momentum):
    return x.mean(0), x.var(0)


def moving_lerp_f32(moving_mean, moving_var, x, momentum):
    x = x.astype(np.float32)
    m = moving_mean.astype(np.float32)
    v = moving_var.astype(np.float32)
    return [m - (1 - momentum) * (m - x.mean(0)), v - (1 - momentum) * (v - x.var(0))]


def moving_inplace_copy(moving_mean, moving_var, x, momentum):
    mean, var = moving_mean.copy(), moving_var.copy()
    mean *= momentum
    mean += (1 - momentum) * np.mean(x, axis=0)
    var *= momentum
    var += (1 - momentum) * np.mean((x - np.mean(x, axis=0)) ** 2, axis=0)
    return mean, var


def moving_inplace(moving_mean, moving_var, x, momentum):
    moving_mean *= momentum
    moving_mean += (1 - momentum) * x.mean(0)
    moving_var *= momentum
    moving_var += (1 - momentum) * x.var(0)
    return moving_mean, moving_var


# --------------------------------------------------------------------------- 4.5
def dropout(x, rate, u, training):
    if not training:
        return x.copy()
    keep = u >= rate
    return np.where(keep, x / (1 - rate), 0.0)


def dropout_unscaled(x, rate, u, training):
    return np.where(u >= rate, x, 0.0) if training else x.copy()


def dropout_times_keep(x, rate, u, training):
    return np.where(u >= rate, x * (1 - rate), 0.0) if training else x.copy()


def dropout_inverse_mask(x, rate, u, training):
    return np.where(u < rate, x / (1 - rate), 0.0) if training else x.copy()


def dropout_strict(x, rate, u, training):
    return np.where(u > rate, x / (1 - rate), 0.0) if training else x.copy()


def dropout_scales_at_inference(x, rate, u, training):
    return np.where(u >= rate, x, 0.0) if training else x * (1 - rate)


def dropout_always(x, rate, u, training):
    return np.where(u >= rate, x / (1 - rate), 0.0)


def dropout_mask_mult_f32(x, rate, u, training):
    x = np.asarray(x, np.float32)
    if training:
        return x * (u >= rate).astype(np.float32) / np.float32(1 - rate)
    return x


def dropout_tf(x, rate, u, training):
    import tensorflow as tf
    x = tf.constant(x)
    if not training:
        return x
    return tf.where(tf.constant(u) >= rate, x / (1.0 - rate), tf.zeros_like(x))


# --------------------------------------------------------------------------- 4.6
def clip_gradients(grads, mode, c):
    if mode == "value":
        return [np.clip(g, -c, c) for g in grads]
    if mode == "norm":
        return [g * min(1.0, c / np.sqrt(np.sum(g**2))) for g in grads]
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * min(1.0, c / total) for g in grads]


def clip_norm_as_global(grads, mode, c):
    if mode == "norm":
        mode = "global_norm"
    return clip_gradients(grads, mode, c)


def clip_global_as_norm(grads, mode, c):
    if mode == "global_norm":
        mode = "norm"
    return clip_gradients(grads, mode, c)


def clip_always_scale(grads, mode, c):
    if mode == "value":
        return [np.clip(g, -c, c) for g in grads]
    if mode == "norm":
        return [g * c / np.linalg.norm(g) for g in grads]
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * c / total for g in grads]


def clip_value_by_norm(grads, mode, c):
    if mode == "value":
        mode = "norm"
    return clip_gradients(grads, mode, c)


def clip_norm_elementwise(grads, mode, c):
    if mode == "norm":
        mode = "value"
    return clip_gradients(grads, mode, c)


def clip_tf(grads, mode, c):
    import tensorflow as tf
    if mode == "value":
        return tuple(tf.clip_by_value(g, -c, c) for g in grads)
    if mode == "norm":
        return tuple(tf.clip_by_norm(g, c) for g in grads)
    return tf.clip_by_global_norm(grads, c)[0]


def clip_f32_loops(grads, mode, c):
    grads = [np.asarray(g, np.float32) for g in grads]
    out = []
    total = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    for g in grads:
        if mode == "value":
            out.append(np.minimum(np.maximum(g, -c), c))
        elif mode == "norm":
            n = float(np.linalg.norm(g.ravel()))
            out.append(g * (c / n) if n > c else g.copy())
        else:
            out.append(g * (c / total) if total > c else g.copy())
    return out


# --------------------------------------------------------------------------- 4.7
def threshold_report(y_val, s_val, y_test, s_test):
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_curve
    fpr, tpr, thresholds = roc_curve(y_val, s_val)
    t = thresholds[np.argmax(tpr - fpr)]              # Youden's J on VALIDATION data only
    pred = (s_test >= t).astype(int)
    return t, balanced_accuracy_score(y_test, pred), confusion_matrix(y_test, pred)


def threshold_on_test(y_val, s_val, y_test, s_test):
    return threshold_report(y_test, s_test, y_test, s_test)


def threshold_half(y_val, s_val, y_test, s_test):
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix
    pred = (s_test >= 0.5).astype(int)
    return 0.5, balanced_accuracy_score(y_test, pred), confusion_matrix(y_test, pred)


def threshold_accuracy(y_val, s_val, y_test, s_test):
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix
    cands = np.unique(s_val)
    t = cands[np.argmax([np.mean((s_val >= c) == y_val) for c in cands])]
    pred = (s_test >= t).astype(int)
    return t, balanced_accuracy_score(y_test, pred), confusion_matrix(y_test, pred)


def threshold_plain_accuracy(y_val, s_val, y_test, s_test):
    t, _, cm = threshold_report(y_val, s_val, y_test, s_test)
    return t, np.mean((s_test >= t) == y_test), cm


def threshold_cm_transposed(y_val, s_val, y_test, s_test):
    t, b, cm = threshold_report(y_val, s_val, y_test, s_test)
    return t, b, cm.T


def threshold_strict(y_val, s_val, y_test, s_test):
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_curve
    fpr, tpr, thresholds = roc_curve(y_val, s_val)
    t = thresholds[np.argmax(tpr - fpr)]
    pred = (s_test > t).astype(int)                   # a test score equal to t is predicted negative
    return t, balanced_accuracy_score(y_test, pred), confusion_matrix(y_test, pred)


def threshold_float32(y_val, s_val, y_test, s_test):
    t, b, cm = threshold_report(y_val, s_val, y_test, s_test)
    return np.float32(t), b, cm


def threshold_by_hand(y_val, s_val, y_test, s_test):
    """Scan every validation score by hand; a list for the tuple; the confusion matrix counted."""
    best, best_t = -np.inf, None
    for t in sorted(set(s_val.tolist())):
        p = s_val >= t
        j = np.mean(p[y_val == 1]) - np.mean(p[y_val == 0])
        if j > best:
            best, best_t = j, t
    p = (s_test >= best_t).astype(int)
    tn = np.sum((p == 0) & (y_test == 0)); fp = np.sum((p == 1) & (y_test == 0))
    fn = np.sum((p == 0) & (y_test == 1)); tp = np.sum((p == 1) & (y_test == 1))
    bal = 0.5 * (tp / (tp + fn) + tn / (tn + fp))
    return [best_t, bal, [[tn, fp], [fn, tp]]]


def threshold_midpoint(y_val, s_val, y_test, s_test):
    """The midpoint between the chosen score and the next lower one (same validation predictions)."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_curve
    fpr, tpr, thresholds = roc_curve(y_val, s_val)
    t_hi = thresholds[np.argmax(tpr - fpr)]
    lower = s_val[s_val < t_hi]
    t = 0.5 * (t_hi + lower.max()) if lower.size else t_hi
    pred = (s_test >= t).astype(int)
    return t, balanced_accuracy_score(y_test, pred), confusion_matrix(y_test, pred)


# --------------------------------------------------------------------------- 4.8
def combine_gradients(per_replica, sizes):
    total = sum(sizes)
    return [sum(n * grads[i] for n, grads in zip(sizes, per_replica)) / total
            for i in range(len(per_replica[0]))]


def combine_mean_of_means(per_replica, sizes):
    return [sum(g[i] for g in per_replica) / len(per_replica) for i in range(len(per_replica[0]))]


def combine_sum(per_replica, sizes):
    return [sum(g[i] for g in per_replica) for i in range(len(per_replica[0]))]


def combine_weighted_sum(per_replica, sizes):
    return [sum(n * g[i] for n, g in zip(sizes, per_replica)) for i in range(len(per_replica[0]))]


def combine_by_replicas(per_replica, sizes):
    return [sum(n * g[i] for n, g in zip(sizes, per_replica)) / len(sizes) for i in range(len(per_replica[0]))]


def combine_einsum_f32(per_replica, sizes):
    w = np.asarray(sizes, np.float32) / np.float32(sum(sizes))
    return tuple(np.einsum("r,r...->...", w, np.stack([np.asarray(g[i], np.float32) for g in per_replica]))
                 for i in range(2))


def combine_tf(per_replica, sizes):
    import tensorflow as tf
    w = tf.constant(sizes, tf.float64) / float(sum(sizes))
    return [tf.tensordot(w, tf.stack([g[i] for g in per_replica]), axes=1) for i in range(len(per_replica[0]))]


REFERENCE = {
    "4.1": (init_scale,),
    "4.2": (batchnorm_forward,),
    "4.3": (batchnorm_backward,),
    "4.4": (update_moving,),
    "4.5": (dropout,),
    "4.6": (clip_gradients,),
    "4.7": (threshold_report,),
    "4.8": (combine_gradients,),
}

WRONG = {
    "4.1": [
        (init_scale_he_fan_avg, r"He.*2 / fan_in|fan_in|divided by"),
        (init_scale_glorot_sum, r"averages the fans"),
        (init_scale_variance, r"returned the variance"),
        (init_scale_limit_sqrt6, r"√3"),
        (init_scale_limit_is_std, r"a²/3"),
        (init_scale_he_gain1, r"gain is 2"),
    ],
    "4.2": [
        (bn_unbiased, r"unbiased variance"),
        (bn_eps_outside, r"inside the square root"),
        (bn_layer_norm, r"layer norm"),
        (bn_no_eps, r"ε is missing"),
        (bn_swapped, r"swapped"),
    ],
    "4.3": [
        (bn_back_direct_only, r"only the direct term.*through μ and through σ²"),
        (bn_back_no_var_term, r"through the variance"),
        (bn_back_no_mean_term, r"through the mean"),
        (bn_back_unbiased, r"unbiased variance"),
        (bn_back_raw_dgamma, r"dgamma.*normalised x̂"),
        (bn_back_mean_dbeta, r"dbeta.*sum over the batch"),
    ],
    "4.4": [
        (moving_swapped, r"OLD moving value"),
        (moving_unbiased, r"unbiased variance"),
        (moving_std, r"standard deviation"),
        (moving_batch_only, r"just the batch mean"),
        (moving_inplace, r"in place"),
    ],
    "4.5": [
        (dropout_unscaled, r"not scaled.*1 − rate"),
        (dropout_times_keep, r"multiplied by 1 − rate"),
        (dropout_inverse_mask, r"u < rate"),
        (dropout_strict, r"exactly equal to the rate"),
        (dropout_scales_at_inference, r"not scaled|inference"),
        (dropout_always, r"inference.*identity"),
    ],
    "4.6": [
        (clip_norm_as_global, r"GLOBAL norm.*own norm"),
        (clip_global_as_norm, r"its own norm.*ALL tensors"),
        (clip_always_scale, r"never up"),
        (clip_value_by_norm, r"clipvalue clips each element"),
        (clip_norm_elementwise, r"element by element"),
    ],
    "4.7": [
        (threshold_on_test, r"chosen on the test set"),
        (threshold_half, r"0\.5 is the default"),
        (threshold_accuracy, r"maximises accuracy"),
        (threshold_plain_accuracy, r"plain accuracy"),
        (threshold_cm_transposed, r"transposed"),
        (threshold_strict, r"score ≥ threshold|confusion matrix"),
        (threshold_float32, r"float64 is expected"),
    ],
    "4.8": [
        (combine_mean_of_means, r"right only for equal shards"),
        (combine_sum, r"summed the per-replica means"),
        (combine_weighted_sum, r"SUMMED loss"),
        (combine_by_replicas, r"not by the number of replicas"),
    ],
}

ACCEPT = {
    "4.1": [init_scale_list_f32, init_scale_keras],
    "4.2": [bn_forward_tf, bn_forward_loops],
    "4.3": [bn_back_staged, bn_back_tf],
    "4.4": [moving_lerp_f32, moving_inplace_copy],
    "4.5": [dropout_mask_mult_f32, dropout_tf],
    "4.6": [clip_tf, clip_f32_loops],
    "4.7": [threshold_by_hand, threshold_midpoint],
    "4.8": [combine_einsum_f32, combine_tf],
}

EQUIVALENT = {
    "4.8": {"L3 Constant 0→1: per_replica[0]": "every replica holds the same number of gradients (one per "
                                                "variable), so counting them on replica 1 instead of 0 is the same"},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_init_oracle_matches_keras_initialisers():
    """The closed forms the check uses are what Keras's initialisers draw (empirically)."""
    import keras

    from helpers.checks.ch04 import init_scale_oracle

    fan_in, fan_out = 400, 300
    for scheme, normal, uniform in [("lecun", keras.initializers.LecunNormal, keras.initializers.LecunUniform),
                                    ("glorot", keras.initializers.GlorotNormal, keras.initializers.GlorotUniform),
                                    ("he", keras.initializers.HeNormal, keras.initializers.HeUniform)]:
        std, limit = init_scale_oracle(scheme, fan_in, fan_out)
        w_n = np.asarray(normal(seed=1)((fan_in, fan_out)))
        w_u = np.asarray(uniform(seed=2)((fan_in, fan_out)))
        assert w_n.std() == pytest.approx(std, rel=0.01), scheme
        assert np.abs(w_u).max() == pytest.approx(limit, rel=1e-3), scheme
        assert np.abs(w_u).max() <= limit * (1 + 1e-6), scheme
