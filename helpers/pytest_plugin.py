"""pytest plugin (registered through the ``pytest11`` entry point in pyproject.toml).

* nbval: stderr is not compared (TF writes log lines there that differ between JupyterLab and
  pytest), and neither are HTML/JS outputs; figures are never compared by nbval anyway.
* Widgets draw their static state in every kernel started under pytest.
* A per-notebook timing table is printed at the end of the run (and written to
  ``.timings.csv`` when ``DLD_TIMINGS`` names a file).
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

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


def _notebook_of(report) -> str | None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        return path
    marker = "notebook="  # tests parametrised per notebook report under the notebook's name
    if marker in report.nodeid:
        return "notebooks/" + report.nodeid.split(marker, 1)[1].split("]")[0] + ".ipynb (student run)"
    return None


def pytest_runtest_logreport(report) -> None:
    notebook = _notebook_of(report)
    if notebook is None:
        return
    _durations[notebook] += report.duration
    if report.failed:
        _outcomes[notebook] = "FAILED"
    else:
        _outcomes.setdefault(notebook, "ok")


def pytest_terminal_summary(terminalreporter) -> None:
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
