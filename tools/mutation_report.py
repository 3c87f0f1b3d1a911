"""Write docs/mutation.md from mutmut's results (`make mutation`), and fail where a module falls short.

mutmut 3 leaves one ``mutants/<module>.py.meta`` file per mutated module, mapping each mutant's
name to the exit code of the tests run against it. This script counts, per module of
``[tool.mutmut] only_mutate`` in pyproject.toml, the mutants and those killed (a failing test, or
tests that ran past their time: a mutant that hangs the code is caught too), and lists every
survivor with its changed line and the reason it may stay, read from
docs/mutation_explanations.toml:

    ["scratchlib.layers.base.xǁInputǁset__mutmut_12"]
    change = "+    if value.dtype.is_floating_point and value.dtype == self.dtype:"
    why = "equivalent: ..."

``change`` repeats the mutant's ``+`` line, so that an explanation written for another mutant
that has since taken the same number (mutmut numbers the mutants of a function in order, and
an edited function renumbers them) no longer matches and its survivor shows as unexplained.

It exits 1, after writing the report, when a module has under 95% killed, a survivor has no
(matching) explanation, a module has mutants mutmut did not run, or an explanation matches no
survivor (the mutant is killed now: its entry would only wait to mislead).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - mutmut brings `toml` on 3.10
    import toml as tomllib

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 95.0
# mutmut's exit codes (mutmut/stats.py): killed, or caught by its time limit
KILLED = {1, 3}
TIMEOUT = {36, -24, 24, 152, 255}
NOT_RUN = {None}


@dataclass
class Survivor:
    name: str
    status: str
    removed: list[str]
    added: list[str]
    why: str | None


@dataclass
class Module:
    path: str
    total: int = 0
    killed: int = 0
    timeouts: int = 0
    not_run: int = 0
    survivors: list[Survivor] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def status_of(exit_code: int | None) -> str:
    if exit_code in KILLED:
        return "killed"
    if exit_code in TIMEOUT:
        return "timeout"
    if exit_code is None:
        return "not run"
    return {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}.get(exit_code, "suspicious")


def mutated_modules(config: dict) -> list[str]:
    """The files of only_mutate less do_not_mutate, as mutmut picks them."""
    found: set[str] = set()
    for pattern in config["only_mutate"]:
        for path in ROOT.glob(pattern):
            relative = path.relative_to(ROOT).as_posix()
            if not any(fnmatch.fnmatch(relative, skip) for skip in config.get("do_not_mutate", [])):
                found.add(relative)
    return sorted(found)


def changed_lines(name: str, path: str) -> tuple[list[str], list[str]]:
    """The removed and added lines of one mutant, from mutmut's own diff."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=path).splitlines()
    body = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
    removed = [line[1:].rstrip() for line in body if line.startswith("-")]
    added = [line[1:].rstrip() for line in body if line.startswith("+")]
    return removed, added


def explanation(entry: dict | None, added: list[str]) -> str | None:
    if entry is None:
        return None
    change = entry.get("change", "").strip()
    if change and change not in {line.strip() for line in added}:
        return None  # written for another mutant that once had this name
    return entry["why"]


def collect(config: dict, explanations: dict) -> list[Module]:
    modules = []
    for path in mutated_modules(config):
        module = Module(path)
        meta = ROOT / "mutants" / (path + ".meta")
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        for name, exit_code in sorted(exit_codes.items(), key=lambda item: natural(item[0])):
            module.total += 1
            status = status_of(exit_code)
            if status in ("killed", "timeout"):
                module.killed += 1
                module.timeouts += status == "timeout"
            elif status == "not run":
                module.not_run += 1
            else:
                removed, added = changed_lines(name, path)
                why = explanation(explanations.get(name), added)
                module.survivors.append(Survivor(name, status, removed, added, why))
        if not exit_codes:
            module.not_run = -1  # no results at all
        modules.append(module)
    return modules


def natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def code(lines: list[str]) -> str:
    text = " / ".join(line.strip() for line in lines) or "(nothing)"
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def render(modules: list[Module]) -> str:
    out = [
        "# Mutation testing",
        "",
        "Generated by `make mutation` (tools/mutation_report.py) from mutmut's results; do not edit by hand.",
        "The reasons for survivors live in docs/mutation_explanations.toml, keyed by mutant.",
        f"Each module must have at least {THRESHOLD:.0f}% of its mutants killed (a test fails, or the",
        "tests run past mutmut's time limit: counted as killed and shown in the timeouts column).",
        "",
        "| module | mutants | killed | timeouts | survivors | killed % |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in modules:
        if m.not_run == -1:
            out.append(f"| {m.path} | not run | | | | |")
            continue
        extra = f" ({m.not_run} not run)" if m.not_run else ""
        out.append(
            f"| {m.path} | {m.total} | {m.killed} | {m.timeouts} | {len(m.survivors)}{extra} | {m.percent:.1f}% |"
        )
    total = sum(m.total for m in modules if m.not_run != -1)
    killed = sum(m.killed for m in modules if m.not_run != -1)
    out.append(f"| **all** | {total} | {killed} | | | {100.0 * killed / max(total, 1):.1f}% |")
    out += ["", "## Survivors", ""]
    any_survivor = False
    for m in modules:
        if not m.survivors:
            continue
        any_survivor = True
        out += [f"### {m.path}", "", "| mutant | status | changed from | to | why it stays |", "|---|---|---|---|---|"]
        for s in m.survivors:
            short = s.name.rpartition(".")[2].replace("ǁ", ".").strip(".")
            why = (s.why or "**unexplained**").replace("|", "\\|").replace("\n", " ")
            out.append(f"| `{short}` | {s.status} | {code(s.removed)} | {code(s.added)} | {why} |")
        out.append("")
    if not any_survivor:
        out.append("None.")
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "docs" / "mutation.md"))
    parser.add_argument("--explanations", default=str(ROOT / "docs" / "mutation_explanations.toml"))
    args = parser.parse_args()
    os.chdir(ROOT)  # mutmut reads mutants/ relative to the working directory

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    explanations_path = Path(args.explanations)
    explanations = tomllib.loads(explanations_path.read_text()) if explanations_path.exists() else {}
    modules = collect(config, explanations)
    Path(args.output).write_text(render(modules))

    problems = []
    for m in modules:
        if m.not_run == -1:
            problems.append(f"{m.path}: no results (run mutmut on it)")
            continue
        if m.not_run:
            problems.append(f"{m.path}: {m.not_run} mutants not run")
        if m.percent < THRESHOLD:
            problems.append(f"{m.path}: {m.percent:.1f}% killed, under {THRESHOLD:.0f}%")
        problems += [f"{m.path}: {s.name} survived unexplained: {code(s.added)}" for s in m.survivors if not s.why]
    if all(m.not_run != -1 for m in modules):  # with every module's results: an entry no survivor wears
        survivors = {s.name for m in modules for s in m.survivors if s.why}
        problems += [
            f"{name}: explained in {explanations_path.name} but no survivor of this run matches it "
            "(killed now, renamed, or its change differs): remove or rewrite its entry"
            for name in explanations
            if name not in survivors
        ]
    print(f"wrote {args.output}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
