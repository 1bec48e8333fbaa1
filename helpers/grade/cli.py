"""Stage 5: the command line, ``python -m helpers.grade`` / ``dld-grade``.

    python -m helpers.grade SUBMISSIONS --out DIR [--jobs N] [--shard I/N] [--timeout S] ...
    python -m helpers.grade merge DIR1 DIR2 ... --out DIR

Exit status: 0 every file was graded (a file that is no readable notebook is graded 0 with its
reason); 1 some files could not be graded as notebooks (unreadable, not a notebook, unknown
chapter: see their rows); 3 the grader itself failed on some submissions (sandbox did not start,
worker died, interrupted run) — re-running grades those again; 2 the run could not start (bad
arguments, unreadable .zip, no sandbox tool without ``--unsafe``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import signal
import sys
import threading
import zipfile
from pathlib import Path

from helpers import build
from helpers.grade import journal
from helpers.grade.collect import collect
from helpers.grade.identify import identify, student_of, trusted_chapters
from helpers.grade.report import gradebook
from helpers.grade.run import Options, Pool, grade_job, not_graded
from helpers.grade.sandbox import Limits, missing_tool


def shard_of(name: str, student: str | None, count: int) -> int:
    """The shard (0..count-1) of a file: by its student, so one student's files stay together."""
    who = student or student_of(name)[0]
    return int(hashlib.sha256(who.encode("utf-8", "surrogateescape")).hexdigest(), 16) % count


def _notebook_name(file: str) -> str:
    safe = re.sub(r"[^\w.-]+", "_", file)[-80:].lstrip(".")
    return f"{safe}-{hashlib.sha256(file.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}.ipynb"


def write_outputs(out: Path, results: list[dict], skipped: list[tuple[str, str]]) -> None:
    grades, report = gradebook(results, skipped)
    journal.write_atomic(out / "results.json", json.dumps({"results": results, "skipped": skipped}, indent=1))
    journal.write_atomic(out / "grades.csv", grades)
    journal.write_atomic(out / "report.md", report)


def grade(submissions: Path, out: Path, opts: Options, *, jobs: int = 1, student: str | None = None,
          chapter: int | None = None, use_cache: bool = True, progress: bool = True,
          shard: tuple[int, int] = (0, 1)) -> tuple[list[dict], list[tuple[str, str]]]:
    """Grade everything in ``submissions``; write OUT/grades.csv, report.md, results.json."""
    from tqdm import tqdm

    chapters = trusted_chapters(opts.solutions)
    opts.hide = tuple(str(p.resolve()) for p in (out, submissions, opts.solutions))
    found = collect(submissions, skip=(out,))
    index, count = shard
    entries = [e for e in found.entries if shard_of(e.name, student, count) == index]
    skipped = [s for s in found.skipped if shard_of(s[0], student, count) == index]
    cache = journal.Journal(out / ".cache", enabled=use_cache and not opts.save_notebooks)
    results: dict[int, dict] = {}
    bar = tqdm(total=len(entries), file=sys.stderr, unit="file", desc="grading", disable=not progress)

    def finish(n: int, result: dict) -> None:
        results[n] = result
        cache.put(result.get("key", ""), result)
        if result.get("notebook"):
            try:
                journal.write_atomic(out / "notebooks" / _notebook_name(result["file"]), result.pop("notebook"))
            except OSError as error:
                result["notes"].append(f"could not save the executed notebook: {error}")
        bar.update()

    def started(job) -> None:  # noqa: ANN001
        bar.set_postfix_str(job.file[-60:], refresh=True)

    pending = []
    for n, entry in enumerate(entries):
        bar.set_postfix_str(entry.name[-60:], refresh=True)
        data, error = None, entry.error
        try:
            if not error:
                data = entry.read()
        except OSError as problem:
            error = str(problem)
        try:
            job = identify(entry.name, data, error, chapters, student, chapter, opts.solutions)
            job.notes[:0] = entry.notes
            if job.notebook is not None:
                job.key = journal.key(entry.name, job.student, job.chapter, data or b"", Path(job.trusted_path), opts)
        except Exception as problem:  # noqa: BLE001 - a file that trips the grader: its own row
            from helpers.grade.identify import Job

            job = Job(entry.name, student or student_of(entry.name)[0], None)
            results[n] = not_graded(job, f"grader error: {type(problem).__name__}: {problem}", grader_error=True)
            bar.update()
            continue
        if job.notebook is None:
            results[n] = grade_job(job, opts)
            bar.update()
        elif (hit := cache.get(job.key)) is not None:
            results[n] = hit
            bar.update()
        else:
            pending.append((n, job))
    interrupted = False
    try:
        Pool(jobs, opts).run(pending, finish, started)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        for n, job in pending:  # a run cut short still writes its gradebook
            if n not in results:
                results[n] = not_graded(job, "grader error: the run was interrupted before this file was graded",
                                        grader_error=True)
        ordered = [results[n] for n in range(len(entries))]
        write_outputs(out, ordered, skipped)
    if interrupted:
        raise KeyboardInterrupt
    return ordered, skipped


def exit_code(results: list[dict]) -> int:
    if any(r.get("grader_error") for r in results):
        return 3
    if any(r["error"] for r in results):
        return 1
    return 0


def merge(folders: list[Path], out: Path) -> int:
    """Join the results.json of shard runs into one gradebook in ``out``."""
    results: list[dict] = []
    skipped: list[tuple[str, str]] = []
    for folder in folders:
        try:
            data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"merge: cannot read {folder / 'results.json'}: {error}", file=sys.stderr)
            return 2
        results += [r for r in data.get("results", []) if journal.valid(r)]
        skipped += [tuple(s) for s in data.get("skipped", [])]
    results.sort(key=lambda r: r["file"])
    write_outputs(out, results, sorted(skipped))
    print(f"merged {len(folders)} shards: {len(results)} files: {out / 'grades.csv'}, {out / 'report.md'}")
    return exit_code(results)


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise argparse.ArgumentTypeError("use I/N with 0 <= I < N, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        parser = argparse.ArgumentParser(prog="python -m helpers.grade merge",
                                         description="Join the gradebooks of shard runs (their results.json).")
        parser.add_argument("folders", type=Path, nargs="+", help="the --out folders of the shards")
        parser.add_argument("--out", type=Path, required=True)
        args = parser.parse_args(argv[1:])
        return merge(args.folders, args.out)
    from helpers.grade import __doc__ as doc

    parser = argparse.ArgumentParser(prog="python -m helpers.grade", description=(doc or "").split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder, a .zip or one .ipynb")
    parser.add_argument("--out", type=Path, required=True, help="folder for grades.csv, report.md, results.json, .cache/")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    parser.add_argument("--shard", type=_shard, default=(0, 1), help="grade only shard I of N (0-based), e.g. 0/4")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds per cell holding or using student code, and per check (default 60)")
    parser.add_argument("--trusted-timeout", type=float, default=600.0,
                        help="seconds per other cell of the trusted notebook (default 600)")
    parser.add_argument("--notebook-timeout", type=float, default=900.0, help="seconds per submission (default 900)")
    parser.add_argument("--max-output", type=int, default=100_000, help=argparse.SUPPRESS)
    parser.add_argument("--memory", type=float, default=8.0, help="GiB of address space per sandboxed process (default 8)")
    parser.add_argument("--student", help="student name for every submission (e.g. grading one file)")
    parser.add_argument("--chapter", type=int, help="chapter number for every submission")
    parser.add_argument("--solutions", type=Path, default=build.SOLUTIONS,
                        help="folder of trusted notebooks (default solutions/)")
    parser.add_argument("--save-notebooks", action="store_true",
                        help="also write the merged notebooks, with each cell's outcome, to OUT/notebooks/")
    parser.add_argument("--no-cache", action="store_true", help="grade everything again, ignoring OUT/.cache/")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--unsafe", action="store_true",
                        help="grade without a sandbox when bwrap is missing (checks still run outside the student's process)")
    args = parser.parse_args(argv)
    if not args.submissions.exists():
        parser.error(f"{args.submissions} does not exist")
    if not args.unsafe and (problem := missing_tool()):
        print(f"grading refused: {problem}", file=sys.stderr)
        return 2
    limits = Limits(memory_bytes=int(args.memory * 1024**3))
    opts = Options(args.timeout, args.notebook_timeout, args.trusted_timeout, args.max_output,
                   args.solutions.resolve(), args.save_notebooks, args.unsafe, limits)

    def stop(signum: int, frame: object) -> None:  # SIGTERM (kill, Slurm, Kubernetes): write what is done
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        return _run(args, opts)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, opts: Options) -> int:
    try:
        results, skipped = grade(args.submissions, args.out, opts, jobs=max(1, args.jobs), student=args.student,
                                 chapter=args.chapter, use_cache=not args.no_cache, progress=not args.no_progress,
                                 shard=args.shard)
    except (zipfile.BadZipFile, build.BuildError, OSError) as error:
        print(f"grading failed: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: partial gradebook in {args.out / 'grades.csv'}", file=sys.stderr)
        return 3
    code = exit_code(results)
    print(f"graded {len(results)} files for {len({r['student'] for r in results})} students"
          f"{f', {len(skipped)} files skipped (see report.md)' if skipped else ''}: "
          f"{args.out / 'grades.csv'}, {args.out / 'report.md'}"
          + {0: "", 1: " — some files could not be graded (exit 1)",
             3: " — the grader failed on some submissions; re-run to retry them (exit 3)"}[code])
    return code
