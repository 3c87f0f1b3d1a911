"""The course as files: find every solution region, and write an edition of the course.

Editions (all from the one course source):
    student  each region replaced by its stub, exercise cells' outputs cleared (and those
             of cells that displayed solution source or are tagged ``student-clear-output``:
             they show an exercise's answer), teacher-only files and blocks left out
    solved   each region replaced by its code without markers (a perfect submission)
    probe    for the grader only: every region announces itself when it runs, and raises
             its stub when the grader asks
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from teacher.markers import MarkerError, Region, check_python_source, find_regions, rewrite

PACKAGE = "scratchlib"
# the exercise map ships with both editions: scratchlib.course.exercises.check reads it; `make student`
# rebuilds it only when its fingerprint says the course changed. Bump MAP_VERSION when the
# way the map is made changes.
EXERCISE_MAP = "tests/exercises.json"
RUNNER = f"{PACKAGE}/course/runner.py"  # the self-check's runner; every stub raises its ExerciseNotDone
MAP_VERSION = 4  # 4: the map also says which exercises each test reaches ("reaches")
# a derivation exercise: a region inside a markdown cell, graded by hand
DERIVATION = re.compile(
    r"<!--\s*BEGIN SOLUTION\s+(?P<id>\d+\.\d+):\s*(?P<task>.*?)\s*-->(?P<body>.*?)"
    r"<!--\s*END SOLUTION\s*-->",
    re.S,
)
# the student's own tests (MSOE lab 7): test files whose solution regions are tests the student writes.
# Such an exercise (kind "test") is graded by the wrong layers it catches (teacher.wrong), not by a test.
STUDENT_TESTS = ("tests/test_my_layers.py",)
# never part of an edition: the teacher's tools, their tests, generated files, and the mutation
# report (its survivors quote lines of the solutions)
TEACHER_ONLY = (
    "tools/teacher/",
    "tests/test_teacher",
    "tests/test_handout_tasks.py",
    "tests/teacher_fixture/",
    "build/",
    "tools/mutation_report.py",
    "docs/mutation",
    "benchmarks/grade_copy.py",
)
SKIP_PARTS = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints", "build"}
# lines from one naming BEGIN TEACHER ONLY to one naming END TEACHER ONLY are left out of the
# student and solved editions: Makefile targets and README sections only teachers need, lines of a
# .py source (a docstring's backward formula, which a derivation exercise asks for) and lines of a
# notebook's markdown cell (``<!-- BEGIN TEACHER ONLY -->`` ... ``<!-- END TEACHER ONLY -->``)
TEACHER_BLOCK = ("BEGIN TEACHER ONLY", "END TEACHER ONLY")

PROBE_MODULE = '''"""Written by the grader into its probe edition and its graded copies: the switch between a
student's code and the course's solution, and the record of which exercises a test or cell reaches."""
import os

hits = set()
# the exercise under test: pytest sets it per test (teacher.pytest_plugin), a kernel reads it from
# the environment. The probe edition raises its stub; a graded copy runs the student's code for it
# and the course's solution for every other exercise.
current = os.environ.get("TEACHER_EXERCISE", "")
# more exercises whose stub the probe raises (a notebook run with several stubbed)
stubs = set(filter(None, os.environ.get("TEACHER_STUB", "").split(",")))
_log = open(os.environ["TEACHER_PROBE_LOG"], "a", buffering=1) if os.environ.get("TEACHER_PROBE_LOG") else None
_last = None


def enter(exercise, message):
    global _last
    hits.add(exercise)
    if _log is not None and exercise != _last:
        _log.write(exercise + "\\n")
        _last = exercise
    # "!4.4" under test: 4.4 alone runs its solution, every other region its stub (a student who has
    # done only 4.4); else the exercise under test, and those in stubs, raise their stubs
    alone = current[1:] if current.startswith("!") else None
    if (exercise != alone if alone is not None else exercise == current or exercise in stubs):
        from scratchlib.course.runner import ExerciseNotDone  # the course's own, as its stubs raise

        raise ExerciseNotDone(message)


# a graded copy lists the exercises it holds the student's own code for: with "*" under test, all
# of them run the student's code at once (the grader's first, combined run)
attempted = set()


def mine(exercises):
    """True where the region of these exercises runs the student's code: one of them is under test."""
    if current == "*":
        return any(exercise in attempted for exercise in exercises)
    return current in exercises
'''


@dataclass
class Course:
    """A course folder, its files, and its solution regions (checked)."""

    root: Path
    files: list[str]
    regions: list[Region] = field(default_factory=list)
    sources: dict[str, list[Region]] = field(default_factory=dict)  # .py path -> regions
    notebooks: dict[str, dict[int, list[Region]]] = field(default_factory=dict)  # path -> cell -> regions
    derivations: dict[str, dict[int, list[Region]]] = field(default_factory=dict)  # markdown regions, by hand

    @property
    def ids(self) -> list[str]:
        return sorted((r.id for r in self.regions), key=exercise_key)

    def region(self, exercise: str) -> Region:
        return next(r for r in self.regions if r.id == exercise)

    def kind(self, exercise: str) -> str:
        """library (a .py source), notebook (a code cell), derivation (markdown, graded by hand) or test (a
        test the student writes, in one of STUDENT_TESTS)."""
        region = self.region(exercise)
        if region.where in STUDENT_TESTS:
            return "test"
        if any(region in regions for cells in self.derivations.values() for regions in cells.values()):
            return "derivation"
        return "notebook" if " cell " in region.where else "library"

    def fingerprint(self) -> str:
        """A hash of everything that decides which test checks which exercise (the map itself aside)."""
        digest = hashlib.sha256(f"map version {MAP_VERSION}".encode())
        for path in self.files:
            if path == EXERCISE_MAP:
                continue
            if path.startswith((f"{PACKAGE}/", "tests/", "notebooks/")) or path == "pyproject.toml":
                digest.update(path.encode() + b"\0" + (self.root / path).read_bytes() + b"\0")
        return digest.hexdigest()


def exercise_key(exercise: str) -> tuple[int, int]:
    major, minor = exercise.split(".")
    return int(major), int(minor)


def list_files(root: Path) -> list[str]:
    """The course's files, as git sees them (tracked, and untracked but not ignored)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        files = {f for f in out.decode().split("\0") if f and (root / f).is_file()}
    except (OSError, subprocess.CalledProcessError):
        files = set()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_PARTS and not d.startswith(".")]
            for name in filenames:
                files.add((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(f for f in files if not f.startswith(TEACHER_ONLY) and not SKIP_PARTS & set(f.split("/")))


def scan(root: Path) -> Course:
    """Find and check every solution region of the course under root.

    Raises MarkerError naming the file and line of the first problem, and for an id used
    twice anywhere in the course, both places.
    """
    root = Path(root).resolve()
    course = Course(root, list_files(root))
    seen: dict[str, Region] = {}
    for path in course.files:
        found = []
        if (path.startswith(f"{PACKAGE}/") and path.endswith(".py")) or path in STUDENT_TESTS:
            text = (root / path).read_bytes().decode("utf-8")
            found = find_regions(text, path)
            check_python_source(text, found, path)
            if TEACHER_BLOCK[0] in text or TEACHER_BLOCK[1] in text:
                _check_teacher_blocks_in_source(text, found, path)
            if found:
                course.sources[path] = found
        elif path.startswith("notebooks/") and path.endswith(".ipynb"):
            nb = nbformat.read(root / path, as_version=nbformat.NO_CONVERT)
            for index, cell in enumerate(nb.cells):
                if "TEACHER ONLY" in cell.source:
                    _check_teacher_cell(cell, f"{path} cell {index}")
                if cell.cell_type == "code":
                    cell_regions = find_regions(cell.source, f"{path} cell {index}")
                    if cell_regions:
                        course.notebooks.setdefault(path, {})[index] = cell_regions
                        found += cell_regions
                elif cell.cell_type == "markdown" and "BEGIN SOLUTION" in cell.source:
                    cell_regions = _derivations(cell.source, f"{path} cell {index}")
                    course.derivations.setdefault(path, {})[index] = cell_regions
                    found += cell_regions
        for r in found:
            if r.id in seen:
                raise MarkerError(
                    f"{r.where}:{r.line}: exercise id {r.id} is used twice "
                    f"(also at {seen[r.id].where}:{seen[r.id].line})"
                )
            seen[r.id] = r
        course.regions += found
    return course


def _derivations(text: str, where: str) -> list[Region]:
    regions = []
    for match in DERIVATION.finditer(text):
        line = text.count("\n", 0, match.start())
        regions.append(
            Region(match["id"], match["task"], where, line, text.count("\n", 0, match.end()), "", (match["body"],))
        )
    if text.count("BEGIN SOLUTION") != len(regions) or text.count("END SOLUTION") != len(regions):
        raise MarkerError(
            f"{where}: a markdown solution region must read "
            f"'<!-- BEGIN SOLUTION k.m: task -->' ... '<!-- END SOLUTION -->'"
        )
    return regions


#: the cell tag of a code cell whose output shows an exercise's answer: cleared in the student edition
CLEAR_TAG = "student-clear-output"


def derivation_prompt(match: re.Match[str]) -> str:
    """What the student edition shows in place of a worked derivation: the task and room to write."""
    return f"**Exercise {match['id']}** (your derivation): {match['task']}\n\n*Write your derivation here.*\n\n&nbsp;\n"


def teacher_blocks(text: str, path: str, regions: bool = True) -> list[tuple[int, int]]:
    """The teacher-only blocks of a text, as (first, last) line indices of their markers (0-based).

    Raises MarkerError, naming the place and line, for a block opened inside another, an END
    without a BEGIN and a block never closed; with ``regions`` (a course source or notebook cell,
    where solution markers are regions, not prose) also for a block that holds a solution marker or
    lies inside a solution region: the edition would drop a region's stub, or a region hide a block.
    """
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    region: int | None = None
    for i, line in enumerate(text.splitlines(keepends=True)):
        if regions and ("BEGIN SOLUTION" in line or "END SOLUTION" in line):
            if start is not None:
                raise MarkerError(
                    f"{path}:{i + 1}: a solution marker inside the teacher-only block of line {start + 1} "
                    f"(the student edition would lose the exercise's stub): close the block before it"
                )
            region = i if "BEGIN SOLUTION" in line and "END SOLUTION" not in line else None
        if TEACHER_BLOCK[0] in line:
            if region is not None:
                raise MarkerError(f"{path}:{i + 1}: {TEACHER_BLOCK[0]} inside the solution region of line {region + 1}")
            if start is not None:
                raise MarkerError(f"{path}:{i + 1}: {TEACHER_BLOCK[0]} inside another (line {start + 1})")
            start = i
        elif TEACHER_BLOCK[1] in line:
            if start is None:
                raise MarkerError(f"{path}:{i + 1}: {TEACHER_BLOCK[1]} without a {TEACHER_BLOCK[0]}")
            blocks.append((start, i))
            start = None
    if start is not None:
        raise MarkerError(f"{path}:{start + 1}: {TEACHER_BLOCK[0]} is never closed")
    return blocks


def _drop_teacher_blocks(text: str, path: str, regions: bool = True) -> str:
    """The text without its teacher-only blocks (their marker lines included)."""
    dropped = {i for first, last in teacher_blocks(text, path, regions) for i in range(first, last + 1)}
    return "".join(line for i, line in enumerate(text.splitlines(keepends=True)) if i not in dropped)


def _check_teacher_blocks_in_source(text: str, regions: list[Region], path: str) -> None:
    """A .py source's teacher-only blocks are well formed, and its student edition still compiles
    with them left out (a block must hold whole lines of a docstring, comments or statements)."""
    teacher_blocks(text, path)
    edition = rewrite(text, regions, "student") if regions else text
    try:
        ast.parse(_drop_teacher_blocks(edition, path), filename=path)
    except SyntaxError as error:
        raise MarkerError(
            f"{path}: its student edition, without the teacher-only blocks, does not compile "
            f"({error.msg}, line {error.lineno} of the edition)"
        ) from None


def _check_teacher_cell(cell: nbformat.NotebookNode, where: str) -> None:
    """Teacher-only blocks live in markdown cells; a code cell runs the same for teacher and student."""
    if cell.cell_type != "markdown":
        raise MarkerError(
            f"{where}: a teacher-only block in a {cell.cell_type} cell; the student edition drops them from "
            f"markdown cells only (a code cell must run the same in both editions)"
        )
    teacher_blocks(cell.source, where)


def edition_file(course: Course, path: str, mode: str) -> bytes:
    """The bytes of one course file in the given edition."""
    raw = (course.root / path).read_bytes()
    if path in course.sources:
        text = rewrite(raw.decode("utf-8"), course.sources[path], mode)
        if mode != "probe" and "TEACHER ONLY" in text:
            text = _drop_teacher_blocks(text, path)
        return text.encode("utf-8")
    if path.endswith(".ipynb") and (path in course.notebooks or b"BEGIN SOLUTION" in raw or b"TEACHER ONLY" in raw):
        nb = nbformat.read(course.root / path, as_version=nbformat.NO_CONVERT)
        if mode != "probe":
            for index, cell in enumerate(nb.cells):
                if "TEACHER ONLY" in cell.source:
                    _check_teacher_cell(cell, f"{path} cell {index}")
                    cell.source = _drop_teacher_blocks(cell.source, f"{path} cell {index}")
        for index, regions in course.notebooks.get(path, {}).items():
            cell = nb.cells[index]
            cell.source = rewrite(cell.source, regions, mode)
            cell.outputs, cell.execution_count = [], None
        for index in course.derivations.get(path, {}):
            if mode == "student":
                nb.cells[index].source = DERIVATION.sub(derivation_prompt, nb.cells[index].source)
        for cell in nb.cells:
            # an output that shows library source (show_source) shows the solutions: clear it;
            # the student's own run of the cell shows the student's code. A cell after an exercise
            # that computes its answer (to check something else) carries the tag CLEAR_TAG.
            solutions = cell.cell_type == "code" and "BEGIN SOLUTION" in json.dumps(cell.outputs)
            tagged = mode == "student" and CLEAR_TAG in cell.get("metadata", {}).get("tags", [])
            if cell.cell_type == "code" and (solutions or tagged):
                cell.outputs, cell.execution_count = [], None
        text = nbformat.writes(nb)
        return (text if text.endswith("\n") else text + "\n").encode("utf-8")
    if mode != "probe" and not path.endswith(".ipynb") and b"TEACHER ONLY" in raw:
        # a README's teacher section may show a solution region as an example: prose, not a region
        return _drop_teacher_blocks(raw.decode("utf-8"), path, regions=False).encode("utf-8")
    return raw


def write_edition(course: Course, out: Path, mode: str = "student") -> list[str]:
    """Write the edition under out (emptied first); returns the files written, sorted.

    The same course gives the same bytes on every run: files are read in sorted order and
    nothing (time, paths, random ids) from the run enters them.
    """
    out = Path(out)
    raising = [r for regions in course.sources.values() for r in regions if r.raises]
    raising += [r for cells in course.notebooks.values() for regions in cells.values() for r in regions if r.raises]
    if mode != "solved" and raising and RUNNER not in course.files:
        raise MarkerError(
            f"{raising[0].where}:{raising[0].line}: the stub of exercise {raising[0].id} raises the course's "
            f"ExerciseNotDone, from {RUNNER}, which this course does not have"
        )
    if out.exists():
        shutil.rmtree(out)
    files = course.files
    for path in files:
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(edition_file(course, path, mode))
        shutil.copymode(course.root / path, target)
    if mode == "probe":
        (out / "_teacher_probe.py").write_text(PROBE_MODULE)
    return files
