"""Chapter 02 checks: the reference answers pass, realistic wrong answers get specific hints."""
import numpy as np

from conftest import accept_tests, check_tests
from helpers import tensorflow

tf = tensorflow()


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# 2.1 ------------------------------------------------------------------------------------------
def elu(x, alpha=1.0):
    neg = alpha * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, neg), np.where(x > 0, 1.0, neg + alpha)


def elu_small_alpha(x, alpha=0.01):  # a leaky-ReLU slope as ELU's default
    return elu(x, alpha)


def elu_grad_alpha_only(x, alpha=1.0):
    value, _ = elu(x, alpha)
    return value, np.where(x > 0, 1.0, alpha)


# 2.2 ------------------------------------------------------------------------------------------
def swish_grad(x, beta=1.0):
    s = sigmoid(beta * x)
    return s + beta * x * s * (1 - s)


# 2.3 ------------------------------------------------------------------------------------------
def bce_with_logits(z, y):
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def bce_double_sigmoid(z, y):  # sigmoid output fed to a with-logits loss
    return bce_with_logits(sigmoid(z), y)


def bce_no_abs(z, y):  # log(1 + e^(−z)) without |z|: overflows for z = −1000
    with np.errstate(over="ignore"):
        return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-z)))


def bce_naive(z, y):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = 1 / (1 + np.exp(-z))
        return np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p))


# 2.4 ------------------------------------------------------------------------------------------
def softmax_ce_grad(z, y):
    return (softmax(z) - y) / len(z)


def unstable_softmax_ce_grad(z, y):  # exp(z) without subtracting the maximum
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return (e / e.sum(axis=-1, keepdims=True) - y) / len(z)


def softmax_ce_grad_in_place(z, y):  # right values, but overwrites the caller's logits
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    z -= y
    z /= len(z)
    return z


def elu_in_place(x, alpha=1.0):
    derivative = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))
    np.copyto(x, np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))))
    return x, derivative


# 2.5 ------------------------------------------------------------------------------------------
def backprop(X, Y, params, *, bias_grads="ok", sign=1.0, relu_mask=True):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = X @ W1 + b1
    a1 = np.maximum(z1, 0)
    y_hat = softmax(a1 @ W2 + b2)
    d2 = sign * (y_hat - Y) / len(X)
    d1 = (d2 @ W2.T) * ((z1 > 0) if relu_mask else 1.0)
    grads = {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": a1.T @ d2, "b2": d2.sum(axis=0)}
    if bias_grads == "missing":
        del grads["b1"], grads["b2"]
    elif bias_grads == "none":
        grads["b1"] = grads["b2"] = None
    elif bias_grads == "zero":
        grads["b1"], grads["b2"] = np.zeros_like(b1), np.zeros_like(b2)
    return grads


def backprop_column_order(X, Y, params):  # δ2 a1ᵀ: the column-vector formula on row-major batches
    grads = backprop(X, Y, params)
    a1 = np.maximum(X @ params["W1"] + params["b1"], 0)
    d2 = (softmax(a1 @ params["W2"] + params["b2"]) - Y) / len(X)
    grads["W2"] = d2 @ a1.T
    return grads


def backprop_in_place(X, Y, params):
    grads = backprop(X, Y, params)
    params["W1"] -= 0.1 * grads["W1"]
    return grads


# 2.6 ------------------------------------------------------------------------------------------
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f(x)
        x[i] = old - eps
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def directional_derivative(f, x, eps=1e-5):  # perturbs every weight at once
    return np.full_like(x, (f(x + eps) - f(x - eps)) / (2 * eps), dtype=float)


def forward_difference(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    base = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        grad[i] = (f(x) - base) / eps
        x[i] = old
    return grad


def not_restored(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f(x)
        x[i] = old - eps
        grad[i] = (plus - f(x)) / (2 * eps)
    return grad


def restore_with_drift(f, x, eps=1e-5):  # x[i] += eps; x[i] -= 2 eps; x[i] += eps: may drift by an ulp
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        x[i] += eps
        plus = f(x)
        x[i] -= 2 * eps
        minus = f(x)
        x[i] += eps
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def perturb_copies(f, x, eps=1e-6):  # never touches x; a smaller ε
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def flat_view(f, x, eps=1e-5):  # one flat loop over a view of x
    flat = x.reshape(-1)
    grad = np.zeros(flat.size)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = f(x)
        flat[k] = old - eps
        minus = f(x)
        flat[k] = old
        grad[k] = (plus - minus) / (2 * eps)
    return grad.reshape(x.shape)


def numerical_gradient_float32(f, x, eps=1e-5):
    return numerical_gradient(f, x, eps).astype(np.float32)


def restore_drifting_by_eps(f, x, eps=1e-5):  # restores to old + ε/100: really not restored
    grad = numerical_gradient(f, x, eps)
    x += eps / 100
    return grad


# 2.7 ------------------------------------------------------------------------------------------
def perceptron_train(X, y, epochs=100, lr=1.0, train_bias=True, sign=1.0, strict=True, bias_lr=True):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        errors = 0
        for xi, yi in zip(X, y):
            y_hat = float(xi @ w + b > 0) if strict else float(xi @ w + b >= 0)
            w = w + sign * lr * (yi - y_hat) * xi
            if train_bias:
                b = b + sign * (lr if bias_lr else 1.0) * (yi - y_hat)
            errors += yi != y_hat
        if errors == 0:
            break
    return w, b


def perceptron_logistic(X, y, epochs=100, lr=1.0):  # a separating (w, b), but not the perceptron's
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(2000):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        w, b = w - 0.5 * X.T @ (p - y) / len(y), b - 0.5 * np.mean(p - y)
    return w, b


def perceptron_batch(X, y, epochs=100, lr=1.0):  # all predictions first, then one summed update
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        err = y - (X @ w + b > 0)
        if not err.any():
            break
        w, b = w + lr * err @ X, b + lr * err.sum()
    return w, b


def perceptron_no_lr(X, y, epochs=100, lr=1.0):
    return perceptron_train(X, y, epochs, 1.0)


def perceptron_one_more_pass(X, y, epochs=100, lr=1.0):  # range(epochs + 1)
    return perceptron_train(X, y, epochs + 1, lr)


def perceptron_no_early_stop(X, y, epochs=100, lr=1.0):  # always all passes: same result
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        for xi, yi in zip(X, y):
            err = yi - (1.0 if xi @ w + b > 0 else 0.0)
            w, b = w + lr * err * xi, b + lr * err
    return [w, b]                                   # a list where a tuple is expected


def perceptron_augmented(X, y, epochs=100, lr=1.0):  # bias as a weight on a constant input, float32
    Xa = np.hstack([X, np.ones((len(X), 1))]).astype(np.float32)
    theta = np.zeros(Xa.shape[1], dtype=np.float32)
    for _ in range(epochs):
        changed = False
        for xi, yi in zip(Xa, y):
            err = np.float32(yi) - np.float32(xi @ theta > 0)
            if err:
                theta = theta + np.float32(lr) * err * xi
                changed = True
        if not changed:
            break
    return theta[:-1], theta[-1]


def elu_tf(x, alpha=1.0):  # TF ops, GradientTape for the derivative, a list returned
    import keras

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = keras.activations.elu(xt, alpha=alpha)
    return [y, tape.gradient(y, xt)]


def elu_float32(x, alpha=1.0):
    x = np.asarray(x, dtype=np.float32)
    value = np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1))
    return value, np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(np.float32)


def swish_grad_tape(x, beta=1.0):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = xt * tf.sigmoid(beta * xt)
    return tape.gradient(y, xt)


def bce_logaddexp(z, y):  # log(1 + e^(−z)) = logaddexp(0, −z): stable in both directions
    return np.mean((1 - y) * z + np.logaddexp(0.0, -z))


def softmax_ce_grad_tape(z, y):
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=zt))
    return tape.gradient(loss, zt)


def backprop_tape(X, Y, params):  # GradientTape instead of the hand derivation
    v = {k: tf.Variable(p) for k, p in params.items()}
    with tf.GradientTape() as tape:
        z2 = tf.nn.relu(X @ v["W1"] + v["b1"]) @ v["W2"] + v["b2"]
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=z2))
    return tape.gradient(loss, v)


def backprop_float32(X, Y, params):
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    return backprop(X.astype(np.float32), Y.astype(np.float32), p32)


REFERENCE = {
    "2.1": elu,
    "2.2": swish_grad,
    "2.3": bce_with_logits,
    "2.4": softmax_ce_grad,
    "2.5": backprop,
    "2.6": numerical_gradient,
    "2.7": perceptron_train,
}
WRONG = {
    "2.1": [
        (elu_small_alpha, r"default α must be 1"),
        (elu_grad_alpha_only, r"derivative is α eˣ, not (α|1)"),
        (lambda x, alpha=1.0: (np.where(x > 0, x, alpha * x), elu(x, alpha)[1]), r"not x"),
        (lambda x, alpha=1.0: (elu(x, alpha)[0], np.where(x > 0, 1.0, 0.0)), r"not 0"),
        (lambda x, alpha=1.0: elu(x)[0], r"2 values|shape"),
        (lambda x, alpha=1.0: elu(x), r"alpha argument is ignored"),
        (lambda x, alpha=1.0: (elu(x, alpha)[0], np.where(x > 0, 1.0, np.exp(x))), r"factor α is missing"),
        (lambda x, alpha=1.0: (elu(x, alpha)[0], np.where(x > 0, 1.0, elu(x, alpha)[0] + 1.0)), r"not ELU\(x\) \+ 1"),
        (lambda x, alpha=1.0: (elu(x.ravel(), alpha)[0], elu(x.ravel(), alpha)[1]), r"shape"),
        (elu_in_place, r"modified its input `x` in place"),
    ],
    "2.2": [
        (lambda x, beta=1.0: sigmoid(beta * x), r"product rule"),
        (lambda x, beta=1.0: sigmoid(beta * x) + x * sigmoid(beta * x) * (1 - sigmoid(beta * x)), r"factor β is missing"),
        (lambda x, beta=1.0: -swish_grad(x, beta), r"wrong sign"),
        (lambda x, beta=1.0: swish_grad(x, 1.0), r"not right"),
    ],
    "2.3": [
        (bce_double_sigmoid, r"double sigmoid"),
        (bce_naive, r"underflows.*stable form"),
        (lambda z, y: np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))), r"sum over the examples"),
        (lambda z, y: np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), r"one number"),
        (bce_no_abs, r"not right|inf|overflow"),
    ],
    "2.4": [
        (lambda z, y: (y - softmax(z)) / len(z), r"sign is flipped"),
        (lambda z, y: softmax(z) - y, r"divide by the batch size"),
        (lambda z, y: (softmax(z) - y).T / len(z), r"shape"),
        (lambda z, y: softmax(z) / len(z), r"dropped the − y"),
        (unstable_softmax_ce_grad, r"overflows.*subtract each row's maximum"),
        (lambda z, y: (np.exp(z) / np.exp(z).sum(axis=0, keepdims=True) - y) / len(z), r"not right"),
        (lambda z, y: (softmax(z) - y) / z.shape[1], r"divide by the batch size B"),
        (softmax_ce_grad_in_place, r"modified its input `z` in place"),
    ],
    "2.5": [
        (lambda X, Y, p: backprop(X, Y, p, bias_grads="missing"), r"no gradient for the bias b1"),
        (lambda X, Y, p: backprop(X, Y, p, bias_grads="none"), r"no gradient for the bias"),
        (lambda X, Y, p: backprop(X, Y, p, bias_grads="zero"), r"all zeros.*never updated"),
        (lambda X, Y, p: backprop(X, Y, p, sign=-1.0), r"wrong sign.*ŷ − y"),
        (lambda X, Y, p: backprop(X, Y, p, relu_mask=False), r"derivative of the ReLU is missing"),
        (backprop_column_order, r"raised ValueError|shape"),
        (backprop_in_place, r"changed the parameters|modified its input `params` in place"),
        (lambda X, Y, p: {k: (g[None, :] if k.startswith("b") else g) for k, g in backprop(X, Y, p).items()},
         r"must have the shape of b2.*without keepdims"),
        (lambda X, Y, p: [backprop(X, Y, p)[k] for k in ("W1", "b1", "W2", "b2")], r"should return a dict"),
    ],
    "2.6": [
        (directional_derivative, r"all elements at once.*directional derivative"),
        (forward_difference, r"centered difference"),
        (not_restored, r"x was left changed"),
        (restore_drifting_by_eps, r"x was left changed"),
        (lambda f, x: numerical_gradient(f, x).ravel(), r"shape"),
        (numerical_gradient_float32, r"float32, but float64 is expected"),
        (lambda f, x: 2 * numerical_gradient(f, x), r"factor of 2"),
    ],
    "2.7": [
        (lambda X, y, epochs=100, lr=1.0: perceptron_train(X, y, epochs, lr, train_bias=False), r"b is never updated"),
        (lambda X, y, epochs=100, lr=1.0: perceptron_train(X, y, epochs, lr, sign=-1.0), r"wrong sign"),
        (lambda X, y, epochs=100, lr=1.0: perceptron_train(X, y, 0, lr), r"still 0: no update"),
        (lambda X, y, epochs=100, lr=1.0: perceptron_train(X, y, epochs, lr)[0], r"2 values|shape"),
        (lambda X, y, epochs=100, lr=1.0: perceptron_train(X, y, epochs, lr, strict=False), r"step is strict"),
        (lambda X, y, epochs=100, lr=1.0: perceptron_train(X, y, epochs, lr, bias_lr=False), r"bias update needs the learning rate"),
        (perceptron_logistic, r"\(w, b\) on OR is not right"),
        (perceptron_batch, r"batch update"),
        (perceptron_no_lr, r"learning rate lr is ignored"),
        (perceptron_one_more_pass, r"result of 4 passes.*epochs` = 3"),
    ],
}
ACCEPT = {
    "2.1": [elu_tf, elu_float32, lambda x, alpha=1.0: list(elu(x, alpha))],
    "2.2": [swish_grad_tape, lambda x, beta=1.0: swish_grad(np.asarray(x, np.float32), beta),
            lambda x, beta=1.0: tf.sigmoid(beta * x) * (1 + beta * x * (1 - tf.sigmoid(beta * x)))],
    "2.3": [bce_logaddexp, lambda z, y: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z)),
            lambda z, y: bce_with_logits(z.astype(np.float32), y.astype(np.float32))],
    "2.4": [softmax_ce_grad_tape, lambda z, y: softmax_ce_grad(z.astype(np.float32), y),
            lambda z, y: (np.exp(z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))
                                 - z.max(-1, keepdims=True)) - y) / len(y)],
    "2.5": [backprop_tape, backprop_float32],
    "2.6": [restore_with_drift, perturb_copies, flat_view],
    "2.7": [perceptron_no_early_stop, perceptron_augmented],
}
_KINK = ("differs only at x = 0 exactly, where the function has a kink (no derivative); the test points avoid it "
         "and either one-sided value is a valid convention (the chapter says so)")
_EARLY_STOP = ("only changes when training stops early; a pass without mistakes makes no update, so every later "
               "pass repeats it and stopping early never changes (w, b)")
EQUIVALENT = {
    "2.1": {
        "L2 Compare Gt→GtE: x > 0": "ELU's two branches agree at x = 0 (both give 0)",
        "L3 Compare Gt→GtE: x > 0": "the derivative at x = 0 exactly: " + _KINK,
        "L1 Constant 0.0→1.0: np.minimum(x, 0.0)": "the clamp only keeps expm1 from overflowing on the branch np.where discards: "
                                     "min(x, 1) does that as well as min(x, 0)",
    },
    "2.5": {"L5 Compare Gt→GtE: Z1 > 0": "ReLU's derivative at Z1 = 0 exactly: " + _KINK},
    "2.6": {"L1 Sign flipped (x→−x): np.zeros(x.shape)": "−0.0 instead of 0.0 as the start value: every entry is overwritten"},
    "2.7": {
        "L1 Sign flipped (x→−x): np.zeros(X.shape[1])": "−0.0 instead of 0.0: the same starting point",
        "L1 Sign flipped (x→−x): 0.0": "b starts at −0.0 instead of 0.0: the same starting point",
        "L3 Sign flipped (x→−x): 0": "the mistake counter starts at −0 = 0",
        "L3 Constant 0→1: 0": "the mistake counter never reaches 0, so training never stops early: " + _EARLY_STOP,
        "L8 Sign flipped (x→−x): int(y_hat != yi)": "counting mistakes as −1 each: the counter is 0 exactly when it was",
        "L6 In place (x = x op d → x op= d): w = w + lr * (yi - y_hat) * xi":
            "w is the answer's own array (np.zeros), not an input: updating it in place changes nothing",
        "L7 In place (x = x op d → x op= d): b = b + lr * (yi - y_hat)": "b is a Python float: += rebinds it",
        "L5 Operands swapped: xi @ w": "xi and w are 1-D: xi @ w = w @ xi",
        "L5 Transposed left operand: xi @ w": "transposing a 1-D array changes nothing",
        "L5 Transposed right operand: xi @ w": "transposing a 1-D array changes nothing",
    },
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)
