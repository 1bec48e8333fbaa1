"""Chapter 00 checks: the reference answers pass, realistic wrong answers get specific hints."""
import numpy as np

from conftest import accept_tests, check_tests
from helpers import tensorflow

tf = tensorflow()


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def naive_softmax(z):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


def softmax_axis0(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_flat_sum(z):  # sums over the whole batch instead of per row
    e = np.exp(z - z.max())
    return e / e.sum()


def log_of_softmax(z):
    with np.errstate(divide="ignore"):
        return np.log(softmax(z))


def softmax_row_min(z):  # shifts by the row minimum: overflows on rows spanning > 709
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z - z.min(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def softmax_global_max(z):  # shifts by the maximum of the whole batch: a far-below row underflows
    with np.errstate(under="ignore", invalid="ignore"):
        e = np.exp(z - np.max(z))
        return e / e.sum(axis=-1, keepdims=True)


def softmax_in_place(z):  # correct values, but overwrites the caller's array
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def softmax_rows_only(z):  # a batch-only answer: wrong axis for a 1-D vector
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def log_softmax_row_min(z):
    with np.errstate(over="ignore", invalid="ignore"):
        s = z - z.min(axis=-1, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def log_softmax_global_max(z):
    with np.errstate(under="ignore", divide="ignore"):
        s = z - np.max(z)
        return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def log_softmax_in_place(z):
    z -= z.max(axis=-1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return z


def log_softmax_no_keepdims(z):  # broadcasting fails (or goes wrong) on batches
    s = z - z.max(axis=-1)
    return s - np.log(np.exp(s).sum(axis=-1))


# accepted: other dtypes, TF ops, other formulas -------------------------------------------------
def softmax_float32(z):
    return softmax(np.asarray(z, dtype=np.float32))


def log_softmax_float32(z):
    return log_softmax(np.asarray(z, dtype=np.float32))


def softmax_via_log(z):  # exp of the stable log-softmax
    return np.exp(log_softmax(z))


def softmax_rowwise_loop(z):  # one row at a time, for vectors and batches
    rows = np.atleast_2d(z)
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        e = np.exp(row - row.max())
        out[i] = e / e.sum()
    return out.reshape(np.shape(z))


def log_softmax_logsumexp(z):
    from scipy.special import logsumexp

    return z - logsumexp(z, axis=-1, keepdims=True)


def log_softmax_tf_float32(z):
    return tf.nn.log_softmax(tf.constant(z, tf.float32), axis=-1)


REFERENCE = {"0.1": softmax, "0.2": log_softmax}
WRONG = {
    "0.1": [
        (naive_softmax, r"NaN.*overflow"),
        (softmax_axis0, r"columns sum to 1.*last axis"),
        (softmax_flat_sum, r"not right"),
        (softmax_row_min, r"row \*minimum\*.*spanning more than 709"),
        (softmax_global_max, r"maximum of the whole batch.*axis=-1"),
        (softmax_in_place, r"modified its input `z` in place"),
        (softmax_rows_only, r"not right|columns sum to 1"),
        (lambda z: softmax(z).astype(np.float16), r"float16"),
        (lambda z: np.exp(z - z.max(axis=-1, keepdims=True)), r"do not sum to 1"),
        (lambda z: softmax(z).astype(int), r"dtype int"),
        (lambda z: None, r"None.*return"),
        (lambda z: softmax(z).T, r"shape|transpose"),
        (lambda z: softmax(z).tolist().append(1), r"None"),
        (lambda z: 1 / 0, r"raised ZeroDivisionError"),
        (softmax(np.array([1.0, 2.0])), r"expected a function"),
        (None, r"got None"),
    ],
    "0.2": [
        (log_of_softmax, r"-inf.*log Σ exp|underflow"),
        (lambda z: z - z.max(axis=-1, keepdims=True), r"forgot to subtract log"),
        (lambda z: softmax(z), r"not right"),
        (log_softmax_row_min, r"row \*minimum\*"),
        (log_softmax_global_max, r"maximum of the whole batch"),
        (log_softmax_in_place, r"modified its input `z` in place"),
        (log_softmax_no_keepdims, r"raised ValueError|not right"),
        (lambda z: np.log(softmax_global_max(z) + 1e-300), r"not right"),
    ],
}
ACCEPT = {
    "0.1": [softmax_float32, lambda z: tf.nn.softmax(z, axis=-1), lambda z: tf.nn.softmax(tf.constant(z, tf.float32)),
            softmax_via_log, softmax_rowwise_loop],
    "0.2": [log_softmax_float32, lambda z: tf.nn.log_softmax(z), log_softmax_tf_float32, log_softmax_logsumexp],
}
EQUIVALENT = {
    "0.1": {"L2 Sign flipped (x→−x): np.exp(shifted)":
            "e = −exp(shifted) changes the sign of numerator and denominator alike: e / Σe is unchanged"},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_unanswered_stub_says_not_answered():
    import pytest

    from conftest import run_check

    def stub(z):
        raise NotImplementedError("Exercise 0.1: replace this line with your answer")

    with pytest.raises(NotImplementedError, match=r"Exercise 0.1: not answered yet"):
        run_check("0.1", (stub,))


def test_infinite_loop_is_stopped(monkeypatch):
    import time

    from conftest import assert_rejects

    monkeypatch.setenv("DLD_CHECK_TIMEOUT", "1")

    def forever(z):
        while True:
            pass

    start = time.perf_counter()
    assert_rejects("0.1", (forever,), r"did not return within 1 s.*infinite loop")
    assert time.perf_counter() - start < 10
