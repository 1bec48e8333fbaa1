"""helpers.build: stubs, normalisation, structure errors, and failing on raise/stderr."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import build


def _nb(*cells):
    nb = new_notebook()
    nb.cells = list(cells)
    return nb


ANSWER = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"


def test_stub_replaces_solution_keeps_indent_and_drops_hidden_tests():
    source = ANSWER + "### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\nprint('kept')"
    out = build.stub(source, "3.2")
    assert "return x + 1" not in out and "assert f(1)" not in out
    assert '    raise NotImplementedError("Exercise 3.2: replace this line with your answer")' in out
    assert out.startswith("def f(x):") and out.endswith("print('kept')")


def test_normalize_assigns_ids_and_tags():
    nb = _nb(new_markdown_cell("# t"), new_code_cell(ANSWER), new_code_cell("check.ex_3_2(f)"))
    normal = build.normalize(nb)
    answer, check = normal.cells[1], normal.cells[2]
    assert answer["id"] == "ex-3-2-answer" and "answer" in answer.metadata["tags"]
    assert check["id"] == "ex-3-2-check" and "nbval-check-output" in check.metadata["tags"]
    assert answer.metadata["exercise"] == check.metadata["exercise"] == "3.2"
    assert len({c["id"] for c in normal.cells}) == 3
    assert build.normalize(normal) == normal  # idempotent


@pytest.mark.parametrize(
    "cells, message",
    [
        ([new_code_cell(ANSWER)], "no check cell after it"),
        ([new_code_cell("### BEGIN SOLUTION\nx = 1\n")], "unbalanced"),
        ([new_code_cell("check.ex_1_1(f)"), new_code_cell("check.ex_1_1(f)")], "checked twice"),
    ],
)
def test_bad_structure_is_reported(cells, message):
    with pytest.raises(build.BuildError, match=message):
        build.normalize(_nb(*cells))


def test_student_version_earns_nothing_in_advance():
    """No stored ✓ or execution count under a check: the ✓ line is shown as "what you will see";
    answer, check and uses-answer cells are tagged raises-exception so Run All goes on."""
    uses = new_code_cell("print(f(1))", metadata={"tags": ["uses-answer"]})
    nb = build.normalize(_nb(new_code_cell("x = 1\nprint(x)"), new_code_cell(ANSWER), new_code_cell("check.ex_3_2(f)"), uses))
    for count, cell in enumerate(nb.cells, 1):
        cell["execution_count"] = count
        cell["outputs"] = [nbformat.v4.new_output("stream", name="stdout", text=f"out {count}\n")]
    nb.cells[2]["outputs"] = [nbformat.v4.new_output("stream", name="stdout", text="✓ Exercise 3.2: f adds one\n")]
    student = build.student_version(nb)
    plain, answer, check, later = student.cells
    for cell in student.cells:
        assert cell["outputs"] == [] and cell["execution_count"] is None
    assert "NotImplementedError" in answer["source"]
    assert check["source"] == f"{build.EXPECT_HEADER}\n# ✓ Exercise 3.2: f adds one\ncheck.ex_3_2(f)"
    assert build.check_id(check) == "3.2" and build.exercises(student)[0].check_cell == 2
    assert [build.RAISES_TAG in c.metadata.get("tags", []) for c in student.cells] == [False, True, True, True]
    assert build.RAISES_TAG not in str(nb)  # the solution itself is untouched
    assert build.normalize(student) == student  # the comment lines do not hide the check cell


def test_student_version_refuses_unexecuted_check():
    nb = build.normalize(_nb(new_code_cell(ANSWER), new_code_cell("check.ex_3_2(f)")))
    with pytest.raises(build.BuildError, match="no stored ✓ output"):
        build.student_version(nb)


@pytest.mark.parametrize(
    "source, message",
    [("raise ValueError('bad cell')", "a cell raised"), ("import sys; print('oops', file=sys.stderr)", "wrote to stderr")],
)
def test_execute_fails_on_raise_and_stderr(tmp_path, source, message):
    nb = _nb(new_code_cell("x = 1"), new_code_cell(source))
    with pytest.raises(build.BuildError, match=message):
        build.execute(nb, tmp_path, "test.ipynb")


def test_check_detects_a_stale_student_notebook(tmp_path, monkeypatch):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    notebooks.mkdir()
    monkeypatch.setattr(build, "SOLUTIONS", solutions)
    monkeypatch.setattr(build, "NOTEBOOKS", notebooks)
    nb = build.normalize(_nb(new_code_cell("print(1)")))
    nb.cells[0]["execution_count"] = 1
    (solutions / "01_demo.ipynb").write_text(build.dumps(nb))
    assert build.stale() == ["notebooks/01_demo.ipynb is missing"]
    (notebooks / "01_demo.ipynb").write_text(build.dumps(build.student_version(nb)))
    assert build.stale() == []
    nb.cells[0]["source"] = "print(2)"
    (solutions / "01_demo.ipynb").write_text(build.dumps(nb))
    assert build.stale() == ["notebooks/01_demo.ipynb differs from what solutions/01_demo.ipynb generates"]
    (notebooks / "99_orphan.ipynb").write_text("{}")
    assert "notebooks/99_orphan.ipynb has no source in solutions/" in build.stale()
