"""The table, the verdict and the command line of ``python -m helpers.mutants``."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from helpers.mutants import __doc__ as DOC
from helpers.mutants.operators import generate
from helpers.mutants.runner import HEADER, ROOT, Outcome, Result, _line, run_chapter


def report(results: list[Result], floor: float, show_survivors: bool) -> str:
    lines = [HEADER] + [_line(r, floor) for r in results]
    for r in results:
        for mutant_id in r.unused:
            lines.append(f"unused EQUIVALENT entry for {r.exercise}: {mutant_id!r}")
        for mutant_id in r.stale:
            lines.append(f"recorded EQUIVALENT but killed, {r.exercise}: {mutant_id!r}")
        for what in r.float32_rejected:
            lines.append(f"note {r.exercise} allows float32, yet rejected the cast: {what}")
    if show_survivors:
        for r in results:
            for o in r.outcomes:
                if o.status == "survived":
                    lines.append(f"survivor {r.exercise}: {o.id!r}")
    return "\n".join(lines)


def _to_result(data: dict) -> Result:
    outcomes = [Outcome(**o) for o in data.pop("outcomes")]
    return Result(**data, outcomes=outcomes)


def chapter_paths(chapter: int | None) -> list[Path]:
    paths = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    return [p for p in paths if chapter is None or int(p.name[:2]) == chapter]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.mutants", description=DOC.split("\n\n")[0])
    parser.add_argument("--chapter", type=int, help="only this chapter (e.g. 3)")
    parser.add_argument("--exercise", help="only this exercise (e.g. 3.9)")
    parser.add_argument("--sample", type=int, metavar="K", help="at most K mutants per exercise (deterministic)")
    parser.add_argument("--sample-for", action="append", default=[], metavar="EX=K",
                        help="another sample size for one exercise, e.g. 7.8=2 (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--floor", type=float, default=0.95, help="minimum kill rate (default 0.95)")
    parser.add_argument("--show-survivors", action="store_true", help="list every surviving mutant")
    parser.add_argument("--replay-all", action="store_true",
                        help="replay every cell, not only those the exercises read (helpers.dataflow)")
    parser.add_argument("--list", action="store_true", help="only list the mutants (ids), run nothing")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    chapter = args.chapter if args.chapter is not None else (
        int(args.exercise.split(".")[0]) if args.exercise else None)
    paths = chapter_paths(chapter)
    if not paths:
        print(f"no solution notebook for chapter {chapter}", file=sys.stderr)
        return 2
    if args.list:
        import nbformat
        from helpers import build

        for path in paths:
            nb = nbformat.read(path, as_version=4)
            for ex in build.exercises(nb, path.name):
                if args.exercise in (None, ex.id):
                    for j, c in enumerate(ex.answer_cells):
                        for m in generate(nb.cells[c].source, j):
                            print(f"{ex.id}\t{m.id}")
        return 0
    results: list[Result] = []
    print(HEADER, flush=True)
    if len(paths) == 1:
        k_for = {ex: int(k) for ex, k in (item.split("=") for item in args.sample_for)}
        results = run_chapter(paths[0], args.exercise, args.sample, args.seed, k_for=k_for,
                              log=lambda s: print(s, flush=True), replay_all=args.replay_all)
    else:  # one fresh process per chapter, as each notebook runs in its own kernel
        for path in paths:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "results.json"
                command = [sys.executable, "-m", "helpers.mutants", "--chapter", path.name[:2],
                           "--seed", str(args.seed), "--floor", str(args.floor), "--json", str(out)]
                if args.sample is not None:
                    command += ["--sample", str(args.sample)]
                for item in args.sample_for:
                    command += ["--sample-for", item]
                command += ["--replay-all"] if args.replay_all else []
                proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                streamed = proc.stdout.split("\n\n")[0].splitlines()  # the child's lines before its report
                print("\n".join(s for s in streamed if s != HEADER), flush=True)
                if out.exists():
                    results += [_to_result(d) for d in json.loads(out.read_text())]
                else:
                    print(f"!! chapter {path.name[:2]} crashed:\n{proc.stdout[-2000:]}")
                    results.append(Result(path.name[:2], error="the replay crashed"))
    print()
    print(report(results, args.floor, args.show_survivors))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1, ensure_ascii=False))
    failed = [r.exercise for r in results if not r.passes(args.floor)]
    if failed:
        print(f"\nmutation gate FAILED for {', '.join(failed)} (floor {args.floor:.0%}, "
              "every survivor must be killed or recorded in EQUIVALENT)")
        return 1
    print(f"\nmutation gate passed: {len(results)} exercises")
    return 0
