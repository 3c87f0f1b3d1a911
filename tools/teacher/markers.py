r"""Solution regions: find them, check them, and rewrite the text around them.

A region is written (in a .py source, indented inside a function body, or in a
notebook code cell)::

    ### BEGIN SOLUTION 4.3: Linear.backward: hand dJ/dx, dJ/dW, dJ/db to the inputs
    ...the solution code...
    ### END SOLUTION

The markers are nbgrader's (so nbgrader still recognises the regions); the id
(``<notebook>.<n>``) and the one-line task after it are ours. Every function here
works on text split with ``str.splitlines(keepends=True)``, so whatever lies
outside a region comes back byte for byte.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from teacher import course_runner

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]+(?P<id>\d+\.\d+):[ \t]*(?P<task>\S.*?)[ \t]*$")
END = re.compile(r"^(?P<indent>[ \t]*)### END SOLUTION[ \t]*$")
# anything that looks like a marker (a comment naming BEGIN/END SOLUTION) must be a valid one
MARKER_LIKE = re.compile(r"^[ \t]*#.*\b(BEGIN|END)[ \t]+SOLUTION\b")


class MarkerError(ValueError):
    """A malformed solution region; the message names the file and line."""


@dataclass(frozen=True)
class Region:
    """One solution region: its id, task, where it is, and its lines (markers excluded)."""

    id: str
    task: str
    where: str  # "scratchlib/layers.py" or "notebooks/03_x.ipynb cell 7"
    begin: int  # index of the BEGIN line in the text's lines (0-based)
    end: int  # index of the END line
    indent: str
    body: tuple[str, ...]

    @property
    def line(self) -> int:
        """1-based line number of the BEGIN marker (for messages)."""
        return self.begin + 1

    @property
    def message(self) -> str:
        return f"exercise {self.id}: {self.task}"

    def stub(self, newline: str = "\n") -> str:
        """The line that replaces the region in the student edition.

        In a notebook cell, a region holding only assignments (a prediction or a hand
        value) becomes those names set to ``...``, which check.compare reports as not done:
        ``a, b = ..., ...  # exercise 3.6: task``. Anything else raises the course's own
        exception, naming the exercise: ``raise ExerciseNotDone("exercise 4.3: task")`` (the
        edition imports it once at the top of the file or cell, see ``student``).
        """
        names = assigned_names(self.body) if " cell " in self.where else None
        if names:
            values = ", ".join("..." for _ in names)
            return f"{self.indent}{', '.join(names)} = {values}  # {self.message}{newline}"
        return f"{self.indent}raise {course_runner.STUB_ERROR}({_literal(self.message)}){newline}"

    @property
    def raises(self) -> bool:
        """Whether its stub raises (and so needs the import of the course's exception)."""
        return " cell " not in self.where or assigned_names(self.body) is None


def assigned_names(body: tuple[str, ...]) -> list[str] | None:
    """The names a region's body assigns, when it holds nothing but `name = value` lines whose values
    are written by hand (numbers, lists of numbers, arithmetic on them); else None. A region that
    computes its value (calls, names) stays an exercise in code and raises its stub."""
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent("".join(body)))
    except SyntaxError:
        return None
    names = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            return None
        if any(
            isinstance(part, (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Lambda))
            for part in ast.walk(node.value)
        ):
            return None
        names.append(node.targets[0].id)
    return names or None


def _literal(text: str) -> str:
    """A double-quoted Python string literal for text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _newline(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def find_regions(text: str, where: str) -> list[Region]:
    """The solution regions of one text (a source file or a cell), checked.

    Raises MarkerError for: a BEGIN without its END, an END without a BEGIN, a BEGIN
    inside a region (regions do not nest), a marker without an id and task, an END
    indented differently from its BEGIN, a region with no code, a body line indented
    less than its markers.
    """
    lines = text.splitlines(keepends=True)
    regions, open_ = [], None
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_ is not None:
                raise MarkerError(
                    f"{where}:{i + 1}: BEGIN SOLUTION inside the region opened at line "
                    f"{open_[0] + 1} (regions do not nest; close it with ### END SOLUTION)"
                )
            open_ = (i, begin)
        elif end:
            if open_ is None:
                raise MarkerError(f"{where}:{i + 1}: END SOLUTION without a BEGIN SOLUTION before it")
            start, match = open_
            if end["indent"] != match["indent"]:
                raise MarkerError(
                    f"{where}:{i + 1}: END SOLUTION is indented {len(end['indent'])} "
                    f"columns, its BEGIN at line {start + 1} {len(match['indent'])}"
                )
            body = tuple(lines[start + 1 : i])
            if not any(b.strip() for b in body):
                raise MarkerError(f"{where}:{start + 1}: exercise {match['id']} has no code between its markers")
            for j, b in enumerate(body, start + 2):
                if b.strip() and not b.startswith(match["indent"]):
                    raise MarkerError(
                        f"{where}:{j}: line is indented less than the markers of "
                        f"exercise {match['id']} (line {start + 1})"
                    )
            regions.append(Region(match["id"], match["task"], where, start, i, match["indent"], body))
            open_ = None
        elif MARKER_LIKE.match(line):
            raise MarkerError(
                f"{where}:{i + 1}: malformed marker {line.strip()!r}; write "
                f"'### BEGIN SOLUTION <id>: <task>' (id like 4.3) or '### END SOLUTION'"
            )
    if open_ is not None:
        raise MarkerError(
            f"{where}:{open_[0] + 1}: BEGIN SOLUTION {open_[1]['id']} is never closed (no ### END SOLUTION after it)"
        )
    return regions


def _import_at(lines: list[str]) -> int:
    """The line a text's stub import goes before: after its docstring and leading imports, else first."""
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:  # a notebook cell with IPython syntax (%magic): its top
        return 0
    at = 0
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (docstring or isinstance(node, (ast.Import, ast.ImportFrom))):
            break
        at = node.end_lineno or at
    return at


def student(text: str, regions: list[Region]) -> tuple[str, dict[int, Region]]:
    """The student edition of a text, and the line (0-based) of each region's stub in it.

    Each region becomes its stub line. Where a stub raises, the text gets one more line, after
    its docstring and leading imports: ``from scratchlib.course.runner import ExerciseNotDone``.
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    stubs: dict[int, Region] = {}
    at = 0
    for r in regions:
        out.extend(lines[at : r.begin])
        stubs[len(out)] = r
        out.append(r.stub(_newline(lines[r.begin]) or "\n"))
        at = r.end + 1
        if not _newline(lines[r.end]) and at == len(lines):
            out[-1] = out[-1].rstrip("\r\n")  # the text ended on END SOLUTION without a newline
    out.extend(lines[at:])
    if any(r.raises for r in regions):
        k = _import_at(out)
        out.insert(k, course_runner.STUB_IMPORT + (_newline(lines[0]) or "\n"))
        stubs = {i + (i >= k): r for i, r in stubs.items()}
    return "".join(out), stubs


def rewrite(text: str, regions: list[Region], mode: str) -> str:
    """The text with each region replaced; everything outside the regions is kept as is.

    mode "student": the stub, ``raise ExerciseNotDone("exercise <id>: <task>")`` (see ``student``).
    mode "solved":  the solution code without its markers (what a perfect student hands in).
    mode "probe":   the BEGIN line becomes a call to the grader's probe (records that the
                    region ran; raises the stub's error when the grader asks), the body and
                    the END comment stay, so line numbers do not move.
    """
    if mode == "student":
        return student(text, regions)[0]
    lines = text.splitlines(keepends=True)
    out, at = [], 0
    for r in regions:
        out.extend(lines[at : r.begin])
        newline = _newline(lines[r.begin]) or "\n"
        if mode == "solved":
            out.extend(r.body)
        elif mode == "probe":
            out.append(f"{r.indent}__import__('_teacher_probe').enter({r.id!r}, {r.message!r}){newline}")
            out.extend(r.body)
            out.append(lines[r.end])
        else:
            raise ValueError(f"rewrite: mode must be 'student', 'solved' or 'probe', got {mode!r}")
        at = r.end + 1
        if not _newline(lines[r.end]) and out and at == len(lines):
            out[-1] = out[-1].rstrip("\r\n")  # the text ended on END SOLUTION without a newline
    out.extend(lines[at:])
    return "".join(out)


def check_python_source(text: str, regions: list[Region], where: str) -> None:
    """A .py source with its regions stubbed must still compile, each stub inside a function body."""
    if not regions:
        return
    edition, stubs = student(text, regions)
    try:
        tree = ast.parse(edition, filename=where)
    except SyntaxError as error:
        raise MarkerError(
            f"{where}:{error.lineno}: the student edition does not compile ({error.msg}); "
            f"a region must hold whole statements"
        ) from None
    stub_lines = {i + 1: r for i, r in stubs.items()}  # 1-based, as ast counts
    inside = set()

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Raise) and child.lineno in stub_lines and in_function:
                inside.add(child.lineno)
            visit(
                child,
                isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                or (in_function and not isinstance(child, ast.ClassDef)),
            )

    visit(tree, False)
    for lineno, r in stub_lines.items():
        if lineno not in inside:
            raise MarkerError(
                f"{where}:{r.line}: exercise {r.id} is not inside a function body; "
                f"its stub would raise when the module is imported"
            )
