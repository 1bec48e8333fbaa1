"""solutions/ work as an nbgrader source folder as they are: `nbgrader generate_assignment` and
`nbgrader autograde` on chapter 00, with an honest and an unanswered submission."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from helpers import build

CHAPTER = "00_orientation.ipynb"
CONFIG = '''c = get_config()
c.CourseDirectory.course_id = "dld"
c.Execute.timeout = 300       # seconds per cell: importing TensorFlow alone takes a few
c.Execute.iopub_timeout = 60
'''


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("nbgrader")
    # nbgrader runs `alembic` from PATH: the virtualenv's bin/ must be on it
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(exe), *args], cwd=course, env=env, capture_output=True, text=True, timeout=900)


def test_solution_metadata_is_nbgrader_metadata():
    nb = nbformat.read(ROOT / "solutions" / CHAPTER, as_version=4)
    for ex in build.exercises(nb):
        check = nb.cells[ex.check_cell].metadata["nbgrader"]
        assert check == {"grade": True, "grade_id": f"ex-{ex.id.replace('.', '-')}-check", "locked": True,
                         "points": 1, "schema_version": 3, "solution": False, "task": False}
        for index in ex.answer_cells:
            answer = nb.cells[index].metadata["nbgrader"]
            assert answer["solution"] and not answer["grade"] and answer["grade_id"] == nb.cells[index].id


def test_nbgrader_generates_and_autogrades_a_chapter(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is in the dev extra: pip install -e '.[dev]'")
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    (course / "source" / "ch00").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / CHAPTER, course / "source" / "ch00" / CHAPTER)
    (course / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    for args in (["db", "student", "add", "honest"], ["db", "student", "add", "stub"],
                 ["db", "assignment", "add", "ch00"]):
        assert _nbgrader(course, *args).returncode == 0
    made = _nbgrader(course, "generate_assignment", "ch00", "--force")
    assert made.returncode == 0, made.stderr[-3000:]
    release = nbformat.read(course / "release" / "ch00" / CHAPTER, as_version=4)
    answers = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) == 2 and all("raise NotImplementedError" in c.source for c in answers)

    source = {c.id: c.source for c in nbformat.read(ROOT / "solutions" / CHAPTER, as_version=4).cells}
    honest = nbformat.from_dict(release)
    for cell in honest.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "\n".join(line for line in source[cell.id].split("\n")
                                    if build.BEGIN not in line and build.END not in line)
    for student, nb in (("honest", honest), ("stub", release)):
        folder = course / "submitted" / student / "ch00"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / CHAPTER)
    graded = _nbgrader(course, "autograde", "ch00", "--force")
    assert graded.returncode == 0, graded.stderr[-3000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission("ch00", s).score for s in ("honest", "stub")}
        assert gradebook.find_submission("ch00", "honest").max_score == 2
    assert scores == {"honest": 2.0, "stub": 0.0}
