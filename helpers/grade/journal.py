"""The journal (``OUT/.cache/``): one result per graded submission, so a re-run resumes.

An entry's key hashes everything that can change a verdict: the grader version, every file of
``helpers/`` (checks, grader, kernels...), the trusted notebook, all options and limits, the
Python / NumPy / TensorFlow / Keras versions, the file's name, student, chapter and bytes. Only
the grader writes it (the sandbox does not see OUT); entries are read back defensively and an
unreadable one is graded again. Grader errors are never journalled.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

GRADER_VERSION = "2"
HELPERS = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=None)
def course_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(HELPERS.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(HELPERS).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    for dist in ("numpy", "tensorflow", "keras", "ipython"):
        try:
            digest.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            pass
    digest.update(sys.version.encode())
    return digest.hexdigest()


def key(name: str, student: str, chapter: int | None, data: bytes, trusted: Path | None, opts: Any) -> str:
    digest = hashlib.sha256()
    options = {k: str(v) for k, v in dataclasses.asdict(opts).items() if k != "hide"}  # hide: where, not how
    for part in (GRADER_VERSION, course_digest(), json.dumps(options, sort_keys=True), name, student, str(chapter)):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(hashlib.sha256(data).digest())
    digest.update(hashlib.sha256(trusted.read_bytes() if trusted else b"").digest())
    return digest.hexdigest()[:40]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and os.replace: old file or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".tmp")
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


def valid(result: Any) -> bool:
    """Does this look like a result the grader wrote (so a damaged entry is graded again)?"""
    if not isinstance(result, dict) or not isinstance(result.get("exercises"), list):
        return False
    if not all(isinstance(result.get(k), str) for k in ("file", "student", "error")):
        return False
    if not (result.get("chapter") is None or isinstance(result.get("chapter"), int)):
        return False
    return all(isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("points"), int)
               and isinstance(e.get("max"), int) for e in result["exercises"])


class Journal:
    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.folder, self.enabled = folder, enabled

    def get(self, entry_key: str) -> dict | None:
        path = self.folder / f"{entry_key}.json"
        if not self.enabled or not path.exists():
            return None
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError, RecursionError):
            return None
        return result if valid(result) else None

    def put(self, entry_key: str, result: dict) -> None:
        if not result.get("grader_error") and entry_key:
            write_atomic(self.folder / f"{entry_key}.json",
                         json.dumps({k: v for k, v in result.items() if k != "notebook"}))
