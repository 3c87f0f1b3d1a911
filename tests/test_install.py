"""The install's own files agree: Python range, declared imports, licence, binder/ and the guard."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(folder: Path, type_checking: bool = False) -> set[str]:
    """The top-level modules that folder's code imports when it runs, or (type_checking) those it
    imports only under ``if TYPE_CHECKING:``, which the type checker reads and Python never runs."""
    found = set()
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        checker_only = {
            node
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for statement in block.body
            for node in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if (node in checker_only) != type_checking:
                continue
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_python_3_10_to_3_13_is_admitted_by_pyproject_the_makefile_and_the_readme():
    assert PROJECT["requires-python"] == ">=3.10,<3.14"
    assert "(3, 10) <= v[:2] <= (3, 13)" in (ROOT / "Makefile").read_text()
    classifiers = {c.rsplit(" ", 1)[-1] for c in PROJECT["classifiers"] if "Python :: 3." in c}
    assert classifiers == {"3.10", "3.11", "3.12", "3.13"}
    assert "3.10 to 3.13" in (ROOT / "README.md").read_text()


def test_every_third_party_import_is_declared():
    """What scratchlib imports is a dependency; what the tools and tests import, or scratchlib for its
    type hints only, one of [dev]."""
    runtime = {_name(r) for r in PROJECT["dependencies"]}
    dev = runtime | {_name(r) for r in PROJECT["optional-dependencies"]["dev"]}
    # tools/mutation_report.py reads mutmut's results: `make mutation` installs [mutation] (the teacher's
    # edition only: the student edition has neither the report nor the extra)
    mutation = dev | {_name(r) for r in PROJECT["optional-dependencies"].get("mutation", [])}
    local = {
        "scratchlib",
        "teacher",
        *(p.stem for p in (ROOT / "tests").rglob("*.py")),
        *(p.stem for p in (ROOT / "tools").glob("*.py")),
    }
    owners = packages_distributions()
    checks = [("scratchlib", runtime), ("tools", mutation), ("tests", dev), ("benchmarks", dev)]
    for folder, declared in checks:
        # what only the type checker imports needs only [dev], where mypy comes from (make lint)
        for imported, needed in ((_imports(ROOT / folder), declared), (_imports(ROOT / folder, True), dev)):
            third_party = imported - set(sys.stdlib_module_names) - local
            for module in sorted(third_party):
                names = {_name(d) for d in owners.get(module, [module])}
                assert names & needed, f"{folder}/ imports {module} (from {names}): declare it in pyproject.toml"


def test_the_code_is_mit_and_the_data_keeps_its_own_licence():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Permission is hereby granted, free of charge" in licence
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", citation, re.M)
    assert re.search(r"^license: MIT$", citation, re.M)
    assert re.search(rf'^version: "{re.escape(PROJECT["version"])}"$', citation, re.M)
    data = (ROOT / "data" / "README.md").read_text()
    assert "CC BY-SA 3.0" in data and "scratchlib/training/datasets/" in data


def test_binder_installs_the_project_with_cpu_torch_and_without_the_dev_extra():
    lines = [
        line.strip()
        for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines == ["--extra-index-url https://download.pytorch.org/whl/cpu", "."]
    python = (ROOT / "binder" / "runtime.txt").read_text().strip()
    minor = int(re.fullmatch(r"python-3\.(\d+)", python).group(1))
    assert 10 <= minor <= 13


def test_the_readme_s_conda_route_tests_with_the_makefile_s_nbval_options():
    nbval = re.search(r"^NBVAL\s*:=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).strip()
    readme = (ROOT / "README.md").read_text()
    assert f"pytest tests notebooks {nbval}" in readme
    assert "--sanitize-with" not in readme.replace("--nbval-sanitize-with", "")
