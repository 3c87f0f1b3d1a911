"""Teacher tools: the student edition and the grader, made from the one course source.

Not part of the student edition. Run from the course root as ``make student`` and
``make grade DIR=...`` (or ``PYTHONPATH=tools python -m teacher --help``).

They build on the course's runner, scratchlib/course/runner.py (the student edition ships it
for ``make check``), loaded from this course by its path as ``teacher.course_runner``: the
pytest and kernels that grade import ``scratchlib`` from the copy they grade (a student's copy,
which may not import, or another course given with --root), and the runner must not come from
there. The course's reading of answers, scratchlib/course/answers.py (a hand value is numbers the
student wrote), is loaded the same way as ``teacher.course_answers``.

In mutmut's copy under mutants/ (``make mutation``), ``teacher`` is made the package imported as
``tools.teacher``, the name mutmut gives its mutants: see mutation_alias.py.
"""

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import mutation_alias

RUNNER = Path(__file__).resolve().parents[2] / "scratchlib" / "course" / "runner.py"

ANSWERS = RUNNER.with_name("answers.py")

if TYPE_CHECKING:  # the same files, as the type checker finds them
    from scratchlib.course import answers as course_answers
    from scratchlib.course import runner as course_runner
elif mutation_alias.wanted(__name__, __file__):
    mutation_alias.install(__file__)  # the runner and answers are loaded by tools.teacher
else:

    def _load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"teacher: cannot load {name} from {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    course_runner = _load("teacher.course_runner", RUNNER)
    course_answers = _load("teacher.course_answers", ANSWERS)
