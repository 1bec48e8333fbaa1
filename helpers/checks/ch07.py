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

from helpers.checks import as_array, assert_close, call, exercise, fail, random_inputs, require, unpack

B, N, U, T = 3, 4, 5, 6  # batch, inputs, units, steps: all different so a transpose shows


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
        dh = dhs[:, t] + (0.0 if variant == "no_recurrent" else dh_next)
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


def _gru_step_backward_np(dh, x, h, W, Uk, b, variant=""):
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
    dh_prev = dh * z + dh_pre @ Uk.T
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

    grads = rnn.lstm_grads(x, h0, c0, W, Uk, b, dhs, dcs)
    return [np.asarray(grads[k]) for k in ("x", "h0", "c0", "kernel", "recurrent_kernel", "bias")]


def _gru_oracle_grads(x, h0, W, Uk, b, dhs):
    """[dx, dh0, dW, dU, db] of L = Σ hs ⊙ dhs for the reset_after=True GRU, from the helpers TF kernel."""
    from helpers.kernels import rnn

    grads = rnn.gru_grads(x, h0, W, Uk, b, dhs, reset_after=True)
    return [np.asarray(grads[k]) for k in ("x", "h0", "kernel", "recurrent_kernel", "bias")]


def _lstm_params(seed: int, n: int = N, u: int = U):
    W, Uk = random_inputs(seed, (n, 4 * u), (u, 4 * u), scale=0.5)
    b = random_inputs(seed + 1, (4 * u,), scale=0.3)[0]
    return W, Uk, b




# --------------------------------------------------------------------------- 7.1
@exercise("7.1", "one LSTM step forward", "lstm_step matches keras.layers.LSTM (gate order i, f, c, o, with biases)")
def ex_7_1(lstm_step) -> None:
    for seed in (0, 1):
        x, h, c = random_inputs(seed + 10, (B, N), (B, U), (B, U))
        W, Uk, b = _lstm_params(seed)
        out = unpack(call(lstm_step, x.copy(), h.copy(), c.copy(), W.copy(), Uk.copy(), b.copy(), name="lstm_step"), "lstm_step", ["h", "c"])
        _, h_k, c_k = _keras_lstm(W, Uk, b)(x[:, None, :], initial_state=[h, c])
        h_k, c_k = h_k.numpy(), c_k.numpy()
        wrong_h = [
            (_lstm_step_np(x, h, c, W, Uk, b, order="icfo")[0], "the gates are taken in the wrong order — Keras stores the blocks as [i, f, c, o] (input, forget, cell candidate g, output)."),
            (_lstm_step_np(x, h, c, W, Uk, b, order="fico")[0], "input and forget gate swapped — Keras stores the blocks as [i, f, c, o]."),
            (_lstm_step_np(x, h, c, W, Uk, b, tanh_c=False)[0], "hₜ = oₜ ⊙ tanh(cₜ): the tanh on the cell state is missing."),
            (_lstm_step_np(x, h, c, W, Uk, b, use_bias=False)[0], "the bias b is missing from the pre-activations."),
            (_lstm_step_np(x, h, c, W, Uk, b, g_act=_sigmoid)[0], "the candidate g uses tanh, not the sigmoid."),
            (_lstm_step_np(x, h, c, W, Uk, b, forget_shift=1.0)[0], "the forget gate got an extra +1: unit_forget_bias=True only sets the "
             "INITIAL value of b_f to 1; the step itself uses b as given, f = σ(x W_f + h U_f + b_f)."),
            (c_k, "you returned (c, h) — return (h, c)."),
        ]
        assert_close(out[0], h_k, "h", rtol=1e-8, atol=1e-10, hints=wrong_h, index_names=["batch row", "unit"])
        assert_close(out[1], c_k, "c", rtol=1e-8, atol=1e-10, hints=[
            (_lstm_step_np(x, h, c, W, Uk, b, order="icfo")[1], "the gates are taken in the wrong order — Keras stores the blocks as [i, f, c, o]."),
        ], index_names=["batch row", "unit"])


# --------------------------------------------------------------------------- 7.3
_STEP_NAMES = ["dx", "dh_prev", "dc_prev", "dW", "dU", "db"]


@exercise("7.3", "one LSTM step backward", "lstm_step_backward matches the helpers LSTM kernel (autodiff)")
def ex_7_3(lstm_step_backward) -> None:
    for seed in (0, 1):
        x, h, c, dh, dc = random_inputs(seed + 20, (B, N), (B, U), (B, U), (B, U), (B, U))
        W, Uk, b = _lstm_params(seed + 2)
        out = unpack(call(lstm_step_backward, dh.copy(), dc.copy(), x.copy(), h.copy(), c.copy(), W.copy(), Uk.copy(), b.copy(),
                          name="lstm_step_backward"), "lstm_step_backward", _STEP_NAMES)
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
        shapes = [(B, N), (B, U), (B, U), W.shape, Uk.shape, b.shape]
        for k, name in enumerate(_STEP_NAMES):
            if name in ("dW", "dU"):
                got = np.shape(out[k]) if hasattr(out[k], "shape") else None
                if got == tuple(reversed(shapes[k])):
                    fail(f"{name} should have shape {shapes[k]} like the weight itself, got {got} — "
                         f"use {'x' if name == 'dW' else 'h_prev'}.T @ dz, not dz.T @ ….")
            if name == "db" and np.shape(out[k]) == (B, 4 * U):
                fail("db should have shape (4u,): sum dz over the batch axis (axis=0).")
            assert_close(out[k], expected[k], name, rtol=1e-7, atol=1e-9,
                         hints=[(wrong[v][k], msg) for v, msg in variants.items()])


# --------------------------------------------------------------------------- 7.4
@exercise("7.4", "full LSTM backward pass (BPTT)", "lstm_backward matches the helpers LSTM kernel (autodiff) over all time steps")
def ex_7_4(lstm_backward) -> None:
    for seed in (0, 1):
        x, h0, c0 = random_inputs(seed + 30, (B, T, N), (B, U), (B, U))
        dhs = random_inputs(seed + 31, (B, T, U))[0]
        W, Uk, b = _lstm_params(seed + 4)
        out = unpack(call(lstm_backward, x.copy(), h0.copy(), c0.copy(), W.copy(), Uk.copy(), b.copy(), dhs.copy(),
                          name="lstm_backward"), "lstm_backward", ["dx", "dh0", "dc0", "dW", "dU", "db"])
        expected = _lstm_oracle_grads(x, h0, c0, W, Uk, b, dhs)
        variants = {
            "no_carousel": "the cell-state path is dropped: dcₜ must receive fₜ₊₁ ⊙ dcₜ₊₁ from the next step (the constant error carousel).",
            "no_recurrent": "this is BPTT without recurrent terms: dhₜ must also receive the gradient coming back from step t+1 "
                            "(through U) and dcₜ must receive fₜ₊₁ ⊙ dcₜ₊₁.",
        }
        wrong = {v: _lstm_backward_np(x, h0, c0, W, Uk, b, dhs, v) for v in variants}
        names = ["dx", "dh0", "dc0", "dW", "dU", "db"]
        for k in (0, 3, 4, 5, 1, 2):
            if k == 0 and np.shape(out[0]) == (T, B, N):
                fail("dx should have shape (batch, T, n) like x, got (T, batch, n) — stack along axis=1.")
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


@exercise("7.2", "per-gate weights → Keras LSTM layout", "to_keras_lstm gives keras.layers.LSTM the layout [i, f, c, o]; 4u(u+n+1) parameters")
def ex_7_2(to_keras_lstm) -> None:
    import keras

    n, u = 3, 4
    gates = _gate_dict(7, n, u)
    out = unpack(call(to_keras_lstm, {k: tuple(a.copy() for a in v) for k, v in gates.items()}, name="to_keras_lstm"), "to_keras_lstm", ["kernel", "recurrent_kernel", "bias"])
    kernel = as_array(out[0], "kernel")
    recurrent = as_array(out[1], "recurrent_kernel")
    bias = as_array(out[2], "bias")
    for name, arr, shape in [("kernel", kernel, (n, 4 * u)), ("recurrent_kernel", recurrent, (u, 4 * u)), ("bias", bias, (4 * u,))]:
        if arr.shape == (4 * u, n) or arr.shape == (4, n, u) or arr.shape == (n, 4, u):
            fail(f"{name} should have shape {shape}: concatenate the four blocks along the last axis (axis=-1).")
        as_array(arr, name, shape)
    require(kernel.size + recurrent.size + bias.size == 4 * u * (u + n + 1), "the parameter count is not 4u(u+n+1).")
    x = random_inputs(8, (2, 5, n))[0]
    layer = keras.layers.LSTM(u, dtype="float64")
    layer.build((None, 5, n))
    layer.set_weights([kernel, recurrent, bias])
    got = layer(x).numpy()
    expected = _per_gate_lstm(x, gates)
    order = lambda s: [gates[k] for k in s]  # noqa: E731

    def stacked(seq):
        return [np.concatenate([g[j] for g in order(seq)], axis=-1) for j in range(3)]

    hints = []
    for seq, msg in [("igfo", "blocks in the order i, c, f, o — Keras expects [i, f, c, o] (the cell candidate is third)."),
                     ("ifog", "blocks in the order i, f, o, c — Keras expects [i, f, c, o]."),
                     ("figo", "input and forget gate swapped — Keras expects [i, f, c, o].")]:
        k2, r2, b2 = stacked(seq)
        layer.set_weights([k2, r2, b2])
        hints.append((layer(x).numpy(), msg))
    assert_close(got, expected, "the layer's output with your weights", rtol=1e-8, atol=1e-10, hints=hints)


# --------------------------------------------------------------------------- 7.5
@exercise("7.5", "GRU forward (Keras, reset_after=True)", "gru_forward matches keras.layers.GRU(reset_after=True)")
def ex_7_5(gru_forward) -> None:
    for seed in (0, 1):
        x, h0 = random_inputs(seed + 50, (B, T, N), (B, U))
        W, Uk = random_inputs(seed + 51, (N, 3 * U), (U, 3 * U), scale=0.5)
        b = random_inputs(seed + 52, (2, 3 * U), scale=0.3)[0]
        out = call(gru_forward, x.copy(), h0.copy(), W.copy(), Uk.copy(), b.copy(), name="gru_forward")
        expected = _keras_gru(W, Uk, b)(x, initial_state=[h0]).numpy()
        if np.shape(out) == (T, B, U):
            fail("the output should have shape (batch, T, units), got (T, batch, units) — stack along axis=1.")
        if np.shape(out) == (B, U):
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
    for seed in (0, 1):
        x, h, dh = random_inputs(seed + 60, (B, N), (B, U), (B, U))
        W, Uk = random_inputs(seed + 61, (N, 3 * U), (U, 3 * U), scale=0.5)
        b = random_inputs(seed + 62, (2, 3 * U), scale=0.3)[0]
        out = unpack(call(gru_step_backward, dh.copy(), x.copy(), h.copy(), W.copy(), Uk.copy(), b.copy(), name="gru_step_backward"), "gru_step_backward", ["dx", "dh_prev", "dW", "dU", "db"])
        gx, gh, gW, gU, gb = _gru_oracle_grads(x[:, None, :], h, W, Uk, b, dh[:, None, :])
        expected = [gx[:, 0], gh, gW, gU, gb]
        variants = {
            "tanh_twice": "tanh' is applied twice: the candidate's pre-activation gradient is dh ⊙ (1 − z) ⊙ (1 − h̃²), once.",
            "tanh_of_tanh": "h̃ is already tanh(a): tanh'(a) = 1 − h̃², not 1 − tanh(h̃)² (that applies tanh twice).",
        }
        wrong = {v: _gru_step_backward_np(dh, x, h, W, Uk, b, v) for v in variants}
        for k, name in enumerate(["dx", "dh_prev", "dW", "dU", "db"]):
            if name == "db" and np.shape(out[k]) == (3 * U,):
                fail("db should have shape (2, 3u) like the reset_after=True bias: row 0 input bias, row 1 recurrent bias.")
            assert_close(out[k], expected[k], name, rtol=1e-7, atol=1e-9,
                         hints=[(wrong[v][k], msg) for v, msg in variants.items()])


# --------------------------------------------------------------------------- 7.7
@exercise("7.7", "sliding windows for forecasting", "make_windows gives inputs (N, window, 1) and the next value as target")
def ex_7_7(make_windows) -> None:
    for length, window in ((12, 4), (30, 7)):
        series = np.arange(length, dtype=np.float64) * 0.5 + np.sin(np.arange(length))
        out = unpack(call(make_windows, series.copy(), window, name="make_windows"), "make_windows", ["X", "y"])
        count = length - window
        X_exp = np.stack([series[i:i + window] for i in range(count)])[..., None]
        y_exp = series[window:]
        if np.shape(out[0]) == (count, window):
            fail(f"X should have shape {(count, window, 1)}: add a feature axis (X[..., None]) — RNN layers want (batch, steps, features).")
        if np.shape(out[0]) == (count + 1, window, 1):
            fail(f"there are {count + 1} windows: the last window has no next value to predict; use range(len(series) - window).")
        if np.shape(out[1]) == (count, 1):
            fail(f"y should have shape ({count},), got ({count}, 1) — one target per window, flat.")
        assert_close(out[0], X_exp, "X", hints=[], index_names=["window", "step", "feature"])
        assert_close(out[1], y_exp, "y", hints=[
            (series[window - 1:-1], "y[i] is the last value inside window i — the target must be the value right AFTER it, series[i + window] (otherwise the answer is in the input)."),
        ])


# --------------------------------------------------------------------------- 7.8
WINDOW, TRAIN_FRACTION, VALIDATION_FRACTION = 20, 0.70, 0.15
BEAT_FACTOR = 0.85
LEAK_FACTOR = 0.25  # honest models reach about 0.65-0.75 × naive; a leaked target gives far less
FORECAST_TIMEOUT_S = 300.0


def forecast_task() -> dict:
    """The chapter's forecasting task, rebuilt from the data: target series, split and test targets."""
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


@exercise("7.8", "beat the naive forecast", "the forecast beats the last-value baseline on the held-out test period")
def ex_7_8(forecast) -> None:
    task = forecast_task()
    y, naive = task["y_test"], task["naive_test"]
    forecast_test = call(forecast, name="forecast", timeout=FORECAST_TIMEOUT_S)
    if forecast_test is not None and np.shape(forecast_test) == (len(y), 1):
        fail(f"forecast() should return shape ({len(y)},), got ({len(y)}, 1) — take model.predict(...)[:, 0].")
    pred = as_array(forecast_test, "forecast()'s result", (len(y),))
    if np.allclose(pred, naive):
        fail("forecast() returns the naive last-value forecast itself — it cannot beat itself.")
    train = task["series"][: task["n_train"]]
    scaled = (y - train.mean()) / train.std()
    if np.mean((pred - scaled) ** 2) < np.mean((pred - y) ** 2):
        fail("forecast()'s result looks like it is still in standardised units — undo the scaling: pred * std + mean "
             "with the TRAINING mean and std.")
    mse, mse_naive = np.mean((pred - y) ** 2), np.mean((naive - y) ** 2)
    if np.mean((pred[::-1] - y) ** 2) < mse:
        fail("forecast()'s result seems to be in reverse time order — sort the data oldest first.")
    if mse < LEAK_FACTOR * mse_naive:
        fail(f"the test MSE is {mse / mse_naive:.2f} × the naive forecast's: too good to be true for next-day volatility — "
             "the target day is leaking into the inputs (each window must end the day BEFORE the day it predicts).")
    require(mse < BEAT_FACTOR * mse_naive,
            f"the test MSE is {mse / mse_naive:.2f} × the naive forecast's; it must be below {BEAT_FACTOR} × "
            "(train longer, check the split and the scaling, predict the day AFTER each window).")
