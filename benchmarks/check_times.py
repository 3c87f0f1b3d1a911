"""Time the self-check of every exercise, as a student meets it (``make bench-check``).

    python benchmarks/check_times.py [EXERCISE ...] [--course [FOLDER]] [--in-process]
                                     [--edition build/check_student] [--csv build/check_times.csv]

By default it writes a student edition (the teacher's tools, ``teacher student --no-map``: the
committed exercise map is copied in) and times ``python -m scratchlib.course.exercises k`` there
for each exercise, one after another: what ``make check EX=k`` runs, on stubs (as a student
starts an exercise). ``--course`` times the course itself instead, ``--course FOLDER`` that copy
of it (a student edition made earlier, say); without the teacher's tools (in the student
edition) it times the course it is in. ``--in-process`` calls
``scratchlib.exercises.check`` from this Python process, torch already imported, as a notebook's
kernel does. It prints each exercise's seconds, then the median and the max, and writes them to
the CSV file. Timings on a shared machine vary: say how busy it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def student_edition(out: Path) -> Path:
    """Write the student edition to out with the teacher's tools; its path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tools")])}
    command = [sys.executable, "-m", "teacher", "student", "--no-map", "--out", str(out)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    # compile once, as the first check would: what is timed is each check, not Python's first import
    subprocess.run([sys.executable, "-m", "compileall", "-q", "scratchlib", "tests"], cwd=out, check=False)
    return out


def time_check(exercise: str, course: Path, in_process: bool) -> tuple[float, int]:
    """Seconds one self-check of exercise takes in course, and its exit status (0: all passed)."""
    started = time.perf_counter()
    if in_process:
        from scratchlib.course import exercises

        ok = exercises.run_check(exercise, course, out=lambda line: None)
        return time.perf_counter() - started, 0 if ok else 1
    env = {**os.environ, "PYTHONPATH": str(course)}
    command = [sys.executable, "-m", "scratchlib.course.exercises", exercise]
    status = subprocess.run(command, cwd=course, env=env, capture_output=True).returncode
    return time.perf_counter() - started, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: every exercise of the map)")
    parser.add_argument(
        "--course",
        nargs="?",
        type=Path,
        const=ROOT,
        help="time this course folder (default: this one), not a new edition",
    )
    parser.add_argument("--in-process", action="store_true", help="call check() from this process, as a kernel")
    parser.add_argument("--edition", type=Path, default=ROOT / "build" / "check_student")
    parser.add_argument("--csv", type=Path, default=ROOT / "build" / "check_times.csv")
    args = parser.parse_args(argv)

    teacher = (ROOT / "tools" / "teacher").is_dir()
    course = args.course.resolve() if args.course else ROOT if not teacher else student_edition(args.edition.resolve())
    known = json.loads((course / "tests" / "exercises.json").read_text())["exercises"]
    sys.path.insert(0, str(ROOT))
    from scratchlib.course.exercises import exercise_id

    try:  # "4.3 4.11" as one argument (make bench-check EX="4.3 4.11") or several
        chosen = [exercise_id(e, known) for text in args.exercises for e in text.split()]
    except ValueError as error:
        parser.error(str(error))
    chosen = chosen or sorted(known, key=lambda e: tuple(map(int, e.split("."))))
    if args.in_process:
        import torch  # noqa: F401 (a kernel has it loaded)

        sys.path.insert(0, str(course))
        os.environ["PYTHONPATH"] = str(course)  # the child pytest of each check imports the course's package
    where = "the course" if course == ROOT else f"a student edition ({course})"
    how = "check() in this process" if args.in_process else "python -m scratchlib.course.exercises"
    print(f"timing the self-check of {len(chosen)} exercises in {where}: {how}")
    rows = []
    for exercise in chosen:
        seconds, status = time_check(exercise, course, args.in_process)
        rows.append({"exercise": exercise, "seconds": round(seconds, 2), "exit": status})
        print(f"  {exercise:>6}  {seconds:6.2f} s  (exit {status})", flush=True)
    times = [row["seconds"] for row in rows]
    print(f"median {statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)} exercises")
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["exercise", "seconds", "exit"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
