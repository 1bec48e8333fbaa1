"""Chapter 01 checks: the reference answers pass, realistic wrong answers get specific hints."""
import numpy as np

from conftest import check_tests
from helpers import tensorflow

tf = tensorflow()


# 1.1 ------------------------------------------------------------------------------------------
def to_batch_major(x):
    return tf.transpose(x, perm=[1, 0, 2])


def reshape_instead(x):
    s, b, n = x.shape
    return tf.reshape(x, (b, s, n))


# 1.2 ------------------------------------------------------------------------------------------
def standardize(X):
    return (X - X.mean(axis=0, keepdims=True)) / X.std(axis=0, keepdims=True)


# 1.4 ------------------------------------------------------------------------------------------
def first_and_second_derivative(f, x):
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        dy = inner.gradient(y, x)
    return dy, outer.gradient(dy, x)


def derivative_twice_same(f, x):  # the first derivative returned for both
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    dy = tape.gradient(y, x)
    return dy, dy


def unwatched(f, x):  # forgets tape.watch on a constant
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = f(x)
        dy = inner.gradient(y, x)
    return dy, outer.gradient(dy, x) if dy is not None else None


def second_outside_outer(f, x):  # the first derivative computed after the outer tape closed
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
    dy = inner.gradient(y, x)
    return dy, outer.gradient(dy, x)


# 1.5 ------------------------------------------------------------------------------------------
def fit_line(x, y, steps=1000, learning_rate=0.05, train_bias=True, ascend=False):
    import keras

    x, y = tf.constant(x), tf.constant(y)
    w, b = tf.Variable(0.0), tf.Variable(0.0)
    variables = [w, b] if train_bias else [w]
    optimizer = keras.optimizers.SGD(learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((w * x + b - y) ** 2)
        grads = tape.gradient(loss, variables)
        if ascend:
            grads = [-g for g in grads]
        optimizer.apply_gradients(zip(grads, variables))

    for _ in range(steps):
        step()
    return float(w.numpy()), float(b.numpy())


def fit_line_rebinding(x, y, steps=1000, learning_rate=0.05):  # w = w - lr * g: the Variable is lost
    x, y = tf.constant(x), tf.constant(y)
    w, b = tf.Variable(0.0), tf.Variable(0.0)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((w * x + b - y) ** 2)
        gw, gb = tape.gradient(loss, [w, b])
        w = w - learning_rate * gw
        b = b - learning_rate * gb
    return float(w), float(b)


def fit_line_constants(x, y, steps=1000, learning_rate=0.05):  # tf.constant instead of tf.Variable
    import keras

    x, y = tf.constant(x), tf.constant(y)
    w, b = tf.constant(0.0), tf.constant(0.0)
    optimizer = keras.optimizers.SGD(learning_rate)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch([w, b])
            loss = tf.reduce_mean((w * x + b - y) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
    return float(w), float(b)


# 1.3 ------------------------------------------------------------------------------------------
def pairwise_sq_distances(A, B):
    return np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1)


REFERENCE = {
    "1.1": to_batch_major,
    "1.2": standardize,
    "1.4": first_and_second_derivative,
    "1.5": fit_line,
    "1.3": pairwise_sq_distances,
}
WRONG = {
    "1.1": [
        (reshape_instead, r"reshape keeps the element order.*transpose"),
        (lambda x: tf.transpose(x), r"should have shape.*wrong axis"),
        (lambda x: tf.transpose(x, perm=[1, 2, 0]), r"should have shape"),
        (lambda x: x, r"should have shape"),
        (lambda x: None, r"None"),
    ],
    "1.2": [
        (lambda X: (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True), r"each row.*axis 0"),
        (lambda X: (X - X.mean(axis=1)) / X.std(axis=1), r"raised ValueError"),
        (lambda X: (X - X.mean()) / X.std(), r"whole matrix"),
        (lambda X: (X - X.mean(axis=0)) / X.std(axis=0, ddof=1), r"ddof"),
        (lambda X: X - X.mean(axis=0), r"did not divide"),
        (lambda X: standardize(X).T, r"shape \(6, 4\)"),
        (lambda X: standardize(X).mean(axis=0), r"shape"),
    ],
    "1.4": [
        (derivative_twice_same, r"equals the first derivative"),
        (unwatched, r"None.*tape\.watch"),
        (second_outside_outer, r"None"),
        (lambda f, x: first_and_second_derivative(f, x)[::-1], r"wrong order"),
        (lambda f, x: first_and_second_derivative(f, x)[0], r"2 values|not right|shape"),
    ],
    "1.5": [
        (lambda x, y: fit_line(x, y, train_bias=False), r"bias was never trained"),
        (lambda x, y: fit_line(x, y, steps=200, ascend=True), r"diverged.*against the gradient"),
        (lambda x, y: fit_line(x, y, steps=20), r"least squares gives"),
        (lambda x, y: fit_line(x, y)[0], r"2 values"),
        (fit_line_rebinding, r"gradient was None.*assign_sub"),
        (fit_line_constants, r"must be tf\.Variable"),
    ],
    "1.3": [
        (lambda A, B: pairwise_sq_distances(A, B).T, r"shape \(5, 4\).*transposed"),
        (lambda A, B: np.sqrt(pairwise_sq_distances(A, B)), r"squared distances"),
        (lambda A, B: np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=0), r"shape"),
        (lambda A, B: np.sum((A - B[:1]) ** 2, axis=-1), r"shape"),
    ],
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)

# Mutants of the reference answers that compute the same thing (python -m helpers.mutants).
EQUIVALENT = {
    "1.2": {
        "L1 keepdims dropped: np.mean(X, axis=0, keepdims=True)": "a (d,) mean broadcasts over the rows like (1, d)",
        "L2 keepdims dropped: np.std(X, axis=0, keepdims=True)": "a (d,) std broadcasts over the rows like (1, d)",
    },
    "1.3": {
        "L1 Operands swapped: A[:, None, :] - B[None, :, :]": "the difference is squared: B − A gives the same distances",
        "L1 Sign flipped (x→−x): A[:, None, :] - B[None, :, :]": "the difference is squared: −(A − B) gives the same distances",
    },
    "1.5": {
        "L1 Call dropped: tf.constant(x)": "TensorFlow converts the array itself in w * x",
        "L1 Call dropped: tf.constant(y)": "TensorFlow converts the array itself in ... - y",
        "L8 Operands swapped: w * x + b - y": "the residual is squared: y − (w x + b) gives the same loss",
        "L2 Constant 0.0→1.0: tf.Variable(0.0)": "the loss is convex: starting w at 1 reaches the same minimiser",
        "L2 Constant 0.0→1.0: tf.Variable(0.0) #2": "the loss is convex: starting b at 1 reaches the same minimiser",
        "L12 range(n)→range(n-1): range(steps)": "one step fewer of 1000 on a converged fit: the task asks for the minimiser",
        "L12 range(n)→range(1, n): range(steps)": "one step fewer of 1000 on a converged fit: the task asks for the minimiser",
        "L14 Call dropped: float(w.numpy())": "a NumPy float32 scalar instead of a Python float: the same number",
        "L14 Call dropped: float(b.numpy())": "a NumPy float32 scalar instead of a Python float: the same number",
        "L14 Cast to float32: float(w.numpy())": "w is a float32 variable: the cast does not change the value",
        "L14 Cast to float32: float(b.numpy())": "b is a float32 variable: the cast does not change the value",
    },
}
