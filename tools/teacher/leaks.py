"""The leak scan: nothing in the student edition shows a hand or prediction exercise's answer.

A hand or prediction exercise is a notebook region that assigns numbers written by hand
(``predicted_dW2 = [[0.25, 0.0, -0.5], ...]``). Its answer's values are looked for in every file
of the student edition as the course prints numbers (check.compare's table, tensor_text, the repr
of a list: rounded to 4 or 5 significant digits, or exact): each notebook cell's source and its
outputs, each markdown file, each .py file (docstrings, stub messages, tests). A leak is

* a run of at least 3 of one answer's numbers, in order, as consecutive numbers of the text
  (not all equal, not all 0 or 1 in size, at least two of them not 0: a count such as 3, 0, 0
  stands in any table), or
* a single answer number of at least 4 significant digits that is not a simple fraction
  (``1/3``, ``2/3``, ``1/6``), written to at least 4 significant digits.

A code exercise's answer is its solution's lines: a line of a solution region (at least ``LINE``
characters once comments and spacing are set aside) that stands as a whole line of code anywhere in
the student edition (another notebook cell, a .py file, a fenced code block of markdown) shows that
answer, unless the exercise's own task (its stub) states it or ``GIVEN`` says why the course gives
it on purpose (an idiom, a call every test makes, a line the exercise's hint spells out).

A notebook cell of the student edition that calls an exercise's self-check
(``check.compare(..., exercise="k.m")``) and keeps its output shows that exercise's answer too.

``make student`` refuses to finish on a leak, naming the exercise and the file and cell. A
notebook cell that must compute an answer to check something else is cleared in the student
edition when it carries the cell tag ``student-clear-output`` (see teacher.edition).
"""

from __future__ import annotations

import ast
import json
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from teacher.edition import STUDENT_TESTS
from teacher.markers import Region, assigned_names

if TYPE_CHECKING:  # teacher.edition imports nothing of this module; only the type is needed
    from teacher.edition import Course

#: a number as the course writes it: 0.25, -3, 1.2e-05, .5 (a minus sign of either kind)
NUMBER = re.compile(r"(?<![\w.])[-\u2212]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w|\.\d)")
SIMPLE = (1 / 3, 2 / 3, 1 / 6)  # fractions any worked example prints: not an answer's fingerprint
RUN = 3  # numbers of an answer, in order, that make a leak
DIGITS = 4  # significant digits that make a single number a leak

#: Known leaks not fixed yet, as (exercise, place): the scan reports them but does not refuse.
#: This list only shrinks (tests/test_leaks.py holds it to that).
#: The numbers' last ones (03's 3.7 and 3.9, 04 cell 47's row of 4.52) were given numbers of their
#: own. The two below came with the scan of solution lines: each is a test double of an exercise that
#: a test of the next one writes so as not to run it (DESIGN's "a given forward"), and it is that
#: exercise's answer; the lead decides between the double and the answer.
KNOWN: frozenset[tuple[str, str]] = frozenset(
    {
        ("3.12", "tests/test_mlp.py"),  # layer_by_layer: NeuralNetwork.forward, for the tests of 3.4
        ("5.1", "tests/test_train.py"),  # the batch set on the Inputs by hand, for the test of sgd_update
    }
)

#: the characters a solution line needs to count (comments and spacing set aside): shorter lines are
#: the calls any user of the API writes (``net.backward()``, ``return x``)
LINE = 20

#: solution lines the course gives on purpose, with why: they are never a leak
GIVEN: dict[str, str] = {
    "generator = torch.Generator().manual_seed(seed)": "the course's seeded draw: given in 02's fit and in "
    "05's train.py, and 2.7's hint names it",
    "for epoch in range(epochs):": "a loop header, in every training loop of the course",
    "optimizer.zero_grad()": "torch's own call, which 05's training loop shows before 6.45 asks for the loop",
    "a, b = ctx.saved_tensors": "how every Function reads what it saved: notebook 06 shows it first",
    "for child, child_grad in zip(node.next_functions, grads):": "6.2's hint spells it out",
    "loss = net.backward(x, y)": "the call every test of NeuralNetwork.backward (3.4) makes",
    "with torch.no_grad():": "torch's switch for a pass that needs no graph: 02, 05 and 06 use it all along, "
    "before 6.44 (validation) asks for it",
}


@dataclass(frozen=True)
class Answer:
    exercise: str
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Leak:
    exercise: str
    place: str  # "notebooks/04_x.ipynb cell 13 output", "scratchlib/layers.py"
    shown: str  # the text that gives it away

    def __str__(self) -> str:
        return f"exercise {self.exercise}'s answer is in {self.place}: {self.shown}"


def _value(node: ast.AST) -> object:
    """A hand-written value: numbers, lists, arithmetic, math.log/exp/sqrt."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_number(_value(node.operand))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
        return _value(node.operand)
    if isinstance(node, ast.BinOp):
        left, right = _number(_value(node.left)), _number(_value(node.right))
        ops = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__}
        ops |= {ast.Pow: float.__pow__, ast.FloorDiv: float.__floordiv__, ast.Mod: float.__mod__}
        return ops[type(node.op)](left, right)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math":
        return float(getattr(math, node.attr))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and len(node.args) == 1:
        return float(getattr(math, node.func.attr)(_number(_value(node.args[0]))))
    raise ValueError(f"not a hand-written value: {ast.unparse(node)}")


def _number(value: object) -> float:
    if not isinstance(value, float):
        raise ValueError("arithmetic on a list")
    return value


def _flat(value: object) -> list[float]:
    return [x for v in value for x in _flat(v)] if isinstance(value, list) else [float(value)]  # type: ignore[arg-type]


def answers_of(region: Region) -> list[Answer]:
    """The answer values of a prediction region (one Answer per name it assigns); [] for code."""
    if assigned_names(region.body) is None:
        return []
    tree = ast.parse(textwrap.dedent("".join(region.body)))
    found = []
    for node in tree.body:
        assert isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        try:
            values = _flat(_value(node.value))
        except (ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError):
            continue
        found.append(Answer(region.id, node.targets[0].id, tuple(values)))
    return found


def _significant(text: str) -> int:
    mantissa = re.split(r"[eE]", text.lstrip("-\u2212"))[0].replace(".", "").lstrip("0")
    return len(mantissa) if "." in text else len(mantissa.rstrip("0")) or 1


def _decimals(text: str) -> int:
    """The decimal places a written number has: 2 for 0.25, 6 for 1.5e-05, -2 for 3e2."""
    mantissa, _, exponent = text.lower().partition("e")
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return places - int(exponent or 0)


def matches(token: str, value: float) -> bool:
    """Whether a number written in a text (``token``) is ``value`` as the course would print it."""
    shown = float(token.replace("\u2212", "-"))
    if not math.isfinite(value):
        return False
    if shown == value:
        return True
    places = _decimals(token)
    if places <= 0 or shown == 0 or abs(shown - value) > 0.5 * 10.0**-places * (1 + 1e-9):
        return False  # a whole number, or 0, is only the exact value
    # rounded: only a number written to the precision the course prints counts
    needed = min(DIGITS, _significant(f"{value:.5g}"))
    return _significant(token) >= needed


def _trivial(value: float) -> bool:
    return any(math.isclose(abs(value), s, rel_tol=1e-4) for s in SIMPLE)


#: what may stand between two numbers of one printed row: spaces, commas, a LaTeX column
BETWEEN = re.compile(r"[\s,;&]*")


def _groups(text: str) -> list[list[str]]:
    """The numbers of a text, in groups of numbers written one after the other (a row, a list)."""
    groups: list[list[str]] = []
    end = None
    for match in NUMBER.finditer(text):
        if end is not None and BETWEEN.fullmatch(text, end, match.start()):
            groups[-1].append(match.group())
        else:
            groups.append([match.group()])
        end = match.end()
    return groups


def evaluated(source: str) -> str:
    """A code source's hand-written lists as the numbers they evaluate to (``[2.75 / 3, 0.5 / 3]``
    reads ``[0.91667, 0.16667]``), one list a line; "" when the source does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)):
            try:
                values = _flat(_value(node))
            except (ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError, OverflowError):
                continue
            lines.append("[" + ", ".join(f"{v:.5g}" for v in values) + "]")
    return "\n".join(lines)


INLINE_CODE = re.compile(r"`([^`\n]+)`")


def worked_entries(markdown: str, answers: list[Answer]) -> list[tuple[Answer, str]]:
    """Arithmetic in a markdown's inline code (a hint's `7.5 / 3`) that works out an answer's entry
    (one that is not 0, 1/2 or a whole number)."""
    found = []
    for span in INLINE_CODE.findall(markdown):
        if not re.search(r"\d\s*[-+*/]\s*[\d(]", span):
            continue
        try:
            value = _number(_value(ast.parse(span, mode="eval").body))
        except (SyntaxError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError, OverflowError):
            continue
        for answer in answers:
            entries = [v for v in answer.values if v != round(v) and abs(v) != 0.5]
            if any(math.isclose(value, v, rel_tol=1e-9) for v in entries):
                found.append((answer, f"`{span}`"))
    return found


#: a row of numbers over a common denominator, as markdown works one out: (7, -2, -5)/64
OVER = re.compile(r"\(\s*(-?[\d.]+(?:\s*,\s*-?[\d.]+){2,})\s*\)\s*/\s*(\d+)")


def _divided(text: str) -> str:
    """Each (a, b, c)/k of a text as the numbers it works out to, one row a line."""
    rows = []
    for match in OVER.finditer(text):
        try:
            values = [float(x) / int(match[2]) for x in match[1].split(",")]
        except (ValueError, ZeroDivisionError):
            continue
        rows.append("[" + ", ".join(f"{v:.5g}" for v in values) + "]")
    return "\n".join(rows)


def find(text: str, answers: list[Answer]) -> list[tuple[Answer, str]]:
    """The answers a text gives away, each with the numbers that give it away."""
    groups = _groups(text + "\n" + _divided(text))
    tokens = [t for group in groups for t in group]
    found = []
    for answer in answers:
        values = answer.values
        hit = ""
        runs = [
            values[j : j + RUN]
            for j in range(len(values) - RUN + 1)
            if len(set(values[j : j + RUN])) > 1
            and any(abs(v) not in (0.0, 1.0) for v in values[j : j + RUN])
            and sum(v != 0 for v in values[j : j + RUN]) > 1
        ]
        windows = (group[i : i + RUN] for group in groups for i in range(len(group) - RUN + 1))
        for window in windows:
            if any(all(matches(t, v) for t, v in zip(window, run)) for run in runs):
                hit = ", ".join(window)
                break
        if not hit:
            for value in values:
                if _significant(f"{value:.5g}") >= DIGITS and not _trivial(value):
                    token = next((t for t in tokens if _significant(t) >= DIGITS and matches(t, value)), None)
                    if token is not None:
                        hit = token
                        break
        if hit:
            found.append((answer, hit))
    return found


def _units(root: Path, path: str) -> list[tuple[str, str]]:
    """(place, text) for each part of an edition file the scan reads."""
    file = root / path
    if path.endswith(".ipynb"):
        nb = json.loads(file.read_text(encoding="utf-8"))
        units = []
        for index, cell in enumerate(nb.get("cells", [])):
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else source
            if cell.get("cell_type") == "code":
                text += "\n" + evaluated(text)
            units.append((f"{path} cell {index}", text))
            if cell.get("cell_type") == "markdown":
                units.append((f"{path} cell {index} (inline code)", text))
            outputs = json.dumps(cell.get("outputs", []), ensure_ascii=False)
            if cell.get("outputs"):
                units.append((f"{path} cell {index} output", outputs.replace("\\n", "\n")))
        return units
    if path.endswith(".py"):
        text = file.read_text(encoding="utf-8", errors="replace")
        return [(path, text + "\n" + evaluated(text))]
    if path.endswith((".md", ".txt", ".rst")):
        return [(path, file.read_text(encoding="utf-8", errors="replace"))]
    return []


def code_line(line: str) -> str:
    """A line of code as the scan compares it: without its comment, indentation and runs of spaces."""
    line = line.strip()
    if line.startswith("#"):
        return ""
    return re.sub(r"\s+", " ", re.sub(r"\s+#.*$", "", line))


def solution_lines(course: Course) -> dict[str, set[str]]:
    """Each countable line of a code or prediction region (not a derivation, which is prose) -> its exercises."""
    derivations = {r.id for cells in course.derivations.values() for regions in cells.values() for r in regions}
    lines: dict[str, set[str]] = {}
    for region in course.regions:
        # a derivation is prose; a student's own test (STUDENT_TESTS) makes the calls its skeleton asks
        # for, and its answer is the numbers it expects, not its lines
        if region.id in derivations or region.where in STUDENT_TESTS:
            continue
        for raw in "".join(region.body).splitlines():
            line = code_line(raw)
            if len(line) >= LINE and line not in GIVEN and line not in region.task:
                lines.setdefault(line, set()).add(region.id)
    return lines


FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def _code_units(root: Path, path: str) -> list[tuple[str, str]]:
    """(place, code) for each part of an edition file that holds code: a .py file, a notebook's code
    cells, the fenced code blocks of a notebook's markdown or of a markdown file."""
    file = root / path
    if path.endswith(".py"):
        return [(path, file.read_text(encoding="utf-8", errors="replace"))]
    if path.endswith(".md"):
        return [(path, "\n".join(FENCE.findall(file.read_text(encoding="utf-8", errors="replace"))))]
    if not path.endswith(".ipynb"):
        return []
    units = []
    for index, cell in enumerate(json.loads(file.read_text(encoding="utf-8")).get("cells", [])):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        units.append(
            (f"{path} cell {index}", text if cell.get("cell_type") == "code" else "\n".join(FENCE.findall(text)))
        )
    return units


def code_leaks(course: Course, out: Path, files: list[str]) -> list[Leak]:
    """Each place of the edition under ``out`` that shows a line of a solution region, once per exercise."""
    lines = solution_lines(course)
    found: dict[tuple[str, str], str] = {}
    for path in files:
        if not (out / path).is_file():
            continue
        for place, text in _code_units(out, path):
            for raw in text.splitlines():
                for exercise in sorted(lines.get(code_line(raw), ())):
                    found.setdefault((exercise, place), f"the line {code_line(raw)!r} of its solution")
    return [Leak(exercise, place, shown) for (exercise, place), shown in found.items()]


#: a self-check of an exercise in a notebook cell: ``check.compare(..., exercise="3.51")``
CHECKED = re.compile(r"""\bexercise\s*=\s*["'](\d+\.\d+)["']""")


def checked_outputs(course: Course, out: Path, files: list[str]) -> list[Leak]:
    """Each cell of an edition notebook that keeps the output of an exercise's self-check: its table's
    computed column is the answer, whatever its numbers look like (a count, a 0 or 1 the scan of
    numbers cannot tell from any other)."""
    ids = {r.id for r in course.regions}
    found = []
    for path in files:
        if not path.endswith(".ipynb") or not (out / path).is_file():
            continue
        for index, cell in enumerate(json.loads((out / path).read_text(encoding="utf-8")).get("cells", [])):
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else source
            if cell.get("cell_type") != "code" or not cell.get("outputs"):
                continue
            for exercise in sorted({e for e in CHECKED.findall(text) if e in ids}):
                found.append(Leak(exercise, f"{path} cell {index} output", "the output of its self-check"))
    return found


def scan(course: Course, out: Path, files: list[str] | None = None) -> list[Leak]:
    """Every leak of an answer in the edition written under ``out``: a hand or prediction answer's
    numbers, and a line of a solution's code."""
    answers = [
        a for cells in course.notebooks.values() for regions in cells.values() for r in regions for a in answers_of(r)
    ]
    leaks = []
    paths = sorted(files if files is not None else course.files)
    for path in paths:
        if not (out / path).is_file():
            continue
        for place, text in _units(out, path):
            hits = worked_entries(text, answers) if place.endswith("(inline code)") else find(text, answers)
            for answer, shown in hits:
                leaks.append(Leak(answer.exercise, place, f"{answer.name} = {list(answer.values)} shown as {shown}"))
    return leaks + code_leaks(course, out, paths) + checked_outputs(course, out, paths)


def refused(leaks: list[Leak]) -> list[Leak]:
    """The leaks that stop ``make student``: all but the known ones."""
    return [leak for leak in leaks if (leak.exercise, leak.place) not in KNOWN]
