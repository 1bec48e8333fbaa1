"""Which cells of a notebook a chosen set of cells depends on, by the names they read and write.

A cell is kept when it is chosen, or when it may write a name that a kept cell after it reads.
The analysis errs towards keeping: besides assignments, definitions and imports, a cell "writes"
every name it mutates (``x[i] = …``, ``x.a = …``), every name it calls a method on
(``model.fit(…)``) and every data name it passes to a method or to a function the notebook
defines (``train(model)``, ``rng.shuffle(x)``); a module it calls is written only through
functions that configure it (``np.set_printoptions``, ``tf.config…``), and library functions
are taken not to modify their arguments.
Random seeds are not followed: a check draws its own inputs from its own generator.
A cell that cannot be analysed (dynamic name access, a magic, a star import, unparsable source)
is kept with every cell before it. The mutation gate replays only what the exercises need, the
grader runs only what the checks need, and the student notebooks' Run All test sends only the
cells that can see an answer (every other cell is the solution's, run by nbval).
"""
from __future__ import annotations

import ast
import builtins
import re
import symtable
from dataclasses import dataclass, field

DYNAMIC = {"globals", "locals", "exec", "eval", "get_ipython", "__import__"}  # and vars() without arguments
# Module functions that change state a later cell may depend on (random seeds are not followed:
# a check draws its own inputs and must not depend on the notebook's random state).
STATEFUL_MODULE_CALL = re.compile(r"(^|\.)(config|set_printoptions|filterwarnings|simplefilter|use|rc\w*)(\.|$)")
BUILTINS = set(dir(builtins))


@dataclass
class CellNames:
    """What one cell reads and may write; ``opaque`` cells are always kept."""

    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    opaque: bool = False


def _parse(source: str) -> ast.Module | None:
    """The cell as Python (IPython magics translated), or None where it cannot be parsed."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # e.g. a null byte, deep nesting
        return None


def _global_reads(table: symtable.SymbolTable) -> set[str]:
    """Names a scope (and the scopes nested in it) read from the notebook's namespace."""
    found = set()
    for symbol in table.get_symbols():
        top = table.get_type() == "module"
        if symbol.is_referenced() and (top or symbol.is_global()):
            found.add(symbol.get_name())
    for child in table.get_children():
        found |= _global_reads(child)
    return found


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join(reversed(parts))


class _Writes(ast.NodeVisitor):
    """Top-level writes, mutations and calls of one cell (function and class bodies not entered)."""

    def __init__(self, modules: set[str], functions: set[str]) -> None:
        self.modules, self.functions, self.names, self.opaque = modules, functions, set(), False

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.names.add(node.name)
        for part in (*node.decorator_list, *node.args.defaults, *node.args.kw_defaults):
            if part is not None:
                self.visit(part)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.add(node.name)
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(part)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)
        elif node.id in DYNAMIC:
            self.opaque = True

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)) and _root(node):
            self.names.add(_root(node))
        self.generic_visit(node)

    visit_Subscript = visit_Attribute

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "vars" and not node.args:
            self.opaque = True
        root = _root(node.func)
        method = isinstance(node.func, ast.Attribute) and root is not None and root not in self.modules
        if method or (isinstance(node.func, ast.Attribute) and STATEFUL_MODULE_CALL.search(_dotted(node.func))):
            self.names.add(root)
        if method or (isinstance(node.func, ast.Name) and node.func.id in self.functions):
            not_data = self.modules | self.functions | BUILTINS
            for argument in (*node.args, *(k.value for k in node.keywords)):
                self.names |= {n.id for n in ast.walk(argument) if isinstance(n, ast.Name)} - not_data
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if any(alias.name == "*" for alias in node.names):
            self.opaque = True
        self.names |= {(a.asname or a.name) for a in node.names}

    def visit_Import(self, node: ast.Import) -> None:
        self.names |= {(a.asname or a.name).split(".")[0] for a in node.names}

    def visit_Global(self, node: ast.Global) -> None:
        self.names |= set(node.names)


def imported_modules(trees: list[ast.Module | None]) -> set[str]:
    """Names bound by ``import x`` / ``import x as y`` / ``from p import module`` anywhere."""
    found = set()
    for tree in filter(None, trees):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found |= {a.asname or a.name for a in node.names if _is_module(f"{node.module}.{a.name}")}
    return found


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` names a module file or package, found without importing anything."""
    import importlib.util
    from pathlib import Path

    top, *rest = dotted.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    places = list(spec.submodule_search_locations or []) if spec else []
    for part in rest[:-1]:
        places = [str(Path(p, part)) for p in places if Path(p, part, "__init__.py").is_file()]
    return any(Path(p, rest[-1], "__init__.py").is_file() or Path(p, f"{rest[-1]}.py").is_file()
               for p in places)


def defined_functions(trees: list[ast.Module | None]) -> set[str]:
    """Names that only ``def`` or ``class`` statements bind, in any cell (never data)."""
    defined, other = set(), set()
    for tree in filter(None, trees):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                other.add(node.id)
    return defined - other


def cell_names(source: str | ast.Module | None, modules: set[str] = frozenset(),
               functions: set[str] = frozenset()) -> CellNames:
    """The names one cell (its source, IPython syntax allowed, or its parsed tree) reads and may
    write, given the notebook's module names and its functions (see :func:`defined_functions`)."""
    tree = _parse(source) if isinstance(source, str) else source
    if tree is None:
        return CellNames(opaque=True)
    writes = _Writes(set(modules), set(functions))
    writes.visit(tree)
    reads: set[str] = set()
    bound: set[str] = set()  # names surely bound by the statements run so far
    for statement in tree.body:
        try:
            table = symtable.symtable(ast.unparse(statement), "<cell>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # e.g. a lone `return`
            return CellNames(opaque=True)
        updated = {n.target.id for n in ast.walk(statement)  # `x += 1` reads x; symtable says not
                   if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}
        found = _global_reads(table) | updated
        if isinstance(statement, (ast.For, ast.AsyncFor)):  # the loop variable is its own, not read
            targets = {n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name)}
            found = (found - targets) | _global_reads(symtable.symtable(ast.unparse(statement.iter), "<cell>", "eval"))
        reads |= found - bound
        bound |= _binds(statement)
    return CellNames(reads, writes.names, writes.opaque or bool(reads & DYNAMIC))


def _binds(statement: ast.stmt) -> set[str]:
    """Names a top-level statement surely binds (not inside a branch or a loop)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.For, ast.AsyncFor)):  # taken as bound after the loop, too
        return {n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name)}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    targets = statement.targets if isinstance(statement, ast.Assign) else (
        [statement.target] if isinstance(statement, ast.AnnAssign) and statement.value else [])
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def needed(sources: list[str], chosen: set[int]) -> list[int]:
    """Indices of the cells to run, in order, so that every chosen cell sees what it reads."""
    trees = [_parse(source) for source in sources]
    modules, functions = imported_modules(trees), defined_functions(trees)
    names = [cell_names(tree, modules, functions) for tree in trees]
    wanted: set[str] = set()
    keep = []
    for index in range(len(sources) - 1, -1, -1):
        cell = names[index]
        if cell.opaque:  # it may read or write anything: keep it and everything before it
            return list(range(index + 1)) + keep[::-1]
        if index in chosen or cell.writes & wanted:
            keep.append(index)
            wanted |= cell.reads
    return keep[::-1]
