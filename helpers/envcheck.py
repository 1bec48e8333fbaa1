"""The dependency ranges, tested at both ends (a maintainer command, not part of the suite).

    python -m helpers.envcheck lowest     # a fresh virtualenv with the lowest versions the ranges allow
    python -m helpers.envcheck highest    # ... with the newest versions the registries serve

Each run creates ``.envcheck/<end>/`` (or ``--venv DIR``), installs the course with its ``dev``
extra through uv (``--resolution lowest-direct``: every direct dependency at the bottom of its
range, the rest at the newest that fits; or ``highest``), runs ``pip check``, prints the versions
it got, then runs the helpers' unit tests and three notebooks under nbval: 01 and 07
(TensorFlow/Keras-heavy) and 09 (gensim/NLTK). ``highest`` also says which upper cap, if any,
holds a package below the newest release on the registry. Exit status 0 only if everything passed.
The README's "Tested versions" records the last result of both.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = [
    "tests/test_helpers_core.py", "tests/test_checks_framework.py", "tests/test_data.py",
    "tests/test_kernels_optimizers.py", "tests/test_kernels_rnn.py", "tests/test_environment.py",
    "tests/test_checks_ch01.py", "tests/test_checks_ch07.py", "tests/test_checks_ch09.py",
    "solutions/01_tensors_autodiff.ipynb", "solutions/07_lstm_gru.ipynb", "solutions/09_text_embeddings.ipynb",
]
RESOLUTION = {"lowest": "lowest-direct", "highest": "highest"}


def requirements() -> list[str]:
    """The direct requirements: the project's dependencies and its ``dev`` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["dependencies"] + project["optional-dependencies"]["dev"]


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, text=True, **kwargs)


def _uv(python: Path) -> str:
    """uv from PATH, else installed from PyPI into the new virtualenv."""
    found = shutil.which("uv")
    if found:
        return found
    _run([str(python), "-m", "pip", "install", "-q", "uv"], check=True)
    return str(python.parent / "uv")


def installed_versions(python: Path, names: list[str]) -> dict[str, str]:
    script = ("import importlib.metadata as m, sys\n"
              "for n in sys.argv[1:]:\n"
              "    try: print(n, m.version(n))\n"
              "    except m.PackageNotFoundError: print(n, '-')\n")
    out = subprocess.run([str(python), "-c", script, *names], text=True, capture_output=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def newest_release(python: Path, name: str) -> str | None:
    """The newest version the registry serves (``pip index versions``), or None if unknown."""
    out = subprocess.run([str(python), "-m", "pip", "index", "versions", name], text=True,
                         capture_output=True).stdout
    match = re.search(rf"^{re.escape(name)} \(([^)]+)\)", out, re.M | re.I)
    return match.group(1) if match else None


def held_back(python: Path, reqs: list[str]) -> list[str]:
    """One line per requirement whose upper bound excludes the newest release."""
    from packaging.requirements import Requirement

    lines = []
    for text in reqs:
        req = Requirement(text)
        if not any(spec.operator in ("<", "<=", "~=", "==") for spec in req.specifier):
            continue
        newest = newest_release(python, req.name)
        if newest and not req.specifier.contains(newest, prereleases=False):
            lines.append(f"{req.name}: the range {req.specifier} excludes the newest release {newest}")
    return lines


def check(end: str, venv: Path, suite: list[str]) -> int:
    """Install the ``end`` of the ranges into ``venv`` and run ``suite``; 0 if all passed."""
    if venv.exists():
        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    if not python.exists():  # Windows
        python = venv / "Scripts" / "python.exe"
    uv = _uv(python)
    _run([uv, "pip", "install", "--python", str(python), "--resolution", RESOLUTION[end],
          "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    problems = []
    if _run([str(python), "-m", "pip", "check"]).returncode:
        problems.append("pip check found broken requirements")
    from packaging.requirements import Requirement

    names = [Requirement(r).name for r in requirements()]
    print(f"\n{end} end of the ranges:")
    for name, version in installed_versions(python, names).items():
        print(f"  {name:16s} {version}")
    if end == "highest":
        capped = held_back(python, requirements())
        print("\nupper caps holding a package back:", *(capped or ["none"]), sep="\n  ")
    tests = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *suite], cwd=ROOT,
                 env={**_clean_env(), "PYTHONPATH": str(ROOT)})
    if tests.returncode:
        problems.append(f"pytest exited with {tests.returncode}")
    print(f"\n{end}: " + ("; ".join(problems) if problems else "everything passed"))
    return 1 if problems else 0


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.envcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("end", choices=sorted(RESOLUTION), help="which end of the ranges to install")
    parser.add_argument("--venv", type=Path, help="where to create the virtualenv (default .envcheck/END)")
    parser.add_argument("tests", nargs="*", help="pytest arguments instead of the default selection")
    args = parser.parse_args(argv)
    return check(args.end, args.venv or ROOT / ".envcheck" / args.end, args.tests or SUITE)


if __name__ == "__main__":
    sys.exit(main())
