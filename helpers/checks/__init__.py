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

import contextvars
import functools
import importlib
import math
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
    float32: bool = True  # may a float32 answer pass (compared at float32 precision)?

    @property
    def success_line(self) -> str:
        return f"✓ Exercise {self.id}: {self.success}"


REGISTRY: dict[str, Exercise] = {}
_ID = re.compile(r"^(\d+)\.(\d+)$")
_CURRENT: contextvars.ContextVar[Exercise | None] = contextvars.ContextVar("current_exercise", default=None)


def current() -> Exercise | None:
    """The exercise whose check is running now (None outside a check)."""
    return _CURRENT.get()


def exercise(
    ex_id: str, title: str, success: str, *, float32: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a check for exercise ``ex_id`` ("chapter.number").

    The decorated function raises :class:`ExerciseFailed` (use :func:`fail`) or returns
    normally; the wrapper prints the success line, and turns anything unexpected that escapes
    the check into a clear failure instead of a traceback from inside the checker.

    ``float32=True`` (the default) accepts float32 answers and compares them at float32
    precision; ``float32=False`` says "float64 is expected" before comparing (for exercises
    whose point needs float64, e.g. a gradient check with tiny ε).
    """
    if not _ID.match(ex_id):
        raise ValueError(f"exercise id must look like '6.3', got {ex_id!r}")

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # noqa: F841  (pytest and IPython hide this frame)
            token = _CURRENT.set(REGISTRY[ex_id])
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
            finally:
                _CURRENT.reset(token)
            print(REGISTRY[ex_id].success_line)

        if ex_id in REGISTRY and REGISTRY[ex_id].check.__module__ != fn.__module__:
            raise ValueError(f"exercise {ex_id} registered twice")
        REGISTRY[ex_id] = Exercise(ex_id, title, success, run, float32)
        return run

    return register


def _prefix(ex_id: str, message: str) -> str:
    head = f"Exercise {ex_id}:"
    return message if message.startswith(head) else f"{head} {message}"


def _short_traceback(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """IPython handler: a check's verdict is shown as its message alone, not as a traceback
    through the checker's code. The cell still ends in an error (nbval and the grader see it)."""
    stb = [f"\x1b[31m✗ {value}\x1b[0m"]
    shell._showtraceback(etype, value, stb)
    return stb


def install_short_tracebacks() -> None:
    """Show ExerciseFailed / ExerciseNotAnswered as one red line in IPython and Jupyter."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((ExerciseFailed, ExerciseNotAnswered), _short_traceback)


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


def call(
    fn: Any,
    *args: Any,
    name: str | None = None,
    timeout: float | None = None,
    inplace: bool | Iterable[str] = False,
    **kwargs: Any,
) -> Any:
    """Call the student's ``fn`` with a time limit and turn every way it can go wrong into a
    hint: not callable, the unanswered stub, an exception, no return within ``timeout`` s
    (default ``$DLD_CHECK_TIMEOUT`` or 20 s).

    Arrays (also inside lists, tuples and dicts) are passed as fresh copies, so the check never
    shares a reference with the student's code. An answer that modifies an argument fails with
    a hint naming it, unless the task allows updating it in place: ``inplace=True`` for every
    argument, or the names of those that may change, e.g. ``inplace={"state"}``. NumPy arrays in the result are copied too (an answer that returns an internal
    buffer and changes it later cannot alter what the check already holds).
    """
    timeout = timeout or float(os.environ.get("DLD_CHECK_TIMEOUT", DEFAULT_TIMEOUT_S))
    label = name or getattr(fn, "__name__", "your function")
    if fn is None:
        fail(f"expected a function, got None — pass the function itself, e.g. check(...)({label}).")
    if not callable(fn):
        fail(f"expected a function, got {type(fn).__name__} — pass the function, not its result.")
    passed_args = [_copy_arrays(a) for a in args]
    passed_kwargs = {k: _copy_arrays(v) for k, v in kwargs.items()}
    try:
        result = run_with_time_limit(fn, passed_args, passed_kwargs, timeout)
    except _TimeLimit:
        fail(f"`{label}` did not return within {timeout:g} s — is there an infinite loop?")
    except NotImplementedError:
        raise
    except ExerciseFailed:
        raise
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        fail(f"`{label}` raised {type(error).__name__}: {error}{_student_frame_line(error)}")
    if inplace is not True:
        allowed = set(inplace or ())
        names = _parameter_names(fn, len(args))
        for position, (original, passed) in enumerate(zip(args, passed_args)):
            if names[position].strip("`") not in allowed:
                _require_unchanged(original, passed, label, names[position])
        for key, original in kwargs.items():
            if key not in allowed:
                _require_unchanged(original, passed_kwargs[key], label, f"`{key}`")
    return _copy_arrays(result)


def _copy_arrays(value: Any) -> Any:
    """``value`` with every NumPy array (also inside lists, tuples, dicts) copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy_arrays(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_copy_arrays(v) for v in value)
    if type(value) is dict:
        return {k: _copy_arrays(v) for k, v in value.items()}
    return value


def _parameter_names(fn: Any, n: int) -> list[str]:
    import inspect

    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [f"`{params[i]}`" if i < len(params) else f"argument {i + 1}" for i in range(n)]


def _changed(original: Any, passed: Any) -> bool:
    if isinstance(original, np.ndarray):
        if not isinstance(passed, np.ndarray) or passed.shape != original.shape:
            return True
        return not np.array_equal(original, passed, equal_nan=original.dtype.kind in "fc")
    if isinstance(original, (list, tuple)):
        return (type(passed) is not type(original) or len(passed) != len(original)
                or any(_changed(o, q) for o, q in zip(original, passed)))
    if type(original) is dict:
        return (type(passed) is not dict or passed.keys() != original.keys()
                or any(_changed(original[k], passed[k]) for k in original))
    return False


def _require_unchanged(original: Any, passed: Any, label: str, what: str) -> None:
    if _changed(original, passed):
        fail(f"`{label}` modified its input {what} in place — the caller's data changes "
             "under its feet. Work on a copy (e.g. `x = x.copy()`) or build new arrays "
             "(`x = x - step` instead of `x -= step`).")


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
    """The ``len(names)`` values a student's function returned (any sequence: a tuple, a list,
    a NumPy array's rows), or a hint naming them."""
    listed = ", ".join(names)
    if result is None:
        fail(f"{what} returned None — did it forget to `return {listed}`?")
    if isinstance(result, (str, bytes, dict, set)) or not hasattr(result, "__len__"):
        fail(f"{what} should return {len(names)} values `({listed})`, got {type(result).__name__}.")
    try:
        items = tuple(result)
    except TypeError:
        fail(f"{what} should return {len(names)} values `({listed})`, got {type(result).__name__}.")
    if len(items) != len(names):
        fail(f"{what} should return {len(names)} values `({listed})`, got {len(items)}.")
    return items


# --------------------------------------------------------------------------- arrays
FLOAT32_RTOL = 2e-4  # a float32 answer: relative tolerance ...
FLOAT32_ATOL = 1e-5  # ... and absolute tolerance as a fraction of the largest expected value


def precision(value: Any) -> str:
    """'float64', 'float32', 'float16', 'int' or 'other': the precision an answer was given in
    (before any conversion), for NumPy arrays, TF tensors/variables, scalars and lists."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and hasattr(dtype, "as_numpy_dtype"):  # a TensorFlow dtype
        name = getattr(dtype, "name", "")
        if name == "bfloat16":
            return "float16"
        dtype = dtype.as_numpy_dtype
    if dtype is None:
        if isinstance(value, (bool, np.bool_)):
            return "other"
        if isinstance(value, (int, np.integer)):
            return "int"
        if isinstance(value, (float, np.floating)):
            return "float64"
        if isinstance(value, (list, tuple)) and value:
            kinds = {precision(v) for v in value}
            for kind in ("other", "float16", "float32", "float64", "int"):
                if kind in kinds:
                    return kind
        return "other"
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        return "other"
    if dtype.kind == "f":
        return {8: "float64", 4: "float32"}.get(dtype.itemsize, "float16" if dtype.itemsize < 4 else "float64")
    if dtype.kind in "iu":
        return "int"
    if dtype.name == "bfloat16":
        return "float16"
    return "other"


def _numpy(value: Any) -> Any:
    """TF tensors/variables and scipy sparse matrices as NumPy arrays; anything else as is."""
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    if hasattr(value, "toarray") and callable(value.toarray) and hasattr(value, "nnz"):
        return value.toarray()
    return value


def as_array(
    value: Any,
    name: str,
    shape: tuple[int, ...] | None = None,
    *,
    allow_int: bool = False,
) -> np.ndarray:
    """``value`` as a float64 NumPy array, or a failure that says why it cannot be one.

    Accepts NumPy arrays, TF tensors / variables, scipy sparse matrices, Python numbers and
    nested lists. A float32 answer is refused with "float64 is expected" when the running
    exercise does not allow float32; float16 is always refused (too coarse to check).
    """
    if value is None:
        fail(f"{name} is None — did the function forget to `return` it?")
    kind = precision(value)
    value = _numpy(value)
    if isinstance(value, (str, bytes, dict, set)) or callable(value):
        fail(f"{name} should be an array, got {type(value).__name__}.")
    if kind == "float16":
        fail(f"{name} is float16 (or bfloat16): too coarse to check — compute in float32 or float64.")
    if kind == "float32" and current() is not None and not current().float32:
        fail(f"{name} is float32, but float64 is expected in this exercise (its differences are "
             "below float32's precision) — keep the float64 inputs as they are, e.g. "
             "`tf.constant(x, tf.float64)`, no `.astype(np.float32)`.")
    try:
        array = np.asarray(value)
    except Exception:  # ragged lists and other odd objects
        fail(f"{name} could not be turned into an array (got {type(value).__name__}).")
    if array.dtype == object:
        try:
            array = np.asarray(value, dtype=np.float64)
        except Exception:
            fail(f"{name} could not be turned into a numeric array (ragged or mixed values?).")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        fail(f"{name} has dtype {array.dtype}; expected numbers.")
    if np.issubdtype(array.dtype, np.integer) and not allow_int:
        fail(f"{name} has dtype {array.dtype}; expected floating-point values (integer division or rounding?).")
    if np.iscomplexobj(array):
        fail(f"{name} is complex-valued; expected real numbers.")
    if shape is not None and array.shape != tuple(shape):
        if array.size == 1 and int(np.prod(shape)) == 1:
            array = array.reshape(shape)  # a 0-d scalar for a (1,) value or the reverse
        else:
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


@dataclass(frozen=True)
class Tolerance:
    """Elementwise |actual − expected| ≤ atol + rtol·|expected|: the verdict and the diagnosis
    use the same one, so a message never contradicts the verdict."""

    rtol: float
    atol: float

    def close(self, actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
        return np.abs(actual - expected) <= self.atol + self.rtol * np.abs(expected)


def tolerance(answer: Any, expected: np.ndarray, rtol: float, atol: float,
              rtol32: float | None = None, atol32: float | None = None) -> Tolerance:
    """The tolerance for ``answer``: as given for float64, widened to float32's precision
    (relative ``rtol32``, absolute ``atol32`` × the largest expected magnitude) for float32."""
    if precision(answer) != "float32":
        return Tolerance(rtol, atol)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return Tolerance(max(rtol, FLOAT32_RTOL if rtol32 is None else rtol32),
                     max(atol, (FLOAT32_ATOL if atol32 is None else atol32) * scale))


def _expected_array(expected: Any) -> np.ndarray:
    return np.asarray(_numpy(expected), dtype=np.float64)


def assert_close(
    actual: Any,
    expected: Any,
    name: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    hints: Iterable[tuple[Any, str]] = (),
    index_names: Sequence[str] | None = None,
    factors: dict[str, float] | None = None,
    rtol32: float | None = None,
    atol32: float | None = None,
) -> np.ndarray:
    """Fail unless ``actual`` matches ``expected`` elementwise.

    ``hints`` lists (wrong_value, explanation) pairs: if the answer matches a known wrong
    value, that explanation is the message. Generic diagnoses (all zero, flipped sign,
    transposed, a constant factor) are tried next; otherwise the message says where the
    largest error is. ``factors`` names plausible scale slips for this value, e.g.
    ``{"1/N": 1 / N, "η": lr}`` (2 and ½ are always tried). A float32 answer is compared at
    float32 precision (see :func:`tolerance`) where the exercise allows it.
    Returns the answer as a float64 array.
    """
    exp = _expected_array(expected)
    act = as_array(actual, name, exp.shape)
    tol = tolerance(actual, exp, rtol, atol, rtol32, atol32)
    if tol.close(act, exp).all():
        return act
    hint_tol = Tolerance(max(tol.rtol, 1e-6), max(tol.atol, 1e-9))
    for wrong, explanation in hints:
        wrong = _expected_array(wrong)
        if wrong.shape == act.shape and hint_tol.close(act, wrong).all():
            fail(f"{name} is not right: {explanation}")
    fail(f"{name} is not right: {diagnose(act, exp, index_names, tol=tol, factors=factors)}")
    return act  # unreachable, keeps type checkers happy


_ALWAYS_PLAUSIBLE = {"2": 2.0, "½": 0.5}


def _format_pair(expected: float, actual: float) -> tuple[str, str]:
    """The two numbers with just enough significant digits to show that they differ."""
    for digits in (4, 6, 8, 10, 12, 17):
        e, a = f"{expected:.{digits}g}", f"{actual:.{digits}g}"
        if e != a:
            return e, a
    return e, a


def diagnose(
    actual: np.ndarray,
    expected: np.ndarray,
    index_names: Sequence[str] | None = None,
    *,
    tol: Tolerance | None = None,
    factors: dict[str, float] | None = None,
) -> str:
    """A short description of how ``actual`` differs from ``expected`` (same shape), judged
    with the same tolerance as the verdict."""
    tol = tol or Tolerance(1e-5, 1e-8)
    if not actual.any() and expected.any():
        return "every value is zero — a term or a whole gradient missing (or never accumulated)?"
    if np.abs(expected).max(initial=0) > 0 and tol.close(actual, -expected).all():
        return "every value has the wrong sign — a sign flipped somewhere?"
    if (actual.ndim == 2 and actual.shape[0] == actual.shape[1] and actual.shape[0] > 1
            and tol.close(actual, expected.T).all()):
        return "it equals the transpose of the expected value — operands of a product swapped?"
    factor_hint = _constant_factor(actual, expected, tol, factors)
    if factor_hint:
        return factor_hint
    error = np.abs(actual - expected)
    bad = ~tol.close(actual, expected)
    if actual.ndim:
        where = np.unravel_index(int(np.argmax(np.where(bad, error, -1.0))), error.shape)
        names = index_names or [f"axis {i}" for i in range(len(where))]
        location = ", ".join(f"{n} {i}" for n, i in zip(names, where))
        e, a = _format_pair(float(expected[where]), float(actual[where]))
        return (f"largest difference at {location} (expected {e}, got {a}); "
                f"{_share(bad)} of the values differ.")
    e, a = _format_pair(float(expected), float(actual))
    return f"expected {e}, got {a}."


def _share(bad: np.ndarray) -> str:
    share = float(np.mean(bad))
    if share >= 1.0:
        return "all"
    return f"{math.floor(share * 100)}%" if share >= 0.01 else "fewer than 1%"


def _constant_factor(actual: np.ndarray, expected: np.ndarray, tol: Tolerance,
                     factors: dict[str, float] | None) -> str | None:
    """'off by a factor of …' when actual = c · expected for one c. For a single number that
    is said only for a plausible c (2, ½, or one of ``factors``): any two numbers have a ratio."""
    nonzero = np.abs(expected) > 1e-12
    if not nonzero.any():
        return None
    ratio = float(actual[nonzero].flat[0] / expected[nonzero].flat[0])
    if not np.isfinite(ratio) or math.isclose(ratio, 1.0, rel_tol=1e-9) or ratio == 0:
        return None
    if not tol.close(actual, ratio * expected).all():
        return None
    named = {**_ALWAYS_PLAUSIBLE, **(factors or {})}
    for label, value in named.items():
        inverse = label[2:] if label.startswith("1/") else f"1/{label}" if len(label) == 1 else f"1/({label})"
        for c, text in ((value, label), (1 / value if value else 0, inverse)):
            if c and math.isclose(ratio, c, rel_tol=1e-6):
                return f"it is off by a factor of {text} — a missing or extra scale?"
    if np.count_nonzero(nonzero) >= 2:
        return f"it is off by a constant factor of {ratio:.4g} — a missing or extra scale?"
    return None


def assert_blocks_close(
    actual: Any,
    expected: Any,
    name: str,
    blocks: dict[str, Any],
    *,
    layout: str | None = None,
    hints: Iterable[tuple[Any, str]] = (),
    rtol: float = 1e-5,
    atol: float = 1e-7,
    index_names: Sequence[str] | None = None,
) -> np.ndarray:
    """``assert_close`` for an answer made of named blocks (LSTM gates [i, f, c, o], GRU
    [z, r, h], …): ``blocks`` maps each block's name to its index into the array (e.g.
    ``np.s_[:, 0:u]``). A wrong answer is told which blocks are wrong, and whether a block holds
    another block's values (blocks in the wrong order, ``layout`` names the expected order)."""
    exp = _expected_array(expected)
    act = as_array(actual, name, exp.shape)
    tol = tolerance(actual, exp, rtol, atol)
    if tol.close(act, exp).all():
        return act
    hint_tol = Tolerance(max(tol.rtol, 1e-6), max(tol.atol, 1e-9))
    for wrong, explanation in hints:
        wrong = _expected_array(wrong)
        if wrong.shape == act.shape and hint_tol.close(act, wrong).all():
            fail(f"{name} is not right: {explanation}")
    wrong_blocks = [b for b, index in blocks.items() if not tol.close(act[index], exp[index]).all()]
    right = [b for b in blocks if b not in wrong_blocks]
    for b in wrong_blocks:
        for other, index in blocks.items():
            if other != b and act[blocks[b]].shape == exp[index].shape and tol.close(act[blocks[b]], exp[index]).all():
                order = f" (expected order {layout})" if layout else ""
                fail(f"{name} is not right: block {b} holds the values of block {other} — "
                     f"blocks in the wrong order{order}?")
        block_act, block_exp = act[blocks[b]], exp[blocks[b]]
        if block_act.ndim == 2 and block_act.shape[0] == block_act.shape[1] and tol.close(block_act, block_exp.T).all():
            fail(f"{name} is not right: block {b} is transposed.")
    first = wrong_blocks[0]
    detail = diagnose(act[blocks[first]], exp[blocks[first]], index_names, tol=tol)
    rest = f" ({', '.join(right)} right)" if right else ""
    listed = ", ".join(wrong_blocks)
    fail(f"{name} is not right in block{'s' if len(wrong_blocks) > 1 else ''} {listed}{rest}: "
         f"in block {first}, {detail}")
    return act


def assert_each_close(items: Sequence[tuple[str, Any, Any]], **options: Any) -> list[np.ndarray]:
    """Compare several named results (e.g. the gradients dW, dU, db) and, when some are wrong,
    name all the wrong ones in one message (the first one's diagnosis follows).
    ``options`` go to :func:`assert_close`, or per item as a 4th element dict."""
    arrays, wrong = [], []
    first_message = None
    for item in items:
        name, act, exp = item[:3]
        opts = {**options, **(item[3] if len(item) > 3 else {})}
        try:
            arrays.append(assert_close(act, exp, name, **opts))
        except ExerciseFailed as failure:
            wrong.append(name)
            first_message = first_message or str(failure)
    if wrong:
        right = [item[0] for item in items if item[0] not in wrong]
        if len(wrong) == 1:
            fail(first_message)
        fail(f"{', '.join(wrong)} are wrong ({', '.join(right) or 'none'} right). First: {first_message}")
    return arrays


def random_inputs(seed: int, *shapes: tuple[int, ...], scale: float = 1.0) -> list[np.ndarray]:
    """Reproducible standard-normal test inputs (float64) for checks."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(s) for s in shapes]
