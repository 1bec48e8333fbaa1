"""Stage 3: run one merged submission — its cells in a sandbox, its checks here.

For each code cell of the merged notebook that a check needs (:func:`needed_cells`), in order:
trusted cells and the student's answer cells are executed in the sandbox
(:mod:`helpers.grade.sandbox`, each with a time limit); at a check cell the grader asks the
sandbox for the values its arguments name, gets proxies and data back
(:mod:`helpers.grade.proxy`) and runs the registered check **in this process**
(``helpers.checks.get(id).check(*args)``), capturing what it prints. Hidden tests of an answer
cell run here too, right after that cell, with the notebook's names as proxies. This process
never executes a line of the submission, so nothing the submission does to its own interpreter
(patched NumPy, hooks, tracers, import tricks, a rebound ``check``) reaches a verdict.

:class:`Pool` grades many submissions in worker processes; a worker that dies or hangs costs only
the submission it was grading (a row saying so), never the run.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from time import monotonic
from typing import Any, Callable, Iterable

from helpers import build
from helpers.grade.identify import Job
from helpers.grade.proxy import MODULES, SandboxStopped, Session, TimedOut
from helpers.grade.sandbox import Limits, Sandbox

SANDBOX_PROBLEM = "not graded: the sandbox could not start"


@dataclass
class Options:
    cell_timeout: float = 60.0  # cells holding, checking or using the student's code; each check
    notebook_timeout: float = 900.0
    trusted_timeout: float = 600.0  # the trusted notebook's other cells (setup, data, plots)
    max_output: int = 100_000  # kept for the command line; outputs stay in the sandbox
    solutions: Path = build.SOLUTIONS
    save_notebooks: bool = False
    unsafe: bool = False
    limits: Limits = field(default_factory=Limits)
    hide: tuple[str, ...] = ()  # paths the sandbox must not see even if under a mounted folder


def student_code(cell: dict) -> bool:
    """Does this cell hold, check or use the student's code (so gets the tight time limit)?"""
    tags = cell.get("metadata", {}).get("tags", [])
    return "exercise" in cell.get("metadata", {}) or build.USES_ANSWER_TAG in tags


class Runner:
    """One submission's sandbox and the outcome of each cell, by cell id."""

    def __init__(self, job: Job, opts: Options) -> None:
        self.job, self.opts = job, opts
        self.runs: dict[str, dict] = {}
        self.session: Session | None = None
        self.deadline = monotonic() + opts.notebook_timeout
        self.stop = ""

    def start(self) -> str:
        """'' once the sandbox answers, else why it did not start."""
        try:
            sandbox = Sandbox(self.opts.limits, unsafe=self.opts.unsafe, hide=tuple(Path(h) for h in self.opts.hide))
        except OSError as error:
            return f"{SANDBOX_PROBLEM}: {error}"
        self.session = Session(sandbox)
        try:
            self.session.request({"op": "ping"}, timeout=120)
        except (SandboxStopped, TimedOut) as error:
            detail = sandbox.startup_error() or str(error)
            self.session.stop("did not start")
            return f"{SANDBOX_PROBLEM}: {detail}"
        return ""

    def close(self) -> None:
        if self.session is not None:
            self.session.stop("finished")

    def left(self, limit: float) -> float:
        return max(0.5, min(limit, self.deadline - monotonic()))

    def skip_reason(self) -> str:
        if self.session is not None and self.session.dead:
            return f"not run: {self.session.dead}"
        if monotonic() > self.deadline:
            return f"not run: the notebook time limit ({self.opts.notebook_timeout:g} s) was reached"
        return ""

    def cell(self, cell: dict) -> dict:
        """Execute one cell in the sandbox."""
        assert self.session is not None
        limit = self.left(self.opts.cell_timeout if student_code(cell) else self.opts.trusted_timeout)
        try:
            reply, _ = self.session.request({"op": "cell", "source": cell["source"]}, timeout=limit)
        except TimedOut:
            return {"status": "timeout", "detail": f"timed out after {limit:g} s"}
        except SandboxStopped as error:
            return {"status": "dead", "detail": str(error)}
        if reply.get("status") == "interrupted":
            return {"status": "timeout", "detail": f"timed out after {limit:g} s"}
        if reply.get("status") in ("error", "raised"):
            return {"status": "error", "ename": str(reply.get("type", ""))[:200],
                    "evalue": str(reply.get("message", ""))[:2000]}
        return {"status": "ok"}

    def resolve(self, exprs: list[str], kwexprs: dict[str, str]) -> tuple[list, dict]:
        assert self.session is not None
        reply, blobs = self.session.request({"op": "resolve", "exprs": exprs, "kwexprs": kwexprs},
                                            timeout=self.session.remaining(self.opts.cell_timeout))
        if reply.get("status") == "raised":
            raise NameError(f"{reply.get('type')}: {reply.get('message')}")
        dec = self.session.decoder(blobs)
        values, kwargs = dec(reply.get("values")), dec(reply.get("kwargs"))
        if not isinstance(values, list) or not isinstance(kwargs, dict) or len(values) != len(exprs):
            raise SandboxStopped("the sandbox answered with the wrong number of values")
        return values, {str(k): v for k, v in kwargs.items()}

    def trusted(self, what: Callable[[], Any]) -> dict:
        """Run trusted code (a check, a hidden test) here, with the check's time budget."""
        assert self.session is not None
        from helpers.checks import ExerciseFailed, ExerciseNotAnswered

        budget = self.left(self.opts.cell_timeout)
        self.session.deadline = monotonic() + budget
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                what()
        except (ExerciseFailed, ExerciseNotAnswered, AssertionError) as error:
            return {"status": "error", "ename": type(error).__name__, "evalue": str(error)[:2000], "stdout": out.getvalue()}
        except TimedOut:
            return {"status": "timeout", "detail": f"timed out after {budget:g} s"}
        except SandboxStopped as error:
            return {"status": "dead", "detail": str(error)}
        except Exception as error:  # noqa: BLE001 - e.g. NameError: the answer never defined the function
            return {"status": "error", "ename": type(error).__name__, "evalue": str(error)[:2000], "stdout": out.getvalue()}
        except BaseException as error:  # noqa: BLE001 - a time limit firing outside a call()
            if type(error).__name__ == "_TimeLimit":
                return {"status": "timeout", "detail": f"timed out after {budget:g} s"}
            raise
        finally:
            self.session.deadline = None
        return {"status": "ok", "stdout": out.getvalue()}

    def check(self, ex: dict) -> dict:
        from helpers import checks

        ex_id, exprs, kwexprs = ex["call"]

        def run() -> None:
            args, kwargs = self.resolve(exprs, kwexprs)
            checks.get(ex_id).check(*args, **kwargs)

        return self.trusted(run)

    def hidden(self, code: str) -> dict:
        """The trusted cell's hidden tests, here, with the notebook's names as proxies."""
        assert self.session is not None
        tree = ast.parse(code)
        assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                       - assigned - set(dir(builtins)))

        def run() -> None:
            reply, blobs = self.session.request({"op": "names", "names": names},
                                                timeout=self.session.remaining(self.opts.cell_timeout))
            values = self.session.decoder(blobs)(reply.get("values")) if reply.get("status") == "ok" else {}
            namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__hidden_test__"}
            for name, value in (values or {}).items():
                if isinstance(value, type(os)) and value.__name__.split(".")[0] not in MODULES:
                    continue
                namespace[str(name)] = value
            namespace["check"] = __import__("helpers.check", fromlist=["check"])
            exec(compile(tree, "<hidden test>", "exec"), namespace)  # noqa: S102 - trusted code from solutions/

        return self.trusted(run)


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
        hidden = runs.get(f"hidden:{cid}")
        if hidden and hidden["status"] != "ok":
            why = hidden.get("evalue") or hidden.get("detail", "")
            return False, f"a hidden test failed: {hidden.get('ename', '')}: {why}".replace(": : ", ": ")
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


def empty_result(job: Job) -> dict:
    return {"file": job.file, "student": job.student, "chapter": job.chapter, "error": job.error,
            "notes": list(job.notes), "exercises": [], "key": job.key}


NOT_NEEDED = "not needed by any check (helpers.dataflow)"


def needed_cells(job: Job) -> set[str]:
    """Ids of the code cells to run: the answer and check cells (an answer cell read together with
    its hidden tests) and every cell they depend on by name. Cells that only use an answer
    (plots, training runs) are skipped: they change no grade."""
    from helpers import dataflow

    cells = [c for c in job.notebook["cells"] if c["cell_type"] == "code"]
    ids = [c.get("id", "") for c in cells]
    hidden = {cid: code for ex in job.exercises for cid, code in ex["hidden"].items()}
    chosen = {ex["check"] for ex in job.exercises} | {cid for ex in job.exercises for cid in ex["answers"]}
    sources = ["".join(c["source"]) + "\n" + hidden.get(cid, "") for c, cid in zip(cells, ids)]
    return {ids[k] for k in dataflow.needed(sources, {k for k, cid in enumerate(ids) if cid in chosen})}


def not_graded(job: Job, why: str, grader_error: bool = False) -> dict:
    result = empty_result(job)
    result["error"] = why
    result["exercises"] = [{"id": ex["id"], "max": ex["points"], "points": 0, "reason": f"not graded: {why}"}
                           for ex in job.exercises]
    if grader_error:
        result["grader_error"] = True
    return result


def _preload() -> None:
    """Import the checks and TensorFlow now, so the first check's time limit is not spent on it."""
    import helpers
    from helpers import checks  # noqa: F401

    helpers.tensorflow()


def grade_job(job: Job, opts: Options) -> dict:
    """Run one merged submission and return its result (called in a worker process)."""
    if job.error or job.notebook is None:
        return not_graded(job, job.error or "not a notebook")
    runner = Runner(job, opts)
    problem = runner.start()
    if problem:
        runner.close()
        return not_graded(job, problem, grader_error=True)
    _preload()
    checks = {ex["check"]: ex for ex in job.exercises}
    answers = {cid: ex for ex in job.exercises for cid in ex["answers"]}
    needed = needed_cells(job)
    result = empty_result(job)
    try:
        for cell in job.notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            cid = cell.get("id", "")
            if cid not in needed:
                runner.runs[cid] = {"status": "skipped", "detail": NOT_NEEDED}
                continue
            if why := runner.skip_reason():
                runner.runs[cid] = {"status": "skipped", "detail": why}
                continue
            if cid in checks:
                runner.runs[cid] = runner.check(checks[cid])
                continue
            runner.runs[cid] = run = runner.cell(cell)
            ex = answers.get(cid)
            if ex and ex["hidden"].get(cid) and run["status"] == "ok" and not runner.skip_reason():
                runner.runs[f"hidden:{cid}"] = runner.hidden(ex["hidden"][cid])
            if not ex and run["status"] != "ok" and build.USES_ANSWER_TAG not in cell.get("metadata", {}).get("tags", []):
                what = run.get("ename") or run.get("detail")
                result["notes"].append(f"cell {cid}: {what}: {run.get('evalue', '')[:200]}".rstrip(": "))
    finally:
        dead = runner.session.dead if runner.session else ""
        if not dead:
            try:
                reply, _ = runner.session.request({"op": "usage"}, timeout=5)
                if isinstance(reply.get("cpu_s"), (int, float)):
                    result["sandbox_cpu_s"] = round(float(reply["cpu_s"]), 2)
            except (SandboxStopped, TimedOut):
                pass
        runner.close()
    if dead and dead != "finished":
        result["notes"].append(f"sandbox: {dead}")
    for ex in job.exercises:
        passed, reason = verdict(ex, runner.runs)
        result["exercises"].append({"id": ex["id"], "max": ex["points"], "points": ex["points"] if passed else 0,
                                    "reason": reason})
    if opts.save_notebooks:
        import nbformat

        nb = nbformat.from_dict(job.notebook)
        for cell in nb.cells:
            if cell.get("id") in runner.runs:
                cell.metadata["grader"] = runner.runs[cell["id"]]
        result["notebook"] = nbformat.writes(nb)
    return result


# --------------------------------------------------------------------------- worker processes
def _worker(conn: Any, opts: Options) -> None:
    os.environ["DLD_CHECK_TIMEOUT"] = f"{max(1.0, min(20.0, opts.cell_timeout / 2)):g}"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        n, job = message
        try:
            result = grade_job(job, opts)
        except BaseException as error:  # noqa: BLE001 - a grader bug: this submission only
            last = traceback.extract_tb(error.__traceback__)[-1:]
            where = f" at {Path(last[0].filename).name}:{last[0].lineno}" if last else ""
            result = not_graded(job, f"grader error: {type(error).__name__}: {error}{where}", grader_error=True)
        conn.send((n, result))


class Pool:
    """``jobs`` worker processes; each submission gets ``notebook_timeout`` + slack of wall time."""

    def __init__(self, jobs: int, opts: Options) -> None:
        self.opts, self.jobs = opts, max(1, jobs)
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[dict] = []

    def _spawn(self) -> dict:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, self.opts), daemon=True)
        proc.start()
        child.close()
        return {"proc": proc, "conn": parent, "job": None, "since": 0.0}

    def run(self, work: Iterable[tuple[int, Job]], done: Callable[[int, dict], None],
            started: Callable[[Job], None] = lambda job: None) -> None:
        queue = list(work)
        queue.reverse()
        limit = self.opts.notebook_timeout + 180
        try:
            while queue or any(w["job"] for w in self.workers):
                while queue and (len(self.workers) < self.jobs or any(w["job"] is None for w in self.workers)):
                    idle = next((w for w in self.workers if w["job"] is None), None)
                    if idle is None:
                        idle = self._spawn()
                        self.workers.append(idle)
                    n, job = queue.pop()
                    started(job)
                    idle["job"], idle["since"] = (n, job), monotonic()
                    idle["conn"].send((n, job))
                busy = [w for w in self.workers if w["job"]]
                ready = wait([w["conn"] for w in busy] + [w["proc"].sentinel for w in busy], timeout=5)
                for w in busy:
                    n, job = w["job"]
                    if w["conn"] in ready:
                        try:
                            got_n, result = w["conn"].recv()
                        except (EOFError, OSError):
                            got_n, result = n, None
                        if result is not None:
                            w["job"] = None
                            done(got_n, result)
                            continue
                    if not w["proc"].is_alive() or w["proc"].sentinel in ready:
                        code = w["proc"].exitcode
                        self._replace(w)
                        done(n, not_graded(job, f"grader error: the worker grading this file died (exit code {code})",
                                           grader_error=True))
                    elif monotonic() - w["since"] > limit:
                        self._replace(w)
                        done(n, not_graded(job, f"grader error: no result within {limit:g} s", grader_error=True))
        finally:
            self.close()

    def _replace(self, w: dict) -> None:
        w["proc"].kill()
        w["proc"].join(5)
        self.workers.remove(w)

    def close(self) -> None:
        for w in self.workers:
            try:
                w["conn"].send(None)
            except OSError:
                pass
        for w in self.workers:
            w["proc"].join(5)
            if w["proc"].is_alive():
                w["proc"].kill()
        self.workers = []
