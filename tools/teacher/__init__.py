"""Teacher tools: the student edition and the grader, made from the one course source.

Not part of the student edition. Run from the course root as ``make student`` and
``make grade DIR=...`` (or ``PYTHONPATH=tools python -m teacher --help``).

They build on the course's runner, scratchlib/course/runner.py (the student edition ships it
for ``make check``), loaded from this course by its path as ``teacher.course_runner``: the
pytest and kernels that grade import ``scratchlib`` from the copy they grade (a student's copy,
which may not import, or another course given with --root), and the runner must not come from
there.
"""

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

RUNNER = Path(__file__).resolve().parents[2] / "scratchlib" / "course" / "runner.py"

if TYPE_CHECKING:  # the same file, as the type checker finds it
    from scratchlib.course import runner as course_runner
else:
    _spec = importlib.util.spec_from_file_location("teacher.course_runner", RUNNER)
    if _spec is None or _spec.loader is None:
        raise ImportError(f"teacher: cannot load the course runner from {RUNNER}")
    course_runner = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = course_runner
    _spec.loader.exec_module(course_runner)
