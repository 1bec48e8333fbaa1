"""The course as a student meets it: JupyterLab in a real browser (headless Chromium, Playwright).

The test starts its own JupyterLab server (free port, token, temporary settings, workspaces and
runtime folders, copies of the notebooks so nothing in the repository is written), opens a
student notebook and a solution notebook, clicks Run → Run All Cells in each, and checks what is
on the screen: every cell ran, in order, in one go; one ✗ line (wrapped between words only) at
each unanswered exercise and an error nowhere else; no ✓ in the student notebook, every ✓ line
in the solution; LaTeX rendered by MathJax (no raw ``$$``, no MathJax error); widget labels not
cut; a widget whose figure is redrawn when its slider is dragged. Screenshots are saved under
``test-artifacts/browser/`` (git-ignored).

It runs under ``CI=true`` (``.ci/run`` installs Chromium and Playwright where missing) or with
``DLD_BROWSER=1``; elsewhere it is skipped. ``DLD_BROWSER_NOTEBOOKS=all`` (or ``03,07``) also
runs those student notebooks and prints each Run All time.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from helpers import build

CHROMIUM = os.environ.get("DLD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DEFAULT = "00_orientation"
ENABLE = ("browser test skipped: set DLD_BROWSER=1 to run it (CI=true runs it); it needs Chromium "
          "(apt-get install chromium fonts-dejavu-core) and Playwright (pip install playwright)")
RUN_ALL_TIMEOUT_S = float(os.environ.get("DLD_BROWSER_TIMEOUT", "600"))  # per notebook
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMES: dict[str, float] = {}


def _wanted() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("DLD_BROWSER") == "1"


def _student_notebooks() -> list[str]:
    chosen = os.environ.get("DLD_BROWSER_NOTEBOOKS", "")
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    if chosen == "all":
        return names
    extra = [n for n in names if any(n.startswith(c.strip()) for c in chosen.split(",") if c.strip())]
    return [DEFAULT] + [n for n in extra if n != DEFAULT]


pytestmark = pytest.mark.skipif(not _wanted(), reason=ENABLE)


# --------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(folder: Path) -> None:
    """Every cell in the DOM (no windowing), no autosave, no news or update checks (offline)."""
    settings = {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    for plugin, values in settings.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@contextlib.contextmanager
def jupyterlab(root: Path, tmp: Path):
    """A JupyterLab server on a free port serving ``root``; yields its base URL and token."""
    port, token = _free_port(), secrets.token_hex(16)
    for name in ("settings", "workspaces", "runtime", "config"):
        (tmp / name).mkdir()
    _write_settings(tmp / "settings")
    env = {k: v for k, v in os.environ.items() if k not in ("DLD_STATIC_WIDGETS", "MPLBACKEND")}
    env.update(PYTHONPATH=str(ROOT), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.user_settings_dir={tmp / 'settings'}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--ServerApp.open_browser=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "wb")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start:\n{(tmp / 'jupyterlab.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A browser page logged in to a fresh JupyterLab serving copies of notebooks/ and solutions/."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium fonts-dejavu-core")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install playwright (or pip install -e '.[dev]')")
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "course"
    for folder in ("notebooks", "solutions"):
        (root / folder).mkdir(parents=True)
        for path in (ROOT / folder).glob("*.ipynb"):
            shutil.copy(path, root / folder / path.name)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab(root, tmp) as (url, token), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/lab?token={token}&reset")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
        yield page, url, token
        browser.close()
    if TIMES:
        summary = "Run All in JupyterLab (seconds, wall clock): " + ", ".join(f"{n} {s:.1f}" for n, s in TIMES.items())
        (ARTIFACTS / "run-all-times.txt").write_text(summary + "\n", encoding="utf-8")
        print("\n" + summary)


# --------------------------------------------------------------------------- driving JupyterLab
KERNEL_IDLE = """() => { const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && w.context.path === %s; }"""
ALL_RAN = """() => { const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session.kernel;
  const cells = w.content.model.cells;
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i);
    if (c.type === 'code' && (c.executionCount === null || c.executionState === 'running')) return false; }
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')];
  return k.status === 'idle' && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)); }"""


def open_notebook(page, url: str, token: str, path: str) -> None:
    page.goto(f"{url}/lab/tree/{path}?token={token}&reset")
    page.wait_for_function(KERNEL_IDLE % json.dumps(path), timeout=120_000)


def run_all(page) -> float:
    """Click Run → Run All Cells; wait until every code cell has run; return the seconds taken."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    start = time.monotonic()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    page.wait_for_function(ALL_RAN, timeout=RUN_ALL_TIMEOUT_S * 1000, polling=250)
    return time.monotonic() - start


def notebook_json(page) -> dict:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.toJSON()")


def text_of(output: dict) -> str:
    if output.get("output_type") == "error":
        return ANSI.sub("", "\n".join(output.get("traceback", [])))
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        return "".join(text) if isinstance(text, list) else text
    data = output.get("data", {}).get("text/plain", "")
    return "".join(data) if isinstance(data, list) else data


def check_rendering(page, name: str) -> list[str]:
    """Problems a student would see, read from the page: raw LaTeX, MathJax errors, cut labels,
    a ✗ message wrapped by the browser (mid-word) rather than by us."""
    problems = []
    with contextlib.suppress(Exception):  # MathJax typesets asynchronously; what is left is reported
        page.wait_for_function("""() => ![...document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownOutput')]
          .some(e => e.innerText.includes('$$'))""", timeout=30_000)
    math = page.evaluate("""() => { const md = [...document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownOutput')];
      return {raw: md.filter(e => e.innerText.includes('$$')).length, rendered: document.querySelectorAll(
      '.jp-NotebookPanel .jp-MarkdownOutput mjx-container').length, errors: document.querySelectorAll(
      '.jp-NotebookPanel mjx-merror').length}; }""")
    if math["raw"] or math["errors"] or not math["rendered"]:
        problems.append(f"{name}: math not rendered: {math}")
    cut = page.evaluate("""() => [...document.querySelectorAll('.jp-NotebookPanel .widget-label')]
      .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)""")
    if cut:
        problems.append(f"{name}: widget labels cut off: {cut}")
    wrapped = page.evaluate("""() => [...document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output pre')]
      .filter(pre => pre.textContent.includes('✗ Exercise')).map(pre => { const r = document.createRange();
        r.selectNodeContents(pre); const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
        return [pre.textContent.split('\\n').filter(l => l.length).length, tops.size, pre.textContent]; })
      .filter(([lines, shown]) => shown > lines)""")
    for lines, shown, text in wrapped:
        problems.append(f"{name}: a ✗ message of {lines} line(s) is shown on {shown}: {text[:200]!r}")
    return problems


def screenshot_cells(page, first: int, last: int, path: Path) -> None:
    """A screenshot of cells ``first`` to ``last`` (indices in the notebook), scrolled into view."""
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    top_cell, bottom_cell = cells.nth(first), cells.nth(last)
    top_cell.scroll_into_view_if_needed()
    top_cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    top, bottom = top_cell.bounding_box(), bottom_cell.bounding_box()
    height = min(bottom["y"] + bottom["height"] - top["y"] + 28, 880)
    page.screenshot(path=str(path), clip={"x": top["x"], "y": top["y"] - 4, "width": top["width"], "height": height})


def drag_slider(page, name: str) -> list[str]:
    """Drag the first widget slider to the right; the widget's figure must be redrawn."""
    widget = page.locator(".jp-NotebookPanel .widget-interact").first
    if not widget.count():
        return [f"{name}: no widget shown"]
    widget.evaluate("e => e.scrollIntoView({block: 'center'})")
    image = widget.locator("img").first
    image.wait_for()
    before = image.get_attribute("src")
    widget.screenshot(path=str(ARTIFACTS / f"{name}-widget-before.png"))
    box = widget.locator(".noUi-handle").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 90, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    try:
        page.wait_for_function("([el, before]) => { const img = el.querySelector('img'); return img && img.src !== before; }",
                               arg=[widget.element_handle(), before], timeout=90_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError; reported below
        return [f"{name}: the widget's figure did not change after the slider was dragged"]
    widget.screenshot(path=str(ARTIFACTS / f"{name}-widget-after.png"))
    return []


def shut_down_kernel(page) -> None:
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


# --------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("name", _student_notebooks(), ids=[f"browser={n}" for n in _student_notebooks()])
def test_student_run_all_goes_through_with_a_cross_at_each_exercise(lab, name):
    page, url, token = lab
    path = f"notebooks/{name}.ipynb"
    source = nbformat.read(ROOT / path, as_version=4)
    open_notebook(page, url, token, path)
    stored = notebook_json(page)["cells"]
    assert not [c for c in stored if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    TIMES[f"notebooks/{name}"] = seconds = run_all(page)
    cells = notebook_json(page)["cells"]
    code = [(c, s) for c, s in zip(cells, source.cells) if s.cell_type == "code"]
    problems = []
    counts = [c["execution_count"] for c, _ in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"cells did not run once each, in order: execution counts {counts}")
    crosses = 0
    for cell, original in code:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        shown = "\n".join(text_of(o) for o in cell["outputs"])
        ex_id = build.check_id(original)
        if "✓" in shown:
            problems.append(f"{original.id}: shows a ✓ nobody earned: {shown[:200]!r}")
        if ex_id:
            crosses += shown.count("✗ Exercise")
            if len(errors) != 1 or not text_of(errors[0]).startswith(f"✗ Exercise {ex_id}: not answered yet"):
                problems.append(f"{original.id}: expected one ✗ line for Exercise {ex_id}, saw {shown[:300]!r}")
        elif errors:
            waits = build.USES_ANSWER_TAG in original.metadata.get("tags", []) and text_of(errors[0]).startswith("○ This cell waits")
            if not waits or "\n" in text_of(errors[0]):
                problems.append(f"{original.id}: an error outside the exercises: {text_of(errors[0])[:300]!r}")
    exercises = len(build.exercises(nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)))
    if crosses != exercises:
        problems.append(f"{crosses} ✗ lines for {exercises} exercises")
    problems += check_rendering(page, name)
    first = build.exercises(nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4))[0]
    screenshot_cells(page, first.answer_cells[0] - 1, first.check_cell, ARTIFACTS / f"{name}-student-exercise.png")
    if any("widgets.explore(" in c.source for c in source.cells):
        problems += drag_slider(page, name)
    shut_down_kernel(page)
    assert not problems, f"Run All took {seconds:.1f} s\n" + "\n".join(problems)


@pytest.mark.parametrize("name", [DEFAULT], ids=[f"browser-solution={DEFAULT}"])
def test_solution_run_all_prints_every_check_mark(lab, name):
    page, url, token = lab
    path = f"solutions/{name}.ipynb"
    source = nbformat.read(ROOT / path, as_version=4)
    open_notebook(page, url, token, path)
    TIMES[path[:-6]] = seconds = run_all(page)
    cells = notebook_json(page)["cells"]
    problems = []
    for cell, original in zip(cells, source.cells):
        if original.cell_type != "code":
            continue
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if errors:
            problems.append(f"{original.id}: {text_of(errors[0])[:300]!r}")
        if build.check_id(original):
            shown = "".join(text_of(o) for o in cell["outputs"] if o["output_type"] == "stream")
            if shown.strip() != build.expected_line(original):
                problems.append(f"{original.id}: shows {shown!r}, expected {build.expected_line(original)!r}")
    visible = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="✓ Exercise").count()
    if visible != len(build.exercises(source)):
        problems.append(f"{visible} ✓ lines on screen for {len(build.exercises(source))} exercises")
    problems += check_rendering(page, path)
    ex = build.exercises(source)[0]
    screenshot_cells(page, ex.answer_cells[0], ex.check_cell, ARTIFACTS / f"{name}-solution-check.png")
    shut_down_kernel(page)
    assert not problems, f"Run All took {seconds:.1f} s\n" + "\n".join(problems)
