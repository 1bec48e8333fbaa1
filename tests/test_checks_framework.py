"""The check framework's own guarantees (helpers.checks): dtype-aware tolerances, a diagnosis
that never contradicts the verdict, plausible-factor hints only, mutation detection in `call`,
any sequence where a tuple is expected, block-wise diagnosis."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import checks
from helpers.checks import ExerciseFailed


def _run_as(ex_float32: bool, body):
    """Run ``body`` as if inside the check of an exercise with the given float32 policy."""
    ex = checks.Exercise("99.1", "t", "s", lambda: None, ex_float32)
    token = checks._CURRENT.set(ex)
    try:
        return body()
    finally:
        checks._CURRENT.reset(token)


def test_precision_of_answers():
    import tensorflow as tf

    assert checks.precision(np.ones(2)) == "float64"
    assert checks.precision(np.ones(2, np.float32)) == "float32"
    assert checks.precision(tf.constant([1.0])) == "float32"
    assert checks.precision(tf.Variable(np.ones(2))) == "float64"
    assert checks.precision([np.float32(1.0), 2.0]) == "float32"
    assert checks.precision(1.5) == "float64"
    assert checks.precision(np.arange(3)) == "int"
    assert checks.precision(np.ones(2, np.float16)) == "float16"


def test_float32_answer_passes_at_float32_precision_when_allowed():
    import tensorflow as tf

    z = np.array([[1000.0, 1001.0, 999.5], [0.1, -0.2, 0.3]])
    exact = tf.nn.softmax(tf.constant(z, tf.float64)).numpy()
    as32 = tf.nn.softmax(tf.constant(z, tf.float32))
    _run_as(True, lambda: checks.assert_close(as32, exact, "p", rtol=1e-7, atol=1e-12))
    with pytest.raises(ExerciseFailed, match="float64 is expected"):
        _run_as(False, lambda: checks.assert_close(as32, exact, "p", rtol=1e-7, atol=1e-12))
    # a float64 answer is held to the tight tolerance
    with pytest.raises(ExerciseFailed):
        checks.assert_close(exact * (1 + 1e-5), exact, "p", rtol=1e-7, atol=1e-12)


def test_float32_tolerance_still_catches_real_mistakes():
    exact = np.array([0.2, 0.3, 0.5])
    wrong = (exact * 1.01).astype(np.float32)
    with pytest.raises(ExerciseFailed, match="not right"):
        _run_as(True, lambda: checks.assert_close(wrong, exact, "p"))


def test_float16_is_refused():
    with pytest.raises(ExerciseFailed, match="float16"):
        checks.as_array(np.ones(2, np.float16), "x")


def test_diagnosis_never_contradicts_the_verdict():
    # values equal to 2 significant digits: the message must show digits that differ
    with pytest.raises(ExerciseFailed) as info:
        checks.assert_close(0.4900001, 0.49, "x", rtol=1e-9, atol=0)
    message = str(info.value)
    assert "expected 0.49, got 0.49;" not in message and "got 0.49 " not in message
    assert "0.4900001" in message
    with pytest.raises(ExerciseFailed) as info:
        checks.assert_close(np.array([1.0, 2.0 + 1e-6]), np.array([1.0, 2.0]), "y", rtol=1e-9, atol=0)
    assert "50% of the values differ" in str(info.value)
    assert "2.000001" in str(info.value)


def test_constant_factor_only_when_plausible_for_one_number():
    with pytest.raises(ExerciseFailed) as info:
        checks.assert_close(0.7, 0.49, "x")
    assert "factor" not in str(info.value)
    with pytest.raises(ExerciseFailed, match="factor of 2"):
        checks.assert_close(0.98, 0.49, "x")
    with pytest.raises(ExerciseFailed, match=r"factor of N —"):  # forgot to divide by N
        checks.assert_close(0.49 * 8, 0.49, "x", factors={"1/N": 1 / 8})
    with pytest.raises(ExerciseFailed, match=r"factor of 1/N —"):  # divided by N once too often
        checks.assert_close(0.49 / 8, 0.49, "x", factors={"N": 8})
    with pytest.raises(ExerciseFailed, match="constant factor of 3.7"):
        checks.assert_close(3.7 * np.arange(1.0, 4.0), np.arange(1.0, 4.0), "v")


def test_call_passes_copies_and_detects_in_place_changes():
    x = np.arange(4.0)

    def sneaky(a):
        a -= 1.0
        return a

    with pytest.raises(ExerciseFailed, match=r"modified its input `a` in place"):
        checks.call(sneaky, x)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]  # the caller's array is untouched either way
    out = checks.call(sneaky, x, inplace=True)
    assert out.tolist() == [-1.0, 0.0, 1.0, 2.0] and x.tolist() == [0.0, 1.0, 2.0, 3.0]

    def appends(items):
        items.append(np.zeros(1))
        return len(items)

    with pytest.raises(ExerciseFailed, match=r"`items` in place"):
        checks.call(appends, [np.ones(1)])
    with pytest.raises(ExerciseFailed, match=r"`p` in place"):
        checks.call(lambda d, p: p.update(w=0), {}, p={"w": np.ones(2)})


def test_call_detaches_results_from_the_answer():
    buffer = np.zeros(3)

    def leaky(_):
        return buffer

    out = checks.call(leaky, 0)
    buffer[:] = 7.0
    assert out.tolist() == [0.0, 0.0, 0.0]


def test_unpack_accepts_any_sequence():
    assert checks.unpack([1, 2], "f", ["a", "b"]) == (1, 2)
    assert checks.unpack((1, 2), "f", ["a", "b"]) == (1, 2)
    for bad, pattern in [(None, "returned None"), ({"a": 1, "b": 2}, "got dict"), ("ab", "got str"),
                         ([1], "got 1")]:
        with pytest.raises(ExerciseFailed, match=pattern):
            checks.unpack(bad, "f", ["a", "b"])


def test_sparse_matrices_are_accepted():
    from scipy import sparse

    m = sparse.csr_matrix(np.eye(2))
    assert checks.as_array(m, "m", (2, 2)).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_blocks_are_named():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 8))
    blocks = {g: np.s_[:, 2 * k:2 * k + 2] for k, g in enumerate("ifco")}
    wrong = W.copy()
    wrong[:, 2:4] *= -1
    with pytest.raises(ExerciseFailed, match=r"in block f \(i, c, o right\).*wrong sign"):
        checks.assert_blocks_close(wrong, W, "kernel", blocks)
    swapped = np.concatenate([W[:, 2:4], W[:, 0:2], W[:, 4:]], axis=1)
    with pytest.raises(ExerciseFailed, match=r"block i holds the values of block f.*\[i, f, c, o\]"):
        checks.assert_blocks_close(swapped, W, "kernel", blocks, layout="[i, f, c, o]")
    checks.assert_blocks_close(W.astype(np.float32), W, "kernel", blocks)


def test_each_close_names_every_wrong_item():
    a, b, c = np.ones(2), np.arange(2.0), np.full(2, 3.0)
    with pytest.raises(ExerciseFailed, match=r"^dW, db are wrong \(dU right\)\. First: dW is not right"):
        checks.assert_each_close([("dW", -a, a), ("dU", b, b), ("db", 2 * c, c)])
    with pytest.raises(ExerciseFailed, match=r"^db is not right: .*factor of 2"):
        checks.assert_each_close([("dW", a, a), ("db", 2 * c, c)])
