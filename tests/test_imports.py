"""Imports go one way: the floors written in docs/architecture.md hold in the code.

Every module's imports are read from its source (an AST scan, nothing is run), deferred
imports included, and held against the two tables of docs/architecture.md: the floors (an
import may go sideways or down, never up) and the "never" rules (what a package must not
reach through any path of imports). The engine's core modules import each other by design,
so ``scratchlib.autograd.*`` counts as one node when cycles are looked for.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scratchlib"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ENGINE = "scratchlib.autograd"


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under ``## heading``, each a list of its cells."""
    section = markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # past the header and its rule


def patterns(cell: str) -> list[str]:
    """The module patterns named in a cell: `scratchlib.x` or `scratchlib.x.*`."""
    return re.findall(r"`(scratchlib[\w.]*(?:\.\*)?)`", cell)


def matches(module: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        package = pattern[:-2]
        return module == package or module.startswith(package + ".")
    return module == pattern


def read_architecture(text: str | None = None) -> tuple[dict[str, int], list[tuple[str, list[str]]]]:
    """(pattern -> floor, [(from pattern, [patterns it must not reach])])."""
    text = ARCHITECTURE.read_text() if text is None else text
    floors = {p: int(row[0]) for row in table_rows(text, "Floors, top first") for p in patterns(row[1])}
    never = [(p, patterns(row[1])) for row in table_rows(text, "Never") for p in patterns(row[0])]
    return floors, never


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, here: str, modules: set[str] = frozenset()) -> set[str]:
    """The modules a module's source imports (anywhere in it, deferred imports too).

    ``from package import module`` counts as an import of the module alone (of ``modules``),
    not of the package's face.
    """
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            found |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:  # relative import: resolve against this module's package
                package = here.split(".")[: -n.level]
                base = ".".join(package + ([n.module] if n.module else []))
            submodules = {f"{base}.{a.name}" for a in n.names} & set(modules)
            found |= submodules if len(submodules) == len(n.names) else {base} | submodules
    return found


def graph() -> dict[str, set[str]]:
    """module -> the scratchlib modules it imports (itself left out)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in imported(ast.parse(path.read_text()), name, set(modules)) if m in modules} - {name}
        for name, path in modules.items()
    }


def floor_of(module: str, floors: dict[str, int]) -> int:
    found = [f for pattern, f in floors.items() if matches(module, pattern)]
    assert found, f"{module} stands on no floor: give it a row in docs/architecture.md"
    return max(found)  # the most specific row is never lower than its package's


def upward_edges(edges: dict[str, set[str]], floors: dict[str, int]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in edges.items() for b in targets if floor_of(b, floors) > floor_of(a, floors)}


def engine_as_one(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph with the engine's modules merged into one node."""

    def node(m: str) -> str:
        return ENGINE if matches(m, ENGINE + ".*") else m

    merged: dict[str, set[str]] = {}
    for a, targets in edges.items():
        merged.setdefault(node(a), set()).update({node(b) for b in targets} - {node(a)})
    return merged


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one node (a cycle), found by a depth-first walk."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
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


def forbidden_reach(edges: dict[str, set[str]], never: list[tuple[str, list[str]]]) -> set[tuple[str, str]]:
    """(module, forbidden module it reaches through any path of imports)."""
    found = set()
    for start in edges:
        for source, targets in never:
            if not matches(start, source):
                continue
            seen, todo = {start}, [start]
            while todo:
                for w in edges.get(todo.pop(), ()):
                    if any(matches(w, t) for t in targets):
                        found.add((start, w))
                    if w not in seen:
                        seen.add(w)
                        todo.append(w)
    return found


def test_the_architecture_names_every_floor_and_rule():
    floors, never = read_architecture()
    assert sorted(set(floors.values())) == [1, 2, 3, 4]
    assert ("scratchlib.autograd.*", ["scratchlib.layers.*", "scratchlib.mlp", "scratchlib.training.*"]) in never


def test_every_module_stands_on_a_floor():
    floors, _ = read_architecture()
    for module in graph():
        floor_of(module, floors)


def test_no_import_runs_upward():
    floors, _ = read_architecture()
    assert upward_edges(graph(), floors) == set()


def test_no_import_cycle():
    assert cycles(engine_as_one(graph())) == []


def test_nothing_reaches_what_the_architecture_forbids():
    _, never = read_architecture()
    assert forbidden_reach(graph(), never) == set()


def test_the_checks_catch_a_planted_upward_edge_cycle_and_reach():
    floors, never = read_architecture()
    edges = {
        "scratchlib.course.check": {"scratchlib.layers.base"},
        "scratchlib.layers.base": {"scratchlib.course.check"},
    }
    assert upward_edges(edges, floors) == {("scratchlib.course.check", "scratchlib.layers.base")}
    assert cycles(edges) == [["scratchlib.course.check", "scratchlib.layers.base"]]
    reach = {
        "scratchlib.autograd.nn": {"scratchlib.course.check"},
        "scratchlib.course.check": {"scratchlib.layers.base"},
    }
    assert forbidden_reach(reach, never) == {("scratchlib.autograd.nn", "scratchlib.layers.base")}
    # the engine's own loop is one node, a loop through another module is still a cycle
    engine_loop = {
        "scratchlib.autograd.tensor": {"scratchlib.autograd.ops"},
        "scratchlib.autograd.ops": {"scratchlib.autograd.tensor"},
    }
    assert cycles(engine_as_one(engine_loop)) == []


def test_a_table_is_read_from_its_own_section_only():
    text = (
        "## Floors, top first\n\n| floor | modules | x |\n|---|---|---|\n| 2 | `scratchlib.a.*` | y |\n"
        "| 1 | `scratchlib` | z |\n\n## Never\n\n| from | must not reach | why |\n|---|---|---|\n"
        "| `scratchlib.a.*` | `scratchlib.b` | w |\n"
    )
    floors, never = read_architecture(text)
    assert floors == {"scratchlib.a.*": 2, "scratchlib": 1}
    assert never == [("scratchlib.a.*", ["scratchlib.b"])]
    assert floor_of("scratchlib.a.deep", floors) == 2
