"""helpers.kernels.conv: conv2d forward and its two gradients, max pooling forward and
backward, against a plain loop in NumPy (float64), keras.layers.Conv2D / MaxPooling2D with
the same weights, centered differences, and known-wrong variants (kernel not rotated)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import helpers.kernels  # noqa: E402
from helpers.gradcheck import numerical_gradient, relative_error  # noqa: E402
from helpers.kernels import conv  # noqa: E402

SETTINGS = [  # (H, W, K_h, K_w, stride, padding)
    (5, 6, 2, 3, 1, "valid"),
    (7, 5, 3, 3, 2, "valid"),
    (6, 7, 3, 2, 2, "same"),
    (5, 5, 3, 3, 1, "same"),
]


def loop_conv(x, kernel, bias, stride, padding):
    """The definition, one output element at a time (TensorFlow's 'same' zero padding)."""
    batch, height, width, _ = x.shape
    k_h, k_w, _, c_out = kernel.shape
    if padding == "same":
        out_h, out_w = -(-height // stride), -(-width // stride)
        pad_h = max((out_h - 1) * stride + k_h - height, 0)
        pad_w = max((out_w - 1) * stride + k_w - width, 0)
        x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    else:
        out_h, out_w = (height - k_h) // stride + 1, (width - k_w) // stride + 1
    y = np.zeros((batch, out_h, out_w, c_out))
    for b in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                patch = x[b, i * stride:i * stride + k_h, j * stride:j * stride + k_w]
                for f in range(c_out):
                    y[b, i, j, f] = np.sum(patch * kernel[..., f]) + bias[f]
    return y


def problem(h, w, k_h, k_w, seed=0, batch=2, c_in=3, c_out=4):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, h, w, c_in)), rng.normal(size=(k_h, k_w, c_in, c_out)),
            rng.normal(size=c_out))


@pytest.mark.parametrize("h,w,k_h,k_w,stride,padding", SETTINGS)
def test_forward_matches_loop_and_keras(h, w, k_h, k_w, stride, padding):
    x, kernel, bias = problem(h, w, k_h, k_w)
    y = conv.conv2d_forward(x, kernel, bias, strides=stride, padding=padding).numpy()
    np.testing.assert_allclose(y, loop_conv(x, kernel, bias, stride, padding), rtol=1e-10, atol=1e-12)
    layer = keras.layers.Conv2D(kernel.shape[-1], (k_h, k_w), strides=stride, padding=padding, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(y, layer(x).numpy(), rtol=1e-10, atol=1e-12)


def test_forward_is_cross_correlation_not_flipped():
    x, kernel, bias = problem(4, 4, 2, 2)
    y = conv.conv2d_forward(x, kernel, bias).numpy()
    flipped = loop_conv(x, kernel[::-1, ::-1], bias, 1, "valid")
    assert not np.allclose(y, flipped)


def test_float32_in_float32_out():
    x, kernel, bias = problem(5, 5, 3, 3)
    y = conv.conv2d_forward(x.astype(np.float32), kernel, bias)
    assert y.dtype.name == "float32"


@pytest.mark.parametrize("h,w,k_h,k_w,stride,padding", SETTINGS)
def test_grads_match_centered_differences(h, w, k_h, k_w, stride, padding):
    x, kernel, bias = problem(h, w, k_h, k_w, seed=1, c_in=2, c_out=3)
    dy = np.random.default_rng(2).normal(size=loop_conv(x, kernel, bias, stride, padding).shape)
    grads = {k: v.numpy() for k, v in conv.conv2d_grads(x, kernel, bias, dy, stride, padding).items()}

    def loss():
        return float(np.sum(loop_conv(x, kernel, bias, stride, padding) * dy))

    for name, arr in (("x", x), ("kernel", kernel), ("bias", bias)):
        assert relative_error(grads[name], numerical_gradient(loss, arr)) < 1e-6, name
    dx = conv.conv2d_input_grad(dy, kernel, x.shape, stride, padding).numpy()
    dk = conv.conv2d_kernel_grad(x, dy, (k_h, k_w), stride, padding).numpy()
    np.testing.assert_allclose(dx, grads["x"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dk, grads["kernel"], rtol=1e-12, atol=1e-12)


def test_input_grad_is_full_convolution_with_rotated_kernel():
    """Stride 1 'valid': dx = 'full' correlation of dy with the kernel rotated by 180° (and
    transposed in the channel axes); the unrotated kernel gives a different answer."""
    x, kernel, bias = problem(5, 6, 3, 2, seed=3)
    dy = np.random.default_rng(4).normal(size=(2, 3, 5, 4))
    dx = conv.conv2d_input_grad(dy, kernel, x.shape).numpy()
    padded = np.pad(dy, ((0, 0), (2, 2), (1, 1), (0, 0)))
    rotated = kernel[::-1, ::-1].transpose(0, 1, 3, 2)
    np.testing.assert_allclose(loop_conv(padded, rotated, np.zeros(3), 1, "valid"), dx, rtol=1e-10, atol=1e-12)
    unrotated = kernel.transpose(0, 1, 3, 2)
    assert not np.allclose(loop_conv(padded, unrotated, np.zeros(3), 1, "valid"), dx)


def test_grads_match_keras_layer_tape():
    import tensorflow as tf

    x, kernel, bias = problem(6, 6, 3, 3, seed=5)
    layer = keras.layers.Conv2D(4, 3, strides=2, padding="same", dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    tx = tf.constant(x)
    dy = np.random.default_rng(6).normal(size=(2, 3, 3, 4))
    with tf.GradientTape() as tape:
        tape.watch(tx)
        y = layer(tx)
    gx, gk, gb = tape.gradient(y, [tx, layer.kernel, layer.bias], output_gradients=tf.constant(dy))
    ours = conv.conv2d_grads(x, kernel, bias, dy, 2, "same")
    for name, theirs in (("x", gx), ("kernel", gk), ("bias", gb)):
        np.testing.assert_allclose(ours[name].numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_bad_padding_is_refused():
    x, kernel, bias = problem(4, 4, 2, 2)
    with pytest.raises(ValueError, match="padding"):
        conv.conv2d_forward(x, kernel, bias, padding="full")


def loop_pool(x, pool, stride):
    batch, height, width, ch = x.shape
    out_h, out_w = (height - pool) // stride + 1, (width - pool) // stride + 1
    y = np.empty((batch, out_h, out_w, ch))
    for i in range(out_h):
        for j in range(out_w):
            y[:, i, j] = x[:, i * stride:i * stride + pool, j * stride:j * stride + pool].max(axis=(1, 2))
    return y


@pytest.mark.parametrize("h,w,pool,stride", [(6, 8, 2, 2), (7, 7, 3, 2), (5, 6, 2, 1)])
def test_max_pool_forward_and_grad(h, w, pool, stride):
    rng = np.random.default_rng(7)
    x = rng.permutation(2 * h * w * 3).reshape(2, h, w, 3) / 10.0  # no ties
    y = conv.max_pool_forward(x, pool, stride).numpy()
    np.testing.assert_allclose(y, loop_pool(x, pool, stride))
    keras_y = keras.layers.MaxPooling2D(pool, stride, dtype="float64")(x).numpy()
    np.testing.assert_allclose(y, keras_y)
    dy = rng.normal(size=y.shape)
    dx = conv.max_pool_grad(x, dy, pool, stride).numpy()
    numeric = numerical_gradient(lambda: float(np.sum(loop_pool(x, pool, stride) * dy)), x, eps=1e-4)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


def test_max_pool_strides_default_to_pool_size():
    x = np.arange(2 * 8 * 8 * 1, dtype=np.float64).reshape(2, 8, 8, 1)
    assert conv.max_pool_forward(x, 2).shape == (2, 4, 4, 1)
    assert conv.max_pool_forward(x, 2, 1).shape == (2, 7, 7, 1)


def test_value_and_grads_is_forward_plus_grads():
    x, kernel, bias = problem(6, 5, 3, 2, seed=8)
    dy = np.random.default_rng(9).normal(size=(2, 4, 4, 4))
    y, grads = conv.conv2d_value_and_grads(x, kernel, bias, dy)
    np.testing.assert_allclose(y.numpy(), conv.conv2d_forward(x, kernel, bias).numpy(), rtol=1e-12)
    for name, g in conv.conv2d_grads(x, kernel, bias, dy).items():
        np.testing.assert_allclose(grads[name].numpy(), g.numpy(), rtol=1e-12)
