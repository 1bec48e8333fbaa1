"""Shared test helpers.

Chapter check tests (tests/test_checks_chNN.py) define

    REFERENCE = {"0.1": (reference_softmax,), ...}      # arguments that must pass
    WRONG = {"0.1": [(naive_softmax, "NaN"), ...]}       # (arguments, regex the hint must match)
    ACCEPT = {"0.1": [tf_softmax, float32_softmax]}      # correct answers written differently
    EQUIVALENT = {"0.1": {"<mutant id>": "reason"}}      # mutants that cannot be told apart

and end with ``test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)``
and ``test_accepted_answer_passes = accept_tests(ACCEPT)``. tests/test_checks_meta.py proves every
exercise in solutions/ has a reference, a wrong answer and at least two accepted answers;
``python -m helpers.mutants`` (and tests/test_mutants.py) reads EQUIVALENT.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent


def run_check(ex_id: str, args: tuple) -> None:
    from helpers import checks

    checks.get(ex_id).check(*args)


def assert_passes(ex_id: str, args: tuple, capsys) -> None:
    from helpers import checks

    capsys.readouterr()
    run_check(ex_id, args)
    out = capsys.readouterr().out
    assert out == checks.get(ex_id).success_line + "\n", f"check {ex_id} printed {out!r}"


def assert_rejects(ex_id: str, args: tuple, pattern: str) -> str:
    with pytest.raises(AssertionError) as info:
        run_check(ex_id, args)
    message = str(info.value)
    assert message.startswith(f"Exercise {ex_id}:"), message
    assert re.search(pattern, message, re.I | re.S), f"hint {message!r} does not match {pattern!r}"
    return message


def _as_args(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def check_tests(reference: dict, wrong: dict):
    """Two parametrised tests: every reference answer passes; every wrong answer is rejected."""

    @pytest.mark.parametrize("ex_id", sorted(reference))
    def test_reference_passes(ex_id, capsys):
        assert_passes(ex_id, _as_args(reference[ex_id]), capsys)

    cases = [(ex_id, k) for ex_id in sorted(wrong) for k in range(len(wrong[ex_id]))]

    @pytest.mark.parametrize("ex_id,k", cases, ids=[f"{e}-wrong{k}" for e, k in cases])
    def test_wrong_answer_rejected(ex_id, k):
        args, pattern = wrong[ex_id][k]
        assert_rejects(ex_id, _as_args(args), pattern)

    return test_reference_passes, test_wrong_answer_rejected


def accept_tests(accept: dict):
    """One parametrised test: every ACCEPT answer (correct, written differently: float32 where
    allowed, a list for a tuple, TF ops instead of NumPy, in place where allowed) passes."""
    cases = [(ex_id, k) for ex_id in sorted(accept) for k in range(len(accept[ex_id]))]

    @pytest.mark.parametrize("ex_id,k", cases, ids=[f"{e}-accept{k}" for e, k in cases])
    def test_accepted_answer_passes(ex_id, k, capsys):
        assert_passes(ex_id, _as_args(accept[ex_id][k]), capsys)

    return test_accepted_answer_passes
