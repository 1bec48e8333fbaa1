"""Checks for chapter 06: recurrent networks and backpropagation through time.

Notation (column vectors in the maths, rows of a batch in the code):
``h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)``, ``W_xh`` is (n, m), ``W_hh`` is (n, n); in the code
``H[:, t] = tanh(X[:, t] @ W_xh.T + H[:, t-1] @ W_hh.T + b)``. Keras stores the same weights as
``kernel = W_xh.T`` (m, n) and ``recurrent_kernel = W_hh.T`` (n, n).

Oracles: a Keras ``SimpleRNNCell`` / ``SimpleRNN`` with mapped weights for the forward passes,
the TF kernel ``helpers.kernels.rnn.simple_rnn_grads`` (autodiff) for the BPTT gradients,
``tf.GradientTape`` through the softmax model, ``tf.clip_by_global_norm`` and Keras's cross-entropy.
The small NumPy functions named ``_wrong_*`` compute known *wrong* answers, only to recognise
them and give a specific hint.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers import tensorflow
from helpers.checks import (as_array, assert_close, assert_each_close, call, exercise, fail, random_inputs,
                            require, unpack)

GRAD_KEYS_STEP = ("x", "h_prev", "W_xh", "W_hh", "b")
GRAD_KEYS_SEQ = ("X", "h0", "W_xh", "W_hh", "b")
LM_KEYS = ("W_xh", "W_hh", "b", "V", "c")


# --------------------------------------------------------------------------- oracles
def _keras_rnn(X: np.ndarray, h0: np.ndarray, W_xh: np.ndarray, W_hh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hidden states [b, s, n] from keras.layers.SimpleRNN with kernel = W_xhᵀ, recurrent_kernel = W_hhᵀ."""
    tensorflow()
    import keras

    layer = keras.layers.SimpleRNN(W_hh.shape[0], return_sequences=True, dtype="float64")
    layer.build((None, None, X.shape[-1]))
    layer.set_weights([W_xh.T, W_hh.T, b])
    return np.asarray(layer(X, initial_state=[h0]))


def _keras_cell(x: np.ndarray, h: np.ndarray, W_xh: np.ndarray, W_hh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One step of keras.layers.SimpleRNNCell with mapped weights."""
    tensorflow()
    import keras

    cell = keras.layers.SimpleRNNCell(W_hh.shape[0], dtype="float64")
    cell.build((None, x.shape[-1]))
    cell.set_weights([W_xh.T, W_hh.T, b])
    out, _ = cell(x, h)
    return np.asarray(out)


def _kernel_rnn_grads(X, h0, W_xh, W_hh, b, dH) -> dict[str, np.ndarray]:
    """Gradients of L = Σ H ⊙ dH by the TF kernel helpers.kernels.rnn.simple_rnn_grads (autodiff
    of a compiled tf.function), mapped from Keras's layout back to W_xh, W_hh."""
    tensorflow()
    from helpers.kernels.rnn import simple_rnn_grads

    g = {k: np.asarray(v) for k, v in simple_rnn_grads(X, h0, W_xh.T, W_hh.T, b, dH, eager=True).items()}
    return {"X": g["x"], "h0": g["h0"], "W_xh": g["kernel"].T, "W_hh": g["recurrent_kernel"].T, "b": g["bias"]}


def _tape_lm(X, Y, h0, p) -> tuple[float, dict[str, np.ndarray]]:
    """Mean cross-entropy of the softmax-output RNN and its gradients by tf.GradientTape."""
    tf = tensorflow()
    import keras

    v = {k: tf.Variable(p[k]) for k in LM_KEYS}
    with tf.GradientTape() as tape:
        h, hs = tf.constant(h0), []
        for t in range(X.shape[1]):
            h = tf.tanh(tf.matmul(X[:, t], v["W_xh"], transpose_b=True)
                        + tf.matmul(h, v["W_hh"], transpose_b=True) + v["b"])
            hs.append(h)
        logits = tf.matmul(tf.stack(hs, axis=1), v["V"], transpose_b=True) + v["c"]
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(Y, logits, from_logits=True))
    grads = tape.gradient(loss, v)
    return float(loss), {k: g.numpy() for k, g in grads.items()}


# --------------------------------------------------------------------------- known wrong answers
def _wrong_backward(X, h0, W_xh, W_hh, b, dH, *, recurrent=True, deriv_at_prev=False, dW_hh_uses_h=False,
                    accumulate=True, prev_wraps=False):
    """BPTT with one of the classic mistakes switched on (for hints only)."""
    bsz, s, _ = X.shape
    H = np.zeros((bsz, s, W_hh.shape[0]))
    h = h0
    for t in range(s):
        h = np.tanh(X[:, t] @ W_xh.T + h @ W_hh.T + b)
        H[:, t] = h
    prev = np.concatenate([(H[:, -1] if prev_wraps else h0)[:, None], H[:, :-1]], axis=1)  # prev_wraps: H[:, t-1] at t=0
    g = {k: 0.0 for k in GRAD_KEYS_SEQ}
    dX = np.zeros_like(X)
    carry = np.zeros_like(h0)
    for t in reversed(range(s)):
        dh = dH[:, t] + (carry if recurrent else 0.0)
        da = dh * (1 - (prev[:, t] if deriv_at_prev else H[:, t]) ** 2)
        keep = 1.0 if accumulate else 0.0  # accumulate=False: each step overwrites the weight gradients
        g["W_xh"] = keep * g["W_xh"] + da.T @ X[:, t]
        g["W_hh"] = keep * g["W_hh"] + da.T @ (H[:, t] if dW_hh_uses_h else prev[:, t])
        g["b"] = keep * g["b"] + da.sum(axis=0)
        dX[:, t] = da @ W_xh
        carry = da @ W_hh
    g["X"], g["h0"] = dX, carry
    return g


def _dict_of_arrays(out: Any, keys: tuple[str, ...], shapes: dict[str, tuple], what: str) -> dict[str, np.ndarray]:
    if out is None:
        fail(f"{what} returned None — did the function forget to `return` the dictionary of gradients?")
    if not isinstance(out, dict):
        fail(f"{what} should return a dict with keys {list(keys)}, got {type(out).__name__}.")
    missing = [k for k in keys if k not in out]
    require(not missing, f"{what}: the returned dict lacks the key(s) {missing}; expected keys {list(keys)}.")
    for k in keys:  # shape and finiteness first; the raw value is kept so its dtype sets the tolerance
        as_array(out[k], f"gradient '{k}'", shapes[k])
    return {k: out[k] for k in keys}


def _params(seed: int, b: int, s: int, m: int, n: int):
    X, h0, W_xh, W_hh, bias, dH = random_inputs(seed, (b, s, m), (b, n), (n, m), (n, n), (n,), (b, s, n))
    return X, 0.5 * h0, 0.6 * W_xh, 0.5 * W_hh, 0.3 * bias, dH


_TANH_HINT = ("tanh' is taken at the wrong time step: the factor is (1 − h_t²) with h_t the output of "
              "this step, not (1 − h_{t−1}²).")


# --------------------------------------------------------------------------- 6.1
@exercise("6.1", "one RNN step (forward)", "rnn_step matches keras.layers.SimpleRNNCell with mapped weights")
def ex_6_1(rnn_step) -> None:
    for seed, (bsz, m, n) in enumerate([(3, 4, 5), (1, 2, 2), (4, 6, 3)]):
        _, h, W_xh, W_hh, b, _ = _params(seed, bsz, 1, m, n)
        x = random_inputs(seed + 10, (bsz, m))[0]
        out = call(rnn_step, x, h, W_xh, W_hh, b, name="rnn_step")
        expected = _keras_cell(x, h, W_xh, W_hh, b)
        pre = x @ W_xh.T + h @ W_hh.T + b
        hints = [
            (np.tanh(x @ W_xh.T + h @ W_hh + b), "the recurrent term uses W_hh where W_hhᵀ is needed: with batch rows, "
                                                  "h_prev @ W_hh.T (the maths reads W_hh h_{t−1} for a column h)."),
            (np.tanh(x @ W_xh.T + h @ W_hh.T), "the bias b is missing."),
            (pre, "the tanh is missing: h_t = tanh(W_xh x_t + W_hh h_{t−1} + b)."),
            (np.tanh(x @ W_xh.T + b), "the recurrent term W_hh h_{t−1} is missing."),
        ]
        if m == n:
            hints.append((np.tanh(x @ W_xh + h @ W_hh.T + b), "the input term uses W_xh where W_xhᵀ is needed: "
                                                              "x @ W_xh.T (W_xh is (n, m), x is [b, m])."))
        assert_close(out, expected, f"rnn_step output (batch {bsz}, m={m}, n={n})", rtol=1e-7, atol=1e-10,
                     hints=hints, index_names=["batch row", "unit"])


# --------------------------------------------------------------------------- 6.2
@exercise("6.2", "RNN over a sequence (forward)", "rnn_forward matches keras.layers.SimpleRNN(return_sequences=True), shape [b, s, n]")
def ex_6_2(rnn_forward) -> None:
    for seed, (bsz, s, m, n) in enumerate([(2, 5, 3, 4), (3, 7, 4, 2), (1, 1, 2, 3)]):
        X, h0, W_xh, W_hh, b, _ = _params(seed + 30, bsz, s, m, n)
        out = call(rnn_forward, X, h0, W_xh, W_hh, b, name="rnn_forward")
        expected = _keras_rnn(X, h0, W_xh, W_hh, b)
        shape = np.shape(out) if out is not None and not isinstance(out, (str, dict)) else None
        if shape == (s, bsz, n) and s != bsz:
            fail(f"H has shape {shape} = (steps, batch, units): the per-step states were stacked along axis 0. "
                 f"Keras's convention is [b, s, n] = {(bsz, s, n)}: np.stack(hs, axis=1).")
        if shape == (bsz, s + 1, n):
            fail(f"H has shape {shape}: it includes h0. Return the s states h_1 … h_s, shape {(bsz, s, n)}.")
        if shape == (bsz, s * n) or shape == (bsz * s, n):
            fail(f"H has shape {shape}: the states were concatenated instead of stacked; use np.stack(hs, axis=1).")
        no_carry = np.stack([np.tanh(X[:, t] @ W_xh.T + h0 @ W_hh.T + b) for t in range(s)], axis=1)
        assert_close(out, expected, f"H (batch {bsz}, {s} steps)", rtol=1e-7, atol=1e-10, hints=[
            (no_carry, "every step starts again from h0: feed the new state h_t into the next step."),
        ], index_names=["batch row", "time step", "unit"])


# --------------------------------------------------------------------------- 6.3
@exercise("6.3", "one RNN step (backward)", "rnn_step_backward matches the TF kernel (autodiff) for all five gradients")
def ex_6_3(rnn_step_backward) -> None:
    for seed, (bsz, m, n) in enumerate([(3, 4, 5), (2, 3, 3)]):
        X, h_prev, W_xh, W_hh, b, dH = _params(seed + 20, bsz, 1, m, n)
        x, dh = X[:, 0], dH[:, 0]
        h = np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b)
        out = call(rnn_step_backward, dh, x, h_prev, h, W_xh, W_hh, name="rnn_step_backward")
        shapes = dict(x=x.shape, h_prev=h_prev.shape, W_xh=W_xh.shape, W_hh=W_hh.shape, b=b.shape)
        got = _dict_of_arrays(out, GRAD_KEYS_STEP, shapes, "rnn_step_backward")
        oracle = _kernel_rnn_grads(X, h_prev, W_xh, W_hh, b, dH)
        oracle = dict(oracle, x=oracle["X"][:, 0], h_prev=oracle["h0"])
        wrong_prev = _wrong_backward(X, h_prev, W_xh, W_hh, b, dH, deriv_at_prev=True)
        wrong_prev = dict(wrong_prev, x=wrong_prev["X"][:, 0], h_prev=wrong_prev["h0"])
        no_deriv = {"W_xh": dh.T @ x, "W_hh": dh.T @ h_prev, "b": dh.sum(0), "x": dh @ W_xh, "h_prev": dh @ W_hh}
        items = []
        for key in ("b", "W_xh", "W_hh", "x", "h_prev"):
            hints = [(wrong_prev[key], _TANH_HINT),
                     (no_deriv[key], "the factor tanh'(a_t) = 1 − h_t² is missing: first form da = dh ⊙ (1 − h²).")]
            if key in ("W_xh", "W_hh", "b"):
                hints.append((oracle[key] / bsz, "the weight gradients are averaged over the batch rows; they are SUMS "
                                                 "over the batch (da.T @ x already sums; for b use da.sum(axis=0))."))
            if key == "W_hh":
                hints.append((h_prev.T @ (dh * (1 - h ** 2)), "dW_hh is transposed: it is daᵀ @ h_prev, shape (n, n) "
                                                               "with rows indexed by the unit that receives."))
            if key == "h_prev":
                hints.append(((dh * (1 - h ** 2)) @ W_hh.T, "dh_prev should be da @ W_hh (row form of W_hhᵀ da)."))
            items.append((f"gradient '{key}'", got[key], oracle[key], {"hints": hints}))
        assert_each_close(items, rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------------------- 6.4
@exercise("6.4", "backpropagation through time", "rnn_backward (BPTT) matches the TF kernel (autodiff) for X, h0, W_xh, W_hh, b")
def ex_6_4(rnn_backward) -> None:
    for seed, (bsz, s, m, n) in enumerate([(2, 6, 3, 4), (3, 4, 2, 2)]):
        X, h0, W_xh, W_hh, b, dH = _params(seed + 40, bsz, s, m, n)
        out = call(rnn_backward, X, h0, W_xh, W_hh, b, dH, name="rnn_backward")
        shapes = dict(X=X.shape, h0=h0.shape, W_xh=W_xh.shape, W_hh=W_hh.shape, b=b.shape)
        got = _dict_of_arrays(out, GRAD_KEYS_SEQ, shapes, "rnn_backward")
        oracle = _kernel_rnn_grads(X, h0, W_xh, W_hh, b, dH)
        args = (X, h0, W_xh, W_hh, b, dH)
        overwritten = _wrong_backward(*args, accumulate=False)
        wrong = [
            (_wrong_backward(*args, recurrent=False),
             "the recurrent path is missing: ∂L/∂h_t must also collect W_hhᵀ[(1 − h_{t+1}²) ⊙ ∂L/∂h_{t+1}] from step t+1."),
            (_wrong_backward(*args, deriv_at_prev=True), _TANH_HINT),
            (_wrong_backward(*args, dW_hh_uses_h=True),
             "dW_hh pairs da_t with h_t; the weight W_hh multiplies h_{t−1}, so it is Σ_t da_tᵀ h_{t−1}."),
            (_wrong_backward(*args, prev_wraps=True),
             "at the first step (t = 0) the previous state is h0, but H[:, t-1] is H[:, -1], the LAST state: "
             "use `h_prev = H[:, t-1] if t > 0 else h0`."),
        ]
        items = []
        for key in ("b", "W_xh", "W_hh", "X", "h0"):
            hints = [(w[key], msg) for w, msg in wrong]
            if key in ("W_xh", "W_hh", "b"):
                hints.append((overwritten[key],
                              "only the contribution of one time step is left: the weights are shared over time, so "
                              "ADD each step's gradient (+=) instead of overwriting it."))
                hints.append((oracle[key] / bsz, "the weight gradients are averaged over the batch rows; they are sums."))
            if key == "h0":
                hints.append((np.zeros_like(h0), "the gradient for h0 is zero: it is what leaves the first step, "
                                                 "da_1 @ W_hh (the dh_prev of the last backward step)."))
            items.append((f"gradient '{key}' ({s} steps)", got[key], oracle[key], {"hints": hints}))
        assert_each_close(items, rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------------------- 6.5
def _lm_case(seed: int, bsz: int, s: int, m: int, n: int, K: int, v_scale: float = 1.0):
    X, h0, W_xh, W_hh, b, _ = _params(seed, bsz, s, m, n)
    V, c = random_inputs(seed + 1, (K, n), (K,))
    Y = np.random.default_rng(seed).integers(0, K, size=(bsz, s))
    return X, Y, h0, dict(W_xh=W_xh, W_hh=W_hh, b=b, V=v_scale * V, c=0.1 * c)


# (b, s, m, n, K, scale of V): the third case has logits of several hundred whose rows have very different
# maxima, so an unshifted softmax overflows and one shifted by the row minimum or by the global maximum fails
LM_CASES = [(3, 5, 4, 6, 6, 1.0), (2, 4, 3, 3, 7, 1.0), (2, 3, 3, 4, 5, 1000.0)]
_UNSTABLE_HINT = ("the loss or the gradients are not finite for logits of a few hundred: exp overflows. Compute the "
                  "log-softmax stably, subtracting each row's MAXIMUM over the class axis (Z.max(axis=-1, "
                  "keepdims=True)) before exp.")


def _class_at_time(P: np.ndarray, Y: np.ndarray) -> np.ndarray | None:
    """(ŷ − 1 at class t) instead of (ŷ − 1 at class y_t): the time index used as the class index."""
    bsz, s, K = P.shape
    if s > K:
        return None
    wrong = P.copy()
    wrong[:, np.arange(s), np.arange(s)] -= 1.0
    return wrong


@exercise("6.5", "BPTT through a softmax output layer", "lm_loss_and_grads matches tf.GradientTape: loss and all five gradients, also for large logits")
def ex_6_5(lm_loss_and_grads) -> None:
    for seed, (bsz, s, m, n, K, v_scale) in enumerate(LM_CASES):
        X, Y, h0, p = _lm_case(seed + 50, bsz, s, m, n, K, v_scale)
        out = call(lm_loss_and_grads, X, Y, h0, p, name="lm_loss_and_grads")
        loss, grads = unpack(out, "lm_loss_and_grads", ["loss", "grads"])
        exp_loss, oracle = _tape_lm(X, Y, h0, p)
        if v_scale > 1 and not (_finite(loss) and (not isinstance(grads, dict) or all(map(_finite, grads.values())))):
            fail(_UNSTABLE_HINT)
        shapes = {k: a.shape for k, a in p.items()}
        got = _dict_of_arrays(grads, LM_KEYS, shapes, "lm_loss_and_grads")
        _assert_loss(loss, exp_loss, bsz, s)
        # known wrong answers: dZ = (P − Y)/(b s); the hidden-state gradient gets dZ @ V at every step
        H = _keras_rnn(X, h0, p["W_xh"], p["W_hh"], p["b"])
        Z = H @ p["V"].T + p["c"]
        P = np.exp(Z - Z.max(-1, keepdims=True))
        P /= P.sum(-1, keepdims=True)
        dZ = (P - np.eye(K)[Y]) / (bsz * s)
        hints_by_key: dict[str, list] = {k: [] for k in LM_KEYS}
        last_only = np.zeros_like(H)
        last_only[:, -1] = dZ[:, -1] @ p["V"]
        wrongs = [(last_only, "the output term Vᵀ(ŷ_t − y_t) enters ∂L/∂h_t only at the last step; every step has a "
                              "loss, so ∂L/∂h_t = Vᵀ(ŷ_t − y_t) + the recurrent term at every t.")]
        if K == n:
            wrongs.append((dZ, "the Vᵀ term is missing: ∂ℓ_t/∂h_t = Vᵀ(ŷ_t − y_t), in rows dZ @ V, not (ŷ_t − y_t) itself."))
        wrongs = [(dH_wrong, msg, True) for dH_wrong, msg in wrongs]
        wrongs.append((dZ @ p["V"], "the recurrent path is missing: ∂L/∂h_t = Vᵀ(ŷ_t − y_t) + W_hhᵀ[(1 − h_{t+1}²) ⊙ "
                                    "∂L/∂h_{t+1}] — the second term carries later losses back.", False))
        for dH_wrong, msg, recurrent in wrongs:
            w = _wrong_backward(X, h0, p["W_xh"], p["W_hh"], p["b"], dH_wrong, recurrent=recurrent)
            for k in ("W_xh", "W_hh", "b"):
                hints_by_key[k].append((w[k], msg))
        time_as_class = _class_at_time(P, Y)
        if time_as_class is not None:
            dZ_t = time_as_class / (bsz * s)
            msg = ("the 1 is subtracted at class t (the time step) instead of at the target class y_t: "
                   "∂ℓ_t/∂z_{t,k} = ŷ_{t,k} − [k = y_t], e.g. dZ[b, t, Y[b, t]] -= 1.")
            w = _wrong_backward(X, h0, p["W_xh"], p["W_hh"], p["b"], dZ_t @ p["V"])
            for k in ("W_xh", "W_hh", "b"):
                hints_by_key[k].append((w[k], msg))
            hints_by_key["V"].append((np.einsum("bsk,bsn->kn", dZ_t, H), msg))
            hints_by_key["c"].append((dZ_t.sum(axis=(0, 1)), msg))
        hints_by_key["V"].append((np.einsum("bsn,bsk->nk", H, dZ), "dV is transposed: dV = Σ_t (ŷ_t − y_t) h_tᵀ, shape (K, n)."))
        items = []
        for k in LM_KEYS:
            hints_by_key[k].append((oracle[k] * bsz * s, "the gradient is b·s times too large: the loss is a mean, so dZ = (ŷ − y)/(b·s)."))
            items.append((f"gradient '{k}'", got[k], oracle[k], {"hints": hints_by_key[k]}))
        assert_each_close(items, rtol=1e-6, atol=1e-10)


def _as_plain(value: Any) -> Any:
    return value.numpy() if hasattr(value, "numpy") and callable(value.numpy) else value


def _finite(value: Any) -> bool:
    """False only for numbers/arrays holding NaN or inf (anything else is left to as_array's messages)."""
    try:
        array = np.asarray(_as_plain(value), dtype=float)
    except (TypeError, ValueError):
        return True
    return bool(np.all(np.isfinite(array)))


def _assert_loss(loss: Any, exp_loss: float, bsz: int, s: int) -> None:
    assert_close(loss, exp_loss, "loss", rtol=1e-7, hints=[
        (exp_loss * bsz * s, "the loss is summed; take the mean over all b·s positions."),
        (exp_loss * s, "the loss is summed over time; take the mean over all b·s positions."),
    ])


# --------------------------------------------------------------------------- 6.6
# (max_norm, seed, scale of the gradients): 100 is above the global norm (nothing changes); the small
# gradients have a global norm below 1 that still exceeds max_norm; the zero gradients have norm 0
CLIP_CASES = [(1.0, 61, 2.0), (7.0, 60, 2.0), (100.0, 62, 2.0), (0.5, 63, 2.0), (0.1, 64, 0.05), (1.0, 65, 0.0)]


@exercise("6.6", "clipping by global norm", "clip_by_global_norm matches tf.clip_by_global_norm (direction kept)")
def ex_6_6(clip_by_global_norm) -> None:
    tf = tensorflow()
    for max_norm, seed, scale in CLIP_CASES:
        grads = random_inputs(seed, (3, 4), (4,), (2, 2, 2), scale=scale)
        out = call(clip_by_global_norm, grads, max_norm, name="clip_by_global_norm")
        clipped, norm = unpack(out, "clip_by_global_norm", ["clipped", "global_norm"])
        if isinstance(clipped, np.ndarray) or not hasattr(clipped, "__len__") or len(clipped) != len(grads):
            fail(f"the first element should be a list of {len(grads)} arrays, one per gradient.")
        expected, expected_norm = tf.clip_by_global_norm([tf.constant(g) for g in grads], max_norm)
        total = float(expected_norm)
        assert_close(norm, total, "global_norm", rtol=1e-9, atol=1e-12, hints=[
            (sum(float((g ** 2).sum()) for g in grads), "that is the squared norm: take the square root of Σ‖g‖²."),
            (sum(float(np.sqrt((g ** 2).sum())) for g in grads), "that is the sum of the per-tensor norms; the global "
                                                                 "norm is sqrt(Σ_i ‖g_i‖²)."),
            (min(total, max_norm), "that is the norm AFTER clipping; return the global norm of the "
                                   "gradients as they came in (before clipping)."),
        ])
        expected = [e.numpy() for e in expected]
        got = [as_array(c, f"clipped gradient {i}", g.shape) for i, (c, g) in enumerate(zip(clipped, grads))]
        if all(np.allclose(c, e, rtol=1e-9, atol=1e-12) for c, e in zip(got, expected)):
            continue
        wrong_lists = [
            (grads, "the gradients came back unchanged although their global norm exceeds max_norm."),
            ([np.clip(g, -max_norm, max_norm) for g in grads],
             "this is clipping by value (each element cut to ±max_norm); it changes the direction. "
             "Norm clipping rescales all gradients by one factor, min(1, max_norm / global_norm)."),
            ([g * min(1.0, max_norm / max(np.sqrt((g ** 2).sum()), 1e-300)) for g in grads],
             "each tensor was clipped by its own norm (tf.clip_by_norm); use ONE factor from the global norm."),
            ([g * max_norm / max(total, 1e-300) for g in grads],
             "you rescale even when the global norm is below max_norm; scale by min(1, max_norm / global_norm)."),
        ]
        for wrong, message in wrong_lists:
            same_as_right = all(np.allclose(w, e, rtol=1e-6, atol=1e-12) for w, e in zip(wrong, expected))
            if not same_as_right and all(np.allclose(c, w, rtol=1e-6, atol=1e-12) for c, w in zip(got, wrong)):
                fail(f"the clipped gradients (max_norm={max_norm:g}) are not right: {message}")
        assert_each_close([(f"clipped gradient {i} (max_norm={max_norm:g})", c, e)
                           for i, (c, e) in enumerate(zip(clipped, expected))], rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- 6.7
def _perplexity_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(logits, targets): moderate logits; logits of ±100; logits near 800 (exp overflows); logits of several
    hundred whose rows span more than 709 and whose maxima differ by more than 745 (a shift by the row
    minimum overflows, a shift by the global maximum underflows whole rows)."""
    cases = []
    for logits in (rng.standard_normal((4, 6, 5)) * 2, rng.standard_normal((2, 3, 9)) * 3,
                   rng.standard_normal((3, 2, 4)) * 100, 800.0 + 3 * rng.standard_normal((2, 4, 6))):
        cases.append((logits, rng.integers(0, logits.shape[-1], size=logits.shape[:2])))
    logits = 300 * rng.standard_normal((3, 4, 6)) + np.array([0.0, 1500.0, -900.0])[:, None, None]
    targets = np.argsort(logits, axis=-1)[..., -2]        # the runner-up class: a finite, moderate perplexity
    cases.append((logits, targets))
    return cases


@exercise("6.7", "perplexity", "perplexity matches exp(Keras sparse categorical cross-entropy), also for large logits")
def ex_6_7(perplexity) -> None:
    tf = tensorflow()
    import keras

    for logits, targets in _perplexity_cases(np.random.default_rng(70)):
        out = call(perplexity, logits, targets, name="perplexity")
        nll = keras.losses.sparse_categorical_crossentropy(targets, tf.constant(logits), from_logits=True).numpy()
        expected = float(np.exp(nll.mean()))
        with np.errstate(over="ignore"):
            summed = np.exp(nll.sum())
        stable = ("use a stable log-softmax that subtracts each row's maximum over the class axis, "
                  "logits.max(axis=-1, keepdims=True).")
        if not _finite(out):
            fail(f"perplexity is not finite for logits of shape {logits.shape} with values up to "
                 f"{np.abs(logits).max():.0f}: exp overflows or log(0) — {stable}")
        if np.size(_as_plain(out)) == 1 and float(np.asarray(_as_plain(out), dtype=float)) < 1 - 1e-9:
            fail(f"perplexity is below 1 for logits of shape {logits.shape} with values up to {np.abs(logits).max():.0f}, "
                 "which is impossible (it is exp of a mean of −log p ≥ 0): whole rows of exp underflowed to 0 — "
                 f"{stable}")
        assert_close(out, expected, f"perplexity (logits of shape {logits.shape})", rtol=1e-6, hints=[
            (nll.mean(), "that is the mean cross-entropy (in nats); perplexity is exp of it."),
            (summed, "exp of the summed cross-entropy; average over all b·s positions first."),
            (np.exp(nll.mean(axis=1)).mean(), "you exponentiated per sequence and then averaged; average the "
                                              "cross-entropy over all positions first, then take exp."),
            (2 ** nll.mean(), "2 ** (cross-entropy in nats) mixes bases: with the natural log use exp."),
        ])
