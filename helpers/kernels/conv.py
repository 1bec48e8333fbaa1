"""2-D convolution and max pooling in TensorFlow, with Keras's layouts: oracles and speed.

Layouts (``keras.layers.Conv2D``, channels last): ``x`` [B, H, W, C_in], ``kernel``
[K_h, K_w, C_in, C_out], ``bias`` [C_out], output [B, H_out, W_out, C_out]. Like every deep
learning library, "convolution" here is **cross-correlation** (the kernel is not flipped):

    y[b, i, j, f] = bias[f] + Σ_{p, q, c} x[b, i·S + p, j·S + q, c] · kernel[p, q, c, f].

``padding`` is ``"valid"`` (H_out = ⌊(H − K)/S⌋ + 1) or ``"same"`` (H_out = ⌈H/S⌉, zeros
added as TensorFlow does: the extra one, when the total is odd, at the bottom/right).

Gradients are vector–Jacobian products by ``tf.GradientTape``: for an upstream gradient
``dy`` = ∂L/∂y they return ∂L/∂x, ∂L/∂kernel and ∂L/∂bias of L = Σ y ⊙ dy, which is the
gradient of *any* loss computed from y once you pass its dL/dy. ``conv2d_input_grad`` and
``conv2d_kernel_grad`` are the two gradients on their own (TensorFlow computes them with
``Conv2DBackpropInput`` / ``Conv2DBackpropFilter``).

Every function is a ``tf.function`` (graph mode, traced once per shape and setting) and runs
on the GPU when one is present. Inputs may be NumPy arrays or tensors; the dtype of the first
float argument is used (float32 if it is not a float).
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

__all__ = [
    "conv2d_forward",
    "conv2d_grads",
    "conv2d_value_and_grads",
    "conv2d_input_grad",
    "conv2d_kernel_grad",
    "max_pool_forward",
    "max_pool_grad",
]

TensorLike = Any

#: XLA on a 2-core CPU made the convolutions no faster than TensorFlow's own kernels (which
#: are already single fused ops), so plain graph mode is used.
JIT_COMPILE = False


def _to_tensors(*arrays: TensorLike) -> list[tf.Tensor]:
    first = tf.convert_to_tensor(arrays[0])
    dtype = first.dtype if first.dtype.is_floating else tf.float32
    return [tf.cast(tf.convert_to_tensor(a), dtype) for a in arrays]


def _padding(padding: str) -> str:
    value = str(padding).upper()
    if value not in ("VALID", "SAME"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return value


def _strides(strides: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(strides, int):
        return (strides, strides)
    s_h, s_w = strides
    return (int(s_h), int(s_w))


def _conv(x, kernel, bias, strides, padding):
    y = tf.nn.conv2d(x, kernel, strides=(1, *strides, 1), padding=padding)
    return y + bias


_conv_fwd = tf.function(_conv, jit_compile=JIT_COMPILE, autograph=False)


def _conv_value_and_vjp(x, kernel, bias, dy, strides, padding):
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        y = _conv(x, kernel, bias, strides, padding)
    return y, tape.gradient(y, [x, kernel, bias], output_gradients=dy)


_conv_bwd = tf.function(lambda *a: _conv_value_and_vjp(*a)[1], jit_compile=JIT_COMPILE, autograph=False)
_conv_fwd_bwd = tf.function(_conv_value_and_vjp, jit_compile=JIT_COMPILE, autograph=False)


def conv2d_forward(x: TensorLike, kernel: TensorLike, bias: TensorLike | None = None,
                   strides: int | tuple[int, int] = 1, padding: str = "valid") -> tf.Tensor:
    """y [B, H_out, W_out, C_out] of the channels-last cross-correlation (``Conv2D``)."""
    if bias is None:
        bias = tf.zeros([tf.shape(kernel)[-1]])
    x, kernel, bias = _to_tensors(x, kernel, bias)
    return _conv_fwd(x, kernel, bias, _strides(strides), _padding(padding))


def conv2d_grads(x: TensorLike, kernel: TensorLike, bias: TensorLike, dy: TensorLike,
                 strides: int | tuple[int, int] = 1, padding: str = "valid") -> dict[str, tf.Tensor]:
    """{"x", "kernel", "bias"}: ∂L/∂· of L = Σ conv2d_forward(x, kernel, bias) ⊙ dy."""
    x, kernel, bias, dy = _to_tensors(x, kernel, bias, dy)
    grads = _conv_bwd(x, kernel, bias, dy, _strides(strides), _padding(padding))
    return dict(zip(("x", "kernel", "bias"), grads))


def conv2d_value_and_grads(x: TensorLike, kernel: TensorLike, bias: TensorLike, dy: TensorLike,
                           strides: int | tuple[int, int] = 1,
                           padding: str = "valid") -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """(y, grads): the forward output and ``conv2d_grads`` from one pass (what training does)."""
    x, kernel, bias, dy = _to_tensors(x, kernel, bias, dy)
    y, grads = _conv_fwd_bwd(x, kernel, bias, dy, _strides(strides), _padding(padding))
    return y, dict(zip(("x", "kernel", "bias"), grads))


def conv2d_input_grad(dy: TensorLike, kernel: TensorLike, input_shape: tuple[int, ...],
                      strides: int | tuple[int, int] = 1, padding: str = "valid") -> tf.Tensor:
    """∂L/∂x [B, H, W, C_in] for the upstream ``dy``: the full convolution of dy with the
    180°-rotated kernel (for stride 1 'valid'); ``input_shape`` = x.shape."""
    dy, kernel = _to_tensors(dy, kernel)
    x = tf.zeros(input_shape, dy.dtype)
    bias = tf.zeros([tf.shape(kernel)[-1]], dy.dtype)
    return _conv_bwd(x, kernel, bias, dy, _strides(strides), _padding(padding))[0]


def conv2d_kernel_grad(x: TensorLike, dy: TensorLike, kernel_size: tuple[int, int],
                       strides: int | tuple[int, int] = 1, padding: str = "valid") -> tf.Tensor:
    """∂L/∂kernel [K_h, K_w, C_in, C_out]: the correlation of the input with dy."""
    x, dy = _to_tensors(x, dy)
    c_in, c_out = x.shape[-1], dy.shape[-1]
    kernel = tf.zeros([*kernel_size, c_in, c_out], x.dtype)
    bias = tf.zeros([c_out], x.dtype)
    return _conv_bwd(x, kernel, bias, dy, _strides(strides), _padding(padding))[1]


def _pool(x, pool, strides, padding):
    return tf.nn.max_pool2d(x, ksize=(1, *pool, 1), strides=(1, *strides, 1), padding=padding)


_pool_fwd = tf.function(_pool, jit_compile=JIT_COMPILE, autograph=False)


@tf.function(jit_compile=JIT_COMPILE, autograph=False)
def _pool_bwd(x, dy, pool, strides, padding):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = _pool(x, pool, strides, padding)
    return tape.gradient(y, x, output_gradients=dy)


def max_pool_forward(x: TensorLike, pool_size: int | tuple[int, int] = 2,
                     strides: int | tuple[int, int] | None = None, padding: str = "valid") -> tf.Tensor:
    """Max pooling [B, H_out, W_out, C] (``keras.layers.MaxPooling2D``: strides default to
    the pool size)."""
    (x,) = _to_tensors(x)
    pool = _strides(pool_size)
    return _pool_fwd(x, pool, pool if strides is None else _strides(strides), _padding(padding))


def max_pool_grad(x: TensorLike, dy: TensorLike, pool_size: int | tuple[int, int] = 2,
                  strides: int | tuple[int, int] | None = None, padding: str = "valid") -> tf.Tensor:
    """∂L/∂x of L = Σ max_pool_forward(x) ⊙ dy: each window's dy goes to the position of its
    maximum, summed where windows overlap."""
    x, dy = _to_tensors(x, dy)
    pool = _strides(pool_size)
    return _pool_bwd(x, dy, pool, pool if strides is None else _strides(strides), _padding(padding))
