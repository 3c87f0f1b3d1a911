"""Imports go one way (DESIGN.md): read every module's imports (an AST scan, nothing is run)
and check them against the floors below.

Each module sits on a floor; an import may go sideways or down, never up. The engine's core
(``scratchlib.autograd`` but its drawing and replay) counts as one node: its modules import
each other lazily by design. The engine reaches nothing of the layer library, directly or
through another module.

Exceptions would be listed in ``KNOWN_UPWARD``, ``KNOWN_ENGINE_REACH`` and ``KNOWN_CYCLES``;
issue 18 removed the last ones, so the lists are empty: the test fails on any new edge.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "scratchlib"
ENGINE = "scratchlib.autograd"

# The floors, bottom first. An import from floor i into floor j > i is an upward edge.
FLOORS = [
    {"scratchlib", "scratchlib.validate", "scratchlib.source", "scratchlib.notebook", "scratchlib.exercises",
     "scratchlib.course.runner", "scratchlib.mnist", "scratchlib.text", "scratchlib.events",
     "scratchlib.data", "scratchlib.check", "scratchlib.plots"},
    {"scratchlib.mlp", "scratchlib.wiring", "scratchlib.layer_base", "scratchlib.layers", ENGINE},
    {"scratchlib.network"},
    {"scratchlib.replay", "scratchlib.autograd.replay", "scratchlib.draw", "scratchlib.stepper", "scratchlib.train", "scratchlib.benchmark"},
    {"scratchlib.widgets"},
]
LAYER_LIBRARY = {"scratchlib.wiring", "scratchlib.layer_base", "scratchlib.layers", "scratchlib.network", "scratchlib.mlp", "scratchlib.replay",
                 "scratchlib.stepper", "scratchlib.train", "scratchlib.widgets", "scratchlib.benchmark"}

KNOWN_UPWARD: set = set()
KNOWN_ENGINE_REACH: set = set()
KNOWN_CYCLES: list = []


def node(module: str) -> str:
    """The engine's core modules count as one node; everything else is itself."""
    if module.startswith(ENGINE + ".") and module != "scratchlib.autograd.replay":
        return ENGINE
    return module


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, here: str) -> set:
    """The scratchlib modules a module's source imports (anywhere in it, deferred imports too)."""
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            found |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module:
            base = n.module
            if n.level:  # relative import: resolve against this module's package
                base = ".".join(here.split(".")[:-n.level] + [n.module])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in n.names}  # `from pkg import module`
    return found


def graph() -> dict:
    """node -> the set of nodes it imports (itself left out)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = {node(m) for m in imported(ast.parse(path.read_text()), name) if m in modules}
        edges.setdefault(node(name), set()).update(targets - {node(name)})
    return edges


def floor(n: str) -> int:
    for i, names in enumerate(FLOORS):
        if n in names:
            return i
    raise AssertionError(f"{n} has no floor: put it on one in tests/test_imports.py")


def upward_edges(edges) -> set:
    return {(a, b) for a, targets in edges.items() for b in targets if floor(b) > floor(a)}


def cycles(edges) -> list:
    """Each strongly connected group of more than one node (a cycle), found by a depth-first walk."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v), on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def engine_reach(edges) -> set:
    """(engine module, layer-library module it imports) for every module the engine reaches."""
    starts = [n for n in edges if n == ENGINE or n.startswith(ENGINE + ".")]
    found = set()
    for start in starts:
        seen, todo = set(), [start]
        while todo:
            v = todo.pop()
            for w in edges.get(v, ()):
                if w in LAYER_LIBRARY and not (v in LAYER_LIBRARY):
                    found.add((v, w))
                if w not in seen and w not in LAYER_LIBRARY:
                    seen.add(w)
                    todo.append(w)
    return found


def test_every_module_has_a_floor():
    for n in graph():
        floor(n)


def test_no_new_upward_edge():
    assert upward_edges(graph()) == KNOWN_UPWARD


def test_the_engine_reaches_nothing_new_of_the_layer_library():
    assert engine_reach(graph()) == KNOWN_ENGINE_REACH


def test_the_checks_catch_a_planted_upward_edge_and_cycle():
    edges = {"scratchlib.data": {"scratchlib.layers"}, "scratchlib.layers": {"scratchlib.data"}}
    assert upward_edges(edges) == {("scratchlib.data", "scratchlib.layers")}
    assert cycles(edges) == [["scratchlib.data", "scratchlib.layers"]]
    assert engine_reach({ENGINE: {"scratchlib.plots"}, "scratchlib.plots": {"scratchlib.layers"}}) == {
        ("scratchlib.plots", "scratchlib.layers")}


def test_no_known_exceptions_remain():
    edges = graph()
    assert not upward_edges(edges) and not cycles(edges) and not engine_reach(edges)


def test_no_new_cycle():
    assert sorted(cycles(graph())) == sorted(KNOWN_CYCLES)


def test_the_shared_pieces_stand_on_nothing_of_either_library():
    """The replay's Event/Replay type and the tensor-to-text formatter, used by both libraries and
    by check, import nothing of scratchlib but the formatter itself."""
    for name, allowed in (("text", set()), ("events", {"scratchlib.text"})):
        path = PACKAGE / f"{name}.py"
        modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
        found = imported(ast.parse(path.read_text()), f"scratchlib.{name}") & modules
        assert found == allowed, name
