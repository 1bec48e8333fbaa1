"""What a student sees in JupyterLab when a cell cannot do its job yet: one short line.

Installed into the kernel by ``helpers.check`` (through
``helpers.checks.install_short_tracebacks``):

* a check's verdict (``ExerciseFailed`` / ``ExerciseNotAnswered``) is shown as its hint alone,
  ``✗ Exercise 6.3: ...``, wrapped at word boundaries, instead of a traceback through the checker;
* a cell that calls a function whose answer is still the stub (``NotImplementedError("Exercise
  N.M: ...")``, typically a ``uses-answer`` cell) says in one line which exercise it waits for;
* a warning raised in the student's own code (NumPy's ``RuntimeWarning: overflow encountered in
  exp``) is printed as one line without the kernel's temporary file path, at most once per cell.

Only the display changes: the exception still propagates, so the cell still ends in an error for
nbval, nbclient and the grader, which read the exception's type and message (``ename`` and
``evalue``), not these lines. Whether JupyterLab's Run All continues after such a cell is decided
by the cell's ``raises-exception`` tag, which ``helpers.build`` gives exactly these cells in a
student notebook (see the README's design notes).
"""
from __future__ import annotations

import re
import sys
import textwrap
import warnings
from types import TracebackType
from typing import Any

WIDTH = 88  # characters per line of a verdict: fits a JupyterLab output area without wrapping
RED, YELLOW, RESET = "\x1b[31m", "\x1b[33m", "\x1b[0m"
STUB = re.compile(r"^Exercise (\d+\.\d+):")

_state: dict[str, Any] = {"warned": False, "hook": None, "showwarning": None}


def wrap(text: str, width: int = WIDTH) -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken only between words (a word
    longer than the line stays whole); continuation lines are indented by two spaces."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width=width, initial_indent="  " if lines else "", subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False) or [""]
    return lines


def waiting_for(value: BaseException) -> str | None:
    """'3.2' when ``value`` is the NotImplementedError raised by exercise 3.2's stub, else None."""
    if isinstance(value, NotImplementedError):
        match = STUB.match(str(value))
        if match:
            return match.group(1)
    return None


def _raised_in_this_cell(tb: TracebackType | None) -> bool:
    """True when the innermost frame is the running cell's own top level (not a function)."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_name == "<module>"


def verdict_lines(value: BaseException, tb: TracebackType | None = None) -> list[str] | None:
    """The lines to show for ``value`` (no colour), or None to show the usual traceback."""
    from helpers.checks import ExerciseFailed, ExerciseNotAnswered

    if isinstance(value, (ExerciseFailed, ExerciseNotAnswered)):
        return wrap(f"✗ {value}")
    ex_id = waiting_for(value)
    if ex_id is None:
        return None
    if _raised_in_this_cell(tb):
        return wrap(f"✎ Exercise {ex_id}: not answered yet — write your answer in this cell, then run it.")
    return wrap(f"○ This cell waits for Exercise {ex_id}: answer it, run that cell, then run this one again.")


def short_traceback(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """IPython custom exception handler: a verdict or a wait in one short coloured line; any other
    exception (a NotImplementedError of some library, say) gets IPython's usual traceback."""
    lines = verdict_lines(value, tb)
    if lines is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        return []
    colour = RED if lines[0].startswith("✗") else YELLOW
    stb = [f"{colour}{line}{RESET}" for line in lines]
    shell._showtraceback(etype, value, stb)
    return stb


def _student_file(filename: str) -> bool:
    """Is this the code of a notebook cell (ipykernel's temporary file, or IPython's input)?"""
    name = str(filename).replace("\\", "/")
    return "/ipykernel_" in name or name.startswith("<ipython-input") or name.startswith("<cell")


def show_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """``warnings.showwarning`` for the kernel: one line, no path, once per cell, for a warning
    raised in the student's own code; any other warning is shown as Python shows it."""
    if not _student_file(filename):
        _state["showwarning"](message, category, filename, lineno, file, line)
        return
    if _state["warned"]:
        return
    _state["warned"] = True
    text = f"⚠ {category.__name__} in your code (line {lineno}): {message}"
    print(text if len(text) <= WIDTH else text[: WIDTH - 1] + "…", file=file or sys.stderr)


def _new_cell(*_: Any) -> None:
    _state["warned"] = False


def install(shell: Any = None) -> None:
    """Install the handlers above in the running IPython shell (no-op outside IPython). Safe to
    call again, e.g. after the grader re-imports ``helpers.checks``."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
    if shell is None:
        return
    from helpers.checks import ExerciseFailed, ExerciseNotAnswered

    shell.set_custom_exc((ExerciseFailed, ExerciseNotAnswered, NotImplementedError), short_traceback)
    if warnings.showwarning is not show_warning:
        _state["showwarning"] = warnings.showwarning
        warnings.showwarning = show_warning
    if _state["hook"] is None:
        shell.events.register("pre_run_cell", _new_cell)
        _state["hook"] = _new_cell
