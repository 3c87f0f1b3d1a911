"""Command line: python -m teacher {check,student,map,grade} (run from the course root, tools/ on the path)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from teacher.edition import PACKAGE, exercise_key, scan, write_edition
import teacher.grade as grade_module
from teacher.grade import grade, load_map, problems, table, to_csv
from teacher.markers import MarkerError


def _print_map(data: dict) -> None:
    for exercise, x in sorted(data["exercises"].items(), key=lambda kv: exercise_key(kv[0])):
        tests = x["tests"]
        print(f"{exercise:<6} {x['where']}  {x['task']}")
        print(f"       {len(tests)} tests; caught by {x['caught_by'] or 'NO TEST'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m teacher", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("."), help="the course folder (default: .)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per test (default 120)")
    parser.add_argument("--jobs", type=int, default=None, help="pytest processes side by side (default: 2 or the cores)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check the solution markers and list the exercises")
    student = commands.add_parser("student", help="write the student edition")
    student.add_argument("--out", type=Path, default=None, help="default: ROOT/build/student")
    student.add_argument("--no-map", action="store_true", help="skip finding and checking each exercise's tests")
    commands.add_parser("map", help="list each exercise's tests (runs the course's tests once, then cached)")
    graded = commands.add_parser("grade", help="grade a student's copy, or a folder of them")
    graded.add_argument("dir", type=Path)
    graded.add_argument("--csv", type=Path, default=None, help="default: DIR/grades.csv")
    graded.add_argument("--notebooks", choices=["exercises", "all", "none"], default="exercises",
                        help="notebooks to execute: those with exercise cells (default; they are scored), "
                             "all (the others are reported, not scored), or none")
    args = parser.parse_args(argv)

    root = args.root.resolve()
    if args.jobs:
        grade_module.WORKERS = max(1, args.jobs)
    cache = root / "build" / "exercise_map.json"
    try:
        course = scan(root)
    except MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "check":
        for r in sorted(course.regions, key=lambda r: exercise_key(r.id)):
            print(f"{r.id:<6} {r.where}:{r.line}  {r.task}")
        print(f"{len(course.regions)} exercises, markers valid")
        return 0
    if args.command == "student":
        out = (args.out or root / "build" / "student").resolve()
        try:
            files = write_edition(course, out, "student")
        except MarkerError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"wrote the student edition: {len(files)} files, {len(course.regions)} exercises stubbed, in {out}")
        if args.no_map:
            return 0
        data = load_map(course, cache, timeout=max(args.timeout, 300))
        _print_map(data)
        found = problems(data)
        for problem in found:
            print(f"error: {problem}", file=sys.stderr)
        return 1 if found else 0
    data = load_map(course, cache, timeout=max(args.timeout, 300))
    if args.command == "map":
        _print_map(data)
        return 1 if problems(data) else 0
    for problem in problems(data):
        print(f"warning: {problem.splitlines()[0]}", file=sys.stderr)
    target = args.dir.resolve()
    students = [target] if (target / PACKAGE).is_dir() else sorted(
        d for d in target.iterdir() if (d / PACKAGE).is_dir())
    if not students:
        print(f"error: {target} is neither a student's copy (with {PACKAGE}/) nor a folder of them", file=sys.stderr)
        return 2
    graded = {}
    for folder in students:
        print(f"== {folder.name}")
        graded[folder.name] = rows = grade(course, data, folder, timeout=args.timeout,
                                           notebooks=args.notebooks)
        print(table(rows))
    csv_path = args.csv or target / "grades.csv"
    csv_path.write_text(to_csv(graded))
    print(f"wrote {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
