"""The grader: fixture submissions for chapter 00, built here at run time, get exact grades.

One grading run (two parallel kernels) covers the kernel cases; the unreadable ones need no
kernel. Students and what each proves:

alice  reference answers, cells reordered, extra cells, plus a duplicate empty file   2/2
bob    naive softmax, check cell replaced by a fake ✓ print, `check` rebound;
       the 0.2 answer and check cells deleted                                         0/2
carol  folder convention, cell ids and metadata lost (matched by function name);
       0.1 right but writes files (also onto the gradebook); 0.2 kills the kernel     1/2
dave   0.1 answer cell loops forever (cell timeout); 0.2 passes the check (after the
       timeout) but its answer cell raises in the trusted notebook's hidden test;
       huge output                                                                    0/2
gina malformed JSON, hank truncated, ivan a .txt, judy JSON that is no notebook,
kim a chapter without a trusted notebook, leo chapter 3's notebook named as chapter 0.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from helpers import grade

SOLUTION = nbformat.read(ROOT / "solutions" / "00_orientation.ipynb", as_version=4)
STUDENT = json.loads((ROOT / "notebooks" / "00_orientation.ipynb").read_text(encoding="utf-8"))
REF = {c.id: c.source for c in SOLUTION.cells if c.id.startswith("ex-")}
SUCCESS_01 = "".join(o["text"] for o in next(c for c in SOLUTION.cells if c.id == "ex-0-1-check").outputs)

NAIVE = "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)\n"
NO_DOCSTRING = ("def log_softmax(z):\n    s = z - np.max(z, axis=-1, keepdims=True)\n"
                "    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))\n")
HIDDEN = ('\n### BEGIN HIDDEN TESTS\nassert log_softmax.__doc__, "hidden test: log_softmax lost its docstring"\n'
          "### END HIDDEN TESTS")
CELL_TIMEOUT = 10


def submission(answers: dict[str, str], edit=None) -> bytes:
    """The student notebook with these answer-cell sources, optionally edited further."""
    nb = json.loads(json.dumps(STUDENT))
    for cell in nb["cells"]:
        if cell.get("id") in answers:
            cell["source"] = answers[cell["id"]]
    if edit:
        edit(nb)
    return json.dumps(nb, indent=1).encode()


def cells_by_id(nb: dict) -> dict[str, dict]:
    return {c.get("id"): c for c in nb["cells"]}


def alice_edit(nb: dict) -> None:
    cells = nb["cells"]
    cells.insert(0, cells.pop(next(i for i, c in enumerate(cells) if c["id"] == "ex-0-2-answer")))
    cells.append({"cell_type": "code", "id": "scratch", "metadata": {}, "source": "print('my scratch work')",
                  "outputs": [], "execution_count": None})
    cells.append({"cell_type": "markdown", "id": "notes", "metadata": {}, "source": "My notes."})


def bob_edit(nb: dict) -> None:
    check = cells_by_id(nb)["ex-0-1-check"]
    check["source"] = f"print({SUCCESS_01.strip()!r})"  # the stored ✓ output stays as it was
    nb["cells"] = [c for c in nb["cells"] if c.get("id") not in ("ex-0-2-answer", "ex-0-2-check")]


def carol_edit(nb: dict) -> None:
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {}


def chapter3() -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def conv2d(x, w):\n    return x", id="ex-3-1-answer"),
                nbformat.v4.new_code_cell("check.ex_3_1(conv2d)", id="ex-3-1-check")]
    return nbformat.writes(nb).encode()


def make_submissions(folder: Path, out: Path) -> None:
    ref = {"ex-0-1-answer": REF["ex-0-1-answer"], "ex-0-2-answer": REF["ex-0-2-answer"]}
    alice = submission(ref, alice_edit)
    vandal = "".join(f"open({str(p)!r}, 'w').write('hacked')\n" for p in ("grades.csv", out / "grades.csv", out / "report.md"))
    files = {
        "alice__00_orientation.ipynb": alice,
        "alice/00_orientation.ipynb": b"",
        "bob__00_orientation.ipynb": submission(
            {"ex-0-1-answer": NAIVE + "check = type('Fake', (), {'ex_0_1': staticmethod(lambda f: print("
             + repr(SUCCESS_01.strip()) + "))})()\n"}, bob_edit),
        "carol/00_orientation.ipynb": submission(
            {"ex-0-1-answer": vandal + REF["ex-0-1-answer"],
             "ex-0-2-answer": "def log_softmax(z):\n    return z\n\nimport os\nos._exit(1)\n"}, carol_edit),
        "dave__00_orientation.ipynb": submission(
            {"ex-0-1-answer": "while True:\n    pass\n", "ex-0-2-answer": NO_DOCSTRING + "print('x' * 3_000_000)\n"}),
        "gina__00_orientation.ipynb": b'{"cells": [{"cell_type": "code", "source": ,]}',
        "hank__00_orientation.ipynb": alice[: len(alice) // 2],
        "ivan__notes.txt": b"my answers are in my head",
        "judy__00_orientation.ipynb": b'{"hello": 1}',
        "kim__03_convnets.ipynb": chapter3(),
        "leo__00_orientation.ipynb": chapter3(),
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def trusted_with_hidden_test(folder: Path) -> Path:
    """A copy of solutions/ whose 0.2 answer cell carries a hidden test."""
    nb = json.loads(json.dumps(SOLUTION))
    cells_by_id(nb)["ex-0-2-answer"]["source"] += HIDDEN
    folder.mkdir()
    nbformat.write(nbformat.from_dict(nb), folder / "00_orientation.ipynb")
    return folder


EXPECTED = {  # student: (ex 0.1, ex 0.2, total)
    "alice": ("1", "1", "2"), "bob": ("0", "0", "0"), "carol": ("1", "0", "1"), "dave": ("0", "0", "0"),
    "gina": ("0", "0", "0"), "hank": ("0", "0", "0"),
    "ivan": ("", "", "0"), "judy": ("0", "0", "0"), "kim": ("", "", "0"), "leo": ("0", "0", "0"),
}
REASONS = {  # (file, exercise): regex the reason must match
    ("bob__00_orientation.ipynb", "0.1"): r"^Exercise 0\.1: softmax\(\[1000, 1001\]\) contains NaN — overflow",
    ("bob__00_orientation.ipynb", "0.2"): r"answer cell not found .*ex-0-2-answer",
    ("carol/00_orientation.ipynb", "0.2"): r"kernel died .* answer cell",
    ("dave__00_orientation.ipynb", "0.1"): rf"answer cell timed out after {CELL_TIMEOUT} s",
    ("dave__00_orientation.ipynb", "0.2"): r"raised AssertionError: hidden test: log_softmax lost its docstring",
    ("gina__00_orientation.ipynb", "0.1"): r"not graded: malformed JSON",
    ("hank__00_orientation.ipynb", "0.2"): r"not graded: truncated file",
    ("judy__00_orientation.ipynb", "0.1"): r"not graded: not a Jupyter notebook",
    ("leo__00_orientation.ipynb", "0.1"): r"not graded: wrong chapter: .*chapter 3's exercises, not chapter 0's",
}
ERRORS = {
    "alice/00_orientation.ipynb": r"empty file", "ivan__notes.txt": r"not a notebook \(\.txt file\)",
    "kim__03_convnets.ipynb": r"no trusted notebook for chapter 3",
}


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    folder, out = base / "submissions", base / "out"
    folder.mkdir()
    make_submissions(folder, out)
    opts = grade.Options(cell_timeout=CELL_TIMEOUT, notebook_timeout=300, max_output=10_000,
                         solutions=trusted_with_hidden_test(base / "solutions"), save_notebooks=True)
    results = grade.grade(folder, out, opts, jobs=2, progress=False)
    return base, opts, {r["file"]: r for r in results}


def test_exact_grades(graded):
    base, _, _ = graded
    rows = read_csv(base / "out" / "grades.csv")
    got = {s: (r["ex 0.1"], r["ex 0.2"], r["total"]) for s, r in rows.items()}
    assert got == EXPECTED
    assert {r["max"] for r in rows.values()} == {"2"}
    assert list(rows) == sorted(EXPECTED)


def test_reasons_and_hints(graded):
    _, _, results = graded
    for (file, ex_id), pattern in REASONS.items():
        reason = next(e["reason"] for e in results[file]["exercises"] if e["id"] == ex_id)
        assert re.search(pattern, reason), f"{file} {ex_id}: {reason!r} does not match {pattern!r}"
    for file, pattern in ERRORS.items():
        assert re.search(pattern, results[file]["error"]), (file, results[file]["error"])
    assert any("found by the name `softmax`" in n for n in results["carol/00_orientation.ipynb"]["notes"])
    passed = [e for r in results.values() for e in r["exercises"] if e["points"]]
    assert all(e["reason"] == "" for e in passed)


def test_report_lists_hints(graded):
    base, _, _ = graded
    report = (base / "out" / "report.md").read_text(encoding="utf-8")
    assert "| alice | ✓ | ✓ | 2/2 |" in report
    assert "contains NaN — overflow" in report and "answer cell not found" in report
    assert "hacked" not in report


def test_gradebook_and_cwd_untouched_by_submissions(graded):
    base, _, _ = graded
    assert "hacked" not in (base / "out" / "grades.csv").read_text(encoding="utf-8")
    assert not (ROOT / "grades.csv").exists() and not (base / "submissions" / "grades.csv").exists()


def test_enormous_output_is_truncated(graded):
    base, _, _ = graded
    nb = nbformat.read(base / "out" / "notebooks" / "dave__00_orientation.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.id == "ex-0-2-answer")
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert len(text) < 11_000 and "output beyond 10000 characters dropped" in text


def test_rerun_resumes_from_cache_after_a_crash(graded, monkeypatch):
    base, opts, results = graded
    out = base / "out"
    before = (out / "grades.csv").read_text(encoding="utf-8")
    (out / "grades.csv").write_text("student,ex 0.1\nali", encoding="utf-8")  # half-written by a crash
    entry = out / ".cache" / f"{results['alice__00_orientation.ipynb']['key']}.json"
    saved = json.loads(entry.read_text(encoding="utf-8"))
    entry.write_text(json.dumps(saved)[:40], encoding="utf-8")  # a damaged journal entry
    ran: list[str] = []
    real = grade.grade_job

    def counting(job, options):  # regrading alice would give her saved result: skip the kernel
        if job.notebook is None:
            return real(job, options)
        ran.append(job.file)
        return saved

    monkeypatch.setattr(grade, "grade_job", counting)
    opts = grade.Options(**{**opts.__dict__, "save_notebooks": False})
    grade.grade(base / "submissions", out, opts, jobs=1, progress=False)
    assert ran == ["alice__00_orientation.ipynb"]
    assert (out / "grades.csv").read_text(encoding="utf-8") == before


def test_zip_and_overrides_without_kernels(tmp_path, capsys):
    data = chapter3()
    only_chapter_0 = str(trusted_with_hidden_test(tmp_path / "solutions"))  # chapter 3 has no trusted copy here
    with zipfile.ZipFile(tmp_path / "subs.zip", "w") as archive:
        archive.writestr("course/gina__00_orientation.ipynb", b"{\"cells\": oops}")
        archive.writestr("course/zed/00_orientation.ipynb", data)
        archive.writestr("__MACOSX/._junk", b"junk")
    assert grade.main([str(tmp_path / "subs.zip"), "--out", str(tmp_path / "z"), "--no-progress",
                       "--solutions", only_chapter_0]) == 0
    rows = read_csv(tmp_path / "z" / "grades.csv")
    assert set(rows) == {"gina", "zed"} and rows["zed"]["total"] == "0"
    assert "wrong chapter" in rows["zed"]["notes"] and "malformed JSON" in rows["gina"]["notes"]
    (tmp_path / "x.ipynb").write_bytes(data)
    assert grade.main([str(tmp_path / "x.ipynb"), "--out", str(tmp_path / "o"), "--student", "=cmd",
                       "--chapter", "0", "--no-progress", "--solutions", only_chapter_0]) == 0
    rows = read_csv(tmp_path / "o" / "grades.csv")
    assert list(rows) == ["'=cmd"] and rows["'=cmd"]["ex 0.1"] == "0"


def test_out_folder_inside_submissions_is_not_graded(tmp_path):
    (tmp_path / "ivan__notes.txt").write_bytes(b"no notebook")
    for _ in range(2):
        assert grade.main([str(tmp_path), "--out", str(tmp_path / "grades"), "--no-progress"]) == 0
    assert read_csv(tmp_path / "grades" / "grades.csv")["ivan"]["notes"] == "ivan__notes.txt: not a notebook (.txt file)"
    assert "grades.csv" not in (tmp_path / "grades" / "report.md").read_text(encoding="utf-8")


def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"
    target.write_text("old complete gradebook\n", encoding="utf-8")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        grade.write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old complete gradebook\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_student_and_chapter_from_names():
    assert grade.student_of("x/alice__00_orientation.ipynb") == "alice"
    assert grade.student_of("sub/bob/00_orientation.ipynb") == "bob"
    assert grade.student_of("carol.ipynb") == "carol"
    assert grade.chapter_from_name("alice__07_rnn.ipynb") == 7
    assert grade.chapter_from_name("essay.ipynb") is None
