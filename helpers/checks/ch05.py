"""Checks for chapter 05 (convolutional networks).

Oracles: Keras layers (``Conv2D.compute_output_shape``, ``ZeroPadding2D``, ``count_params``)
for sizes, parameter and multiply counts; the TensorFlow kernels of
:mod:`helpers.kernels.conv` (``tf.nn.conv2d``, ``tf.nn.max_pool2d`` and their GradientTape
gradients, themselves tested against loops, Keras and centered differences) for the
convolution and pooling passes. The NumPy versions of known mistakes below only serve to
recognise a mistake and name it; they are never the reference.

Conventions (Keras, channels last): x [B, H, W, C_in], kernel W [K_h, K_w, C_in, C_out],
bias [C_out], y [B, H_out, W_out, C_out]; "convolution" is cross-correlation.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import numpy as np

from helpers.checks import assert_close, call, exercise, fail, random_inputs, require, unpack


# --------------------------------------------------------------------------- integer answers
def _integer(value: Any, what: str) -> int:
    """An integer answer (int, NumPy integer, or a float with an integral value)."""
    if value is None:
        fail(f"{what} returned None — did it forget to `return` the number?")
    if isinstance(value, (bool, np.bool_)):
        fail(f"{what} returned a bool; expected an integer.")
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            fail(f"{what} should return one integer, got an array of shape {value.shape}.")
        value = value.reshape(()).item()
    if not isinstance(value, (int, float, np.integer, np.floating)):
        fail(f"{what} should return an integer, got {type(value).__name__}.")
    if not math.isfinite(float(value)):
        fail(f"{what} returned {value}: not a finite number.")
    if float(value) != math.floor(float(value)):
        fail(f"{what} returned {value}, which is not a whole number — true division `/` where "
             "the formula rounds down (`//` or math.floor)?")
    return int(value)


def _grid_verdict(answers: dict, expected: dict, wrong: Sequence[tuple[Callable, str]],
                  label: Callable[[Any], str]) -> None:
    """Fail on the first setting where the answer differs; name a known mistake when the
    answer follows it on every setting where the mistake differs from the truth."""
    bad = [s for s in expected if answers[s] != expected[s]]
    if not bad:
        return
    for rule, explanation in wrong:
        differs = [s for s in expected if rule(*s) != expected[s]]
        if differs and all(answers[s] == rule(*s) for s in expected):
            s = differs[0]
            fail(f"{explanation} (e.g. {label(s)}: expected {expected[s]}, got {answers[s]})")
    s = bad[0]
    fail(f"wrong for {label(s)}: expected {expected[s]}, got {answers[s]} "
         f"({len(bad)} of {len(expected)} settings wrong).")


# --------------------------------------------------------------------------- 5.1 output size
@functools.lru_cache(maxsize=None)
def _keras_size_layer(k: int, stride: int, padding: str):
    import keras

    return keras.layers.Conv2D(1, (k, 1), strides=(stride, 1), padding=padding)


@functools.lru_cache(maxsize=None)
def _keras_output_size(n: int, k: int, stride: int, padding: Any) -> int:
    """The output height Keras computes for an N-row input (explicit padding: ZeroPadding2D first)."""
    import keras

    shape = (None, n, n + 1, 1)
    if isinstance(padding, str):
        return int(_keras_size_layer(k, stride, padding).compute_output_shape(shape)[1])
    shape = keras.layers.ZeroPadding2D(padding).compute_output_shape(shape)
    return int(_keras_size_layer(k, stride, "valid").compute_output_shape(shape)[1])


def _pad(padding: Any) -> int:
    return 0 if padding == "valid" else padding


_SIZE_GRID = [(n, k, s, p) for n in (5, 6, 7, 8, 11, 12, 28) for k in (1, 2, 3, 5) for s in (1, 2, 3)
              for p in ("valid", "same", 1, 2) if k <= n]


def _size_rule(kind: str) -> Callable[[int, int, int, Any], int]:
    def rule(n, k, s, p):
        if p == "same":
            if kind == "same_floor":
                return n // s
            if kind == "same_is_n":
                return n
            if kind == "same_as_valid":
                return (n - k) // s + 1
            return -(-n // s)
        pad = _pad(p)
        if kind == "ceil":
            return -(-(n + 2 * pad - k) // s) + 1
        if kind == "no_plus_one":
            return (n + 2 * pad - k) // s
        if kind == "one_side":
            return (n + pad - k) // s + 1
        if kind == "floor_outside":
            return (n + 2 * pad - k + 1) // s
        return (n + 2 * pad - k) // s + 1
    return rule


@exercise("5.1", "convolution output size", "conv_output_size matches keras Conv2D on 336 settings ('valid', 'same', explicit padding)")
def ex_5_1(conv_output_size) -> None:
    answers, expected = {}, {}
    for setting in _SIZE_GRID:
        n, k, s, p = setting
        out = call(conv_output_size, n, k, s, p, name="conv_output_size")
        answers[setting] = _integer(out, f"conv_output_size({n}, {k}, {s}, {p!r})")
        expected[setting] = _keras_output_size(n, k, s, p)
    require(len(expected) == 336, "internal: the grid changed")
    _grid_verdict(answers, expected, [
        (_size_rule("ceil"), "the division rounds UP; it must round down: a window that would run "
                             "past the (padded) input is not computed, ⌊(N + 2P − K)/S⌋ + 1"),
        (_size_rule("no_plus_one"), "the + 1 is missing: the first window sits at position 0, "
                                    "then one more every S steps, ⌊(N + 2P − K)/S⌋ + 1"),
        (_size_rule("one_side"), "the padding is added on both sides: N + 2P, not N + P"),
        (_size_rule("floor_outside"), "⌊(N + 2P − K)/S⌋ + 1 is not ⌊(N + 2P − K + 1)/S⌋: the + 1 is outside the floor"),
        (_size_rule("same_as_valid"), "'same' pads so that the output has ⌈N/S⌉ positions; "
                                      "you treated it as 'valid'"),
        (_size_rule("same_is_n"), "'same' keeps the size only for stride 1; with stride S the output has ⌈N/S⌉ positions"),
        (_size_rule("same_floor"), "'same' gives ⌈N/S⌉ (rounded UP), not ⌊N/S⌋"),
    ], lambda s: f"N={s[0]}, K={s[1]}, S={s[2]}, padding={s[3]!r}")


# --------------------------------------------------------------------------- 5.2 parameters
_PARAM_GRID = [(3, 3, 1, 6, True), (5, 5, 6, 16, True), (3, 3, 64, 128, True), (1, 1, 192, 16, True),
               (3, 1, 4, 7, True), (1, 7, 5, 3, True), (2, 3, 3, 2, False), (3, 3, 8, 8, False),
               (5, 5, 1, 1, True), (1, 1, 1, 1, False)]


def _keras_params(k_h: int, k_w: int, c_in: int, c_out: int, use_bias: bool) -> int:
    import keras

    layer = keras.layers.Conv2D(c_out, (k_h, k_w), use_bias=use_bias)
    layer.build((None, 9, 9, c_in))
    return int(layer.count_params())


@exercise("5.2", "convolution parameter count", "conv_params matches keras Conv2D.count_params (kernels and biases)")
def ex_5_2(conv_params) -> None:
    answers, expected = {}, {}
    for setting in _PARAM_GRID:
        out = call(conv_params, *setting, name="conv_params")
        answers[setting] = _integer(out, "conv_params({}, {}, {}, {}, use_bias={})".format(*setting))
        expected[setting] = _keras_params(*setting)
    _grid_verdict(answers, expected, [
        (lambda kh, kw, ci, co, b: kh * kw * ci * co, "the biases are missing: each of the C_out filters "
                                                      "has one bias, (K_h·K_w·C_in + 1)·C_out"),
        (lambda kh, kw, ci, co, b: (kh * kw * ci + 1) * co, "with use_bias=False there are no biases: K_h·K_w·C_in·C_out"),
        (lambda kh, kw, ci, co, b: (kh * kw + b) * co, "a filter spans all C_in input channels: "
                                                       "(K_h·K_w·C_in + 1)·C_out"),
        (lambda kh, kw, ci, co, b: (kh * kw + b) * ci * co, "there is one bias per filter (per output channel), "
                                                            "not one per input channel: (K_h·K_w·C_in + 1)·C_out"),
        (lambda kh, kw, ci, co, b: (kh * kh * ci + b) * co, "the kernel need not be square: K_h·K_w, not K_h²"),
        (lambda kh, kw, ci, co, b: (kh * kw * ci + b) * ci, "the layer has C_out filters: multiply by C_out, not C_in"),
    ], lambda s: "K_h={}, K_w={}, C_in={}, C_out={}, use_bias={}".format(*s))


# --------------------------------------------------------------------------- conv NumPy (hints only)
def _windows(x: np.ndarray, k_h: int, k_w: int, stride: int) -> np.ndarray:
    """[B, H_out, W_out, K_h, K_w, C] views of the 'valid' windows."""
    v = np.lib.stride_tricks.sliding_window_view(x, (k_h, k_w), axis=(1, 2))  # B, H', W', C, kh, kw
    return v[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def _np_conv(x, W, b, stride=1):
    return np.einsum("bijpqc,pqcf->bijf", _windows(x, W.shape[0], W.shape[1], stride), W) + b


def _oracle_conv(x, W, b, stride=1, padding="valid"):
    from helpers.kernels import conv

    return conv.conv2d_forward(x, W, b, strides=stride, padding=padding).numpy()


_CONV_CASES = [  # (batch, H, W, C_in, K_h, K_w, C_out, stride)
    (2, 7, 6, 3, 3, 2, 4, 1),
    (3, 8, 9, 2, 3, 3, 5, 2),
    (2, 9, 7, 3, 2, 3, 2, 3),
]


@exercise("5.3", "convolution forward", "conv2d_forward matches tf.nn.conv2d ('valid', strides 1, 2, 3, batch and channels)")
def ex_5_3(conv2d_forward) -> None:
    for seed, (bs, h, w, ci, kh, kw, co, s) in enumerate(_CONV_CASES):
        x, W = random_inputs(seed + 50, (bs, h, w, ci), (kh, kw, ci, co))
        b = random_inputs(seed + 60, (co,))[0]
        out = call(conv2d_forward, x, W, b, s, name="conv2d_forward")
        expected = _oracle_conv(x, W, b, s)
        shape = expected.shape
        got = np.shape(_numpy_or(out))
        ceil_shape = (bs, -(-(h - kh) // s) + 1, -(-(w - kw) // s) + 1, co)
        if got == (bs, h - kh + 1, w - kw + 1, co) and s > 1:
            fail(f"with stride {s} the output should have shape {shape}, got {got} — the stride is ignored "
                 "(take every S-th window: rows i·S … i·S + K_h − 1).")
        if got == ceil_shape and ceil_shape != shape:
            fail(f"the output should have shape {shape}, got {got}: ⌊(N − K)/S⌋ + 1 windows fit, not ⌈·⌉.")
        if got == (bs, w - kw + 1, h - kh + 1, co) and got != shape:
            fail(f"the output should have shape {shape} (height, width), got {got}: height and width swapped?")
        assert_close(out, expected, "y", rtol=1e-9, atol=1e-10, index_names=["image", "row", "column", "filter"], hints=[
            (_np_conv(x, W[::-1, ::-1], b, s), "this is the mathematical convolution (kernel flipped by 180°); "
                                               "Conv2D computes the cross-correlation: y[i, j] = Σ x[i·S + p, j·S + q]·W[p, q], no flip."),
            (_np_conv(x, W, 0.0, s), "the bias is missing: add b[f] to every output of filter f."),
            (_np_conv(x, W, b[::-1] if co > 1 else b, s), "the bias is added to the wrong filters (index it by the output channel f)."),
        ])


def _numpy_or(value: Any) -> Any:
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    return value


# --------------------------------------------------------------------------- 5.4 dW, db
_GRAD_CASES = [  # (batch, H, W, C_in, K_h, K_w, C_out): stride 1, 'valid'
    (2, 3, 3, 2, 2, 2, 3),   # the 3×3 ⊛ 2×2 example of the text, with batch and channels
    (3, 6, 7, 3, 3, 2, 4),
    (2, 5, 5, 1, 3, 3, 2),
]


def _oracle_grads(x, W, b, dy):
    from helpers.kernels import conv

    g = conv.conv2d_grads(x, W, b, dy)
    return g["x"].numpy(), g["kernel"].numpy(), g["bias"].numpy()


def _grad_problem(seed: int, case: tuple):
    bs, h, w, ci, kh, kw, co = case
    x, W = random_inputs(seed, (bs, h, w, ci), (kh, kw, ci, co))
    b = random_inputs(seed + 1, (co,))[0]
    dy = random_inputs(seed + 2, (bs, h - kh + 1, w - kw + 1, co))[0]
    return x, W, b, dy


@exercise("5.4", "convolution backward: weights and bias", "conv2d_backward_weights matches tf.GradientTape (∂L/∂W, ∂L/∂b)")
def ex_5_4(conv2d_backward_weights) -> None:
    for seed, case in enumerate(_GRAD_CASES):
        x, W, b, dy = _grad_problem(70 + 3 * seed, case)
        bs, kh, kw = case[0], case[4], case[5]
        out = unpack(call(conv2d_backward_weights, x, dy, kh, kw, name="conv2d_backward_weights"),
                     "conv2d_backward_weights", ["dW", "db"])
        _, dW, db = _oracle_grads(x, W, b, dy)
        windows = _windows(x, dy.shape[1], dy.shape[2], 1)  # [B, K_h, K_w, H', W', C]
        got = np.shape(_numpy_or(out[0]))
        if got == (kh, kw, dy.shape[-1], x.shape[-1]) and x.shape[-1] != dy.shape[-1]:
            fail(f"dW should have shape {dW.shape} [K_h, K_w, C_in, C_out] like W, got {got}: the channel axes are swapped.")
        if np.shape(_numpy_or(out[1])) == (bs, dy.shape[-1]):
            fail("db should have shape (C_out,): sum δ over the batch AND over all output positions.")
        if np.shape(_numpy_or(out[1])) == (dy.shape[1], dy.shape[2], dy.shape[-1]):
            fail("db should have shape (C_out,): sum δ over the output positions too, not only over the batch.")
        assert_close(out[0], dW, "dW", rtol=1e-9, atol=1e-10, factors={"1/B": 1 / bs},
                     index_names=["p", "q", "input channel", "filter"], hints=[
            (dW[::-1, ::-1], "∂L/∂W is rotated by 180°: ∂L/∂W[p, q] = Σ_ij δ[i, j]·x[i + p, j + q], the "
                             "correlation of the input with δ (no rotation here; the rotated kernel belongs in ∂L/∂x)."),
            (dW / bs, "the gradient is averaged over the batch: L = Σ y ⊙ δ sums over the images, so sum dW over them."),
            (np.einsum("bpqijc,bijf->pqcf", windows, dy[:, ::-1, ::-1]),
             "δ is rotated by 180°: ∂L/∂W[p, q] = Σ_ij δ[i, j]·x[i + p, j + q], no rotation."),
        ])
        assert_close(out[1], db, "db", rtol=1e-9, atol=1e-10, factors={"1/B": 1 / bs}, hints=[
            (dy.sum(axis=(0, 1, 2)) / bs, "db is averaged over the batch: sum δ over the images too."),
            (dy.mean(axis=(0, 1, 2)), "db is a mean; it is the SUM of δ over batch and positions (each output adds b once)."),
        ])


# --------------------------------------------------------------------------- 5.5 dx
def _full_corr(dy: np.ndarray, K: np.ndarray) -> np.ndarray:
    """'full' correlation of dy [B, H', W', C_out] with K [K_h, K_w, C_out, C_in]."""
    kh, kw = K.shape[:2]
    padded = np.pad(dy, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    return _np_conv(padded, K, 0.0)


def _same_index_pairing(dy: np.ndarray, W: np.ndarray) -> np.ndarray | None:
    """The published slip: ∂L/∂x[p, q] = Σ δ[i, j]·W[i, j] over the outputs (i, j) whose window
    covers (p, q) — each δ paired with the weight of its own index (needs H' ≤ K_h, W' ≤ K_w)."""
    bs, ho, wo, co = dy.shape
    kh, kw, ci, _ = W.shape
    if ho > kh or wo > kw:
        return None
    dx = np.zeros((bs, ho + kh - 1, wo + kw - 1, ci))
    for i in range(ho):
        for j in range(wo):
            dx[:, i:i + kh, j:j + kw] += np.einsum("bf,cf->bc", dy[:, i, j], W[i, j])[:, None, None, :]
    return dx


@exercise("5.5", "convolution backward: input", "conv2d_backward_input matches tf.GradientTape (∂L/∂x: full convolution with the rotated kernel)")
def ex_5_5(conv2d_backward_input) -> None:
    for seed, case in enumerate(_GRAD_CASES):
        x, W, b, dy = _grad_problem(80 + 3 * seed, case)
        out = call(conv2d_backward_input, dy, W, name="conv2d_backward_input")
        dx = _oracle_grads(x, W, b, dy)[0]
        hints = [
            (_full_corr(dy, W.transpose(0, 1, 3, 2)), "the kernel is not rotated: ∂L/∂x is the FULL convolution of δ "
                                                    "with the kernel rotated by 180° (W[::-1, ::-1]), ∂L/∂x[p, q] = Σ δ[i, j]·W[p − i, q − j]."),
            (_full_corr(dy, W.transpose(1, 0, 3, 2)) if W.shape[0] == W.shape[1] else None,
             "the kernel is transposed (rows ↔ columns) instead of rotated: W[p − i, q − j] pairs "
             "row offsets with rows; rotate by 180° (W[::-1, ::-1])."),
            (_same_index_pairing(dy, W), "δ[i, j] is paired with W[i, j]: the weight that connects x[p, q] to y[i, j] "
                                         "is W[p − i, q − j] (so ∂L/∂x[0, 1] = δ[0, 0]·W[0, 1] + δ[0, 1]·W[0, 0])."),
        ]
        expected_shape = x.shape
        got = np.shape(_numpy_or(out))
        if len(got) == 4 and got[0] == x.shape[0] and got[1] <= dy.shape[1] and got[2] <= dy.shape[2]:
            fail(f"dx should have the shape of x, {expected_shape}, got {got}: pad δ by K − 1 on every side "
                 "(a 'full' convolution) before correlating.")
        if got == (*expected_shape[:3], dy.shape[-1]) and dy.shape[-1] != x.shape[-1]:
            fail(f"dx should have shape {expected_shape}, got {got}: sum over the OUTPUT channels f "
                 "(use W transposed to [K_h, K_w, C_out, C_in]).")
        assert_close(out, dx, "dx", rtol=1e-9, atol=1e-10, index_names=["image", "row", "column", "channel"],
                     hints=[(h, m) for h, m in hints if h is not None])


# --------------------------------------------------------------------------- 5.6 / 5.7 max pooling
_POOL_CASES = [  # (batch, H, W, C, pool, stride)
    (2, 6, 8, 3, 2, 2),
    (3, 7, 9, 2, 3, 2),   # overlapping windows
    (2, 5, 6, 2, 2, 1),   # overlapping windows, stride 1
    (2, 9, 7, 1, 3, 3),
]


def _pool_input(seed: int, case: tuple) -> np.ndarray:
    bs, h, w, c = case[:4]
    rng = np.random.default_rng(seed)
    return (rng.permutation(bs * h * w * c).reshape(bs, h, w, c) - bs * h * w * c / 2) / 7.0  # no ties


def _np_pool_windows(x, pool, stride):
    v = np.lib.stride_tricks.sliding_window_view(x, (pool, pool), axis=(1, 2))
    return v[:, ::stride, ::stride]  # B, H', W', C, pool, pool


@exercise("5.6", "max pooling forward", "maxpool_forward matches tf.nn.max_pool2d (2×2/2, overlapping 3×3/2, 2×2/1, 3×3/3)")
def ex_5_6(maxpool_forward) -> None:
    from helpers.kernels import conv

    for seed, case in enumerate(_POOL_CASES):
        bs, h, w, c, pool, s = case
        x = _pool_input(90 + seed, case)
        out = call(maxpool_forward, x, pool, s, name="maxpool_forward")
        expected = conv.max_pool_forward(x, pool, s).numpy()
        got = np.shape(_numpy_or(out))
        if got == (bs, h - pool + 1, w - pool + 1, c) and s > 1:
            fail(f"with stride {s} the output should have shape {expected.shape}, got {got} — the stride is ignored.")
        if got == (bs, -(-h // s), -(-w // s), c) and got != expected.shape:
            fail(f"the output should have shape {expected.shape}, got {got}: only whole windows are pooled, "
                 "⌊(N − K)/S⌋ + 1 of them ('valid').")
        windows = _np_pool_windows(x, pool, s)
        assert_close(out, expected, "pooled", rtol=1e-12, atol=1e-12, index_names=["image", "row", "column", "channel"], hints=[
            (windows.mean(axis=(-1, -2)), "this is average pooling; max pooling keeps the largest value of each window."),
            (np.abs(windows).max(axis=(-1, -2)), "this is the largest |x|; max pooling keeps the largest value (signs matter)."),
            (windows.min(axis=(-1, -2)), "this is the minimum of each window; max pooling keeps the largest value."),
        ])


def _np_pool_backward(x, dy, pool, stride, variant=""):
    bs, h, w, c = x.shape
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            win = x[:, i * stride:i * stride + pool, j * stride:j * stride + pool]
            if variant == "avg":
                contrib = np.broadcast_to(dy[:, i:i + 1, j:j + 1] / pool ** 2, win.shape)
            elif variant == "all":
                contrib = np.broadcast_to(dy[:, i:i + 1, j:j + 1], win.shape)
            else:
                mask = win == win.max(axis=(1, 2), keepdims=True)
                contrib = mask * dy[:, i:i + 1, j:j + 1]
            if variant == "overwrite":
                region = dx[:, i * stride:i * stride + pool, j * stride:j * stride + pool]
                region[contrib != 0] = contrib[contrib != 0]
            else:
                dx[:, i * stride:i * stride + pool, j * stride:j * stride + pool] += contrib
    return dx


@exercise("5.7", "max pooling backward", "maxpool_backward matches tf.GradientTape through tf.nn.max_pool2d (overlapping windows add up)")
def ex_5_7(maxpool_backward) -> None:
    from helpers.kernels import conv

    for seed, case in enumerate(_POOL_CASES):
        bs, h, w, c, pool, s = case
        x = _pool_input(100 + seed, case)
        ho, wo = (h - pool) // s + 1, (w - pool) // s + 1
        dy = random_inputs(110 + seed, (bs, ho, wo, c))[0]
        out = call(maxpool_backward, dy, x, pool, s, name="maxpool_backward")
        expected = conv.max_pool_grad(x, dy, pool, s).numpy()
        hints = [
            (_np_pool_backward(x, dy, pool, s, "overwrite"), "where windows overlap (stride < pool size), one input can be the "
                                                             "maximum of several windows: ADD their gradients (+=), do not overwrite."),
            (_np_pool_backward(x, dy, pool, s, "avg"), "this is the backward pass of AVERAGE pooling (δ/K² everywhere); "
                                                       "max pooling sends each δ to the position of its window's maximum only."),
            (_np_pool_backward(x, dy, pool, s, "all"), "δ is copied to every position of its window; only the position "
                                                       "of the maximum gets it (the others did not affect the output)."),
        ]
        assert_close(out, expected, "dx", rtol=1e-9, atol=1e-10, index_names=["image", "row", "column", "channel"],
                     hints=hints)


# --------------------------------------------------------------------------- 5.8 multiplies
def _keras_multiplies(h: int, w: int, c_in: int, c_out: int, k: int, bottleneck: int | None) -> int:
    """Σ over the layers of (output positions × filters) × (K·K·C_in): from Keras's own output
    shapes and kernel sizes ('same' padding, stride 1)."""
    import keras

    layers = [keras.layers.Conv2D(c_out, k, padding="same")]
    if bottleneck:
        layers.insert(0, keras.layers.Conv2D(bottleneck, 1, padding="same"))
    shape, total = (None, h, w, c_in), 0
    for layer in layers:
        out = layer.compute_output_shape(shape)
        kernel_weights = layer.kernel_size[0] * layer.kernel_size[1] * shape[-1]
        total += out[1] * out[2] * out[3] * kernel_weights
        shape = out
    return int(total)


_MULT_GRID = [(28, 28, 192, 32, 5, None), (28, 28, 192, 32, 5, 16), (14, 14, 480, 48, 5, 16),
              (7, 9, 64, 24, 3, 8), (7, 9, 64, 24, 3, None), (10, 10, 3, 6, 1, None), (12, 6, 32, 32, 3, 32)]


@exercise("5.8", "cost of a convolution and of a 1×1 bottleneck", "conv_multiplies matches Keras shapes (≈120.4M → ≈12.4M with a 16-channel bottleneck)")
def ex_5_8(conv_multiplies) -> None:
    answers, expected = {}, {}
    for setting in _MULT_GRID:
        out = call(conv_multiplies, *setting, name="conv_multiplies")
        answers[setting] = _integer(out, "conv_multiplies({}, {}, {}, {}, {}, {})".format(*setting))
        expected[setting] = _keras_multiplies(*setting)

    def direct(h, w, ci, co, k, m):
        return h * w * co * k * k * ci

    _grid_verdict(answers, expected, [
        (direct, "with a bottleneck the input of the K×K convolution has only `bottleneck` channels, and the 1×1 "
                 "layer costs H·W·bottleneck·C_in: the cost is H·W·m·C_in + H·W·C_out·K²·m"),
        (lambda h, w, ci, co, k, m: h * w * co * k * k * (m or ci),
         "the 1×1 bottleneck layer itself costs H·W·bottleneck·C_in multiplies: add it"),
        (lambda h, w, ci, co, k, m: (h * w * m * ci if m else 0) + h * w * co * k * k * ci,
         "after the bottleneck the K×K convolution sees `bottleneck` input channels, not C_in"),
        (lambda h, w, ci, co, k, m: (h * w * m * (ci + 1) if m else 0) + h * w * co * (k * k * (m or ci) + 1),
         "you counted the bias additions too; count multiplies only (one per kernel weight per output value)"),
        (lambda h, w, ci, co, k, m: (m * ci if m else 0) + co * k * k * (m or ci),
         "that is the number of weights; each weight is used once per output position: multiply by H·W"),
        (lambda h, w, ci, co, k, m: (h * w * m * ci if m else 0) + (h - k + 1) * (w - k + 1) * co * k * k * (m or ci),
         "the layers use 'same' padding: the output keeps H×W positions, not (H − K + 1)×(W − K + 1)"),
    ], lambda s: "H={}, W={}, C_in={}, C_out={}, K={}, bottleneck={}".format(*s))
