"""LSTM forward + backward (BPTT) timings: NumPy vs the helpers kernel vs keras.layers.LSTM.

    python -m helpers.bench --batch 64 --steps 100 --units 128 --inputs 32 --repeats 20
    python -m helpers.bench conv      # chapter 05: Conv2D forward + backward, same three contenders

All three compute, on the same float32 weights and data, the gradients with respect to
x, h0, c0, kernel, recurrent_kernel and bias of L = Σ hs ⊙ dhs for one random upstream
gradient dhs [B, T, u]. The three must agree (relative error printed) before any time is
reported. Warm-up calls (tracing, XLA compilation) are excluded. Each contender's repeats
run as one block (interleaving them lets NumPy's BLAS threads, still spinning after a call,
steal the cores from TensorFlow's); the table gives medians and minima. On a shared machine,
run it more than once and compare minima.

The NumPy reference is not a straw man: its BPTT computes dU, dW, dx and db as one matmul
each over all steps, so per step it does two [B, u] × [u, 4u]-sized matmuls where autodiff
(the kernel, Keras) does three. Every implementation has the same matmul work to do
(printed, with the GFLOP/s each reaches), which bounds how far any of them can pull ahead.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, Mapping

import numpy as np

from helpers import tensorflow

Array = np.ndarray
KEYS = ("x", "h0", "c0", "kernel", "recurrent_kernel", "bias")
AGREE_TOL = 1e-3  # float32 over T steps: ~1e-6..1e-5 when right, O(1) when wrong


# --------------------------------------------------------------------------- NumPy reference
def _sigmoid(z: Array) -> Array:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def numpy_lstm_grads(x: Array, h0: Array, c0: Array, kernel: Array, recurrent_kernel: Array,
                     bias: Array, dhs: Array) -> dict[str, Array]:
    """Forward pass and full BPTT of the Keras-layout LSTM (gates i, f, c, o) in NumPy.

    Forward: z_t = x_t W + h_{t−1} U + b; i, f, o = σ(·), g = tanh(z_c);
    c_t = f c_{t−1} + i g; h_t = o tanh(c_t).
    Backward, t = T..1, with δh = dhs_t + (δz_{t+1} Uᵀ) and δc carried from t+1:
    δo = δh tanh(c_t); δc += δh o (1 − tanh²c_t); δi = δc g; δf = δc c_{t−1}; δg = δc i;
    δz = [δi i(1−i), δf f(1−f), δg (1−g²), δo o(1−o)]; δc ← δc f.
    Then, over all steps at once: dU = Σ h_{t−1}ᵀ δz_t, dW = Σ x_tᵀ δz_t, db = Σ δz_t,
    dx_t = δz_t Wᵀ.
    """
    batch, steps, n_in = x.shape
    u = h0.shape[1]
    xt = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(steps * batch, n_in)
    xw = (xt @ kernel + bias).reshape(steps, batch, 4 * u)

    hs = np.empty((steps + 1, batch, u), x.dtype)  # h_0..h_T
    cs = np.empty((steps + 1, batch, u), x.dtype)
    gates = np.empty((steps, batch, 4 * u), x.dtype)  # activated [i f g o]
    tanh_c = np.empty((steps, batch, u), x.dtype)
    hs[0], cs[0] = h0, c0
    for t in range(steps):
        z = xw[t] + hs[t] @ recurrent_kernel
        a = gates[t]
        a[:, :2 * u] = _sigmoid(z[:, :2 * u])
        a[:, 2 * u:3 * u] = np.tanh(z[:, 2 * u:3 * u])
        a[:, 3 * u:] = _sigmoid(z[:, 3 * u:])
        cs[t + 1] = a[:, u:2 * u] * cs[t] + a[:, :u] * a[:, 2 * u:3 * u]
        tanh_c[t] = np.tanh(cs[t + 1])
        hs[t + 1] = a[:, 3 * u:] * tanh_c[t]

    dz = np.empty_like(gates)
    dh = np.zeros((batch, u), x.dtype)
    dc = np.zeros((batch, u), x.dtype)
    rk_t = np.ascontiguousarray(recurrent_kernel.T)
    for t in range(steps - 1, -1, -1):
        i, f = gates[t, :, :u], gates[t, :, u:2 * u]
        g, o = gates[t, :, 2 * u:3 * u], gates[t, :, 3 * u:]
        dh = dh + dhs[:, t]
        dc = dc + dh * o * (1 - tanh_c[t] ** 2)
        d = dz[t]
        d[:, :u] = dc * g * i * (1 - i)
        d[:, u:2 * u] = dc * cs[t] * f * (1 - f)
        d[:, 2 * u:3 * u] = dc * i * (1 - g * g)
        d[:, 3 * u:] = dh * tanh_c[t] * o * (1 - o)
        dc = dc * f
        dh = d @ rk_t

    dz_flat = dz.reshape(steps * batch, 4 * u)
    return {
        "x": (dz_flat @ kernel.T).reshape(steps, batch, n_in).transpose(1, 0, 2),
        "h0": dh,
        "c0": dc,
        "kernel": xt.T @ dz_flat,
        "recurrent_kernel": hs[:-1].reshape(steps * batch, u).T @ dz_flat,
        "bias": dz_flat.sum(axis=0),
    }


# --------------------------------------------------------------------------- contenders
def make_data(batch: int, steps: int, units: int, inputs: int, seed: int = 0) -> dict[str, Array]:
    """float32 inputs, states, Glorot-scaled weights (+1 forget bias, as Keras) and dhs."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    bias = rng.normal(0, 0.1, 4 * units)
    bias[units:2 * units] += 1.0
    return {
        "x": rng.normal(size=(batch, steps, inputs)).astype(f32),
        "h0": rng.normal(0, 0.5, (batch, units)).astype(f32),
        "c0": rng.normal(0, 0.5, (batch, units)).astype(f32),
        "kernel": (rng.normal(size=(inputs, 4 * units)) / np.sqrt(inputs)).astype(f32),
        "recurrent_kernel": (rng.normal(size=(units, 4 * units)) / np.sqrt(units)).astype(f32),
        "bias": bias.astype(f32),
        "dhs": rng.normal(size=(batch, steps, units)).astype(f32),
    }


def make_contenders(d: Mapping[str, Array]) -> dict[str, Callable[[], dict[str, Array]]]:
    """name -> zero-argument function returning the six gradients as NumPy arrays."""
    tensorflow()
    import keras
    import tensorflow as tf

    from helpers.kernels.rnn import lstm_grads

    args = [d[k] for k in (*KEYS, "dhs")]
    targs = [tf.constant(a) for a in args]

    def run_numpy():
        return numpy_lstm_grads(*args)

    def run_kernel():
        return {k: v.numpy() for k, v in lstm_grads(*targs).items()}

    units = d["h0"].shape[1]
    layer = keras.layers.LSTM(units, return_sequences=True, dtype="float32")
    layer.build(d["x"].shape)
    layer.set_weights([d["kernel"], d["recurrent_kernel"], d["bias"]])
    cell = layer.cell

    @tf.function
    def keras_grads(x, h0, c0, dhs):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            hs = layer(x, initial_state=[h0, c0])
        return tape.gradient(hs, [x, h0, c0, cell.kernel, cell.recurrent_kernel, cell.bias],
                             output_gradients=dhs)

    def run_keras():
        grads = keras_grads(targs[0], targs[1], targs[2], targs[6])
        return {k: g.numpy() for k, g in zip(KEYS, grads)}

    return {"NumPy": run_numpy, "kernel": run_kernel, "Keras": run_keras}


def rel_err(a: Array, b: Array) -> float:
    """max |a − b| / max |b|: error relative to the gradient's scale (float32-friendly)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    import platform

    cpu = "CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or platform.machine()
    import os

    return f"CPU ({cpu}, {os.cpu_count()} cores)"


# --------------------------------------------------------------------------- main
def run(batch: int = 64, steps: int = 100, units: int = 128, inputs: int = 32,
        repeats: int = 10, warmup: int = 2, seed: int = 0) -> dict:
    """Check agreement, then time every contender; returns errors, times (s) and device."""
    d = make_data(batch, steps, units, inputs, seed)
    contenders = make_contenders(d)
    results = {}
    for name, fn in contenders.items():  # warm-up (tracing, XLA compile), not timed
        for _ in range(max(warmup, 1)):
            results[name] = fn()
    errors = {
        "kernel vs NumPy": max(rel_err(results["kernel"][k], results["NumPy"][k]) for k in KEYS),
        "Keras vs kernel": max(rel_err(results["Keras"][k], results["kernel"][k]) for k in KEYS),
    }
    per_key = {k: rel_err(results["kernel"][k], results["NumPy"][k]) for k in KEYS}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for name, fn in contenders.items():
        fn()
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()  # returns NumPy arrays: the device work is finished when it returns
            times[name].append(time.perf_counter() - t0)
    return {
        "errors": errors,
        "per_key": per_key,
        "agree": all(e < AGREE_TOL for e in errors.values()),
        "times": times,
        "device": device_name(),
    }


def matmul_flops(batch: int, steps: int, units: int, inputs: int) -> float:
    """Multiply-adds ×2 of the matmuls every implementation must do: forward x W and h U;
    backward δz Uᵀ, hᵀ δz, xᵀ δz, δz Wᵀ (the elementwise work is not counted)."""
    return 2.0 * batch * steps * 4 * units * (3 * inputs + 3 * units)


def timing_report(title: str, work: str, over: str, res: dict, flops: float,
                  targets: tuple[str, str] = ("", "")) -> str:
    """The report every benchmark prints: what was timed, how far the three implementations
    agree (``over`` names the compared results), a median/min/GFLOP/s table and the two ratios."""
    med = {k: statistics.median(v) for k, v in res["times"].items()}
    low = {k: min(v) for k, v in res["times"].items()}
    lines = [title, f"Device: {res['device']}", work, f"Agreement (max |a-b| / max |b| over {over}):"]
    lines += [f"  {k:<16} {e:.2e}" for k, e in res["errors"].items()]
    lines.append(f"  agree (< {AGREE_TOL:g}): {'yes' if res['agree'] else 'NO'}")
    lines += ["", f"  {'':<8} {'median ms':>10} {'min ms':>10} {'GFLOP/s':>9}"]
    lines += [f"  {k:<8} {1e3 * med[k]:>10.2f} {1e3 * low[k]:>10.2f} {flops / med[k] / 1e9:>9.1f}"
              for k in med]
    lines += ["", f"  NumPy / kernel = {med['NumPy'] / med['kernel']:.2f}x{targets[0]}",
              f"  kernel / Keras = {med['kernel'] / med['Keras']:.2f}x{targets[1]}"]
    return "\n".join(lines)


def format_report(res: dict, shape: str, flops: float) -> str:
    return timing_report(f"LSTM forward + backward (all 6 gradients), {shape}, float32",
                         f"Matmul work: {flops / 1e9:.3g} GFLOP per forward + backward",
                         "x, h0, c0, kernel, recurrent_kernel, bias", res, flops,
                         ("   (target >= 10)", "   (target <= 1.5)"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["conv"]:  # python -m helpers.bench conv ...: the Conv2D benchmark (chapter 05)
        return conv_main(argv[1:])
    if argv[:1] == ["attention"]:  # python -m helpers.bench attention ... (helpers/bench_attention.py)
        from helpers import bench_attention

        return bench_attention.main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--inputs", type=int, default=32)
    p.add_argument("--repeats", type=int, default=20, help="timed runs of each (after warm-up)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs of each first")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    res = run(a.batch, a.steps, a.units, a.inputs, a.repeats, a.warmup, a.seed)
    shape = f"batch {a.batch}, steps {a.steps}, units {a.units}, inputs {a.inputs}"
    print(format_report(res, shape, matmul_flops(a.batch, a.steps, a.units, a.inputs)))
    return 0 if res["agree"] else 1



# =========================================================================== conv2d benchmark
#   python -m helpers.bench conv --batch 32 --size 32 --c-in 32 --c-out 64 --kernel 3
CONV_KEYS = ("y", "x", "kernel", "bias")


def numpy_conv2d_grads(x: Array, kernel: Array, bias: Array, dy: Array) -> dict[str, Array]:
    """Forward output and the three gradients of a stride-1 'valid' Conv2D in NumPy (im2col).

    Forward: the windows of x as a [B·H'·W', K_h·K_w·C_in] matrix (one copy), times the kernel
    reshaped to [K_h·K_w·C_in, C_out]. Backward: dW = colsᵀ δ; db = Σ δ; dx = δ padded by
    K − 1, its windows times the 180°-rotated, channel-transposed kernel (a full convolution).
    """
    windows = np.lib.stride_tricks.sliding_window_view
    k_h, k_w, c_in, c_out = kernel.shape
    batch, h_out, w_out = x.shape[0], x.shape[1] - k_h + 1, x.shape[2] - k_w + 1
    cols = windows(x, (k_h, k_w), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3).reshape(-1, k_h * k_w * c_in)
    y = (cols @ kernel.reshape(-1, c_out) + bias).reshape(batch, h_out, w_out, c_out)
    d = dy.reshape(-1, c_out)
    d_kernel = (cols.T @ d).reshape(kernel.shape)
    padded = np.pad(dy, ((0, 0), (k_h - 1, k_h - 1), (k_w - 1, k_w - 1), (0, 0)))
    rotated = kernel[::-1, ::-1].transpose(0, 1, 3, 2).reshape(-1, c_in)  # [K_h·K_w·C_out, C_in]
    dcols = windows(padded, (k_h, k_w), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3).reshape(-1, k_h * k_w * c_out)
    return {"y": y, "x": (dcols @ rotated).reshape(x.shape), "kernel": d_kernel, "bias": d.sum(axis=0)}


def make_conv_data(batch: int, size: int, c_in: int, c_out: int, k: int, seed: int = 0) -> dict[str, Array]:
    """float32 images [B, size, size, C_in], a He-scaled kernel, a bias and an upstream δ."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    out = size - k + 1
    return {
        "x": rng.normal(size=(batch, size, size, c_in)).astype(f32),
        "kernel": (rng.normal(size=(k, k, c_in, c_out)) * np.sqrt(2 / (k * k * c_in))).astype(f32),
        "bias": rng.normal(0, 0.1, c_out).astype(f32),
        "dy": rng.normal(size=(batch, out, out, c_out)).astype(f32),
    }


def make_conv_contenders(d: Mapping[str, Array]) -> dict[str, Callable[[], dict[str, Array]]]:
    """name -> zero-argument function returning y and the three gradients as NumPy arrays."""
    tensorflow()
    import keras
    import tensorflow as tf

    from helpers.kernels.conv import conv2d_value_and_grads

    tx, tk, tb, tdy = (tf.constant(d[k]) for k in ("x", "kernel", "bias", "dy"))

    def run_numpy():
        return numpy_conv2d_grads(d["x"], d["kernel"], d["bias"], d["dy"])

    def run_kernel():
        y, grads = conv2d_value_and_grads(tx, tk, tb, tdy)
        return {"y": y.numpy(), **{k: v.numpy() for k, v in grads.items()}}

    layer = keras.layers.Conv2D(d["kernel"].shape[-1], d["kernel"].shape[:2], dtype="float32")
    layer.build(d["x"].shape)
    layer.set_weights([d["kernel"], d["bias"]])

    @tf.function
    def keras_grads(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return [y, *tape.gradient(y, [x, layer.kernel, layer.bias], output_gradients=dy)]

    def run_keras():
        return {k: v.numpy() for k, v in zip(CONV_KEYS, keras_grads(tx, tdy))}

    return {"NumPy": run_numpy, "kernel": run_kernel, "Keras": run_keras}


def conv_flops(batch: int, size: int, c_in: int, c_out: int, k: int) -> float:
    """2 × multiply-adds of forward, ∂L/∂x and ∂L/∂W: three times B·H'·W'·C_out·K²·C_in."""
    out = size - k + 1
    return 3 * 2.0 * batch * out * out * c_out * k * k * c_in


def run_conv(batch: int = 32, size: int = 32, c_in: int = 32, c_out: int = 64, k: int = 3,
             repeats: int = 10, warmup: int = 2, seed: int = 0) -> dict:
    """Check agreement, then time every conv contender; same result layout as :func:`run`."""
    d = make_conv_data(batch, size, c_in, c_out, k, seed)
    contenders = make_conv_contenders(d)
    results = {}
    for name, fn in contenders.items():
        for _ in range(max(warmup, 1)):
            results[name] = fn()
    errors = {
        "kernel vs NumPy": max(rel_err(results["kernel"][key], results["NumPy"][key]) for key in CONV_KEYS),
        "Keras vs kernel": max(rel_err(results["Keras"][key], results["kernel"][key]) for key in CONV_KEYS),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for name, fn in contenders.items():
        fn()
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {"errors": errors, "agree": all(e < AGREE_TOL for e in errors.values()), "times": times,
            "device": device_name()}


def format_conv_report(res: dict, shape: str, flops: float) -> str:
    return timing_report(f"Conv2D forward + backward (y, dx, dW, db), {shape}, float32, stride 1, 'valid'",
                         f"Work: {flops / 1e9:.3g} GFLOP (forward, dx and dW; elementwise work not counted)",
                         "y, x, kernel, bias", res, flops)


def conv_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m helpers.bench conv",
                                description="Conv2D forward + backward: NumPy (im2col) vs helpers kernel vs keras.layers.Conv2D")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=32, help="image height = width")
    p.add_argument("--c-in", type=int, default=32)
    p.add_argument("--c-out", type=int, default=64)
    p.add_argument("--kernel", type=int, default=3, help="kernel height = width")
    p.add_argument("--repeats", type=int, default=10, help="timed runs of each (after warm-up)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs of each first")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    res = run_conv(a.batch, a.size, a.c_in, a.c_out, a.kernel, a.repeats, a.warmup, a.seed)
    shape = f"batch {a.batch}, {a.size}x{a.size}x{a.c_in} -> {a.c_out} channels, kernel {a.kernel}x{a.kernel}"
    print(format_conv_report(res, shape, conv_flops(a.batch, a.size, a.c_in, a.c_out, a.kernel)))
    return 0 if res["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
