"""One source, two notebooks: build the student notebooks in notebooks/ from solutions/.

    python -m helpers.build                 # execute every solution notebook, write both folders
    python -m helpers.build solutions/00_orientation.ipynb   # just one chapter
    python -m helpers.build --no-execute    # regenerate notebooks/ from the stored solutions
    python -m helpers.build --check         # exit 1 if solutions/ or notebooks/ are stale

Authoring conventions (solutions/ is what authors edit):

* An **answer cell** holds the answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  (nbgrader's markers). In the student notebook that region becomes a stub raising
  ``NotImplementedError("Exercise N.M ...")``. Instructor-only asserts may sit between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``; they are removed for students.
* A **check cell** is one line ``check.ex_N_M(...)``. It gets the ``nbval-check-output`` tag. In
  the student notebook it has no output and no execution count (nothing looks done before it
  is); two comment lines above the call show the ✓ line it will print, as "what you will see".
* An answer cell belongs to the first check cell after it. Cells that use a student's answer
  and so cannot run before it is written are tagged ``uses-answer``.
* Every other output is cleared in the student notebook.
* In the student notebook, answer, check and ``uses-answer`` cells are also tagged
  ``raises-exception``: JupyterLab then sends them with ``stop_on_error=False``, so one Run All
  goes on past an unanswered exercise (ipykernel would otherwise abort the queued cells). Under
  pytest, ``helpers.pytest_plugin`` still fails a check cell that raises, with its hint, and an
  answer or ``uses-answer`` cell that raises anything but an exercise stub's NotImplementedError.

Executing a solution fails the build if any cell raises or writes to stderr.
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CHECK_TAG, ANSWER_TAG, USES_ANSWER_TAG = "nbval-check-output", "answer", "uses-answer"
RAISES_TAG = "raises-exception"  # JupyterLab: keep Run All going after this cell raises
EXPECT_HEADER = "# What you will see once your answer is right:"
CHECK_CELL = re.compile(r"^(?:[ \t]*#[^\n]*\n)*\s*check\.ex_(\d+)_(\d+)\(.*\)\s*$", re.S)
NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
CELL_TIMEOUT_S = 600


class BuildError(RuntimeError):
    """A solution notebook that cannot be built (bad structure, a cell raised, stderr)."""


@dataclass
class Exercise:
    id: str
    answer_cells: list[int]
    check_cell: int


def check_id(cell: dict) -> str | None:
    """'6.3' for a check cell ``check.ex_6_3(...)``, else None."""
    if cell.get("cell_type") != "code":
        return None
    match = CHECK_CELL.match(cell.get("source", ""))
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def is_answer(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and BEGIN in cell.get("source", "")


def exercises(nb: dict, where: str = "notebook") -> list[Exercise]:
    """The exercises of a solution notebook, in order, validating the structure."""
    found: list[Exercise] = []
    pending: list[int] = []
    seen: set[str] = set()
    for index, cell in enumerate(nb["cells"]):
        if is_answer(cell):
            source = cell["source"]
            if source.count(BEGIN) != source.count(END):
                raise BuildError(f"{where}, cell {index}: unbalanced {BEGIN} / {END}")
            pending.append(index)
        ex_id = check_id(cell)
        if ex_id:
            if ex_id in seen:
                raise BuildError(f"{where}: exercise {ex_id} is checked twice")
            seen.add(ex_id)
            found.append(Exercise(ex_id, pending, index))
            pending = []
    if pending:
        raise BuildError(f"{where}, cell {pending[0]}: an answer cell with no check cell after it")
    return found


def _add_tag(cell: dict, tag: str) -> None:
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def normalize(nb: dict, where: str = "notebook") -> dict:
    """Stable ids and tags for exercise cells (returns a new notebook).

    Check cells: id ``ex-N-M-check``, tag ``nbval-check-output``. Answer cells: id
    ``ex-N-M-answer[-k]``, tag ``answer``, metadata ``exercise: "N.M"``. These ids let the
    grader match a student's answers to the trusted notebook even if cells were moved.
    """
    nb = copy.deepcopy(nb)
    for ex in exercises(nb, where):
        slug = ex.id.replace(".", "-")
        check = nb["cells"][ex.check_cell]
        check["id"] = f"ex-{slug}-check"
        _add_tag(check, CHECK_TAG)
        check["metadata"]["exercise"] = ex.id
        for k, index in enumerate(ex.answer_cells):
            cell = nb["cells"][index]
            cell["id"] = f"ex-{slug}-answer" + (f"-{k + 1}" if k else "")
            _add_tag(cell, ANSWER_TAG)
            cell["metadata"]["exercise"] = ex.id
    seen: set[str] = set()
    for index, cell in enumerate(nb["cells"]):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"cell-{index}"
        seen.add(cell["id"])
    _nbgrader_metadata(nb)
    nb["nbformat"], nb["nbformat_minor"] = 4, 5
    nb.setdefault("metadata", {})["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    return nb


NBGRADER_SCHEMA = 3


def _nbgrader_metadata(nb: dict) -> None:
    """nbgrader's cell metadata, so solutions/ work as an nbgrader source folder as they are:
    answer cells are solution cells, check cells are locked autograded test cells worth one
    point each, every ``grade_id`` is the stable cell id (``ex-N-M-answer`` / ``ex-N-M-check``).
    Other cells carry none (nbgrader leaves them editable and ungraded)."""
    for cell in nb["cells"]:
        meta = cell.setdefault("metadata", {})
        if is_answer(cell) or ANSWER_TAG in meta.get("tags", []):  # a student copy keeps the tag
            meta["nbgrader"] = {"grade": False, "grade_id": cell["id"], "locked": False,
                                "schema_version": NBGRADER_SCHEMA, "solution": True, "task": False}
        elif check_id(cell):
            meta["nbgrader"] = {"grade": True, "grade_id": cell["id"], "locked": True, "points": 1,
                                "schema_version": NBGRADER_SCHEMA, "solution": False, "task": False}
        else:
            meta.pop("nbgrader", None)


def stub(source: str, ex_id: str) -> str:
    """Replace each solution region with a stub raising NotImplementedError; drop hidden tests."""
    lines = source.split("\n")
    out: list[str] = []
    skipping = None
    for line in lines:
        stripped = line.strip()
        if skipping is None and stripped.startswith(BEGIN):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f'{indent}raise NotImplementedError("Exercise {ex_id}: replace this line with your answer")')
            skipping = END
        elif skipping is None and stripped.startswith(BEGIN_HIDDEN):
            skipping = END_HIDDEN
        elif skipping is not None and stripped.startswith(skipping):
            skipping = None
        elif skipping is None:
            out.append(line)
    return "\n".join(out)


def expected_line(cell: dict) -> str:
    """The ✓ line a check cell printed (its stored stdout), without the newline."""
    return "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout"
    ).strip()


def student_version(solution: dict, where: str = "notebook") -> dict:
    """The student notebook for a (normalized, executed) solution notebook."""
    nb = copy.deepcopy(solution)
    answers = {i: ex.id for ex in exercises(nb, where) for i in ex.answer_cells}
    for index, cell in enumerate(nb["cells"]):
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if check_id(cell):
            expected = expected_line(cell)
            if cell.get("execution_count") is None or not expected.startswith("✓"):
                raise BuildError(
                    f"{where}: check cell {cell.get('id')} has no stored ✓ output; "
                    "execute the solutions with `python -m helpers.build` first"
                )
            cell["source"] = "\n".join([EXPECT_HEADER, *(f"# {line}" for line in expected.splitlines()), cell["source"]])
            _add_tag(cell, RAISES_TAG)
        elif index in answers:
            cell["source"] = stub(cell["source"], answers[index])
            _add_tag(cell, RAISES_TAG)
        elif BEGIN_HIDDEN in cell["source"]:
            cell["source"] = stub(cell["source"], "?")
        if USES_ANSWER_TAG in tags:
            _add_tag(cell, RAISES_TAG)
        cell["outputs"] = []
        cell["execution_count"] = None
    return nb


def execute(nb: dict, cwd: Path, where: str) -> dict:
    """Run every cell in a fresh kernel; fail on an exception or on anything written to stderr."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ["DLD_STATIC_WIDGETS"] = "1"  # the kernel inherits it: widgets draw their default state
    nb = nbformat.from_dict(copy.deepcopy(nb))
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        raise BuildError(f"{where}: a cell raised:\n{str(error)[-2000:]}") from None
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                raise BuildError(
                    f"{where}, cell {index} ({cell.get('id')}) wrote to stderr:\n{output.get('text', '')[:1000]}"
                )
        cell.get("metadata", {}).pop("execution", None)
    return nb


def dumps(nb: dict) -> str:
    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def solution_paths(selected: list[str] | None = None) -> list[Path]:
    paths = [Path(p).resolve() for p in selected] if selected else sorted(SOLUTIONS.glob("*.ipynb"))
    for path in paths:
        if not NAME.match(path.name):
            raise BuildError(f"{path.name}: notebook names must look like 'NN_short_slug.ipynb'")
    return paths


def build(selected: list[str] | None = None, run: bool = True) -> None:
    """Normalize (and execute) the solutions, then write the student notebooks."""
    NOTEBOOKS.mkdir(exist_ok=True)
    for path in solution_paths(selected):
        where = f"solutions/{path.name}"
        nb = normalize(nbformat.read(path, as_version=4), where)
        if run:
            start = time.perf_counter()
            print(f"executing {where} ...", flush=True)
            nb = execute(nb, path.parent, where)
            print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
        path.write_text(dumps(nb), encoding="utf-8")
        (NOTEBOOKS / path.name).write_text(dumps(student_version(nb, where)), encoding="utf-8")
        print(f"wrote {where} and notebooks/{path.name}")


def stale() -> list[str]:
    """Reasons why solutions/ or notebooks/ are out of date (empty when in sync)."""
    problems: list[str] = []
    sources = solution_paths()
    for path in sources:
        where = f"solutions/{path.name}"
        text = path.read_text(encoding="utf-8")
        try:
            nb = nbformat.reads(text, as_version=4)
            normal = dumps(normalize(nb, where))
            if normal != text:
                problems.append(f"{where} is not normalized (ids/tags)")
            expected = dumps(student_version(nbformat.reads(normal, as_version=4), where))
        except BuildError as error:
            problems.append(str(error))
            continue
        target = NOTEBOOKS / path.name
        if not target.exists():
            problems.append(f"notebooks/{path.name} is missing")
        elif target.read_text(encoding="utf-8") != expected:
            problems.append(f"notebooks/{path.name} differs from what solutions/{path.name} generates")
    names = {p.name for p in sources}
    for extra in sorted(NOTEBOOKS.glob("*.ipynb")):
        if extra.name not in names:
            problems.append(f"notebooks/{extra.name} has no source in solutions/")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="solution notebooks to build (default: all)")
    parser.add_argument("--check", action="store_true", help="only report whether anything is stale")
    parser.add_argument("--no-execute", action="store_true", help="do not re-execute the solutions")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = stale()
            for problem in problems:
                print(f"stale: {problem}")
            if problems:
                print("Run `python -m helpers.build` (or `--no-execute`) and commit the result.")
                return 1
            print(f"notebooks/ is in sync with solutions/ ({len(solution_paths())} notebooks).")
            return 0
        build(args.notebooks or None, run=not args.no_execute)
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
