"""Chapter 05 checks: the reference answers pass, realistic wrong answers get specific hints,
correct answers written differently pass.

The reference functions here are the answers of solutions/05_convolutional_networks.ipynb.
"""
import math

import numpy as np

from conftest import accept_tests, check_tests

windows_of = np.lib.stride_tricks.sliding_window_view


# --------------------------------------------------------------------------- references
def conv_output_size(n, k, stride=1, padding="valid"):
    if padding == "same":
        return -(-n // stride)                      # ⌈N/S⌉
    p = 0 if padding == "valid" else padding
    return (n + 2 * p - k) // stride + 1            # ⌊(N + 2P − K)/S⌋ + 1


def conv_params(k_h, k_w, c_in, c_out, use_bias=True):
    return (k_h * k_w * c_in + int(use_bias)) * c_out


def conv2d_forward(x, W, b, stride=1):
    k_h, k_w = W.shape[:2]
    windows = windows_of(x, (k_h, k_w), axis=(1, 2))[:, ::stride, ::stride]  # [B, H', W', C, K_h, K_w]
    return np.einsum("bijcpq,pqcf->bijf", windows, W) + b


def conv2d_backward_weights(x, dy, k_h, k_w):
    h_out, w_out = dy.shape[1:3]
    dW = np.zeros((k_h, k_w, x.shape[-1], dy.shape[-1]))
    for p in range(k_h):
        for q in range(k_w):
            dW[p, q] = np.einsum("bijc,bijf->cf", x[:, p:p + h_out, q:q + w_out], dy)
    return dW, dy.sum(axis=(0, 1, 2))


def conv2d_backward_input(dy, W):
    k_h, k_w = W.shape[:2]
    padded = np.pad(dy, ((0, 0), (k_h - 1, k_h - 1), (k_w - 1, k_w - 1), (0, 0)))
    rotated = W[::-1, ::-1].transpose(0, 1, 3, 2)  # [K_h, K_w, C_out, C_in]
    windows = windows_of(padded, (k_h, k_w), axis=(1, 2))
    return np.einsum("bijfpq,pqfc->bijc", windows, rotated)


def maxpool_forward(x, pool, stride):
    windows = windows_of(x, (pool, pool), axis=(1, 2))[:, ::stride, ::stride]
    return windows.max(axis=(-2, -1))


def maxpool_backward(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            rows, cols = slice(i * stride, i * stride + pool), slice(j * stride, j * stride + pool)
            window = x[:, rows, cols]
            mask = window == window.max(axis=(1, 2), keepdims=True)
            dx[:, rows, cols] += mask * dy[:, i:i + 1, j:j + 1]
    return dx


def conv_multiplies(h, w, c_in, c_out, k, bottleneck=None):
    if bottleneck is None:
        return h * w * c_out * k * k * c_in
    return h * w * bottleneck * c_in + h * w * c_out * k * k * bottleneck


# --------------------------------------------------------------------------- accepted variants
def size_math(n, k, stride=1, padding="valid"):
    if padding == "same":
        return math.ceil(n / stride)
    pad = {"valid": 0}.get(padding, padding)
    return math.floor((n + 2 * pad - k) / stride) + 1


def size_numpy_float(n, k, stride=1, padding="valid"):
    if padding == "same":
        return np.ceil(n / stride)
    pad = 0.0 if padding == "valid" else float(padding)
    return np.floor((n + 2 * pad - k) / stride) + 1.0


def params_branch(k_h, k_w, c_in, c_out, use_bias=True):
    weights = k_h * k_w * c_in * c_out
    return weights + c_out if use_bias else weights


def params_numpy(k_h, k_w, c_in, c_out, use_bias=True):
    return np.int64(np.prod([k_h, k_w, c_in, c_out]) + (c_out if use_bias else 0))


def conv_offsets_loop(x, W, b, stride=1):
    """One matmul per kernel offset (p, q), accumulated."""
    k_h, k_w = W.shape[:2]
    h_out = (x.shape[1] - k_h) // stride + 1
    w_out = (x.shape[2] - k_w) // stride + 1
    y = np.zeros((x.shape[0], h_out, w_out, W.shape[-1]))
    for p in range(k_h):
        for q in range(k_w):
            y += x[:, p:p + stride * (h_out - 1) + 1:stride, q:q + stride * (w_out - 1) + 1:stride] @ W[p, q]
    return y + b


def conv_im2col_float32(x, W, b, stride=1):
    x, W, b = x.astype(np.float32), W.astype(np.float32), b.astype(np.float32)
    k_h, k_w, c_in, c_out = W.shape
    windows = windows_of(x, (k_h, k_w), axis=(1, 2))[:, ::stride, ::stride]  # B, H', W', C, kh, kw
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k_h * k_w * c_in)
    y = cols @ W.reshape(-1, c_out) + b
    return y.reshape(*windows.shape[:3], c_out)


def conv_tf(x, W, b, stride=1):
    import tensorflow as tf

    return tf.nn.conv2d(x, W, strides=stride, padding="VALID") + b


def weights_grad_sliding(x, dy, k_h, k_w):
    windows = windows_of(x, dy.shape[1:3], axis=(1, 2))  # [B, K_h, K_w, C, H', W']
    return list((np.einsum("bpqcij,bijf->pqcf", windows, dy), np.einsum("bijf->f", dy)))


def weights_grad_tf_float32(x, dy, k_h, k_w):
    import tensorflow as tf

    x32, dy32 = tf.constant(x, tf.float32), tf.constant(dy, tf.float32)
    W = tf.Variable(tf.zeros((k_h, k_w, x.shape[-1], dy.shape[-1])))
    b = tf.Variable(tf.zeros(dy.shape[-1]))
    with tf.GradientTape() as tape:
        y = tf.nn.conv2d(x32, W, 1, "VALID") + b
    return tuple(tape.gradient(y, [W, b], output_gradients=dy32))


def input_grad_scatter(dy, W):
    """Each output δ[i, j] sends δ[i, j]·W back to the window it came from."""
    k_h, k_w, c_in, _ = W.shape
    dx = np.zeros((dy.shape[0], dy.shape[1] + k_h - 1, dy.shape[2] + k_w - 1, c_in))
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            dx[:, i:i + k_h, j:j + k_w] += np.einsum("bf,pqcf->bpqc", dy[:, i, j], W)
    return dx


def input_grad_transpose_tf(dy, W):
    import tensorflow as tf

    k_h, k_w, c_in, _ = W.shape
    shape = (dy.shape[0], dy.shape[1] + k_h - 1, dy.shape[2] + k_w - 1, c_in)
    return tf.nn.conv2d_transpose(tf.constant(dy, tf.float32), tf.constant(W, tf.float32), shape, 1, "VALID")


def pool_reshape_loop(x, pool, stride):
    h_out = (x.shape[1] - pool) // stride + 1
    w_out = (x.shape[2] - pool) // stride + 1
    out = np.full((x.shape[0], h_out, w_out, x.shape[3]), -np.inf)
    for p in range(pool):
        for q in range(pool):
            out = np.maximum(out, x[:, p:p + stride * (h_out - 1) + 1:stride, q:q + stride * (w_out - 1) + 1:stride])
    return out


def pool_tf_float32(x, pool, stride):
    import tensorflow as tf

    return tf.nn.max_pool2d(tf.constant(x, tf.float32), pool, stride, "VALID")


def pool_backward_argmax(dy, x, pool, stride):
    """Vectorised: the flat argmax of each window, then np.add.at (which adds on repeats)."""
    windows = windows_of(x, (pool, pool), axis=(1, 2))[:, ::stride, ::stride]  # B, H', W', C, p, p
    flat = windows.reshape(*windows.shape[:4], -1).argmax(axis=-1)
    b, i, j, c = np.indices(flat.shape)
    rows, cols = i * stride + flat // pool, j * stride + flat % pool
    dx = np.zeros_like(x)
    np.add.at(dx, (b, rows, cols, c), dy)
    return dx


def pool_backward_tf(dy, x, pool, stride):
    import tensorflow as tf

    tx = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        y = tf.nn.max_pool2d(tx, pool, stride, "VALID")
    return tape.gradient(y, tx, output_gradients=tf.constant(dy, tf.float32))


def multiplies_layers(h, w, c_in, c_out, k, bottleneck=None):
    layers = [(1, bottleneck)] if bottleneck else []
    total, channels = 0, c_in
    for size, filters in layers + [(k, c_out)]:
        total += h * w * filters * size * size * channels
        channels = filters
    return total


def multiplies_float(h, w, c_in, c_out, k, bottleneck=None):
    mid = c_in if bottleneck is None else bottleneck
    first = 0.0 if bottleneck is None else float(h * w * bottleneck * c_in)
    return first + float(h) * w * c_out * k ** 2 * mid


# --------------------------------------------------------------------------- wrong answers
def size_ceil(n, k, stride=1, padding="valid"):
    if padding == "same":
        return -(-n // stride)
    p = 0 if padding == "valid" else padding
    return math.ceil((n + 2 * p - k) / stride) + 1


def size_true_division(n, k, stride=1, padding="valid"):
    if padding == "same":
        return -(-n // stride)
    p = 0 if padding == "valid" else padding
    return (n + 2 * p - k) / stride + 1


def size_no_plus_one(n, k, stride=1, padding="valid"):
    if padding == "same":
        return -(-n // stride)
    p = 0 if padding == "valid" else padding
    return (n + 2 * p - k) // stride


def size_one_side(n, k, stride=1, padding="valid"):
    if padding == "same":
        return -(-n // stride)
    p = 0 if padding == "valid" else padding
    return (n + p - k) // stride + 1


def size_same_is_n(n, k, stride=1, padding="valid"):
    if padding == "same":
        return n
    return conv_output_size(n, k, stride, padding)


def size_same_floor(n, k, stride=1, padding="valid"):
    if padding == "same":
        return n // stride
    return conv_output_size(n, k, stride, padding)


def size_same_as_valid(n, k, stride=1, padding="valid"):
    return conv_output_size(n, k, stride, 0 if padding == "same" else padding)


def params_no_bias(k_h, k_w, c_in, c_out, use_bias=True):
    return k_h * k_w * c_in * c_out


def params_always_bias(k_h, k_w, c_in, c_out, use_bias=True):
    return (k_h * k_w * c_in + 1) * c_out


def params_no_c_in(k_h, k_w, c_in, c_out, use_bias=True):
    return (k_h * k_w + int(use_bias)) * c_out


def params_bias_per_input(k_h, k_w, c_in, c_out, use_bias=True):
    return (k_h * k_w + int(use_bias)) * c_in * c_out


def params_square(k_h, k_w, c_in, c_out, use_bias=True):
    return (k_h * k_h * c_in + int(use_bias)) * c_out


def conv_flipped(x, W, b, stride=1):
    return conv2d_forward(x, W[::-1, ::-1], b, stride)


def conv_no_bias(x, W, b, stride=1):
    return conv2d_forward(x, W, 0 * b, stride)


def conv_ignores_stride(x, W, b, stride=1):
    return conv2d_forward(x, W, b, 1)


def conv_ceil_shape(x, W, b, stride=1):
    y = conv2d_forward(np.pad(x, ((0, 0), (0, stride), (0, stride), (0, 0))), W, b, stride)
    k_h, k_w = W.shape[:2]
    return y[:, :-(-(x.shape[1] - k_h) // stride) + 1, :-(-(x.shape[2] - k_w) // stride) + 1]


def conv_offset_error(x, W, b, stride=1):
    y = conv2d_forward(x, W, b, stride)
    return y + 1e-3 * np.sign(y)


def weights_grad_rotated(x, dy, k_h, k_w):
    dW, db = conv2d_backward_weights(x, dy, k_h, k_w)
    return dW[::-1, ::-1], db


def weights_grad_batch_mean(x, dy, k_h, k_w):
    dW, db = conv2d_backward_weights(x, dy, k_h, k_w)
    return dW / x.shape[0], db / x.shape[0]


def weights_grad_db_mean(x, dy, k_h, k_w):
    dW, _ = conv2d_backward_weights(x, dy, k_h, k_w)
    return dW, dy.mean(axis=(0, 1, 2))


def weights_grad_db_per_position(x, dy, k_h, k_w):
    dW, _ = conv2d_backward_weights(x, dy, k_h, k_w)
    return dW, dy.sum(axis=0)


def weights_grad_channels_swapped(x, dy, k_h, k_w):
    dW, db = conv2d_backward_weights(x, dy, k_h, k_w)
    return dW.transpose(0, 1, 3, 2), db


def input_grad_not_rotated(dy, W):
    return conv2d_backward_input(dy, W[::-1, ::-1])


def input_grad_same_index_pairing(dy, W):
    """The slip: δ[i, j] paired with W[i, j] wherever window (i, j) covers x[p, q]."""
    k_h, k_w, c_in, _ = W.shape
    dx = np.zeros((dy.shape[0], dy.shape[1] + k_h - 1, dy.shape[2] + k_w - 1, c_in))
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            weight = W[min(i, k_h - 1), min(j, k_w - 1)]
            dx[:, i:i + k_h, j:j + k_w] += (dy[:, i, j] @ weight.T)[:, None, None, :]
    return dx


def input_grad_transposed_kernel(dy, W):
    """Rows and columns of the kernel swapped instead of rotating it (square kernels)."""
    if W.shape[0] != W.shape[1]:
        return conv2d_backward_input(dy, W)
    return conv2d_backward_input(dy, W.transpose(1, 0, 2, 3)[::-1, ::-1])


def input_grad_valid_only(dy, W):
    rotated = W[::-1, ::-1].transpose(0, 1, 3, 2)
    return np.einsum("bijfpq,pqfc->bijc", windows_of(dy, W.shape[:2], axis=(1, 2)), rotated)


def input_grad_no_channel_transpose(dy, W):
    k_h, k_w = W.shape[:2]
    padded = np.pad(dy, ((0, 0), (k_h - 1, k_h - 1), (k_w - 1, k_w - 1), (0, 0)))
    windows = windows_of(padded, (k_h, k_w), axis=(1, 2))
    return np.einsum("bijfpq,pqcf->bijf", windows[..., :W.shape[2], :, :], W[::-1, ::-1])


def input_grad_no_padding_shape(dy, W):
    return np.zeros((dy.shape[0], dy.shape[1], dy.shape[2], W.shape[2]))


def pool_average(x, pool, stride):
    return windows_of(x, (pool, pool), axis=(1, 2))[:, ::stride, ::stride].mean(axis=(-2, -1))


def pool_abs(x, pool, stride):
    return np.abs(windows_of(x, (pool, pool), axis=(1, 2))[:, ::stride, ::stride]).max(axis=(-2, -1))


def pool_ignores_stride(x, pool, stride):
    return maxpool_forward(x, pool, 1)


def pool_same_shape(x, pool, stride):
    pad = stride * 2
    padded = np.pad(x, ((0, 0), (0, pad), (0, pad), (0, 0)), constant_values=-np.inf)
    y = maxpool_forward(padded, pool, stride)
    return y[:, :-(-x.shape[1] // stride), :-(-x.shape[2] // stride)]


def pool_over_channels(x, pool, stride):
    y = maxpool_forward(x, pool, stride)
    return np.broadcast_to(y.max(axis=-1, keepdims=True), y.shape).copy()


def pool_backward_overwrite(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            rows, cols = slice(i * stride, i * stride + pool), slice(j * stride, j * stride + pool)
            window = x[:, rows, cols]
            mask = window == window.max(axis=(1, 2), keepdims=True)
            region = dx[:, rows, cols]
            region[mask] = (mask * dy[:, i:i + 1, j:j + 1])[mask]
    return dx


def pool_backward_average(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            dx[:, i * stride:i * stride + pool, j * stride:j * stride + pool] += dy[:, i:i + 1, j:j + 1] / pool ** 2
    return dx


def pool_backward_everywhere(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            dx[:, i * stride:i * stride + pool, j * stride:j * stride + pool] += dy[:, i:i + 1, j:j + 1]
    return dx


def pool_backward_in_place(dy, x, pool, stride):
    dx = maxpool_backward(dy, x, pool, stride)
    x[...] = 0.0
    return dx


def multiplies_direct(h, w, c_in, c_out, k, bottleneck=None):
    return h * w * c_out * k * k * c_in


def multiplies_no_1x1(h, w, c_in, c_out, k, bottleneck=None):
    return h * w * c_out * k * k * (bottleneck or c_in)


def multiplies_c_in_after(h, w, c_in, c_out, k, bottleneck=None):
    return (h * w * bottleneck * c_in if bottleneck else 0) + h * w * c_out * k * k * c_in


def multiplies_weights_only(h, w, c_in, c_out, k, bottleneck=None):
    return (bottleneck * c_in if bottleneck else 0) + c_out * k * k * (bottleneck or c_in)


def multiplies_valid(h, w, c_in, c_out, k, bottleneck=None):
    m = bottleneck or c_in
    return (h * w * bottleneck * c_in if bottleneck else 0) + (h - k + 1) * (w - k + 1) * c_out * k * k * m


# --------------------------------------------------------------------------- tables
REFERENCE = {
    "5.1": conv_output_size,
    "5.2": conv_params,
    "5.3": conv2d_forward,
    "5.4": conv2d_backward_weights,
    "5.5": conv2d_backward_input,
    "5.6": maxpool_forward,
    "5.7": maxpool_backward,
    "5.8": conv_multiplies,
}

WRONG = {
    "5.1": [
        (size_ceil, r"rounds UP.*round down"),
        (size_true_division, r"not a whole number.*`/`"),
        (size_no_plus_one, r"\+ 1 is missing"),
        (size_one_side, r"both sides.*N \+ 2P"),
        (size_same_is_n, r"only for stride 1"),
        (size_same_floor, r"rounded UP"),
        (size_same_as_valid, r"treated it as 'valid'"),
        (lambda n, k, stride=1, padding="valid": None, r"returned None"),
    ],
    "5.2": [
        (params_no_bias, r"biases are missing"),
        (params_always_bias, r"use_bias=False there are no biases"),
        (params_no_c_in, r"spans all C_in"),
        (params_bias_per_input, r"one bias per filter"),
        (params_square, r"need not be square"),
        (lambda *a, **k: 1.5, r"not a whole number"),
    ],
    "5.3": [
        (conv_flipped, r"mathematical convolution.*flipped"),
        (conv_no_bias, r"bias is missing"),
        (conv_ignores_stride, r"stride is ignored"),
        (conv_ceil_shape, r"not ⌈·⌉"),
        (conv_offset_error, r"largest difference"),
    ],
    "5.4": [
        (weights_grad_rotated, r"rotated by 180°.*no rotation"),
        (weights_grad_batch_mean, r"averaged over the batch"),
        (weights_grad_db_mean, r"db is a mean"),
        (weights_grad_db_per_position, r"output positions too"),
        (weights_grad_channels_swapped, r"channel axes are swapped"),
        (lambda x, dy, k_h, k_w: (conv2d_backward_weights(x, dy, k_h, k_w)[0],), r"should return 2 values"),
    ],
    "5.5": [
        (input_grad_not_rotated, r"kernel is not rotated"),
        (input_grad_same_index_pairing, r"paired with W\[i, j\]"),
        (input_grad_transposed_kernel, r"transposed \(rows ↔ columns\)"),
        (input_grad_valid_only, r"pad δ by K − 1"),
        (input_grad_no_padding_shape, r"pad δ by K − 1"),
    ],
    "5.6": [
        (pool_average, r"average pooling"),
        (pool_abs, r"largest \|x\|"),
        (pool_ignores_stride, r"stride is ignored"),
        (pool_same_shape, r"only whole windows"),
        (pool_over_channels, r"largest difference"),
    ],
    "5.7": [
        (pool_backward_overwrite, r"ADD their gradients"),
        (pool_backward_average, r"AVERAGE pooling"),
        (pool_backward_everywhere, r"copied to every position"),
        (pool_backward_in_place, r"modified its input `x` in place"),
    ],
    "5.8": [
        (multiplies_direct, r"bottleneck.*input of the K×K"),
        (multiplies_no_1x1, r"1×1 bottleneck layer itself costs"),
        (multiplies_c_in_after, r"sees `bottleneck` input channels"),
        (multiplies_weights_only, r"number of weights"),
        (multiplies_valid, r"'same' padding"),
    ],
}

ACCEPT = {
    "5.1": [size_math, size_numpy_float],
    "5.2": [params_branch, params_numpy],
    "5.3": [conv_offsets_loop, conv_im2col_float32, conv_tf],
    "5.4": [weights_grad_sliding, weights_grad_tf_float32],
    "5.5": [input_grad_scatter, input_grad_transpose_tf],
    "5.6": [pool_reshape_loop, pool_tf_float32],
    "5.7": [pool_backward_argmax, pool_backward_tf],
    "5.8": [multiplies_layers, multiplies_float],
}

EQUIVALENT = {
    "5.4": {"L2 Sign flipped (x→−x): np.zeros((k_h, k_w, x.shape[-1], dy.shape[-1]))":
            "−0.0 is 0.0: every entry of the array is overwritten anyway (dW[p, q] = ...)"},
    "5.7": {"L1 Sign flipped (x→−x): np.zeros_like(x)":
            "−0.0 + v == v: the gradient accumulates into negative zeros, the same numbers"},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_bottleneck_figures_of_the_text():
    """The figures quoted in the chapter (and SYLLABUS): ≈120.4M and ≈12.4M multiplies."""
    from helpers.checks.ch05 import _keras_multiplies

    assert _keras_multiplies(28, 28, 192, 32, 5, None) == 120_422_400
    assert _keras_multiplies(28, 28, 192, 32, 5, 16) == 12_443_648
