"""Checks for chapter 04 (training deep networks).

Oracles: the variance-propagation closed forms (cross-checked against samples of Keras's own
initialisers in the tests); ``keras.layers.BatchNormalization`` in float64 for the forward pass,
its moving averages and (through ``tf.GradientTape``) its backward pass; ``keras.optimizers.SGD``
with ``clipvalue`` / ``clipnorm`` / ``global_clipnorm`` for clipping; scikit-learn's ``roc_curve``,
``balanced_accuracy_score`` and ``confusion_matrix`` for the threshold; ``tf.GradientTape`` over
the whole global batch for the data-parallel gradient. The wrong variants written here serve
only to recognise a known mistake and name it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers import tensorflow
from helpers.checks import as_array, assert_close, assert_each_close, call, exercise, fail, require, unpack

# --------------------------------------------------------------------------- 4.1 initialisation

_GAIN = {"lecun": ("fan_in", 1.0), "glorot": ("fan_avg", 1.0), "he": ("fan_in", 2.0)}


def init_scale_oracle(scheme: str, fan_in: int, fan_out: int) -> tuple[float, float]:
    """(σ of the normal initialiser, limit a of the uniform one on [−a, a]) from Var w = g / n."""
    mode, gain = _GAIN[scheme]
    n = fan_in if mode == "fan_in" else (fan_in + fan_out) / 2
    var = gain / n
    return float(np.sqrt(var)), float(np.sqrt(3 * var))  # Var U(−a, a) = a² / 3


@exercise("4.1", "initialisation scales from variance propagation",
          "LeCun, Glorot and He scales (normal σ and uniform limit) match Var w = gain / fan")
def ex_4_1(init_scale) -> None:
    for fan_in, fan_out in [(784, 256), (64, 10), (3, 30)]:
        for scheme in ("lecun", "glorot", "he"):
            std, limit = unpack(call(init_scale, scheme, fan_in, fan_out, name="init_scale"),
                                "init_scale", ["std", "limit"])
            exp_std, exp_limit = init_scale_oracle(scheme, fan_in, fan_out)
            label = f"{scheme} with fan_in = {fan_in}, fan_out = {fan_out}"
            wrong_fan = {"lecun": "fan_in", "glorot": "(fan_in + fan_out) / 2", "he": "fan_in"}[scheme]
            std_hints = [
                (exp_std**2, "you returned the variance; the normal initialiser needs the standard deviation σ = √Var."),
                (exp_limit, "this is the uniform limit a = √(3 Var); the normal's σ is √Var."),
                (np.sqrt(_GAIN[scheme][1] / fan_out),
                 f"you divided by fan_out; {scheme} divides by {wrong_fan}."),
                (np.sqrt(_GAIN[scheme][1] / (fan_in + fan_out)),
                 "you divided by fan_in + fan_out; Glorot averages the fans: Var w = 2 / (fan_in + fan_out)."),
            ]
            if scheme != "he":
                std_hints.append((np.sqrt(2.0) * exp_std, f"gain 2 is He's (for ReLU, which zeroes half the "
                                                          f"signal); {scheme} uses gain 1."))
            else:
                std_hints.append((exp_std / np.sqrt(2.0), "He's gain is 2 (ReLU passes on only half the second "
                                                          "moment), so Var w = 2 / fan_in."))
            assert_close(std, exp_std, f"std for {label}", rtol=1e-9, atol=0, hints=std_hints)
            assert_close(limit, exp_limit, f"limit for {label}", rtol=1e-9, atol=0, hints=[
                (exp_std, "the uniform limit equals σ here; U(−a, a) has variance a²/3, so a = √3·σ."),
                (3 * exp_std**2, "you returned 3·Var; the limit is its square root, a = √(3 Var)."),
                (np.sqrt(6.0) * exp_std, "a = √6·σ is too wide; U(−a, a) has variance a²/3, so a = √3·σ "
                                         "(Glorot's √(6/(n_in + n_out)) is √3 · √(2/(n_in + n_out)))."),
                (np.sqrt(3 * _GAIN[scheme][1] / fan_out), f"you divided by fan_out; {scheme} divides by {wrong_fan}."),
            ], factors={"√2": np.sqrt(2.0), "√3": np.sqrt(3.0)})


# --------------------------------------------------------------------------- batch normalisation


def _bn_inputs(seed: int, batch: int, features: int) -> tuple[np.ndarray, ...]:
    """Features with very different means and scales; one with variance 1e-4 so ε = 1e-3 matters."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.uniform(-1.0, 1.5, features))
    scale[0] = 0.01
    shift = rng.uniform(-5.0, 5.0, features)
    x = shift + scale * rng.standard_normal((batch, features))
    gamma = rng.uniform(0.5, 2.0, features) * rng.choice([-1.0, 1.0], features)
    beta = rng.standard_normal(features)
    return x, gamma, beta


_BN_CASES = [(0, 6, 3, 1e-3), (1, 32, 7, 1e-3), (2, 3, 5, 0.1)]


def _keras_bn(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, momentum: float = 0.99,
              moving: tuple[np.ndarray, np.ndarray] | None = None):
    import keras

    layer = keras.layers.BatchNormalization(epsilon=eps, momentum=momentum, dtype="float64")
    layer.build(x.shape)
    mm = np.zeros(x.shape[-1]) if moving is None else moving[0]
    mv = np.ones(x.shape[-1]) if moving is None else moving[1]
    layer.set_weights([gamma, beta, mm, mv])
    return layer


def bn_forward_oracle(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """keras.layers.BatchNormalization(training=True), float64."""
    return _keras_bn(x, gamma, beta, eps)(x, training=True).numpy()


@exercise("4.2", "batch normalisation forward (training)",
          "BN forward matches keras.layers.BatchNormalization(training=True): per-feature batch mean, "
          "biased variance, ε inside the root")
def ex_4_2(batchnorm_forward) -> None:
    for seed, batch, features, eps in _BN_CASES:
        x, gamma, beta = _bn_inputs(seed, batch, features)
        y = call(batchnorm_forward, x, gamma, beta, eps, name="batchnorm_forward")
        expected = bn_forward_oracle(x, gamma, beta, eps)
        mu, var = x.mean(0), x.var(0)
        label = f"y for a batch of {batch} × {features} features (ε = {eps:g})"
        hints = [
            (gamma * (x - mu) / np.sqrt(x.var(0, ddof=1) + eps) + beta,
             "you used the unbiased variance (÷ (N − 1)); Keras normalises with the biased batch variance "
             "(÷ N), np.var's default."),
            (gamma * (x - mu) / (np.sqrt(var) + eps) + beta, "ε must go inside the square root: (x − μ) / √(σ² + ε)."),
            (gamma * (x - mu) / np.sqrt(var) + beta, "ε is missing: divide by √(σ² + ε)."),
            (gamma * (x - mu) / (var + eps) + beta, "you divided by the variance; divide by the standard deviation √(σ² + ε)."),
            (beta * (x - mu) / np.sqrt(var + eps) + gamma, "γ and β are swapped: y = γ x̂ + β."),
            ((x - mu) / np.sqrt(var + eps), "γ and β are not applied: y = γ x̂ + β."),
        ]
        row_mu, row_var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
        hints.append((gamma * (x - row_mu) / np.sqrt(row_var + eps) + beta,
                      "you normalised each example over its features (that is layer norm); batch norm takes "
                      "the statistics of each feature over the batch, axis=0."))
        assert_close(y, expected, label, rtol=1e-7, atol=1e-9, hints=hints, index_names=["example", "feature"])


def bn_backward_oracle(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float):
    """(dx, dγ, dβ) of Σ dy ⊙ BN(x) through the Keras layer, by tf.GradientTape."""
    tf = tensorflow()
    layer = _keras_bn(x, gamma, np.zeros_like(gamma), eps)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(tf.constant(dy) * layer(xt, training=True))
    dx, dgamma, dbeta = tape.gradient(loss, [xt, layer.gamma, layer.beta])
    return dx.numpy(), dgamma.numpy(), dbeta.numpy()


@exercise("4.3", "batch normalisation backward",
          "BN backward matches tf.GradientTape through keras BatchNormalization (dx with the terms "
          "through μ and σ², dγ, dβ)")
def ex_4_3(batchnorm_backward) -> None:
    for seed, batch, features, eps in _BN_CASES:
        x, gamma, _ = _bn_inputs(seed, batch, features)
        dy = np.random.default_rng(100 + seed).standard_normal(x.shape) + 0.5  # a nonzero mean matters
        out = unpack(call(batchnorm_backward, dy, x, gamma, eps, name="batchnorm_backward"),
                     "batchnorm_backward", ["dx", "dgamma", "dbeta"])
        dx, dgamma, dbeta = bn_backward_oracle(dy, x, gamma, eps)
        n = batch
        mu, var = x.mean(0), x.var(0)
        inv = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * inv
        g = gamma * dy
        hints = [
            (g * inv, "dx has only the direct term γ·dy/√(σ²+ε): the batch mean μ and variance σ² depend on "
                      "every x too; add the terms through μ and through σ² (dx = γ/(N√(σ²+ε))·(N dy − Σdy − x̂ Σ dy x̂))."),
            (inv * (g - g.mean(0)), "dx lacks the term through the variance σ²: subtract x̂ · mean(dy ⊙ x̂) as well."),
            (inv * (g - xhat * (g * xhat).mean(0)), "dx lacks the term through the mean μ: subtract mean(γ dy) as well."),
        ]
        inv_u = 1.0 / np.sqrt(x.var(0, ddof=1) + eps)
        xhat_u = (x - mu) * inv_u
        hints.append((inv_u * (g - g.mean(0) - xhat_u * (g * xhat_u).mean(0) * n / (n - 1)),
                      "you differentiated BN with the unbiased variance (÷ (N − 1)); Keras uses the biased one (÷ N)."))
        label = f"(batch {batch}, {features} features, ε = {eps:g})"
        assert_each_close([
            (f"dx {label}", out[0], dx, {"hints": hints, "index_names": ["example", "feature"],
                                          "factors": {"N": n, "γ": 1.0}}),
            (f"dgamma {label}", out[1], dgamma, {"hints": [
                ((dy * x).sum(0), "dγ = Σ dy ⊙ x̂ uses the normalised x̂, not the raw x."),
                ((dy * xhat).mean(0), "dγ is a sum over the batch, not a mean.")], "factors": {"N": n}}),
            (f"dbeta {label}", out[2], dbeta, {"hints": [
                (dy.mean(0), "dβ is a sum over the batch, not a mean: Σ dy."),
                (gamma * dy.sum(0), "dβ = Σ dy has no γ in it.")], "factors": {"N": n}}),
        ], rtol=1e-6, atol=1e-9)


def bn_moving_oracle(moving_mean: np.ndarray, moving_var: np.ndarray, batches: list[np.ndarray],
                     momentum: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Keras's moving mean and variance after each training call on ``batches``."""
    f = moving_mean.shape[0]
    layer = _keras_bn(batches[0], np.ones(f), np.zeros(f), 1e-3, momentum, (moving_mean, moving_var))
    out = []
    for x in batches:
        layer(x, training=True)
        out.append((layer.moving_mean.numpy().copy(), layer.moving_variance.numpy().copy()))
    return out


@exercise("4.4", "batch normalisation moving averages",
          "moving mean and variance match keras BatchNormalization (momentum on the old value, biased variance)")
def ex_4_4(update_moving) -> None:
    for seed, batch, features, momentum in [(3, 8, 4, 0.9), (4, 5, 6, 0.99), (5, 17, 2, 0.5)]:
        rng = np.random.default_rng(seed)
        batches = [rng.uniform(-2, 4, features) + rng.uniform(0.5, 3, features) * rng.standard_normal((batch, features))
                   for _ in range(3)]
        mm0, mv0 = rng.standard_normal(features), rng.uniform(0.5, 2.0, features)
        expected = bn_moving_oracle(mm0, mv0, batches, momentum)
        mm, mv = mm0.copy(), mv0.copy()
        wm, wv = mm0.copy(), mv0.copy()
        for step, (x, (em, ev)) in enumerate(zip(batches, expected), start=1):
            out = unpack(call(update_moving, mm, mv, x, momentum, name="update_moving"),
                         "update_moving", ["moving_mean", "moving_var"])
            label = f"after training step {step} (batch {batch}, momentum {momentum:g})"
            swap_m = (1 - momentum) * wm + momentum * x.mean(0)
            swap_v = (1 - momentum) * wv + momentum * x.var(0)
            unb_v = momentum * wv + (1 - momentum) * x.var(0, ddof=1)
            mm = assert_close(out[0], em, f"moving_mean {label}", rtol=1e-8, atol=1e-10, hints=[
                (swap_m, "momentum weighs the OLD moving value: new = momentum · old + (1 − momentum) · batch mean."),
                (x.mean(0), "this is just the batch mean; the moving mean is an exponential average of them.")])
            mv = assert_close(out[1], ev, f"moving_var {label}", rtol=1e-8, atol=1e-10, hints=[
                (swap_v, "momentum weighs the OLD moving value: new = momentum · old + (1 − momentum) · batch var."),
                (unb_v, "you averaged the unbiased variance (÷ (N − 1), PyTorch's running_var); Keras averages the "
                        "biased batch variance (÷ N) it normalised with."),
                (momentum * wv + (1 - momentum) * x.std(0), "you averaged the standard deviation; average the variance.")])
            wm, wv = em, ev


# --------------------------------------------------------------------------- 4.5 dropout


def _dropout_cases():
    rng = np.random.default_rng(11)
    cases = []
    for shape, rate in [((4, 6), 0.2), ((3, 2, 5), 0.5), ((2, 7), 0.75)]:
        x = rng.standard_normal(shape) + 1.0
        u = rng.uniform(0, 1, shape)
        u.flat[:2] = rate  # u equal to the rate: kept (Keras keeps where u ≥ rate)
        u.flat[2] = np.nextafter(rate, 0)  # just below: dropped
        cases.append((x, rate, u))
    return cases


@exercise("4.5", "inverted dropout", "inverted dropout: u < rate dropped, the rest scaled by 1/(1 − rate), "
                                     "identity at inference")
def ex_4_5(dropout) -> None:
    for x, rate, u in _dropout_cases():
        keep = u >= rate
        label = f"dropout(rate = {rate:g}) on shape {x.shape}"
        y = call(dropout, x, rate, u, True, name="dropout")
        expected = np.where(keep, x / (1 - rate), 0.0)
        assert_close(y, expected, f"{label} in training", rtol=1e-9, atol=1e-12, hints=[
            (np.where(keep, x, 0.0), "the kept units are not scaled: inverted dropout divides them by "
                                     "1 − rate so the expected output equals x (E[y] = x)."),
            (np.where(keep, x * (1 - rate), 0.0), "you multiplied by 1 − rate; inverted dropout DIVIDES by the keep "
                                                  "probability 1 − rate at training time."),
            (np.where(keep, x / rate, 0.0), "divide by the keep probability 1 − rate, not by the rate."),
            (np.where(~keep, x / (1 - rate), 0.0), "you kept the units with u < rate; those are the dropped ones."),
            (np.where(u > rate, x / (1 - rate), 0.0), "an element with u exactly equal to the rate is kept "
                                                      "(keep where u ≥ rate, as Keras does)."),
        ], factors={"1 − rate": 1 - rate})
        y_inf = call(dropout, x, rate, u, False, name="dropout")
        assert_close(y_inf, x, f"{label} at inference (training=False)", rtol=1e-12, atol=0, hints=[
            (x * (1 - rate), "at inference nothing is scaled: the 1/(1 − rate) factor was applied in training."),
            (np.where(keep, x / (1 - rate), 0.0), "at inference (training=False) dropout is the identity: no mask."),
        ])
    # the mean is preserved: E[y] = x (a property, with fresh uniforms)
    rng = np.random.default_rng(5)
    x = np.full((200, 500), 2.0)
    u = rng.uniform(0, 1, x.shape)
    y = as_array(call(dropout, x, 0.3, u, True, name="dropout"), "dropout output", x.shape)
    require(abs(y.mean() - 2.0) < 0.05, "the mean activation is not preserved (E[y] should equal x): scale the "
                                        "kept units by 1/(1 − rate).")


# --------------------------------------------------------------------------- 4.6 clipping

_CLIP_GRADS = [
    [np.array([[3.0, -4.0, 0.5], [0.2, 1.5, -0.1]]), np.array([0.3, -0.4]), np.array([[[0.01, 0.02], [-0.03, 0.5]]])],
    [np.array([[0.1, -0.2], [0.05, 0.3]]), np.array([2.5, -0.2, 7.0, 0.0])],
]


def clip_oracle(grads: list[np.ndarray], mode: str, c: float) -> list[np.ndarray]:
    """What keras.optimizers.SGD(learning_rate=1, clipvalue|clipnorm|global_clipnorm=c) applies."""
    import keras

    tf = tensorflow()
    key = {"value": "clipvalue", "norm": "clipnorm", "global_norm": "global_clipnorm"}[mode]
    variables = [tf.Variable(np.zeros_like(g)) for g in grads]
    keras.optimizers.SGD(learning_rate=1.0, **{key: c}).apply_gradients(
        zip([tf.constant(g) for g in grads], variables))
    return [-v.numpy() for v in variables]


@exercise("4.6", "gradient clipping by value, norm and global norm",
          "clipping matches keras SGD with clipvalue, clipnorm (per tensor) and global_clipnorm (all tensors)")
def ex_4_6(clip_gradients) -> None:
    for k, grads in enumerate(_CLIP_GRADS):
        total = np.sqrt(sum(np.sum(g**2) for g in grads))
        for mode, cs in [("value", [1.0, 0.25]), ("norm", [1.0, 2.0]), ("global_norm", [1.0, 2.0 * total])]:
            for c in cs:
                expected = clip_oracle(grads, mode, c)
                out = call(clip_gradients, [g.copy() for g in grads], mode, c, name="clip_gradients")
                items = unpack(out, "clip_gradients", [f"g{i}" for i in range(len(grads))])
                norms = [np.sqrt(np.sum(g**2)) for g in grads]
                per_tensor = [g * min(1.0, c / n) for g, n in zip(grads, norms)]
                global_ = [g * min(1.0, c / total) for g in grads]
                always_g = [g * c / total for g in grads]
                always_t = [g * c / n for g, n in zip(grads, norms)]
                value = [np.clip(g, -c, c) for g in grads]
                label = f"mode {mode!r}, c = {c:g}, gradient set {k + 1}"
                for i, (a, e) in enumerate(zip(items, expected)):
                    hints = {
                        "value": [(global_[i], "this is clipping by the global norm; clipvalue clips each "
                                               "element into [−c, c]."),
                                  (per_tensor[i], "this is clipping by norm; clipvalue clips each element into [−c, c].")],
                        "norm": [(global_[i], "you scaled by the GLOBAL norm of all tensors; clipnorm rescales each "
                                              "tensor by its own norm, g · min(1, c / ‖g‖)."),
                                 (value[i], "you clipped element by element; clipnorm rescales the whole tensor, "
                                            "keeping its direction."),
                                 (always_t[i], "a tensor whose norm is already ≤ c must stay as it is: "
                                               "scale by min(1, c / ‖g‖), never up.")],
                        "global_norm": [(per_tensor[i], "you clipped each tensor by its own norm; global_clipnorm "
                                                        "uses one norm over ALL tensors, √(Σ‖g_i‖²), and one scale."),
                                        (value[i], "you clipped element by element; global_clipnorm rescales all "
                                                   "tensors by the same factor."),
                                        (always_g[i], "when the global norm is already ≤ c nothing changes: scale by "
                                                      "min(1, c / global norm), never up.")],
                    }[mode]
                    assert_close(a, e, f"gradient {i} ({label})", rtol=1e-9, atol=1e-12, hints=hints)


# --------------------------------------------------------------------------- 4.7 threshold on validation data


def _scores(rng: np.random.Generator, n: int, share: float, separation: float) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.uniform(size=n) < share).astype(int)
    s = 1 / (1 + np.exp(-(rng.standard_normal(n) + separation * (y - 0.5) * 2 - 1.5)))
    return y, s


def _best_j(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    return float(np.max(tpr - fpr))


def _j_at(y: np.ndarray, s: np.ndarray, t: float) -> float:
    from sklearn.metrics import confusion_matrix

    tn, fp, fn, tp = confusion_matrix(y, (s >= t).astype(int), labels=[0, 1]).ravel()
    return tp / (tp + fn) - fp / (fp + tn)


@exercise("4.7", "a threshold chosen on validation data (Youden's J)",
          "threshold maximises Youden's J on validation data, is unmoved by the test set; test balanced "
          "accuracy and confusion matrix match scikit-learn", float32=False)  # a float32 threshold moves
# past float64 scores equal to it (s ≥ t flips), so the threshold must stay in the scores' float64
def ex_4_7(threshold_report) -> None:
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    for seed, n_val, n_test, share in [(0, 200, 300, 0.15), (1, 60, 90, 0.3)]:
        rng = np.random.default_rng(seed)
        y_val, s_val = _scores(rng, n_val, share, 1.2)
        y_test, s_test = _scores(rng, n_test, share, 1.2)
        from sklearn.metrics import roc_curve

        fpr, tpr, thresholds = roc_curve(y_val, s_val)
        s_test[:2] = thresholds[np.argmax(tpr - fpr)]  # test scores AT the threshold: predicted positive
        out = unpack(call(threshold_report, y_val, s_val, y_test, s_test, name="threshold_report"),
                     "threshold_report", ["threshold", "balanced_accuracy", "confusion"])
        t_arr = as_array(out[0], "threshold")
        require(t_arr.size == 1, f"threshold should be one number, got shape {t_arr.shape}.")
        t = float(t_arr.reshape(-1)[0])
        label = f"(validation set {n_val}, test set {n_test}, {share:.0%} positives)"
        # the procedure: the test set must not move the threshold
        for trial, (yt, st) in enumerate([(1 - y_test, s_test), (y_test, rng.permutation(s_test)),
                                          (y_test, s_test ** 3)]):
            other = unpack(call(threshold_report, y_val, s_val, yt, st, name="threshold_report"),
                           "threshold_report", ["threshold", "balanced_accuracy", "confusion"])
            try:
                t2 = np.asarray(getattr(other[0], "numpy", lambda: other[0])(), dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                t2 = np.array([np.nan, np.nan])
            if t2.size != 1 or float(t2[0]) != t:
                fail(f"the threshold changed when only the TEST labels or scores changed {label}: it is being "
                     "chosen on the test set. Choose it on (y_val, s_val) alone; the test set only measures it.")
        j_best, j_t = _best_j(y_val, s_val), _j_at(y_val, s_val, t)
        if not np.isclose(j_t, j_best, rtol=0, atol=1e-12):
            hint = ""
            if np.isclose(t, 0.5):
                hint = " — 0.5 is the default, not the threshold that maximises J"
            else:
                acc = [np.mean((s_val >= c) == y_val) for c in np.unique(s_val)]
                if np.isclose(np.mean((s_val >= t) == y_val), max(acc)):
                    hint = " — this threshold maximises accuracy, not TPR − FPR (accuracy favours the majority class)"
            fail(f"Youden's J = TPR − FPR on the validation set is {j_t:.4f} at your threshold, but "
                 f"{j_best:.4f} is reachable {label}{hint}. Predict positive when score ≥ threshold.")
        pred = (s_test >= t).astype(int)
        cm = confusion_matrix(y_test, pred, labels=[0, 1])
        bal = balanced_accuracy_score(y_test, pred)
        acc = float(np.mean(pred == y_test))
        strict = (s_test > t).astype(int)
        at_t = "a test score equal to the threshold is predicted positive (score ≥ threshold, not >)."
        assert_close(out[1], bal, f"test balanced accuracy {label}", rtol=1e-9, atol=1e-12, hints=[
            (acc, "this is plain accuracy; balanced accuracy is the mean of the per-class recalls (TPR + TNR) / 2."),
            (1 - bal, "this is one minus the balanced accuracy."),
            (balanced_accuracy_score(y_test, strict), at_t)])
        counts = as_array(out[2], f"test confusion matrix {label}", (2, 2), allow_int=True)
        require(np.all(counts == np.round(counts)), f"the test confusion matrix {label} should hold counts "
                                                    "(whole numbers), not rates.")
        assert_close(counts, cm, f"test confusion matrix {label}", rtol=0, atol=1e-9, hints=[
            (cm.T, "the confusion matrix is transposed: rows are the TRUE classes, columns the predictions "
                   "(scikit-learn's layout [[TN, FP], [FN, TP]])."),
            (cm[::-1, ::-1], "classes in the wrong order: row/column 0 is class 0 (negative), "
                             "so the layout is [[TN, FP], [FN, TP]]."),
            (confusion_matrix(y_test, strict, labels=[0, 1]), at_t)])


# --------------------------------------------------------------------------- 4.8 data-parallel gradient


def _shard_problem(seed: int, sizes: list[int], d: int = 3, k: int = 4):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    W, b = rng.standard_normal((d, k)), rng.standard_normal(k)
    return X, y, W, b


def _mean_loss_grads(X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Gradient of the mean softmax cross-entropy over (X, y), by tf.GradientTape."""
    tf = tensorflow()
    Wv, bv = tf.Variable(W), tf.Variable(b)
    with tf.GradientTape() as tape:
        logits = tf.constant(X) @ Wv + bv
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant(y), logits))
    return [g.numpy() for g in tape.gradient(loss, [Wv, bv])]


@exercise("4.8", "all-reducing per-replica gradients",
          "combined per-replica gradients equal the gradient of the mean loss over the global batch "
          "(also with unequal shards)")
def ex_4_8(combine_gradients) -> None:
    for seed, sizes in [(0, [4, 4]), (1, [7, 1, 2]), (2, [5, 3]), (3, [2, 9, 4, 1])]:
        X, y, W, b = _shard_problem(seed, sizes)
        bounds = np.cumsum([0] + sizes)
        per_replica = [_mean_loss_grads(X[lo:hi], y[lo:hi], W, b) for lo, hi in zip(bounds[:-1], bounds[1:])]
        expected = _mean_loss_grads(X, y, W, b)
        out = call(combine_gradients, [[g.copy() for g in r] for r in per_replica], list(sizes),
                   name="combine_gradients")
        items = unpack(out, "combine_gradients", ["dW", "db"])
        r = len(sizes)
        label = f"(shards of {sizes})"
        for i, name in enumerate(["dW", "db"]):
            mean_of_means = sum(p[i] for p in per_replica) / r
            sum_of_means = sum(p[i] for p in per_replica)
            weighted_sum = sum(n * p[i] for n, p in zip(sizes, per_replica))
            assert_close(items[i], expected[i], f"{name} {label}", rtol=1e-9, atol=1e-12, hints=[
                (mean_of_means, "you averaged the per-replica means: right only for equal shards. Each replica's "
                                "mean covers n_k examples, so weight it by n_k: Σ n_k g_k / Σ n_k."),
                (sum_of_means, "you summed the per-replica means (an all-reduce SUM of means); weight each by its "
                               "shard size and divide by the global batch: Σ n_k g_k / Σ n_k."),
                (weighted_sum, "Σ n_k g_k is the gradient of the SUMMED loss; divide by the global batch Σ n_k."),
                (weighted_sum / r, "divide Σ n_k g_k by the global batch Σ n_k, not by the number of replicas."),
            ], factors={"R": r, "N": sum(sizes)})
