"""Chapter 02 checks: the reference answers pass, realistic wrong answers get specific hints."""
import numpy as np

from conftest import check_tests


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


# 2.7 ------------------------------------------------------------------------------------------
def perceptron_train(X, y, epochs=100, lr=1.0, train_bias=True, sign=1.0):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        errors = 0
        for xi, yi in zip(X, y):
            y_hat = float(xi @ w + b > 0)
            w = w + sign * lr * (yi - y_hat) * xi
            if train_bias:
                b = b + sign * lr * (yi - y_hat)
            errors += yi != y_hat
        if errors == 0:
            break
    return w, b


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
    ],
    "2.2": [
        (lambda x, beta=1.0: sigmoid(beta * x), r"product rule"),
        (lambda x, beta=1.0: sigmoid(beta * x) + x * sigmoid(beta * x) * (1 - sigmoid(beta * x)), r"factor β is missing"),
        (lambda x, beta=1.0: -swish_grad(x, beta), r"wrong sign"),
    ],
    "2.3": [
        (bce_double_sigmoid, r"double sigmoid"),
        (bce_naive, r"underflows.*stable form"),
        (lambda z, y: np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))), r"sum over the examples"),
        (lambda z, y: np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), r"one number"),
    ],
    "2.4": [
        (lambda z, y: (y - softmax(z)) / len(z), r"sign is flipped"),
        (lambda z, y: softmax(z) - y, r"divide by the batch size"),
        (lambda z, y: (softmax(z) - y).T / len(z), r"shape"),
        (lambda z, y: softmax(z) / len(z), r"dropped the − y"),
        (unstable_softmax_ce_grad, r"overflows.*subtract each row's maximum"),
        (lambda z, y: (np.exp(z) / np.exp(z).sum(axis=0, keepdims=True) - y) / len(z), r"not right"),
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
        (not_restored, r"x was left changed|modified its input `x` in place"),
        (lambda f, x: numerical_gradient(f, x).ravel(), r"shape"),
    ],
    "2.7": [
        (lambda X, y, epochs=100: perceptron_train(X, y, epochs, train_bias=False), r"bias was never updated"),
        (lambda X, y, epochs=100: perceptron_train(X, y, epochs, sign=-1.0), r"does not classify"),
        (lambda X, y, epochs=100: perceptron_train(X, y, 0), r"never updated|does not classify"),
        (lambda X, y, epochs=100: perceptron_train(X, y, epochs)[0], r"2 values|shape"),
    ],
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)

# Mutants of the reference answers that compute the same thing (python -m helpers.mutants).
EQUIVALENT = {
    "2.1": {
        "L2 Compare Gt→GtE: x > 0": "at x = 0 both branches of ELU give 0",
        "L1 Constant 0.0→1.0: np.minimum(x, 0.0)": "the clamp only keeps exp from overflowing where x > 0, where this "
                                                   "branch is not used; any bound ≥ 0 gives the same values",
    },
    "2.6": {
        "L1 Sign flipped (x→−x): np.zeros(x.shape)": "a −0.0 start: every entry is overwritten",
    },
    "2.7": {
        "L1 Sign flipped (x→−x): np.zeros(X.shape[1])": "w starts at −0.0, which behaves as 0.0 in every sum",
        "L1 Sign flipped (x→−x): 0.0": "b starts at −0.0, which behaves as 0.0 in every sum",
        "L3 Sign flipped (x→−x): 0": "−0 is the integer 0 itself",
        "L3 Constant 0→1: 0": "the loop then never stops early; after a mistake-free epoch the rule changes nothing",
        "L8 Sign flipped (x→−x): int(y_hat != yi)": "−count is 0 exactly when count is",
        "L6 In place (x = x op d → x op= d): w = w + lr * (yi - y_hat) * xi": "w is the function's own array (np.zeros), "
                                                                              "not the caller's",
        "L7 In place (x = x op d → x op= d): b = b + lr * (yi - y_hat)": "b is a Python float: += rebinds it",
        "L5 Operands swapped: xi @ w": "w @ xi is the same dot product of two vectors",
        "L5 Transposed left operand: xi @ w": ".T of a 1-D array is the array itself",
        "L5 Transposed right operand: xi @ w": ".T of a 1-D array is the array itself",
    },
}
