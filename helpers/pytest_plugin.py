"""pytest plugin (registered through the ``pytest11`` entry point in pyproject.toml).

* nbval: stderr is not compared (TF writes log lines there that differ between JupyterLab and
  pytest), and neither are HTML/JS outputs; figures are never compared by nbval anyway.
* Widgets draw their static state in every kernel started under pytest.
* A per-notebook timing table is printed at the end of the run (and written to
  ``.timings.csv`` when ``DLD_TIMINGS`` names a file).
* Student notebooks: ``helpers.build`` tags their answer, check and ``uses-answer`` cells
  ``raises-exception`` so that JupyterLab's Run All goes on past an unanswered exercise. To nbval
  that tag means "an exception is expected here, pass", which would hide every verdict. For those
  cells this plugin judges the outcome itself (:func:`judge`): a check cell fails when it raises,
  with the hint as the failure message, and passes only if it printed its ✓ line; an answer or
  ``uses-answer`` cell passes while it only waits for an unanswered exercise (the exercise's own
  check cell reports that) and fails on any other exception.
"""
from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

_durations: dict[str, float] = defaultdict(float)
_outcomes: dict[str, str] = {}
_SLOW_S = 90.0


def pytest_configure(config) -> None:
    os.environ["DLD_STATIC_WIDGETS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collectstart(collector) -> None:
    if getattr(collector, "path", None) is not None and collector.path.suffix == ".ipynb":
        if hasattr(collector, "skip_compare"):
            collector.skip_compare += ("text/html", "application/javascript", "stderr")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISES, _CHECK, _ANSWER, _USES_ANSWER = "raises-exception", "nbval-check-output", "answer", "uses-answer"
_STUB = re.compile(r"^Exercise \d+\.\d+:")


def exercise_role(cell: Any) -> str | None:
    """'check', 'answer' or 'uses-answer' for a student notebook's exercise cell that carries
    ``raises-exception`` (the cells :func:`judge` decides), else None."""
    metadata = cell.get("metadata", {})
    tags = metadata.get("tags", []) or []
    if _RAISES not in tags:
        return None
    if _CHECK in tags and metadata.get("exercise"):
        return "check"
    if _ANSWER in tags:
        return "answer"
    if _USES_ANSWER in tags:
        return "uses-answer"
    return None


def judge(role: str, exercise: str, outputs: list) -> str | None:
    """The failure message for a cell of this role with these outputs, or None if it passes."""
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if role == "check":
        if errors:
            return errors[0].get("evalue") or errors[0].get("ename", "error")
        stdout = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")
        if not any(line.startswith(f"✓ Exercise {exercise}:") for line in stdout.splitlines()):
            return f"Exercise {exercise}: the check cell printed no ✓ line (was the check call changed?)"
        return None
    if errors and not (errors[0].get("ename") == "NotImplementedError" and _STUB.match(errors[0].get("evalue", ""))):
        error = errors[0]
        return f"this {role} cell raised {error.get('ename')}: {error.get('evalue')}\n\n" + _ANSI.sub(
            "", "\n".join(error.get("traceback", [])))
    return None


def _judged(item: Any, role: str) -> None:
    """Let nbval run the cell collecting its outputs (it does not raise: raises-exception), then
    decide with :func:`judge`; the hint becomes the failure's first line."""
    run = item.runtest
    exercise = str(item.cell.get("metadata", {}).get("exercise", ""))

    def runtest() -> None:
        run()
        message = judge(role, exercise, item.test_outputs or [])
        if message:
            item.raise_cell_error(message)

    def repr_failure(excinfo: Any) -> str:
        error = excinfo.value
        if getattr(error, "cell_num", None) is None:
            return type(item).repr_failure(item, excinfo)
        first, _, rest = str(error).partition("\n")
        return f"{first}\n\nCell {error.cell_num} ({item.cell.get('id')}):\n{item.cell.source}\n{rest}"

    item.runtest, item.repr_failure = runtest, repr_failure


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or not hasattr(item, "test_outputs") or not hasattr(item, "options"):
            continue  # not an nbval cell
        role = exercise_role(cell)
        if role:
            item.options["check_exception"] = True
            _judged(item, role)


def _notebook_of(report) -> str | None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        return path
    # tests parametrised per notebook report under the notebook's name
    for marker, label in (("notebook=", "notebooks/{}.ipynb (student run)"), ("browser=", "notebooks/{}.ipynb (browser)"),
                          ("browser-solution=", "solutions/{}.ipynb (browser)")):
        if f"[{marker}" in report.nodeid:
            return label.format(report.nodeid.split(f"[{marker}", 1)[1].split("]")[0])
    return None


_skipped_browser: list[str] = []
_skipped: set[str] = set()


def pytest_runtest_logreport(report) -> None:
    if report.skipped:
        _skipped.add(report.nodeid)
        if "test_browser.py" in report.nodeid and isinstance(report.longrepr, tuple):
            _skipped_browser[:] = [str(report.longrepr[2]).removeprefix("Skipped: ")]
    notebook = _notebook_of(report)
    if report.nodeid in _skipped:
        return
    if notebook is None:
        return
    _durations[notebook] += report.duration
    if report.failed:
        _outcomes[notebook] = "FAILED"
    else:
        _outcomes.setdefault(notebook, "ok")


def pytest_terminal_summary(terminalreporter) -> None:
    if _skipped_browser:  # one line saying how to enable it, even without -rs
        terminalreporter.write_line(_skipped_browser[0])
    if not _durations:
        return
    write = terminalreporter.write_line
    terminalreporter.section("notebook timings (seconds, summed over cells/steps)")
    for name, seconds in sorted(_durations.items()):
        flag = "  <-- over the 90 s budget" if seconds > _SLOW_S else ""
        write(f"{seconds:8.1f}  {_outcomes.get(name, '?'):6s}  {name}{flag}")
    write(f"{sum(_durations.values()):8.1f}  total")
    target = os.environ.get("DLD_TIMINGS")
    if target:
        lines = ["notebook,seconds,outcome"] + [f"{n},{s:.1f},{_outcomes.get(n, '?')}" for n, s in sorted(_durations.items())]
        Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")
