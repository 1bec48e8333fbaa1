"""Scaled dot-product and multi-head attention in TensorFlow, forward and backward.

Conventions (those of ``keras.layers.MultiHeadAttention``):

* ``q`` [..., T, d_k], ``k`` [..., S, d_k], ``v`` [..., S, d_v]; the output is [..., T, d_v].
* A ``mask`` is boolean (or 0/1), broadcastable to [..., T, S]; **True means "may attend"**.
  Masked scores are replaced by a large negative number *before* the softmax, so every row of
  the weights sums to 1 over the allowed keys (a row with no allowed key is not meaningful).
* Multi-head weights are the list ``layer.get_weights()`` of a built Keras layer, in its order:
  ``[Wq [D, h, d_k], bq [h, d_k], Wk [D_k, h, d_k], bk [h, d_k], Wv [D_v, h, d_v], bv [h, d_v],
  Wo [h, d_v, D_out], bo [D_out]]``.

Gradients (``*_grads``) are vector–Jacobian products by ``tf.GradientTape``: for an upstream
gradient ``dout`` = ∂L/∂out they return ∂L/∂(each input) of L = Σ out ⊙ dout, which is the
gradient of any loss computed from the output.

Every function is a ``tf.function`` (graph-compiled, retraced per shape and dtype; on a GPU the
ops run there). XLA is off by default: the checks call these with many small shapes, and an XLA
compile per shape costs more than it saves at those sizes (set ``JIT_COMPILE`` before the first
call to change that).
"""
from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

__all__ = [
    "scaled_dot_product_attention",
    "attention_grads",
    "mha_forward",
    "mha_grads",
    "WEIGHT_NAMES",
]

TensorLike = Any
JIT_COMPILE = False
NEG = -1e9  # the masked score (finite: a fully masked row gives uniform weights, not NaN)
WEIGHT_NAMES = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def _float(*arrays: TensorLike) -> list[tf.Tensor]:
    """Tensors of the first array's float dtype (float32 if it is not a float)."""
    first = tf.convert_to_tensor(arrays[0])
    dtype = first.dtype if first.dtype.is_floating else tf.float32
    return [tf.cast(tf.convert_to_tensor(a), dtype) for a in arrays]


def _mask(mask: TensorLike | None) -> tf.Tensor | None:
    return None if mask is None else tf.cast(tf.convert_to_tensor(mask), tf.bool)


def _sdpa(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | None):
    """softmax(q kᵀ / √d_k, masked) v and the weights."""
    scores = tf.matmul(q, k, transpose_b=True) / tf.sqrt(tf.cast(tf.shape(k)[-1], q.dtype))
    if mask is not None:
        scores = tf.where(mask, scores, tf.constant(NEG, scores.dtype))
    weights = tf.nn.softmax(scores, axis=-1)
    return tf.matmul(weights, v), weights


def _compiled(fn):
    return tf.function(fn, jit_compile=JIT_COMPILE, reduce_retracing=True)


@_compiled
def _sdpa_fn(q, k, v, mask):
    return _sdpa(q, k, v, mask)


@_compiled
def _sdpa_nomask_fn(q, k, v):
    return _sdpa(q, k, v, None)


def scaled_dot_product_attention(q: TensorLike, k: TensorLike, v: TensorLike,
                                 mask: TensorLike | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """(output [..., T, d_v], weights [..., T, S]) of softmax(q kᵀ / √d_k) v; True in mask = attend."""
    q, k, v = _float(q, k, v)
    m = _mask(mask)
    return _sdpa_nomask_fn(q, k, v) if m is None else _sdpa_fn(q, k, v, m)


@_compiled
def _sdpa_grads_fn(q, k, v, dout, mask):
    with tf.GradientTape() as tape:
        tape.watch([q, k, v])
        out, _ = _sdpa(q, k, v, mask)
    return tape.gradient(out, [q, k, v], output_gradients=dout)


def attention_grads(q: TensorLike, k: TensorLike, v: TensorLike, dout: TensorLike,
                    mask: TensorLike | None = None) -> dict[str, tf.Tensor]:
    """{"q", "k", "v"}: ∂L/∂q, ∂L/∂k, ∂L/∂v of L = Σ attention(q, k, v) ⊙ dout."""
    q, k, v, dout = _float(q, k, v, dout)
    m = _mask(mask)
    if m is None:
        m = tf.ones(tf.concat([tf.shape(q)[:-1], tf.shape(k)[-2:-1]], 0), tf.bool)
    dq, dk, dv = _sdpa_grads_fn(q, k, v, dout, m)
    return {"q": dq, "k": dk, "v": dv}


def _mha(query, key, value, w: Sequence[tf.Tensor], mask):
    wq, bq, wk, bk, wv, bv, wo, bo = w
    q = tf.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]     # [B, h, T, d_k]
    k = tf.einsum("bsd,dhk->bhsk", key, wk) + bk[:, None, :]       # [B, h, S, d_k]
    v = tf.einsum("bsd,dhk->bhsk", value, wv) + bv[:, None, :]     # [B, h, S, d_v]
    if mask is not None:
        mask = mask[:, None, :, :]                                  # same mask for every head
    heads, weights = _sdpa(q, k, v, mask)
    out = tf.einsum("bhtk,hko->bto", heads, wo) + bo
    return out, weights


@_compiled
def _mha_fn(query, key, value, w, mask):
    return _mha(query, key, value, w, mask)


@_compiled
def _mha_grads_fn(query, key, value, w, dout, mask):
    with tf.GradientTape() as tape:
        tape.watch([query, key, value, *w])
        out, _ = _mha(query, key, value, w, mask)
    return tape.gradient(out, [query, key, value, *w], output_gradients=dout)


def _full_mask(query: tf.Tensor, value: tf.Tensor, mask: TensorLike | None) -> tf.Tensor:
    m = _mask(mask)
    if m is None:
        return tf.ones([tf.shape(query)[0], tf.shape(query)[1], tf.shape(value)[1]], tf.bool)
    return tf.broadcast_to(m, [tf.shape(query)[0], tf.shape(query)[1], tf.shape(value)[1]])


def mha_forward(query: TensorLike, value: TensorLike, weights: Sequence[TensorLike],
                mask: TensorLike | None = None, key: TensorLike | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Multi-head attention as ``keras.layers.MultiHeadAttention(query, value, key, attention_mask)``.

    query [B, T, D], value (and key, default value) [B, S, ·], weights in Keras's order,
    mask [B, T, S] (True = attend). Returns (output [B, T, D_out], weights [B, h, T, S])."""
    key = value if key is None else key
    query, key, value, *w = _float(query, key, value, *weights)
    return _mha_fn(query, key, value, w, _full_mask(query, value, mask))


def mha_grads(query: TensorLike, value: TensorLike, weights: Sequence[TensorLike], dout: TensorLike,
              mask: TensorLike | None = None, key: TensorLike | None = None) -> dict[str, tf.Tensor]:
    """∂L/∂(query, key, value, each weight) of L = Σ mha_forward(...)[0] ⊙ dout.

    Keys "query", "key", "value" and :data:`WEIGHT_NAMES`. With ``key=None`` the key is the
    value tensor and its gradient is in "key" (add it to "value" for the total)."""
    key = value if key is None else key
    query, key, value, dout, *w = _float(query, key, value, dout, *weights)
    grads = _mha_grads_fn(query, key, value, w, dout, _full_mask(query, value, mask))
    return dict(zip(("query", "key", "value", *WEIGHT_NAMES), grads))
