"""Stage 4: the gradebook (``grades.csv``), the report (``report.md``) and ``results.json``.

* one row per student; per exercise the points of the best submission for that chapter; ties for
  the best are reported as ties (the first file by name counts);
* ``max`` is the points available in the chapters the student submitted (plus a column per
  chapter, ``chNN`` = points/max), not every chapter in the run;
* CSV cells that a spreadsheet would evaluate are quoted; Markdown and HTML in names, messages
  and notes are escaped, so report.md shows them as text;
* files that were found but not graded (dotfiles, links, unsafe zip paths) are listed.
"""
from __future__ import annotations

import csv
import html
import io
import re
from typing import Any


def _total(result: dict) -> int:
    return sum(e["points"] for e in result["exercises"])


def _max(result: dict) -> int:
    return sum(e["max"] for e in result["exercises"])


def _cell(text: Any) -> str:
    """A CSV cell a spreadsheet will not evaluate as a formula."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()!|~])")


def md(text: Any, limit: int = 1500) -> str:
    """``text`` as literal Markdown: no links, images, emphasis, HTML or table breaks."""
    text = " ".join(str(text).split())[:limit]
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _chapter_maxima(results: list[dict]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    for r in results:
        if r["chapter"] is not None:
            for e in r["exercises"]:
                found.setdefault(r["chapter"], {}).setdefault(e["id"], e["max"])
    return found


def gradebook(results: list[dict], skipped: list[tuple[str, str]] = ()) -> tuple[str, str]:
    """(grades.csv text, report.md text) for all results."""
    chapters = _chapter_maxima(results)
    ordered = sorted({i for ex in chapters.values() for i in ex}, key=lambda i: tuple(map(int, i.split("."))))
    chapter_cols = sorted(chapters)
    students: dict[str, list[dict]] = {}
    for r in results:
        students.setdefault(r["student"], []).append(r)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *(f"ex {i}" for i in ordered), *(f"ch{c:02d}" for c in chapter_cols),
                     "total", "max", "notes"])
    report = ["# Grades", "", f"{len(results)} files, {len(students)} students, {len(ordered)} exercises "
              f"(one point each unless the check cell says otherwise).", "",
              "| student | " + " | ".join(ordered) + " | total |", "|---" * (len(ordered) + 2) + "|"]
    details: list[str] = []
    for name in sorted(students, key=lambda s: (s.casefold(), s)):
        files = sorted(students[name], key=lambda r: r["file"])
        best: dict[int, dict] = {}
        ties: dict[int, list[dict]] = {}
        for r in files:
            c = r["chapter"]
            if c is None:
                continue
            if c not in best or _total(r) > _total(best[c]):
                best[c], ties[c] = r, []
            elif _total(r) == _total(best[c]):
                ties[c].append(r)
        counted = {id(r) for r in best.values()}
        scores = {e["id"]: e for r in best.values() for e in r["exercises"]}
        notes: list[str] = []
        details += ["", f"## {md(name)}"]
        for r in files:
            where = f"chapter {r['chapter']}" if r["chapter"] is not None else "no chapter"
            status = ""
            if r["chapter"] is not None and id(r) not in counted:
                if any(t is r for t in ties[r["chapter"]]):
                    status = f" — tied with {best[r['chapter']]['file']} for the best score; that file is counted"
                else:
                    status = " — another submission for this chapter scored higher; not counted"
                notes.append(f"{r['file']}: not counted ({status.split(' — ')[1].split(';')[0]})")
            elif r["chapter"] is not None and ties.get(r["chapter"]):
                status = " — counted (tied for the best score; the first file by name counts)"
            details += ["", f"**{md(r['file'])}** ({where}): {_total(r)}/{_max(r)}{md(status)}"]
            if r["error"]:
                notes.append(f"{r['file']}: {r['error']}")
                details.append(f"- problem: {md(r['error'])}")
            for e in r["exercises"]:
                reason = f": {md(e['reason'])}" if e["reason"] else ""
                details.append(f"- {'✓' if e['points'] else '✗'} {md(e['id'])}{reason}")
            for note in r["notes"]:
                details.append(f"- note: {md(note)}")
                notes.append(f"{r['file']}: {note}")
        total = sum(e["points"] for e in scores.values())
        maximum = sum(sum(chapters[c].values()) for c in best)
        per_chapter = [f"{_total(best[c])}/{sum(chapters[c].values())}" if c in best else "" for c in chapter_cols]
        writer.writerow([_cell(name), *(scores[i]["points"] if i in scores else "" for i in ordered),
                         *per_chapter, total, maximum, _cell("; ".join(" ".join(n.split()) for n in notes))])
        marks = [("✓" if scores[i]["points"] else "✗") if i in scores else "" for i in ordered]
        report.append(f"| {md(name)} | " + " | ".join(marks) + f" | {total}/{maximum} |")
    if skipped:
        details += ["", "## Files found but not graded", ""]
        details += [f"- {md(name)}: {md(reason)}" for name, reason in skipped]
    return out.getvalue(), "\n".join(report + details) + "\n"
