"""The graded copy: every exercise's region holds the student's code and the course's solution.

Isolation rule: exercise k is graded with the student's code for k and the course's solution
for every other exercise. One graded copy per student serves every exercise: each region
becomes

    if __import__('_teacher_probe').mine(('4.3',)):
        <the student's code for 4.3>
    else:
        <the course's solution for 4.3>

and the exercise under test is chosen per test (the pytest plugin) or per kernel (the
TEACHER_EXERCISE variable), so pytest and torch start once per copy, not once per exercise.

The student's code for a region is found by lining up the student's file with the student
edition: the lines the student left as the edition has them (outside the regions) are anchors,
and what lies between the two anchors around a stub is the student's code for it. Where two
stubs share their anchors (the student also changed the lines between them), both exercises
take the student's code for that stretch. What the student did with each exercise:

    stub      the stub line is still there: not attempted, nothing to run
    solution  the same text as the course's solution (whitespace aside): full marks, nothing to
              run (the exercise map proved that the solution passes its tests)
    own       anything else: its tests run
    broken    the student's code does not compile: 0, the error as the reason, nothing run (in the
              graded copy its branch raises that error; the other exercises run the solution)
"""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import nbformat

from teacher import course_runner
from teacher.edition import PACKAGE, PROBE_MODULE, SKIP_PARTS, Course
from teacher.markers import Region
from teacher.markers import student as student_edition

SWITCH = "__import__('_teacher_probe').mine"


@dataclass
class Attempt:
    """What a student's copy holds for one exercise (see the module docstring)."""

    state: str  # stub, solution, own or broken
    note: str = ""  # for broken: the compile error


def _normal(lines: list[str]) -> list[str]:
    """Lines compared for 'the same as': whitespace runs as one space, blank lines dropped."""
    return [" ".join(line.split()) for line in lines if line.strip()]


def _ensure_newline(line: str) -> str:
    return line if line.endswith("\n") else line + "\n"


def _compiles(lines: list[str], notebook: bool) -> str:
    """'' when the student's code for a region compiles (as a function body, in a loop); else why."""
    code = textwrap.dedent("".join(_ensure_newline(line) for line in lines))
    if notebook:  # a notebook cell may hold IPython syntax (%magic, !shell)
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            code = TransformerManager().transform_cell(code)
        except Exception:  # noqa: BLE001 (IPython missing or unable: compile as plain Python)
            pass
    try:
        compile(
            "def _region():\n    while True:\n" + textwrap.indent(code, "        ") + "        break\n",
            "<your code>",
            "exec",
        )
    except SyntaxError as error:
        return f"{error.msg} (line {max(1, (error.lineno or 3) - 2)} of your code)"
    return ""


def _branch(lines: list[str], indent: str) -> list[str]:
    out = [indent + "    " + _ensure_newline(line)[len(indent) :] if line.strip() else "\n" for line in lines]
    return out if any(line.strip() for line in lines) else out + [indent + "    pass\n"]


def _wrap(exercises: tuple[str, ...], student: list[str], solution: list[str]) -> list[str]:
    """The if/else that runs the student's lines for these exercises and the solution otherwise."""
    indents = [line[: len(line) - len(line.lstrip())] for line in student + solution if line.strip()]
    indent = os.path.commonprefix(indents) if indents else ""
    return (
        [f"{indent}if {SWITCH}({exercises!r}):\n"]
        + _branch(student, indent)
        + [f"{indent}else:\n"]
        + _branch(solution, indent)
    )


def _raise(why: str, indent: str) -> list[str]:
    return [f"{indent}raise SyntaxError({why!r})\n"]


def merge(
    course_text: str, regions: list[Region], student_text: str | None, notebook: bool = False
) -> tuple[str, dict[str, Attempt]]:
    """The graded text of one file or cell, and what the student did with each of its exercises.

    student_text is the student's version of the text (None: missing, taken as the stubs).
    """
    text, stubs = student_edition(course_text, regions)  # line of each stub in the edition -> its region
    edition = text.splitlines(keepends=True)
    mine = edition if student_text is None else student_text.splitlines(keepends=True)
    matcher = SequenceMatcher(
        None, [line.rstrip() for line in edition], [line.rstrip() for line in mine], autojunk=False
    )
    anchor = {}  # edition line -> the student's line left as it is
    for i, j, n in matcher.get_matching_blocks():
        for k in range(n):
            anchor[i + k] = j + k
    # stretches of the student's text, each replacing the edition's lines between two anchors
    stretches: dict[tuple[int, int], list[int]] = {}
    for k in sorted(stubs):
        if k in anchor:  # the stub line, untouched
            stretches[(k - 1, k + 1)] = [k]
            continue
        before = max((i for i in anchor if i < k), default=-1)
        after = min((i for i in anchor if i > k), default=len(edition))
        stretches.setdefault((before, after), []).append(k)
    attempts: dict[str, Attempt] = {}
    replace: list[tuple[int, int, list[str]]] = []  # student's lines [start, stop) -> graded lines
    for (before, after), ks in sorted(stretches.items()):
        start = anchor[before] + 1 if before >= 0 else 0
        stop = anchor[after] if after < len(edition) else len(mine)
        if len(ks) == 1 and ks[0] in anchor:
            start, stop = anchor[ks[0]], anchor[ks[0]] + 1
        student = mine[start:stop]
        solution, stubbed = [], []
        for i in range(before + 1, after):
            if i not in stubs and edition[i].strip() == course_runner.STUB_IMPORT:
                continue  # the stubs' import: the edition's, not the solution's; kept or dropped alike
            solution += list(stubs[i].body) if i in stubs else [edition[i]]
            stubbed.append(edition[i])
        ids = tuple(stubs[k].id for k in ks)
        if _normal(student) == _normal(stubbed):
            attempt = Attempt("stub")
        elif _normal(student) == _normal(solution):
            attempt = Attempt("solution")
        else:
            why = _compiles(student, notebook)
            attempt = Attempt("broken", f"your code does not compile: {why}") if why else Attempt("own")
        lines = student
        if attempt.state == "broken":
            lines = _raise(f"exercise {', '.join(ids)}: {attempt.note}", stubs[ks[0]].indent)
        replace.append((start, stop, _wrap(ids, lines, solution)))
        attempts.update(dict.fromkeys(ids, attempt))
    out, at = [], 0
    for start, stop, lines in sorted(replace):
        out += mine[at:start] + lines
        at = stop
    out += mine[at:]
    return "".join(out), attempts


def _source_text(course: Course, path: str, student: Path) -> str | None:
    target = student / path
    try:
        return target.read_text(encoding="utf-8") if target.is_file() else None
    except UnicodeDecodeError:
        return None


def graded_source(course: Course, path: str, student: Path) -> tuple[str, dict[str, Attempt]]:
    """The graded text of one of the course's .py sources with exercises."""
    regions = course.sources[path]
    course_text = (course.root / path).read_text(encoding="utf-8")
    text, attempts = merge(course_text, regions, _source_text(course, path, student))
    try:
        compile(text, path, "exec")
    except SyntaxError as error:  # the student's file does not hold together: the course's file, with
        why = f"{path} does not compile with your code in it: {error.msg} (line {error.lineno})"
        for exercise, attempt in attempts.items():  # every attempted exercise in it failing, named
            if attempt.state in ("own", "broken"):
                attempts[exercise] = Attempt("broken", why)
        lines = course_text.splitlines(keepends=True)
        out, at = [], 0
        for r in regions:
            state = attempts[r.id].state
            student_lines = (
                [f"{r.indent}{r.stub().strip()}\n"]
                if state == "stub"
                else list(r.body)
                if state == "solution"
                else _raise(f"exercise {r.id}: {why}", r.indent)
            )
            out += lines[at : r.begin] + _wrap((r.id,), student_lines, list(r.body))
            at = r.end + 1
        text = "".join(out + lines[at:])
    return text, attempts


def _student_cell(
    student_nb: nbformat.NotebookNode | None, index: int, cell_id: str | None
) -> nbformat.NotebookNode | None:
    if student_nb is None:
        return None
    for cell in student_nb.cells:
        if cell_id and cell.get("id") == cell_id:
            return cell
    if index < len(student_nb.cells) and student_nb.cells[index].cell_type == "code":
        return student_nb.cells[index]
    return None


def graded_notebook(course: Course, path: str, student: Path) -> tuple[str, dict[str, Attempt]]:
    """The course's notebook (its checking cells as the course wrote them), each exercise cell
    holding the student's code (from the cell with the same id in the student's notebook)."""
    nb = nbformat.read(course.root / path, as_version=nbformat.NO_CONVERT)
    try:
        student_nb = nbformat.read(student / path, as_version=4) if (student / path).is_file() else None
    except Exception:  # noqa: BLE001 (an unreadable notebook counts as missing)
        student_nb = None
    attempts: dict[str, Attempt] = {}
    for index, regions in course.notebooks[path].items():
        cell = nb.cells[index]
        theirs = _student_cell(student_nb, index, cell.get("id"))
        cell.source, found = merge(cell.source, regions, theirs.source if theirs is not None else None, notebook=True)
        cell.outputs, cell.execution_count = [], None
        attempts.update(found)
    return nbformat.writes(nb), attempts


def build(course: Course, student: Path, out: Path) -> dict[str, Attempt]:
    """Write the graded copy of one student's copy under out; return what it holds per exercise.

    out gets the student's package (their helper modules and data too), each source with
    exercises merged with the course's solutions, the notebooks with exercise cells (the
    course's, with the student's code in the exercise cells), and the switch module.
    """
    student, out = Path(student), Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(
        student / PACKAGE,
        out / PACKAGE,
        ignore=lambda folder, names: [n for n in names if n in SKIP_PARTS or n.endswith(".pyc")],
    )
    attempts: dict[str, Attempt] = {}
    jobs = [(path, graded_source) for path in course.sources] + [(path, graded_notebook) for path in course.notebooks]
    for path, graded in jobs:
        text, found = graded(course, path, student)
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        attempts.update(found)
    own = sorted(e for e, attempt in attempts.items() if attempt.state == "own")
    (out / "_teacher_probe.py").write_text(PROBE_MODULE + f"\n\nattempted = set({own!r})\n")
    return attempts
