"""First-order optimizer update rules as pure TensorFlow functions.

Every rule has the same interface::

    new_params, new_state = adam_update(params, grads, state, learning_rate=1e-3)

* ``params`` / ``grads``: one array or tensor, or a list of them; the result has the same
  structure (one -> one, list -> list). NumPy arrays and tensors are accepted; results are
  ``tf.Tensor``s of the parameters' float dtype (python numbers become float32).
* ``state``: a dict of accumulators, each a list with one tensor per parameter (also for a
  single parameter), plus ``"t"``, the number of updates already applied. ``{}`` is a fresh
  optimizer. The input dict is never mutated; a new one is returned with ``t`` incremented.
* Hyper-parameters carry the names and defaults of ``keras.optimizers``, except Adadelta's
  ``learning_rate`` (1.0 here, Zeiler's rule; Keras's default is 0.001). With those settings
  each rule reproduces the Keras optimizer returned by ``keras_optimizer(rule)``.

Conventions (t counts from 1 at the first update, g is the gradient, eta the learning rate):

==========  ===================================================================================
sgd         p <- p - eta g
momentum    v <- mu v - eta g;  p <- p + v                       (Keras SGD(momentum=mu))
nesterov    v <- mu v - eta g;  p <- p + mu v - eta g            (Keras SGD(nesterov=True))
adagrad     a <- a + g^2 (a_0 = 0.1);  p <- p - eta g / sqrt(a + eps)     (eps inside sqrt)
adadelta    Eg <- rho Eg + (1-rho) g^2;  d = -sqrt(Ed + eps) / sqrt(Eg + eps) g;
            Ed <- rho Ed + (1-rho) d^2;  p <- p + eta d    (eta = 1: Zeiler; Ed holds unscaled d)
rmsprop     v <- rho v + (1-rho) g^2;  [m <- rho m + (1-rho) g, centered];
            inc = eta g / sqrt(v [- m^2] + eps);  w <- mu w + inc;  p <- p - w  (eps inside sqrt)
adam        m, v moving averages;  alpha_t = eta sqrt(1-b2^t) / (1-b1^t);
            p <- p - alpha_t m / (sqrt(v) + eps_hat)          ("epsilon hat" form, not the paper's)
amsgrad     as adam with v_hat <- max(v_hat, v) in place of v
adamax      u <- max(b2 u, |g|);  p <- p - eta m / ((1-b1^t)(u + eps))
nadam       mu_t = b1 (1 - 0.5 * 0.96^t),  P_t = mu_1 ... mu_t;
            m_hat = mu_{t+1} m / (1 - P_{t+1}) + (1 - mu_t) g / (1 - P_t);  v_hat = v / (1-b2^t);
            p <- p - eta m_hat / (sqrt(v_hat) + eps)            (Dozat, Keras's schedule)
==========  ===================================================================================
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence, Union

import numpy as np
import tensorflow as tf

__all__ = [
    "sgd_update",
    "momentum_update",
    "nesterov_update",
    "adagrad_update",
    "adadelta_update",
    "rmsprop_update",
    "adam_update",
    "adamax_update",
    "amsgrad_update",
    "nadam_update",
    "RULES",
    "keras_optimizer",
]

TensorLike = Union[tf.Tensor, np.ndarray, float]
Params = Union[TensorLike, Sequence[TensorLike]]
State = dict[str, Any]

NADAM_DECAY = 0.96  # Keras's momentum-schedule base: mu_t = beta_1 (1 - 0.5 * 0.96^t)


# --------------------------------------------------------------------------- plumbing


def _as_float(x: Any, dtype: tf.DType | None = None) -> tf.Tensor:
    """A float tensor: of ``dtype`` if given, else float dtypes are kept and anything else
    (python numbers included) becomes float32."""
    if isinstance(x, (bool, int, float, list, tuple)):  # python numbers: no float32 detour
        x = tf.convert_to_tensor(x, dtype=dtype) if dtype is not None else tf.convert_to_tensor(x)
    else:
        x = tf.convert_to_tensor(x)
    if dtype is not None:
        return tf.cast(x, dtype)
    return x if x.dtype.is_floating else tf.cast(x, tf.float32)


def _unpack(params: Params, grads: Params) -> tuple[bool, list[tf.Tensor], list[tf.Tensor]]:
    """(single?, params as a list of float tensors, grads cast to the params' dtypes)."""
    single = not isinstance(params, (list, tuple))
    ps = [params] if single else list(params)
    gs = [grads] if single else list(grads)
    if len(ps) != len(gs):
        raise ValueError(f"{len(ps)} parameters but {len(gs)} gradients")
    ps = [_as_float(p) for p in ps]
    gs = [_as_float(g, p.dtype) for g, p in zip(gs, ps)]
    for p, g in zip(ps, gs):
        if p.shape != g.shape:
            raise ValueError(f"parameter shape {p.shape} but gradient shape {g.shape}")
    return single, ps, gs


def _slot(state: State, name: str, ps: list[tf.Tensor], init: float = 0.0) -> list[tf.Tensor]:
    """Accumulator ``name`` from ``state`` (one per parameter), or a fresh one filled with init."""
    if name not in state:
        return [tf.fill(tf.shape(p), tf.constant(init, p.dtype)) for p in ps]
    slots = list(state[name])
    if len(slots) != len(ps):
        raise ValueError(f"state[{name!r}] has {len(slots)} entries for {len(ps)} parameters")
    return [_as_float(s, p.dtype) for s, p in zip(slots, ps)]


def _steps(state: State) -> int:
    """Number of updates already applied."""
    return int(state.get("t", 0))


def _const(value: Any, dtype: tf.DType) -> tf.Tensor:
    """value as a tensor of dtype; python numbers are converted directly (tf.cast would round
    them through float32 first)."""
    if isinstance(value, (bool, int, float, np.number)):
        return tf.constant(value, dtype)
    return tf.cast(value, dtype)


def _c(value: Any, p: tf.Tensor) -> tf.Tensor:
    """A hyper-parameter as a scalar tensor of p's dtype (tensors, not python floats, so that
    a new value does not retrace the compiled step)."""
    return _const(value, p.dtype)


def _finish(single: bool, new_ps: list[tf.Tensor], state: State, t: int,
            **slots: Any) -> tuple[Any, State]:
    """Pack the result: same structure as the input params, and a new state dict."""
    new_state = dict(state)
    new_state.update(slots)
    new_state["t"] = t
    return (new_ps[0] if single else new_ps), new_state


def _compiled(fn: Callable) -> Callable:
    return tf.function(fn, reduce_retracing=True)


# --------------------------------------------------------------------------- per-tensor math


@_compiled
def _sgd_step(p, g, lr):
    return p - lr * g


@_compiled
def _momentum_step(p, g, v, lr, mu):
    v = mu * v - lr * g
    return p + v, v


@_compiled
def _nesterov_step(p, g, v, lr, mu):
    v = mu * v - lr * g
    return p + mu * v - lr * g, v


@_compiled
def _adagrad_step(p, g, a, lr, eps):
    a = a + tf.square(g)
    return p - lr * g / tf.sqrt(a + eps), a


@_compiled
def _adadelta_step(p, g, eg, ed, lr, rho, eps):
    eg = rho * eg + (1.0 - rho) * tf.square(g)
    d = -tf.sqrt(ed + eps) / tf.sqrt(eg + eps) * g
    ed = rho * ed + (1.0 - rho) * tf.square(d)
    return p + lr * d, eg, ed


@_compiled
def _rmsprop_step(p, g, v, m, w, lr, rho, mu, eps, centered: bool):
    v = rho * v + (1.0 - rho) * tf.square(g)
    m = rho * m + (1.0 - rho) * g
    mean_square = v - tf.square(m) if centered else v
    w = mu * w + lr * g / tf.sqrt(mean_square + eps)
    return p - w, v, m, w


@_compiled
def _adam_step(p, g, m, v, t, lr, b1, b2, eps):
    m = b1 * m + (1.0 - b1) * g
    v = b2 * v + (1.0 - b2) * tf.square(g)
    alpha = lr * tf.sqrt(1.0 - tf.pow(b2, t)) / (1.0 - tf.pow(b1, t))
    return p - alpha * m / (tf.sqrt(v) + eps), m, v


@_compiled
def _amsgrad_step(p, g, m, v, v_hat, t, lr, b1, b2, eps):
    m = b1 * m + (1.0 - b1) * g
    v = b2 * v + (1.0 - b2) * tf.square(g)
    v_hat = tf.maximum(v_hat, v)
    alpha = lr * tf.sqrt(1.0 - tf.pow(b2, t)) / (1.0 - tf.pow(b1, t))
    return p - alpha * m / (tf.sqrt(v_hat) + eps), m, v, v_hat


@_compiled
def _adamax_step(p, g, m, u, t, lr, b1, b2, eps):
    m = b1 * m + (1.0 - b1) * g
    u = tf.maximum(b2 * u, tf.abs(g))
    return p - lr * m / ((1.0 - tf.pow(b1, t)) * (u + eps)), m, u


@_compiled
def _nadam_step(p, g, m, v, t, prod_t, lr, b1, b2, eps):
    """prod_t = mu_1 ... mu_t, already including this step's mu_t."""
    mu_t = b1 * (1.0 - 0.5 * tf.pow(tf.constant(NADAM_DECAY, p.dtype), t))
    mu_next = b1 * (1.0 - 0.5 * tf.pow(tf.constant(NADAM_DECAY, p.dtype), t + 1.0))
    prod_next = prod_t * mu_next
    m = b1 * m + (1.0 - b1) * g
    v = b2 * v + (1.0 - b2) * tf.square(g)
    m_hat = mu_next * m / (1.0 - prod_next) + (1.0 - mu_t) * g / (1.0 - prod_t)
    v_hat = v / (1.0 - tf.pow(b2, t))
    return p - lr * m_hat / (tf.sqrt(v_hat) + eps), m, v


# --------------------------------------------------------------------------- public rules


def sgd_update(params: Params, grads: Params, state: State,
               learning_rate: float = 0.01) -> tuple[Any, State]:
    """Plain gradient descent: p <- p - eta g. State holds only ``t``."""
    single, ps, gs = _unpack(params, grads)
    new = [_sgd_step(p, g, _c(learning_rate, p)) for p, g in zip(ps, gs)]
    return _finish(single, new, state, _steps(state) + 1)


def momentum_update(params: Params, grads: Params, state: State, learning_rate: float = 0.01,
                    momentum: float = 0.0) -> tuple[Any, State]:
    """Heavy ball, Keras sign convention: v <- mu v - eta g; p <- p + v. State: ``velocity``.

    Keras's default momentum is 0.0 (then this equals ``sgd_update``); pass e.g. 0.9.
    """
    single, ps, gs = _unpack(params, grads)
    vs = _slot(state, "velocity", ps)
    out = [_momentum_step(p, g, v, _c(learning_rate, p), _c(momentum, p))
           for p, g, v in zip(ps, gs, vs)]
    return _finish(single, [o[0] for o in out], state, _steps(state) + 1,
                   velocity=[o[1] for o in out])


def nesterov_update(params: Params, grads: Params, state: State, learning_rate: float = 0.01,
                    momentum: float = 0.0) -> tuple[Any, State]:
    """Nesterov momentum in the look-ahead-free form Keras uses:
    v <- mu v - eta g; p <- p + mu v - eta g. State: ``velocity``."""
    single, ps, gs = _unpack(params, grads)
    vs = _slot(state, "velocity", ps)
    out = [_nesterov_step(p, g, v, _c(learning_rate, p), _c(momentum, p))
           for p, g, v in zip(ps, gs, vs)]
    return _finish(single, [o[0] for o in out], state, _steps(state) + 1,
                   velocity=[o[1] for o in out])


def adagrad_update(params: Params, grads: Params, state: State, learning_rate: float = 0.001,
                   initial_accumulator_value: float = 0.1,
                   epsilon: float = 1e-7) -> tuple[Any, State]:
    """Adagrad: a <- a + g^2 (a starts at 0.1); p <- p - eta g / sqrt(a + eps).
    State: ``accumulator``."""
    single, ps, gs = _unpack(params, grads)
    accs = _slot(state, "accumulator", ps, init=initial_accumulator_value)
    out = [_adagrad_step(p, g, a, _c(learning_rate, p), _c(epsilon, p))
           for p, g, a in zip(ps, gs, accs)]
    return _finish(single, [o[0] for o in out], state, _steps(state) + 1,
                   accumulator=[o[1] for o in out])


def adadelta_update(params: Params, grads: Params, state: State, learning_rate: float = 1.0,
                    rho: float = 0.95, epsilon: float = 1e-7) -> tuple[Any, State]:
    """Adadelta. learning_rate=1.0 (the default here) is Zeiler's rule,
    dp = -RMS[dp]_{t-1} / RMS[g]_t * g_t; Keras's default 0.001 scales the step (but not the
    accumulated dp). State: ``accum_grad`` (E[g^2]) and ``accum_update`` (E[dp^2])."""
    single, ps, gs = _unpack(params, grads)
    egs = _slot(state, "accum_grad", ps)
    eds = _slot(state, "accum_update", ps)
    out = [_adadelta_step(p, g, eg, ed, _c(learning_rate, p), _c(rho, p), _c(epsilon, p))
           for p, g, eg, ed in zip(ps, gs, egs, eds)]
    return _finish(single, [o[0] for o in out], state, _steps(state) + 1,
                   accum_grad=[o[1] for o in out], accum_update=[o[2] for o in out])


def rmsprop_update(params: Params, grads: Params, state: State, learning_rate: float = 0.001,
                   rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                   centered: bool = False) -> tuple[Any, State]:
    """RMSprop: v <- rho v + (1-rho) g^2; p <- p - eta g / sqrt(v + eps) (eps inside sqrt).
    With momentum: w <- mu w + that step; p <- p - w. Centered: v - m^2 in place of v.
    State: ``v`` (mean square), ``m`` (mean gradient), ``velocity`` (w)."""
    single, ps, gs = _unpack(params, grads)
    vs, ms, ws = _slot(state, "v", ps), _slot(state, "m", ps), _slot(state, "velocity", ps)
    out = [_rmsprop_step(p, g, v, m, w, _c(learning_rate, p), _c(rho, p), _c(momentum, p),
                         _c(epsilon, p), bool(centered))
           for p, g, v, m, w in zip(ps, gs, vs, ms, ws)]
    return _finish(single, [o[0] for o in out], state, _steps(state) + 1,
                   v=[o[1] for o in out], m=[o[2] for o in out], velocity=[o[3] for o in out])


def adam_update(params: Params, grads: Params, state: State, learning_rate: float = 0.001,
                beta_1: float = 0.9, beta_2: float = 0.999,
                epsilon: float = 1e-7) -> tuple[Any, State]:
    """Adam in Keras's form: alpha_t = eta sqrt(1-b2^t)/(1-b1^t);
    p <- p - alpha_t m / (sqrt(v) + eps_hat). The paper's m_hat / (sqrt(v_hat) + eps) equals
    this with eps_hat = eps sqrt(1-b2^t). State: ``m``, ``v``."""
    single, ps, gs = _unpack(params, grads)
    t = _steps(state) + 1
    ms, vs = _slot(state, "m", ps), _slot(state, "v", ps)
    out = [_adam_step(p, g, m, v, _c(t, p), _c(learning_rate, p), _c(beta_1, p), _c(beta_2, p),
                      _c(epsilon, p))
           for p, g, m, v in zip(ps, gs, ms, vs)]
    return _finish(single, [o[0] for o in out], state, t,
                   m=[o[1] for o in out], v=[o[2] for o in out])


def amsgrad_update(params: Params, grads: Params, state: State, learning_rate: float = 0.001,
                   beta_1: float = 0.9, beta_2: float = 0.999,
                   epsilon: float = 1e-7) -> tuple[Any, State]:
    """AMSGrad as Keras Adam(amsgrad=True): Adam with v_hat <- max(v_hat, v) in the
    denominator (v itself keeps its moving average; bias correction as in Adam).
    State: ``m``, ``v``, ``v_hat``."""
    single, ps, gs = _unpack(params, grads)
    t = _steps(state) + 1
    ms, vs, vhs = _slot(state, "m", ps), _slot(state, "v", ps), _slot(state, "v_hat", ps)
    out = [_amsgrad_step(p, g, m, v, vh, _c(t, p), _c(learning_rate, p), _c(beta_1, p),
                         _c(beta_2, p), _c(epsilon, p))
           for p, g, m, v, vh in zip(ps, gs, ms, vs, vhs)]
    return _finish(single, [o[0] for o in out], state, t,
                   m=[o[1] for o in out], v=[o[2] for o in out], v_hat=[o[3] for o in out])


def adamax_update(params: Params, grads: Params, state: State, learning_rate: float = 0.001,
                  beta_1: float = 0.9, beta_2: float = 0.999,
                  epsilon: float = 1e-7) -> tuple[Any, State]:
    """Adamax: u <- max(b2 u, |g|); p <- p - eta m / ((1-b1^t)(u + eps)). State: ``m``, ``u``."""
    single, ps, gs = _unpack(params, grads)
    t = _steps(state) + 1
    ms, us = _slot(state, "m", ps), _slot(state, "u", ps)
    out = [_adamax_step(p, g, m, u, _c(t, p), _c(learning_rate, p), _c(beta_1, p),
                        _c(beta_2, p), _c(epsilon, p))
           for p, g, m, u in zip(ps, gs, ms, us)]
    return _finish(single, [o[0] for o in out], state, t,
                   m=[o[1] for o in out], u=[o[2] for o in out])


def _nadam_product(t: int, beta_1: float, dtype: tf.DType) -> tf.Tensor:
    """mu_1 ... mu_t, for a state that lacks ``u_product``."""
    i = tf.range(1, t + 1, dtype=dtype)
    mu = _const(beta_1, dtype) * (1.0 - 0.5 * tf.pow(tf.constant(NADAM_DECAY, dtype), i))
    return tf.reduce_prod(mu)


def nadam_update(params: Params, grads: Params, state: State, learning_rate: float = 0.001,
                 beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> tuple[Any, State]:
    """Nadam as keras.optimizers.Nadam (Dozat, with momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^t)); eps is added to sqrt(v_hat) (paper form, unlike Adam).
    State: ``m``, ``v`` and ``u_product`` = mu_1 ... mu_t (a scalar, dtype of params[0])."""
    single, ps, gs = _unpack(params, grads)
    t = _steps(state) + 1
    dtype = ps[0].dtype
    prod = (_as_float(state["u_product"], dtype) if "u_product" in state
            else _nadam_product(t - 1, beta_1, dtype))
    decay = tf.constant(NADAM_DECAY, dtype)
    prod = prod * _const(beta_1, dtype) * (1.0 - 0.5 * tf.pow(decay, _const(t, dtype)))
    ms, vs = _slot(state, "m", ps), _slot(state, "v", ps)
    out = [_nadam_step(p, g, m, v, _c(t, p), tf.cast(prod, p.dtype), _c(learning_rate, p),
                       _c(beta_1, p), _c(beta_2, p), _c(epsilon, p))
           for p, g, m, v in zip(ps, gs, ms, vs)]
    return _finish(single, [o[0] for o in out], state, t,
                   m=[o[1] for o in out], v=[o[2] for o in out], u_product=prod)


RULES: dict[str, Callable[..., tuple[Any, State]]] = {
    "sgd": sgd_update,
    "momentum": momentum_update,
    "nesterov": nesterov_update,
    "adagrad": adagrad_update,
    "adadelta": adadelta_update,
    "rmsprop": rmsprop_update,
    "adam": adam_update,
    "adamax": adamax_update,
    "amsgrad": amsgrad_update,
    "nadam": nadam_update,
}


def _defaults(rule: str) -> dict[str, Any]:
    """The rule's hyper-parameters and their defaults."""
    sig = inspect.signature(RULES[rule])
    return {n: p.default for n, p in sig.parameters.items()
            if p.default is not inspect.Parameter.empty}


def keras_optimizer(rule: str, **hyper: Any):
    """The ``keras.optimizers`` instance equivalent to ``RULES[rule]`` with these hyper-parameters
    (the kernel's defaults fill the rest, so adadelta gets learning_rate=1.0)."""
    import keras

    if rule not in RULES:
        raise KeyError(f"unknown rule {rule!r}; known: {sorted(RULES)}")
    config = _defaults(rule)
    unknown = set(hyper) - set(config)
    if unknown:
        raise TypeError(f"{rule} has no hyper-parameter(s) {sorted(unknown)}")
    config.update(hyper)
    opt = keras.optimizers
    if rule in ("sgd", "momentum", "nesterov"):
        return opt.SGD(nesterov=(rule == "nesterov"), **config)
    if rule == "amsgrad":
        return opt.Adam(amsgrad=True, **config)
    cls = {"adagrad": opt.Adagrad, "adadelta": opt.Adadelta, "rmsprop": opt.RMSprop,
           "adam": opt.Adam, "adamax": opt.Adamax, "nadam": opt.Nadam}[rule]
    return cls(**config)
