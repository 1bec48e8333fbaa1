"""Checks for chapter 10 (attention and Transformers).

Oracles: ``helpers.kernels.attention`` (TensorFlow forward, ``tf.GradientTape`` backward) and
``keras.layers.MultiHeadAttention`` with the answer's weights set into it; for the masks, an
intervention (keys the mask hides are changed, the kernel's output must not move); for the
positions, the closed form of Vaswani et al. evaluated independently. The wrong variants here
serve only to recognise a known mistake and name it.
"""
from __future__ import annotations

import numpy as np

from helpers import tensorflow
from helpers.checks import as_array, assert_close, call, exercise, fail, require, unpack


def _kernel():
    tensorflow()
    from helpers.kernels import attention

    return attention


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _inputs(seed: int, batch: int, t: int, s: int, d: int, dv: int, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((batch, t, d)), scale * rng.standard_normal((batch, s, d)),
            rng.standard_normal((batch, s, dv)), rng)


def _random_mask(rng, batch: int, t: int, s: int) -> np.ndarray:
    mask = rng.random((batch, t, s)) < 0.6
    mask[np.arange(batch)[:, None], np.arange(t)[None, :], rng.integers(0, s, (batch, t))] = True
    return mask


# (seed, batch, T, S, d_k, d_v, scale): T == S with d_v == d_k so that values-from-queries has the
# right shape; large scores (scale 3) so that √d_k against d_k shows.
_ATT_CASES = [(0, 2, 4, 4, 4, 4, 1.5), (1, 3, 3, 5, 8, 2, 3.0), (2, 1, 6, 6, 16, 16, 1.0)]


# --------------------------------------------------------------------------- 10.1
@exercise("10.1", "scaled dot-product attention with a mask",
          "softmax(QKᵀ/√d_k) V with masked scores removed before the softmax matches the TF kernel")
def ex_10_1(attention) -> None:
    att = _kernel()
    for seed, batch, t, s, d, dv, scale in _ATT_CASES:
        q, k, v, rng = _inputs(seed, batch, t, s, d, dv, scale)
        for mask in (None, _random_mask(rng, batch, t, s)):
            out, w = unpack(call(attention, q, k, v, mask, name="attention"), "attention", ["output", "weights"])
            exp_out, exp_w = (a.numpy() for a in att.scaled_dot_product_attention(q, k, v, mask))
            m = np.ones((batch, t, s), bool) if mask is None else mask
            scores = q @ np.swapaxes(k, -1, -2)
            masked = lambda sc: np.where(m, sc, -1e9)  # noqa: E731
            p_after = _softmax(scores / np.sqrt(d)) * m
            hints = [
                (p_after, "the mask was applied AFTER the softmax: zeroing weights afterwards leaves rows "
                          "that no longer sum to 1; replace masked scores by −∞ (a large negative) before it."),
                (_softmax(masked(scores / d)), "you scaled by d_k; the scores are divided by √d_k."),
                (_softmax(masked(scores)), "the scores are not scaled: divide QKᵀ by √d_k."),
                (np.swapaxes(_softmax(np.swapaxes(masked(scores / np.sqrt(d)), -1, -2)), -1, -2),
                 "the softmax ran over the queries (axis −2); each query's weights are normalised over the keys (axis −1)."),
                (_softmax(np.where(~m, scores / np.sqrt(d), -1e9)), "the mask is inverted: True means 'may attend'."),
            ]
            label = f"weights for B={batch}, T={t}, S={s}, d_k={d}" + (", with a mask" if mask is not None else "")
            assert_close(w, exp_w, label, rtol=1e-6, atol=1e-9, hints=hints, index_names=["batch", "query", "key"])
            out_hints = []
            if t == s and dv == d:
                out_hints.append((exp_w @ q, "the values were taken from the query sequence; the output "
                                             "averages the VALUES: weights @ v."))
            out_hints.append((exp_w @ k if dv == d else None, "the output averages the keys; it averages the values v."))
            assert_close(out, exp_out, label.replace("weights", "output"), rtol=1e-6, atol=1e-9,
                         hints=[h for h in out_hints if h[0] is not None], index_names=["batch", "query", "feature"])


# --------------------------------------------------------------------------- 10.2
@exercise("10.2", "padding and causal masks",
          "the mask hides padded keys (and, if causal, later positions, never the token itself), "
          "and what it hides cannot change the attention output")
def ex_10_2(attention_mask) -> None:
    att = _kernel()
    for lengths, steps in [([3, 5], 5), ([1, 4, 6], 6), ([2], 2)]:
        lengths = np.array(lengths)
        for causal in (False, True):
            given = lengths.tolist() if steps == 2 else lengths      # a list is a valid sequence of lengths too
            m = call(attention_mask, given, steps, causal, name="attention_mask")
            m = np.asarray(m.numpy() if hasattr(m, "numpy") else m)
            require(m.shape == (len(lengths), steps, steps),
                    f"the mask must have shape [B, T, T] = {(len(lengths), steps, steps)}, got {m.shape}.")
            require(m.dtype == bool or np.isin(m, [0, 1]).all(),
                    "the mask must be boolean (True = may attend) or 0/1.")
            m = m.astype(bool)
            i, j = np.arange(steps)[:, None], np.arange(steps)[None, :]
            pad = j[None] < lengths[:, None, None]
            tri = (j <= i) if causal else np.ones((steps, steps), bool)
            expected = pad & tri
            label = f"{'causal ' if causal else ''}mask for lengths {lengths.tolist()}, {steps} steps"
            rows = (i[None] < lengths[:, None, None]) & pad
            slips = [
                (j[None] <= lengths[:, None, None]) & tri,
                "off by one in the padding: a sequence of length L has positions 0 … L − 1, so key j is real when j < L.",
            ], [
                rows & tri,
                "you also masked the padded QUERIES (rows); only the keys (columns) need masking — padded queries "
                "are ignored by the loss, and a row with no key allowed is ill-defined.",
            ]
            if causal:
                slips += ([pad & (j < i), "a token must see itself: allow j ≤ i (np.tril including the diagonal), not j < i."],
                          [pad & (j <= i + 1), "off by one: token i also sees token i + 1; allow only j ≤ i."],
                          [pad & (j >= i), "the causal part is transposed: query i (row) may see keys j ≤ i (columns), "
                                           "a lower triangle."],
                          [np.broadcast_to(pad, m.shape), "with causal=True later positions must be hidden too (j ≤ i)."])
            for wrong, message in slips:
                wrong = np.broadcast_to(wrong, m.shape)
                if np.array_equal(m, wrong) and not np.array_equal(wrong, expected):
                    fail(f"{label}: {message}")
            if not np.array_equal(m, expected):
                bad = np.argwhere(m != expected)[0]
                fail(f"{label}: entry [batch {bad[0]}, query {bad[1]}, key {bad[2]}] is {m[tuple(bad)]}, "
                     f"expected {expected[tuple(bad)]} (True = may attend).")
            # intervention: what the mask hides must not matter
            rng = np.random.default_rng(steps)
            q, k, v = (rng.standard_normal((len(lengths), steps, 4)) for _ in range(3))
            hidden = ~np.broadcast_to(pad, m.shape)
            k2, v2 = k + 5.0 * (~pad[:, 0, :, None]), v - 5.0 * (~pad[:, 0, :, None])
            base = att.scaled_dot_product_attention(q, k, v, m)[0].numpy()
            moved = att.scaled_dot_product_attention(q, k2, v2, m)[0].numpy()
            require(np.allclose(base, moved, atol=1e-9) or not hidden.any(),
                    f"{label}: changing the padded keys changed the output; the mask must hide them.")


# --------------------------------------------------------------------------- 10.3
@exercise("10.3", "splitting and merging heads",
          "split_heads gives [B, h, T, d] with head i = features i·d … (i+1)·d − 1, and merge_heads inverts it")
def ex_10_3(split_heads, merge_heads) -> None:
    for seed, (batch, t, heads, d) in enumerate([(2, 3, 2, 4), (3, 5, 4, 2), (1, 2, 3, 3)]):
        x = np.random.default_rng(seed).standard_normal((batch, t, heads * d))
        got = call(split_heads, x, heads, name="split_heads")
        expected = x.reshape(batch, t, heads, d).transpose(0, 2, 1, 3)
        label = f"split_heads of [{batch}, {t}, {heads}·{d}] into {heads} heads"
        hints = [
            (x.reshape(batch, heads, t, d), "you reshaped straight to [B, h, T, d] without the transpose: "
                                            "reshape to [B, T, h, d] first, then transpose axes 1 and 2."),
            (x.reshape(batch, t, d, heads).transpose(0, 3, 1, 2),
             "head i must hold the CONTIGUOUS features i·d … (i+1)·d − 1 (reshape to [B, T, h, d]); you took every h-th feature."),
            (x.reshape(batch, t, heads, d).transpose(0, 2, 3, 1), "the last two axes are swapped: the result is [B, h, T, d]."),
        ]
        assert_close(got, expected, label, rtol=0, atol=0, hints=hints, rtol32=1e-6, atol32=1e-7)
        merged = call(merge_heads, expected, name="merge_heads")
        label = f"merge_heads of [{batch}, {heads}, {t}, {d}]"
        mhints = [
            (expected.reshape(batch, t, heads * d), "you reshaped [B, h, T, d] straight to [B, T, h·d] without "
                                                    "transposing back first: transpose to [B, T, h, d], then reshape."),
            (expected[:, ::-1].transpose(0, 2, 1, 3).reshape(batch, t, heads * d),
             "the heads are concatenated in the wrong order: head 0 comes first."),
            (expected.transpose(0, 2, 3, 1).reshape(batch, t, heads * d),
             "the heads are interleaved feature by feature; concatenate them: head 0's d features, then head 1's, …"),
        ]
        assert_close(merged, x, label, rtol=0, atol=0, hints=[h for h in mhints if h[0].shape == x.shape],
                     rtol32=1e-6, atol32=1e-7)


# --------------------------------------------------------------------------- 10.4
def _keras_mha(weights, heads, key_dim, value_dim, d_q, d_v, dtype="float64"):
    tensorflow()
    import keras

    layer = keras.layers.MultiHeadAttention(heads, key_dim, value_dim=value_dim, dtype=dtype)
    layer(np.zeros((1, 1, d_q), dtype), np.zeros((1, 1, d_v), dtype))
    layer.set_weights(weights)
    return layer


def _heads(att, query, value, w, mask, after: bool = False) -> np.ndarray:
    """Each head's attention output [B, h, T, d_v] (the kernel's attention on NumPy projections)."""
    wq, bq, wk, bk, wv, bv = w[:6]
    q = np.einsum("btd,dhk->bhtk", query, wq) + bq[:, None, :]
    k = np.einsum("bsd,dhk->bhsk", value, wk) + bk[:, None, :]
    v = np.einsum("bsd,dhk->bhsk", value, wv) + bv[:, None, :]
    m = None if mask is None else mask[:, None]
    if not after:
        return att.scaled_dot_product_attention(q, k, v, m)[0].numpy()
    p = att.scaled_dot_product_attention(q, k, v)[1].numpy()
    return (p * (1 if m is None else m)) @ v


def _mha_weights(rng, heads, key_dim, value_dim, d_q, d_v, d_out):
    shapes = [(d_q, heads, key_dim), (heads, key_dim), (d_v, heads, key_dim), (heads, key_dim),
              (d_v, heads, value_dim), (heads, value_dim), (heads, value_dim, d_out), (d_out,)]
    return [rng.standard_normal(s) / np.sqrt(s[0] if len(s) == 3 else 4.0) for s in shapes]


@exercise("10.4", "multi-head attention in NumPy",
          "multi-head attention matches keras.layers.MultiHeadAttention with the same weights")
def ex_10_4(multi_head_attention) -> None:
    att = _kernel()
    for seed, (batch, t, s, d_q, heads, key_dim, value_dim) in enumerate(
            [(2, 4, 4, 6, 2, 3, 3), (3, 3, 5, 4, 3, 2, 4), (1, 5, 5, 8, 4, 2, 2)]):
        rng = np.random.default_rng(seed + 20)
        d_v = d_q if t == s else d_q + 1
        w = _mha_weights(rng, heads, key_dim, value_dim, d_q, d_v, d_q)
        query, value = rng.standard_normal((batch, t, d_q)) * 1.5, rng.standard_normal((batch, s, d_v))
        mask = _random_mask(rng, batch, t, s)
        for m in (None, mask):
            got = call(multi_head_attention, query, value, w, m, name="multi_head_attention")
            layer = _keras_mha(w, heads, key_dim, value_dim, d_q, d_v)
            expected = np.asarray(layer(query, value, attention_mask=m))
            label = f"output for B={batch}, T={t}, S={s}, {heads} heads of size {key_dim}" + (
                ", with a mask" if m is not None else "")
            wq, bq, wk, bk, wv, bv, wo, bo = w
            hints = []
            if t == s and d_v == d_q:
                hints.append((att.mha_forward(query, query, w, m, key=value)[0].numpy(),
                              "the values were taken from the query sequence; project the VALUE input: value @ Wv."))
            hints.append((att.mha_forward(query, value, w[:7] + [np.zeros_like(bo)], m)[0].numpy(),
                          "the output bias bo is missing."))
            # scaling by √(h·d_k) (the model width) instead of √d_k: scale the query projection
            f = np.sqrt(key_dim / (heads * key_dim))
            hints.append((att.mha_forward(query, value, [wq * f, bq * f, *w[2:]], m)[0].numpy(),
                          "the scores were divided by √(h·d_k), the total width; each head divides by √d_k (key_dim)."))
            f = 1.0 / np.sqrt(key_dim)
            hints.append((att.mha_forward(query, value, [wq * f, bq * f, *w[2:]], m)[0].numpy(),
                          "you scaled by d_k; the scores are divided by √d_k."))
            heads_out = _heads(att, query, value, w, m)                  # [B, h, T, d_v]
            wo_flat = wo.reshape(heads * value_dim, -1)
            hints.append((heads_out.reshape(batch, t, heads * value_dim) @ wo_flat + bo,
                          "the heads were merged without the transpose: [B, h, T, d_v] → transpose to "
                          "[B, T, h, d_v], then reshape to [B, T, h·d_v]."))
            hints.append((heads_out.transpose(0, 2, 3, 1).reshape(batch, t, -1) @ wo_flat + bo,
                          "the heads are interleaved feature by feature; concatenate them, head 0 first."))
            if heads > 1:
                hints.append((heads_out[:, ::-1].transpose(0, 2, 1, 3).reshape(batch, t, -1) @ wo_flat + bo,
                              "the heads are concatenated in the wrong order: head 0 first."))
            hints.append((np.einsum("bhtk,hko->bto", _heads(att, query, value, w, m, after=True), wo) + bo,
                          "the mask was applied AFTER the softmax; masked scores must be replaced before it."))
            assert_close(got, expected, label, rtol=1e-5, atol=1e-8, hints=hints, index_names=["batch", "query", "feature"])


# --------------------------------------------------------------------------- 10.5
@exercise("10.5", "the backward pass of attention",
          "dQ, dK, dV of softmax(QKᵀ/√d_k)V match tf.GradientTape, with the softmax Jacobian and the 1/√d_k")
def ex_10_5(attention_backward) -> None:
    att = _kernel()
    for seed, batch, t, s, d, dv, scale in _ATT_CASES:
        q, k, v, rng = _inputs(seed + 7, batch, t, s, d, dv, scale)
        dout = rng.standard_normal((batch, t, dv))
        for mask in (None, _random_mask(rng, batch, t, s)):
            dq, dk, dvv = unpack(call(attention_backward, q, k, v, mask, dout, name="attention_backward"),
                                 "attention_backward", ["dq", "dk", "dv"])
            g = {n: a.numpy() for n, a in att.attention_grads(q, k, v, dout, mask).items()}
            out, p = (a.numpy() for a in att.scaled_dot_product_attention(q, k, v, mask))
            dp = dout @ np.swapaxes(v, -1, -2)
            ds_plain = p * dp / np.sqrt(d)
            label = f"for B={batch}, T={t}, S={s}, d_k={d}" + (", with a mask" if mask is not None else "")
            assert_close(dvv, g["v"], "dv " + label, rtol=1e-6, atol=1e-9, hints=[
                (p @ dout if t == s else np.zeros(1), "dv = Pᵀ dO (the weights transposed), not P dO."),
            ] if t == s else [], index_names=["batch", "key", "feature"])
            assert_close(dq, g["q"], "dq " + label, rtol=1e-6, atol=1e-9, hints=[
                (ds_plain @ k, "the softmax Jacobian is incomplete: dS = P ⊙ (dP − rowsum(dP ⊙ P)), you dropped "
                               "the − rowsum term."),
                (g["q"] * np.sqrt(d), "the 1/√d_k of the forward pass is missing from dq."),
                (g["q"] / np.sqrt(d), "1/√d_k was applied twice in dq."),
            ], index_names=["batch", "query", "feature"])
            assert_close(dk, g["k"], "dk " + label, rtol=1e-6, atol=1e-9, hints=[
                (np.swapaxes(ds_plain, -1, -2) @ q, "the softmax Jacobian is incomplete: dS = P ⊙ (dP − rowsum(dP ⊙ P))."),
                (g["k"] * np.sqrt(d), "the 1/√d_k of the forward pass is missing from dk."),
            ] + ([(g["q"], "dk is dq: dK = dSᵀ Q, dQ = dS K.")] if t == s else []),
                index_names=["batch", "key", "feature"])


# --------------------------------------------------------------------------- 10.6
def sinusoidal_oracle(length: int, depth: int) -> np.ndarray:
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)) (Vaswani et al.)."""
    pe = np.zeros((length, depth))
    for p in range(length):
        for c in range(depth):
            angle = p / 10000 ** ((c - c % 2) / depth)
            pe[p, c] = np.sin(angle) if c % 2 == 0 else np.cos(angle)
    return pe


@exercise("10.6", "sinusoidal positions",
          "sinusoidal positions match Vaswani et al.: sin on even, cos on odd features, wavelengths 2π·10000^(2i/d)")
def ex_10_6(sinusoidal_positions) -> None:
    for length, depth in [(50, 16), (7, 6), (3, 2), (20, 7)]:
        pe = call(sinusoidal_positions, length, depth, name="sinusoidal_positions")
        expected = sinusoidal_oracle(length, depth)
        p = np.arange(length)[:, None]
        i = np.arange((depth + 1) // 2)[None, :]
        ang = p / 10000 ** (2 * i / depth)
        label = f"positions for length {length}, depth {depth}"
        hints = []
        if depth % 2 == 0:
            hints += [
                (np.concatenate([np.sin(ang), np.cos(ang)], 1),
                 "you concatenated [sin | cos]; Vaswani et al. interleave them: sin in feature 2i, cos in 2i + 1."),
                (np.stack([np.cos(ang), np.sin(ang)], 2).reshape(length, depth), "sin and cos are swapped: sin on even features."),
                (np.stack([np.sin(p / 10000 ** (i / depth)), np.cos(p / 10000 ** (i / depth))], 2).reshape(length, depth),
                 "the exponent is 2i/d (i the pair index), not i/d."),
                (np.stack([np.sin((p + 1) / 10000 ** (2 * i / depth)), np.cos((p + 1) / 10000 ** (2 * i / depth))],
                          2).reshape(length, depth), "positions start at 0, not 1."),
                (np.stack([np.sin(p * 10000 ** (2 * i / depth)), np.cos(p * 10000 ** (2 * i / depth))], 2).reshape(length, depth),
                 "the frequencies are 1/10000^(2i/d): divide the position by 10000^(2i/d)."),
            ]
            c = np.arange(depth)[None, :]
            hints.append((np.where(c % 2 == 0, np.sin(p / 10000 ** (c / depth)), np.cos(p / 10000 ** (c / depth))),
                          "each sin/cos PAIR shares one frequency: use 2i = c − c mod 2 in the exponent, not the feature index c."))
        assert_close(pe, expected, label, rtol=1e-6, atol=1e-8, hints=hints, index_names=["position", "feature"])
