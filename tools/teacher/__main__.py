"""Command line: python -m teacher {check,student,map,map-table,reach,grade,gradescope}.

Run from the course root, with tools/ on the path.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import teacher.runner as runner_module
from teacher import leaks
from teacher.edition import EXERCISE_MAP, PACKAGE, Course, exercise_key, scan, write_edition
from teacher.grade import (
    COPY_TIMEOUT,
    TIMEOUT,
    grade,
    grade_all,
    load_map,
    problems,
    reference_file,
    rubric,
    table,
    to_csv,
    to_html,
    to_wide_csv,
)
from teacher.gradescope import build_zip, find_copy, results, write_results
from teacher.markers import MarkerError
from teacher.runner import run_tests
from teacher.supervise import dependencies


def _print_map(data: dict) -> None:
    for exercise, x in sorted(data["exercises"].items(), key=lambda kv: exercise_key(kv[0])):
        tests = x["tests"]
        print(f"{exercise:<6} {x['where']}  {x['task']}")
        if x.get("kind") == "derivation":
            print("       a derivation: graded by hand")
        elif x.get("kind") == "test":
            layers = ", ".join(x.get("layers", [])) or "NONE"
            print(
                f"       the student's own test {', '.join(tests) or 'NOT FOUND'}: "
                f"graded by the wrong {layers} it catches"
            )
        else:
            print(
                f"       {len(tests)} tests of its own behaviour (of {x.get('reached', len(tests))} reaching it); "
                f"caught by {x['caught_by'] or 'NO TEST'}"
            )


def _map_table(data: dict) -> str:
    """The map as a markdown table: each exercise, its own tests (those failing when only it is stubbed)."""
    lines = ["| exercise | where | own tests | of reaching | tests of its own behaviour |", "|---|---|---|---|---|"]
    for exercise, x in sorted(data["exercises"].items(), key=lambda kv: exercise_key(kv[0])):
        if x.get("kind") == "derivation":
            lines.append(f"| {exercise} | {x['where']} | - | - | a derivation, graded by hand |")
            continue
        if x.get("kind") == "test":
            layers = ", ".join(x.get("layers", [])) or "NONE"
            lines.append(
                f"| {exercise} | {x['where']} | - | - | the student's own test: the wrong {layers} it catches |"
            )
            continue
        names = [t.split("::", 1)[1] if t.startswith("tests/") else t.split("/")[-1] for t in x["tests"]]
        files = sorted({t.split("::", 1)[0].removeprefix("tests/") for t in x["tests"]})
        shown = ", ".join(names[:6]) + (f", ... ({len(names) - 6} more)" if len(names) > 6 else "")
        lines.append(
            f"| {exercise} | {x['where']} | {len(names)} | {x.get('reached', len(names))} | "
            f"{'; '.join(files) if files and not x['cells'] else ''}{': ' if files and not x['cells'] else ''}"
            f"{shown or 'NONE'} |"
        )
    return "\n".join(lines)


def _print_reach(course: Course, files: list[str], timeout: float) -> int:
    """Each test of files: the exercises it runs with the solutions, and which of them it catches
    (it fails when only that exercise is stubbed). A test of an exercise's own values runs that
    exercise alone: "own 4.4" is what `make check EX=4.4` needs to pass with only 4.4 done."""
    with tempfile.TemporaryDirectory(prefix="teacher-reach-") as folder:
        probe = Path(folder)
        write_edition(course, probe, "probe")
        solved = run_tests(course, probe, sorted({f.split("::", 1)[0] for f in files}), timeout=timeout)
        wanted = {n for n, _ in solved if any(n == f or n.startswith(f.split("::", 1)[0]) and f in n for f in files)}
        runs = [(n, e) for (n, _), r in solved.items() if n in wanted and r["outcome"] == "passed" for e in r["hits"]]
        stubbed = run_tests(course, probe, [], runs=runs, timeout=timeout) if runs else {}
    for (nodeid, _), result in sorted(solved.items()):
        if nodeid not in wanted:
            continue
        hits = sorted(result["hits"], key=exercise_key)
        caught = [e for e in hits if stubbed.get((nodeid, e), {}).get("outcome") == "failed"]
        if result["outcome"] == "skipped":
            verdict = f"skipped: {result['reason']}"
        elif result["outcome"] != "passed":
            verdict = f"FAILS on the solutions: {result['reason']}"
        elif len(hits) == 1 and caught:
            verdict = f"own {hits[0]}"
        else:
            verdict = f"runs {', '.join(hits) or 'no exercise'}; catches {', '.join(caught) or 'none'}"
        print(f"{nodeid}\n    {verdict}")
    return 0


def _grade_wrong(course: Course, data: dict, timeout: float, jobs: int) -> int:
    """Grade every wrong version of teacher.wrong; list those that keep marks (their exercise's own tests
    do not catch them). Exit status 1 if any does."""
    from teacher import wrong

    with tempfile.TemporaryDirectory(prefix="teacher-wrong-") as folder:
        made = wrong.copies(course, Path(folder))
        graded = grade_all(course, data, [f for f, _ in made], timeout=timeout, jobs=jobs, notebooks="none")
    kept = 0
    for copy, holds in made:
        rows = {r.exercise: r for r in graded[copy.name]}
        for exercise, what in sorted(holds.items(), key=lambda kv: exercise_key(kv[0])):
            row = rows[exercise]
            kept += bool(row.score)
            verdict = f"KEEPS {row.score:.2f}" if row.score else "0    "
            print(f"{verdict} {exercise:<6} {what}: {row.reason or 'every test of its own passes'}")
    print(f"{sum(len(h) for _, h in made)} wrong versions, {kept} keeping marks")
    return 1 if kept else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m teacher", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("."), help="the course folder (default: .)")
    parser.add_argument(
        "--timeout", type=float, default=TIMEOUT, help=f"seconds allowed per test or cell (default {TIMEOUT:g})"
    )
    parser.add_argument(
        "--copy-timeout",
        type=float,
        default=COPY_TIMEOUT,
        help=f"grade: seconds allowed per student's copy (default {COPY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="grade: copies graded side by side (default 1); map: pytest processes side by side",
    )
    parser.add_argument(
        "--lanes",
        type=int,
        default=None,
        help="grade: test processes and notebook runs of one copy side by side (default: 2 where the cores "
        "allow; gradescope-run: 1, the smallest memory, well under Gradescope's default 768 MB)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check the solution markers and list the exercises")
    student = commands.add_parser("student", help="write the student edition")
    student.add_argument("--out", type=Path, default=None, help="default: ROOT/build/student")
    student.add_argument("--no-map", action="store_true", help="skip finding and checking each exercise's tests")
    commands.add_parser("map", help="list each exercise's tests (runs the course's tests once, then cached)")
    commands.add_parser("map-table", help="the map as a markdown table: each exercise and its own tests")
    reach = commands.add_parser(
        "reach", help="for writing tests: the exercises each test of FILES runs, and those whose stub it catches"
    )
    reach.add_argument("files", nargs="+", help="test files or node ids, relative to ROOT")
    commands.add_parser(
        "wrong", help="grade the plausible wrong versions of the library exercises (teacher.wrong): each must score 0"
    )
    zipped = commands.add_parser("gradescope", help="write the Gradescope autograder zip")
    zipped.add_argument("--out", type=Path, default=None, help="default: ROOT/build/gradescope.zip")
    commands.add_parser("requirements", help="(setup.sh) the course's dependencies, as pip takes them")
    commands.add_parser("reference", help="(setup.sh) make the course's solution run the grader compares with")
    run = commands.add_parser("gradescope-run", help="(run_autograder) grade SUBMISSION, write RESULTS json")
    run.add_argument("submission", type=Path)
    run.add_argument("results", type=Path)
    graded = commands.add_parser("grade", help="grade a student's copy, or a folder of them")
    graded.add_argument("dir", type=Path)
    graded.add_argument("--csv", type=Path, default=None, help="default: DIR/grades.csv")
    graded.add_argument(
        "--notebooks",
        choices=["exercises", "none"],
        default="exercises",
        help="run the notebooks with code exercises (default) or none (those exercises then score 0)",
    )
    args = parser.parse_args(argv)

    root = args.root.resolve()
    if args.jobs and args.command != "grade":  # the map's pytest processes and kernels side by side
        runner_module.WORKERS = max(1, args.jobs)
    if args.command == "grade" and not args.dir.is_dir():
        what = "is a file, not a folder" if args.dir.exists() else "does not exist"
        print(f"error: DIR {args.dir} {what}; give a student's copy or a folder of copies", file=sys.stderr)
        return 2
    if args.command == "grade" and root in (args.dir.resolve(), *args.dir.resolve().iterdir()):
        # the course holds the solutions: grading it would score them and write reports into it
        what = "is the course folder itself" if args.dir.resolve() == root else f"holds the course folder {root.name}"
        print(
            f"error: DIR {args.dir} {what}; give a student's copy or a folder of copies "
            "(e.g. copies of build/student), outside the course",
            file=sys.stderr,
        )
        return 2
    cache = root / EXERCISE_MAP  # committed; rebuilt only when the course's fingerprint changed
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
        data = None
        if not args.no_map:  # first, so the edition ships the current map
            data = load_map(course, cache, timeout=max(args.timeout, 300))
            course = scan(root)
        try:
            files = write_edition(course, out, "student")
        except MarkerError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        found_leaks = leaks.scan(course, out, files)
        for leak in found_leaks:
            known = "" if leak in leaks.refused(found_leaks) else " (known, listed in teacher.leaks.KNOWN)"
            print(f"{'error' if not known else 'warning'}: {leak}{known}", file=sys.stderr)
        if leaks.refused(found_leaks):
            print(
                f"error: the student edition in {out} shows {len(leaks.refused(found_leaks))} answer(s) (above): "
                "clear the cell (tag it student-clear-output), move it after the exercise, or use other numbers",
                file=sys.stderr,
            )
            return 2
        print(f"wrote the student edition: {len(files)} files, {len(course.regions)} exercises stubbed, in {out}")
        if data is None:
            return 0
        _print_map(data)
        found = problems(data)
        for problem in found:
            print(f"error: {problem}", file=sys.stderr)
        return 1 if found else 0
    if args.command == "reach":
        return _print_reach(course, args.files, args.timeout)
    if args.command == "requirements":
        print("\n".join(dependencies(root)))
        return 0
    data = load_map(course, cache, timeout=max(args.timeout, 300))
    if args.command == "wrong":
        return _grade_wrong(course, data, args.timeout, args.jobs or 2)
    if args.command == "gradescope":
        out = build_zip(course, (args.out or root / "build" / "gradescope.zip").resolve())
        print(f"wrote {out}: upload it as the assignment's autograder")
        return 0
    if args.command == "reference":
        print(reference_file(course, data, args.timeout))
        return 0
    if args.command == "gradescope-run":
        started = time.monotonic()
        try:
            copy = find_copy(args.submission.resolve())
            # one lane: an honest full copy peaked at about 580 MB (proportional set size) this way and at
            # 610 to 720 MB with two, against Gradescope's default limit of 768 MB
            rows = grade(
                course, data, copy, timeout=args.timeout, copy_timeout=args.copy_timeout, lanes=args.lanes or 1
            )
        except FileNotFoundError as error:  # the upload holds no copy of the course: the student's to fix
            write_results(args.results, {"score": 0.0, "output": str(error), "tests": []})
            return 0
        # every process of the student's code has ended: only now the results, and the table for the
        # instructor (run_autograder's stdout, hidden from students)
        print(table(rows))
        write_results(args.results, results(rows, time.monotonic() - started))
        return 0
    if args.command == "map":
        _print_map(data)
        return 1 if problems(data) else 0
    if args.command == "map-table":
        print(_map_table(data))
        return 1 if problems(data) else 0
    for problem in problems(data):
        print(f"warning: {problem.splitlines()[0]}", file=sys.stderr)
    target = args.dir.resolve()
    students = (
        [target] if (target / PACKAGE).is_dir() else sorted(d for d in target.iterdir() if (d / PACKAGE).is_dir())
    )
    if not students:
        print(f"error: {target} is neither a student's copy (with {PACKAGE}/) nor a folder of them", file=sys.stderr)
        return 2
    names = [folder.name for folder in students]
    grades = grade_all(
        course,
        data,
        students,
        timeout=args.timeout,
        copy_timeout=args.copy_timeout,
        jobs=args.jobs or 1,
        lanes=args.lanes,
        notebooks=args.notebooks,
    )
    # every process of every copy has ended: only now are the reports written
    for folder in students:
        rows = grades[folder.name]
        print(f"== {folder.name}")
        print(table(rows))
        (folder / "grade-report.html").write_text(to_html(folder.name, rows))
    grades = {name: grades[name] for name in names}
    csv_path = args.csv or target / "grades.csv"
    csv_path.write_text(to_csv(grades))
    wide = csv_path.with_name(csv_path.stem + "-wide.csv")
    wide.write_text(to_wide_csv(grades))
    written = f"{csv_path}, {wide}"
    if any(r.manual for rows in grades.values() for r in rows):
        by_hand = csv_path.with_name(csv_path.stem + "-by-hand.md")
        by_hand.write_text(rubric(course, grades, {folder.name: folder for folder in students}))
        os.chmod(by_hand, 0o600)
        written += f", {by_hand} (the derivations' rubrics: teacher only)"
    print(f"wrote {written} and a grade-report.html in each copy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
