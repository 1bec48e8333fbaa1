"""Every exercise in solutions/ has a registered check, a passing reference answer, at
least one realistic wrong answer that the check is shown to reject and two accepted answers; and every check survives
bad input (None, a non-function, a function that raises) with a clear message."""
from __future__ import annotations

import importlib.util
import sys

import nbformat
import pytest

from conftest import ROOT, run_check
from helpers import build, checks


def _notebook_exercises() -> dict[str, str]:
    found = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for ex in build.exercises(nb, path.name):
            found[ex.id] = path.name
    return found


def _chapter_tests(chapter: int):
    path = ROOT / "tests" / f"test_checks_ch{chapter:02d}.py"
    if not path.exists():
        return None
    name = f"_chapter_tests_{chapter:02d}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


EXERCISES = _notebook_exercises()


def test_there_are_exercises():
    assert len(EXERCISES) >= 2


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_exercise_has_check_reference_and_wrong_answers(ex_id):
    checks.get(ex_id)  # raises KeyError when no check is registered
    module = _chapter_tests(int(ex_id.split(".")[0]))
    assert module is not None, f"{EXERCISES[ex_id]}: no tests/test_checks_ch{ex_id.split('.')[0].zfill(2)}.py"
    assert ex_id in module.REFERENCE, f"exercise {ex_id} has no reference answer in the tests"
    assert module.WRONG.get(ex_id), f"exercise {ex_id} has no wrong answer shown to fail"
    accepted = getattr(module, "ACCEPT", {}).get(ex_id, [])
    assert len(accepted) >= 2, (
        f"exercise {ex_id} has {len(accepted)} ACCEPT answers; at least two correct answers written "
        "differently (float32 where allowed, a list for a tuple, TF ops, ...) must be shown to pass")
    assert hasattr(module, "test_accepted_answer_passes"), (
        f"tests/test_checks_ch{ex_id.split('.')[0].zfill(2)}.py must run its ACCEPT answers: "
        "`test_accepted_answer_passes = accept_tests(ACCEPT)`")


def test_every_registered_check_is_used_in_a_notebook():
    unused = set(checks.load_all()) - set(EXERCISES)
    assert not unused, f"checks registered but used by no solution notebook: {sorted(unused)}"


def _bad_variants(args: tuple):
    """Replace the first callable argument (or the first argument) with bad inputs."""
    index = next((i for i, a in enumerate(args) if callable(a)), 0)

    def raising(*_, **__):
        raise ValueError("boom")

    def returns_nan(*a, **k):
        import numpy as np

        result = args[index](*a, **k)
        return np.full_like(np.asarray(result, dtype=float), np.nan) if result is not None else None

    variants = {"None": None, "a string": "not a function", "raises": raising}
    if callable(args[index]):
        variants["NaN everywhere"] = returns_nan
    for label, bad in variants.items():
        yield label, args[:index] + (bad,) + args[index + 1:]


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_check_survives_bad_input(ex_id):
    module = _chapter_tests(int(ex_id.split(".")[0]))
    reference = module.REFERENCE[ex_id]
    args = reference if isinstance(reference, tuple) else (reference,)
    for label, bad_args in _bad_variants(args):
        with pytest.raises(AssertionError) as info:
            run_check(ex_id, bad_args)
        message = str(info.value)
        assert message.startswith(f"Exercise {ex_id}:"), f"{label}: {message}"
        assert "could not be checked" not in message or label == "a string", f"{label}: {message}"
