"""During `make mutation` only: the name `teacher` stands for the mutated copy's `tools.teacher`.

mutmut copies the teacher tools to mutants/tools/teacher/ and names each mutant by the file's
path (``tools.teacher.grade.x_grade__mutmut_3``). Its trampoline switches a mutant on, and
records which tests reach a function, by comparing that name with the function's runtime
``__module__``. The tests (and ``python -m teacher``, which they start in subprocesses with
mutants/tools/ on PYTHONPATH) import the package as ``teacher``, which would give
``__module__ == "teacher.grade"``: no test would be seen to reach a mutant, none switched on.

So when the mutated copy's ``teacher/__init__.py`` is imported as ``teacher`` with mutmut's
MUTANT_UNDER_TEST in the environment (the subprocesses inherit it), ``install`` imports the
package once more as ``tools.teacher`` and makes ``teacher`` and every ``teacher.X`` that same
module object. No run without mutmut does this.

mutmut learns which tests reach a function from a run of the tests with MUTANT_UNDER_TEST=stats,
in which each function called records its name in that process's memory. What the grader does
in a subprocess would be lost, and a mutant reached only there would count as reached by no
test. So in that run each teacher process a test starts appends the names it records to the
file named by TEACHER_MUTMUT_HITS (in mutants/), and tests/conftest.py adds them to the test's own.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from types import CodeType, ModuleType

PREFIX = "tools."
HITS = "TEACHER_MUTMUT_HITS"


def wanted(name: str, init_file: str) -> bool:
    """Whether the package imported as ``name`` from ``init_file`` is a copy mutmut is testing:
    MUTANT_UNDER_TEST is only ever set by mutmut, and it copies the package to tools/teacher/
    (under mutants/; the autograder a test builds from it copies it on to its own tools/)."""
    return (
        name == "teacher" and "MUTANT_UNDER_TEST" in os.environ and Path(init_file).resolve().parents[1].name == "tools"
    )


class Alias(importlib.abc.MetaPathFinder, importlib.abc.InspectLoader):
    """Finds ``teacher.X`` as the module ``tools.teacher.X`` (imported once, under that name)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] != "teacher":
            return None
        real = importlib.util.find_spec(PREFIX + fullname)
        if real is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, self, origin=real.origin, is_package=real.submodule_search_locations is not None
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # module_from_spec keeps the __name__ an existing module has: tools.teacher.X
        return importlib.import_module(PREFIX + spec.name)

    def exec_module(self, module: ModuleType) -> None:
        pass  # executed already, as tools.teacher.X

    def get_code(self, fullname: str) -> CodeType | None:
        # `python -m teacher` runs teacher.__main__ from its code, as __main__
        real = importlib.util.find_spec(PREFIX + fullname)
        assert real is not None and isinstance(real.loader, importlib.abc.InspectLoader)
        return real.loader.get_code(PREFIX + fullname)

    def get_source(self, fullname: str) -> str | None:
        real = importlib.util.find_spec(PREFIX + fullname)
        assert real is not None and isinstance(real.loader, importlib.abc.InspectLoader)
        return real.loader.get_source(PREFIX + fullname)


def install(init_file: str) -> None:
    """Import mutants/tools/teacher as ``tools.teacher`` and make ``teacher`` that package."""
    tools = Path(init_file).resolve().parents[1]
    if "tools" not in sys.modules:  # the subprocesses have mutants/tools/ on the path, not mutants/
        package = types.ModuleType("tools")
        package.__path__ = [str(tools)]
        sys.modules["tools"] = package
    real = importlib.import_module("tools.teacher")
    sys.meta_path.insert(0, Alias())
    sys.modules["teacher"] = real  # the import of `teacher` under way returns this module
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        _share_hits(Path(init_file).resolve().parents[2])


def _share_hits(mutants: Path) -> None:
    """mutmut's stats run: hand the names a test's subprocess records back to the test's process."""
    if HITS not in os.environ:  # the process that runs the tests, which imports mutants/tools/teacher
        hits = mutants / "teacher-subprocess-hits.txt"
        hits.touch()
        hits.chmod(0o666)  # the grader runs some processes as another user
        os.environ[HITS] = str(hits)
        return
    import mutmut.mutation.trampoline as trampoline  # type: ignore[import-not-found, unused-ignore]  # the [mutation] extra only
    from mutmut.configuration import config  # type: ignore[import-not-found, unused-ignore]  # the [mutation] extra only
    from mutmut.utils.file_utils import change_cwd  # type: ignore[import-not-found, unused-ignore]  # the [mutation] extra only

    path = os.environ[HITS]
    with change_cwd(Path(path).parent):
        config()  # mutmut's settings, from mutants/pyproject.toml whatever this process's folder
    record, seen = trampoline.record_trampoline_hit, set()

    def record_and_share(name: str, caller: str | None = None) -> None:
        record(name, caller=caller)
        if name not in seen:  # written at once: a grader process may end by a signal
            seen.add(name)
            try:
                with open(path, "a", encoding="utf-8") as file:
                    file.write(name + "\n")
            except OSError:  # out of this user's reach: only this process's names are lost
                pass

    trampoline.record_trampoline_hit = record_and_share


def merge_hits() -> None:
    """Add the names the subprocesses recorded since the last call to the names this process
    recorded for the test now ending (tests/conftest.py; mutmut's stats run only)."""
    path = os.environ.get(HITS)
    if os.environ.get("MUTANT_UNDER_TEST") != "stats" or not path or not os.path.exists(path):
        return
    from mutmut.state import state  # type: ignore[import-not-found, unused-ignore]  # the [mutation] extra only

    with open(path, "r+", encoding="utf-8") as file:
        state()._stats.update(file.read().split())
        file.truncate(0)
