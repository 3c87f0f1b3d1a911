"""Verdicts, decided in the grader's own process from data: no student code runs here.

* A test (or checking cell) passes when the values it recorded in the sandbox (tests/expect.py,
  check.compare in a notebook) match those the course's solution records for the same test, with
  the tolerances of the solution's record, and it ended as the solution's did. Forging a pass
  takes producing the right values.
* A hand value or prediction is read from the student's cell with ``ast`` (never run) and compared
  with the solution's numbers, with the tolerances of the compare call that checks it.

Every reason is built here from the test's name, the check's number and which entries differ;
nothing of what the student's code printed or raised (beyond a known error type) reaches it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import sys
import textwrap
from pathlib import Path
from typing import Any

from teacher import course_answers

READ_AT_MOST = 20_000_000  # bytes of a record file read (a student's code may write junk into it)


def values_module(root: Path) -> Any:
    """The course's tests/expect.py (encode, differ, describe), loaded from the course by its path."""
    name = "teacher.course_expect"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(root) / "tests" / "expect.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"teacher: the course has no tests/expect.py under {root}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- records


def read_records(path: Path) -> list[dict]:
    """The JSON records of a sandbox record file, at most READ_AT_MOST bytes; unreadable lines skipped."""
    try:
        with open(path, "rb") as f:
            raw = f.read(READ_AT_MOST)
    except OSError:
        return []
    out = []
    for line in raw.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def by_test(records: list[dict]) -> tuple[dict[str, dict], bool]:
    """The records of a pytest run, test by test: {id: {"values": [...], "end": record or None}};
    and whether a test file could not be collected."""
    tests: dict[str, dict] = {}
    current = None
    collect_error = False
    for record in records:
        event = record.get("event")
        if event == "start" and isinstance(record.get("test"), str):
            current = tests.setdefault(record["test"], {"values": [], "end": None, "started": True})
            current["values"], current["end"] = [], None  # a test runs once: a second start begins again
        elif event == "value" and current is not None:
            current["values"].append(record)
        elif event == "end" and current is not None and record.get("test") in tests:
            tests[record["test"]]["end"] = record
            current = None
        elif event == "collect":
            collect_error = True
    return tests, collect_error


def by_cell(records: list[dict]) -> dict[int, dict]:
    """The records of a notebook run, cell by cell: {index: {"values": [...], "end": record or None}}."""
    cells: dict[int, dict] = {}
    current = None
    for record in records:
        event = record.get("event")
        if event == "cell" and isinstance(record.get("index"), int):
            current = cells.setdefault(record["index"], {"values": [], "end": None})
            current["values"], current["end"] = [], None
        elif event == "value" and current is not None:
            current["values"].append(record)
        elif event == "cell_end" and current is not None:
            current["end"] = record
            current = None
    return cells


# ---------------------------------------------------------------- comparing with the solution's run


def _error(end: dict | None) -> str:
    name = str((end or {}).get("error") or "")
    return name if name.isidentifier() and len(name) < 40 else "an error"


def judge(values: Any, reference: dict, run: dict | None, where: str) -> tuple[bool, str]:
    """Whether one test's (or cell's) run matches the solution's run, and if not, why (no value named).

    reference: {"values": [{"value", "atol", "rtol", "dtype", "expected"?}], "unstable": [i], "ok": bool}
    run: {"values": [...], "end": {...} or None} as by_test/by_cell give, None when it never started.
    """
    if run is None:
        return False, "did not run"
    want = reference.get("values", [])
    got = run.get("values", [])
    unstable = set(reference.get("unstable", []))
    end = run.get("end")
    for i, ref in enumerate(want):
        check = f"check {i + 1} of {len(want)}"
        if i >= len(got):
            if end is None:
                return False, f"did not finish: its process ended before {check}"
            if end.get("outcome") == "timeout" or end.get("timeout"):
                return False, f"timed out before {check}"
            if _error(end) == "ExerciseNotDone":
                return False, f"not attempted: it raises ExerciseNotDone, as a stub does, before {check}"
            return False, f"raised {_error(end)} before {check}"
        if i in unstable:
            continue
        atol, rtol = float(ref.get("atol", 0.0)), float(ref.get("rtol", 0.0))
        for side in ("value", "expected"):
            if side not in ref:
                continue
            try:
                found = values.differ(got[i].get(side), ref[side], atol, rtol, bool(ref.get("dtype")))
            except Exception:  # noqa: BLE001 (malformed data from the sandbox: no match)
                found = {"what": "value"}
            if found is not None:
                return False, f"{check}: {values.describe(found)}"
    if len(got) > len(want):
        return False, f"{len(got)} checks where the solution makes {len(want)}"
    if end is None:
        return False, "did not finish: its process ended during it"
    ok = end.get("outcome") == "passed" if "outcome" in end else bool(end.get("ok"))
    if not ok:
        if end.get("outcome") == "timeout" or end.get("timeout"):
            return False, "timed out"
        done = "after its checks " if want else ""
        return False, f"raised {_error(end)} {done}".strip()
    return True, ""


# ---------------------------------------------------------------- hand values


MATH = {"log": math.log, "exp": math.exp, "sqrt": math.sqrt}
OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}


class NotLiteral(ValueError):
    pass


def literal(node: ast.AST) -> Any:
    """The value of an answer written by hand (numbers, lists of them, + - * / ** // % on numbers,
    math.log/exp/sqrt, math.pi and math.e), computed without running anything; Ellipsis for ``...``."""
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            return Ellipsis
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        raise NotLiteral(node)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal(e) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = literal(node.operand)
        if not isinstance(value, (int, float)):
            raise NotLiteral(node)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        left, right = literal(node.left), literal(node.right)
        if not all(isinstance(v, (int, float)) for v in (left, right)):
            raise NotLiteral(node)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise NotLiteral(node)  # no huge powers: an answer is a number, not a computation
        try:
            return OPS[type(node.op)](left, right)
        except (ArithmeticError, ValueError) as error:
            raise NotLiteral(node) from error
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math":
        if node.attr in ("pi", "e"):
            return getattr(math, node.attr)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "math"
        and node.func.attr in MATH
        and len(node.args) == 1
        and not node.keywords
    ):
        value = literal(node.args[0])
        try:
            return MATH[node.func.attr](value)
        except (ArithmeticError, ValueError, TypeError) as error:
            raise NotLiteral(node) from error
    raise NotLiteral(node)


def _answers(lines: list[str], names: list[str]) -> dict[str, ast.AST] | None:
    """The last value assigned to each name in the student's lines (None when they do not parse)."""
    try:
        module = ast.parse(textwrap.dedent("".join(line if line.endswith("\n") else line + "\n" for line in lines)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found: dict[str, ast.AST] = {}
    for name, value in course_answers._assignments(module, set(names)):
        found[name] = value
    return found


def _shape(value: Any) -> tuple:
    if isinstance(value, list):
        inner = {_shape(v) for v in value}
        return (len(value), *(inner.pop() if len(inner) == 1 else ("ragged",)))
    return ()


def _flat(value: Any) -> list:
    return [x for v in value for x in _flat(v)] if isinstance(value, list) else [value]


def hand(
    lines: list[str], solution: list[str], names: list[str], atol: float, rtol: float, exercise: str = ""
) -> tuple[bool, str]:
    """Whether the numbers a student wrote for a hand-value exercise match the solution's; if not, why
    (which name, which entries; never the right value). An answer that is not written by hand is refused
    as the self-check refuses it (its message quotes the expression the student wrote, nothing run)."""
    theirs = _answers(lines, names)
    mine = _answers(solution, names)
    if theirs is None:
        return False, "your answer does not parse as Python"
    if mine is None:
        return False, "the course's answer does not parse (tell your teacher)"
    for name in names:
        if name not in theirs:
            return False, f"{name} is not set"
        try:
            got = literal(theirs[name])
        except (NotLiteral, RecursionError, MemoryError, OverflowError):
            refused = course_answers.refusal(textwrap.dedent("".join(lines)), names, exercise)
            return False, refused or (
                f"{name} must be numbers you wrote (numbers, lists of them, + - * / ** on them, "
                "math.log/exp/sqrt of numbers), not the notebook's own results"
            )
        want = literal(mine[name])
        if got is Ellipsis or (isinstance(got, list) and Ellipsis in _flat(got)):
            return False, f"{name} is still ... (not done yet)"
        if _shape(got) != _shape(want):
            return False, f"{name}: shape {_shape(got)}, expected {_shape(want)}"
        flat_got, flat_want = _flat(got), _flat(want)
        bad = [i for i, (g, w) in enumerate(zip(flat_got, flat_want)) if not abs(g - w) <= atol + rtol * abs(w)]
        if bad:
            shape = _shape(want)
            if not shape:
                return False, f"{name} is wrong"
            where = ", ".join(str(_index(i, shape)) for i in bad[:3]) + (", ..." if len(bad) > 3 else "")
            return False, f"{name}: {len(bad)} of {len(flat_want)} entries wrong (at {where})"
    return True, ""


def _index(flat: int, shape: tuple) -> list[int]:
    index = []
    for n in reversed(shape):
        index.append(flat % n)
        flat //= n
    return index[::-1]


def tolerances(notebook_cells: list[str], exercise: str) -> tuple[float, float]:
    """atol and rtol of the compare(..., exercise=exercise) call that checks a hand value (compare's
    defaults when the call gives none or the notebook checks it otherwise)."""
    atol, rtol = 1e-6, 1e-5
    for source in notebook_cells:
        try:
            module = ast.parse(source)
        except SyntaxError:
            continue
        for call in course_answers._checked(module, exercise):
            for keyword in call.keywords:
                if keyword.arg in ("atol", "rtol"):
                    try:
                        value = float(literal(keyword.value))
                    except (NotLiteral, TypeError):
                        continue
                    atol, rtol = (value, rtol) if keyword.arg == "atol" else (atol, value)
            return atol, rtol
    return atol, rtol
