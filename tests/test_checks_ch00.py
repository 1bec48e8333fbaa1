"""Chapter 00 checks: the reference answers pass, realistic wrong answers get specific hints."""
import numpy as np

from conftest import check_tests


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


REFERENCE = {"0.1": softmax, "0.2": log_softmax}
WRONG = {
    "0.1": [
        (naive_softmax, r"NaN.*overflow"),
        (softmax_axis0, r"columns sum to 1.*last axis"),
        (softmax_flat_sum, r"not right"),
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
    ],
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)


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

# Mutants of the reference answers that compute the same thing (python -m helpers.mutants).
EQUIVALENT = {
    "0.1": {
        "L2 Sign flipped (x→−x): np.exp(shifted)": "−e over Σ(−e) is e / Σe: numerator and denominator flip together",
    },
}
