"""Chapter 06 checks: the reference answers pass; the classic BPTT and clipping mistakes are
rejected with specific hints (missing Vᵀ term, missing recurrent path, tanh' at the wrong time
step, value clipping instead of norm clipping, stacking along the wrong axis, ...)."""
import numpy as np
import scipy.special
import tensorflow as tf

from conftest import accept_tests, check_tests


# --------------------------------------------------------------------------- reference answers
def rnn_step(x, h_prev, W_xh, W_hh, b):
    return np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b)


def rnn_forward(X, h0, W_xh, W_hh, b):
    h, hs = h0, []
    for t in range(X.shape[1]):
        h = rnn_step(X[:, t], h, W_xh, W_hh, b)
        hs.append(h)
    return np.stack(hs, axis=1)


def rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh):
    da = dh * (1 - h ** 2)
    return {"x": da @ W_xh, "h_prev": da @ W_hh, "W_xh": da.T @ x, "W_hh": da.T @ h_prev, "b": da.sum(axis=0)}


def _backward(X, h0, W_xh, W_hh, b, dH, *, recurrent=True, deriv_at_prev=False, dW_hh_uses_h=False, forward_order=False,
              prev_wraps=False):
    H = rnn_forward(X, h0, W_xh, W_hh, b)
    prev = np.concatenate([(H[:, -1] if prev_wraps else h0)[:, None], H[:, :-1]], axis=1)
    g = {"W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh), "b": np.zeros_like(b), "X": np.zeros_like(X)}
    carry = np.zeros_like(h0)
    steps = range(X.shape[1]) if forward_order else reversed(range(X.shape[1]))
    for t in steps:
        dh = dH[:, t] + (carry if recurrent else 0)
        da = dh * (1 - (prev[:, t] if deriv_at_prev else H[:, t]) ** 2)
        g["W_xh"] += da.T @ X[:, t]
        g["W_hh"] += da.T @ (H[:, t] if dW_hh_uses_h else prev[:, t])
        g["b"] += da.sum(axis=0)
        g["X"][:, t] = da @ W_xh
        carry = da @ W_hh
    g["h0"] = carry
    return g


def rnn_backward(X, h0, W_xh, W_hh, b, dH):
    return _backward(X, h0, W_xh, W_hh, b, dH)


def _lm(X, Y, h0, p, *, mode="right"):
    H = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b"])
    Z = H @ p["V"].T + p["c"]
    if mode == "global_max":
        Z = Z - Z.max()
    elif mode != "unstable":
        Z = Z - Z.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        logP = Z - np.log(np.exp(Z).sum(axis=-1, keepdims=True))
    bsz, s = Y.shape
    loss = -np.take_along_axis(logP, Y[..., None], axis=-1).mean()
    dZ = np.exp(logP)
    if mode == "time_as_class":
        dZ[:, np.arange(s), np.arange(s)] -= 1          # ŷ_t − 1 at class t instead of class y_t
    else:
        np.put_along_axis(dZ, Y[..., None], np.take_along_axis(dZ, Y[..., None], axis=-1) - 1, axis=-1)
    if mode != "sum":
        dZ /= bsz * s
    else:
        loss *= bsz * s
    dH = dZ @ p["V"]
    if mode == "no_V":
        dH = dZ  # (ŷ − y) used as ∂ℓ/∂h: only computes when K == n
    if mode == "last_only":
        dH = np.zeros_like(dH)
        dH[:, -1] = (dZ @ p["V"])[:, -1]
    g = _backward(X, h0, p["W_xh"], p["W_hh"], p["b"], dH, recurrent=mode != "no_recurrent")
    grads = {"W_xh": g["W_xh"], "W_hh": g["W_hh"], "b": g["b"],
             "V": np.einsum("bsk,bsn->kn", dZ, H), "c": dZ.sum(axis=(0, 1))}
    if mode == "dV_T":
        grads["V"] = grads["V"].T if grads["V"].shape[0] == grads["V"].shape[1] else np.einsum("bsk,bsn->nk", dZ, H)
    return loss, grads


def lm_loss_and_grads(X, Y, h0, params):
    return _lm(X, Y, h0, params)


# --------------------------------------------------------------------------- accepted: correct, written differently
def rnn_step_tf(x, h_prev, W_xh, W_hh, b):
    return tf.tanh(tf.matmul(x, W_xh, transpose_b=True) + tf.matmul(h_prev, W_hh, transpose_b=True) + b)


def rnn_step_float32(x, h_prev, W_xh, W_hh, b):
    f = np.float32
    return np.tanh(x.astype(f) @ W_xh.T.astype(f) + h_prev.astype(f) @ W_hh.T.astype(f) + b.astype(f))


def rnn_step_columns(x, h_prev, W_xh, W_hh, b):
    return np.tanh(W_xh @ x.T + W_hh @ h_prev.T + b[:, None]).T     # the column form of the maths, transposed back


def rnn_forward_prealloc(X, h0, W_xh, W_hh, b):
    H = np.empty((X.shape[0], X.shape[1], W_hh.shape[0]))
    h = h0
    for t in range(X.shape[1]):
        h = H[:, t] = np.tanh(np.einsum("bm,nm->bn", X[:, t], W_xh) + np.einsum("bk,nk->bn", h, W_hh) + b)
    return H


def rnn_forward_float32(X, h0, W_xh, W_hh, b):
    return rnn_forward(*(a.astype(np.float32) for a in (X, h0, W_xh, W_hh, b)))


def rnn_forward_keras(X, h0, W_xh, W_hh, b):
    import keras

    layer = keras.layers.SimpleRNN(W_hh.shape[0], return_sequences=True, dtype="float64")
    layer.build((None, None, X.shape[-1]))
    layer.set_weights([W_xh.T, W_hh.T, b])
    return layer(X, initial_state=[h0])


def step_backward_float32(dh, x, h_prev, h, W_xh, W_hh):
    return rnn_step_backward(*(a.astype(np.float32) for a in (dh, x, h_prev, h, W_xh, W_hh)))


def step_backward_tf(dh, x, h_prev, h, W_xh, W_hh):
    da = dh * (1 - tf.square(h))
    return {"x": tf.matmul(da, W_xh), "h_prev": tf.matmul(da, W_hh), "W_xh": tf.matmul(da, x, transpose_a=True),
            "W_hh": tf.matmul(da, h_prev, transpose_a=True), "b": tf.reduce_sum(da, axis=0)}


def backward_einsum_at_end(X, h0, W_xh, W_hh, b, dH):
    """Stores every da_t and forms the weight gradients with one einsum each after the loop."""
    H = rnn_forward(X, h0, W_xh, W_hh, b)
    prev = np.concatenate([h0[:, None], H[:, :-1]], axis=1)
    DA = np.zeros_like(H)
    carry = np.zeros_like(h0)
    for t in range(X.shape[1] - 1, -1, -1):
        DA[:, t] = (dH[:, t] + carry) * (1 - H[:, t] ** 2)
        carry = DA[:, t] @ W_hh
    return {"X": DA @ W_xh, "h0": carry, "W_xh": np.einsum("btn,btm->nm", DA, X),
            "W_hh": np.einsum("btn,btk->nk", DA, prev), "b": DA.sum(axis=(0, 1))}


def backward_float32(X, h0, W_xh, W_hh, b, dH):
    return rnn_backward(*(a.astype(np.float32) for a in (X, h0, W_xh, W_hh, b, dH)))


def backward_in_place_on_copy(X, h0, W_xh, W_hh, b, dH):
    dH = dH.copy()                                       # adding the carry in place, but on a copy: fine
    H = rnn_forward(X, h0, W_xh, W_hh, b)
    g = {"X": np.zeros_like(X), "W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh), "b": np.zeros_like(b)}
    for t in reversed(range(X.shape[1])):
        step = rnn_step_backward(dH[:, t], X[:, t], H[:, t - 1] if t else h0, H[:, t], W_xh, W_hh)
        if t:
            dH[:, t - 1] += step["h_prev"]
        g["X"][:, t] = step["x"]
        for k in ("W_xh", "W_hh", "b"):
            g[k] += step[k]
    g["h0"] = step["h_prev"]
    return g


def lm_list(X, Y, h0, params):
    return list(lm_loss_and_grads(X, Y, h0, params))


def lm_logsumexp_float32(X, Y, h0, params):
    """scipy's logsumexp for the stable log-softmax; gradients returned in float32."""
    H = rnn_forward(X, h0, params["W_xh"], params["W_hh"], params["b"])
    Z = H @ params["V"].T + params["c"]
    logP = Z - scipy.special.logsumexp(Z, axis=-1, keepdims=True)
    bsz, s = Y.shape
    loss = -np.take_along_axis(logP, Y[..., None], axis=-1).mean()
    dZ = (np.exp(logP) - np.eye(Z.shape[-1])[Y]) / (bsz * s)
    g = rnn_backward(X, h0, params["W_xh"], params["W_hh"], params["b"], dZ @ params["V"])
    grads = {"W_xh": g["W_xh"], "W_hh": g["W_hh"], "b": g["b"], "V": np.einsum("bsk,bsn->kn", dZ, H),
             "c": dZ.sum(axis=(0, 1))}
    return np.float32(loss), {k: v.astype(np.float32) for k, v in grads.items()}


def lm_tf_log_softmax(X, Y, h0, params):
    H = rnn_forward(X, h0, params["W_xh"], params["W_hh"], params["b"])
    Z = tf.constant(H @ params["V"].T + params["c"])
    logP = tf.nn.log_softmax(Z, axis=-1).numpy()
    bsz, s = Y.shape
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(Y, Z))
    dZ = (np.exp(logP) - tf.one_hot(Y, Z.shape[-1], dtype=tf.float64).numpy()) / (bsz * s)
    g = rnn_backward(X, h0, params["W_xh"], params["W_hh"], params["b"], dZ @ params["V"])
    return loss, {"W_xh": g["W_xh"], "W_hh": g["W_hh"], "b": g["b"], "V": np.einsum("bsk,bsn->kn", dZ, H),
                  "c": dZ.sum(axis=(0, 1))}


def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [g * scale for g in grads], norm


def perplexity(logits, targets):
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)
    return float(np.exp(nll.mean()))


# --------------------------------------------------------------------------- wrong answers
def step_wrong_recurrent(x, h_prev, W_xh, W_hh, b):
    return np.tanh(x @ W_xh.T + h_prev @ W_hh + b)


def forward_time_major(X, h0, W_xh, W_hh, b):
    return np.stack([rnn_forward(X, h0, W_xh, W_hh, b)[:, t] for t in range(X.shape[1])], axis=0)


def forward_no_carry(X, h0, W_xh, W_hh, b):
    return np.stack([rnn_step(X[:, t], h0, W_xh, W_hh, b) for t in range(X.shape[1])], axis=1)


def forward_concat(X, h0, W_xh, W_hh, b):
    H = rnn_forward(X, h0, W_xh, W_hh, b)
    return np.concatenate([H[:, t] for t in range(X.shape[1])], axis=1)


def step_backward_prev(dh, x, h_prev, h, W_xh, W_hh):
    da = dh * (1 - h_prev ** 2)  # tanh' at h_{t-1}: the wrong time step
    return {"x": da @ W_xh, "h_prev": da @ W_hh, "W_xh": da.T @ x, "W_hh": da.T @ h_prev, "b": da.sum(axis=0)}


def step_backward_no_deriv(dh, x, h_prev, h, W_xh, W_hh):
    return {"x": dh @ W_xh, "h_prev": dh @ W_hh, "W_xh": dh.T @ x, "W_hh": dh.T @ h_prev, "b": dh.sum(axis=0)}


def step_backward_dWhh_T(dh, x, h_prev, h, W_xh, W_hh):
    g = rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh)
    return dict(g, W_hh=g["W_hh"].T)


def step_backward_tuple(dh, x, h_prev, h, W_xh, W_hh):
    return tuple(rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh).values())


def clip_by_value(grads, max_norm):
    return [np.clip(g, -max_norm, max_norm) for g in grads], np.sqrt(sum(np.sum(g ** 2) for g in grads))


def clip_each_by_norm(grads, max_norm):
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], np.sqrt(sum(np.sum(g ** 2) for g in grads))


def clip_always(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * max_norm / norm for g in grads], norm


def clip_squared_norm(grads, max_norm):
    clipped, norm = clip_by_global_norm(grads, max_norm)
    return clipped, norm ** 2


def perplexity_naive(logits, targets):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
        return float(np.exp(-np.log(np.take_along_axis(p, targets[..., None], axis=-1)).mean()))


def perplexity_per_sequence(logits, targets):
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    return float(np.exp(nll.mean(axis=1)).mean())


def step_backward_batch_mean(dh, x, h_prev, h, W_xh, W_hh):
    g = rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh)
    return {k: (v / len(x) if k in ("W_xh", "W_hh", "b") else v) for k, v in g.items()}


def backward_overwrite(X, h0, W_xh, W_hh, b, dH):
    """Each step's weight gradient overwrites the previous one instead of being added."""
    H = rnn_forward(X, h0, W_xh, W_hh, b)
    g, carry = {"X": np.zeros_like(X)}, np.zeros_like(h0)
    for t in reversed(range(X.shape[1])):
        step = rnn_step_backward(dH[:, t] + carry, X[:, t], H[:, t - 1] if t > 0 else h0, H[:, t], W_xh, W_hh)
        g["X"][:, t] = step["x"]
        g.update({k: step[k] for k in ("W_xh", "W_hh", "b")})
        carry = step["h_prev"]
    g["h0"] = carry
    return g


def clip_returns_clipped_norm(grads, max_norm):
    clipped, norm = clip_by_global_norm(grads, max_norm)
    return clipped, min(norm, max_norm)


def cross_entropy_only(logits, targets):
    return float(np.log(perplexity(logits, targets)))


def clip_tuple_float32(grads, max_norm):
    norm = np.float32(np.sqrt(sum(np.sum(np.float32(g) ** 2) for g in grads)))
    return tuple(np.float32(g) * min(np.float32(1), np.float32(max_norm) / max(norm, np.float32(1e-30)))
                 for g in grads), norm


def clip_tf(grads, max_norm):
    clipped, norm = tf.clip_by_global_norm([tf.constant(g) for g in grads], max_norm)
    return [clipped, norm]                                            # a list where a tuple is expected


def clip_in_place(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    for g in grads:
        g *= min(1.0, max_norm / norm) if norm > 0 else 1.0           # changes the caller's arrays
    return grads, norm


def perplexity_logsumexp(logits, targets):
    nll = scipy.special.logsumexp(logits, axis=-1) - np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return np.exp(np.mean(nll))


def perplexity_tf(logits, targets):
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.constant(logits))
    return tf.exp(tf.reduce_mean(nll))                                # a float64 tensor



def perplexity_in_place(logits, targets):
    logits -= logits.max(axis=-1, keepdims=True)                      # modifies the caller's logits
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return float(np.exp(-np.take_along_axis(log_p, targets[..., None], axis=-1).mean()))


def perplexity_shift(kind):
    def perplexity_shifted(logits, targets):
        z = logits - (logits.max() if kind == "global" else logits.min(axis=-1, keepdims=True))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            return float(np.exp(-np.take_along_axis(log_p, targets[..., None], axis=-1).mean()))
    return perplexity_shifted


def forward_in_place_h0(X, h0, W_xh, W_hh, b):
    h, hs = h0, []
    for t in range(X.shape[1]):
        h[:] = rnn_step(X[:, t], h, W_xh, W_hh, b)                   # overwrites the caller's h0
        hs.append(h.copy())
    return np.stack(hs, axis=1)


def backward_in_place_dH(X, h0, W_xh, W_hh, b, dH):
    H = rnn_forward(X, h0, W_xh, W_hh, b)
    g = {"X": np.zeros_like(X), "W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh), "b": np.zeros_like(b)}
    for t in reversed(range(X.shape[1])):
        step = rnn_step_backward(dH[:, t], X[:, t], H[:, t - 1] if t else h0, H[:, t], W_xh, W_hh)
        if t:
            dH[:, t - 1] += step["h_prev"]                            # the carry added into the caller's dH
        g["X"][:, t] = step["x"]
        for k in ("W_xh", "W_hh", "b"):
            g[k] += step[k]
    g["h0"] = step["h_prev"]
    return g


REFERENCE = {
    "6.1": rnn_step,
    "6.2": rnn_forward,
    "6.3": rnn_step_backward,
    "6.4": rnn_backward,
    "6.5": lm_loss_and_grads,
    "6.6": clip_by_global_norm,
    "6.7": perplexity,
}
WRONG = {
    "6.1": [
        (step_wrong_recurrent, r"W_hh where W_hhᵀ"),
        (lambda x, h, W_xh, W_hh, b: np.tanh(x @ W_xh.T + h @ W_hh.T), r"bias b is missing"),
        (lambda x, h, W_xh, W_hh, b: x @ W_xh.T + h @ W_hh.T + b, r"tanh is missing"),
        (lambda x, h, W_xh, W_hh, b: np.tanh(x @ W_xh + h @ W_hh.T + b), r"raised ValueError"),
        (lambda x, h, W_xh, W_hh, b: None, r"None"),
        (lambda x, h, W_xh, W_hh, b: np.tanh(x @ W_xh + h @ W_hh.T + b) if W_xh.shape[0] == W_xh.shape[1]
         else rnn_step(x, h, W_xh, W_hh, b), r"uses W_xh where W_xhᵀ"),
    ],
    "6.2": [
        (forward_in_place_h0, r"modified its input `h0` in place"),
        (forward_time_major, r"stacked along axis 0.*axis=1"),
        (forward_no_carry, r"starts again from h0"),
        (forward_concat, r"concatenated instead of stacked"),
        (lambda X, h0, *w: np.concatenate([h0[:, None], rnn_forward(X, h0, *w)], axis=1), r"includes h0"),
    ],
    "6.3": [
        (step_backward_prev, r"wrong time step.*1 − h_t²"),
        (step_backward_no_deriv, r"1 − h_t² is missing|1 − h² "),
        (step_backward_dWhh_T, r"dW_hh is transposed"),
        (step_backward_tuple, r"should return a dict"),
        (step_backward_batch_mean, r"averaged over the batch"),
        (lambda *a: {k: v for k, v in rnn_step_backward(*a).items() if k != "b"}, r"lacks the key.*'b'"),
    ],
    "6.4": [
        (lambda *a: _backward(*a, recurrent=False), r"recurrent path is missing"),
        (lambda *a: _backward(*a, deriv_at_prev=True), r"wrong time step"),
        (lambda *a: _backward(*a, dW_hh_uses_h=True), r"h_\{t−1\}"),
        (lambda *a: _backward(*a, forward_order=True), r"not right"),
        (backward_overwrite, r"ADD each step's gradient"),
        (lambda *a: dict(_backward(*a), h0=np.zeros_like(a[1])), r"gradient for h0 is zero"),
        (lambda *a: {k: (v / a[0].shape[0] if k in ("W_xh", "W_hh", "b") else v) for k, v in _backward(*a).items()},
         r"averaged over the batch"),
        (lambda *a: dict(_backward(*a), X=_backward(*a)["X"].transpose(1, 0, 2)), r"shape"),
        (lambda *a: _backward(*a, prev_wraps=True), r"H\[:, -1\], the LAST state.*h0"),
        (backward_in_place_dH, r"modified its input `dH` in place"),
        (lambda *a: {k: v.astype(np.float16) for k, v in _backward(*a).items()}, r"float16"),
    ],
    "6.5": [
        (lambda *a: _lm(*a, mode="no_V"), r"Vᵀ term is missing"),
        (lambda *a: _lm(*a, mode="last_only"), r"only at the last step"),
        (lambda *a: _lm(*a, mode="no_recurrent"), r"recurrent path is missing"),
        (lambda *a: _lm(*a, mode="sum"), r"summed"),
        (lambda *a: _lm(*a, mode="dV_T"), r"dV is transposed|transpose"),
        (lambda *a: _lm(*a)[1], r"should return 2 values `\(loss, grads\)`"),
        (lambda *a: _lm(*a, mode="unstable"), r"not finite.*stably.*MAXIMUM"),
        (lambda *a: _lm(*a, mode="global_max"), r"not finite.*stably.*MAXIMUM"),
        (lambda *a: _lm(*a, mode="time_as_class"), r"class t \(the time step\).*target class y_t"),
    ],
    "6.6": [
        (clip_by_value, r"clipping by value"),
        (clip_each_by_norm, r"its own norm"),
        (clip_always, r"even when the global norm is below"),
        (clip_squared_norm, r"squared norm"),
        (clip_returns_clipped_norm, r"AFTER clipping"),
        (lambda grads, max_norm: clip_by_global_norm(grads, max_norm)[0], r"should return 2 values"),
        (clip_in_place, r"modified its input `grads` in place"),
        (lambda grads, max_norm: (lambda n: ([g * min(1.0, max_norm / n) for g in grads], n))(
            float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))), r"ZeroDivisionError"),
    ],
    "6.7": [
        (cross_entropy_only, r"mean cross-entropy.*exp of it"),
        (perplexity_per_sequence, r"per sequence"),
        (perplexity_naive, r"NaN|inf|not finite|not right"),
        (lambda logits, targets: 2 ** cross_entropy_only(logits, targets), r"mixes bases"),
        (perplexity_shift("global"), r"below 1.*underflowed.*row's maximum"),
        (perplexity_shift("row_min"), r"not finite.*row's maximum"),
        (perplexity_in_place, r"modified its input `logits` in place"),
    ],
}

ACCEPT = {
    "6.1": [rnn_step_tf, rnn_step_float32, rnn_step_columns],
    "6.2": [rnn_forward_prealloc, rnn_forward_float32, rnn_forward_keras],
    "6.3": [step_backward_float32, step_backward_tf],
    "6.4": [backward_einsum_at_end, backward_float32, backward_in_place_on_copy],
    "6.5": [lm_list, lm_logsumexp_float32, lm_tf_log_softmax],
    "6.6": [clip_tuple_float32, clip_tf],
    "6.7": [perplexity_logsumexp, perplexity_tf],
}
_NEG_ZERO = "a negated array of zeros is −0 everywhere, which adds and compares exactly like 0"
_AXIS_DEFAULT = "np.take_along_axis defaults to axis=−1 (NumPy ≥ 2.3, as installed), the axis given"
_FLOAT = "float() dropped: a NumPy float64 scalar is accepted as the number"
EQUIVALENT: dict[str, dict[str, str]] = {
    "6.4": {f"L{line} Sign flipped (x→−x): np.zeros_like({name})": _NEG_ZERO
            for line, name in ((3, "h0"), (2, "X"), (2, "W_xh"), (2, "W_hh"), (2, "b"))},
    "6.5": {"L4 In place (x = x op d → x op= d): Z = Z - Z.max(axis=-1, keepdims=True)":
            "Z is a fresh local array (H @ V.T + c): shifting it in place changes nothing outside the function",
            "L6 axis dropped: np.take_along_axis(log_P, Y[..., None], axis=-1)": _AXIS_DEFAULT},
    "6.6": {"L1 Call dropped: float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))": _FLOAT,
            "L2 Constant 1.0→0.0: min(1.0, max_norm / global_norm) if global_norm > 0 else 1.0":
            "the else branch runs only for a global norm of 0, i.e. all-zero gradients, which any factor leaves zero",
            "L2 Constant 1.0→2.0: min(1.0, max_norm / global_norm) if global_norm > 0 else 1.0":
            "the else branch runs only for a global norm of 0, i.e. all-zero gradients, which any factor leaves zero"},
    "6.7": {"L4 Call dropped: float(np.exp(nll.mean()))": _FLOAT,
            "L3 axis dropped: np.take_along_axis(log_p, targets[..., None], axis=-1)": _AXIS_DEFAULT},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_large_logit_cases_reach_the_subtlety():
    """The 6.5 and 6.7 test inputs break every unstable softmax: rows span > 709, maxima differ by > 745."""
    from helpers.checks import ch06

    rows = []
    for seed, (bsz, s, m, n, K, v_scale) in enumerate(ch06.LM_CASES):
        X, Y, h0, p = ch06._lm_case(seed + 50, bsz, s, m, n, K, v_scale)
        H = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b"])
        rows.append((H @ p["V"].T + p["c"]).reshape(-1, K))
    rows += [z.reshape(-1, z.shape[-1]) for z, _ in ch06._perplexity_cases(np.random.default_rng(70))]
    for Z in (rows[2], rows[-1]):
        assert (Z.max(1) - Z.min(1)).max() > 709 and Z.max(1).max() - Z.max(1).min() > 745
