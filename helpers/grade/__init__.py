"""Grade submitted notebooks against the trusted solutions (instructor tool).

    python -m helpers.grade SUBMISSIONS --out DIR [--jobs N] [--shard I/N] [--timeout S]
    python -m helpers.grade merge DIR1 DIR2 ... --out DIR      # join shard runs
    dld-grade SUBMISSIONS --out DIR                              # the same, as a console command

The stages, one module each (README, "Grading submissions", says what each one protects):

* :mod:`~helpers.grade.collect` — every file found becomes a row or a skip note; zip members streamed with limits;
* :mod:`~helpers.grade.identify` — student, chapter, the answer cells merged into a fresh trusted notebook;
* :mod:`~helpers.grade.sandbox` — one bubblewrap sandbox per submission (namespaces, read-only course, limits);
* :mod:`~helpers.grade.agent` — inside the sandbox: runs the cells, calls the student's functions on request;
* :mod:`~helpers.grade.wire` / :mod:`~helpers.grade.proxy` — data-only messages; the student's functions as proxies;
* :mod:`~helpers.grade.run` — checks and hidden tests run here, in the grader, never in the sandbox; worker pool;
* :mod:`~helpers.grade.journal` — the resumable journal, keyed by everything that can change a verdict;
* :mod:`~helpers.grade.report` — grades.csv, report.md, results.json;
* :mod:`~helpers.grade.cli` — the command line, sharding, merge, exit codes.
"""
from __future__ import annotations

from helpers.grade.cli import exit_code, grade, main, merge
from helpers.grade.identify import Job, SubmissionError, student_of
from helpers.grade.journal import write_atomic
from helpers.grade.report import gradebook
from helpers.grade.run import Options, grade_job, verdict
from helpers.grade.sandbox import Limits, missing_tool

# (the stage modules keep their names: helpers.grade.collect, .identify, ... are modules, not functions)
__all__ = ["Job", "Limits", "Options", "SubmissionError", "exit_code", "grade", "grade_job", "gradebook",
           "main", "merge", "missing_tool", "student_of", "verdict", "write_atomic"]
