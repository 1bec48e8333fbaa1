"""Checks for chapter 07 (LSTM and GRU).

Oracles: Keras layers (``keras.layers.LSTM`` / ``GRU`` in float64 with mapped weights) for the
forward passes, the helpers TF kernels (``helpers.kernels.rnn``: autodiff of the Keras-layout
equations, themselves tested against Keras) for gradients, and the data for the forecast. NumPy versions of known mistakes below only serve to recognise them
and give a specific hint; they are never the reference.

Conventions (Keras): x [batch, T, n] (one step: [batch, n]); kernel W [n, 4u] (GRU: [n, 3u]);
recurrent kernel U [u, 4u]; bias [4u] (GRU reset_after=True: [2, 3u]); LSTM gate blocks
[i, f, c, o], GRU blocks [z, r, h]; h_t = z ⊙ h_{t-1} + (1 − z) ⊙ h̃_t in the GRU.
"""
from __future__ import annotations

import numpy as np

from helpers.checks import (as_array, assert_blocks_close, assert_close, assert_each_close, call, exercise, fail,
                            precision, random_inputs, require, unpack)

B, N, U, T = 3, 4, 5, 6  # batch, inputs, units, steps: all different so a transpose shows
GATES_LSTM, GATES_GRU = "ifco", "zrh"


def _gate_blocks(names: str, u: int) -> dict:
    """Index of each gate's block along the last axis (Keras layout), for assert_blocks_close."""
    return {g: (np.s_[..., k * u:(k + 1) * u]) for k, g in enumerate(names)}


# --------------------------------------------------------------------------- NumPy helpers
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _split(z: np.ndarray, k: int) -> list[np.ndarray]:
    return np.split(z, k, axis=-1)


def _lstm_step_np(x, h, c, W, Uk, b, order="ifco", tanh_c=True, use_bias=True, g_act=np.tanh, forget_shift=0.0):
    """One LSTM step; ``order`` names what each kernel block is taken to be (for wrong variants)."""
    z = x @ W + h @ Uk + (b if use_bias else 0.0)
    blocks = dict(zip(order, _split(z, 4)))
    blocks["f"] = blocks["f"] + forget_shift
    i, f, g, o = _sigmoid(blocks["i"]), _sigmoid(blocks["f"]), g_act(blocks["c"]), _sigmoid(blocks["o"])
    c_new = f * c + i * g
    h_new = o * (np.tanh(c_new) if tanh_c else c_new)
    return h_new, c_new


def _lstm_step_backward_np(dh, dc, x, h, c, W, Uk, b, variant=""):
    z = x @ W + h @ Uk + b
    zi, zf, zg, zo = _split(z, 4)
    i, f, g, o = _sigmoid(zi), _sigmoid(zf), np.tanh(zg), _sigmoid(zo)
    c_new = f * c + i * g
    tc = np.tanh(c_new)
    if variant == "parentheses":
        dct = dc + dh * o * 1 - tc ** 2
    elif variant == "parentheses2":
        dct = dc + dh * (o * 1 - tc ** 2)
    elif variant == "no_h_path":
        dct = dc
    elif variant == "no_o":
        dct = dc + dh * (1 - tc ** 2)
    else:
        dct = dc + dh * o * (1 - tc ** 2)
    dzi = dct * g * i * (1 - i)
    dzf = dct * c * f * (1 - f)
    dzg = dct * (f if variant == "g_weight" else i) * (1 - g ** 2)
    dzo = dh * tc * o * (1 - o)
    dz = np.concatenate([dzi, dzf, dzg, dzo], axis=-1)
    return dz @ W.T, dz @ Uk.T, dct * f, x.T @ dz, h.T @ dz, dz.sum(axis=0)


def _lstm_backward_np(x, h0, c0, W, Uk, b, dhs, variant=""):
    steps = x.shape[1]
    hs, cs = [h0], [c0]
    for t in range(steps):
        h, c = _lstm_step_np(x[:, t], hs[-1], cs[-1], W, Uk, b)
        hs.append(h)
        cs.append(c)
    dx = np.zeros_like(x)
    dW, dU, db = np.zeros_like(W), np.zeros_like(Uk), np.zeros_like(b)
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(steps)):
        dh = dhs[:, t] + (0.0 if variant in ("no_recurrent", "no_dh_carry") else dh_next)
        dc = 0.0 * dc_next if variant in ("no_carousel", "no_recurrent") else dc_next
        dx[:, t], dh_next, dc_next, dWt, dUt, dbt = _lstm_step_backward_np(dh, dc, x[:, t], hs[t], cs[t], W, Uk, b)
        dW += dWt
        dU += dUt
        db += dbt
    return dx, dh_next, dc_next, dW, dU, db


def _gru_step_np(x, h, W, Uk, b, order="zrh", reset_after=True, swap_z=False, rec_bias=True):
    bx, bh = (b[0], b[1]) if reset_after else (b, np.zeros_like(b))
    if not rec_bias:
        bh = np.zeros_like(bh)
    xz = dict(zip(order, _split(x @ W + bx, 3)))
    Wh = dict(zip(order, _split(Uk, 3)))
    bhs = dict(zip(order, _split(bh, 3)))
    z = _sigmoid(xz["z"] + h @ Wh["z"] + bhs["z"])
    r = _sigmoid(xz["r"] + h @ Wh["r"] + bhs["r"])
    if reset_after:
        hh = np.tanh(xz["h"] + r * (h @ Wh["h"] + bhs["h"]))
    else:
        hh = np.tanh(xz["h"] + (r * h) @ Wh["h"])
    return (1 - z) * h + z * hh if swap_z else z * h + (1 - z) * hh


def _gru_forward_np(x, h0, W, Uk, b, **kw):
    h, out = h0, []
    for t in range(x.shape[1]):
        h = _gru_step_np(x[:, t], h, W, Uk, b, **kw)
        out.append(h)
    return np.stack(out, axis=1)


def _gru_step_backward_np(dh, x, h, W, Uk, b, variant=""):  # noqa: C901
    units = h.shape[-1]
    xz, xr, xh = _split(x @ W + b[0], 3)
    hz, hr, hu = _split(h @ Uk + b[1], 3)
    z, r = _sigmoid(xz + hz), _sigmoid(xr + hr)
    hh = np.tanh(xh + r * hu)
    dhh = dh * (1 - z)
    da = dhh * (1 - hh ** 2)
    if variant == "tanh_twice":
        da = da * (1 - hh ** 2)
    elif variant == "tanh_of_tanh":
        da = dhh * (1 - np.tanh(hh) ** 2)
    dz = dh * (h - hh) * z * (1 - z)
    dr = da * hu * r * (1 - r)
    dx_pre = np.concatenate([dz, dr, da], axis=-1)
    dh_pre = np.concatenate([dz, dr, da * r], axis=-1)
    dh_prev = (0.0 if variant == "no_direct" else dh * z) + dh_pre @ Uk.T
    db = np.stack([dx_pre.sum(0), dh_pre.sum(0)])
    assert units == Uk.shape[0]
    return dx_pre @ W.T, dh_prev, x.T @ dx_pre, h.T @ dh_pre, db


# --------------------------------------------------------------------------- oracles (Keras + TF)
def _keras_lstm(W, Uk, b, return_sequences=True):
    import keras

    layer = keras.layers.LSTM(Uk.shape[0], return_sequences=return_sequences, return_state=True, dtype="float64")
    layer.build((None, None, W.shape[0]))
    layer.set_weights([W, Uk, b])
    return layer


def _keras_gru(W, Uk, b, reset_after=True):
    import keras

    layer = keras.layers.GRU(Uk.shape[0], return_sequences=True, reset_after=reset_after, dtype="float64")
    layer.build((None, None, W.shape[0]))
    layer.set_weights([W, Uk, b])
    return layer


def _lstm_oracle_grads(x, h0, c0, W, Uk, b, dhs, dcs=None):
    """[dx, dh0, dc0, dW, dU, db] of L = Σ hs ⊙ dhs (+ Σ cs ⊙ dcs), from the helpers TF kernel."""
    from helpers.kernels import rnn

    grads = rnn.lstm_grads(x, h0, c0, W, Uk, b, dhs, dcs, eager=True)
    return [np.asarray(grads[k]) for k in ("x", "h0", "c0", "kernel", "recurrent_kernel", "bias")]


def _gru_oracle_grads(x, h0, W, Uk, b, dhs):
    """[dx, dh0, dW, dU, db] of L = Σ hs ⊙ dhs for the reset_after=True GRU, from the helpers TF kernel."""
    from helpers.kernels import rnn

    grads = rnn.gru_grads(x, h0, W, Uk, b, dhs, reset_after=True, eager=True)
    return [np.asarray(grads[k]) for k in ("x", "h0", "kernel", "recurrent_kernel", "bias")]


def _lstm_params(seed: int, n: int = N, u: int = U):
    W, Uk = random_inputs(seed, (n, 4 * u), (u, 4 * u), scale=0.5)
    b = random_inputs(seed + 1, (4 * u,), scale=0.3)[0]
    return W, Uk, b




# --------------------------------------------------------------------------- 7.1
@exercise("7.1", "one LSTM step forward", "lstm_step matches keras.layers.LSTM (gate order i, f, c, o, with biases)")
def ex_7_1(lstm_step) -> None:
    for seed, (bsz, n, u) in enumerate([(B, N, U), (2, 6, 3)]):
        x, h, c = random_inputs(seed + 10, (bsz, n), (bsz, u), (bsz, u))
        W, Uk, b = _lstm_params(seed, n, u)
        out = unpack(call(lstm_step, x, h, c, W, Uk, b, name="lstm_step"), "lstm_step", ["h", "c"])
        _, h_k, c_k = _keras_lstm(W, Uk, b)(x[:, None, :], initial_state=[h, c])
        h_k, c_k = h_k.numpy(), c_k.numpy()
        order_hint = "the gates are taken in the wrong order — Keras stores the blocks as [i, f, c, o] (input, forget, cell candidate g, output)."
        wrong_h = [
            (_lstm_step_np(x, h, c, W, Uk, b, order="icfo")[0], order_hint),
            (_lstm_step_np(x, h, c, W, Uk, b, order="fico")[0], "input and forget gate swapped — Keras stores the blocks as [i, f, c, o]."),
            (_lstm_step_np(x, h, c, W, Uk, b, tanh_c=False)[0], "hₜ = oₜ ⊙ tanh(cₜ): the tanh on the cell state is missing."),
            (_lstm_step_np(x, h, c, W, Uk, b, use_bias=False)[0], "the bias b is missing from the pre-activations."),
            (_lstm_step_np(x, h, c, W, Uk, b, g_act=_sigmoid)[0], "the candidate g uses tanh, not the sigmoid."),
            (_lstm_step_np(x, h, c, W, Uk, b, forget_shift=1.0)[0], "the forget gate got an extra +1: unit_forget_bias=True only sets the "
             "INITIAL value of b_f to 1; the step itself uses b as given, f = σ(x W_f + h U_f + b_f)."),
            (c_k, "you returned (c, h) — return (h, c)."),
        ]
        assert_each_close([
            ("h", out[0], h_k, {"hints": wrong_h}),
            ("c", out[1], c_k, {"hints": [(_lstm_step_np(x, h, c, W, Uk, b, order="icfo")[1], order_hint),
                                          (_lstm_step_np(x, h, c, W, Uk, b, use_bias=False)[1], "the bias b is missing from the pre-activations."),
                                          (h_k, "you returned (c, h) — return (h, c).")]}),
        ], rtol=1e-8, atol=1e-10, index_names=["batch row", "unit"])


# --------------------------------------------------------------------------- 7.3
_STEP_NAMES = ["dx", "dh_prev", "dc_prev", "dW", "dU", "db"]


@exercise("7.3", "one LSTM step backward", "lstm_step_backward matches the helpers LSTM kernel (autodiff), gate block by gate block")
def ex_7_3(lstm_step_backward) -> None:
    for seed, (bsz, n, u) in enumerate([(B, N, U), (2, 3, 2)]):
        x, h, c, dh, dc = random_inputs(seed + 20, (bsz, n), (bsz, u), (bsz, u), (bsz, u), (bsz, u))
        W, Uk, b = _lstm_params(seed + 2, n, u)
        out = unpack(call(lstm_step_backward, dh, dc, x, h, c, W, Uk, b, name="lstm_step_backward"),
                     "lstm_step_backward", _STEP_NAMES)
        gx, gh, gc, gW, gU, gb = _lstm_oracle_grads(x[:, None, :], h, c, W, Uk, b, dh[:, None, :], dc[:, None, :])
        expected = [gx[:, 0], gh, gc, gW, gU, gb]
        variants = {
            "parentheses": "o·1 − tanh²(c) is missing its parentheses: the h-path into c is dh ⊙ o ⊙ (1 − tanh²(cₜ)).",
            "parentheses2": "o·1 − tanh²(c) is missing its parentheses: the h-path into c is dh ⊙ o ⊙ (1 − tanh²(cₜ)).",
            "no_h_path": "cₜ also reaches the loss through hₜ = oₜ ⊙ tanh(cₜ): add dh ⊙ o ⊙ (1 − tanh²(cₜ)) to dc before using it.",
            "no_o": "the h-path into c is dh ⊙ oₜ ⊙ (1 − tanh²(cₜ)): the output gate oₜ is missing (hₜ = oₜ ⊙ tanh(cₜ)).",
            "g_weight": "the candidate's gradient is dc ⊙ iₜ ⊙ (1 − g²): g enters cₜ multiplied by the input gate i, not by f.",
        }
        wrong = {v: _lstm_step_backward_np(dh, dc, x, h, c, W, Uk, b, v) for v in variants}
        shapes = [(bsz, n), (bsz, u), (bsz, u), W.shape, Uk.shape, b.shape]
        for k, name in ((3, "dW"), (4, "dU")):
            if np.shape(out[k]) == tuple(reversed(shapes[k])) and shapes[k][0] != shapes[k][1]:
                fail(f"{name} should have shape {shapes[k]} like the weight itself, got {np.shape(out[k])} — "
                     f"use {'x' if name == 'dW' else 'h_prev'}.T @ dz, not dz.T @ ….")
        if np.shape(out[5]) == (bsz, 4 * u):
            fail("db should have shape (4u,): sum dz over the batch axis (axis=0).")
        blocks = _gate_blocks(GATES_LSTM, u)
        # the weight gradients first, gate block by gate block: a wrong gate is named
        for k in (5, 3, 4):
            assert_blocks_close(out[k], expected[k], _STEP_NAMES[k], blocks, layout="[i, f, c, o]",
                                hints=[(wrong[v][k], msg) for v, msg in variants.items()], rtol=1e-7, atol=1e-9)
        for k in (2, 0, 1):
            assert_close(out[k], expected[k], _STEP_NAMES[k], rtol=1e-7, atol=1e-9,
                         hints=[(wrong[v][k], msg) for v, msg in variants.items()], index_names=["batch row", "unit"])


# --------------------------------------------------------------------------- 7.4
@exercise("7.4", "full LSTM backward pass (BPTT)", "lstm_backward matches the helpers LSTM kernel (autodiff) over all time steps")
def ex_7_4(lstm_backward) -> None:
    for seed, (bsz, steps, n, u) in enumerate([(B, T, N, U), (2, 4, 3, 2)]):
        x, h0, c0 = random_inputs(seed + 30, (bsz, steps, n), (bsz, u), (bsz, u))
        dhs = random_inputs(seed + 31, (bsz, steps, u))[0]
        W, Uk, b = _lstm_params(seed + 4, n, u)
        out = unpack(call(lstm_backward, x, h0, c0, W, Uk, b, dhs, name="lstm_backward"),
                     "lstm_backward", ["dx", "dh0", "dc0", "dW", "dU", "db"])
        expected = _lstm_oracle_grads(x, h0, c0, W, Uk, b, dhs)
        variants = {
            "no_carousel": "the cell-state path is dropped: dcₜ must receive fₜ₊₁ ⊙ dcₜ₊₁ from the next step (the constant error carousel).",
            "no_dh_carry": "dh is not carried back: dhₜ must also receive dh_prev = dz_{t+1} Uᵀ from step t+1 (the path "
                           "through the recurrent kernel U) — add it to dhs[:, t] before the step.",
            "no_recurrent": "this is BPTT without recurrent terms: dhₜ must also receive the gradient coming back from step t+1 "
                            "(through U) and dcₜ must receive fₜ₊₁ ⊙ dcₜ₊₁.",
        }
        wrong = {v: _lstm_backward_np(x, h0, c0, W, Uk, b, dhs, v) for v in variants}
        names = ["dx", "dh0", "dc0", "dW", "dU", "db"]
        if np.shape(out[0]) == (steps, bsz, n):
            fail("dx should have shape (batch, T, n) like x, got (T, batch, n) — stack along axis=1.")
        blocks = _gate_blocks(GATES_LSTM, u)
        for k in (5, 3, 4):
            assert_blocks_close(out[k], expected[k], names[k], blocks, layout="[i, f, c, o]",
                                hints=[(wrong[v][k], msg) for v, msg in variants.items()], rtol=1e-7, atol=1e-9)
        for k in (0, 1, 2):
            assert_close(out[k], expected[k], names[k], rtol=1e-7, atol=1e-9,
                         hints=[(wrong[v][k], msg) for v, msg in variants.items()],
                         index_names=["batch row", "time step", "input"] if k == 0 else None)


# --------------------------------------------------------------------------- 7.2
def _gate_dict(seed: int, n: int, u: int) -> dict:
    rng = np.random.default_rng(seed)
    return {g: (0.5 * rng.standard_normal((n, u)), 0.5 * rng.standard_normal((u, u)), 0.3 * rng.standard_normal(u))
            for g in ("i", "f", "g", "o")}


def _per_gate_lstm(x, gates):
    """A per-gate LSTM forward written without any Keras layout: the oracle for 7.2."""
    u = gates["i"][1].shape[0]
    h = c = np.zeros((x.shape[0], u))
    pre = lambda k, xt: xt @ gates[k][0] + h @ gates[k][1] + gates[k][2]  # noqa: E731
    for t in range(x.shape[1]):
        i, f = _sigmoid(pre("i", x[:, t])), _sigmoid(pre("f", x[:, t]))
        g, o = np.tanh(pre("g", x[:, t])), _sigmoid(pre("o", x[:, t]))
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


_ORDER_SLIPS = [("igfo", "blocks in the order i, c, f, o — Keras expects [i, f, c, o] (the cell candidate is third)."),
                ("ifog", "blocks in the order i, f, o, c — Keras expects [i, f, c, o]."),
                ("figo", "input and forget gate swapped — Keras expects [i, f, c, o]."),
                ("fgio", "blocks in the order f, c, i, o — Keras expects [i, f, c, o].")]


@exercise("7.2", "per-gate weights → Keras LSTM layout", "to_keras_lstm gives keras.layers.LSTM the layout [i, f, c, o]; 4u(u+n+1) parameters")
def ex_7_2(to_keras_lstm) -> None:
    import keras

    for seed, (n, u) in enumerate([(3, 4), (5, 2)]):
        gates = _gate_dict(7 + seed, n, u)
        out = unpack(call(to_keras_lstm, gates, name="to_keras_lstm"), "to_keras_lstm",
                     ["kernel", "recurrent_kernel", "bias"])
        shapes = {"kernel": (n, 4 * u), "recurrent_kernel": (u, 4 * u), "bias": (4 * u,)}
        for name, value in zip(shapes, out):
            got = np.shape(value) if value is not None and not isinstance(value, (str, dict)) else None
            if name == "kernel" and got == (u, 4 * n):
                fail(f"kernel should have shape {(n, 4 * u)}, got {got}: each W_g was transposed. With the row-vector "
                     "convention x @ W_g, W_g is (n, u) as given — concatenate the blocks as they are, no .T.")
            if got in ((4 * u, n), (4, n, u), (n, 4, u), (4 * u, u), (4, u, u), (u, 4, u), (4, u)) and got != shapes[name]:
                fail(f"{name} should have shape {shapes[name]}: concatenate the four blocks along the last axis (axis=-1).")
        kernel, recurrent, bias = (as_array(v, k, shape) for v, (k, shape) in zip(out, shapes.items()))
        require(kernel.size + recurrent.size + bias.size == 4 * u * (u + n + 1), "the parameter count is not 4u(u+n+1).")

        def stacked(seq: str) -> list[np.ndarray]:
            return [np.concatenate([gates[k][j] for k in seq], axis=-1) for j in range(3)]

        right = stacked("ifgo")
        transposed_U = np.concatenate([gates[k][1].T for k in "ifgo"], axis=-1)
        blocks = _gate_blocks(GATES_LSTM, u)
        for j, (name, value) in enumerate(zip(shapes, out)):
            hints = [(stacked(seq)[j], msg) for seq, msg in _ORDER_SLIPS]
            if j == 1:
                hints.append((transposed_U, "every U_g block is transposed: with the row-vector convention h @ U_g, U_g is "
                                            "(u, u) as given — concatenate the blocks as they are, no .T."))
            assert_blocks_close(value, right[j], name, blocks, layout="[i, f, c, o]", hints=hints, rtol=1e-12, atol=0.0)
        # and the layer itself, loaded with these arrays, against a per-gate LSTM written without Keras
        x = random_inputs(8 + seed, (2, 5, n))[0]
        layer = keras.layers.LSTM(u, dtype="float64")
        layer.build((None, 5, n))
        layer.set_weights([kernel, recurrent, bias])
        loose = any(precision(v) == "float32" for v in out)      # float32 weights: float32-sized differences
        assert_close(layer(x).numpy(), _per_gate_lstm(x, gates), "the layer's output with your weights",
                     rtol=1e-5 if loose else 1e-8, atol=1e-7 if loose else 1e-10)


# --------------------------------------------------------------------------- 7.5
@exercise("7.5", "GRU forward (Keras, reset_after=True)", "gru_forward matches keras.layers.GRU(reset_after=True)")
def ex_7_5(gru_forward) -> None:
    for seed, (bsz, steps, n, u) in enumerate([(B, T, N, U), (2, 3, 2, 4)]):
        x, h0 = random_inputs(seed + 50, (bsz, steps, n), (bsz, u))
        W, Uk = random_inputs(seed + 51, (n, 3 * u), (u, 3 * u), scale=0.5)
        b = random_inputs(seed + 52, (2, 3 * u), scale=0.3)[0]
        out = call(gru_forward, x, h0, W, Uk, b, name="gru_forward")
        expected = _keras_gru(W, Uk, b)(x, initial_state=[h0]).numpy()
        if np.shape(out) == (steps, bsz, u):
            fail("the output should have shape (batch, T, units), got (T, batch, units) — stack along axis=1.")
        if np.shape(out) == (bsz, u):
            fail("return every hidden state, shape (batch, T, units), not only the last one.")
        hints = [
            (_gru_forward_np(x, h0, W, Uk, b, swap_z=True), "Keras mixes with hₜ = z ⊙ hₜ₋₁ + (1 − z) ⊙ h̃ₜ: z keeps the old state."),
            (_gru_forward_np(x, h0, W, Uk, b, order="rzh"), "Keras stores the blocks as [z, r, h]: update gate first, then reset."),
            (_gru_forward_np(x, h0, W, Uk, b[0] + b[1], reset_after=False),
             "that is the reset_after=False GRU (r applied to hₜ₋₁ before U); with reset_after=True, "
             "h̃ = tanh(x W_h + b_in + r ⊙ (hₜ₋₁ U_h + b_rec))."),
            (_gru_forward_np(x, h0, W, Uk, b, rec_bias=False), "the recurrent bias b[1] is missing (reset_after=True has two biases)."),
        ]
        assert_close(out, expected, "hs", rtol=1e-8, atol=1e-10, hints=hints, index_names=["batch row", "time step", "unit"])


# --------------------------------------------------------------------------- 7.6
@exercise("7.6", "one GRU step backward", "gru_step_backward matches the helpers GRU kernel (autodiff, reset_after=True)")
def ex_7_6(gru_step_backward) -> None:
    for seed, (bsz, n, u) in enumerate([(B, N, U), (2, 2, 3)]):
        x, h, dh = random_inputs(seed + 60, (bsz, n), (bsz, u), (bsz, u))
        W, Uk = random_inputs(seed + 61, (n, 3 * u), (u, 3 * u), scale=0.5)
        b = random_inputs(seed + 62, (2, 3 * u), scale=0.3)[0]
        out = unpack(call(gru_step_backward, dh, x, h, W, Uk, b, name="gru_step_backward"), "gru_step_backward",
                     ["dx", "dh_prev", "dW", "dU", "db"])
        gx, gh, gW, gU, gb = _gru_oracle_grads(x[:, None, :], h, W, Uk, b, dh[:, None, :])
        expected = [gx[:, 0], gh, gW, gU, gb]
        variants = {
            "tanh_twice": "tanh' is applied twice: the candidate's pre-activation gradient is dh ⊙ (1 − z) ⊙ (1 − h̃²), once.",
            "tanh_of_tanh": "h̃ is already tanh(a): tanh'(a) = 1 − h̃², not 1 − tanh(h̃)² (that applies tanh twice).",
            "no_direct": "the direct path is missing: hₜ = z ⊙ hₜ₋₁ + (1 − z) ⊙ h̃ₜ, so dh_prev gets dh ⊙ z besides "
                         "the paths through the gates (dpre_h Uᵀ).",
        }
        wrong = {v: _gru_step_backward_np(dh, x, h, W, Uk, b, v) for v in variants}
        names = ["dx", "dh_prev", "dW", "dU", "db"]
        if np.shape(out[4]) == (3 * u,):
            fail("db should have shape (2, 3u) like the reset_after=True bias: row 0 input bias, row 1 recurrent bias.")
        blocks = _gate_blocks(GATES_GRU, u)
        for k in (4, 2, 3):
            assert_blocks_close(out[k], expected[k], names[k], blocks, layout="[z, r, h]",
                                hints=[(wrong[v][k], msg) for v, msg in variants.items()], rtol=1e-7, atol=1e-9)
        for k in (0, 1):
            assert_close(out[k], expected[k], names[k], rtol=1e-7, atol=1e-9,
                         hints=[(wrong[v][k], msg) for v, msg in variants.items()])


# --------------------------------------------------------------------------- 7.7
@exercise("7.7", "sliding windows for forecasting", "make_windows gives inputs (N, window, 1) and the next value as target")
def ex_7_7(make_windows) -> None:
    for length, window in ((12, 4), (30, 7)):
        series = np.arange(length, dtype=np.float64) * 0.5 + np.sin(np.arange(length))
        out = unpack(call(make_windows, series, window, name="make_windows"), "make_windows", ["X", "y"])
        count = length - window
        X_exp = np.stack([series[i:i + window] for i in range(count)])[..., None]
        y_exp = series[window:]
        if np.shape(out[0]) == (count, window):
            fail(f"X should have shape {(count, window, 1)}: add a feature axis (X[..., None]) — RNN layers want (batch, steps, features).")
        if np.shape(out[0]) == (count + 1, window, 1):
            fail(f"there are {count + 1} windows: the last window has no next value to predict; use range(len(series) - window).")
        X_raw, y_raw = (np.asarray(v.numpy() if hasattr(v, "numpy") else v) if v is not None else None for v in out)
        if (X_raw is not None and y_raw is not None and X_raw.ndim >= 2 and X_raw.shape[0] == np.size(y_raw) > 0
                and X_raw.shape[1] > 0 and X_raw.dtype.kind == "f"
                and np.allclose(X_raw.reshape(X_raw.shape[0], X_raw.shape[1], -1)[:, -1, 0], np.ravel(y_raw))):
            fail("the last value of each window is its own target: the target must be the value right AFTER the "
                 "window, X[i] = series[i : i + window] and y[i] = series[i + window] — otherwise the answer is in the input.")
        if np.shape(out[1]) == (count, 1):
            fail(f"y should have shape ({count},), got ({count}, 1) — one target per window, flat.")
        assert_close(out[0], X_exp, "X", index_names=["window", "step", "feature"])
        assert_close(out[1], y_exp, "y")


# --------------------------------------------------------------------------- 7.8
WINDOW, TRAIN_FRACTION, VALIDATION_FRACTION = 20, 0.70, 0.15
BEAT_FACTOR = 0.85
LEAK_FACTOR = 0.25  # honest models reach about 0.65-0.75 × naive; a leaked target gives far less
FORECAST_TIMEOUT_S = 300.0
FUTURE_SHIFT = 1.0  # the intervention: validation days outside the test windows and every day after the first test day raised by this much


def forecast_task(series: np.ndarray | None = None) -> dict:
    """The chapter's forecasting task for ``series`` (default: GOOG's log(range / close), oldest first):
    the split by target day, the test targets and the naive forecast."""
    if series is None:
        from helpers import data

        prices = data.goog_prices()
        series = np.log((prices["high"] - prices["low"]) / prices["close"])
    n = len(series)
    n_train = int(TRAIN_FRACTION * n)
    n_val = int(VALIDATION_FRACTION * n)
    target_day = np.arange(WINDOW, n)
    test = target_day >= n_train + n_val
    return {"series": series, "n_train": n_train, "n_val": n_val, "y_test": series[target_day[test]],
            "naive_test": series[target_day[test] - 1], "test_days": target_day[test]}


def _forecast_values(result, n_test: int, what: str) -> np.ndarray:
    if result is not None and np.shape(result) == (n_test, 1):
        fail(f"{what} should return shape ({n_test},), got ({n_test}, 1) — take model.predict(...)[:, 0].")
    return as_array(result, what, (n_test,))


@exercise("7.8", "beat the naive forecast, honestly", "the forecast beats the last-value baseline on the test period and uses no day after the one it predicts from")
def ex_7_8(forecast) -> None:
    task = forecast_task()
    series, y, naive = task["series"], task["y_test"], task["naive_test"]
    pred = _forecast_values(call(forecast, series, name="forecast", timeout=FORECAST_TIMEOUT_S), len(y), "forecast(series)")
    if np.allclose(pred, naive):
        fail("forecast(series) returns the naive last-value forecast itself — it cannot beat itself.")
    train = series[: task["n_train"]]
    scaled = (y - train.mean()) / train.std()
    if np.mean((pred - scaled) ** 2) < np.mean((pred - y) ** 2):
        fail("forecast(series)'s result looks like it is still in standardised units — undo the scaling: pred * std + mean "
             "with the TRAINING mean and std.")
    mse, mse_naive = np.mean((pred - y) ** 2), np.mean((naive - y) ** 2)
    if mse < LEAK_FACTOR * mse_naive:
        fail(f"the test MSE is {mse / mse_naive:.2f} × the naive forecast's: too good to be true for next-day volatility — "
             "the target day is leaking into the inputs (each window must end the day BEFORE the day it predicts).")
    beats = mse < BEAT_FACTOR * mse_naive
    if not beats and np.mean((pred[::-1] - y) ** 2) < BEAT_FACTOR * mse_naive:
        fail("forecast(series)'s result beats the naive forecast only when read backwards: it is in reverse time "
             "order — return the test predictions oldest first, in the order of the target days.")
    # the procedure, by intervention: the same series with (a) the validation days that lie in no test window and
    # (b) every day after the first test day changed. The first test forecasts, whose inputs lie on neither, must
    # not move: the scaler and the model may be fitted on the training days only.
    first = int(task["test_days"][0])
    altered = series.copy()
    altered[task["n_train"]:first - WINDOW] += FUTURE_SHIFT
    altered[first + 1:] += FUTURE_SHIFT
    pred_altered = _forecast_values(call(forecast, altered, name="forecast", timeout=FORECAST_TIMEOUT_S), len(y),
                                    "forecast(series) on a changed series")
    unseen = task["test_days"] <= first + 1       # these predictions' inputs all lie on unchanged days
    tol = 1e-6 * (1.0 + np.abs(pred[unseen]))
    if np.any(np.abs(pred_altered[unseen] - pred[unseen]) > tol):
        fail(f"the forecasts for the first test days changed when only validation days and the days after day {first} "
             "were changed, although their inputs all lie on unchanged days: something the scaler or the model is "
             "fitted on comes from outside the training period — a scaler fitted on all the data, training on windows "
             "from the validation or test period, a shuffled split, or the validation windows used to choose or stop "
             "training. (Or the training is not reproducible: call keras.utils.set_random_seed inside forecast, "
             "before building the model.) Fit the scaler on the training days only, split by target day in time "
             "order, and train on the training windows only.")
    require(beats, f"the test MSE is {mse / mse_naive:.2f} × the naive forecast's; it must be below {BEAT_FACTOR} × "
            "(train longer, check the split and the scaling, predict the day AFTER each window).")
    if np.allclose(pred_altered[~unseen], pred[~unseen]):
        fail("the forecasts did not change at all when the test period of `series` was changed: forecast must build "
             "its windows from the `series` it is given (not from a notebook variable).")
