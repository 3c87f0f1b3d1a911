"""Every public function of scratchlib/ and tools/teacher/ says its types (issue 25).

mypy checks the body of an annotated function only, and ``disallow_incomplete_defs`` only
finishes a def that has started: a def with no annotation at all would pass both unread. This
test reads the sources (an AST scan, nothing is run) and names each public function or method
that lacks an annotation on a parameter (``self`` and ``cls`` aside) or on its return.

Public: the function's name and the names of the classes around it do not start with ``_``;
dunder methods are left out except ``__init__``, whose parameters count (its return is always
None). Functions defined inside functions are closures, not API, and are skipped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# tools/teacher/ is not in the student edition: a folder that is not there is not read
FOLDERS = ("scratchlib", "tools/teacher")

# In files another change is still editing: the lead clears these when it lands (with the same
# modules' exemption from disallow_incomplete_defs in pyproject.toml). An entry that is typed
# already fails the test, so the list only shrinks.
PENDING: set[str] = set()

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def functions(body: list[ast.stmt], prefix: str = "") -> Iterator[tuple[str, FunctionNode, bool]]:
    """(qualified name, node, is a method) for each public function at this level and in its classes.

    Definitions under ``if`` (``if TYPE_CHECKING:``) and ``try`` count; function bodies are not entered.
    """
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = node.name
            if name == "__init__" or not name.startswith("_"):
                yield prefix + name, node, bool(prefix)
        elif isinstance(node, ast.ClassDef):
            if not node.name.startswith("_"):
                yield from functions(node.body, f"{prefix}{node.name}.")
        elif isinstance(node, ast.If):
            yield from functions(node.body + node.orelse, prefix)
        elif isinstance(node, ast.Try):
            handlers = [stmt for handler in node.handlers for stmt in handler.body]
            yield from functions(node.body + handlers + node.orelse + node.finalbody, prefix)


def missing(node: FunctionNode, is_method: bool) -> list[str]:
    """The parameters of ``node`` without an annotation, and "return" if its return has none."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    if is_method and not static and positional:
        positional = positional[1:]  # self, or cls of a classmethod
    params = [*positional, *args.kwonlyargs, *(a for a in (args.vararg, args.kwarg) if a is not None)]
    gaps = [a.arg for a in params if a.annotation is None]
    if node.returns is None and node.name != "__init__":
        gaps.append("return")
    return gaps


def offenders(root: Path = ROOT) -> dict[str, list[str]]:
    """``"path: qualified name"`` -> what it lacks, for every public function of the folders."""
    found = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for name, node, is_method in functions(tree.body):
                gaps = missing(node, is_method)
                if gaps:
                    found[f"{path.relative_to(root).as_posix()}: {name}"] = gaps
    return found


def test_every_public_function_is_annotated():
    found = offenders()
    new = [f"{where} (lacks: {', '.join(gaps)})" for where, gaps in found.items() if where not in PENDING]
    assert not new, "public functions without full type hints:\n" + "\n".join(new)


def test_the_pending_list_names_only_what_is_still_untyped():
    present = {path for path in PENDING if (ROOT / path.split(":")[0]).exists()}
    typed = sorted(present - offenders().keys())
    assert not typed, "typed now, remove from PENDING:\n" + "\n".join(typed)


def test_the_scan_names_what_it_should(tmp_path):
    (tmp_path / "scratchlib").mkdir()
    (tmp_path / "scratchlib" / "m.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "def typed(x: int) -> int: ...\n"
        "def bare(x, *args, flag=True, **kwargs): ...\n"
        "def no_return(x: int): ...\n"
        "def _private(x): ...\n"
        "class Thing:\n"
        "    def __init__(self, value): ...\n"
        "    def __repr__(self): ...\n"
        "    @staticmethod\n"
        "    def static(a): ...\n"
        "    @classmethod\n"
        "    def make(cls) -> 'Thing': ...\n"
        "    def method(self) -> None:\n"
        "        def closure(y): ...\n"
        "    class Inner:\n"
        "        def deep(self, z) -> None: ...\n"
        "class _Hidden:\n"
        "    def method(self, x): ...\n"
        "if TYPE_CHECKING:\n"
        "    def checked(x): ...\n"
    )
    assert offenders(tmp_path) == {
        "scratchlib/m.py: bare": ["x", "flag", "args", "kwargs", "return"],
        "scratchlib/m.py: no_return": ["return"],
        "scratchlib/m.py: Thing.__init__": ["value"],
        "scratchlib/m.py: Thing.static": ["a", "return"],
        "scratchlib/m.py: Thing.Inner.deep": ["z"],
        "scratchlib/m.py: checked": ["x", "return"],
    }
