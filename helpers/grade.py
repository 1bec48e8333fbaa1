"""Grade submitted notebooks against the trusted solutions (instructor tool).

    python -m helpers.grade SUBMISSIONS --out DIR [--jobs N] [--timeout S] [--notebook-timeout S]
    dld-grade SUBMISSIONS --out DIR                 # the same, as an installed console command

SUBMISSIONS is a folder, a .zip or one notebook. Each file is one submission:

* student: ``<student>__NN_slug.ipynb`` (anywhere in the tree), else the folder holding the file
  (``<student>/NN_slug.ipynb``), else the file name; ``--student`` overrides.
* chapter: from the notebook's cells (ids ``ex-N-M-answer`` / ``ex-N-M-check``, metadata
  ``exercise``, or ``check.ex_N_M(...)`` calls), else the ``NN_`` prefix of the file name;
  ``--chapter`` overrides (a notebook holding another chapter's exercises is then "wrong chapter").

Tamper-proofing: only the student's answer cells are taken, matched to the trusted notebook
``solutions/NN_*.ipynb`` by cell id ``ex-N-M-answer[-k]``, else by metadata ``exercise``, else
(ids lost) by the function/class names the trusted answer defines, else by text similarity to
the stub (ratio >= 0.6). They replace the trusted answer cells (hidden tests of the trusted cell
are appended); every other cell, the check cells and their reference outputs come from the
trusted copy. A missing answer cell runs as the stub. Before each check cell a grader cell
re-imports the checks, so rebinding ``check`` in an answer cell gains nothing.

An exercise passes iff its answer cells ran without an exception and its check cell raised
nothing and printed exactly the trusted success line. Each submission runs in its own kernel in
a fresh temporary directory holding only the merged notebook, with time limits per cell
(``--timeout`` for cells holding, checking or using student code, ``--trusted-timeout`` for the
rest) and per notebook. DIR/grades.csv and DIR/report.md are written by this process only,
atomically; DIR/.cache/ keeps one result per submission so a re-run resumes (``--no-cache``).

The kernel still runs as the instructor, with network and files: for untrusted classes run the
grader in a container (``docker run --rm --network none ...``; README, "Grading submissions").
"""
from __future__ import annotations

import argparse
import copy
import csv
import difflib
import hashlib
import html
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from queue import Empty
from time import monotonic
from typing import Any

import nbformat

from helpers import build

ROOT = Path(__file__).resolve().parent.parent
GRADER_VERSION = "1"
MAX_FILE_BYTES = 20_000_000
SKIPPED_PARTS = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store"}
EX_CELL_ID = re.compile(r"^ex-(\d+)-(\d+)-(?:answer|check)")
CHECK_CALL = re.compile(r"check\.ex_(\d+)_(\d+)\s*\(")
DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.M)
NAME_CHAPTER = re.compile(r"^(\d\d)_")
SIMILARITY = 0.6
KERNEL_PROBLEM = "not run: kernel problem"
GUARD = (
    "import importlib as _i, sys as _s\n"
    "for _m in [m for m in _s.modules if m == 'helpers.check' or m.startswith('helpers.checks')]:\n"
    "    del _s.modules[_m]\n"
    "check = _i.import_module('helpers.check')"
)


class SubmissionError(ValueError):
    """A submission that cannot be graded (unreadable, not a notebook, wrong chapter)."""


@dataclass
class Options:
    cell_timeout: float = 60.0  # cells holding, checking or using the student's code
    notebook_timeout: float = 900.0
    trusted_timeout: float = 600.0  # the trusted notebook's other cells (setup, data, plots)
    max_output: int = 100_000
    solutions: Path = build.SOLUTIONS
    save_notebooks: bool = False


@dataclass
class Submission:
    name: str  # path relative to SUBMISSIONS, with '/'
    data: bytes
    error: str = ""


@dataclass
class Job:
    """One submission, identified and (if readable) merged into the trusted notebook."""

    file: str
    student: str
    chapter: int | None
    error: str = ""
    notes: list[str] = field(default_factory=list)
    exercises: list[dict] = field(default_factory=list)  # id, points, answers, check, expected, missing
    notebook: dict | None = None
    notebook_name: str = ""
    key: str = ""


# --------------------------------------------------------------------------- reading
def _skipped(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p in SKIPPED_PARTS or p.startswith(".") for p in parts)


def read_submissions(path: Path, skip: Path | None = None) -> list[Submission]:
    """Every file under a folder (except under ``skip``), in a .zip, or the one file ``path``."""
    found: list[Submission] = []
    if path.is_file() and path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir() or _skipped(info.filename):
                    continue
                if info.file_size > MAX_FILE_BYTES:
                    found.append(Submission(info.filename, b"", f"file too large ({info.file_size} bytes)"))
                    continue
                with archive.open(info) as member:
                    data = member.read(MAX_FILE_BYTES + 1)
                error = "file too large" if len(data) > MAX_FILE_BYTES else ""
                found.append(Submission(info.filename, b"" if error else data, error))
    elif path.is_file():
        found.append(_read_file(path, path.name))
    else:
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path).as_posix()
            inside_skip = skip is not None and file.resolve().is_relative_to(skip.resolve())
            if file.is_file() and not file.is_symlink() and not _skipped(rel) and not inside_skip:
                found.append(_read_file(file, rel))
    return sorted(found, key=lambda s: s.name)


def _read_file(path: Path, name: str) -> Submission:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return Submission(name, b"", f"file too large ({size} bytes)")
    return Submission(name, path.read_bytes())


def student_of(name: str) -> str:
    """``alice`` for ``alice__00_x.ipynb``, ``x/alice/00_x.ipynb`` or ``alice.ipynb``."""
    path = PurePosixPath(name)
    if "__" in path.name and path.name.split("__", 1)[0].strip():
        return path.name.split("__", 1)[0].strip()
    if len(path.parts) > 1:
        return path.parent.name
    return path.stem


def chapter_from_name(name: str) -> int | None:
    base = PurePosixPath(name).name.split("__", 1)[-1]
    match = NAME_CHAPTER.match(base)
    return int(match.group(1)) if match else None


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def parse_notebook(sub: Submission) -> list[dict]:
    """The code and markdown cells of a submitted notebook, or SubmissionError saying why not."""
    if sub.error:
        raise SubmissionError(sub.error)
    if not sub.name.lower().endswith(".ipynb"):
        raise SubmissionError(f"not a notebook ({PurePosixPath(sub.name).suffix or 'no extension'} file)")
    if not sub.data.strip():
        raise SubmissionError("empty file")
    try:
        nb = json.loads(sub.data)
    except json.JSONDecodeError as error:
        if not error.doc.rstrip().endswith("}"):
            raise SubmissionError(f"truncated file: the JSON ends early ({len(sub.data)} bytes)") from None
        raise SubmissionError(f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:  # bytes that are not UTF-8 text
        raise SubmissionError(f"not a text notebook: {str(error)[:200]}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError("not a Jupyter notebook (JSON without a list of 'cells'; nbformat 4 expected)")
    cells = []
    for cell in nb["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw"):
            meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
            cells.append({"cell_type": cell["cell_type"], "id": str(cell.get("id") or ""),
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
            for match in CHECK_CALL.finditer(cell["source"]):
                votes[int(match.group(1))] += 1
    return votes.most_common(1)[0][0] if votes else None


# --------------------------------------------------------------------------- merging
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
        missing = []
        for index in ex.answer_cells:
            cell = nb["cells"][index]
            if index in answers:
                hidden = hidden_tests(cell["source"])
                cell["source"] = answers[index] + (f"\n\n{hidden}" if hidden else "")
            else:
                missing.append(cell["id"])
                cell["source"] = build.stub(cell["source"], ex.id)
        plan.append({"id": ex.id, "points": check["metadata"].get("points", 1), "check": check["id"],
                     "guard": f"grader-guard-{ex.id.replace('.', '-')}",
                     "answers": [nb["cells"][i]["id"] for i in ex.answer_cells], "expected": expected,
                     "missing": missing})
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    guards = {ex["check"]: ex["guard"] for ex in plan}
    for index in reversed(range(len(nb["cells"]))):  # re-import the checks right before each check cell
        if nb["cells"][index]["id"] in guards:
            guard = nbformat.v4.new_code_cell(GUARD)
            guard["id"] = guards[nb["cells"][index]["id"]]
            nb["cells"].insert(index, guard)
    return nb, plan, notes


def identify(sub: Submission, chapters: dict[int, Path], student: str | None, chapter: int | None,
             opts: Options) -> Job:
    """Student, chapter and merged notebook of one submission (errors become ``job.error``)."""
    job = Job(sub.name, student or student_of(sub.name), chapter)
    try:
        cells = parse_notebook(sub)
    except SubmissionError as error:
        job.error, cells = str(error), []
        if job.chapter is None:
            named = chapter_from_name(sub.name)
            job.chapter = named if named in chapters else None
    if not job.error:
        content, named = chapter_from_cells(cells), chapter_from_name(sub.name)
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
            job.error = f"no trusted notebook for chapter {number} in {opts.solutions}"
        else:
            job.error = "cannot tell the chapter (no ex-N-M cell ids, no NN_ file name); use --chapter"
    if job.chapter is not None and job.chapter not in chapters:
        job.error = job.error or f"no trusted notebook for chapter {job.chapter} in {opts.solutions}"
        job.chapter = None
    if job.chapter is None:
        return job
    path = chapters[job.chapter]
    trusted = nbformat.read(path, as_version=4)
    job.notebook_name = path.name
    job.exercises = [{"id": ex.id, "points": trusted.cells[ex.check_cell].metadata.get("points", 1)}
                     for ex in build.exercises(trusted)]
    if job.error:
        return job
    job.notebook, job.exercises, notes = merge(trusted, cells)
    job.notes += notes
    checks = ROOT / "helpers" / "checks" / f"ch{job.chapter:02d}.py"
    digest = hashlib.sha256()
    for part in (GRADER_VERSION, sub.name, job.student, str(job.chapter), repr(opts.cell_timeout),
                 repr(opts.notebook_timeout), repr(opts.trusted_timeout), str(opts.max_output)):
        digest.update(part.encode() + b"\0")
    for blob in (sub.data, path.read_bytes(), checks.read_bytes() if checks.exists() else b""):
        digest.update(hashlib.sha256(blob).digest())
    job.key = digest.hexdigest()[:32]
    return job


# --------------------------------------------------------------------------- running
def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Stores at most ``max_output`` characters of output per cell; drops the rest."""

        max_output = 100_000
        sizes: dict[int, int] = {}

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
            content = msg.get("content", {})
            size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in (content.get("data") or {}).values())
            size += sum(len(str(line)) for line in content.get("traceback", []) or [])
            used = self.sizes.get(cell_index, 0)
            if used + size <= self.max_output:
                self.sizes[cell_index] = used + size
                return super().output(outs, msg, display_id, cell_index)
            if used <= self.max_output:
                self.sizes[cell_index] = self.max_output + 1
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"[grader: output beyond {self.max_output} characters dropped]\n"))
            return None

    return CappedClient


async def _responsive(client: Any, timeout: float) -> bool:
    """Interrupt the kernel, then: does it answer a trivial request within ``timeout`` s?"""
    from jupyter_core.utils import ensure_async

    await ensure_async(client.km.interrupt_kernel())
    msg_id = await ensure_async(client.kc.execute("pass", store_history=False))
    end = monotonic() + timeout
    while (left := end - monotonic()) > 0:
        try:
            msg = await ensure_async(client.kc.shell_channel.get_msg(timeout=left))
        except Empty:
            return False
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


def _stdout(cell: dict) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def student_code(cell: dict) -> bool:
    """Does this cell hold, check or use the student's code (so gets the tight time limit)?"""
    tags = cell.get("metadata", {}).get("tags", [])
    return ("exercise" in cell.get("metadata", {}) or build.USES_ANSWER_TAG in tags
            or cell.get("id", "").startswith("grader-guard"))


def run_notebook(nb: dict, workdir: Path, opts: Options) -> dict[str, dict]:
    """Execute ``nb`` cell by cell in a new kernel; the outcome of each code cell, by cell id."""
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    replies: dict[int, dict] = {}
    client = _client_class()(
        nb, timeout=opts.cell_timeout, kernel_name="python3", allow_errors=True, startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(
            cell_index, execute_reply["content"]),
    )
    client.max_output, client.sizes = opts.max_output, {}
    env = {**os.environ, "DLD_STATIC_WIDGETS": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3",
           "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.setdefault("DLD_CHECK_TIMEOUT", f"{max(1.0, min(20.0, opts.cell_timeout / 2)):g}")
    runs: dict[str, dict] = {}
    stop = ""
    deadline = monotonic() + opts.notebook_timeout
    try:
        with client.setup_kernel(env=env, cwd=str(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            for index, cell in enumerate(nb["cells"]):
                if cell["cell_type"] != "code":
                    continue
                left = deadline - monotonic()
                if not stop and left < 1:
                    stop = f"not run: the notebook time limit ({opts.notebook_timeout:g} s) was reached"
                if stop:
                    runs[cell["id"]] = {"status": "skipped", "detail": stop}
                    continue
                limit = opts.cell_timeout if student_code(cell) else opts.trusted_timeout
                client.timeout = max(1, int(min(limit, left)))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    by_notebook = client.timeout < limit
                    runs[cell["id"]] = {"status": "timeout", "detail": f"timed out after {client.timeout} s"
                                        + (" (notebook time limit)" if by_notebook else "")}
                    if by_notebook:
                        stop = f"not run: the notebook time limit ({opts.notebook_timeout:g} s) was reached"
                    elif not run_sync(_responsive)(client, 15.0):
                        stop = f"not run: the kernel did not recover after cell {cell['id']} timed out"
                    continue
                except DeadKernelError:
                    runs[cell["id"]] = {"status": "dead",
                                        "detail": "the kernel died (os._exit, a crash or out of memory)"}
                    stop = f"not run: the kernel died earlier, in cell {cell['id']}"
                    continue
                reply = replies.get(index, {})
                runs[cell["id"]] = {"status": "error" if reply.get("status") == "error" else "ok",
                                    "ename": str(reply.get("ename", ""))[:200],
                                    "evalue": str(reply.get("evalue", ""))[:2000], "stdout": _stdout(cell)}
    except Exception as error:  # noqa: BLE001 - kernel start or shutdown failed
        detail = f"{KERNEL_PROBLEM}: {type(error).__name__}: {str(error)[:300]}"
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and cell["id"] not in runs:
                runs[cell["id"]] = {"status": "skipped", "detail": detail}
    return runs


def _answer_problem(run: dict) -> str:
    if run["status"] == "error":
        return f"your answer cell raised {run['ename']}: {run['evalue']}"
    if run["status"] == "timeout":
        return f"your answer cell {run['detail']}"
    if run["status"] == "dead":
        return f"{run['detail']} while running your answer cell"
    return run.get("detail", "") if run["status"] == "skipped" else ""


def verdict(ex: dict, runs: dict[str, dict]) -> tuple[bool, str]:
    """(passed, reason) of one exercise from the cell outcomes."""
    if ex["missing"]:
        return False, f"answer cell not found in the submission (cell id {ex['missing'][0]})"
    for cid in ex["answers"]:
        if problem := _answer_problem(runs.get(cid, {"status": "skipped", "detail": "not run"})):
            return False, problem
    guard = runs.get(ex["guard"], {})
    if guard.get("status") in ("error", "timeout"):
        why = guard.get("ename") or guard.get("detail")
        return False, f"the grader could not reload the checks ({why}): does your code change sys.modules?"
    run = runs.get(ex["check"], {"status": "skipped", "detail": "not run"})
    if run["status"] == "error":
        return False, run["evalue"] if run["evalue"].startswith("Exercise") else f"{run['ename']}: {run['evalue']}"
    if run["status"] == "timeout":
        return False, f"the check {run['detail']}"
    if run["status"] == "dead":
        return False, f"{run['detail']} while running the check"
    if run["status"] == "skipped":
        return False, run["detail"]
    if run["stdout"] != ex["expected"]:
        return False, f"the check printed unexpected output: {run['stdout'][:300]!r}"
    return True, ""


def grade_job(job: Job, opts: Options) -> dict:
    """Run one merged submission and return its result (also used by worker processes)."""
    result = {"file": job.file, "student": job.student, "chapter": job.chapter, "error": job.error,
              "notes": list(job.notes), "exercises": [], "key": job.key}
    if job.error or job.notebook is None:
        for ex in job.exercises:
            result["exercises"].append({"id": ex["id"], "max": ex["points"], "points": 0,
                                        "reason": f"not graded: {job.error}"})
        return result
    nb = nbformat.from_dict(copy.deepcopy(job.notebook))
    with tempfile.TemporaryDirectory(prefix="dld-grade-") as tmp:
        nbformat.write(nb, Path(tmp) / job.notebook_name)
        runs = run_notebook(nb, Path(tmp), opts)
    answers = {cid for ex in job.exercises for cid in ex["answers"]}
    checks = {ex["check"] for ex in job.exercises}
    for cell in nb.cells:
        run = runs.get(cell.get("id"), {})
        tags = cell.get("metadata", {}).get("tags", [])
        if (run.get("status") in ("error", "timeout") and cell.id not in answers | checks
                and build.USES_ANSWER_TAG not in tags):
            what = run.get("ename") or run.get("detail")
            result["notes"].append(f"cell {cell.id}: {what}: {run.get('evalue', '')[:200]}")
    for ex in job.exercises:
        passed, reason = verdict(ex, runs)
        result["exercises"].append({"id": ex["id"], "max": ex["points"], "points": ex["points"] if passed else 0,
                                    "reason": reason})
    if any(r.get("detail", "").startswith(KERNEL_PROBLEM) for r in runs.values()):
        result["grader_error"] = True  # not journalled: a re-run tries again
    if opts.save_notebooks:
        result["notebook"] = nbformat.writes(nb)
    return result


# --------------------------------------------------------------------------- writing
def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and os.replace: old file or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _total(result: dict) -> int:
    return sum(e["points"] for e in result["exercises"])


def _cell(text: Any) -> str:
    """A CSV cell a spreadsheet will not evaluate as a formula."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def gradebook(results: list[dict]) -> tuple[str, str]:
    """(grades.csv text, report.md text) for all results."""
    columns: dict[str, int] = {}
    for r in sorted(results, key=lambda r: (r["chapter"] is None, r["chapter"] or 0)):
        for e in r["exercises"]:
            columns.setdefault(e["id"], e["max"])
    ordered = sorted(columns, key=lambda i: tuple(map(int, i.split("."))))
    maximum = sum(columns.values())
    students: dict[str, list[dict]] = {}
    for r in results:
        students.setdefault(r["student"], []).append(r)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *(f"ex {i}" for i in ordered), "total", "max", "notes"])
    md = ["# Grades", "", f"{len(results)} files, {len(students)} students, {len(ordered)} exercises "
          f"(one point each unless the check cell says otherwise).", "",
          "| student | " + " | ".join(ordered) + " | total |", "|---" * (len(ordered) + 2) + "|"]
    details: list[str] = []
    for name in sorted(students, key=str.lower):
        best: dict[int, dict] = {}
        for r in sorted(students[name], key=lambda r: r["file"]):
            if r["chapter"] is not None and (r["chapter"] not in best or _total(r) > _total(best[r["chapter"]])):
                best[r["chapter"]] = r
        counted = {id(r) for r in best.values()}
        scores = {e["id"]: e for r in best.values() for e in r["exercises"]}
        notes: list[str] = []
        details += ["", f"## {_md(name)}"]
        for r in sorted(students[name], key=lambda r: r["file"]):
            where = f"chapter {r['chapter']}" if r["chapter"] is not None else "no chapter"
            skipped = id(r) not in counted and r["chapter"] is not None
            status = " — another submission for this chapter scored higher; not counted" if skipped else ""
            details += ["", f"**{_md(r['file'])}** ({where}): {_total(r)}/{sum(e['max'] for e in r['exercises'])}{status}"]
            if r["error"]:
                notes.append(f"{r['file']}: {r['error']}")
                details.append(f"- problem: {_md(r['error'])}")
            for e in r["exercises"]:
                reason = f": {_md(e['reason'])}" if e["reason"] else ""
                details.append(f"- {'✓' if e['points'] else '✗'} {e['id']}{reason}")
            for note in r["notes"]:
                details.append(f"- note: {_md(note)}")
            if skipped:
                notes.append(f"{r['file']}: not counted (another submission scored higher)")
        total = sum(e["points"] for e in scores.values())
        writer.writerow([_cell(name), *(scores[i]["points"] if i in scores else "" for i in ordered),
                         total, maximum, _cell("; ".join(notes))])
        marks = [("✓" if scores[i]["points"] else "✗") if i in scores else "" for i in ordered]
        md.append(f"| {_md(name)} | " + " | ".join(marks) + f" | {total}/{maximum} |")
    return out.getvalue(), "\n".join(md + details) + "\n"


def _md(text: str) -> str:
    return html.escape(str(text).replace("\n", " ").replace("|", "\\|"), quote=False)[:1500]


# --------------------------------------------------------------------------- main
def grade(submissions: Path, out: Path, opts: Options, *, jobs: int = 1, student: str | None = None,
          chapter: int | None = None, use_cache: bool = True, progress: bool = True) -> list[dict]:
    """Grade everything in ``submissions``; write ``out``/grades.csv and report.md; return the results."""
    from tqdm import tqdm

    chapters = trusted_chapters(opts.solutions)
    work = [identify(s, chapters, student, chapter, opts) for s in read_submissions(submissions, skip=out)]
    cache = out / ".cache"
    results: dict[int, dict] = {}
    pending: list[int] = []
    for n, job in enumerate(work):
        if job.notebook is None:
            results[n] = grade_job(job, opts)
            continue
        entry = cache / f"{job.key}.json"
        if use_cache and entry.exists() and not opts.save_notebooks:
            try:
                results[n] = json.loads(entry.read_text(encoding="utf-8"))
                continue
            except (ValueError, OSError):
                pass  # a half-written or damaged entry: grade again
        pending.append(n)

    def done(n: int, result: dict) -> None:
        results[n] = result
        if not result.get("grader_error"):
            entry = {k: v for k, v in result.items() if k != "notebook"}
            write_atomic(cache / f"{work[n].key}.json", json.dumps(entry))
        if result.get("notebook"):
            write_atomic(out / "notebooks" / re.sub(r"[^\w.-]+", "_", work[n].file), result["notebook"])

    bar = tqdm(total=len(pending), file=sys.stderr, unit="nb", desc="grading", disable=not progress or not pending)
    if jobs > 1 and len(pending) > 1:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(grade_job, work[n], opts): n for n in pending}
            for future in as_completed(futures):
                n = futures[future]
                try:
                    done(n, future.result())
                except Exception as error:  # noqa: BLE001 - a crashed worker: mark, keep going
                    done(n, _grader_error(work[n], error))
                bar.update()
    else:
        for n in pending:
            try:
                done(n, grade_job(work[n], opts))
            except Exception as error:  # noqa: BLE001
                done(n, _grader_error(work[n], error))
            bar.update()
    bar.close()
    ordered = [results[n] for n in range(len(work))]
    grades, report = gradebook(ordered)
    write_atomic(out / "grades.csv", grades)
    write_atomic(out / "report.md", report)
    return ordered


def _grader_error(job: Job, error: BaseException) -> dict:
    job = copy.copy(job)
    job.error, job.notebook = f"grader error: {type(error).__name__}: {error}", None
    return {**grade_job(job, Options()), "grader_error": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder, a .zip or one .ipynb")
    parser.add_argument("--out", type=Path, required=True, help="folder for grades.csv, report.md and .cache/")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds per cell holding, checking or using student code (default 60)")
    parser.add_argument("--trusted-timeout", type=float, default=600.0,
                        help="seconds per other cell of the trusted notebook (default 600)")
    parser.add_argument("--notebook-timeout", type=float, default=900.0, help="seconds per submission (default 900)")
    parser.add_argument("--max-output", type=int, default=100_000, help="characters of output kept per cell")
    parser.add_argument("--student", help="student name for every submission (e.g. grading one file)")
    parser.add_argument("--chapter", type=int, help="chapter number for every submission")
    parser.add_argument("--solutions", type=Path, default=build.SOLUTIONS,
                        help="folder of trusted notebooks (default solutions/)")
    parser.add_argument("--save-notebooks", action="store_true",
                        help="also write the executed merged notebooks to OUT/notebooks/")
    parser.add_argument("--no-cache", action="store_true", help="grade everything again, ignoring OUT/.cache/")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.submissions.exists():
        parser.error(f"{args.submissions} does not exist")
    opts = Options(args.timeout, args.notebook_timeout, args.trusted_timeout, args.max_output,
                   args.solutions.resolve(), args.save_notebooks)
    try:
        results = grade(args.submissions, args.out, opts, jobs=max(1, args.jobs), student=args.student,
                        chapter=args.chapter, use_cache=not args.no_cache, progress=not args.no_progress)
    except (zipfile.BadZipFile, build.BuildError, OSError) as error:
        print(f"grading failed: {error}", file=sys.stderr)
        return 2
    print(f"graded {len(results)} files for {len({r['student'] for r in results})} students: "
          f"{args.out / 'grades.csv'}, {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
