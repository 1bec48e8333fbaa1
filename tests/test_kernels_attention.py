"""helpers.kernels.attention against keras.layers.MultiHeadAttention (mapped weights), NumPy
and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import tensorflow
from helpers.gradcheck import numerical_gradient, relative_error

tensorflow()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers.kernels import attention as att  # noqa: E402


def _np_sdpa(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return p @ v, p


def _keras_layer(heads, key_dim, value_dim, d_q, d_v, seed, dtype="float64"):
    keras.utils.set_random_seed(seed)
    layer = keras.layers.MultiHeadAttention(heads, key_dim, value_dim=value_dim, dtype=dtype,
                                            bias_initializer="random_normal")
    layer(np.zeros((1, 2, d_q)), np.zeros((1, 3, d_v)))
    return layer


def test_sdpa_matches_numpy_with_mask():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 2))
    mask = rng.random((2, 4, 5)) < 0.6
    mask[..., 0] = True
    out, w = att.scaled_dot_product_attention(q, k, v, mask)
    ref_out, ref_w = _np_sdpa(q, k, v, mask)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-10, atol=1e-12)
    assert np.all(w.numpy()[~mask] < 1e-300)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mha_forward_matches_keras(dtype):
    rng = np.random.default_rng(1)
    layer = _keras_layer(3, 4, 5, 6, 7, seed=2, dtype=dtype)
    query, value = rng.normal(size=(2, 4, 6)).astype(dtype), rng.normal(size=(2, 5, 7)).astype(dtype)
    mask = rng.random((2, 4, 5)) < 0.7
    mask[..., 1] = True
    out_k, scores_k = layer(query, value, attention_mask=mask, return_attention_scores=True)
    out, scores = att.mha_forward(query, value, layer.get_weights(), mask)
    tol = 1e-10 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(out.numpy(), np.asarray(out_k), rtol=tol, atol=tol)
    np.testing.assert_allclose(scores.numpy(), np.asarray(scores_k), rtol=tol, atol=tol)
    assert out.dtype == dtype


def test_mha_grads_match_keras_tape():
    """(Keras differentiates its masked softmax slightly differently: agreement ~1e-8, not 1e-12.)"""
    rng = np.random.default_rng(3)
    layer = _keras_layer(2, 3, 3, 4, 4, seed=4)
    query, value = tf.constant(rng.normal(size=(3, 4, 4))), tf.constant(rng.normal(size=(3, 6, 4)))
    dout = tf.constant(rng.normal(size=(3, 4, 4)))
    mask = np.tril(np.ones((4, 6), bool))
    with tf.GradientTape() as tape:
        tape.watch([query, value])
        out = layer(query, value, attention_mask=mask[None])
    expected = tape.gradient(out, [query, value, *layer.trainable_weights], output_gradients=dout)
    ours = att.mha_grads(query, value, layer.get_weights(), dout, mask[None])
    np.testing.assert_allclose((ours["key"] + ours["value"]).numpy(), expected[1].numpy(), atol=1e-7)
    np.testing.assert_allclose(ours["query"].numpy(), expected[0].numpy(), atol=1e-7)
    names = [w.path for w in layer.trainable_weights]
    for name, e in zip(att.WEIGHT_NAMES, expected[2:]):
        np.testing.assert_allclose(ours[name].numpy(), e.numpy(), atol=1e-7, err_msg=f"{name} {names}")


def test_attention_grads_match_finite_differences():
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    dout = rng.normal(size=(2, 3, 2))
    mask = np.tril(np.ones((3, 5), bool), 1)[None].repeat(2, 0)
    g = att.attention_grads(q, k, v, dout, mask)
    for name, arr in (("q", q), ("k", k), ("v", v)):
        num = numerical_gradient(lambda: float(np.sum(_np_sdpa(q, k, v, mask)[0] * dout)), arr)
        assert relative_error(g[name].numpy(), num) < 1e-7, name
    masked_keys = att.attention_grads(q, k, v, dout, mask)["k"].numpy()[:, :, :]
    never_seen = ~mask.any(axis=1)                                  # [B, S]: keys no query may see
    assert np.all(masked_keys[never_seen] == 0.0) and np.all(g["v"].numpy()[never_seen] == 0.0)


def test_float32_input_gives_float32_and_ints_become_float32():
    out, _ = att.scaled_dot_product_attention(np.ones((1, 2, 2), np.float32), np.ones((1, 2, 2)),
                                              np.ones((1, 2, 2)))
    assert out.dtype == tf.float32
    out, _ = att.scaled_dot_product_attention(np.ones((1, 2, 2), int), np.ones((1, 2, 2)), np.ones((1, 2, 2)))
    assert out.dtype == tf.float32
