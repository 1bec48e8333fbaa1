"""Stage 1: find every file under SUBMISSIONS (a folder, a .zip or one file).

Each file found becomes an :class:`Entry` (graded: a row in the gradebook, possibly "not graded:
why") or a skip note (``skipped``: dotfiles, symbolic links, special files, zip members with an
unsafe path); nothing is dropped silently. Names are NFC-normalised; a name that is not UTF-8 is
shown with U+FFFD and noted. Files are read one at a time when graded (zip members streamed), at
most ``MAX_FILE_BYTES`` each and at most ``MAX_RATIO`` times their compressed size.
"""
from __future__ import annotations

import os
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

MAX_FILE_BYTES = 20_000_000
MAX_RATIO = 200  # uncompressed / compressed, for members over 1 MB
MAX_MEMBERS = 100_000
JUNK = {"__MACOSX": "macOS metadata", ".ipynb_checkpoints": "Jupyter checkpoint copy", ".DS_Store": "macOS metadata"}


@dataclass
class Entry:
    """One file to grade: its display name (relative, '/', NFC) and how to read it."""

    name: str
    reader: Callable[[], bytes] | None = None
    error: str = ""  # why it cannot be read (then reader is None)
    notes: list[str] = field(default_factory=list)

    def read(self) -> bytes:
        if self.error or self.reader is None:
            raise OSError(self.error or "unreadable")
        return self.reader()


@dataclass
class Found:
    entries: list[Entry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def display_name(raw: str) -> tuple[str, str]:
    """(NFC name with invalid bytes replaced, note or '') for a name from the file system."""
    data = os.fsencode(raw)
    try:
        return nfc(data.decode("utf-8")), ""
    except UnicodeDecodeError:
        return nfc(data.decode("utf-8", "replace")), "the file name is not valid UTF-8 (shown with �)"


def _hidden_reason(parts: tuple[str, ...]) -> str:
    for part in parts:
        if part in JUNK:
            return f"skipped: {JUNK[part]}"
        if part.startswith("."):
            return "skipped: a hidden (dot) file or folder"
    return ""


def collect(path: Path, skip: tuple[Path, ...] = ()) -> Found:
    """Every file under ``path`` (or in the .zip / the one file ``path``)."""
    if path.is_file() and path.suffix.lower() == ".zip":
        return _from_zip(path)
    found = Found()
    if path.is_file():
        found.entries.append(_file_entry(path, nfc(path.name), []))
        return found
    skips = [s.resolve() for s in skip]
    for top, dirs, files in os.walk(path, followlinks=False):
        here = Path(top)
        if any(here.resolve().is_relative_to(s) for s in skips):
            dirs[:] = []
            continue
        for name in sorted(dirs):
            if (here / name).is_symlink():
                rel, _ = display_name((here / name).relative_to(path).as_posix())
                found.skipped.append((rel, "skipped: a symbolic link (to a folder)"))
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        for name in sorted(files):
            file = here / name
            rel, note = display_name(file.relative_to(path).as_posix())
            try:
                mode = file.lstat().st_mode
            except OSError as error:
                found.skipped.append((rel, f"skipped: cannot be read ({error.strerror})"))
                continue
            reason = _hidden_reason(PurePosixPath(rel).parts)
            if stat.S_ISLNK(mode):
                reason = "skipped: a symbolic link"
            elif not stat.S_ISREG(mode):
                reason = "skipped: not a regular file"
            if reason:
                found.skipped.append((rel, reason))
            else:
                found.entries.append(_file_entry(file, rel, [note] if note else []))
    found.entries.sort(key=lambda e: e.name)
    return found


def _file_entry(file: Path, name: str, notes: list[str]) -> Entry:
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        return Entry(name, error=f"file too large ({size} bytes; limit {MAX_FILE_BYTES})", notes=notes)

    def read() -> bytes:
        with open(file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise OSError(f"file too large (over {MAX_FILE_BYTES} bytes)")
        return data

    return Entry(name, read, notes=notes)


def unsafe_member(name: str) -> bool:
    """An absolute path, a drive letter or a '..' component (zip-slip)."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    return posix.startswith("/") or (len(posix) > 1 and posix[1] == ":") or ".." in parts


def _from_zip(path: Path) -> Found:
    found = Found()
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    names = [nfc(i.filename) for i in infos if not i.is_dir()]
    wrapper = path.stem + "/"
    strip = bool(names) and all(n.startswith(wrapper) for n in names)  # zip -r subs.zip subs/
    for count, info in enumerate(infos):
        if info.is_dir():
            continue
        name = nfc(info.filename)
        if strip:
            name = name[len(wrapper):]
        if count >= MAX_MEMBERS:
            found.skipped.append((name, f"skipped: more than {MAX_MEMBERS} members in the archive"))
            continue
        if unsafe_member(info.filename):
            found.skipped.append((name, "skipped: unsafe path in the archive (absolute or '..')"))
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            found.skipped.append((name, "skipped: a symbolic link in the archive"))
            continue
        if reason := _hidden_reason(PurePosixPath(name).parts):
            found.skipped.append((name, reason))
            continue
        if info.flag_bits & 0x1:
            found.entries.append(Entry(name, error="encrypted zip member (cannot be read)"))
        elif info.file_size > MAX_FILE_BYTES:
            found.entries.append(Entry(name, error=f"file too large ({info.file_size} bytes; limit {MAX_FILE_BYTES})"))
        elif info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(1, info.compress_size):
            found.entries.append(Entry(name, error=f"compressed {info.file_size // max(1, info.compress_size)}:1 "
                                                   f"(limit {MAX_RATIO}:1): a zip bomb?"))
        else:
            found.entries.append(Entry(name, _member_reader(path, info)))
    found.entries.sort(key=lambda e: e.name)
    return found


def _member_reader(path: Path, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        limit = min(MAX_FILE_BYTES, max(1_000_000, MAX_RATIO * max(1, info.compress_size)))
        chunks, total = [], 0
        try:
            with zipfile.ZipFile(path) as archive, archive.open(info) as member:
                while chunk := member.read(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise OSError(f"expands beyond {limit} bytes: a zip bomb?")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
            raise OSError(f"damaged zip member: {error}") from None
        return b"".join(chunks)

    return read
