"""helpers.kernels.rnn: SimpleRNN, LSTM and GRU (both reset_after conventions) against the
Keras layers with the same weights, against centered-difference gradients (float64), against
the Keras layers' GradientTape gradients, and against known-wrong variants."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import helpers.kernels  # noqa: E402
from helpers.gradcheck import numerical_gradient, relative_error  # noqa: E402
from helpers.kernels import rnn  # noqa: E402

B, T, N_IN, U = 2, 4, 3, 3
KINDS = ["simple", "lstm", "gru", "gru_before"]  # gru: reset_after=True; gru_before: False
GATES = {"simple": 1, "lstm": 4, "gru": 3, "gru_before": 3}


def problem(kind: str, dtype=np.float64, seed: int = 0, batch=B, steps=T, n_in=N_IN, u=U):
    """Inputs, states, Keras-layout weights and an upstream gradient; weights large enough
    that every gate is far from linear, so a wrong formula changes the numbers."""
    rng = np.random.default_rng(seed)
    k = GATES[kind]
    p = {
        "x": rng.normal(size=(batch, steps, n_in)),
        "h0": rng.normal(0, 0.5, (batch, u)),
        "kernel": rng.normal(0, 0.8, (n_in, k * u)),
        "recurrent_kernel": rng.normal(0, 0.8, (u, k * u)),
        "bias": rng.normal(0, 0.5, (2, 3 * u) if kind == "gru" else (k * u,)),
    }
    if kind == "lstm":
        p["c0"] = rng.normal(0, 0.5, (batch, u))
    p = {name: v.astype(dtype) for name, v in p.items()}
    dhs = rng.normal(size=(batch, steps, u)).astype(dtype)
    return p, dhs


def state_keys(kind):
    return ["h0", "c0"] if kind == "lstm" else ["h0"]


def ordered(kind, p):
    """Positional arguments of the kernel functions, in order."""
    names = ["x", *state_keys(kind), "kernel", "recurrent_kernel", "bias"]
    return [p[name] for name in names]


def forward(kind, p) -> np.ndarray:
    """All hidden states from the kernel, as NumPy."""
    args = ordered(kind, p)
    if kind == "simple":
        return rnn.simple_rnn_forward(*args).numpy()
    if kind == "lstm":
        return rnn.lstm_forward(*args)[0].numpy()
    return rnn.gru_forward(*args, reset_after=(kind == "gru")).numpy()


def grads(kind, p, dhs, eager: bool = False) -> dict:
    args = ordered(kind, p)
    if kind == "simple":
        out = rnn.simple_rnn_grads(*args, dhs, eager=eager)
    elif kind == "lstm":
        out = rnn.lstm_grads(*args, dhs, eager=eager)
    else:
        out = rnn.gru_grads(*args, dhs, reset_after=(kind == "gru"), eager=eager)
    return {name: g.numpy() for name, g in out.items()}


def keras_layer(kind, p, dtype="float64", **kw):
    cls = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM,
           "gru": keras.layers.GRU, "gru_before": keras.layers.GRU}[kind]
    if kind.startswith("gru"):
        kw["reset_after"] = kind == "gru"
    layer = cls(U if "units" not in kw else kw.pop("units"), return_sequences=True,
                dtype=dtype, **kw)
    layer.build(p["x"].shape)
    layer.set_weights([p["kernel"], p["recurrent_kernel"], p["bias"]])
    return layer


def keras_forward(kind, p, dtype="float64"):
    layer = keras_layer(kind, p, dtype)
    return layer(p["x"], initial_state=[p[s] for s in state_keys(kind)])


# --------------------------------------------------------------------------- forward vs Keras
@pytest.mark.parametrize("kind", KINDS)
def test_forward_matches_keras(kind):
    p, _ = problem(kind)
    ours = forward(kind, p)
    assert ours.shape == (B, T, U) and ours.dtype == np.float64
    theirs = keras_forward(kind, p).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    # h0 really is used (a kernel that ignored the initial state would still match at h0 = 0)
    assert np.abs(ours[:, 0] - forward(kind, {**p, "h0": 0 * p["h0"]})[:, 0]).max() > 1e-2


def test_lstm_cell_states_match_keras():
    p, _ = problem("lstm")
    hs, cs = rnn.lstm_forward(*ordered("lstm", p))
    layer = keras.layers.LSTM(U, return_sequences=True, return_state=True, dtype="float64")
    layer.build(p["x"].shape)
    layer.set_weights([p["kernel"], p["recurrent_kernel"], p["bias"]])
    seq, h_last, c_last = layer(p["x"], initial_state=[p["h0"], p["c0"]])
    np.testing.assert_allclose(hs.numpy(), seq.numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(hs.numpy()[:, -1], h_last.numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(cs.numpy()[:, -1], c_last.numpy(), atol=1e-12, rtol=0)
    # every c_t: h_t = o_t tanh(c_t) with o_t from Keras's own weights
    z = p["x"][:, 1] @ p["kernel"] + hs.numpy()[:, 0] @ p["recurrent_kernel"] + p["bias"]
    o = 1 / (1 + np.exp(-z[:, 3 * U:]))
    np.testing.assert_allclose(hs.numpy()[:, 1], o * np.tanh(cs.numpy()[:, 1]), atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float32_and_tensor_inputs(kind):
    p, _ = problem(kind, dtype=np.float32, seed=1, batch=3, steps=6, n_in=4)
    ours = forward(kind, {k: tf.constant(v) for k, v in p.items()})
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, keras_forward(kind, p, "float32").numpy(), atol=2e-6, rtol=0)


def test_mixed_dtypes_follow_x():
    p, _ = problem("simple")
    mixed = {**p, "kernel": p["kernel"].astype(np.float32)}
    out = forward("simple", mixed)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, forward("simple", {**p, "kernel": mixed["kernel"]
                                                      .astype(np.float64)}), atol=1e-12)


def test_no_retrace_for_same_shapes():
    p, dhs = problem("lstm", seed=2)
    forward("lstm", p)
    grads("lstm", p, dhs)
    n_fwd = rnn._lstm_fwd.experimental_get_tracing_count()
    n_bwd = rnn._lstm_bwd.experimental_get_tracing_count()
    for seed in (3, 4):
        q, dq = problem("lstm", seed=seed)
        forward("lstm", q)
        grads("lstm", q, dq)
    assert rnn._lstm_fwd.experimental_get_tracing_count() == n_fwd
    assert rnn._lstm_bwd.experimental_get_tracing_count() == n_bwd


def test_public_names():
    for name in rnn.__all__:
        assert getattr(helpers.kernels, name) is getattr(rnn, name)


# --------------------------------------------------------------------------- gradients
def numeric_grads(kind, p, dhs, dcs=None) -> dict:
    """Centered differences of L = Σ hs ⊙ dhs (+ Σ cs ⊙ dcs), every array, one element at a time."""
    def loss():
        if dcs is not None:
            hs, cs = rnn.lstm_forward(*ordered(kind, p))
            return float(np.sum(hs.numpy() * dhs) + np.sum(cs.numpy() * dcs))
        return float(np.sum(forward(kind, p) * dhs))

    return {name: numerical_gradient(loss, arr) for name, arr in p.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_grads_match_numerical(kind):
    p, dhs = problem(kind, seed=5)
    ours = grads(kind, p, dhs)
    num = numeric_grads(kind, p, dhs)
    assert set(ours) == set(p) == set(num)
    for name in p:
        assert ours[name].shape == p[name].shape, name
        err = relative_error(ours[name], num[name])
        assert err < 1e-6, f"{kind} d{name}: relative error {err:.2e}"
    if kind == "gru":  # b_z, b'_z (and b_r, b'_r) are plain sums: equal gradients; b_h ≠ b'_h
        db = ours["bias"]
        np.testing.assert_allclose(db[0, :2 * U], db[1, :2 * U], atol=1e-12)
        assert np.abs(db[0, 2 * U:] - db[1, 2 * U:]).max() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_eager_grads_are_the_compiled_ones(kind):
    """The checks run the kernels eagerly (no trace per shape): the same numbers."""
    p, dhs = problem(kind, seed=9)
    compiled, eager = grads(kind, p, dhs), grads(kind, p, dhs, eager=True)
    for name in p:
        np.testing.assert_allclose(eager[name], compiled[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_lstm_grads_with_dcs_match_numerical():
    p, dhs = problem("lstm", seed=6)
    dcs = np.random.default_rng(7).normal(size=dhs.shape)
    ours = {k: v.numpy() for k, v in rnn.lstm_grads(*ordered("lstm", p), dhs, dcs).items()}
    num = numeric_grads("lstm", p, dhs, dcs)
    for name in p:
        err = relative_error(ours[name], num[name])
        assert err < 1e-6, f"lstm (with dcs) d{name}: relative error {err:.2e}"
    # dcs really enters: without it the gradients differ
    without = grads("lstm", p, dhs)
    assert relative_error(without["c0"], ours["c0"]) > 1e-2


@pytest.mark.parametrize("kind", KINDS)
def test_grads_match_keras_tape(kind):
    p, dhs = problem(kind, seed=8)
    layer = keras_layer(kind, p)
    cell = layer.cell
    inputs = [tf.constant(p["x"])] + [tf.constant(p[s]) for s in state_keys(kind)]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        hs = layer(inputs[0], initial_state=inputs[1:])
    targets = inputs + [cell.kernel, cell.recurrent_kernel, cell.bias]
    theirs = tape.gradient(hs, targets, output_gradients=tf.constant(dhs))
    names = ["x", *state_keys(kind), "kernel", "recurrent_kernel", "bias"]
    ours = grads(kind, p, dhs)
    for name, g in zip(names, theirs):
        err = relative_error(ours[name], np.asarray(g))
        assert err < 1e-9, f"{kind} d{name}: relative error vs Keras {err:.2e}"


def test_upstream_gradient_recipe_softmax_loss():
    """Docstring recipe: for L = mean cross-entropy of softmax(h_t V), dL/dh_t = (y_t − Y_t) Vᵀ / B;
    passing it as dhs gives the true gradient of that loss (checked by finite differences)."""
    p, _ = problem("simple", seed=9)
    rng = np.random.default_rng(10)
    n_cls = 4
    V = rng.normal(size=(U, n_cls))
    Y = np.eye(n_cls)[rng.integers(0, n_cls, (B, T))]

    def loss():
        logits = forward("simple", p) @ V
        logp = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
        return float(-np.sum(Y * logp) / B)

    logits = forward("simple", p) @ V
    y = np.exp(logits) / np.sum(np.exp(logits), axis=-1, keepdims=True)
    dhs = (y - Y) @ V.T / B
    ours = grads("simple", p, dhs)
    for name in ("recurrent_kernel", "x"):
        num = numerical_gradient(loss, p[name])
        assert relative_error(ours[name], num) < 1e-6, name


# --------------------------------------------------------------------------- wrong variants
def test_swapped_lstm_gate_order_is_caught():
    """Reading the blocks as i, c, f, o instead of Keras's i, f, c, o changes the outputs."""
    p, _ = problem("lstm", seed=11)
    keras_hs = keras_forward("lstm", p).numpy()

    def swap(w):  # blocks [i f c o] -> [i c f o]
        i, f, c, o = np.split(w, 4, axis=-1)
        return np.concatenate([i, c, f, o], axis=-1)

    wrong = {**p, **{k: swap(p[k]) for k in ("kernel", "recurrent_kernel", "bias")}}
    assert np.abs(forward("lstm", wrong) - keras_hs).max() > 1e-2
    assert np.abs(forward("lstm", p) - keras_hs).max() < 1e-12


def test_gru_conventions_differ():
    """reset_after=True with a zero recurrent bias is not reset_after=False: r ⊙ (h U_h) vs
    (r ⊙ h) U_h, and swapping the z and r blocks is caught too."""
    p, _ = problem("gru_before", seed=12)
    before = keras_forward("gru_before", p).numpy()
    after_p = {**p, "bias": np.stack([p["bias"], np.zeros_like(p["bias"])])}
    after = keras_forward("gru", after_p).numpy()
    assert np.abs(before - after).max() > 1e-2
    np.testing.assert_allclose(forward("gru_before", p), before, atol=1e-12, rtol=0)
    np.testing.assert_allclose(forward("gru", after_p), after, atol=1e-12, rtol=0)

    def swap_zr(w):
        z, r, h = np.split(w, 3, axis=-1)
        return np.concatenate([r, z, h], axis=-1)

    wrong = {**p, **{k: swap_zr(p[k]) for k in ("kernel", "recurrent_kernel", "bias")}}
    assert np.abs(forward("gru_before", wrong) - before).max() > 1e-2


def test_gradient_check_catches_a_wrong_gradient():
    """The checks above have teeth: the BPTT gradient truncated to one step (dropping the
    recurrent path), or with Uᵀ for U, is far from the finite-difference gradient."""
    p, dhs = problem("simple", seed=13)
    num = numeric_grads("simple", p, dhs)
    # truncated BPTT: each step's contribution with h_{t−1} treated as a constant
    hs = forward("simple", p)
    h_prev = np.concatenate([p["h0"][:, None], hs[:, :-1]], axis=1)
    dz = dhs * (1 - hs**2)
    truncated = np.einsum("btu,btv->uv", h_prev, dz)
    assert relative_error(truncated, num["recurrent_kernel"]) > 1e-2
    transposed = {**p, "recurrent_kernel": np.ascontiguousarray(p["recurrent_kernel"].T)}
    g_t = grads("simple", transposed, dhs)["recurrent_kernel"].T
    assert relative_error(g_t, num["recurrent_kernel"]) > 1e-2
