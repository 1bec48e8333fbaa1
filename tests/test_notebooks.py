"""Student notebooks: in sync with solutions/, nothing shown as done before it is, and one Run All
goes through every cell, in order, failing exactly at the exercises.

Each student notebook is run the way JupyterLab's Run All sends it: every cell's execute request
at once, with ``stop_on_error`` false only for cells tagged ``raises-exception`` (JupyterLab's
rule). ipykernel aborts the queued requests after an error in any other cell, so an untagged
cell that raises would stop the run: no request may come back aborted. Every check cell must stop
with ExerciseNotAnswered naming its exercise, shown as one ✗ line; a ``uses-answer`` cell may only
wait for an exercise (the stub's NotImplementedError, shown as one line); every other cell must
run cleanly.

Only the cells that can see an answer are sent: the answer, check and ``uses-answer`` cells and
every cell they depend on by name (``helpers.dataflow``, which errs towards keeping). Every other
cell is, byte for byte, the solution's (``test_build_check_is_clean``), runs before or without any
answer, and is run by nbval in the solution notebook; sending it again would only train the same
models twice. tests/test_browser.py runs a whole student notebook through JupyterLab's own Run All
in Chromium.
"""
from __future__ import annotations

import os
import re
import time

import nbformat
import pytest

from conftest import ROOT
from helpers import build, notebook

STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_build_check_is_clean():
    assert build.stale() == []


def test_every_solution_has_a_student_notebook():
    assert {p.name for p in STUDENT} == {p.name for p in (ROOT / "solutions").glob("*.ipynb")}


@pytest.mark.parametrize("path", STUDENT, ids=[p.stem for p in STUDENT])
def test_no_check_mark_before_it_is_earned(path):
    """No stored output or execution count anywhere; the ✓ line only as 'what you will see'."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name} {cell.id} stores output"
        if build.check_id(cell):
            head, mark, call = cell.source.split("\n")
            assert head == build.EXPECT_HEADER and mark.startswith("# ✓ Exercise ") and call.startswith("check.")
            assert build.RAISES_TAG in cell.metadata.tags


def answer_slice(cells: list) -> list:
    """The code cells that can see an answer, and those they depend on, in notebook order."""
    from helpers import dataflow

    tags = [c.metadata.get("tags", []) for c in cells]
    chosen = {k for k, c in enumerate(cells) if build.check_id(c)
              or {build.ANSWER_TAG, build.USES_ANSWER_TAG} & set(tags[k])}
    return [cells[k] for k in dataflow.needed([c.source for c in cells], chosen)]


def run_all_like_jupyterlab(path, timeout: float = 600.0, only_answer_slice: bool = True) -> list[dict]:
    """Send the code cells of ``path`` (all, or only :func:`answer_slice`) to a fresh kernel at
    once, as JupyterLab's Run All does; return, per cell sent, its reply status, error (ename,
    evalue, traceback) and streams."""
    from jupyter_client.manager import start_new_kernel

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    cells = answer_slice(cells) if only_answer_slice else cells
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(path.parent), startup_timeout=120)
    try:
        runs: dict[str, dict] = {}
        for cell in cells:
            tags = cell.metadata.get("tags", [])
            msg_id = kc.execute(cell.source, stop_on_error=build.RAISES_TAG not in tags)
            runs[msg_id] = {"cell": cell, "status": None, "error": None, "stdout": "", "stderr": "", "idle": False}
        deadline = time.monotonic() + timeout
        while not all(r["status"] for r in runs.values()):
            reply = kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") in runs:
                runs[reply["parent_header"]["msg_id"]]["status"] = reply["content"]["status"]
        while not all(r["idle"] or r["status"] == "aborted" for r in runs.values()):
            msg = kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
            run = runs.get(msg["parent_header"].get("msg_id"))
            if run is None:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "error":
                run["error"] = content
            elif kind == "stream":
                run[content["name"]] += content["text"]
            elif kind == "status" and content["execution_state"] == "idle":
                run["idle"] = True
        return list(runs.values())
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("path", STUDENT, ids=[f"notebook={p.stem}" for p in STUDENT])
def test_student_notebook_fails_only_at_exercises(path):
    os.environ["DLD_STATIC_WIDGETS"] = "1"
    problems = []
    for run in run_all_like_jupyterlab(path):
        cell, error = run["cell"], run["error"]
        tags = cell.metadata.get("tags", [])
        ex_id = build.check_id(cell)
        where = f"{path.name} cell {cell.id}"
        shown = [ANSI.sub("", line) for line in (error or {}).get("traceback", [])]
        if run["status"] == "aborted":
            problems.append(f"{where}: aborted — Run All stopped at an earlier cell that raised without raises-exception")
        elif ex_id:
            if not error or error["ename"] != "ExerciseNotAnswered" or f"Exercise {ex_id}: not answered" not in error["evalue"]:
                problems.append(f"{where}: check {ex_id} should stop with ExerciseNotAnswered, got {error or 'no error'}")
            elif not shown[0].startswith(f"✗ Exercise {ex_id}:") or max(map(len, shown)) > notebook.WIDTH:
                problems.append(f"{where}: the ✗ message is not short lines: {shown}")
        elif error:
            waits = build.USES_ANSWER_TAG in tags and error["ename"] == "NotImplementedError"
            if not waits:
                problems.append(f"{where}: unexpected {error['ename']}: {error['evalue'][:300]}")
            elif len(shown) != 1 or not re.match(r"○ This cell waits for Exercise \d+\.\d+", shown[0]):
                problems.append(f"{where}: a cell waiting for an answer should say so in one line, showed {shown}")
        if "ipykernel_" in run["stderr"]:
            problems.append(f"{where}: stderr names a temporary file: {run['stderr'][:300]}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- what the student sees
def test_wrap_breaks_only_between_words():
    hint = "Exercise 6.3: dW_hh is not right: " + "largest difference at time step 0, missing the recurrent term? " * 3
    lines = notebook.wrap(f"✗ {hint}")
    assert len(lines) > 1 and all(len(line) <= notebook.WIDTH for line in lines)
    assert lines[0].startswith("✗ Exercise 6.3:") and all(line.startswith("  ") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == f"✗ {hint}".strip()
    assert notebook.wrap("x " + "a" * 120) == ["x", "  " + "a" * 120]  # a long word is never cut


def _raise(source: str):
    try:
        exec(compile(source, "<cell>", "exec"), {})
    except BaseException as error:  # noqa: BLE001
        return error, error.__traceback__
    raise AssertionError("did not raise")


def test_verdicts_and_waiting_cells_are_one_line_each():
    from helpers.checks import ExerciseFailed, ExerciseNotAnswered

    assert notebook.verdict_lines(ExerciseFailed("Exercise 0.1: softmax contains NaN")) == ["✗ Exercise 0.1: softmax contains NaN"]
    assert notebook.verdict_lines(ExerciseNotAnswered("Exercise 0.2: not answered yet"))[0].startswith("✗ Exercise 0.2")
    stub = 'def f():\n    raise NotImplementedError("Exercise 3.2: replace this line with your answer")\n'
    assert notebook.verdict_lines(*_raise(stub + "f()")) == [
        "○ This cell waits for Exercise 3.2: answer it, run that cell, then run this one again."]
    top = _raise('raise NotImplementedError("Exercise 3.2: replace this line with your answer")')
    assert notebook.verdict_lines(*top)[0].startswith("✎ Exercise 3.2: not answered yet")
    assert notebook.verdict_lines(*_raise("raise NotImplementedError('no GPU kernel')")) is None  # usual traceback
    assert notebook.verdict_lines(*_raise("1 / 0")) is None


def test_student_warning_is_one_line_without_path_once_per_cell(monkeypatch):
    import io

    others = []
    monkeypatch.setitem(notebook._state, "showwarning", lambda *args: others.append(args))
    monkeypatch.setitem(notebook._state, "warned", False)
    out = io.StringIO()
    for message in ("overflow encountered in exp", "invalid value encountered in divide"):
        notebook.show_warning(RuntimeWarning(message), RuntimeWarning, "/tmp/ipykernel_4242/1234.py", 3, out)
    assert out.getvalue() == "⚠ RuntimeWarning in your code (line 3): overflow encountered in exp\n"
    notebook._new_cell()
    notebook.show_warning(RuntimeWarning("x"), RuntimeWarning, "/tmp/ipykernel_4242/99.py", 1, out)
    assert out.getvalue().count("\n") == 2
    notebook.show_warning(UserWarning("lib"), UserWarning, "/usr/lib/python3/site-packages/lib.py", 7, out)
    assert len(others) == 1 and out.getvalue().count("\n") == 2  # a library's warning is left to Python


# --------------------------------------------------------------------------- the self-check (pytest)
def test_plugin_judges_exercise_cells():
    from helpers import pytest_plugin as plugin

    def cell(*tags, **meta):
        return nbformat.v4.new_code_cell("x", metadata={"tags": list(tags), **meta})

    assert plugin.exercise_role(cell("nbval-check-output", "raises-exception", exercise="0.1")) == "check"
    assert plugin.exercise_role(cell("answer", "raises-exception")) == "answer"
    assert plugin.exercise_role(cell("uses-answer", "raises-exception")) == "uses-answer"
    assert plugin.exercise_role(cell("nbval-check-output", exercise="0.1")) is None  # a solution: nbval decides
    assert plugin.exercise_role(cell("raises-exception")) is None  # an author's own expected error
    error = {"output_type": "error", "ename": "ExerciseFailed", "evalue": "Exercise 0.1: contains NaN", "traceback": []}
    ok = {"output_type": "stream", "name": "stdout", "text": "✓ Exercise 0.1: fine\n"}
    stub = {**error, "ename": "NotImplementedError", "evalue": "Exercise 0.1: replace this line with your answer"}
    bug = {**error, "ename": "ValueError", "evalue": "shapes (3,) and (4,) not aligned", "traceback": ["\x1b[31mtb\x1b[0m"]}
    assert plugin.judge("check", "0.1", [error]) == "Exercise 0.1: contains NaN"
    assert plugin.judge("check", "0.1", [ok]) is None
    assert "no ✓ line" in plugin.judge("check", "0.1", [])
    assert plugin.judge("uses-answer", "", [stub]) is None and plugin.judge("answer", "0.1", []) is None
    assert plugin.judge("uses-answer", "", [bug]).startswith("this uses-answer cell raised ValueError: shapes")
    assert "\x1b" not in plugin.judge("answer", "0.1", [bug])


def test_self_check_fails_exactly_at_unanswered_exercises_with_the_hint(tmp_path):
    """`pytest notebooks/00_orientation.ipynb` as a student runs it, with 0.1 answered and 0.2 not:
    exactly check 0.2 fails, its hint the failure's first line; check 0.1 passes, and the later
    cell that uses softmax runs (it would only wait, and pass, while 0.1 is unanswered)."""
    import subprocess
    import sys

    solution = {c.id: c.source for c in nbformat.read(ROOT / "solutions" / "00_orientation.ipynb", as_version=4).cells}
    student = nbformat.read(ROOT / "notebooks" / "00_orientation.ipynb", as_version=4)
    for c in student.cells:
        if c.id == "ex-0-1-answer":
            c.source = solution[c.id]
    nbformat.write(student, tmp_path / "00_orientation.ipynb")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "-rf", "-q", "00_orientation.ipynb"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    failed = re.findall(r"^FAILED (\S+::Cell \d+) - (.*)$", done.stdout, re.M)
    assert done.returncode == 1 and len(failed) == 1, done.stdout[-3000:]
    assert failed[0][0] == "00_orientation.ipynb::Cell 11", done.stdout[-3000:]  # ex-0-2-check
    assert failed[0][1].startswith("Exercise 0.2: not answered yet"), failed
    assert re.search(r"\b1 failed, 14 passed", done.stdout), done.stdout[-1000:]
