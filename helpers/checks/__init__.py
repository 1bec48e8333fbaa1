"""The exercise-check framework.

A check is a function registered with :func:`exercise`. Notebooks call it through
``helpers.check``: ``check.ex_0_1(stable_softmax)``. A check

* prints exactly one fixed line on success: ``✓ Exercise 0.1: <what was verified>``;
* raises :class:`ExerciseFailed` (an ``AssertionError``) with a hint in the student's terms
  otherwise: wrong shape, NaN, a flipped sign, a missing term, an exception raised by the
  student's code, a function that never returns, ``None`` returned;
* raises ``NotImplementedError`` (with the same kind of message) while the answer is still
  the stub, so an unanswered exercise is told apart from a wrong one.

Chapter checks live in ``helpers/checks/chNN.py``; a module is imported the first time one of
its exercises is asked for. Check authors use the helpers below (:func:`call`,
:func:`as_array`, :func:`assert_close`, :func:`fail`) so every check gives the same kind of
message and survives bad input.
"""
from __future__ import annotations

import functools
import importlib
import os
import re
import signal
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from helpers import quiet_tensorflow_env

quiet_tensorflow_env()

DEFAULT_TIMEOUT_S = 20.0


class ExerciseFailed(AssertionError):
    """A check's verdict: the answer is not right yet. The message is the hint."""


class ExerciseNotAnswered(NotImplementedError):
    """The check met the unanswered stub: "not done yet", told apart from "wrong"."""


class _TimeLimit(BaseException):
    """Raised inside the student's code when it runs out of time (BaseException so that a
    student's ``except Exception`` cannot swallow it)."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    success: str
    check: Callable[..., None]

    @property
    def success_line(self) -> str:
        return f"✓ Exercise {self.id}: {self.success}"


REGISTRY: dict[str, Exercise] = {}
_ID = re.compile(r"^(\d+)\.(\d+)$")


def exercise(ex_id: str, title: str, success: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a check for exercise ``ex_id`` ("chapter.number").

    The decorated function raises :class:`ExerciseFailed` (use :func:`fail`) or returns
    normally; the wrapper prints the success line, and turns anything unexpected that escapes
    the check into a clear failure instead of a traceback from inside the checker.
    """
    if not _ID.match(ex_id):
        raise ValueError(f"exercise id must look like '6.3', got {ex_id!r}")

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # noqa: F841  (pytest and IPython hide this frame)
            try:
                fn(*args, **kwargs)
            except ExerciseFailed as failure:
                raise ExerciseFailed(_prefix(ex_id, str(failure))) from None
            except NotImplementedError:
                raise ExerciseNotAnswered(
                    f"Exercise {ex_id}: not answered yet — replace `raise NotImplementedError` "
                    "in the answer cell with your code, run that cell, then this one."
                ) from None
            except Exception as error:  # a check tripping over an unexpected answer
                raise ExerciseFailed(
                    f"Exercise {ex_id}: your answer could not be checked: "
                    f"{type(error).__name__}: {error}"
                ) from None
            print(REGISTRY[ex_id].success_line)

        if ex_id in REGISTRY and REGISTRY[ex_id].check.__module__ != fn.__module__:
            raise ValueError(f"exercise {ex_id} registered twice")
        REGISTRY[ex_id] = Exercise(ex_id, title, success, run)
        return run

    return register


def _prefix(ex_id: str, message: str) -> str:
    head = f"Exercise {ex_id}:"
    return message if message.startswith(head) else f"{head} {message}"


def _short_traceback(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """IPython handler: a check's verdict is shown as its message alone, not as a traceback
    through the checker's code. The cell still ends in an error (nbval and the grader see it).
    The display lives in :mod:`helpers.notebook`."""
    from helpers import notebook

    return notebook.short_traceback(shell, etype, value, tb, tb_offset)


def install_short_tracebacks() -> None:
    """Show ExerciseFailed / ExerciseNotAnswered as one red line in IPython and Jupyter, a cell
    waiting for an unanswered exercise as one line, the student's warnings as one line each."""
    from helpers import notebook

    notebook.install()


def get(ex_id: str) -> Exercise:
    """The registered exercise ``ex_id``, importing its chapter module on first use."""
    match = _ID.match(ex_id)
    if not match:
        raise KeyError(f"not an exercise id: {ex_id!r}")
    if ex_id not in REGISTRY:
        module = f"helpers.checks.ch{int(match.group(1)):02d}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
    if ex_id not in REGISTRY:
        raise KeyError(f"no check is registered for exercise {ex_id}")
    return REGISTRY[ex_id]


def load_all() -> dict[str, Exercise]:
    """Import every chapter module and return the whole registry."""
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if re.fullmatch(r"ch\d\d", info.name):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(REGISTRY.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))))


# --------------------------------------------------------------------------- failing clearly
def fail(message: str) -> None:
    """Stop the check with this hint (the exercise id is prefixed automatically)."""
    raise ExerciseFailed(message)


def require(condition: bool, message: str) -> None:
    """``fail(message)`` unless ``condition`` holds."""
    if not condition:
        fail(message)


def _student_frame_line(error: BaseException) -> str:
    """' (line N of your code: `...`)' for the innermost frame of the student's own code."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = frame.filename.replace("\\", "/")
        if "/helpers/" in path or "site-packages" in path or "/lib/python" in path:
            continue
        where = "your code" if path.startswith("<") or "ipykernel_" in path else path
        return f" (line {frame.lineno} of {where}: `{(frame.line or '').strip()}`)"
    return ""


def call(fn: Any, *args: Any, name: str | None = None, timeout: float | None = None, **kwargs: Any) -> Any:
    """Call the student's ``fn`` with a time limit and turn every way it can go wrong into a
    hint: not callable, the unanswered stub, an exception, no return within ``timeout`` s
    (default ``$DLD_CHECK_TIMEOUT`` or 20 s)."""
    timeout = timeout or float(os.environ.get("DLD_CHECK_TIMEOUT", DEFAULT_TIMEOUT_S))
    label = name or getattr(fn, "__name__", "your function")
    if fn is None:
        fail(f"expected a function, got None — pass the function itself, e.g. check(...)({label}).")
    if not callable(fn):
        fail(f"expected a function, got {type(fn).__name__} — pass the function, not its result.")
    try:
        return run_with_time_limit(fn, args, kwargs, timeout)
    except _TimeLimit:
        fail(f"`{label}` did not return within {timeout:g} s — is there an infinite loop?")
    except NotImplementedError:
        raise
    except ExerciseFailed:
        raise
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        fail(f"`{label}` raised {type(error).__name__}: {error}{_student_frame_line(error)}")


def run_with_time_limit(fn: Callable[..., Any], args: Sequence[Any], kwargs: dict, timeout: float) -> Any:
    """Run ``fn(*args, **kwargs)``, raising ``_TimeLimit`` inside it after ``timeout`` seconds.

    Uses SIGALRM in the main thread (it interrupts a Python loop); elsewhere (Windows, worker
    threads) falls back to a daemon thread that is abandoned when time runs out.
    """
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        def on_alarm(signum: int, frame: Any) -> None:
            raise _TimeLimit()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            box["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise _TimeLimit()
    if "error" in box:
        raise box["error"]
    return box["value"]


def unpack(result: Any, what: str, names: Sequence[str]) -> tuple:
    """The ``len(names)`` values a student's function returned, or a hint naming them."""
    listed = ", ".join(names)
    if result is None:
        fail(f"{what} returned None — did it forget to `return {listed}`?")
    try:
        items = tuple(result)
    except TypeError:
        fail(f"{what} should return {len(names)} values `({listed})`, got {type(result).__name__}.")
    if len(items) != len(names):
        fail(f"{what} should return {len(names)} values `({listed})`, got {len(items)}.")
    return items


# --------------------------------------------------------------------------- arrays
def as_array(
    value: Any,
    name: str,
    shape: tuple[int, ...] | None = None,
    *,
    allow_int: bool = False,
) -> np.ndarray:
    """``value`` as a float64 NumPy array, or a failure that says why it cannot be one.

    Accepts NumPy arrays, TF tensors / variables, Python numbers and nested lists.
    """
    if value is None:
        fail(f"{name} is None — did the function forget to `return` it?")
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if isinstance(value, (str, bytes, dict, set)) or callable(value):
        fail(f"{name} should be an array, got {type(value).__name__}.")
    try:
        array = np.asarray(value)
    except Exception:  # ragged lists and other odd objects
        fail(f"{name} could not be turned into an array (got {type(value).__name__}).")
    if array.dtype == object:
        fail(f"{name} could not be turned into a numeric array (ragged or mixed values?).")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        fail(f"{name} has dtype {array.dtype}; expected numbers.")
    if np.issubdtype(array.dtype, np.integer) and not allow_int:
        fail(f"{name} has dtype {array.dtype}; expected floating-point values (integer division or rounding?).")
    if np.iscomplexobj(array):
        fail(f"{name} is complex-valued; expected real numbers.")
    if shape is not None and array.shape != tuple(shape):
        hint = ""
        if array.shape == tuple(reversed(shape)) and len(shape) == 2:
            hint = " — transposed?"
        elif array.size == int(np.prod(shape)):
            hint = " — same number of elements: reshaped or transposed along the wrong axis?"
        fail(f"{name} should have shape {tuple(shape)}, got {array.shape}{hint}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "inf"
        fail(f"{name} contains {bad} — overflow (exp of a large number?) or a division by zero.")
    return array


def assert_close(
    actual: Any,
    expected: Any,
    name: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    hints: Iterable[tuple[Any, str]] = (),
    index_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Fail unless ``actual`` matches ``expected`` elementwise.

    ``hints`` lists (wrong_value, explanation) pairs: if the answer matches a known wrong
    value, that explanation is the message. Generic diagnoses (flipped sign, transposed,
    constant factor) are tried next; otherwise the message says where the largest error is.
    Returns the answer as a float64 array.
    """
    exp = np.asarray(expected.numpy() if hasattr(expected, "numpy") else expected, dtype=np.float64)
    act = as_array(actual, name, exp.shape)
    if np.allclose(act, exp, rtol=rtol, atol=atol):
        return act
    for wrong, explanation in hints:
        wrong = np.asarray(wrong.numpy() if hasattr(wrong, "numpy") else wrong, dtype=np.float64)
        if wrong.shape == act.shape and np.allclose(act, wrong, rtol=max(rtol, 1e-6), atol=max(atol, 1e-9)):
            fail(f"{name} is not right: {explanation}")
    fail(f"{name} is not right: {diagnose(act, exp, index_names)}")
    return act  # unreachable, keeps type checkers happy


def diagnose(actual: np.ndarray, expected: np.ndarray, index_names: Sequence[str] | None = None) -> str:
    """A short description of how ``actual`` differs from ``expected`` (same shape)."""
    if not actual.any() and expected.any():
        return "every value is zero — a term or a whole gradient missing (or never accumulated)?"
    if np.allclose(actual, -expected, rtol=1e-5, atol=1e-8) and np.abs(expected).max() > 0:
        return "every value has the wrong sign — a sign flipped somewhere?"
    if actual.ndim == 2 and actual.shape[0] == actual.shape[1] and np.allclose(actual, expected.T, rtol=1e-5, atol=1e-8):
        return "it equals the transpose of the expected value — operands of a product swapped?"
    nonzero = np.abs(expected) > 1e-12
    if nonzero.any():
        ratios = actual[nonzero] / expected[nonzero]
        if np.allclose(ratios, ratios.flat[0], rtol=1e-5) and not np.isclose(ratios.flat[0], 1.0):
            return f"it is off by a constant factor of {ratios.flat[0]:.3g} — a missing or extra scale (1/N, 2, η)?"
    error = np.abs(actual - expected)
    where = np.unravel_index(int(np.argmax(error)), error.shape) if error.ndim else ()
    if where:
        names = index_names or [f"axis {i}" for i in range(len(where))]
        location = ", ".join(f"{n} {i}" for n, i in zip(names, where))
        share = np.mean(error > 1e-6 * (1 + np.abs(expected)))
        return (
            f"largest difference at {location} (expected {expected[where]:.4g}, got {actual[where]:.4g}); "
            f"{share:.0%} of the values differ."
        )
    return f"expected {float(expected):.6g}, got {float(actual):.6g}."


def random_inputs(seed: int, *shapes: tuple[int, ...], scale: float = 1.0) -> list[np.ndarray]:
    """Reproducible standard-normal test inputs (float64) for checks."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(s) for s in shapes]
