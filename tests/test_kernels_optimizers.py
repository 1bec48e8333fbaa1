"""helpers.kernels.optimizers: against Keras (float32), against an independent NumPy
implementation written here from the formulas (float64), and against known-wrong variants."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from functools import partial  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers.kernels import optimizers as K  # noqa: E402

SHAPES = [(3, 4), (5,)]
STEPS = 12
NAMES = ["sgd", "momentum", "nesterov", "adagrad", "adadelta",
         "rmsprop", "adam", "adamax", "amsgrad", "nadam"]


def problem(dtype, seed: int = 0):
    """Initial parameters and STEPS gradients per parameter, with a gradient scale that jumps
    around (so running maxima and moving averages both rise and fall)."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * np.exp(rng.uniform(-2.0, 2.0))).astype(dtype)
              for s in SHAPES] for _ in range(STEPS)]
    return params, grads


# --------------------------------------------------------------------------- NumPy reference
# One tensor at a time; `s` is this tensor's own accumulator dict, t counts from 1.


def ref_sgd(p, g, s, t, learning_rate=0.01):
    return p - learning_rate * g


def ref_momentum(p, g, s, t, learning_rate=0.01, momentum=0.0):
    s["v"] = momentum * s.get("v", 0.0) - learning_rate * g
    return p + s["v"]


def ref_nesterov(p, g, s, t, learning_rate=0.01, momentum=0.0):
    # p + mu v_new - eta g with v_new = mu v - eta g, expanded
    v = s.get("v", np.zeros_like(p))
    s["v"] = momentum * v - learning_rate * g
    return p + momentum**2 * v - (1.0 + momentum) * learning_rate * g


def ref_adagrad(p, g, s, t, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
    s["a"] = s.get("a", np.full_like(p, initial_accumulator_value)) + g**2
    return p - learning_rate * g / np.sqrt(s["a"] + epsilon)


def ref_adadelta(p, g, s, t, learning_rate=1.0, rho=0.95, epsilon=1e-7):
    # Zeiler 2012, Algorithm 1 (RMS[x] = sqrt(E[x^2] + eps)), step scaled by learning_rate
    eg2 = rho * s.get("eg2", 0.0) + (1 - rho) * g**2
    dx = -np.sqrt(s.get("edx2", 0.0) + epsilon) / np.sqrt(eg2 + epsilon) * g
    s["eg2"], s["edx2"] = eg2, rho * s.get("edx2", 0.0) + (1 - rho) * dx**2
    return p + learning_rate * dx


def ref_rmsprop(p, g, s, t, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                centered=False):
    s["ms"] = rho * s.get("ms", 0.0) + (1 - rho) * g**2
    s["mg"] = rho * s.get("mg", 0.0) + (1 - rho) * g
    var = s["ms"] - s["mg"] ** 2 if centered else s["ms"]
    s["buf"] = momentum * s.get("buf", 0.0) + learning_rate * g / np.sqrt(var + epsilon)
    return p - s["buf"]


def _moments(g, s, beta_1, beta_2):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    return s["m"], s["v"]


def ref_adam(p, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    # paper's bias-corrected form; Keras's eps_hat is eps_paper * sqrt(1 - b2^t)
    m, v = _moments(g, s, beta_1, beta_2)
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return p - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon / np.sqrt(1 - beta_2**t))


def ref_amsgrad(p, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v = _moments(g, s, beta_1, beta_2)
    s["vmax"] = np.maximum(s.get("vmax", 0.0), v)
    m_hat, v_hat = m / (1 - beta_1**t), s["vmax"] / (1 - beta_2**t)
    return p - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon / np.sqrt(1 - beta_2**t))


def ref_adamax(p, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), np.abs(g))
    return p - (learning_rate / (1 - beta_1**t)) * s["m"] / (s["u"] + epsilon)


def ref_nadam(p, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    mu = beta_1 * (1 - 0.5 * 0.96 ** np.arange(1, t + 2))  # mu_1 .. mu_{t+1}
    m, v = _moments(g, s, beta_1, beta_2)
    m_hat = mu[t] * m / (1 - np.prod(mu)) + (1 - mu[t - 1]) * g / (1 - np.prod(mu[:t]))
    return p - learning_rate * m_hat / (np.sqrt(v / (1 - beta_2**t)) + epsilon)


REFS = {"sgd": ref_sgd, "momentum": ref_momentum, "nesterov": ref_nesterov,
        "adagrad": ref_adagrad, "adadelta": ref_adadelta, "rmsprop": ref_rmsprop,
        "adam": ref_adam, "adamax": ref_adamax, "amsgrad": ref_amsgrad, "nadam": ref_nadam}


def run_ref(step, params, grads, **hyper):
    states = [{} for _ in params]
    ps, out = [p.astype(np.float64) for p in params], []
    for t, gs in enumerate(grads, start=1):
        ps = [step(p, g, s, t, **hyper) for p, g, s in zip(ps, gs, states)]
        out.append(ps)
    return out


def run_kernel(rule, params, grads, **hyper):
    ps, state, out = list(params), {}, []
    for gs in grads:
        ps, state = K.RULES[rule](ps, gs, state, **hyper)
        out.append([p.numpy() for p in ps])
    return out


# --------------------------------------------------------------------------- configurations

# Keras's defaults (momentum rules need a momentum to be more than SGD) ...
DEFAULTS = {"sgd": {}, "momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9},
            "adagrad": {}, "adadelta": {}, "rmsprop": {}, "adam": {}, "adamax": {},
            "amsgrad": {}, "nadam": {}}
# ... and every hyper-parameter moved off its default, with larger steps.
_ADAPTIVE = {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3}
CUSTOM = {"sgd": {"learning_rate": 0.1},
          "momentum": {"learning_rate": 0.05, "momentum": 0.8},
          "nesterov": {"learning_rate": 0.05, "momentum": 0.8},
          "adagrad": {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-3},
          "adadelta": {"learning_rate": 0.5, "rho": 0.9, "epsilon": 1e-4},
          "rmsprop": {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "epsilon": 1e-3,
                      "centered": True},
          "adam": _ADAPTIVE, "adamax": _ADAPTIVE, "amsgrad": _ADAPTIVE, "nadam": _ADAPTIVE}
CONFIGS = [(n, "defaults", DEFAULTS[n]) for n in NAMES] + [(n, "custom", CUSTOM[n]) for n in NAMES]
CONFIG_IDS = [f"{n}-{kind}" for n, kind, _ in CONFIGS]

# Keras optimizers built here by hand (not with K.keras_optimizer, which is tested below).
O = keras.optimizers
KERAS = {"sgd": O.SGD, "momentum": O.SGD, "nesterov": partial(O.SGD, nesterov=True),
         "adagrad": O.Adagrad, "adadelta": O.Adadelta, "rmsprop": O.RMSprop, "adam": O.Adam,
         "adamax": O.Adamax, "amsgrad": partial(O.Adam, amsgrad=True), "nadam": O.Nadam}


# --------------------------------------------------------------------------- against Keras


def _keras_check(rule, kernel_hyper, keras_opt, min_move=1e-3):
    params, grads = problem(np.float32)
    variables = [keras.Variable(p) for p in params]
    ps, state = list(params), {}
    for step, gs in enumerate(grads, start=1):
        keras_opt.apply_gradients(zip([tf.constant(g) for g in gs], variables))
        ps, state = K.RULES[rule](ps, gs, state, **kernel_hyper)
        for p, v, p0 in zip(ps, variables, params):
            assert p.dtype == tf.float32
            want = np.asarray(v)
            np.testing.assert_allclose(p.numpy(), want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{rule} step {step}")
            # the displacement too, so small steps are not hidden under |p| ~ 1
            np.testing.assert_allclose(p.numpy() - p0, want - p0, rtol=1e-4, atol=1e-6)
    moved = max(np.max(np.abs(np.asarray(v) - p0)) for v, p0 in zip(variables, params))
    assert moved > min_move  # the comparison is not between two parameters that never moved


@pytest.mark.parametrize("rule,kind,hyper", CONFIGS, ids=CONFIG_IDS)
def test_matches_keras(rule, kind, hyper):
    if rule == "adadelta" and kind == "defaults":
        keras_opt = O.Adadelta(learning_rate=1.0)  # Zeiler's rule in Keras
    else:
        keras_opt = KERAS[rule](**hyper)
    _keras_check(rule, hyper, keras_opt)


def test_adadelta_matches_keras_default_learning_rate():
    _keras_check("adadelta", {"learning_rate": 0.001}, O.Adadelta(), min_move=5e-6)


# --------------------------------------------------------------------------- against NumPy


@pytest.mark.parametrize("rule,kind,hyper", CONFIGS, ids=CONFIG_IDS)
def test_matches_numpy_reference_float64(rule, kind, hyper):
    params, grads = problem(np.float64, seed=1)
    got = run_kernel(rule, params, grads, **hyper)
    want = run_ref(REFS[rule], params, grads, **hyper)
    for step, (ks, rs) in enumerate(zip(got, want), start=1):
        for k, r, p0 in zip(ks, rs, params):
            assert k.dtype == np.float64
            np.testing.assert_allclose(k - p0, r - p0, rtol=1e-10, atol=1e-13,
                                       err_msg=f"{rule} step {step}")


# --------------------------------------------------------------------------- wrong variants


def wrong_adam_no_bias_correction(p, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                                  epsilon=1e-7):
    m, v = _moments(g, s, beta_1, beta_2)
    return p - learning_rate * m / (np.sqrt(v) + epsilon)


def wrong_adam_paper_epsilon(p, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                             epsilon=1e-7):
    m, v = _moments(g, s, beta_1, beta_2)
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return p - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)


def wrong_adamax_no_bias_correction(p, g, s, t, learning_rate=0.001, beta_1=0.9,
                                    beta_2=0.999, epsilon=1e-7):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), np.abs(g))
    return p - learning_rate * s["m"] / (s["u"] + epsilon)


def wrong_momentum_dampened(p, g, s, t, learning_rate=0.01, momentum=0.0):
    s["v"] = momentum * s.get("v", 0.0) + (1 - momentum) * g  # an EMA of g, not heavy ball
    return p - learning_rate * s["v"]


def wrong_adagrad_epsilon_outside(p, g, s, t, learning_rate=0.001,
                                  initial_accumulator_value=0.1, epsilon=1e-7):
    s["a"] = s.get("a", np.full_like(p, initial_accumulator_value)) + g**2
    return p - learning_rate * g / (np.sqrt(s["a"]) + epsilon)


def wrong_rmsprop_epsilon_outside(p, g, s, t, learning_rate=0.001, rho=0.9, epsilon=1e-7):
    s["ms"] = rho * s.get("ms", 0.0) + (1 - rho) * g**2
    return p - learning_rate * g / (np.sqrt(s["ms"]) + epsilon)


def wrong_nadam_constant_momentum(p, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                                  epsilon=1e-7):
    m, v = _moments(g, s, beta_1, beta_2)  # mu_t = beta_1 for all t (no 0.96 schedule)
    m_hat = beta_1 * m / (1 - beta_1 ** (t + 1)) + (1 - beta_1) * g / (1 - beta_1**t)
    return p - learning_rate * m_hat / (np.sqrt(v / (1 - beta_2**t)) + epsilon)


BIG_EPS = {"epsilon": 0.1}
# (name, rule, kernel hyper, wrong step, wrong step's hyper)
WRONG = [
    ("adam-no-bias-correction", "adam", {}, wrong_adam_no_bias_correction, {}),
    ("adam-betas-swapped", "adam", {}, ref_adam, {"beta_1": 0.999, "beta_2": 0.9}),
    ("adam-paper-epsilon", "adam", BIG_EPS, wrong_adam_paper_epsilon, BIG_EPS),
    # beta_2 = 0.9 so that v falls within the 12 steps (with 0.999 it hardly ever does)
    ("amsgrad-without-max", "amsgrad", {"beta_2": 0.9}, ref_adam, {"beta_2": 0.9}),
    ("nesterov-as-plain-momentum", "nesterov", {"momentum": 0.9}, ref_momentum,
     {"momentum": 0.9}),
    ("momentum-dampened", "momentum", {"momentum": 0.9}, wrong_momentum_dampened,
     {"momentum": 0.9}),
    ("adadelta-keras-learning-rate", "adadelta", {}, ref_adadelta, {"learning_rate": 0.001}),
    ("adagrad-zero-initial-accumulator", "adagrad", {}, ref_adagrad,
     {"initial_accumulator_value": 0.0}),
    ("adagrad-epsilon-outside-sqrt", "adagrad", BIG_EPS, wrong_adagrad_epsilon_outside, BIG_EPS),
    ("rmsprop-epsilon-outside-sqrt", "rmsprop", BIG_EPS, wrong_rmsprop_epsilon_outside, BIG_EPS),
    ("adamax-no-bias-correction", "adamax", {}, wrong_adamax_no_bias_correction, {}),
    ("nadam-constant-momentum", "nadam", {}, wrong_nadam_constant_momentum, {}),
    ("nadam-as-adam", "nadam", {}, ref_adam, {}),
]


@pytest.mark.parametrize("name,rule,hyper,wrong,wrong_hyper", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_variant_is_rejected(name, rule, hyper, wrong, wrong_hyper):
    params, grads = problem(np.float64, seed=2)
    got = run_kernel(rule, params, grads, **hyper)[-1]
    right = run_ref(REFS[rule], params, grads, **hyper)[-1]
    bad = run_ref(wrong, params, grads, **wrong_hyper)[-1]
    for k, r, b, p0 in zip(got, right, bad, params):
        np.testing.assert_allclose(k - p0, r - p0, rtol=1e-10, atol=1e-13)
    # the wrong answer misses by far more than a float32 oracle's tolerance
    miss = max(np.max(np.abs(k - b)) / np.max(np.abs(k - p0)) for k, b, p0 in zip(got, bad, params))
    assert miss > 1e-2, f"{name}: relative miss only {miss:.2e}"


# --------------------------------------------------------------------------- interface


def _snapshot(state):
    return {k: ([np.array(x) for x in v] if isinstance(v, list) else np.array(v))
            for k, v in state.items()}


@pytest.mark.parametrize("rule", NAMES)
def test_state_not_mutated_and_t_counts(rule):
    params, grads = problem(np.float64)
    hyper = CUSTOM[rule]
    empty = {}
    ps, s1 = K.RULES[rule](params, grads[0], empty, **hyper)
    assert empty == {} and s1["t"] == 1
    ids = {k: (id(v), [id(x) for x in v] if isinstance(v, list) else None) for k, v in s1.items()}
    before = _snapshot(s1)
    _, s2 = K.RULES[rule](ps, grads[1], s1, **hyper)
    assert s2 is not s1 and s2["t"] == 2 and s1["t"] == 1
    assert set(s1) == set(before)
    for k, v in before.items():
        assert (id(s1[k]), [id(x) for x in s1[k]] if isinstance(s1[k], list) else None) == ids[k]
        if isinstance(v, list):
            assert s2[k] is not s1[k]
            assert len(s1[k]) == len(params) == len(s2[k])
            for a, b in zip(v, s1[k]):
                np.testing.assert_array_equal(a, np.array(b))
        else:
            np.testing.assert_array_equal(v, np.array(s1[k]))
    accumulators = [k for k in s2 if k != "t"]
    if rule != "sgd":
        assert accumulators
        # the accumulators moved from step 1 to step 2 (they are really carried)
        assert any(not np.array_equal(np.asarray(s1[k][0]), np.asarray(s2[k][0]))
                   for k in accumulators if isinstance(s1[k], list))


@pytest.mark.parametrize("rule", NAMES)
def test_single_tensor_and_list(rule):
    params, grads = problem(np.float64)
    hyper = CUSTOM[rule]
    one, s_one, many, s_many = params[1], {}, params, {}
    for gs in grads[:3]:
        one, s_one = K.RULES[rule](one, gs[1], s_one, **hyper)
        many, s_many = K.RULES[rule](many, gs, s_many, **hyper)
    assert isinstance(one, tf.Tensor)
    assert isinstance(many, list) and len(many) == 2
    assert [tuple(p.shape) for p in many] == SHAPES
    np.testing.assert_allclose(one.numpy(), many[1].numpy(), rtol=1e-14, atol=0)
    assert s_one["t"] == s_many["t"] == 3
    # a tf.Tensor input works like the NumPy array it holds
    a, _ = K.RULES[rule](tf.constant(params[0]), tf.constant(grads[0][0]), {}, **hyper)
    b, _ = K.RULES[rule](params[0], grads[0][0], {}, **hyper)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_dtypes():
    p64, p32 = np.ones(3), np.ones(3, np.float32)
    assert K.adam_update(p64, p64, {})[0].dtype == tf.float64
    assert K.adam_update(p32, p64, {})[0].dtype == tf.float32
    scalars, _ = K.adam_update([1.0, 2.0], [0.5, 0.5], {})  # a list of two scalar params
    assert len(scalars) == 2 and all(p.dtype == tf.float32 for p in scalars)
    assert K.sgd_update(2.0, 1.0, {})[0].numpy() == pytest.approx(2.0 - 0.01)
    # python-number gradients and hyper-parameters are not rounded through float32
    assert K.sgd_update(np.float64(1.0), 0.1, {}, learning_rate=0.1)[0].numpy() == 1.0 - 0.1 * 0.1


@pytest.mark.parametrize("rule", ["adam", "adamax", "amsgrad", "nadam"])
def test_step_count_is_used(rule):
    """The bias correction (and Nadam's schedule) follow state["t"], not the call count."""
    params, grads = problem(np.float64)
    _, s = K.RULES[rule](params, grads[0], {})
    a, sa = K.RULES[rule](params, grads[1], s)  # step 2
    no_t = {k: v for k, v in s.items() if k not in ("t", "u_product")}
    b, sb = K.RULES[rule](params, grads[1], no_t)  # step 1 with the same accumulators
    c, sc = K.RULES[rule](params, grads[1], dict(no_t, t=50))  # step 51
    assert (sa["t"], sb["t"], sc["t"]) == (2, 1, 51)
    for other in (b, c):
        assert np.max(np.abs(a[0].numpy() - other[0].numpy())) > 1e-6
    if rule == "nadam":  # a state without u_product rebuilds it from t
        d, _ = K.RULES[rule](params, grads[1], {k: v for k, v in s.items() if k != "u_product"})
        np.testing.assert_allclose(d[0].numpy(), a[0].numpy(), rtol=1e-14, atol=0)


def test_compiled_step_does_not_retrace():
    params, grads = problem(np.float32)
    ps, state = K.adam_update(params, grads[0], {})
    ps, state = K.adam_update(ps, grads[1], state, learning_rate=0.01)
    traces = K._adam_step.experimental_get_tracing_count()
    for i, gs in enumerate(grads[2:]):
        ps, state = K.adam_update(ps, gs, state, learning_rate=0.01 / (i + 1), beta_1=0.8)
    assert K._adam_step.experimental_get_tracing_count() == traces


def test_input_errors():
    with pytest.raises(ValueError):
        K.sgd_update([np.ones(2), np.ones(3)], [np.ones(2)], {})
    with pytest.raises(ValueError):
        K.adam_update([np.ones(2)], [np.ones(2)], {"m": [np.ones(2)] * 2, "t": 1})


# --------------------------------------------------------------------------- registry, Keras


def test_rules_registry():
    assert list(K.RULES) == NAMES
    for name, fn in K.RULES.items():
        assert fn is getattr(K, f"{name}_update")
        assert f"{name}_update" in K.__all__
    import helpers.kernels as kernels

    assert kernels.RULES is K.RULES and kernels.keras_optimizer is K.keras_optimizer


EXPECTED_KERAS = {
    "sgd": (O.SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    "momentum": (O.SGD, {"momentum": 0.0, "nesterov": False}),
    "nesterov": (O.SGD, {"momentum": 0.0, "nesterov": True}),
    "adagrad": (O.Adagrad, {"learning_rate": 0.001, "initial_accumulator_value": 0.1,
                            "epsilon": 1e-7}),
    "adadelta": (O.Adadelta, {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7}),
    "rmsprop": (O.RMSprop, {"rho": 0.9, "momentum": 0.0, "centered": False}),
    "adam": (O.Adam, {"beta_1": 0.9, "beta_2": 0.999, "amsgrad": False}),
    "adamax": (O.Adamax, {"beta_1": 0.9, "beta_2": 0.999}),
    "amsgrad": (O.Adam, {"amsgrad": True}),
    "nadam": (O.Nadam, {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
}


@pytest.mark.parametrize("rule", NAMES)
def test_keras_optimizer(rule):
    cls, want = EXPECTED_KERAS[rule]
    opt = K.keras_optimizer(rule)
    assert type(opt) is cls
    config = opt.get_config()
    for key, value in want.items():
        assert config[key] == pytest.approx(value), key
    custom = K.keras_optimizer(rule, **CUSTOM[rule]).get_config()
    for key, value in CUSTOM[rule].items():
        assert custom[key] == pytest.approx(value), key


def test_keras_optimizer_rejects_unknown():
    with pytest.raises(KeyError):
        K.keras_optimizer("lion")
    with pytest.raises(TypeError):
        K.keras_optimizer("adam", momentum=0.9)
