"""Chapter 10 checks: the reference answers pass, realistic wrong answers get specific hints,
correct answers written differently pass.

The reference functions here are the answers of solutions/10_attention_transformers.ipynb.
"""
import numpy as np

from conftest import accept_tests, check_tests


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- 10.1
def attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)      # before the softmax
    weights = _softmax(scores)
    return weights @ v, weights


def att_mask_after(q, k, v, mask=None):
    w = _softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]))
    if mask is not None:
        w = w * mask
    return w @ v, w


def att_scale_dk(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / q.shape[-1]
    w = _softmax(s if mask is None else np.where(mask, s, -1e9))
    return w @ v, w


def att_no_scale(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2)
    w = _softmax(s if mask is None else np.where(mask, s, -1e9))
    return w @ v, w


def att_values_from_queries(q, k, v, mask=None):
    _, w = attention(q, k, v, mask)
    return w @ q, w


def att_softmax_queries(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, s, -1e9)
    e = np.exp(s - s.max(axis=-2, keepdims=True))
    w = e / e.sum(axis=-2, keepdims=True)
    return w @ v, w


def att_mask_inverted(q, k, v, mask=None):
    return attention(q, k, v, None if mask is None else ~mask)


def att_tf_f32(q, k, v, mask=None):
    import tensorflow as tf
    s = tf.matmul(tf.constant(q, tf.float32), tf.constant(k, tf.float32), transpose_b=True)
    s = s / tf.sqrt(float(q.shape[-1]))
    if mask is not None:
        s = tf.where(mask, s, -np.inf)
    w = tf.nn.softmax(s, axis=-1)
    return [(w @ tf.constant(v, tf.float32)).numpy(), w.numpy()]


def att_einsum(q, k, v, mask=None):
    s = np.einsum("btd,bsd->bts", q, k) / q.shape[-1] ** 0.5
    if mask is not None:
        s = s - 1e30 * (1 - np.asarray(mask, float))
    s = s - s.max(-1, keepdims=True)
    w = np.exp(s)
    w = w / w.sum(-1, keepdims=True)
    return np.einsum("bts,bsd->btd", w, v), w


# --------------------------------------------------------------------------- 10.2
def attention_mask(lengths, steps, causal):
    j = np.arange(steps)
    mask = np.broadcast_to(j[None, None, :] < np.asarray(lengths)[:, None, None],
                           (len(lengths), steps, steps))
    if causal:
        mask = mask & np.tril(np.ones((steps, steps), bool))     # j ≤ i: a token sees itself
    return mask


def mask_excludes_self(lengths, steps, causal):
    m = attention_mask(lengths, steps, False)
    return m & np.tril(np.ones((steps, steps), bool), -1) if causal else m


def mask_sees_next(lengths, steps, causal):
    m = attention_mask(lengths, steps, False)
    return m & np.tril(np.ones((steps, steps), bool), 1) if causal else m


def mask_upper(lengths, steps, causal):
    m = attention_mask(lengths, steps, False)
    return m & np.triu(np.ones((steps, steps), bool)) if causal else m


def mask_ignores_causal(lengths, steps, causal):
    return attention_mask(lengths, steps, False)


def mask_pad_off_by_one(lengths, steps, causal):
    j = np.arange(steps)
    m = np.broadcast_to(j[None, None, :] <= np.asarray(lengths)[:, None, None], (len(lengths), steps, steps))
    return m & np.tril(np.ones((steps, steps), bool)) if causal else m


def mask_rows_too(lengths, steps, causal):
    real = np.arange(steps)[None, :] < np.asarray(lengths)[:, None]
    m = real[:, :, None] & real[:, None, :]
    return m & np.tril(np.ones((steps, steps), bool)) if causal else m


def mask_int_loops(lengths, steps, causal):
    out = [[[0] * steps for _ in range(steps)] for _ in lengths]
    for b, n in enumerate(lengths):
        for i in range(steps):
            for j in range(steps):
                out[b][i][j] = int(j < n and (not causal or j <= i))
    return out


def mask_tf(lengths, steps, causal):
    import tensorflow as tf
    m = tf.sequence_mask(lengths, steps)[:, None, :]
    m = tf.broadcast_to(m, [len(lengths), steps, steps])
    if causal:
        m = m & tf.cast(tf.linalg.band_part(tf.ones((steps, steps)), -1, 0), tf.bool)
    return m.numpy()


# --------------------------------------------------------------------------- 10.3
def split_heads(x, heads):
    b, t, width = x.shape
    return x.reshape(b, t, heads, width // heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    b, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)


def split_no_transpose(x, heads):
    b, t, width = x.shape
    return x.reshape(b, heads, t, width // heads)


def split_strided(x, heads):
    b, t, width = x.shape
    return x.reshape(b, t, width // heads, heads).transpose(0, 3, 1, 2)


def merge_no_transpose(x):
    b, h, t, d = x.shape
    return x.reshape(b, t, h * d)


def merge_reversed(x):
    return np.concatenate([x[:, i] for i in reversed(range(x.shape[1]))], axis=-1)


def merge_interleaved(x):
    b, h, t, d = x.shape
    return x.transpose(0, 2, 3, 1).reshape(b, t, h * d)


def split_list(x, heads):
    d = x.shape[-1] // heads
    return np.stack([x[..., i * d:(i + 1) * d] for i in range(heads)], axis=1).astype(np.float32)


def merge_concat(x):
    return np.concatenate(list(np.moveaxis(x, 1, 0)), axis=-1)


def split_tf(x, heads):
    import tensorflow as tf
    b, t, w = x.shape
    return tf.transpose(tf.reshape(x, [b, t, heads, w // heads]), [0, 2, 1, 3]).numpy()


def merge_einops_like(x):
    return np.einsum("bhtd->bthd", x).reshape(x.shape[0], x.shape[2], -1)


# --------------------------------------------------------------------------- 10.4
def multi_head_attention(query, value, weights, mask=None):
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]
    k = np.einsum("bsd,dhk->bhsk", value, wk) + bk[:, None, :]
    v = np.einsum("bsd,dhk->bhsk", value, wv) + bv[:, None, :]
    heads, _ = attention(q, k, v, None if mask is None else mask[:, None])
    return np.einsum("bhtk,hko->bto", heads, wo) + bo


def mha_values_from_query(query, value, weights, mask=None):
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]
    k = np.einsum("bsd,dhk->bhsk", value, wk) + bk[:, None, :]
    v = np.einsum("bsd,dhk->bhsk", query, wv) + bv[:, None, :]
    heads, _ = attention(q, k, v, None if mask is None else mask[:, None])
    return np.einsum("bhtk,hko->bto", heads, wo) + bo


def mha_no_out_bias(query, value, weights, mask=None):
    return multi_head_attention(query, value, weights, mask) - weights[7]


def _mha_scaled(query, value, weights, mask, scale):
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]
    k = np.einsum("bsd,dhk->bhsk", value, wk) + bk[:, None, :]
    v = np.einsum("bsd,dhk->bhsk", value, wv) + bv[:, None, :]
    s = q @ np.swapaxes(k, -1, -2) / scale
    if mask is not None:
        s = np.where(mask[:, None], s, -1e9)
    return np.einsum("bhtk,hko->bto", _softmax(s) @ v, wo) + bo


def mha_scale_width(query, value, weights, mask=None):
    h, d = weights[1].shape
    return _mha_scaled(query, value, weights, mask, np.sqrt(h * d))


def mha_scale_dk(query, value, weights, mask=None):
    return _mha_scaled(query, value, weights, mask, weights[1].shape[1])


def mha_merge_no_transpose(query, value, weights, mask=None):
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]
    k = np.einsum("bsd,dhk->bhsk", value, wk) + bk[:, None, :]
    v = np.einsum("bsd,dhk->bhsk", value, wv) + bv[:, None, :]
    heads, _ = attention(q, k, v, None if mask is None else mask[:, None])
    b, h, t, d = heads.shape
    return heads.reshape(b, t, h * d) @ wo.reshape(h * d, -1) + bo


def mha_heads_reversed(query, value, weights, mask=None):
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]
    k = np.einsum("bsd,dhk->bhsk", value, wk) + bk[:, None, :]
    v = np.einsum("bsd,dhk->bhsk", value, wv) + bv[:, None, :]
    heads, _ = attention(q, k, v, None if mask is None else mask[:, None])
    merged = np.concatenate([heads[:, i] for i in reversed(range(heads.shape[1]))], -1)
    return merged @ wo.reshape(-1, wo.shape[-1]) + bo


def mha_mask_after(query, value, weights, mask=None):
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]
    k = np.einsum("bsd,dhk->bhsk", value, wk) + bk[:, None, :]
    v = np.einsum("bsd,dhk->bhsk", value, wv) + bv[:, None, :]
    heads, _ = att_mask_after(q, k, v, None if mask is None else mask[:, None])
    return np.einsum("bhtk,hko->bto", heads, wo) + bo


def mha_split_merge(query, value, weights, mask=None):
    """Flattened weights, split_heads / merge_heads, float32."""
    wq, bq, wk, bk, wv, bv, wo, bo = (np.asarray(w, np.float32) for w in weights)
    h = bq.shape[0]
    proj = lambda x, w, b: split_heads(x.astype(np.float32) @ w.reshape(w.shape[0], -1) + b.reshape(-1), h)  # noqa: E731
    heads, _ = attention(proj(query, wq, bq), proj(value, wk, bk), proj(value, wv, bv),
                         None if mask is None else np.asarray(mask)[:, None])
    return merge_heads(heads) @ wo.reshape(-1, wo.shape[-1]) + bo


def mha_keras(query, value, weights, mask=None):
    import keras
    layer = keras.layers.MultiHeadAttention(weights[1].shape[0], weights[1].shape[1],
                                            value_dim=weights[5].shape[1], dtype="float64")
    layer(query[:1], value[:1])
    layer.set_weights(list(weights))
    return np.asarray(layer(query, value, attention_mask=mask))


# --------------------------------------------------------------------------- 10.5
def attention_backward(q, k, v, mask, dout):
    out, p = attention(q, k, v, mask)
    dv = np.swapaxes(p, -1, -2) @ dout
    dp = dout @ np.swapaxes(v, -1, -2)
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True)) / np.sqrt(q.shape[-1])
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, dv


def back_no_rowsum(q, k, v, mask, dout):
    _, p = attention(q, k, v, mask)
    ds = p * (dout @ np.swapaxes(v, -1, -2)) / np.sqrt(q.shape[-1])
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ dout


def back_no_scale(q, k, v, mask, dout):
    dq, dk, dv = attention_backward(q, k, v, mask, dout)
    return dq * np.sqrt(q.shape[-1]), dk * np.sqrt(q.shape[-1]), dv


def back_dv_untransposed(q, k, v, mask, dout):
    dq, dk, _ = attention_backward(q, k, v, mask, dout)
    _, p = attention(q, k, v, mask)
    return dq, dk, p @ dout if p.shape[-1] == p.shape[-2] else p[..., :1] * 0 + dout[:, :1]


def back_dk_is_dq(q, k, v, mask, dout):
    dq, dk, dv = attention_backward(q, k, v, mask, dout)
    return dq, (dq if dq.shape == dk.shape else dk * 1.01), dv


def back_tf(q, k, v, mask, dout):
    import tensorflow as tf
    q, k, v = (tf.constant(a) for a in (q, k, v))
    with tf.GradientTape() as tape:
        tape.watch([q, k, v])
        s = tf.matmul(q, k, transpose_b=True) / np.sqrt(q.shape[-1])
        if mask is not None:
            s = tf.where(mask, s, -1e9)
        out = tf.nn.softmax(s) @ v
    return tape.gradient(out, [q, k, v], output_gradients=tf.constant(dout))


def back_f32_einsum(q, k, v, mask, dout):
    q, k, v, dout = (np.asarray(a, np.float32) for a in (q, k, v, dout))
    _, p = attention(q, k, v, mask)
    p = p.astype(np.float32)
    dp = np.einsum("btd,bsd->bts", dout, v)
    ds = (p * dp - p * np.einsum("bts,bts->bt", p, dp)[..., None]) / np.float32(np.sqrt(q.shape[-1]))
    return (np.einsum("bts,bsd->btd", ds, k), np.einsum("bts,btd->bsd", ds, q),
            np.einsum("bts,btd->bsd", p, dout))


# --------------------------------------------------------------------------- 10.6
def sinusoidal_positions(length, depth):
    pos = np.arange(length)[:, None]
    pair = np.arange(depth)[None, :] // 2                    # features 2i and 2i + 1 share a frequency
    angle = pos / 10000 ** (2 * pair / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(angle), np.cos(angle))


def pe_concat(length, depth):
    ang = np.arange(length)[:, None] / 10000 ** (2 * np.arange(depth // 2)[None] / depth)
    return np.concatenate([np.sin(ang), np.cos(ang)], 1) if depth % 2 == 0 else sinusoidal_positions(length, depth) * 2


def pe_swapped(length, depth):
    angle = np.arange(length)[:, None] / 10000 ** (2 * (np.arange(depth)[None] // 2) / depth)
    return np.where(np.arange(depth) % 2 == 0, np.cos(angle), np.sin(angle))


def pe_exponent_i(length, depth):
    angle = np.arange(length)[:, None] / 10000 ** ((np.arange(depth)[None] // 2) / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(angle), np.cos(angle))


def pe_feature_index(length, depth):
    angle = np.arange(length)[:, None] / 10000 ** (np.arange(depth)[None] / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(angle), np.cos(angle))


def pe_from_one(length, depth):
    angle = np.arange(1, length + 1)[:, None] / 10000 ** (2 * (np.arange(depth)[None] // 2) / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(angle), np.cos(angle))


def pe_times(length, depth):
    angle = np.arange(length)[:, None] * 10000 ** (2 * (np.arange(depth)[None] // 2) / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(angle), np.cos(angle))


def pe_loops_f32(length, depth):
    import math
    out = [[0.0] * depth for _ in range(length)]
    for p in range(length):
        for i in range(0, depth, 2):
            w = 1.0 / 10000 ** (i / depth)
            out[p][i] = math.sin(p * w)
            if i + 1 < depth:
                out[p][i + 1] = math.cos(p * w)
    return np.array(out, np.float32)


def pe_tf(length, depth):
    import tensorflow as tf
    pos = tf.range(length, dtype=tf.float64)[:, None]
    i = tf.range(depth, dtype=tf.float64)[None, :]
    angle = pos * tf.exp(-tf.math.log(tf.constant(10000.0, tf.float64)) * (i - tf.math.floormod(i, 2)) / depth)
    return tf.where(tf.math.floormod(i, 2) == 0, tf.sin(angle), tf.cos(angle)).numpy()


REFERENCE = {
    "10.1": attention,
    "10.2": attention_mask,
    "10.3": (split_heads, merge_heads),
    "10.4": multi_head_attention,
    "10.5": attention_backward,
    "10.6": sinusoidal_positions,
}

WRONG = {
    "10.1": [
        (att_mask_after, r"AFTER the softmax"),
        (att_scale_dk, r"scaled by d_k.*√d_k"),
        (att_no_scale, r"not scaled"),
        (att_values_from_queries, r"values were taken from the query"),
        (att_softmax_queries, r"over the queries"),
        (att_mask_inverted, r"inverted"),
    ],
    "10.2": [
        (mask_excludes_self, r"must see itself"),
        (mask_sees_next, r"sees token i \+ 1"),
        (mask_upper, r"transposed"),
        (mask_ignores_causal, r"later positions must be hidden"),
        (mask_pad_off_by_one, r"off by one in the padding"),
        (mask_rows_too, r"padded QUERIES"),
    ],
    "10.3": [
        ((split_no_transpose, merge_heads), r"without the transpose"),
        ((split_strided, merge_heads), r"CONTIGUOUS"),
        ((split_heads, merge_no_transpose), r"without transposing back"),
        ((split_heads, merge_reversed), r"wrong order"),
        ((split_heads, merge_interleaved), r"interleaved"),
    ],
    "10.4": [
        (mha_values_from_query, r"values were taken from the query"),
        (mha_no_out_bias, r"output bias"),
        (mha_scale_width, r"√\(h·d_k\)"),
        (mha_scale_dk, r"scaled by d_k"),
        (mha_merge_no_transpose, r"without the transpose"),
        (mha_heads_reversed, r"wrong order"),
        (mha_mask_after, r"AFTER the softmax"),
    ],
    "10.5": [
        (back_no_rowsum, r"rowsum"),
        (back_no_scale, r"1/√d_k .*missing"),
        (back_dv_untransposed, r"Pᵀ dO"),
        (back_dk_is_dq, r"dk is dq"),
    ],
    "10.6": [
        (pe_concat, r"concatenated \[sin \| cos\]"),
        (pe_swapped, r"swapped"),
        (pe_exponent_i, r"2i/d"),
        (pe_feature_index, r"PAIR shares one frequency"),
        (pe_from_one, r"start at 0"),
        (pe_times, r"divide the position"),
    ],
}

ACCEPT = {
    "10.1": [att_tf_f32, att_einsum],
    "10.2": [mask_int_loops, mask_tf],
    "10.3": [(split_list, merge_concat), (split_tf, merge_einops_like)],
    "10.4": [mha_split_merge, mha_keras],
    "10.5": [back_tf, back_f32_einsum],
    "10.6": [pe_loops_f32, pe_tf],
}

EQUIVALENT = {
    "10.1": {"L3 Constant 1000000000.0→2000000000.0: -1e9": "any score ≤ −1e9 gives exp(·) = 0 next to real "
                                                           "scores, so −1e9 and −2e9 mask identically"},
    "10.4": {
        "L3 BinOp Add→Sub: np.einsum(\"bsd,dhk->bhsk\", value, wk) + bk[:, None, :]":
            "the key bias adds q_t·bk to every score of row t, the same for all keys; the softmax ignores a "
            "per-row constant, so ±bk (or no bk) gives the same output",
        "L3 Term dropped (right): np.einsum(\"bsd,dhk->bhsk\", value, wk) + bk[:, None, :]":
            "as above: the softmax is invariant to the per-row constant q_t·bk",
    },
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_sinusoidal_oracle_matches_paper_formula():
    """The oracle's loop form against the paper's two-line definition at a few entries."""
    from helpers.checks.ch10 import sinusoidal_oracle
    pe = sinusoidal_oracle(30, 8)
    assert np.isclose(pe[7, 2], np.sin(7 / 10000 ** (2 / 8)))
    assert np.isclose(pe[7, 3], np.cos(7 / 10000 ** (2 / 8)))
    assert np.isclose(pe[29, 6], np.sin(29 / 10000 ** (6 / 8)))
