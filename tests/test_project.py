"""The project's own files agree with each other: one list of dependencies, all notebooks tested."""

import json
import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_environment_yml_installs_the_project_with_the_python_pyproject_allows():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = (ROOT / "environment.yml").read_text()
    python = re.search(r"^\s*- python=(\d+)\.(\d+)\s*$", env, re.M)
    assert python, "environment.yml must pin the Python minor version"
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", project["requires-python"]).groups()
    assert int(low) <= int(python.group(2)) < int(high)
    # pyproject.toml is the one list: environment.yml installs it and names nothing else
    pip_lines = re.findall(r"^\s+- (.+)$", env.split("- pip:", 1)[1], re.M)
    assert pip_lines == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-e .[dev]"]
    assert "dev" in project["optional-dependencies"]


def test_torch_is_pinned_exactly():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps


def test_every_notebook_is_committed_with_outputs():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
        unrun = [i for i, c in enumerate(code) if c.get("execution_count") is None]
        assert not unrun, f"{path.name}: code cells {unrun} were never run; run `make notebooks`"
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name


def test_nbval_collects_every_notebook():
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval", "--nbval-current-env", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}::Cell 0" in out.stdout, f"nbval did not collect {path.name}"


def test_no_committed_notebook_carries_execution_timestamps():
    # `make notebooks` strips them (tools/strip_notebooks.py): they differ on every run
    # and would make each commit of a notebook a diff of dates.
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        stamped = [i for i, c in enumerate(nb["cells"]) if "execution" in c.get("metadata", {})]
        assert not stamped, f"{path.name}: cells {stamped} carry metadata.execution; run `make notebooks`"


def test_the_timestamp_stripper_removes_them_and_nothing_else(tmp_path):
    import nbformat

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from strip_notebooks import strip
    finally:
        sys.path.pop(0)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "1 + 1", metadata={"tags": ["keep"], "execution": {"iopub.execute_input": "2026-11-01T10:00:00Z"}}
        )
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert strip(str(path)) is True
    assert nbformat.read(path, 4).cells[0].metadata == {"tags": ["keep"]}
    assert strip(str(path)) is False


def test_the_readme_package_table_has_a_row_for_every_module():
    """A newcomer finds each module in the README's package table, and every row names a real module."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The package", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(scratchlib/[\w/]+\.py)` \|", section, re.M))
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "scratchlib").rglob("*.py")}
    assert sorted(modules - rows) == [], "modules without a row in the README's package table"
    assert sorted(rows - modules) == [], "rows of the README's package table naming no module"
