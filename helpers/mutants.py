"""Mutation testing of the exercise checks: does each check reject small mistakes in the answer?

    python -m helpers.mutants                       # every chapter, every mutant
    python -m helpers.mutants --chapter 3 --exercise 3.9 --show-survivors
    python -m helpers.mutants --sample 8 --seed 0   # a deterministic sample per exercise

For every exercise, the reference answer (the code between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in its answer cells in solutions/) is mutated automatically from its syntax
tree: one small change per mutant (see OPERATORS). The solution notebook is replayed in-process in
an IPython shell; at each exercise the reference check is run first (it must pass, else the
exercise is reported as "cannot evaluate"), then for each mutant the mutated answer cell is run,
the check cell is evaluated, and the original answer cell is run again to restore the state.

A mutant is *killed* when the check fails, raises or times out; it *survives* when the check
passes. A survivor is either a weakness of the check or an *equivalent* mutant (it computes the
same thing, or something the exercise accepts); equivalents are recorded with a reason in
``EQUIVALENT = {"3.9": {"<mutant id>": "reason"}}`` in tests/test_checks_chNN.py. A mutant whose
cell does not compile is discarded. The command exits 1 when an exercise is below ``--floor`` of
its non-equivalent mutants killed, has a survivor not recorded as equivalent, or cannot be
evaluated.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import hashlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import _thread
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
FLOAT32_REASON = "float32 cast; the exercise accepts float32 answers"


# =========================================================================== mutants
@dataclass(frozen=True)
class Mutant:
    """One mutated answer cell. ``id`` is stable and readable, e.g. ``L3 BinOp Add→Sub: m + g``
    (line counted from the first line of the solution region; the snippet is the original)."""

    id: str
    operator: str
    source: str  # the whole mutated cell, ready to run
    cell: int = 0  # which of the exercise's answer cells


Apply = Callable[[ast.AST], Any]  # gets the node (in a copy of the tree), returns its replacement
Variant = tuple[str, Apply]  # (label, apply)


def _num(value: float) -> ast.expr:
    return ast.Constant(value) if value >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-value))


def _shift(expr: ast.expr, by: int) -> ast.expr:
    """expr + by, simplified for constants and for ``x - 1`` / ``x + 1``."""
    value = _int_value(expr)
    if value is not None:
        return _num(value + by)
    if isinstance(expr, ast.BinOp) and _int_value(expr.right) == 1:
        if (isinstance(expr.op, ast.Sub) and by == 1) or (isinstance(expr.op, ast.Add) and by == -1):
            return copy.deepcopy(expr.left)
    return ast.BinOp(copy.deepcopy(expr), ast.Add() if by > 0 else ast.Sub(), ast.Constant(abs(by)))


def _int_value(expr: ast.AST | None) -> int | None:
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return expr.value
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub) and _int_value(expr.operand) is not None:
        return -_int_value(expr.operand)
    return None


def _const(node: ast.AST) -> Callable[[ast.AST], ast.AST]:
    return lambda _: copy.deepcopy(node)


_OP_NAMES = {ast.Add: "Add", ast.Sub: "Sub", ast.Mult: "Mult", ast.Div: "Div", ast.MatMult: "MatMult"}
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.MatMult: ast.Mult}


def op_binop(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Swap + and −, * and /, @ → * (elementwise instead of a matrix product)."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        new = _BINOP_SWAP[type(node.op)]
        label = f"BinOp {_OP_NAMES[type(node.op)]}→{_OP_NAMES[new]}"
        yield label, lambda n, new=new: ast.BinOp(n.left, new(), n.right)


def op_swap_operands(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """a − b → b − a, a / b → b / a, A @ B → B @ A."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Sub, ast.Div, ast.MatMult)):
        yield "Operands swapped", lambda n: ast.BinOp(n.right, n.op, n.left)


def op_drop_term(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Drop a term of a sum (a ± b → a, → ±b) or a factor of a product (a * b → a, → b; a / b → a)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        yield "Term dropped (right)", lambda n: n.left
        if isinstance(node.op, ast.Add):
            yield "Term dropped (left)", lambda n: n.right
        else:
            yield "Term dropped (left)", lambda n: ast.UnaryOp(ast.USub(), n.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        yield "Factor dropped (right)", lambda n: n.left
        if isinstance(node.op, ast.Mult):
            yield "Factor dropped (left)", lambda n: n.right


def _returned(node: ast.AST) -> list[ast.expr]:
    """The values a statement returns or assigns, one per tuple element or dict value."""
    value = node.value if isinstance(node, (ast.Return, ast.Assign, ast.AugAssign)) else None
    if value is None:
        return []
    parts = value.elts if isinstance(value, ast.Tuple) else [value]
    out: list[ast.expr] = []
    for part in parts:
        out.extend(part.values if isinstance(part, ast.Dict) else [part])
    return out


def op_sign(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Flip a sign: remove a unary minus, or negate an assigned / returned value."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _int_value(node) is None:
        yield "Sign flipped (−x→x)", lambda n: n.operand
    if isinstance(node, ast.expr) and ctx["parents"].get(id(node)) in ctx["value_slots"]:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) and not isinstance(
            node, (ast.Dict, ast.List, ast.ListComp, ast.Lambda, ast.Tuple)
        ):
            yield "Sign flipped (x→−x)", lambda n: ast.UnaryOp(ast.USub(), n)


def _constant_variants(value: int | float) -> list[int | float]:
    table = {0: [1], 1: [0, 2], 2: [1, 3], 0.5: [1, 0.25]}
    if value in table:
        return [type(value)(v) if isinstance(value, int) else float(v) for v in table[value]]
    return [-value, value * 2]


def op_constant(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Change a numeric constant: 0→1, 1→0/2, 2→1/3, 0.5→1/0.25, otherwise x→−x / 2x."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) and id(node) not in ctx["axis_values"]:
        for new in _constant_variants(node.value):
            yield f"Constant {node.value!r}→{new!r}", lambda n, new=new: ast.Constant(new)


def op_axis(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Change an ``axis=`` argument (0↔1, −1→0, drop it) or drop ``keepdims``."""
    if not isinstance(node, ast.Call):
        return
    for k, kw in enumerate(node.keywords):
        if kw.arg == "axis":
            value = _int_value(kw.value)
            if value is not None:
                new = {0: 1, 1: 0}.get(value, 0)
                yield f"axis {value}→{new}", lambda n, k=k, new=new: _with_keyword(n, k, _num(new))
            elif isinstance(kw.value, ast.Tuple) and len(kw.value.elts) > 1:
                yield "axis tuple shortened", lambda n, k=k: _with_keyword(
                    n, k, ast.Tuple(n.keywords[k].value.elts[:-1], ast.Load()))
            yield "axis dropped", lambda n, k=k: _without_keyword(n, k)
        if kw.arg == "keepdims":
            yield "keepdims dropped", lambda n, k=k: _without_keyword(n, k)


def _with_keyword(call: ast.Call, k: int, value: ast.expr) -> ast.Call:
    call.keywords[k] = ast.keyword(call.keywords[k].arg, value)
    return call


def _without_keyword(call: ast.Call, k: int) -> ast.Call:
    del call.keywords[k]
    return call


def _transposed(expr: ast.expr) -> ast.expr:
    if isinstance(expr, ast.Attribute) and expr.attr == "T":
        return expr.value
    return ast.Attribute(expr, "T", ast.Load())


_MATMULS = {"dot", "matmul"}


def op_transpose(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Transpose (or un-transpose) an operand of @, np.dot, np.matmul, tf.matmul."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        yield "Transposed left operand", lambda n: ast.BinOp(_transposed(n.left), n.op, n.right)
        yield "Transposed right operand", lambda n: ast.BinOp(n.left, n.op, _transposed(n.right))
    if isinstance(node, ast.Call) and _func_name(node) in _MATMULS and len(node.args) >= 2:
        for k, side in ((0, "left"), (1, "right")):
            def apply(n: ast.Call, k: int = k) -> ast.Call:
                n.args[k] = _transposed(n.args[k])
                return n
            yield f"Transposed {side} operand", apply


def _func_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _slice_variants(s: ast.Slice) -> Iterator[tuple[str, ast.Slice]]:
    def make(lower: ast.expr | None, upper: ast.expr | None) -> ast.Slice:
        return ast.Slice(copy.deepcopy(lower), copy.deepcopy(upper), copy.deepcopy(s.step))

    lo, up = _int_value(s.lower), _int_value(s.upper)
    if s.lower is not None and s.upper is None and lo is not None and lo > 0:
        yield "Slice moved ([k:]→[:-k])", make(None, _num(-lo))
    if s.upper is not None and s.lower is None and up is not None and up < 0:
        yield "Slice moved ([:-k]→[k:])", make(_num(-up), None)
    for bound, name in ((s.lower, "lower"), (s.upper, "upper")):
        if bound is None:
            continue
        for by in (1, -1):
            shifted = _shift(bound, by)
            yield f"Slice {name} bound {by:+d}", make(shifted, s.upper) if name == "lower" else make(s.lower, shifted)


def _index_variants(index: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    if isinstance(index, ast.Slice):
        yield from _slice_variants(index)
    elif isinstance(index, ast.Tuple):
        for k, element in enumerate(index.elts):
            for label, new in _index_variants(element):
                elts = [copy.deepcopy(e) for e in index.elts]
                elts[k] = new
                yield f"{label} (position {k})", ast.Tuple(elts, ast.Load())
    elif isinstance(index, (ast.Name, ast.BinOp)):
        for by in (1, -1):
            yield f"Index {by:+d}", _shift(index, by)


def op_index(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Shift an index or a slice bound by one (``t-1``→``t``, ``[1:]``→``[:-1]``, ``[i:i+w]``→``[i:i+w+1]``)."""
    if isinstance(node, ast.Subscript) and not (
        isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
    ):
        for label, new in _index_variants(node.slice):
            yield label, lambda n, new=new: ast.Subscript(n.value, copy.deepcopy(new), n.ctx)


def op_range(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """range(n) → range(n−1) / range(1, n); range(a, b) → range(a+1, b) / range(a, b−1); drop reversed()."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords):
        return
    if node.func.id == "range" and len(node.args) == 1:
        yield "range(n)→range(n-1)", lambda n: ast.Call(n.func, [_shift(n.args[0], -1)], [])
        yield "range(n)→range(1, n)", lambda n: ast.Call(n.func, [ast.Constant(1), n.args[0]], [])
    elif node.func.id == "range" and len(node.args) >= 2:
        yield "range start +1", lambda n: ast.Call(n.func, [_shift(n.args[0], 1), *n.args[1:]], [])
        yield "range stop -1", lambda n: ast.Call(n.func, [n.args[0], _shift(n.args[1], -1), *n.args[2:]], [])
    elif node.func.id == "reversed" and len(node.args) == 1:
        yield "reversed() dropped", lambda n: n.args[0]


_MINMAX = {"min": "max", "argmin": "argmax", "minimum": "maximum", "amin": "amax", "nanmin": "nanmax",
           "reduce_min": "reduce_max", "nanargmin": "nanargmax"}
_MINMAX.update({v: k for k, v in list(_MINMAX.items())})


def op_minmax(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Swap min/max, argmin/argmax, minimum/maximum (names and attributes)."""
    if not isinstance(node, ast.Call):
        return
    name = _func_name(node)
    if name in _MINMAX:
        def apply(n: ast.Call, new: str = _MINMAX[name]) -> ast.Call:
            if isinstance(n.func, ast.Name):
                n.func = ast.Name(new, ast.Load())
            else:
                n.func = ast.Attribute(n.func.value, new, ast.Load())
            return n
        yield f"{name}→{_MINMAX[name]}", apply


_INPLACE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def op_inplace(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Out-of-place update → in place: ``x = x - d`` → ``x -= d``; ``return p - d`` (p an argument)
    → ``p -= d; return p`` (so the caller's array changes)."""
    if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, _INPLACE_OPS)
            and isinstance(node.value.left, ast.Name) and node.value.left.id == node.targets[0].id):
        yield "In place (x = x op d → x op= d)", lambda n: ast.AugAssign(
            ast.Name(n.targets[0].id, ast.Store()), n.value.op, n.value.right)
    if not isinstance(node, (ast.Return, ast.Assign)) or node.value is None:
        return
    parts = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
    for k, part in enumerate(parts):
        if (isinstance(part, ast.BinOp) and isinstance(part.op, _INPLACE_OPS) and isinstance(part.left, ast.Name)
                and part.left.id in ctx["arguments"].get(id(node), ())):
            def apply(n: ast.stmt, k: int = k) -> list[ast.stmt]:
                tuple_ = isinstance(n.value, ast.Tuple)
                target = n.value.elts[k] if tuple_ else n.value
                update = ast.AugAssign(ast.Name(target.left.id, ast.Store()), target.op, target.right)
                if tuple_:
                    n.value.elts[k] = ast.Name(target.left.id, ast.Load())
                else:
                    n.value = ast.Name(target.left.id, ast.Load())
                return [update, n]
            yield f"In place on argument {part.left.id}", apply


def op_float32(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Cast a returned value to float32."""
    if isinstance(node, ast.expr) and ctx["parents"].get(id(node)) in ctx["return_slots"]:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) and not isinstance(
            node, (ast.Dict, ast.List, ast.ListComp, ast.Lambda, ast.Tuple)
        ):
            yield "Cast to float32", lambda n: ast.Call(
                ast.Attribute(ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("numpy")], []),
                              "asarray", ast.Load()), [n], [ast.keyword("dtype", ast.Constant("float32"))])


_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


def op_compare(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Flip a comparison: < ↔ <=, > ↔ >=, == ↔ !=."""
    if isinstance(node, ast.Compare):
        for k, comparator in enumerate(node.ops):
            if type(comparator) in _COMPARE:
                new = _COMPARE[type(comparator)]

                def apply(n: ast.Compare, k: int = k, new: type = new) -> ast.Compare:
                    n.ops[k] = new()
                    return n
                yield f"Compare {type(comparator).__name__}→{new.__name__}", apply


_NOT_DROPPED = {"range", "len", "list", "tuple", "zip", "enumerate", "int", "str", "dict", "set", "sorted",
                "reversed", "print", "isinstance", "type", "iter", "next", "super", "getattr", "hasattr"}


def op_call(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Drop a one-argument function call: ``np.sqrt(v)`` → ``v``, ``np.asarray(x, dtype=float)`` → ``x``."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
        if _func_name(node) not in _NOT_DROPPED and _func_name(node) is not None:
            yield "Call dropped", lambda n: n.args[0]


def op_statement(node: ast.AST, ctx: dict) -> Iterator[Variant]:
    """Drop a statement that updates something: ``x[i] = old``, ``g += d``, ``xs.append(x)``."""
    updates = (isinstance(node, ast.AugAssign)
               or (isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) for t in node.targets))
               or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)))
    if updates and id(node) in ctx["statements"]:
        yield "Statement dropped", lambda n: [ast.Pass()]


OPERATORS: list[Callable[[ast.AST, dict], Iterator[Variant]]] = [
    op_binop, op_swap_operands, op_drop_term, op_sign, op_constant, op_axis, op_transpose, op_index,
    op_range, op_minmax, op_inplace, op_float32, op_compare, op_call, op_statement,
]


def strip_hidden(source: str) -> str:
    """The cell without its ``### BEGIN/END HIDDEN TESTS`` region (instructor-only asserts)."""
    out, hidden = [], False
    for line in source.split("\n"):
        if line.strip().startswith(BEGIN_HIDDEN):
            hidden = True
        elif line.strip().startswith(END_HIDDEN):
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def solution_lines(source: str) -> list[tuple[int, int]]:
    """(first, last) 1-based lines of each solution region; the whole source when unmarked."""
    lines = source.split("\n")
    regions, start = [], None
    for number, line in enumerate(lines, 1):
        if line.strip().startswith(BEGIN):
            start = number + 1
        elif line.strip().startswith(END) and start is not None:
            regions.append((start, number - 1))
            start = None
    return regions or [(1, len(lines))]


def _snippet(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node) or ast.unparse(node)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _context(tree: ast.AST) -> dict:
    """Parent links and the slots the operators ask about (returned values, function arguments)."""
    parents: dict[int, ast.AST] = {}
    ctx: dict[str, Any] = {"parents": parents, "value_slots": set(), "return_slots": set(),
                           "axis_values": set(), "arguments": {}, "statements": set()}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[id(child)] = parent
        if isinstance(parent, ast.Call):
            for kw in parent.keywords:
                if kw.arg == "axis":
                    ctx["axis_values"].update(id(n) for n in ast.walk(kw.value))
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = {a.arg for a in parent.args.posonlyargs + parent.args.args + parent.args.kwonlyargs}
            for inner in ast.walk(parent):
                if isinstance(inner, (ast.Return, ast.Assign)):
                    ctx["arguments"][id(inner)] = names
        for name in ("body", "orelse", "finalbody"):
            block = getattr(parent, name, None)
            if isinstance(block, list) and len(block) > 1:
                ctx["statements"].update(id(s) for s in block)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Return, ast.Assign, ast.AugAssign)) and node.value is not None:
            holders = [node]
            if isinstance(node.value, ast.Tuple):
                holders.append(node.value)
            holders += [p for p in (node.value.elts if isinstance(node.value, ast.Tuple) else [node.value])
                        if isinstance(p, ast.Dict)]
            ctx["value_slots"].update(holders)
            if isinstance(node, ast.Return):
                ctx["return_slots"].update(holders)
    return ctx


def _replace(tree: ast.AST, old: ast.AST, new: Any) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                k = next(i for i, v in enumerate(value) if v is old)
                value[k:k + 1] = new if isinstance(new, list) else [new]
                return
    raise ValueError("node not found in tree")


def generate(source: str, cell: int = 0) -> list[Mutant]:
    """Every mutant of the solution region(s) of one cell, in a stable order.

    Mutants that do not compile, change nothing, or repeat an earlier mutant's code are dropped.
    """
    source = strip_hidden(source)
    tree = ast.parse(source)
    regions = solution_lines(source)
    offset = regions[0][0] - 1
    original = ast.unparse(tree)
    ctx = _context(tree)
    nodes = list(ast.walk(tree))
    found: list[Mutant] = []
    seen_code, seen_ids = {original}, set()
    for index, node in enumerate(nodes):
        start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if start is None or not any(a <= start and end <= b for a, b in regions):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            continue
        for operator in OPERATORS:
            for label, apply in operator(node, ctx):
                mutated = copy.deepcopy(tree)
                target = list(ast.walk(mutated))[index]
                _replace(mutated, target, apply(target))
                try:
                    code = ast.unparse(ast.fix_missing_locations(mutated))
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        compile(code, "<mutant>", "exec")
                except (SyntaxError, ValueError, TypeError, AttributeError):
                    continue  # does not compile: discarded
                if code in seen_code:
                    continue
                seen_code.add(code)
                prefix = f"cell {cell + 1} " if cell else ""
                base = f"{prefix}L{start - offset} {label}: {_snippet(source, node)}"
                mutant_id, k = base, 2
                while mutant_id in seen_ids:
                    mutant_id, k = f"{base} #{k}", k + 1
                seen_ids.add(mutant_id)
                found.append(Mutant(mutant_id, operator.__name__[3:], code, cell))
    return found


def sample(mutants: list[Mutant], k: int | None, seed: int, ex_id: str) -> list[Mutant]:
    """A deterministic sample of k mutants: the k smallest hashes of (seed, exercise, id), so the
    sample changes only where mutants are added or removed."""
    if k is None or k >= len(mutants):
        return mutants
    key = lambda m: hashlib.sha256(f"{seed}:{ex_id}:{m.id}".encode()).hexdigest()  # noqa: E731
    chosen = set(map(id, sorted(mutants, key=key)[:k]))
    return [m for m in mutants if id(m) in chosen]


# =========================================================================== recorded equivalents
def equivalents(chapter: int) -> dict[str, dict[str, str]]:
    """``EQUIVALENT`` from tests/test_checks_chNN.py (imported by path; its tests are not run)."""
    path = ROOT / "tests" / f"test_checks_ch{chapter:02d}.py"
    if not path.exists():
        return {}
    tests = str(ROOT / "tests")
    added = tests not in sys.path
    if added:
        sys.path.insert(0, tests)
    try:
        spec = importlib.util.spec_from_file_location(f"_mutant_equivalents_{chapter:02d}", path)
        module = importlib.util.module_from_spec(spec)
        with contextlib.redirect_stdout(io.StringIO()):
            spec.loader.exec_module(module)
    finally:
        if added:
            sys.path.remove(tests)
    return getattr(module, "EQUIVALENT", {})


def allows_float32(ex_id: str) -> bool:
    """Whether the registry says exercise ``ex_id`` accepts float32 answers (the framework's
    per-exercise dtype policy: an ``allows_float32`` flag or a ``dtypes`` collection)."""
    from helpers import checks

    exercise = checks.get(ex_id)
    flag = getattr(exercise, "allows_float32", None)
    if flag is not None:
        return bool(flag)
    dtypes = getattr(exercise, "dtypes", None) or ()
    return any("float32" in str(d) for d in dtypes)


# =========================================================================== running
@dataclass
class Outcome:
    id: str
    status: str  # killed, survived, equivalent
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Result:
    exercise: str
    generated: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    error: str = ""  # "cannot evaluate" reason
    unused: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # recorded equivalent, yet killed
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def kill_rate(self) -> float | None:
        scored = len(self.outcomes) - self.count("equivalent")
        return self.count("killed") / scored if scored else None

    def passes(self, floor: float) -> bool:
        rate = self.kill_rate
        return not self.error and self.count("survived") == 0 and (rate is None or rate >= floor)


class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the main thread after ``seconds`` (a KeyboardInterrupt, turned into _Timeout)."""
    done = threading.Event()
    fired = []

    def watchdog() -> None:
        if not done.wait(seconds):
            fired.append(True)
            _thread.interrupt_main()

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    try:
        yield
    except KeyboardInterrupt:
        if fired:
            raise _Timeout() from None
        raise
    finally:
        done.set()
        thread.join()


class Replay:
    """A solution notebook replayed cell by cell in an in-process IPython shell."""

    def __init__(self, path: Path) -> None:
        os.environ["DLD_STATIC_WIDGETS"] = "1"
        os.environ["MPLBACKEND"] = "Agg"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        from IPython.core.interactiveshell import InteractiveShell

        self.path = path
        self.shell = InteractiveShell.instance()
        self.shell.display_pub.publish = lambda *a, **k: None  # no display output
        os.chdir(path.parent)

    def run_cell(self, source: str) -> BaseException | None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            result = self.shell.run_cell(source, store_history=False, silent=True)
        return result.error_before_exec or result.error_in_exec

    def execute(self, code: str) -> None:
        """Run code in the notebook namespace (raises what it raises; output discarded)."""
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(code, "<answer cell>", "exec"), self.shell.user_ns)

    def check(self, source: str, limit: float) -> str | None:
        """Evaluate a check cell: None when it passes, else why not."""
        out = io.StringIO()
        try:
            with _time_limit(limit), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(source, "<check cell>", "exec"), self.shell.user_ns)
        except _Timeout:
            return f"timed out after {limit:g} s"
        except AssertionError as error:
            return f"rejected: {str(error).splitlines()[0][:160] if str(error) else type(error).__name__}"
        except BaseException as error:  # noqa: BLE001 - a mutant may raise anything
            return f"raised {type(error).__name__}: {str(error)[:120]}"
        return None if "✓" in out.getvalue() else f"printed no ✓ line: {out.getvalue()[:80]!r}"


def _snapshot(ns: dict) -> list[tuple[Any, Any]]:
    """Copies of the notebook's NumPy arrays, so a mutant that changes one in place is undone."""
    import numpy as np

    arrays = [v for k, v in ns.items() if isinstance(v, np.ndarray) and not k.startswith("_")]
    return [(a, a.copy()) for a in arrays if a.nbytes < 50_000_000]


def _restore(snapshot: list[tuple[Any, Any]]) -> None:
    import numpy as np

    for array, saved in snapshot:
        if array.flags.writeable and not np.array_equal(array, saved, equal_nan=True):
            array[...] = saved


def run_chapter(path: Path, only: str | None = None, k: int | None = None, seed: int = 0,
                log: Callable[[str], None] = print) -> list[Result]:
    """Replay one solution notebook and run the (sampled) mutants of each exercise through its check."""
    import nbformat
    from helpers import build

    nb = nbformat.read(path, as_version=4)
    exercises = [e for e in build.exercises(nb, path.name) if only in (None, e.id)]
    if not exercises:
        return []
    chapter = int(path.name[:2])
    recorded = equivalents(chapter)
    replay = Replay(path)
    by_check = {e.check_cell: e for e in exercises}
    results = []
    start = time.perf_counter()
    for index, cell in enumerate(nb.cells[: max(by_check) + 1]):
        if cell.cell_type != "code":
            continue
        if index in by_check:  # the reference check runs inside run_exercise
            ex = by_check[index]
            result = run_exercise(replay, nb, ex, recorded.get(ex.id, {}), k, seed, last=index == max(by_check))
            results.append(result)
            log(_line(result))
            continue
        error = replay.run_cell(cell.source)
        if error is not None and not build.check_id(cell):
            log(f"!! {path.name} cell {index} raised {type(error).__name__}: {error} (later exercises may fail)")
    log(f"   {path.name}: {time.perf_counter() - start:.0f} s")
    return results


def run_exercise(replay: Replay, nb: Any, ex: Any, recorded: dict[str, str], k: int | None, seed: int,
                 last: bool = False) -> Result:
    """Run the mutants of one exercise; the notebook state is that right after its check cell."""
    start = time.perf_counter()
    result = Result(ex.id)
    check_source = nb.cells[ex.check_cell].source
    all_mutants = [m for j, c in enumerate(ex.answer_cells) for m in generate(nb.cells[c].source, j)]
    result.generated = len(all_mutants)
    ids = {m.id for m in all_mutants}
    result.unused = sorted(set(recorded) - ids)
    t0 = time.perf_counter()
    verdict = replay.check(check_source, 600)
    reference_s = time.perf_counter() - t0
    if verdict is not None:
        result.error = f"the reference answer does not pass: {verdict}"
        return result
    limit = max(10.0, 5 * reference_s)
    os.environ["DLD_CHECK_TIMEOUT"] = f"{limit:g}"
    float32_ok = allows_float32(ex.id)
    originals = [strip_hidden(nb.cells[c].source) for c in ex.answer_cells]
    snapshot = _snapshot(replay.shell.user_ns)
    try:
        for mutant in sample(all_mutants, k, seed, ex.id):
            t0 = time.perf_counter()
            try:
                replay.execute(mutant.source)
                verdict = replay.check(check_source, limit)
            except BaseException as exc:  # noqa: BLE001 - the mutated cell raised when run
                verdict = f"the answer cell raised {type(exc).__name__}: {exc}"
            finally:
                replay.execute(originals[mutant.cell])
                _restore(snapshot)
            seconds = time.perf_counter() - t0
            if verdict is not None:
                result.outcomes.append(Outcome(mutant.id, "killed", verdict, seconds))
                if mutant.id in recorded:
                    result.stale.append(mutant.id)
            elif mutant.id in recorded:
                result.outcomes.append(Outcome(mutant.id, "equivalent", recorded[mutant.id], seconds))
            elif float32_ok and mutant.operator == "float32":
                result.outcomes.append(Outcome(mutant.id, "equivalent", FLOAT32_REASON, seconds))
            else:
                result.outcomes.append(Outcome(mutant.id, "survived", "", seconds))
    finally:
        os.environ.pop("DLD_CHECK_TIMEOUT", None)
    after = None if last else replay.check(check_source, 600)  # later exercises need a sound state
    if after is not None:
        result.error = f"the reference fails after the mutants ran (state not restored): {after}"
    result.seconds = time.perf_counter() - start
    return result


# =========================================================================== reporting
HEADER = f"{'exercise':<9}{'mutants':>8}{'killed':>8}{'survived':>9}{'equiv.':>8}{'kill %':>8}  note"


def _line(r: Result, floor: float = 0.95) -> str:
    if r.error:
        return f"{r.exercise:<9}{'':>8}{'':>8}{'':>9}{'':>8}{'':>8}  CANNOT EVALUATE: {r.error}"
    rate = r.kill_rate
    note = [] if r.passes(floor) else ["FAIL"]
    if len(r.outcomes) < r.generated:
        note.append(f"sample of {r.generated}")
    if r.unused:
        note.append(f"{len(r.unused)} unused EQUIVALENT")
    if r.stale:
        note.append(f"{len(r.stale)} EQUIVALENT killed")
    note.append(f"{r.seconds:.0f} s")
    percent = "-" if rate is None else f"{100 * rate:.1f}"
    return (f"{r.exercise:<9}{len(r.outcomes):>8}{r.count('killed'):>8}{r.count('survived'):>9}"
            f"{r.count('equivalent'):>8}{percent:>8}  {', '.join(note)}")


def report(results: list[Result], floor: float, show_survivors: bool) -> str:
    lines = [HEADER] + [_line(r, floor) for r in results]
    for r in results:
        for mutant_id in r.unused:
            lines.append(f"unused EQUIVALENT entry for {r.exercise}: {mutant_id!r}")
        for mutant_id in r.stale:
            lines.append(f"recorded EQUIVALENT but killed, {r.exercise}: {mutant_id!r}")
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
    parser = argparse.ArgumentParser(prog="python -m helpers.mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapter", type=int, help="only this chapter (e.g. 3)")
    parser.add_argument("--exercise", help="only this exercise (e.g. 3.9)")
    parser.add_argument("--sample", type=int, metavar="K", help="at most K mutants per exercise (deterministic)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--floor", type=float, default=0.95, help="minimum kill rate (default 0.95)")
    parser.add_argument("--show-survivors", action="store_true", help="list every surviving mutant")
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
        results = run_chapter(paths[0], args.exercise, args.sample, args.seed,
                              log=lambda s: print(s, flush=True))
    else:  # one fresh process per chapter, as each notebook runs in its own kernel
        for path in paths:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "results.json"
                command = [sys.executable, "-m", "helpers.mutants", "--chapter", path.name[:2],
                           "--seed", str(args.seed), "--floor", str(args.floor), "--json", str(out)]
                if args.sample is not None:
                    command += ["--sample", str(args.sample)]
                proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                lines = [s for s in proc.stdout.splitlines() if not s.startswith(HEADER[:8])]
                print("\n".join(s for s in lines if not s.startswith(("unused", "recorded", "survivor "))
                                and s.strip() and "\t" not in s), flush=True)
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


if __name__ == "__main__":
    sys.exit(main())
