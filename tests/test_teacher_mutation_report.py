"""tools/mutation_report.py: docs/mutation.md from mutmut's results, and when `make mutation` fails.

mutmut is not needed: the results are written here as mutmut leaves them (one .meta file per mutated
module) and each survivor's changed line is given by a stand-in for mutmut's diff.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import mutation_report as report  # noqa: E402

CONFIG = '[tool.mutmut]\nonly_mutate = ["pkg/*.py"]\ndo_not_mutate = ["*/__init__.py"]\n'


def project(tmp: Path, exit_codes: dict[str, int | None], explanations: str) -> None:
    (tmp / "pkg").mkdir()
    for name in ("__init__.py", "a.py"):
        (tmp / "pkg" / name).write_text("")
    (tmp / "pyproject.toml").write_text(CONFIG)
    (tmp / "mutants" / "pkg").mkdir(parents=True)
    (tmp / "mutants" / "pkg" / "a.py.meta").write_text(json.dumps({"exit_code_by_key": exit_codes}))
    (tmp / "explanations.toml").write_text(explanations)


def run(tmp: Path, monkeypatch, capsys) -> tuple[int, str, list[str]]:
    monkeypatch.setattr(report, "ROOT", tmp)
    monkeypatch.chdir(tmp)  # main() moves there (mutmut reads mutants/ from the working directory): back after
    monkeypatch.setattr(report, "changed_lines", lambda name, path: (["return a + b"], [f"return a - b  # {name[-1]}"]))
    monkeypatch.setattr(
        sys,
        "argv",
        ["mutation_report", "--output", str(tmp / "out.md"), "--explanations", str(tmp / "explanations.toml")],
    )
    code = report.main()
    return code, (tmp / "out.md").read_text(), capsys.readouterr().out.splitlines()[1:]


def test_a_module_at_95_percent_with_its_survivor_explained_passes(tmp_path, monkeypatch, capsys):
    # 20 mutants: 17 killed by a test, 2 by the time limit, 1 survivor ("0"), explained for its change
    codes: dict[str, int | None] = {f"pkg.a.x_f__mutmut_{i}": 1 for i in range(1, 18)}
    codes |= {"pkg.a.x_f__mutmut_18": 36, "pkg.a.x_f__mutmut_19": -24, "pkg.a.x_f__mutmut_20": 0}
    project(tmp_path, codes, '["pkg.a.x_f__mutmut_20"]\nchange = "return a - b  # 0"\nwhy = "equivalent: b is 0"\n')
    code, text, problems = run(tmp_path, monkeypatch, capsys)
    assert (code, problems) == (0, [])
    assert "| pkg/a.py | 20 | 19 | 2 | 1 | 95.0% |" in text
    assert "| `x_f__mutmut_20` | survived | `return a + b` | `return a - b  # 0` | equivalent: b is 0 |" in text


def test_a_shortfall_an_unexplained_survivor_a_stale_entry_and_unrun_mutants_fail(tmp_path, monkeypatch, capsys):
    codes: dict[str, int | None] = {f"pkg.a.x_f__mutmut_{i}": 1 for i in range(1, 8)}
    # 8 survives unexplained: its entry was written for another change; 9 is killed, yet explained; 10 not run
    codes |= {"pkg.a.x_f__mutmut_8": 0, "pkg.a.x_f__mutmut_9": 1, "pkg.a.x_f__mutmut_10": None}
    entries = (
        '["pkg.a.x_f__mutmut_8"]\nchange = "return b"\nwhy = "equivalent: once"\n'
        '["pkg.a.x_f__mutmut_9"]\nchange = "return a - b  # 9"\nwhy = "left: once"\n'
    )
    project(tmp_path, codes, entries)
    code, text, problems = run(tmp_path, monkeypatch, capsys)
    assert code == 1
    assert "| pkg/a.py | 10 | 8 | 0 | 1 (1 not run) | 80.0% |" in text
    assert "| `x_f__mutmut_8` | survived | `return a + b` | `return a - b  # 8` | **unexplained** |" in text
    assert problems == [
        "pkg/a.py: 1 mutants not run",
        "pkg/a.py: 80.0% killed, under 95%",
        "pkg/a.py: pkg.a.x_f__mutmut_8 survived unexplained: `return a - b  # 8`",
        "pkg.a.x_f__mutmut_8: explained in explanations.toml but no survivor of this run matches it (killed now, "
        "renamed, or its change differs): remove or rewrite its entry",
        "pkg.a.x_f__mutmut_9: explained in explanations.toml but no survivor of this run matches it (killed now, "
        "renamed, or its change differs): remove or rewrite its entry",
    ]
