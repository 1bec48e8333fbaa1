"""Multi-head attention forward + backward timings: NumPy vs helpers.kernels.attention vs
keras.layers.MultiHeadAttention (``python -m helpers.bench attention``).

    python -m helpers.bench attention --batch 32 --seq 128 --model 256 --heads 8 --repeats 10

All three compute, on the same float32 weights and inputs (self-attention, a causal mask), the
gradients with respect to the input and all eight weight arrays of L = Σ out ⊙ dout. They must
agree before any time is reported; warm-up calls (tracing) are excluded; each contender's repeats
run as one block; medians and minima are printed, with the GFLOP/s each reaches on the matmul
work every implementation must do. On a shared machine, run it more than once, compare minima.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

from helpers import tensorflow

Array = np.ndarray
KEYS = ("x", "Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
AGREE_TOL = 1e-3


def numpy_mha_grads(x: Array, w: list[Array], mask: Array, dout: Array) -> dict[str, Array]:
    """Self-attention forward and backward in NumPy (heads as a batch axis; matmuls via einsum/@).

    Backward of softmax(S) V with S = Q Kᵀ/√d: dV = Pᵀ dO, dP = dO Vᵀ,
    dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS K/√d, dK = dSᵀ Q/√d; then each projection's
    weights get xᵀ δ and the input the sum of δ Wᵀ over the three projections."""
    wq, bq, wk, bk, wv, bv, wo, bo = w
    b, t, dm = x.shape
    h, dk = bq.shape
    flat = x.reshape(b * t, dm)

    def proj(wt, bias):
        return (flat @ wt.reshape(dm, -1) + bias.reshape(-1)).reshape(b, t, h, -1).transpose(0, 2, 1, 3)

    q, k, v = proj(wq, bq), proj(wk, bk), proj(wv, bv)
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dk)
    s = np.where(mask, s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    heads = p @ v                                                  # [b, h, t, dv]
    merged = heads.transpose(0, 2, 1, 3).reshape(b * t, -1)
    g = dout.reshape(b * t, -1)
    grads = {"Wo": (merged.T @ g).reshape(wo.shape), "bo": g.sum(0)}
    dheads = (g @ wo.reshape(-1, wo.shape[-1]).T).reshape(b, t, h, -1).transpose(0, 2, 1, 3)
    dv = p.transpose(0, 1, 3, 2) @ dheads
    dp = dheads @ v.transpose(0, 1, 3, 2)
    ds = p * (dp - np.sum(dp * p, -1, keepdims=True)) / np.sqrt(dk)
    dq, dkk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
    dx = np.zeros_like(flat)
    for name, d, wt in (("q", dq, wq), ("k", dkk, wk), ("v", dv, wv)):
        df = d.transpose(0, 2, 1, 3).reshape(b * t, -1)
        grads["W" + name] = (flat.T @ df).reshape(wt.shape)
        grads["b" + name] = df.sum(0).reshape(wt.shape[1:])
        dx += df @ wt.reshape(dm, -1).T
    grads["x"] = dx.reshape(b, t, dm)
    return grads


def make_data(batch: int, seq: int, model: int, heads: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    dk = model // heads
    shapes = [(model, heads, dk), (heads, dk)] * 3 + [(heads, dk, model), (model,)]
    w = [(rng.normal(size=s) / np.sqrt(s[0] if len(s) == 3 else 10.0)).astype(f32) for s in shapes]
    return {"x": rng.normal(size=(batch, seq, model)).astype(f32), "w": w,
            "mask": np.tril(np.ones((seq, seq), bool))[None, None],
            "dout": rng.normal(size=(batch, seq, model)).astype(f32)}


def make_contenders(d: dict) -> dict[str, Callable[[], dict[str, Array]]]:
    tensorflow()
    import keras
    import tensorflow as tf

    from helpers.kernels.attention import mha_grads

    x, w, mask, dout = d["x"], d["w"], d["mask"], d["dout"]
    tx, tdout = tf.constant(x), tf.constant(dout)
    tw = [tf.constant(a) for a in w]
    tmask = tf.constant(np.broadcast_to(mask[0], (x.shape[0], *mask.shape[2:])))
    heads, dk = w[1].shape
    layer = keras.layers.MultiHeadAttention(heads, dk, dtype="float32")
    layer(x[:1], x[:1])
    layer.set_weights(w)

    @tf.function
    def keras_grads(xx, gg, mm):
        with tf.GradientTape() as tape:
            tape.watch(xx)
            out = layer(xx, xx, attention_mask=mm)
        return tape.gradient(out, [xx, *layer.trainable_weights], output_gradients=gg)

    def run_numpy():
        return numpy_mha_grads(x, w, mask, dout)

    def run_kernel():
        g = mha_grads(tx, tx, tw, tdout, tmask, key=tx)
        out = {k: g[k].numpy() for k in KEYS[1:]}
        out["x"] = (g["query"] + g["key"] + g["value"]).numpy()
        return out

    def run_keras():
        return {k: g.numpy() for k, g in zip(KEYS, keras_grads(tx, tdout, tmask))}

    return {"NumPy": run_numpy, "kernel": run_kernel, "Keras": run_keras}


def matmul_flops(batch: int, seq: int, model: int) -> float:
    """2 × multiply-adds: forward 4 projections (4·T·D²) and QKᵀ, PV (2·T²·D); backward twice that."""
    fwd = 4 * seq * model * model + 2 * seq * seq * model
    return 2.0 * batch * 3 * fwd


def run(batch=8, seq=64, model=64, heads=4, repeats=10, warmup=2, seed=0) -> dict:
    from helpers.bench import device_name, rel_err

    d = make_data(batch, seq, model, heads, seed)
    contenders = make_contenders(d)
    results = {}
    for name, fn in contenders.items():
        for _ in range(max(warmup, 1)):
            results[name] = fn()
    def err(a: dict, b: dict) -> float:
        # ∂L/∂bk is zero in exact arithmetic (a key bias adds the same q·bk to every score of a
        # row, which the softmax ignores): its rounding noise is measured against ∂L/∂Wk's scale.
        e = [rel_err(a[k], b[k]) for k in KEYS if k != "bk"]
        e.append(float(np.max(np.abs(a["bk"] - b["bk"])) / max(np.max(np.abs(b["Wk"])), 1e-30)))
        return max(e)

    errors = {"kernel vs NumPy": err(results["kernel"], results["NumPy"]),
              "Keras vs kernel": err(results["Keras"], results["kernel"])}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for name, fn in contenders.items():
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {"errors": errors, "agree": all(e < AGREE_TOL for e in errors.values()),
            "times": times, "device": device_name()}


def format_report(res: dict, shape: str, flops: float) -> str:
    from helpers.bench import timing_report

    return timing_report(f"Multi-head self-attention forward + backward (input and 8 weight gradients), {shape}, "
                         "float32, causal mask", f"Matmul work: {flops / 1e9:.3g} GFLOP per forward + backward",
                         "x and the 8 weight arrays", res, flops)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m helpers.bench attention", description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--model", type=int, default=256)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    res = run(a.batch, a.seq, a.model, a.heads, a.repeats, a.warmup, a.seed)
    shape = f"batch {a.batch}, seq {a.seq}, model {a.model}, heads {a.heads}"
    print(format_report(res, shape, matmul_flops(a.batch, a.seq, a.model)))
    return 0 if res["agree"] else 1
