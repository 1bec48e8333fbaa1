"""Student notebooks: in sync with solutions/, and failing exactly at the exercises.

Each student notebook is executed top to bottom with errors allowed. Every check cell must
stop with ExerciseNotAnswered (a NotImplementedError) naming its exercise; answer cells and
cells tagged ``uses-answer`` may stop only with NotImplementedError; every other cell must run
cleanly.
"""
from __future__ import annotations

import os

import nbformat
import pytest

from conftest import ROOT
from helpers import build

STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_build_check_is_clean():
    assert build.stale() == []


def test_every_solution_has_a_student_notebook():
    assert {p.name for p in STUDENT} == {p.name for p in (ROOT / "solutions").glob("*.ipynb")}


def _errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("path", STUDENT, ids=[f"notebook={p.stem}" for p in STUDENT])
def test_student_notebook_fails_only_at_exercises(path):
    from nbclient import NotebookClient

    os.environ["DLD_STATIC_WIDGETS"] = "1"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        ex_id = build.check_id(cell)
        tags = cell.metadata.get("tags", [])
        where = f"{path.name} cell {index} ({cell.get('id')})"
        if ex_id:
            if not errors or errors[0]["ename"] != "ExerciseNotAnswered" or f"Exercise {ex_id}: not answered" not in errors[0]["evalue"]:
                problems.append(f"{where}: check {ex_id} should stop with NotImplementedError, got {errors or 'no error'}")
        elif errors:
            allowed = build.ANSWER_TAG in tags or build.USES_ANSWER_TAG in tags
            if not allowed or errors[0]["ename"] != "NotImplementedError":
                problems.append(f"{where}: unexpected {errors[0]['ename']}: {errors[0]['evalue'][:300]}")
    assert not problems, "\n".join(problems)
