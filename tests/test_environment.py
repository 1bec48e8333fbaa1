"""environment.yml (conda/Binder) names the same packages, with the same ranges, as pyproject."""
import re
import tomllib

from conftest import ROOT


def _pip_lines():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    return [line.strip()[2:] for line in lines[start + 1:] if line.strip().startswith("- ")]


def _normal(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    listed = [line for line in _pip_lines() if line != "-e ."]
    assert sorted(map(_normal, listed)) == sorted(map(_normal, wanted))
    assert "-e ." in _pip_lines(), "environment.yml must install the helpers package itself"


def test_ci_runs_the_readme_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in readme, "the last line of .ci/run must be the README's test command"


def test_nbval_sanitizer_is_configured_and_valid():
    import configparser

    assert "--nbval-sanitize-with tests/nbval_sanitize.cfg" in (ROOT / "pyproject.toml").read_text()
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tests" / "nbval_sanitize.cfg", encoding="utf-8")
    assert parser.sections()
    for section in parser.sections():
        pattern = re.compile(parser[section]["regex"], re.M)
        assert parser[section]["replace"]
        assert not pattern.search("✓ Exercise 6.3: BPTT gradients match"), f"{section} would rewrite a ✓ line"
    assert re.sub(parser["durations"]["regex"], "D", "took 1.25 s") == "took D"


def test_pip_check_is_clean():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_envcheck_reads_the_ranges():
    from helpers import envcheck

    reqs = envcheck.requirements()
    assert any(r.startswith("tensorflow>=") for r in reqs) and any(r.startswith("nbval") for r in reqs)
    assert all((ROOT / t.split("::")[0]).exists() for t in envcheck.SUITE)
