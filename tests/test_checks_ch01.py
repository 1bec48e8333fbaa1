"""Chapter 01 checks: the reference answers pass, realistic wrong answers get specific hints."""
import numpy as np

from conftest import accept_tests, check_tests
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


def fit_line_optimizer(x, y, optimizer, steps=1000):
    x, y = tf.constant(x), tf.constant(y)
    w, b = tf.Variable(0.0), tf.Variable(0.0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((w * x + b - y) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))

    for _ in range(steps):
        step()
    return w, b                                   # the variables themselves, not floats


def fit_line_assign_sub(x, y, steps=1000, learning_rate=0.05):  # plain gradient descent by hand
    x, y = tf.constant(x), tf.constant(y)
    w, b = tf.Variable(0.0), tf.Variable(0.0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((w * x + b - y) ** 2)
        gw, gb = tape.gradient(loss, [w, b])
        w.assign_sub(learning_rate * gw)
        b.assign_sub(learning_rate * gb)

    for _ in range(steps):
        step()
    return [float(w), float(b)]                    # a list where a tuple is expected


def fit_line_keras_default_rmsprop(x, y):  # RMSprop's default learning rate 0.001: far too slow
    import keras

    return fit_line_optimizer(x, y, keras.optimizers.RMSprop())


# 1.2 ------------------------------------------------------------------------------------------
def standardize_hard_coded_n(X):  # divides by 6, the size of the first test matrix
    mu = X.sum(axis=0) / 6
    return (X - mu) / np.sqrt(((X - mu) ** 2).sum(axis=0) / 6)


def standardize_in_place(X):
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X


def standardize_loop(X):  # one column at a time
    out = np.empty_like(X)
    for j in range(X.shape[1]):
        column = X[:, j]
        out[:, j] = (column - column.mean()) / column.std()
    return out


def standardize_tf(X):
    X = tf.constant(X)
    return (X - tf.reduce_mean(X, axis=0)) / tf.math.reduce_std(X, axis=0)


# 1.3 ------------------------------------------------------------------------------------------
def pairwise_sq_distances(A, B):
    return np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1)


def pairwise_hard_coded(A, B):  # the sizes of the first test case written into the code
    return np.sum((A.reshape(5, 1, 3) - B.reshape(1, 4, 3)) ** 2, axis=-1)


def pairwise_hard_coded_d(A, B):  # a loop over 3 coordinates
    return sum((A[:, None, k] - B[None, :, k]) ** 2 for k in range(3))


def pairwise_expansion(A, B):  # |a|² + |b|² − 2 a·b
    return (A ** 2).sum(axis=1)[:, None] + (B ** 2).sum(axis=1)[None, :] - 2 * A @ B.T


def pairwise_tf_float32(A, B):
    A, B = tf.constant(A, tf.float32), tf.constant(B, tf.float32)
    return tf.reduce_sum(tf.square(tf.expand_dims(A, 1) - tf.expand_dims(B, 0)), axis=-1)


# 1.4 ------------------------------------------------------------------------------------------
def derivatives_persistent(f, x):  # one persistent tape, x as a Variable, a list returned
    x = tf.Variable(x)
    with tf.GradientTape(persistent=True) as tape:
        with tf.GradientTape() as inner:
            y = f(x)
        dy = inner.gradient(y, x)
    d2y = tape.gradient(dy, x)
    del tape
    return [dy, d2y]


def derivatives_float32(f, x):
    return first_and_second_derivative(f, tf.cast(x, tf.float32))


def derivatives_flattened(f, x):  # reshapes to 1-D and forgets to reshape back
    dy, d2y = first_and_second_derivative(f, tf.reshape(x, [-1]))
    return dy, d2y


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
        (standardize_hard_coded_n, r"shape \(9, 3\).*not right"),
        (standardize_in_place, r"modified its input `X` in place"),
        (lambda X: standardize(X).astype(np.float16), r"float16"),
    ],
    "1.4": [
        (derivative_twice_same, r"equals the first derivative"),
        (unwatched, r"None.*tape\.watch"),
        (second_outside_outer, r"None"),
        (lambda f, x: first_and_second_derivative(f, x)[::-1], r"wrong order"),
        (lambda f, x: first_and_second_derivative(f, x)[0], r"2 values|not right|shape"),
        (derivatives_flattened, r"should have shape \(2, 3\)"),
        (lambda f, x: (first_and_second_derivative(f, x)[0], 2 * first_and_second_derivative(f, x)[1]),
         r"second derivative.*not right"),
    ],
    "1.5": [
        (lambda x, y: fit_line(x, y, train_bias=False), r"bias was never trained"),
        (lambda x, y: fit_line(x, y, steps=200, ascend=True), r"diverged.*against the gradient"),
        (lambda x, y: fit_line(x, y, steps=20), r"least squares gives"),
        (lambda x, y: fit_line(x, y)[0], r"2 values"),
        (fit_line_rebinding, r"gradient was None.*assign_sub"),
        (fit_line_constants, r"must be tf\.Variable"),
        (fit_line_keras_default_rmsprop, r"Train longer.*default 0\.001"),
    ],
    "1.3": [
        (lambda A, B: pairwise_sq_distances(A, B).T, r"shape \(5, 4\).*transposed"),
        (lambda A, B: np.sqrt(pairwise_sq_distances(A, B)), r"squared distances"),
        (lambda A, B: np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=0), r"shape"),
        (lambda A, B: np.sum((A - B[:1]) ** 2, axis=-1), r"shape"),
        (pairwise_hard_coded, r"raised ValueError"),
        (pairwise_hard_coded_d, r"not right"),
        (lambda A, B: np.sum(A[:, None, :] - B[None, :, :], axis=-1) ** 2, r"summed the differences before squaring"),
        (lambda A, B: np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=1), r"shape"),
    ],
}
ACCEPT = {
    "1.1": [lambda x: np.swapaxes(x, 0, 1), lambda x: tf.einsum("sbn->bsn", x),
            lambda x: tf.stack([x[:, i] for i in range(x.shape[1])])],
    "1.2": [lambda X: standardize(X.astype(np.float32)), standardize_tf, standardize_loop,
            lambda X: __import__("sklearn.preprocessing", fromlist=["StandardScaler"]).StandardScaler().fit_transform(X)],
    "1.3": [pairwise_expansion, pairwise_tf_float32,
            lambda A, B: __import__("scipy.spatial.distance", fromlist=["cdist"]).cdist(A, B, "sqeuclidean")],
    "1.4": [derivatives_persistent, derivatives_float32],
    "1.5": [lambda x, y: fit_line_optimizer(x, y, __import__("keras").optimizers.RMSprop(0.05)),
            lambda x, y: fit_line_optimizer(x, y, __import__("keras").optimizers.Adam(0.05)),
            fit_line_assign_sub],
}
EQUIVALENT = {
    "1.2": {
        "L1 keepdims dropped: np.mean(X, axis=0, keepdims=True)":
            "a reduction over axis 0 without keepdims has shape (d,), which broadcasts against (N, d) exactly like (1, d)",
        "L2 keepdims dropped: np.std(X, axis=0, keepdims=True)":
            "a reduction over axis 0 without keepdims has shape (d,), which broadcasts against (N, d) exactly like (1, d)",
    },
    "1.3": {
        "L1 Operands swapped: A[:, None, :] - B[None, :, :]": "the difference is squared: (b − a)² = (a − b)²",
        "L1 Sign flipped (x→−x): A[:, None, :] - B[None, :, :]": "the difference is squared: (−d)² = d²",
    },
    "1.5": {
        "L12 range(n)→range(n-1): range(steps)":
            "999 instead of 1000 gradient-descent steps: still converged onto least squares (any number of "
            "steps that converges is a correct answer; the exercise fixes the result, not the trajectory)",
        "L12 range(n)→range(1, n): range(steps)": "999 instead of 1000 steps: still converged (see above)",
        "L1 Call dropped: tf.constant(x)": "TF operations accept the NumPy array directly",
        "L1 Call dropped: tf.constant(y)": "TF operations accept the NumPy array directly",
        "L14 Call dropped: float(w.numpy())": "returning the NumPy scalar instead of a Python float is allowed",
        "L14 Call dropped: float(b.numpy())": "returning the NumPy scalar instead of a Python float is allowed",
        "L2 Constant 0.0→1.0: tf.Variable(0.0)": "another starting point of a convex problem: gradient descent reaches the same minimum",
        "L2 Constant 0.0→1.0: tf.Variable(0.0) #2": "another starting point of a convex problem: gradient descent reaches the same minimum",
        "L8 Operands swapped: w * x + b - y": "the residual is squared: (y − ŷ)² = (ŷ − y)²",
    },
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)
