"""Chapter 06 checks: the reference answers pass; the classic BPTT and clipping mistakes are
rejected with specific hints (missing Vᵀ term, missing recurrent path, tanh' at the wrong time
step, value clipping instead of norm clipping, stacking along the wrong axis, ...)."""
import numpy as np

from conftest import check_tests


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


def _backward(X, h0, W_xh, W_hh, b, dH, *, recurrent=True, deriv_at_prev=False, dW_hh_uses_h=False, forward_order=False):
    H = rnn_forward(X, h0, W_xh, W_hh, b)
    prev = np.concatenate([h0[:, None], H[:, :-1]], axis=1)
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
    Z = Z - Z.max(axis=-1, keepdims=True)
    logP = Z - np.log(np.exp(Z).sum(axis=-1, keepdims=True))
    bsz, s = Y.shape
    loss = -np.take_along_axis(logP, Y[..., None], axis=-1).mean()
    dZ = np.exp(logP)
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


def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    scale = min(1.0, max_norm / norm)
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
    ],
    "6.2": [
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
    ],
    "6.5": [
        (lambda *a: _lm(*a, mode="no_V"), r"Vᵀ term is missing"),
        (lambda *a: _lm(*a, mode="last_only"), r"only at the last step"),
        (lambda *a: _lm(*a, mode="no_recurrent"), r"recurrent path is missing"),
        (lambda *a: _lm(*a, mode="sum"), r"summed"),
        (lambda *a: _lm(*a, mode="dV_T"), r"dV is transposed|transpose"),
        (lambda *a: _lm(*a)[1], r"pair \(loss, grads\)"),
    ],
    "6.6": [
        (clip_by_value, r"clipping by value"),
        (clip_each_by_norm, r"its own norm"),
        (clip_always, r"even when the global norm is below"),
        (clip_squared_norm, r"squared norm"),
        (clip_returns_clipped_norm, r"AFTER clipping"),
        (lambda grads, max_norm: clip_by_global_norm(grads, max_norm)[0], r"pair"),
    ],
    "6.7": [
        (cross_entropy_only, r"mean cross-entropy.*exp of it"),
        (perplexity_per_sequence, r"per sequence"),
        (perplexity_naive, r"NaN|inf|not finite|not right"),
        (lambda logits, targets: 2 ** cross_entropy_only(logits, targets), r"mixes bases"),
    ],
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)

# Mutants of the reference answers that compute the same thing (python -m helpers.mutants).
EQUIVALENT = {
    "6.4": {
        "L3 Sign flipped (x→−x): np.zeros_like(h0)": "a −0.0 start for the carried gradient: the sums are unchanged",
        "L2 Sign flipped (x→−x): np.zeros_like(X)": "a −0.0 start: every slice is overwritten",
        "L2 Sign flipped (x→−x): np.zeros_like(W_xh)": "a −0.0 start for an accumulated sum: the sum is unchanged",
        "L2 Sign flipped (x→−x): np.zeros_like(W_hh)": "a −0.0 start for an accumulated sum: the sum is unchanged",
        "L2 Sign flipped (x→−x): np.zeros_like(b)": "a −0.0 start for an accumulated sum: the sum is unchanged",
    },
    "6.5": {
        "L4 In place (x = x op d → x op= d): Z = Z - Z.max(axis=-1, keepdims=True)": "Z is the function's own array",
        "L6 axis dropped: np.take_along_axis(log_P, Y[..., None], axis=-1)": "NumPy ≥ 2.3: take_along_axis's axis "
                                                                             "defaults to −1",
    },
    "6.6": {
        "L1 Call dropped: float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))": "a NumPy float64 is a Python float",
    },
    "6.7": {
        "L3 axis dropped: np.take_along_axis(log_p, targets[..., None], axis=-1)": "NumPy ≥ 2.3: take_along_axis's axis "
                                                                                  "defaults to −1",
        "L4 Call dropped: float(np.exp(nll.mean()))": "a NumPy float64 is a Python float",
    },
}
