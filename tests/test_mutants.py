"""The mutation gate (helpers/mutants.py): its operators do what they say, and every chapter's
checks kill a deterministic sample of the mutants of their reference answers."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from helpers import mutants

SAMPLE = 6  # mutants per exercise in the suite (the whole table: `python -m helpers.mutants`)
SAMPLE_FOR = {"7.8": 1}  # each 7.8 mutant trains an LSTM
SEED = 0


def _mutants(body: str) -> dict[str, str]:
    """id -> mutated code of a one-function snippet whose body is the solution region."""
    lines = "\n".join(f"    {line}" for line in body.strip().split("\n"))
    source = f"def f(x, y, n, params):\n    ### BEGIN SOLUTION\n{lines}\n    ### END SOLUTION\n"
    return {m.id: m.source for m in mutants.generate(source)}


def _body(code: str) -> str:
    """The function body of mutated code, one line per statement."""
    return "\n".join(ast.unparse(s) for s in ast.parse(code).body[0].body)


@pytest.mark.parametrize("body,mutant_id,expected", [
    ("return x + y", "L1 BinOp Add→Sub: x + y", "return x - y"),
    ("return x * y", "L1 BinOp Mult→Div: x * y", "return x / y"),
    ("return x / y", "L1 Operands swapped: x / y", "return y / x"),
    ("return x @ y", "L1 BinOp MatMult→Mult: x @ y", "return x * y"),
    ("return x + y * 2", "L1 Term dropped (right): x + y * 2", "return x"),
    ("return x - y", "L1 Term dropped (left): x - y", "return -y"),
    ("return x * y", "L1 Factor dropped (left): x * y", "return y"),
    ("return -x", "L1 Sign flipped (−x→x): -x", "return x"),
    ("z = x + y\nreturn z", "L1 Sign flipped (x→−x): x + y", "z = -(x + y)\nreturn z"),
    ("return x ** 2", "L1 Constant 2→1: x ** 2", "return x ** 1"),
    ("return x * 0.5", "L1 Constant 0.5→1.0: x * 0.5", "return x * 1.0"),
    ("return x * 0.9", "L1 Constant 0.9→-0.9: x * 0.9", "return x * -0.9"),
    ("return x.sum(axis=0)", "L1 axis 0→1: x.sum(axis=0)", "return x.sum(axis=1)"),
    ("return x.max(axis=-1)", "L1 axis -1→0: x.max(axis=-1)", "return x.max(axis=0)"),
    ("return x.sum(axis=1, keepdims=True)", "L1 keepdims dropped: x.sum(axis=1, keepdims=True)",
     "return x.sum(axis=1)"),
    ("return x.sum(axis=1)", "L1 axis dropped: x.sum(axis=1)", "return x.sum()"),
    ("return x @ y", "L1 Transposed left operand: x @ y", "return x.T @ y"),
    ("return x @ y.T", "L1 Transposed right operand: x @ y.T", "return x @ y"),
    ("return np.dot(x, y)", "L1 Transposed right operand: np.dot(x, y)", "return np.dot(x, y.T)"),
    ("return x[n - 1]", "L1 Index +1: x[n - 1]", "return x[n]"),
    ("return x[1:]", "L1 Slice moved ([k:]→[:-k]): x[1:]", "return x[:-1]"),
    ("return x[:, n:n + 3]", "L1 Slice upper bound +1 (position 1): x[:, n:n + 3]",
     "return x[:, n:n + 3 + 1]"),
    ("for i in range(n):\n    y = y + i\nreturn y", "L1 range(n)→range(n-1): range(n)",
     "for i in range(n - 1):\n    y = y + i\nreturn y"),
    ("for i in range(n):\n    y = y + i\nreturn y", "L1 range(n)→range(1, n): range(n)",
     "for i in range(1, n):\n    y = y + i\nreturn y"),
    ("return np.argmax(x)", "L1 argmax→argmin: np.argmax(x)", "return np.argmin(x)"),
    ("return min(x, y)", "L1 min→max: min(x, y)", "return max(x, y)"),
    ("y = y - x\nreturn y", "L1 In place (x = x op d → x op= d): y = y - x", "y -= x\nreturn y"),
    ("return params - x, {}", "L1 In place on argument params: return params - x, {}",
     "params -= x\nreturn (params, {})"),
    ("return x + y", "L1 Cast to float32: x + y",
     "return __import__('numpy').asarray(x + y, dtype='float32')"),
    ("return x < y", "L1 Compare Lt→LtE: x < y", "return x <= y"),
    ("return x > y", "L1 Compare Gt→GtE: x > y", "return x >= y"),
    ("return np.sqrt(x)", "L1 Call dropped: np.sqrt(x)", "return x"),
    ("x[0] = y\nreturn x", "L1 Statement dropped: x[0] = y", "pass\nreturn x"),
])
def test_operator_produces_what_it_says(body, mutant_id, expected):
    found = _mutants(body)
    assert mutant_id in found, f"{mutant_id!r} not among {sorted(found)}"
    assert _body(found[mutant_id]) == _body(f"def f():\n" + "\n".join(f"    {s}" for s in expected.split("\n")))


_OPERATOR_EXAMPLES = {  # operator -> a body that gives it something to do
    "binop": "return x + y", "swap_operands": "return x - y", "drop_term": "return x + y",
    "sign": "return -x", "constant": "return x * 2", "axis": "return x.sum(axis=0)",
    "transpose": "return x @ y", "index": "return x[n]", "range": "return list(range(n))",
    "minmax": "return min(x, y)", "inplace": "y = y - x\nreturn y", "float32": "return x",
    "compare": "return x < y", "call": "return np.exp(x)", "statement": "x[0] = y\nreturn x",
}


def test_every_operator_has_an_example():
    assert set(_OPERATOR_EXAMPLES) == {op.__name__[3:] for op in mutants.OPERATORS}


@pytest.mark.parametrize("operator", sorted(_OPERATOR_EXAMPLES))
def test_each_operator_fires(operator):
    lines = "\n".join(f"    {line}" for line in _OPERATOR_EXAMPLES[operator].split("\n"))
    source = f"def f(x, y, n):\n    ### BEGIN SOLUTION\n{lines}\n    ### END SOLUTION\n"
    assert operator in {m.operator for m in mutants.generate(source)}


def test_only_the_solution_region_is_mutated():
    source = ("def f(x, y):\n    z = x + y\n    ### BEGIN SOLUTION\n    w = x * y\n"
              "    ### END SOLUTION\n    return z - w\n")
    found = mutants.generate(source)
    assert found and all(m.id.startswith("L1 ") and "x * y" in m.id for m in found), [m.id for m in found]


def test_hidden_tests_are_not_mutated_nor_run():
    source = ("def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
              "### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n")
    for m in mutants.generate(source):
        assert "assert" not in m.source


def test_ids_are_stable_and_unique():
    body = "y = x + x + x\nreturn x + y, y + x"
    first, second = _mutants(body), _mutants(body)
    assert list(first) == list(second)
    assert len(set(first)) == len(first)
    assert "L2 BinOp Add→Sub: x + y" in first and "L1 BinOp Add→Sub: x + x" in first


def test_mutants_that_do_not_compile_or_change_nothing_are_discarded():
    found = _mutants("y = x\nreturn y")  # the sign flip of a target (-y = x) cannot compile
    for code in found.values():
        compile(code, "<m>", "exec")
    codes = list(found.values())
    assert len(codes) == len(set(codes)), "two mutants with the same code"
    original = ast.unparse(ast.parse("def f(x, y, n, params):\n    y = x\n    return y"))
    assert original not in codes


def test_sample_is_deterministic_and_stable_under_additions():
    found = mutants.generate("def f(x, y):\n    return (x + y) * (x - y) / 2\n")
    a = mutants.sample(found, 5, 0, "9.9")
    assert [m.id for m in a] == [m.id for m in mutants.sample(found, 5, 0, "9.9")]
    assert len(a) == 5 and set(m.id for m in a) != set(m.id for m in mutants.sample(found, 5, 1, "9.9"))
    # removing a mutant that was not chosen does not change the choice
    rest = [m for m in found if m.id not in {x.id for x in a}]
    assert [m.id for m in mutants.sample([*a, *rest[1:]], 5, 0, "9.9")] == [m.id for m in a]


def test_result_verdicts():
    r = mutants.Result("1.1", outcomes=[mutants.Outcome(str(k), "killed") for k in range(19)])
    assert r.passes(0.95) and r.kill_rate == 1.0
    r.outcomes.append(mutants.Outcome("e", "equivalent", "reason"))
    assert r.passes(0.95)
    r.outcomes.append(mutants.Outcome("s", "survived"))
    assert r.kill_rate == 0.95 and not r.passes(0.95), "an unrecorded survivor fails the gate"
    assert not mutants.Result("1.2", error="reference fails").passes(0.0)


def test_a_mutant_that_never_returns_is_stopped():
    import time

    from helpers.mutants.runner import _time_limit, _Timeout

    start = time.perf_counter()
    with pytest.raises(_Timeout):
        with _time_limit(0.3):
            while True:
                pass
    assert time.perf_counter() - start < 5
    with _time_limit(0.1):
        pass
    time.sleep(0.3)  # no stray interrupt after a block that finished in time


def test_equivalent_records_are_readable_and_well_formed():
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        recorded = mutants.equivalents(int(path.name[:2]))
        assert isinstance(recorded, dict)
        for ex_id, entries in recorded.items():
            assert ex_id.startswith(f"{int(path.name[:2])}."), ex_id
            for mutant_id, reason in entries.items():
                assert isinstance(mutant_id, str) and isinstance(reason, str) and len(reason) > 10, mutant_id


# --------------------------------------------------------------------------- the gate
# One class per chapter, so that `--dist loadscope` sends the chapters to different workers; every
# chapter in solutions/ is gated from the start.
def _gate(chapter: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "helpers.mutants", "--chapter", str(chapter),
               "--sample", str(SAMPLE), "--seed", str(SEED), "--show-survivors"]
    command += [f"--sample-for={ex}={k}" for ex, k in SAMPLE_FOR.items()]
    proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"mutation gate failed for chapter {chapter:02d}:\n{proc.stdout[-6000:]}", pytrace=False)


def _gate_class(chapter: int) -> type:
    def test_gate(self):
        _gate(chapter)

    return type(f"TestGateCh{chapter:02d}", (), {"test_gate": test_gate})


for _chapter in (int(p.name[:2]) for p in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))):
    globals()[f"TestGateCh{_chapter:02d}"] = _gate_class(_chapter)
