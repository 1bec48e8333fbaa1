"""Mutants of a solution region, generated from its syntax tree: one small change each."""
from __future__ import annotations

import ast
import copy
import hashlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


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


def _shown(node: ast.AST, ctx: dict) -> ast.AST:
    """What a mutant's id quotes: the node, but a lone constant or name with what is around it
    (``n < 2``, ``epochs=10``, ``X[:, 0]``; an element of a returned tuple stands alone)."""
    if not isinstance(node, (ast.Constant, ast.Name)):
        return node
    parents = ctx["parents"]
    parent = parents.get(id(node))
    if isinstance(parent, ast.keyword):
        return parent
    if isinstance(parent, ast.Tuple) and isinstance(parents.get(id(parent)), ast.Subscript):
        return parents[id(parent)]
    if isinstance(parent, ast.expr) and parent not in ctx["value_slots"]:
        return parent
    return node


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
                base = f"{prefix}L{start - offset} {label}: {_snippet(source, _shown(node, ctx))}"
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
