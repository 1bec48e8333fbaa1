"""Replaying a solution notebook and running the mutants of each exercise through its check."""
from __future__ import annotations

import contextlib
import _thread
import importlib.util
import io
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from helpers.mutants.operators import generate, sample, strip_hidden

ROOT = Path(__file__).resolve().parents[2]
FLOAT32_REASON = "float32 cast; the exercise accepts float32 answers"


def equivalents(chapter: int) -> dict[str, dict[str, str]]:
    """``EQUIVALENT`` from tests/test_checks_chNN.py (imported by path; its tests are not run)."""
    path = ROOT / "tests" / f"test_checks_ch{chapter:02d}.py"
    if not path.exists():
        return {}
    tests = str(ROOT / "tests")
    added = tests not in sys.path
    if added:
        sys.path.insert(0, tests)
    try:
        spec = importlib.util.spec_from_file_location(f"_mutant_equivalents_{chapter:02d}", path)
        module = importlib.util.module_from_spec(spec)
        with contextlib.redirect_stdout(io.StringIO()):
            spec.loader.exec_module(module)
    finally:
        if added:
            sys.path.remove(tests)
    return getattr(module, "EQUIVALENT", {})


def allows_float32(ex_id: str) -> bool:
    """Whether the registry says exercise ``ex_id`` accepts float32 answers (its ``float32`` flag,
    the framework's per-exercise dtype policy)."""
    from helpers import checks

    return bool(getattr(checks.get(ex_id), "float32", False))


HEADER = f"{'exercise':<9}{'mutants':>8}{'killed':>8}{'survived':>9}{'equiv.':>8}{'kill %':>8}  note"


def _line(r: Result, floor: float = 0.95) -> str:
    if r.error:
        return f"{r.exercise:<9}{'':>8}{'':>8}{'':>9}{'':>8}{'':>8}  CANNOT EVALUATE: {r.error}"
    rate = r.kill_rate
    note = [] if r.passes(floor) else ["FAIL"]
    if len(r.outcomes) < r.generated:
        note.append(f"sample of {r.generated}")
    if r.unused:
        note.append(f"{len(r.unused)} unused EQUIVALENT")
    if r.stale:
        note.append(f"{len(r.stale)} EQUIVALENT killed")
    note.append(f"{r.seconds:.0f} s")
    percent = "-" if rate is None else f"{100 * rate:.1f}"
    return (f"{r.exercise:<9}{len(r.outcomes):>8}{r.count('killed'):>8}{r.count('survived'):>9}"
            f"{r.count('equivalent'):>8}{percent:>8}  {', '.join(note)}")


# =========================================================================== running
@dataclass
class Outcome:
    id: str
    status: str  # killed, survived, equivalent
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Result:
    exercise: str
    generated: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    error: str = ""  # "cannot evaluate" reason
    unused: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # recorded equivalent, yet killed
    float32_rejected: list[str] = field(default_factory=list)  # float32 allowed, yet the cast was killed
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def kill_rate(self) -> float | None:
        scored = len(self.outcomes) - self.count("equivalent")
        return self.count("killed") / scored if scored else None

    def passes(self, floor: float) -> bool:
        rate = self.kill_rate
        return not self.error and self.count("survived") == 0 and (rate is None or rate >= floor)


class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the main thread after ``seconds`` (a KeyboardInterrupt, turned into _Timeout).
    The check's own per-call limit (SIGALRM, ``DLD_CHECK_TIMEOUT``) usually fires first; this one
    bounds the whole check."""
    lock, state = threading.Lock(), {"done": False, "fired": False}

    def watchdog() -> None:
        time.sleep(seconds)
        with lock:
            if not state["done"]:
                state["fired"] = True
                _thread.interrupt_main()

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        yield
    except KeyboardInterrupt:
        if state["fired"]:
            raise _Timeout() from None
        raise
    finally:
        with lock:
            state["done"] = True


class Replay:
    """A solution notebook replayed cell by cell in an in-process IPython shell."""

    def __init__(self, path: Path) -> None:
        os.environ["DLD_STATIC_WIDGETS"] = "1"
        os.environ["MPLBACKEND"] = "Agg"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        from IPython.core.interactiveshell import InteractiveShell

        self.path = path
        self.shell = InteractiveShell.instance()
        self.shell.display_pub.publish = lambda *a, **k: None  # no display output
        os.chdir(path.parent)

    def run_cell(self, source: str) -> BaseException | None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            result = self.shell.run_cell(source, store_history=False, silent=True)
        return result.error_before_exec or result.error_in_exec

    def execute(self, code: str) -> None:
        """Run code in the notebook namespace (raises what it raises; output discarded)."""
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(code, "<answer cell>", "exec"), self.shell.user_ns)

    def check(self, source: str, limit: float) -> str | None:
        """Evaluate a check cell: None when it passes, else why not."""
        out = io.StringIO()
        try:
            with _time_limit(limit), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(source, "<check cell>", "exec"), self.shell.user_ns)
        except _Timeout:
            return f"timed out after {limit:g} s"
        except AssertionError as error:
            return f"rejected: {str(error).splitlines()[0][:160] if str(error) else type(error).__name__}"
        except BaseException as error:  # noqa: BLE001 - a mutant may raise anything
            return f"raised {type(error).__name__}: {str(error)[:120]}"
        return None if "✓" in out.getvalue() else f"printed no ✓ line: {out.getvalue()[:80]!r}"


def _snapshot(ns: dict) -> list[tuple[Any, Any]]:
    """Copies of the notebook's NumPy arrays, so a mutant that changes one in place is undone."""
    import numpy as np

    arrays = [v for k, v in ns.items() if isinstance(v, np.ndarray) and not k.startswith("_")]
    return [(a, a.copy()) for a in arrays if a.nbytes < 50_000_000]


def _restore(snapshot: list[tuple[Any, Any]]) -> None:
    import numpy as np

    for array, saved in snapshot:
        try:
            changed = not np.array_equal(array, saved, equal_nan=array.dtype.kind in "fc")
        except (TypeError, ValueError):  # object arrays of odd things: put them back regardless
            changed = True
        if changed and array.flags.writeable:
            array[...] = saved


def run_chapter(path: Path, only: str | None = None, k: int | None = None, seed: int = 0,
                log: Callable[[str], None] = print, k_for: dict[str, int] | None = None,
                replay_all: bool = False) -> list[Result]:
    """Replay one solution notebook (only the cells its exercises read, unless ``replay_all``) and
    run the mutants of each exercise through its check: all of them, or a sample of ``k`` per
    exercise (``k_for[exercise]`` where given)."""
    import nbformat
    from helpers import build, dataflow

    nb = nbformat.read(path, as_version=4)
    exercises = [e for e in build.exercises(nb, path.name) if only in (None, e.id)]
    if not exercises:
        return []
    chapter = int(path.name[:2])
    recorded = equivalents(chapter)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    chosen = {code.index(i) for e in exercises for i in (e.check_cell, *e.answer_cells)}
    needed = set(code) if replay_all else {
        code[k] for k in dataflow.needed([nb.cells[i].source for i in code], chosen)}
    replay = Replay(path)
    by_check = {e.check_cell: e for e in exercises}
    results = []
    start = time.perf_counter()
    for index, cell in enumerate(nb.cells[: max(by_check) + 1]):
        if index not in needed:  # markdown, or nothing an exercise reads (helpers.dataflow)
            continue
        if index in by_check:  # the reference check runs inside run_exercise
            ex = by_check[index]
            result = run_exercise(replay, nb, ex, recorded.get(ex.id, {}), (k_for or {}).get(ex.id, k), seed, last=index == max(by_check))
            results.append(result)
            log(_line(result))
            continue
        error = replay.run_cell(cell.source)
        if error is not None and not build.check_id(cell):
            log(f"!! {path.name} cell {index} raised {type(error).__name__}: {error} (later exercises may fail)")
    log(f"   {path.name}: {time.perf_counter() - start:.0f} s")
    return results


def run_exercise(replay: Replay, nb: Any, ex: Any, recorded: dict[str, str], k: int | None, seed: int,
                 last: bool = False) -> Result:
    """Run the mutants of one exercise; the notebook state is that right after its check cell."""
    start = time.perf_counter()
    result = Result(ex.id)
    check_source = nb.cells[ex.check_cell].source
    all_mutants = [m for j, c in enumerate(ex.answer_cells) for m in generate(nb.cells[c].source, j)]
    result.generated = len(all_mutants)
    ids = {m.id for m in all_mutants}
    result.unused = sorted(set(recorded) - ids)
    t0 = time.perf_counter()
    verdict = replay.check(check_source, 600)
    reference_s = time.perf_counter() - t0
    if verdict is not None:
        result.error = f"the reference answer does not pass: {verdict}"
        return result
    limit = max(10.0, 5 * reference_s)
    os.environ["DLD_CHECK_TIMEOUT"] = f"{limit:g}"
    float32_ok = allows_float32(ex.id)
    originals = [strip_hidden(nb.cells[c].source) for c in ex.answer_cells]
    snapshot = _snapshot(replay.shell.user_ns)
    try:
        for mutant in sample(all_mutants, k, seed, ex.id):
            t0 = time.perf_counter()
            try:
                replay.execute(mutant.source)
                verdict = replay.check(check_source, limit)
            except BaseException as exc:  # noqa: BLE001 - the mutated cell raised when run
                verdict = f"the answer cell raised {type(exc).__name__}: {exc}"
            finally:
                replay.execute(originals[mutant.cell])
                _restore(snapshot)
            seconds = time.perf_counter() - t0
            if verdict is not None:
                result.outcomes.append(Outcome(mutant.id, "killed", verdict, seconds))
                if mutant.id in recorded:
                    result.stale.append(mutant.id)
                if float32_ok and mutant.operator == "float32" and " raised " not in verdict:
                    result.float32_rejected.append(f"{mutant.id} ({verdict})")
            elif mutant.id in recorded:
                result.outcomes.append(Outcome(mutant.id, "equivalent", recorded[mutant.id], seconds))
            elif float32_ok and mutant.operator == "float32":
                result.outcomes.append(Outcome(mutant.id, "equivalent", FLOAT32_REASON, seconds))
            else:
                result.outcomes.append(Outcome(mutant.id, "survived", "", seconds))
    finally:
        os.environ.pop("DLD_CHECK_TIMEOUT", None)
    after = None if last else replay.check(check_source, 600)  # later exercises need a sound state
    if after is not None:
        result.error = f"the reference fails after the mutants ran (state not restored): {after}"
    result.seconds = time.perf_counter() - start
    return result
