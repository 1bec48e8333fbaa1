"""The grader against hostile submissions: every attack class of issue 14, built here, run in the sandbox.

One grading run (two workers) grades all attack submissions for chapter 00 against a light copy
of the trusted notebook (its exercise cells, no TensorFlow setup), then honest and unanswered
"victims" named to sort after every attacker. Each attacker's exact grade is asserted (its
honest exercises aside, 0), and so is every victim's: nothing an attacker did reached them.
Most other tests need no sandbox (collect, identity, report, shards, journal).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from helpers import grade
from helpers.grade import cli, collect, identify, journal, report, run
from helpers.grade.sandbox import missing_tool

SOLUTION = nbformat.read(ROOT / "solutions" / "00_orientation.ipynb", as_version=4)
STUDENT = json.loads((ROOT / "notebooks" / "00_orientation.ipynb").read_text(encoding="utf-8"))
REF = {c.id: c.source for c in SOLUTION.cells if c.id.startswith("ex-")}
LINE_01 = "".join(o["text"] for o in next(c for c in SOLUTION.cells if c.id == "ex-0-1-check").outputs).strip()
LINE_02 = "".join(o["text"] for o in next(c for c in SOLUTION.cells if c.id == "ex-0-2-check").outputs).strip()
REF01 = REF["ex-0-1-answer"] + "\n"
REF02 = REF["ex-0-2-answer"] + "\n"
WRONG01 = "\ndef softmax(z):\n    return z\n"
NO_DOCSTRING = ("\ndef log_softmax(z):\n    s = z - np.max(z, axis=-1, keepdims=True)\n"
                "    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))\n")
HIDDEN = ('\n### BEGIN HIDDEN TESTS\nassert log_softmax.__doc__, "hidden test: log_softmax lost its docstring"\n'
          "assert np.allclose(log_softmax(np.array([0.0, 0.0])), np.log([0.5, 0.5]))\n### END HIDDEN TESTS")
CELL_TIMEOUT = 15  # generous: the machine running the tests may be loaded
MARKER = "dld-attack-daemon-7f3a"
SECRET = "DLD_GRADER_SECRET_5c1e"

sandbox_missing = missing_tool()
if sandbox_missing and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI must run the sandbox tests: {sandbox_missing}")
needs_sandbox = pytest.mark.skipif(bool(sandbox_missing), reason=sandbox_missing or "")


def submission(answers: dict[str, str], edit=None) -> bytes:
    """The student notebook with these answer-cell sources, optionally edited further."""
    nb = json.loads(json.dumps(STUDENT))
    for cell in nb["cells"]:
        if cell.get("id") in answers:
            cell["source"] = answers[cell["id"]]
    if edit:
        edit(nb)
    return json.dumps(nb, indent=1).encode()


def light_solutions(folder: Path, hidden: bool = True) -> Path:
    """A trusted chapter 00 with only its exercise cells (no TensorFlow in the sandbox: fast)."""
    nb = json.loads(json.dumps(SOLUTION))
    keep = {"c003", "ex-0-1-answer", "ex-0-1-check", "ex-0-2-answer", "ex-0-2-check"}
    nb["cells"] = [c for c in nb["cells"] if c["id"] in keep]
    nb["cells"][0]["source"] = "from helpers import check\nimport numpy as np"
    if hidden:
        next(c for c in nb["cells"] if c["id"] == "ex-0-2-answer")["source"] += HIDDEN
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.from_dict(nb), folder / "00_orientation.ipynb")
    return folder


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


# --------------------------------------------------------------------------- the attacks
def attacks(base: Path, port: int) -> dict[str, tuple[dict[str, str], tuple[int, int]]]:
    """student: (answer cells, expected points for 0.1 and 0.2)."""
    out, subs, victim = base / "out", base / "submissions", base / "submissions" / "zz_honest__00_orientation.ipynb"
    a1, a2 = "ex-0-1-answer", "ex-0-2-answer"
    correct_if = ("\ndef softmax(z):\n    if ESCAPED:\n        e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
                  "        return e / e.sum(axis=-1, keepdims=True)\n    return z\n")
    return {
        # credit with no answer, from one answer cell
        "a_allclose": ({a1: "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = np.allclose\n"
                            + WRONG01, a2: REF02}, (0, 1)),
        "a_input_transformer": ({a1: "ip = get_ipython()\nfake = 'print(%r)' % " + repr(LINE_01) + "\n"
                                     "ip.input_transformers_cleanup.append(lambda lines: [fake + '\\n'])\n" + WRONG01},
                                (0, 0)),
        "a_ast_transformer": ({a1: "import ast\nclass T(ast.NodeTransformer):\n    def visit_Module(self, node):\n"
                                   "        return ast.parse('print(%r)' % " + repr(LINE_02) + ")\n"
                                   "get_ipython().ast_transformers.append(T())\n" + WRONG01}, (0, 0)),
        "a_run_cell": ({a1: WRONG01 + "get_ipython().run_cell = lambda *a, **k: print(" + repr(LINE_02) + ")\n"}, (0, 0)),
        "a_post_run_hook": ({a1: "def hide(result):\n    result.error_in_exec = None\n"
                                 "get_ipython().events.register('post_run_cell', hide)\n" + WRONG01
                                 + "raise ValueError('hidden by the hook')\n"}, (0, 0)),
        "a_settrace": ({a1: "import sys, threading\ndef tracer(frame, event, arg):\n"
                            "    if frame.f_code.co_name in ('assert_close', 'fail', 'require'):\n"
                            "        raise SystemExit\n    return tracer\n"
                            "sys.settrace(tracer)\nthreading.settrace(tracer)\n" + WRONG01}, (0, 0)),
        "a_disable_checker": ({a1: "def softmax(z):\n    import helpers.checks as c, helpers.checks.ch00 as c0\n"
                                   "    for m in (c, c0):\n        m.assert_close = m.fail = m.require = lambda *a, **k: None\n"
                                   "    return z\n"}, (0, 0)),
        "a_import_hijack": ({a1: "import builtins, importlib, sys, types, os, helpers\n"
                                 "fake = types.ModuleType('helpers.check')\n"
                                 "fake.ex_0_1 = lambda *a: print(" + repr(LINE_01) + ")\n"
                                 "fake.ex_0_2 = lambda *a: print(" + repr(LINE_02) + ")\n"
                                 "real = builtins.__import__\n"
                                 "def hooked(name, *a, **k):\n"
                                 "    return fake if name.startswith('helpers.check') else real(name, *a, **k)\n"
                                 "builtins.__import__ = hooked\n"
                                 "importlib.import_module = lambda name, *a: fake\n"
                                 "class Finder:\n    def find_spec(self, name, path=None, target=None):\n"
                                 "        return None\nsys.meta_path.insert(0, Finder())\n"
                                 "os.makedirs('/tmp/fake/checks', exist_ok=True)\n"
                                 "open('/tmp/fake/checks/__init__.py', 'w').write('def get(i): raise SystemExit')\n"
                                 "helpers.__path__.insert(0, '/tmp/fake')\n"
                                 "sys.modules['helpers.check'] = sys.modules['helpers.checks'] = fake\n"
                                 "check = fake\n" + WRONG01}, (0, 0)),
        "a_tf_reference_zero": ({a1: "import tensorflow as tf\nimport numpy as np\n"
                                     "tf.nn.softmax = lambda z, axis=-1: tf.zeros_like(z)\n"
                                     "tf.nn.log_softmax = lambda z, axis=-1: tf.zeros_like(z)\n"
                                     "def softmax(z):\n    return np.zeros_like(z)\n",
                                 a2: "def log_softmax(z):\n    return np.zeros_like(z)\n"}, (0, 0)),
        "a_print_success": ({a1: WRONG01 + f"print({LINE_01!r})\n", a2: f"print({LINE_02!r})\n"}, (0, 0)),
        "a_script_false": ({a1: REF01 + NO_DOCSTRING, a2: "%%script true\nraise SystemExit\n"}, (1, 0)),
        "a_evil_result": ({a1: "class Evil:\n    def __array__(self, *a, **k):\n        import os; os._exit(3)\n"
                               "    def __eq__(self, other):\n        return True\n"
                               "def softmax(z):\n    return Evil()\n", a2: REF02}, (0, 1)),
        # other students affected
        "a_startup_files": ({a1: "import os, pathlib, site, sys\n"
                                 "payload = 'import numpy\\nnumpy.allclose = lambda *a, **k: True\\n'\n"
                                 "targets = [os.path.expanduser('~/.ipython/profile_default/startup/00-x.py'),\n"
                                 "           '/tmp/sitecustomize.py', os.path.join(site.getsitepackages()[0], 'sitecustomize.py'),\n"
                                 f"           {str(ROOT / 'helpers' / 'checks' / '__init__.py')!r},\n"
                                 f"           {str(ROOT / 'helpers' / 'checks' / 'ch00.py')!r}]\n"
                                 "for t in targets:\n    try:\n        pathlib.Path(t).parent.mkdir(parents=True, exist_ok=True)\n"
                                 "        open(t, 'a').write(payload)\n    except OSError:\n        pass\n" + WRONG01},
                            (0, 0)),
        "a_daemon": ({a1: "import subprocess, sys\n"
                          f"code = 'import os, time, signal\\n# {MARKER}\\ntime.sleep(150)\\nwhile True:\\n    os.kill(-1, signal.SIGKILL)\\n    time.sleep(0.2)'\n"
                          "subprocess.Popen(['setsid', sys.executable, '-c', code, " + repr(MARKER) + "],\n"
                          "                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
                          + REF01, a2: REF02}, (1, 1)),
        "a_reach_out": ({a1: "import os, glob\nESCAPED = False\n"
                             "for p in glob.glob('/proc/*/cmdline') + glob.glob('/proc/*/environ'):\n"
                             "    try:\n        text = open(p, 'rb').read()\n    except OSError:\n        continue\n"
                             f"    ESCAPED |= {SECRET.encode()!r} in text or {str(out).encode()!r} in text\n"
                             f"ESCAPED |= {SECRET!r} in os.environ\n"
                             f"for p in [{str(victim)!r}, {str(subs)!r}, {str(out)!r}, {str(ROOT / 'solutions')!r},\n"
                             f"          {str(ROOT / 'solutions' / '00_orientation.ipynb')!r}]:\n"
                             "    ESCAPED |= os.path.exists(p) and os.path.isdir(p) and bool(os.listdir(p)) or os.path.isfile(p)\n"
                             f"for p in [{str(out / 'grades.csv')!r}, {str(out / '.cache' / 'x.json')!r}, {str(victim)!r},\n"
                             f"          {str(ROOT / 'helpers' / 'checks' / '__init__.py')!r}]:\n"
                             "    try:\n        open(p, 'a').write('hacked')\n        ESCAPED = True\n"
                             "    except OSError:\n        pass\n" + correct_if}, (0, 0)),
        "a_network": ({a1: "import socket\nESCAPED = False\n"
                           f"for host, port in [('127.0.0.1', {port}), ('8.8.8.8', 53)]:\n"
                           "    try:\n        socket.create_connection((host, port), timeout=2).close()\n        ESCAPED = True\n"
                           "    except OSError:\n        pass\n" + correct_if}, (0, 0)),
        "a_fork_bomb": ({a1: "import os, time\nfor _ in range(100_000):\n    try:\n        if os.fork() == 0:\n"
                             "            time.sleep(30)\n            os._exit(0)\n    except OSError:\n        break\n" + REF01,
                         a2: REF02}, (1, 1)),
        # whole run lost to one file (the attacker's own marks only)
        # kill(-1) spares the caller and the grader is out of reach: the answer cell fails, nothing else
        "a_kill_all": ({a1: REF01 + "import os, signal\nos.kill(-1, signal.SIGKILL)\nos.kill(os.getppid(), signal.SIGKILL)\n",
                        a2: REF02}, (0, 1)),
        "a_exit": ({a1: REF01, a2: "import os\nos._exit(1)\n"}, (1, 0)),
        "a_loop_ignores_interrupt": ({a1: "while True:\n    pass\n",
                                      a2: "import signal\ndef log_softmax(z):\n"
                                          "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n        pass\n"},
                                     (0, 0)),
        "a_memory": ({a1: REF01 + "hog = bytearray(64 * 2**30)\n", a2: REF02}, (0, 1)),
        "a_disk": ({a1: REF01 + "with open('/tmp/big', 'wb') as f:\n    for _ in range(1024):\n"
                               "        f.write(b'0' * 2**20)\n", a2: REF02}, (0, 1)),
        "a_garbage_channel": ({a1: REF01, a2: REF02 + "import os\nfor fd in range(3, 64):\n    try:\n"
                                             "        os.write(fd, b'\\xff' * 64)\n    except OSError:\n        pass\n"},
                              (1, 0)),
        # victims: graded after every attacker
        "zz_honest": ({a1: REF01, a2: REF02}, (1, 1)),
        "zz_stub": ({}, (0, 0)),
        "zz_wrong": ({a1: WRONG01, a2: NO_DOCSTRING}, (0, 0)),
    }


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("attacks")
    subs = base / "submissions"
    subs.mkdir()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    cases = attacks(base, server.getsockname()[1])
    for student, (answers, _) in cases.items():
        (subs / f"{student}__00_orientation.ipynb").write_bytes(submission(answers))
    (subs / "deep__00_orientation.ipynb").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    protected = {p: p.read_bytes() for p in (ROOT / "helpers" / "checks").glob("*.py")}
    os.environ[SECRET] = SECRET
    try:
        opts = run.Options(cell_timeout=CELL_TIMEOUT, notebook_timeout=120, solutions=light_solutions(base / "solutions"),
                           limits=grade.Limits(processes=64))
        results, _ = grade.grade(subs, base / "out", opts, jobs=2, progress=False)
    finally:
        os.environ.pop(SECRET, None)
        server.close()
    return base, cases, {r["student"]: r for r in results}, protected


@needs_sandbox
def test_every_attack_gets_exactly_its_honest_marks(attack_run):
    base, cases, results, _ = attack_run
    got = {s: tuple(e["points"] for e in results[s]["exercises"]) for s in cases}
    expected = {s: points for s, (_, points) in cases.items()}
    assert got == expected, {s: [e["reason"] for e in results[s]["exercises"]] for s in got if got[s] != expected[s]}
    rows = read_csv(base / "out" / "grades.csv")
    assert rows["zz_honest"]["total"] == "2" and rows["zz_stub"]["total"] == "0" and rows["a_allclose"]["total"] == "1"


@needs_sandbox
def test_attack_reasons(attack_run):
    _, _, results, _ = attack_run

    def reason(student: str, ex: str) -> str:
        return next(e["reason"] for e in results[student]["exercises"] if e["id"] == ex)

    assert "hidden test failed" in reason("a_script_false", "0.2") and "docstring" in reason("a_script_false", "0.2")
    assert "not answered yet" in reason("zz_stub", "0.1")
    assert "hidden test failed" in reason("a_loop_ignores_interrupt", "0.2")
    assert "answer cell timed out" in reason("a_loop_ignores_interrupt", "0.1")
    assert "MemoryError" in reason("a_memory", "0.1")
    assert "sandbox stopped" in reason("a_exit", "0.2")
    assert "is not right" in reason("a_post_run_hook", "0.1")  # a hidden error changes nothing: the check decides
    assert results["deep"]["error"] == "malformed notebook: JSON nested too deeply"


@needs_sandbox
def test_attacks_leave_no_trace(attack_run):
    base, _, _, protected = attack_run
    for path, data in protected.items():
        assert path.read_bytes() == data, f"{path} was changed"
    assert "hacked" not in (base / "submissions" / "zz_honest__00_orientation.ipynb").read_text(encoding="utf-8")
    assert not (base / "out" / ".cache" / "x.json").exists()
    assert "hacked" not in (base / "out" / "grades.csv").read_text(encoding="utf-8")
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert MARKER not in ps, "a daemon outlived its sandbox"
    assert not Path("/tmp/fake").exists() and not Path("/tmp/big").exists()


@needs_sandbox
def test_real_notebook_full_marks_long_name_saved(tmp_path):
    """The real trusted chapter 00 (TensorFlow setup, plots, widgets) with honest answers."""
    name = "honest_" + "x" * 200 + "__00_orientation.ipynb"
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / name).write_bytes(submission({"ex-0-1-answer": REF01, "ex-0-2-answer": REF02}))
    code = grade.main([str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--no-progress",
                       "--save-notebooks", "--timeout", "120"])
    rows = read_csv(tmp_path / "out" / "grades.csv")
    assert code == 0, rows
    assert rows["honest_" + "x" * 200]["total"] == "2" and rows["honest_" + "x" * 200]["notes"] == ""
    saved = list((tmp_path / "out" / "notebooks").glob("*.ipynb"))
    assert len(saved) == 1 and len(saved[0].name) < 100
    graded = nbformat.read(saved[0], as_version=4)
    status = {c.id: c.metadata["grader"] for c in graded.cells if c.cell_type == "code"}
    assert all(status[cid]["status"] == "ok" for cid in ("ex-0-1-answer", "ex-0-1-check", "ex-0-2-answer", "ex-0-2-check"))
    skipped = [cid for cid, s in status.items() if s["status"] == "skipped"]
    assert skipped and all(status[cid]["detail"] == run.NOT_NEEDED for cid in skipped)  # the plots and widgets


def test_only_the_cells_a_check_needs_run_judged_on_the_students_own_code():
    from types import SimpleNamespace

    cells = [{"cell_type": "code", "id": cid, "source": src} for cid, src in [
        ("setup", "import numpy as np"), ("table", "TABLE = np.arange(3)"), ("plot", "plot(TABLE)"),
        ("answer", "def f(x):\n    return x"), ("check", "check.ex_0_1(f)"), ("uses", "plot(f(TABLE))")]]
    job = SimpleNamespace(notebook={"cells": cells}, exercises=[{"check": "check", "answers": ["answer"], "hidden": {}}])
    assert run.needed_cells(job) == {"answer", "check"}
    cells[3]["source"] = "def f(x):\n    return x + TABLE.sum()"       # the student reads a trusted name
    assert run.needed_cells(job) == {"setup", "table", "answer", "check"}
    job.exercises[0]["hidden"] = {"answer": "assert np.isfinite(f(1))"}   # hidden tests read names too
    cells[3]["source"] = "def f(x):\n    return x"
    assert run.needed_cells(job) == {"setup", "answer", "check"}


@needs_sandbox
def test_sandbox_that_cannot_start_is_a_grader_error(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "ann__00_orientation.ipynb").write_bytes(submission({"ex-0-1-answer": REF01}))
    opts = run.Options(solutions=light_solutions(tmp_path / "sol"), limits=grade.Limits(memory_bytes=30 * 2**20))
    results, _ = grade.grade(tmp_path / "subs", tmp_path / "out", opts, progress=False)
    assert results[0]["grader_error"] and "sandbox could not start" in results[0]["error"]
    assert cli.exit_code(results) == 3
    assert "sandbox could not start" in read_csv(tmp_path / "out" / "grades.csv")["ann"]["notes"]
    assert not list((tmp_path / "out" / ".cache").glob("*.json"))  # not journalled: a re-run retries


# --------------------------------------------------------------------------- proxy semantics
@pytest.fixture(scope="module")
def session():
    if sandbox_missing:
        pytest.skip(sandbox_missing)
    from helpers.grade.proxy import Session
    from helpers.grade.sandbox import Limits, Sandbox

    s = Session(Sandbox(Limits()))
    s.request({"op": "ping"}, timeout=120)
    source = ("import numpy as np\n"
              "def inplace(a, d, l, rng):\n    a *= 2\n    d['v'] = d.get('v', 0) + 1\n    d['arr'][0] = 7\n"
              "    l.append(3)\n    rng.random()\n    return a\n"
              "def twice(f, x):\n    return f(x) + f(x)\n"
              "def kinds(x):\n    return (1, [2.5, 'a'], {'k': (np.float32(1.5), None)}, b'raw', {1, 2}, 2**70, float('nan'))\n"
              "def boom(x):\n    raise KeyError('missing ' + str(x))\n"
              "def forever():\n    while True:\n        pass\n")
    reply, _ = s.request({"op": "cell", "source": source}, timeout=60)
    assert reply["status"] == "ok", reply
    reply, blobs = s.request({"op": "resolve", "exprs": ["inplace", "twice", "kinds", "boom", "forever"], "kwexprs": {}},
                             timeout=30)
    yield s, dict(zip(["inplace", "twice", "kinds", "boom", "forever"], s.decoder(blobs)(reply["values"])))
    s.stop("done")


def test_mutated_arguments_are_written_back_and_aliases_kept(session):
    import numpy as np

    s, fns = session
    a, d, lst, rng = np.arange(3.0), {"arr": np.zeros(2)}, [1], np.random.default_rng(0)
    inner = d["arr"]
    expected_rng = np.random.default_rng(0)
    expected_rng.random()
    out = fns["inplace"](a, d, lst, rng)
    assert out is a and a.tolist() == [0.0, 2.0, 4.0]
    assert d["v"] == 1 and d["arr"] is inner and inner.tolist() == [7.0, 0.0]
    assert lst == [1, 3]
    assert rng.random() == expected_rng.random()


def test_values_cross_as_data_and_functions_by_value_or_callback(session):
    import numpy as np

    s, fns = session
    got = fns["kinds"](0)
    assert got[:6] == (1, [2.5, "a"], {"k": (np.float32(1.5), None)}, b"raw", {1, 2}, 2**70)
    assert isinstance(got[2]["k"][0], np.float32) and np.isnan(got[6])
    calls = []

    def counting(x):  # records its calls: stays in the grader, the sandbox calls back
        calls.append(x)
        return x * 10

    assert fns["twice"](counting, 2.0) == 40.0 and calls == [2.0, 2.0]
    assert fns["twice"](lambda x: x ** 3, 2.0) == 16.0  # pure: sent by value
    with pytest.raises(Exception, match="missing 5") as info:
        fns["boom"](5)
    assert type(info.value).__name__ == "KeyError"


def test_time_limit_interrupts_then_kills(session):
    from time import monotonic

    from helpers.grade.proxy import SandboxStopped

    s, fns = session
    s.deadline = monotonic() + 1.5
    with pytest.raises(BaseException) as info:
        fns["forever"]()
    s.deadline = None
    assert type(info.value).__name__ in ("_TimeLimit", "TimedOut")
    assert fns["kinds"](0)[0] == 1  # interrupted, the sandbox still serves
    s.request({"op": "cell", "source": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)"}, timeout=30)
    s.deadline = monotonic() + 1.5
    with pytest.raises(BaseException):
        fns["forever"]()
    s.deadline = None
    with pytest.raises(SandboxStopped, match="ignored the interrupt"):
        fns["kinds"](0)


# --------------------------------------------------------------------------- files, names, report
def test_collect_notes_every_file(tmp_path):
    (tmp_path / "s" / ".git").mkdir(parents=True)
    (tmp_path / "s" / ".git" / "config").write_text("x")
    (tmp_path / "s" / ".hidden.ipynb").write_text("{}")
    (tmp_path / "s" / "ok__00_x.ipynb").write_text("{}")
    (tmp_path / "s" / "link.ipynb").symlink_to(tmp_path / "s" / "ok__00_x.ipynb")
    (tmp_path / "s" / "dirlink").symlink_to(tmp_path)
    os.mkfifo(tmp_path / "s" / "fifo")
    bad = os.fsencode(tmp_path / "s") + b"/b\xe9d__00_x.ipynb"
    with open(bad, "wb") as handle:
        handle.write(b"{}")
    found = collect.collect(tmp_path / "s")
    names = {e.name for e in found.entries}
    assert names == {"ok__00_x.ipynb", "b\ufffdd__00_x.ipynb"}
    assert any("not valid UTF-8" in n for e in found.entries for n in e.notes)
    skipped = dict(found.skipped)
    assert set(skipped) == {".git/config", ".hidden.ipynb", "link.ipynb", "dirlink", "fifo"}
    assert "symbolic link" in skipped["link.ipynb"] and "hidden" in skipped[".hidden.ipynb"]


def test_zip_members_streamed_with_limits(tmp_path):
    path = tmp_path / "subs.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a__00_x.ipynb", b"{}")
        archive.writestr("../evil__00_x.ipynb", b"{}")
        archive.writestr("/abs__00_x.ipynb", b"{}")
        archive.writestr("bomb__00_x.ipynb", b"0" * 30_000_000)
        archive.writestr("ratio__00_x.ipynb", b"0" * 5_000_000)
        archive.writestr("crc__00_x.ipynb", b"x" * 1000)
        archive.writestr("__MACOSX/._a", b"junk")
        link = zipfile.ZipInfo("link__00_x.ipynb")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "a__00_x.ipynb")
        archive.writestr("enc__00_x.ipynb", b"ciphertext")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        crc, enc = archive.getinfo("crc__00_x.ipynb"), archive.getinfo("enc__00_x.ipynb")
    data[crc.header_offset + 30 + len(crc.filename) + len(crc.extra) + 2] ^= 0xFF  # damage its deflated bytes
    data[enc.header_offset + 6] |= 0x1  # the "encrypted" flag, local header ...
    central = data.find(b"PK\x01\x02" + bytes(data[enc.header_offset + 4:enc.header_offset + 6]), data.rfind(b"PK\x05\x06") - 4000)
    while data[central + 46:central + 46 + len(enc.filename)] != enc.filename.encode():
        central = data.find(b"PK\x01\x02", central + 1)
    data[central + 8] |= 0x1  # ... and central directory
    path.write_bytes(bytes(data))
    found = collect.collect(path)
    entries = {e.name: e for e in found.entries}
    assert set(dict(found.skipped)) == {"../evil__00_x.ipynb", "/abs__00_x.ipynb", "__MACOSX/._a", "link__00_x.ipynb"}
    assert entries["a__00_x.ipynb"].read() == b"{}"
    assert "too large" in entries["bomb__00_x.ipynb"].error
    assert "zip bomb" in entries["ratio__00_x.ipynb"].error
    assert "encrypted" in entries["enc__00_x.ipynb"].error
    with pytest.raises(OSError, match="damaged zip member"):
        entries["crc__00_x.ipynb"].read()


def test_identity_rules():
    assert identify.student_of("carl/ivy__00_x.ipynb")[0] == "carl"
    assert "the folder decides" in identify.student_of("carl/ivy__00_x.ipynb")[1]
    assert identify.student_of("course/zed/00_x.ipynb") == ("zed", "")
    assert identify.student_of("alice__00_x.ipynb") == ("alice", "")
    assert identify.student_of("carol.ipynb") == ("carol", "")
    assert identify.student_of("Jose\u0301__00_x.ipynb")[0] == "Jos\u00e9"
    assert identify.chapter_from_name("alice__07_rnn.ipynb") == 7 and identify.chapter_from_name("essay.ipynb") is None


def _result(file, student, chapter, points, maxima=None, error=""):
    maxima = maxima or [1] * len(points)
    return {"file": file, "student": student, "chapter": chapter, "error": error, "notes": [],
            "exercises": [{"id": f"{chapter}.{i + 1}", "max": m, "points": p, "reason": "" if p else "wrong"}
                          for i, (p, m) in enumerate(zip(points, maxima))]}


def test_report_max_per_chapter_ties_and_escaping():
    results = [_result("ann__00.ipynb", "ann", 0, [1, 1]), _result("ann_v2__00.ipynb", "ann", 0, [1, 1]),
               _result("bo__03.ipynb", "bo", 3, [1, 0, 1]), _result("bo__00.ipynb", "bo", 0, [0, 1]),
               _result("x.ipynb", "[click](http://evil) ![i](http://x/i.png) <b>", 0, [0, 0],
                       error="**bold** <script>")]
    results[1]["student"] = "ann"
    grades, text = report.gradebook(results, [(".x", "skipped: a hidden (dot) file or folder")])
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(grades))}
    assert rows["ann"]["max"] == "2" and rows["ann"]["total"] == "2" and rows["ann"]["ch00"] == "2/2"
    assert rows["bo"]["max"] == "5" and rows["bo"]["ch03"] == "2/3"
    assert "tied with ann__00.ipynb for the best score" in rows["ann"]["notes"]
    assert report.md("tied with ann__00.ipynb") in text and "scored higher" not in text
    assert "](http" not in text and "<script>" not in text and "<b>" not in text and "**bold**" not in text
    assert "\\[click\\]\\(http://evil\\)" in text.replace("\\:", ":")
    assert "Files found but not graded" in text and "hidden" in text


def test_unreadable_files_progress_exit_code_shards_and_merge(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    names = [f"s{i}__00_orientation.ipynb" for i in range(6)] + ["ivan__notes.txt"]
    for name in names:
        (subs / name).write_bytes(b"{broken}")
    (subs / ".DS_Store").write_bytes(b"junk")
    light = str(light_solutions(tmp_path / "sol"))
    assert grade.main([str(subs), "--out", str(tmp_path / "all"), "--solutions", light, "--unsafe"]) == 1
    err = capsys.readouterr().err
    assert "/7" in err and "ivan__notes.txt" in err  # counts all files from the start, names the current one
    full = read_csv(tmp_path / "all" / "grades.csv")
    assert "not a notebook" in full["ivan"]["notes"] and "malformed JSON" in full["s0"]["notes"]
    assert report.md(".DS_Store: skipped: macOS metadata") in (tmp_path / "all" / "report.md").read_text(encoding="utf-8")
    for i in range(2):
        grade.main([str(subs), "--out", str(tmp_path / f"shard{i}"), "--shard", f"{i}/2", "--solutions", light,
                    "--no-progress", "--unsafe"])
    parts = [set(read_csv(tmp_path / f"shard{i}" / "grades.csv")) for i in range(2)]
    assert parts[0] and parts[1] and not parts[0] & parts[1] and parts[0] | parts[1] == set(full)
    assert grade.main(["merge", str(tmp_path / "shard0"), str(tmp_path / "shard1"), "--out", str(tmp_path / "m")]) == 1
    assert (tmp_path / "m" / "grades.csv").read_text() == (tmp_path / "all" / "grades.csv").read_text()


def test_refuses_without_sandbox_tool(tmp_path, monkeypatch, capsys):
    import shutil

    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "bwrap" else real(name))
    (tmp_path / "a.ipynb").write_text("{}")
    assert grade.main([str(tmp_path / "a.ipynb"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bwrap not found" in err[0] and "--unsafe" in err[0]


class Bomb:
    """Kills the worker process that unpickles it (a worker dying mid-submission)."""

    def __reduce__(self):
        return (os._exit, (9,))


def test_a_dying_worker_costs_one_row(tmp_path):
    opts = run.Options(solutions=light_solutions(tmp_path / "sol"))
    bad = identify.Job("bad.ipynb", "bad", 0, exercises=[{"id": "0.1", "points": 1}], notebook={"cells": []})
    bad.notes = [Bomb()]  # type: ignore[list-item]
    fine = identify.Job("fine.ipynb", "fine", 0, error="not a notebook", exercises=[{"id": "0.1", "points": 1}])
    done: dict[int, dict] = {}
    run.Pool(1, opts).run([(0, bad), (1, fine)], done.__setitem__)
    assert done[0]["grader_error"] and "worker grading this file died" in done[0]["error"]
    assert done[1]["error"] == "not a notebook" and not done[1].get("grader_error")


def test_journal_key_covers_helpers_options_and_notebook(tmp_path, monkeypatch):
    opts = run.Options()
    trusted = tmp_path / "00.ipynb"
    trusted.write_text("{}")
    base = journal.key("a.ipynb", "a", 0, b"x", trusted, opts)
    assert journal.key("a.ipynb", "a", 0, b"x", trusted, run.Options(cell_timeout=5)) != base
    trusted.write_text("{ }")
    assert journal.key("a.ipynb", "a", 0, b"x", trusted, opts) != base
    copy = tmp_path / "helpers"
    (copy / "checks").mkdir(parents=True)
    (copy / "checks" / "__init__.py").write_text("a")
    monkeypatch.setattr(journal, "HELPERS", copy)
    journal.course_digest.cache_clear()
    first = journal.course_digest()
    (copy / "checks" / "__init__.py").write_text("b")
    journal.course_digest.cache_clear()
    assert journal.course_digest() != first
    journal.course_digest.cache_clear()
    assert not journal.valid({"file": "x"}) and journal.valid(_result("f", "s", 0, [1]))


def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"
    target.write_text("old complete gradebook\n", encoding="utf-8")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        journal.write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old complete gradebook\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_package_layout_and_entry_points():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"helpers.grade"' in pyproject and 'dld-grade = "helpers.grade:main"' in pyproject
    out = subprocess.run([sys.executable, "-m", "helpers.grade", "--help"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert "--shard" in out and "--unsafe" in out
    assert re.search(r"bwrap", (ROOT / ".ci" / "run").read_text(encoding="utf-8"))
