"""Stage 2: who submitted which chapter, and the merged notebook that will run.

Student (one rule, README "Grading submissions"): a file inside a folder belongs to **the folder
that holds it** (``course/carl/ivy__00_x.ipynb`` is carl's, and the disagreeing file name is
noted: a student chooses a file name, the course's upload system makes the folders); a file at
the top level belongs to the part of its name before ``__`` (``alice__00_x.ipynb``), else to its
name. ``--student`` overrides. Names are NFC-normalised.

Chapter: from the notebook's cells (ids ``ex-N-M-answer`` / ``ex-N-M-check``, metadata
``exercise``, ``check.ex_N_M(...)`` calls), else the ``NN_`` prefix of the file name; ``--chapter``
overrides.

Merging: only the student's answer cells are taken, matched to the trusted notebook by cell id,
else metadata ``exercise``, else the names the trusted answer defines, else similarity to the
stub; they replace the trusted answer cells of a fresh copy of ``solutions/NN_*.ipynb``. Every
other cell, the check cells, their expected output and the hidden tests come from the trusted
copy; the check cells and hidden tests are run by the grader itself, never in the sandbox.
"""
from __future__ import annotations

import ast
import copy
import difflib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from helpers import build

EX_CELL_ID = re.compile(r"^ex-(\d+)-(\d+)-(?:answer|check)")
CHECK_CALL = re.compile(r"check\.ex_(\d+)_(\d+)\s*\(")
DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.M)
NAME_CHAPTER = re.compile(r"^(\d\d)_")
SIMILARITY = 0.6


class SubmissionError(ValueError):
    """A submission that cannot be graded (unreadable, not a notebook, wrong chapter)."""


@dataclass
class Job:
    """One submission, identified and (if readable) merged into the trusted notebook."""

    file: str
    student: str
    chapter: int | None
    error: str = ""
    notes: list[str] = field(default_factory=list)
    exercises: list[dict] = field(default_factory=list)  # id, points, answers, check, call, hidden, expected, missing
    notebook: dict | None = None
    notebook_name: str = ""
    key: str = ""
    trusted_path: str = ""


def student_of(name: str) -> tuple[str, str]:
    """(student, note) for a relative file name, by the rule in the module docstring."""
    path = PurePosixPath(name)
    prefix = path.name.split("__", 1)[0].strip() if "__" in path.name else ""
    if len(path.parts) > 1:
        folder = unicodedata.normalize("NFC", path.parent.name.strip())
        note = ""
        if prefix and unicodedata.normalize("NFC", prefix) != folder:
            note = f"the file name says {prefix!r} but the file is in folder {folder!r}: graded as {folder!r} (the folder decides)"
        return folder, note
    return unicodedata.normalize("NFC", prefix or path.stem), ""


def chapter_from_name(name: str) -> int | None:
    base = PurePosixPath(name).name.split("__", 1)[-1]
    match = NAME_CHAPTER.match(base)
    return int(match.group(1)) if match else None


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def parse_notebook(name: str, data: bytes) -> list[dict]:
    """The code and markdown cells of a submitted notebook, or SubmissionError saying why not."""
    if not name.lower().endswith(".ipynb"):
        raise SubmissionError(f"not a notebook ({PurePosixPath(name).suffix or 'no extension'} file)")
    if not data.strip():
        raise SubmissionError("empty file")
    try:
        nb = json.loads(data)
    except json.JSONDecodeError as error:
        if not error.doc.rstrip().endswith("}"):
            raise SubmissionError(f"truncated file: the JSON ends early ({len(data)} bytes)") from None
        raise SubmissionError(f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise SubmissionError("malformed notebook: JSON nested too deeply") from None
    except ValueError as error:  # bytes that are not UTF-8 text
        raise SubmissionError(f"not a text notebook: {str(error)[:200]}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError("not a Jupyter notebook (JSON without a list of 'cells'; nbformat 4 expected)")
    cells = []
    for cell in nb["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw"):
            meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
            meta = {k: v for k, v in meta.items() if k == "exercise" and isinstance(v, (str, int, float))}
            cells.append({"cell_type": cell["cell_type"], "id": str(cell.get("id") or "")[:200],
                          "metadata": meta, "source": _source(cell)})
    return cells


def chapter_from_cells(cells: list[dict]) -> int | None:
    """The chapter most cells point to (ids, metadata ``exercise``, ``check.ex_N_M`` calls)."""
    votes: Counter[int] = Counter()
    for cell in cells:
        if match := EX_CELL_ID.match(cell["id"]):
            votes[int(match.group(1))] += 1
        exercise = str(cell["metadata"].get("exercise", ""))
        if re.fullmatch(r"\d+\.\d+", exercise):
            votes[int(exercise.split(".")[0])] += 1
        if cell["cell_type"] == "code":
            for match in CHECK_CALL.finditer(cell["source"][:100_000]):
                votes[int(match.group(1))] += 1
    return votes.most_common(1)[0][0] if votes else None


def trusted_chapters(solutions: Path) -> dict[int, Path]:
    return {int(p.name[:2]): p for p in sorted(solutions.glob("*.ipynb")) if build.NAME.match(p.name)}


def hidden_tests(source: str) -> str:
    """The ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions of a trusted cell."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        if line.strip().startswith(build.BEGIN_HIDDEN):
            inside = True
        if inside:
            out.append(line)
        if line.strip().startswith(build.END_HIDDEN):
            inside = False
    return "\n".join(out)


def check_call(source: str) -> tuple[str, list[str], dict[str, str]]:
    """(exercise id, argument expressions, keyword expressions) of a trusted ``check.ex_N_M(...)`` cell."""
    tree = ast.parse(source)
    call = tree.body[0].value if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "check"):
        raise build.BuildError(f"a check cell must be one call check.ex_N_M(...), got {source[:80]!r}")
    match = re.fullmatch(r"ex_(\d+)_(\d+)", call.func.attr)
    if not match:
        raise build.BuildError(f"not a check name: {call.func.attr}")
    args = [ast.get_source_segment(source, a) or "" for a in call.args]
    kwargs = {k.arg: ast.get_source_segment(source, k.value) or "" for k in call.keywords if k.arg}
    return f"{int(match.group(1))}.{int(match.group(2))}", args, kwargs


def find_answers(trusted: dict, cells: list[dict]) -> tuple[dict[int, str], list[str]]:
    """Student source for each trusted answer cell index (absent: not found), and notes on how."""
    exercises = build.exercises(trusted)
    wanted = [(i, ex.id, k) for ex in exercises for k, i in enumerate(ex.answer_cells)]
    trusted_other = {
        c["source"].strip() for j, c in enumerate(trusted["cells"]) if not any(j == w[0] for w in wanted)
    }
    candidates = [
        n for n, c in enumerate(cells)
        if c["cell_type"] == "code" and not CHECK_CALL.search(c["source"]) and c["source"].strip() not in trusted_other
    ]
    used: set[int] = set()
    found: dict[int, str] = {}
    notes: list[str] = []

    def take(index: int, n: int, how: str, ex_id: str) -> None:
        used.add(n)
        found[index] = cells[n]["source"]
        if how:
            notes.append(f"{ex_id}: answer cell found by {how}")

    for index, ex_id, k in wanted:  # 1. the cell id
        tid = trusted["cells"][index]["id"]
        for n, cell in enumerate(cells):
            if cell["id"] == tid and cell["cell_type"] == "code" and n not in used:
                take(index, n, "", ex_id)
                break
    for index, ex_id, k in wanted:  # 2. metadata "exercise" (k-th such cell)
        if index in found:
            continue
        same = [n for n, c in enumerate(cells) if c["cell_type"] == "code"
                and str(c["metadata"].get("exercise", "")) == ex_id and not CHECK_CALL.search(c["source"])]
        if k < len(same) and same[k] not in used:
            take(index, same[k], "metadata 'exercise' (cell id changed)", ex_id)
    for index, ex_id, k in wanted:  # 3. the names it defines (last such cell wins, as when run in order)
        names = set(DEFINES.findall(trusted["cells"][index]["source"]))
        if index in found or not names:
            continue
        hits = [n for n in candidates if n not in used and names & set(DEFINES.findall(cells[n]["source"]))]
        if hits:
            take(index, hits[-1], f"the name `{sorted(names)[0]}` (cell ids missing)", ex_id)
    for index, ex_id, k in wanted:  # 4. similarity to the stub the student started from
        if index in found:
            continue
        stub = build.stub(trusted["cells"][index]["source"], ex_id)
        scored = [(difflib.SequenceMatcher(None, stub, cells[n]["source"]).ratio(), n)
                  for n in candidates if n not in used and len(cells[n]["source"]) < 20_000]
        if scored and max(scored)[0] >= SIMILARITY:
            take(index, max(scored)[1], "similarity to the stub (cell ids missing)", ex_id)
    return found, notes


def merge(trusted: dict, cells: list[dict]) -> tuple[dict, list[dict], list[str]]:
    """A fresh copy of the trusted notebook with the student's answer cells; the exercise plan."""
    answers, notes = find_answers(trusted, cells)
    nb = copy.deepcopy(trusted)
    plan: list[dict] = []
    for ex in build.exercises(nb):
        check = trusted["cells"][ex.check_cell]
        expected = "".join(o.get("text", "") for o in check.get("outputs", [])
                           if o.get("output_type") == "stream" and o.get("name") == "stdout")
        if not expected:
            raise build.BuildError(f"check {ex.id} has no reference output; run `python -m helpers.build` first")
        ex_id, args, kwargs = check_call(check["source"])
        missing, hidden = [], {}
        for index in ex.answer_cells:
            cell = nb["cells"][index]
            if code := hidden_tests(cell["source"]):
                hidden[cell["id"]] = code
            if index in answers:
                cell["source"] = answers[index]
            else:
                missing.append(cell["id"])
                cell["source"] = build.stub(cell["source"], ex.id)
        plan.append({"id": ex.id, "points": check["metadata"].get("points", 1), "check": check["id"],
                     "call": [ex_id, args, kwargs], "answers": [nb["cells"][i]["id"] for i in ex.answer_cells],
                     "hidden": hidden, "expected": expected, "missing": missing})
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb, plan, notes


def identify(name: str, data: bytes | None, read_error: str, chapters: dict[int, Path], student: str | None,
             chapter: int | None, solutions: Path) -> Job:
    """Student, chapter and merged notebook of one file (problems become ``job.error``)."""
    who, note = (student, "") if student else student_of(name)
    job = Job(name, who, chapter, notes=[note] if note else [])
    cells: list[dict] = []
    try:
        if read_error or data is None:
            raise SubmissionError(read_error or "unreadable")
        cells = parse_notebook(name, data)
    except SubmissionError as error:
        job.error = str(error)
        if job.chapter is None:
            named = chapter_from_name(name)
            job.chapter = named if named in chapters else None
    if not job.error:
        content, named = chapter_from_cells(cells), chapter_from_name(name)
        if chapter is not None:
            if content is not None and content != chapter:
                job.error = f"wrong chapter: the notebook holds chapter {content}'s exercises, not chapter {chapter}'s"
        elif content in chapters:
            job.chapter = content
            if named is not None and named != content:
                job.notes.append(f"file name says chapter {named}, cells say chapter {content}: graded as {content}")
        elif named in chapters:
            job.chapter = named
            if content is not None:
                job.error = f"wrong chapter: the notebook holds chapter {content}'s exercises, not chapter {named}'s"
        elif content is not None or named is not None:
            number = content if content is not None else named
            job.error = f"no trusted notebook for chapter {number} in {solutions}"
        else:
            job.error = "cannot tell the chapter (no ex-N-M cell ids, no NN_ file name); use --chapter"
    if job.chapter is not None and job.chapter not in chapters:
        job.error = job.error or f"no trusted notebook for chapter {job.chapter} in {solutions}"
        job.chapter = None
    if job.chapter is None:
        return job
    path = chapters[job.chapter]
    trusted = nbformat.read(path, as_version=4)
    job.notebook_name, job.trusted_path = path.name, str(path)
    job.exercises = [{"id": ex.id, "points": trusted.cells[ex.check_cell].metadata.get("points", 1)}
                     for ex in build.exercises(trusted)]
    if job.error:
        return job
    job.notebook, job.exercises, notes = merge(trusted, cells)
    job.notes += notes
    return job
