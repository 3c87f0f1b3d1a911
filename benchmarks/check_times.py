"""Time the self-check of every exercise, as a student meets it (``make bench-check``).

    python benchmarks/check_times.py [EXERCISE ...] [--course [FOLDER]] [--kernel]
                                     [--edition build/check_student] [--csv build/check_times.csv]

By default it writes a student edition (the teacher's tools, ``teacher student --no-map``: the
committed exercise map is copied in) and times ``python -m scratchlib.course.exercises k`` there
for each exercise, one after another: what ``make check EX=k`` runs, on stubs (as a student
starts an exercise). ``--course`` times the course itself instead, ``--course FOLDER`` that copy
of it (a student edition made earlier, say); without the teacher's tools (in the student
edition) it times the course it is in. ``--kernel`` calls ``scratchlib.exercises.check`` in a
running Jupyter kernel, torch already imported, as a student does from a notebook (the first check
there also starts the warm pytest server: it is timed too). It prints each exercise's seconds,
then the median and the max, and writes them to the CSV file. Timings on a shared machine vary: say how busy it was.
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


def time_check(exercise: str, course: Path) -> tuple[float, int]:
    """Seconds one self-check of exercise takes in course, and its exit status (0: all passed)."""
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(course)}
    command = [sys.executable, "-m", "scratchlib.course.exercises", exercise]
    status = subprocess.run(command, cwd=course, env=env, capture_output=True).returncode
    return time.perf_counter() - started, status


class Kernel:
    """A Jupyter kernel in the course folder with torch and scratchlib imported, as a notebook has them."""

    def __init__(self, course: Path):
        from jupyter_client.manager import start_new_kernel

        env = {**os.environ, "PYTHONPATH": str(course)}
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(course), env=env)
        self.run("import time, torch, scratchlib\nfrom scratchlib.course import exercises")

    def run(self, code: str) -> str:
        out: list[str] = []

        def keep(message: dict) -> None:
            if message["msg_type"] == "stream":
                out.append(message["content"]["text"])

        reply = self.client.execute_interactive(code, timeout=600, output_hook=keep)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel failed: {reply['content'].get('evalue')}")
        return "".join(out)

    def time_check(self, exercise: str) -> tuple[float, int]:
        code = (
            f"started = time.perf_counter(); ok = exercises.run_check({exercise!r}, out=lambda line: None)\n"
            "print(time.perf_counter() - started, int(not ok))"
        )
        seconds, status = self.run(code).split()
        return float(seconds), int(status)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


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
    parser.add_argument("--kernel", action="store_true", help="call check() in a Jupyter kernel, as a notebook does")
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
    where = "the course" if course == ROOT else f"a student edition ({course})"
    how = "check() in a Jupyter kernel" if args.kernel else "python -m scratchlib.course.exercises"
    print(f"timing the self-check of {len(chosen)} exercises in {where}: {how}")
    kernel = Kernel(course) if args.kernel else None
    rows = []
    try:
        for exercise in chosen:
            seconds, status = kernel.time_check(exercise) if kernel else time_check(exercise, course)
            rows.append({"exercise": exercise, "seconds": round(seconds, 2), "exit": status})
            print(f"  {exercise:>6}  {seconds:6.2f} s  (exit {status})", flush=True)
    finally:
        if kernel is not None:
            kernel.close()
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
