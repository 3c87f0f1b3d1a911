"""What a student's copy holds for each exercise, and the graded copies made from it.

A graded copy holds no solution. It is the student edition (public: every exercise a stub) with
only some of the student's code spliced in: for library exercise k, the student's code for k and
nothing else of theirs, so k's own tests (those that run k alone) decide k whatever the student
did elsewhere; for a notebook's code exercises, the student's code for every exercise (the
checking cells run the student's notebook on the student's library).

The student's code for an exercise is found by lining the student's file (or notebook cell) up
with the edition's: the lines the student left as handed out are anchors, and what lies between
the two anchors around a stub is the student's code for it (a *stretch*). Where the student also
changed lines between two stubs, both exercises take that stretch. Lines the student added
elsewhere are not used, except top-level imports (kept in every graded copy of that file).

What the student did with each exercise:

    stub      the stub is still there: not attempted, nothing to run
    solution  the same code as the course's solution, compared as syntax trees (ast.dump: layout
              and comments aside, indentation not): full marks, nothing run
    own       anything else: graded by its tests
    broken    the file (or cell) does not compile with the student's code in it: 0, the compile
              error as the reason, nothing run
    missing   the file is not in the copy
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import textwrap
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import nbformat

from teacher import course_runner
from teacher.edition import Course
from teacher.markers import Region
from teacher.markers import student as student_edition


@dataclass
class Attempt:
    """What a student's copy holds for one exercise (see the module docstring)."""

    state: str  # stub, solution, own, broken or missing
    note: str = ""  # for broken: the compile error


@dataclass
class Stretch:
    """Some of the student's lines, in place of the edition's lines [start, stop) of one text."""

    key: tuple[str, int | None]  # (course path, notebook cell index or None for a .py file)
    start: int
    stop: int
    lines: list[str]
    ids: tuple[str, ...] = ()  # the exercises whose stubs lie in it; () for added imports


@dataclass
class Copy:
    """A student's copy, read: each exercise's attempt and stretch, and the texts of the edition."""

    attempts: dict[str, Attempt] = field(default_factory=dict)
    stretches: dict[str, Stretch] = field(default_factory=dict)  # exercise -> its stretch
    imports: dict[tuple[str, int | None], list[Stretch]] = field(default_factory=dict)
    edition: dict[tuple[str, int | None], str] = field(default_factory=dict)  # the edition's texts


def _normal(lines: list[str]) -> list[str]:
    """Lines compared for 'left as handed out': whitespace runs as one space, blank lines dropped."""
    return [" ".join(line.split()) for line in lines if line.strip()]


def _ensure_newline(line: str) -> str:
    return line if line.endswith("\n") else line + "\n"


def python_text(code: str, notebook: bool) -> str:
    """A cell's code as plain Python (IPython's %magic and !shell lines transformed)."""
    if notebook:
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            return TransformerManager().transform_cell(code)
        except Exception:  # noqa: BLE001 (IPython missing or unable: read it as plain Python)
            pass
    return code


def tree(lines: list[str], notebook: bool) -> str | None:
    """The syntax tree of some lines of code (a region's body: any indentation), as ast.dump; None
    where they do not parse on their own."""
    code = textwrap.dedent("".join(_ensure_newline(line) for line in lines))
    code = python_text(code, notebook)
    try:
        return ast.dump(ast.parse("def _region():\n    while True:\n" + textwrap.indent(code, "        ") + "\n"))
    except SyntaxError:
        return None


def _compile_error(text: str, notebook: bool, start: int, stop: int) -> str:
    """'' when text compiles, else the error, its line counted in the student's lines [start, stop)."""
    try:
        compile(python_text(text, notebook), "<your code>", "exec")
    except SyntaxError as error:
        line = error.lineno or 0
        where = f"line {line - start} of your code" if start < line <= stop else f"line {line}"
        return f"{(error.msg or 'invalid syntax')[:120]} ({where})"
    except ValueError as error:  # null bytes
        return str(error)[:120]
    return ""


def _is_imports(lines: list[str]) -> bool:
    """Whether added lines are only top-level imports (kept in the graded copies)."""
    if not lines or any(line[:1].isspace() for line in lines if line.strip()):
        return False
    try:
        body = ast.parse("".join(_ensure_newline(line) for line in lines)).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body)


def read_text(
    key: tuple[str, int | None], course_text: str, regions: list[Region], mine: str | None, copy: Copy
) -> None:
    """Line up the student's version of one text (None: missing) with the edition's; add what the
    student did with each of its exercises to copy."""
    notebook = key[1] is not None
    text, stubs = student_edition(course_text, regions)  # the edition's text; stub line -> its region
    copy.edition[key] = text
    edition = text.splitlines(keepends=True)
    if mine is None:
        for region in regions:
            copy.attempts[region.id] = Attempt("missing")
        return
    theirs = mine.splitlines(keepends=True)
    matcher = SequenceMatcher(
        None, [line.rstrip() for line in edition], [line.rstrip() for line in theirs], autojunk=False
    )
    anchor: dict[int, int] = {}  # edition line -> the student's line left as it is
    for i, j, n in matcher.get_matching_blocks():
        for k in range(n):
            anchor[i + k] = j + k
    spans: dict[tuple[int, int], list[int]] = {}  # (anchor before, anchor after) -> stub lines between
    for k in sorted(stubs):
        if k in anchor:  # the stub line, untouched
            spans[(k - 1, k + 1)] = [k]
            continue
        before = max((i for i in anchor if i < k), default=-1)
        after = min((i for i in anchor if i > k), default=len(edition))
        spans.setdefault((before, after), []).append(k)
    # the student's lines between anchors that hold no stub: added imports are kept
    ordered = sorted(anchor)
    for before, after in zip([-1, *ordered], [*ordered, len(edition)]):
        lo = anchor[before] + 1 if before >= 0 else 0
        hi = anchor[after] if after < len(edition) else len(theirs)
        if hi > lo and not any(before < k < after for k in stubs) and _is_imports(theirs[lo:hi]):
            copy.imports.setdefault(key, []).append(Stretch(key, before + 1, before + 1, theirs[lo:hi]))
    for (before, after), ks in sorted(spans.items()):
        if len(ks) == 1 and ks[0] in anchor:
            start, stop, lines = ks[0], ks[0] + 1, [theirs[anchor[ks[0]]]]
        else:
            lo = anchor[before] + 1 if before >= 0 else 0
            hi = anchor[after] if after < len(edition) else len(theirs)
            start, stop, lines = before + 1, after, theirs[lo:hi]
        solution, stubbed = [], []
        for i in range(start, stop):
            if i not in stubs and edition[i].strip() == course_runner.STUB_IMPORT:
                continue  # the stubs' import: the edition's, not the solution's; kept or dropped alike
            solution += list(stubs[i].body) if i in stubs else [edition[i]]
            stubbed.append(edition[i])
        ids = tuple(stubs[k].id for k in ks)
        stretch = Stretch(key, start, stop, lines, ids)
        if _normal(lines) == _normal(stubbed):
            attempt = Attempt("stub")
        elif (mine_tree := tree(lines, notebook)) is not None and mine_tree == tree(solution, notebook):
            attempt = Attempt("solution")
        else:
            graded = splice(text, [stretch, *copy.imports.get(key, [])])
            shift = sum(len(s.lines) - (s.stop - s.start) for s in copy.imports.get(key, []) if s.start <= start)
            why = _compile_error(graded, notebook, start + shift, start + shift + len(lines))
            attempt = Attempt("broken", f"your code does not compile: {why}") if why else Attempt("own")
        for exercise in ids:
            copy.attempts[exercise] = attempt
            copy.stretches[exercise] = stretch


def splice(text: str, stretches: list[Stretch]) -> str:
    """The edition's text with these stretches of the student's lines in place of its own."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    for s in sorted(stretches, key=lambda s: (s.start, s.stop)):
        if s.start < at:  # overlapping (cannot happen for stretches of one reading); keep the first
            continue
        out += lines[at : s.start] + [_ensure_newline(line) for line in s.lines]
        at = s.stop
    return "".join(out + lines[at:])


def _read(path: Path) -> str | None:
    try:
        # not a plain file (a folder, a named pipe a reader would wait on forever): not the student's file
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (UnicodeDecodeError, OSError):
        return None


def _student_cell(student_nb: Any, index: int, cell_id: str | None) -> Any:
    if student_nb is None:
        return None
    for cell in student_nb.cells:
        if cell_id and cell.get("id") == cell_id:
            return cell
    if index < len(student_nb.cells) and student_nb.cells[index].cell_type == "code":
        return student_nb.cells[index]
    return None


def read(course: Course, student: Path) -> Copy:
    """What the student's copy holds for every library and notebook exercise (derivations aside)."""
    copy = Copy()
    for path, regions in course.sources.items():
        course_text = (course.root / path).read_text(encoding="utf-8")
        read_text((path, None), course_text, regions, _read(student / path), copy)
    for path, cells in course.notebooks.items():
        nb = nbformat.read(course.root / path, as_version=nbformat.NO_CONVERT)
        try:
            theirs = nbformat.read(student / path, as_version=4) if (student / path).is_file() else None
        except Exception:  # noqa: BLE001 (a missing or unreadable notebook counts as missing)
            theirs = None
        for index, regions in cells.items():
            cell = _student_cell(theirs, index, nb.cells[index].get("id"))
            read_text((path, index), nb.cells[index].source, regions, None if cell is None else cell.source, copy)
    return copy


def derivation_text(course: Course, student: Path, exercise: str) -> str:
    """The student's markdown cell that holds a derivation (found by its cell id), or ""."""
    for path, cells in course.derivations.items():
        for index, regions in cells.items():
            if any(r.id == exercise for r in regions):
                try:
                    theirs = nbformat.read(student / path, as_version=4)
                    nb = nbformat.read(course.root / path, as_version=4)
                except Exception:  # noqa: BLE001
                    return ""
                cell = next((c for c in theirs.cells if c.get("id") == nb.cells[index].get("id")), None)
                return "" if cell is None else str(cell.source)
    return ""


# ---------------------------------------------------------------- graded copies


def _link_tree(edition: Path, out: Path, real: set[str]) -> None:
    """out mirrors edition with symbolic links, except the folders on the way to the paths in real,
    which are made (the files themselves are written by the caller)."""
    needed = {out}
    for path in real:
        for parent in Path(path).parents:
            needed.add(out / parent)
    for folder in sorted(needed):  # a folder sorts before the folders in it
        folder.mkdir(parents=True, exist_ok=True)
        source = edition / folder.relative_to(out)
        for entry in sorted(os.listdir(source)):
            target = folder / entry
            if target in needed or (folder / entry).relative_to(out).as_posix() in real:
                continue
            os.symlink(source / entry, target)


def write_graded(copy: Copy, edition: Path, out: Path, exercises: set[str], notebooks: bool = False) -> list[str]:
    """Write the graded copy holding the student's code for these exercises only (and their added
    imports): the edition, linked, with the files that change written. With notebooks, the
    notebooks' code exercises among them too (their hand values stay stubs: a prediction is graded
    from the answer as written). Returns the paths written."""
    chosen = [copy.stretches[e] for e in sorted(exercises) if e in copy.stretches]
    by_key: dict[tuple[str, int | None], list[Stretch]] = {}
    for stretch in chosen:
        if stretch not in by_key.setdefault(stretch.key, []):
            by_key[stretch.key].append(stretch)
    paths = sorted({key[0] for key in by_key if key[1] is None or notebooks})
    if out.exists():
        shutil.rmtree(out)
    _link_tree(edition, out, set(paths))
    for path in paths:
        if path.endswith(".ipynb"):
            nb = json.loads((edition / path).read_text(encoding="utf-8"))
            for (p, index), stretches in by_key.items():
                if p == path and index is not None:
                    text = splice(copy.edition[(p, index)], stretches + copy.imports.get((p, index), []))
                    nb["cells"][index]["source"] = text
            (out / path).write_text(json.dumps(nb), encoding="utf-8")
        else:
            key = (path, None)
            (out / path).write_text(splice(copy.edition[key], by_key[key] + copy.imports.get(key, [])), "utf-8")
    return paths


def write_variant(
    course: Course, copy: Copy, edition: Path, out: Path, test: str, code: dict[str, list[str]]
) -> list[str]:
    """Write the copy that runs a student's own test (exercise ``test``, kind "test") against one version
    of the layer it tests: the edition, linked, with the student's code for ``test`` (and their added
    imports in its file) and, in the region of each exercise in ``code``, those lines (indented as
    the region). Returns the paths written."""
    stretches: dict[tuple[str, int | None], list[Stretch]] = {}
    if test in copy.stretches:
        mine = copy.stretches[test]
        stretches[mine.key] = [mine, *copy.imports.get(mine.key, [])]
    for path, regions in course.sources.items():
        chosen = {r.id for r in regions} & set(code)
        if not chosen:
            continue
        _, stubs = student_edition((course.root / path).read_text(encoding="utf-8"), regions)
        for line, region in stubs.items():
            if region.id in chosen:
                lines = [region.indent + x if x.strip() else x for x in code[region.id]]
                stretches.setdefault((path, None), []).append(Stretch((path, None), line, line + 1, lines))
    paths = sorted(key[0] for key in stretches)
    if out.exists():
        shutil.rmtree(out)
    _link_tree(edition, out, set(paths))
    for path in paths:
        key = (path, None)
        text = copy.edition.get(key)
        if text is None:
            text = student_edition((course.root / path).read_text(encoding="utf-8"), course.sources[path])[0]
        (out / path).write_text(splice(text, stretches[key]), "utf-8")
    return paths
