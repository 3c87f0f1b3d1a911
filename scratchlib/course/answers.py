"""A hand value or prediction is a literal: numbers the student wrote, never the notebook's result.

A prediction exercise's region, in the student edition, is a line such as
``predicted_db2 = ...  # exercise 2.4: ...``; its checking cell compares the names it assigns with
``check.compare(..., exercise="2.4")``. ``refusal`` reads the student's assignments to those names
with ``ast`` and refuses any right-hand side that is not written by hand: numbers, lists or tuples
of numbers, unary minus, ``+ - * / ** // %`` on them, and ``math.log``/``math.exp``/``math.sqrt``
of such (``math.pi`` and ``math.e`` too). A name, an attribute, a subscript or any other call is
the notebook's own result, not the student's numbers. The self-check and the grader both ask it.

A student's own test of a layer (tests/test_my_layers.py) is read the same way: ``test_refusal``
asks that the expected value of each of its checks, ``expect(actual, expected)``, be such a literal
(or None): an expected value computed with torch or the course's code agrees with the code it
computes, right or wrong, and tests nothing.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

#: the calls of ``math`` an answer may hold (an exercise may ask for ``math.log(3)``)
MATH_CALLS = frozenset({"log", "exp", "sqrt"})
MATH_CONSTANTS = frozenset({"pi", "e"})
OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod)
SHOWN = 60  # characters of the refused expression quoted in the message


def _is_math(node: ast.AST, names: frozenset[str]) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "math"
        and node.attr in names
    )


def not_literal(node: ast.AST) -> ast.AST | None:
    """The first part of an answer's right-hand side that is not written by hand, else None."""
    if isinstance(node, ast.Constant):
        ok = node.value is Ellipsis or (isinstance(node.value, (int, float)) and not isinstance(node.value, bool))
        return None if ok else node
    if isinstance(node, (ast.List, ast.Tuple)):
        return next((bad for bad in map(not_literal, node.elts) if bad is not None), None)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return not_literal(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, OPERATORS):
        return not_literal(node.left) or not_literal(node.right)
    if _is_math(node, MATH_CONSTANTS):
        return None
    if isinstance(node, ast.Call) and _is_math(node.func, MATH_CALLS) and not node.keywords and len(node.args) == 1:
        return not_literal(node.args[0])
    return node


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    try:  # a cell with %magic or !shell lines: read as IPython does
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except (ImportError, SyntaxError):
        return None  # the run reports the syntax error itself


def _shown(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _message(exercise: str, name: str, bad: ast.AST, whose_result: str = "the notebook's own result") -> str:
    whose = f"exercise {exercise}: " if exercise else ""
    return (
        f"{whose}{name} must be numbers you wrote (numbers, lists of them, + - * / ** on them, "
        f"math.log/exp/sqrt of numbers): write the numbers you worked out; `{_shown(bad)}` is {whose_result}"
    )


def _assignments(tree: ast.Module, names: set[str]) -> list[tuple[str, ast.AST]]:
    """(name, right-hand side) for each top-level assignment to one of names, in order."""
    found: list[tuple[str, ast.AST]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                found.append((target.id, value))
            elif isinstance(target, (ast.Tuple, ast.List)):
                parts = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
                for i, element in enumerate(target.elts):
                    if isinstance(element, ast.Name) and element.id in names:
                        same = parts is not None and len(parts) == len(target.elts)
                        found.append((element.id, parts[i] if same and parts is not None else value))
    return found


def refusal(source: str, names: list[str] | tuple[str, ...], exercise: str = "") -> str | None:
    """Why the answer in a notebook cell's source is refused, else None.

    ``names`` are the names the exercise's stub assigns (``predicted_db2`` of
    ``predicted_db2 = ...  # exercise 2.4: ...``); every top-level assignment to one of them must
    be a literal (see the module docstring). A cell that does not parse is not refused here: running
    it reports the syntax error.
    """
    tree = _parse(source)
    if tree is None:
        return None
    for name, value in _assignments(tree, set(names)):
        bad = not_literal(value)
        if bad is not None:
            return _message(exercise, name, bad)
    return None


def _checked(tree: ast.Module, exercise: str) -> list[ast.Call]:
    """The calls ``compare(..., exercise="k.m")`` (or ``check.compare``) in a cell."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(
            k.arg == "exercise" and isinstance(k.value, ast.Constant) and k.value.value == exercise
            for k in node.keywords
        ):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == "compare") or (
                isinstance(func, ast.Attribute) and func.attr == "compare"
            ):
                calls.append(node)
    return calls


def answer_names(source: str, exercise: str) -> tuple[list[str], str | None]:
    """The names a cell's ``compare(answer, ..., exercise=exercise)`` checks, and a refusal when its
    first argument is not made of names and numbers (the answer replaced by the notebook's result)."""
    tree = _parse(source)
    if tree is None:
        return [], None
    names: list[str] = []
    for call in _checked(tree, exercise):
        if not call.args:
            continue
        parts = [call.args[0]]
        while parts:
            part = parts.pop(0)
            if isinstance(part, (ast.List, ast.Tuple)):
                parts[:0] = part.elts
            elif isinstance(part, ast.Name):
                names.append(part.id)
            elif not_literal(part) is not None:
                return names, _message(exercise, "the answer compared", part)
    return names, None


def notebook_refusal(notebook: Path | str, exercise: str) -> str | None:
    """Why a prediction exercise's answer in a notebook (a .ipynb path) is refused, else None.

    Its checking cell is the one calling ``compare(..., exercise=exercise)``; the answer is the
    last assignment to the names compared there, in that cell or, when it has none, an earlier one.
    A notebook with no such call (a code exercise) is not refused here.
    """
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    sources = [
        "".join(c.get("source", "")) if isinstance(c.get("source"), list) else str(c.get("source", ""))
        for c in cells
        if c.get("cell_type") == "code"
    ]
    for i, source in enumerate(sources):
        names, refused = answer_names(source, exercise)
        if refused:
            return refused
        if not names:
            continue
        for earlier in reversed(sources[: i + 1]):  # the cell itself first, then those before it
            tree = _parse(earlier)
            if tree is not None and _assignments(tree, set(names)):
                return refusal(earlier, names, exercise)
        return None
    return None


#: the checks of a student's own test whose expected values are read (the skeleton's ``expect``)
CHECKS = frozenset({"expect"})


def _check_name(func: ast.AST) -> str | None:
    """``expect`` for a call of ``expect(...)`` or ``module.expect(...)``, else None."""
    if isinstance(func, ast.Name) and func.id in CHECKS:
        return func.id
    if isinstance(func, ast.Attribute) and func.attr in CHECKS:
        return func.attr
    return None


def test_refusal(source: str, function: str | None = None, exercise: str = "") -> str | None:
    """Why a student's own test in ``source`` (a test file) is refused, else None.

    Its checks are the calls ``expect(actual, expected, ...)`` in the test function named ``function``
    (the whole source without one). The expected value of each (the second argument, or ``expected=``)
    must be a literal as a hand value is (see the module docstring), or None (a gradient that is not
    there). A check whose expected value cannot be read (``expect(*pair)``, ``check = expect``) is
    refused too. A source that does not parse is not refused here: running it reports the error.
    """
    try:
        tree = ast.parse(source)
        scope: ast.AST = tree
        if function is not None:
            defined = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            found = [n for n in defined if n.name == function]
            if not found:
                return None
            scope = found[-1]  # the one pytest runs: a later definition replaces an earlier one
        nodes = list(ast.walk(scope))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    whose = f"exercise {exercise}: " if exercise else ""
    hidden = (
        f"{whose}call expect(actual, expected) by its name, each expected value the numbers you worked out: "
        "`{}` hides which values a check expects"
    )
    calls = [n for n in nodes if isinstance(n, ast.Call) and _check_name(n.func) is not None]
    named = {id(n.func) for n in calls} | {id(n.func.value) for n in calls if isinstance(n.func, ast.Attribute)}
    for node in nodes:  # the name of a check, but not called: an alias or an argument
        if _check_name(node) is not None and id(node) not in named:
            return hidden.format(_shown(node))
    for call in calls:
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return hidden.format(_shown(call))
        given = call.args[1:2] or [k.value for k in call.keywords if k.arg == "expected"]
        if not given or (isinstance(given[0], ast.Constant) and given[0].value is None):
            continue  # no expected value (the call fails when run), or None: no gradient there
        bad = not_literal(given[0])
        if bad is not None:
            actual = _shown(call.args[0]) if call.args else "..."
            name = f"the expected value in expect({actual}, ...)"
            return _message(exercise, name, bad, "computed by code, not worked out by hand")
    return None
