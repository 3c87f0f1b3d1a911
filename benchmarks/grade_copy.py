"""Time and memory of grading one honest copy of the whole course (``make bench-grade``; teacher only).

    python benchmarks/grade_copy.py [--lanes N] [--copy FOLDER] [--csv build/grade_copy.csv]

An honest copy is the student edition with every exercise done: each library and notebook region's
solution put back under a harmless first statement (``_honest = 1``), so that the grader cannot take
it for the solution itself and really runs it; hand values are put back as written. It is graded with
``python -m teacher --lanes N grade`` as Gradescope's ``run_autograder`` does (one lane), while the
memory of the grader and of every process it starts is summed every 0.2 s: the proportional set size
(a page shared by k processes counts 1/k in each), the measure that adds up to what the machine
holds. It prints the wall time, the peak and the scores, and fails if the copy does not score 1.00 on
the core and optional exercises, or if the peak passes Gradescope's default limit of 768 MB. The
reference run (the course's solution, made once per course) is made first and not measured.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher.edition import scan, write_edition  # noqa: E402
from teacher.markers import student as student_edition  # noqa: E402
from teacher.supervise import kind_of  # noqa: E402

LIMIT_MB = 768  # Gradescope's default memory for an autograder
MIB = 2**20


def done(body: list[str], hand: bool) -> str:
    """A region's solution as an honest student would write it: the same code, one statement more."""
    code = textwrap.dedent("".join(body))
    code = code if hand else "_honest = 1\n" + code
    return code if code.endswith("\n") else code + "\n"


def honest_copy(out: Path) -> Path:
    """The student edition in out with every exercise done (see the module's docstring)."""
    import json

    course = scan(ROOT)
    write_edition(course, out, "student")
    for path, regions in course.sources.items():
        text, stubs = student_edition((ROOT / path).read_text(encoding="utf-8"), regions)
        lines = text.splitlines(keepends=True)
        for line, region in sorted(stubs.items(), reverse=True):
            lines[line : line + 1] = [textwrap.indent(done(region.body, False), region.indent)]
        (out / path).write_text("".join(lines), encoding="utf-8")
    for path, cells in course.notebooks.items():
        teacher_nb = json.loads((ROOT / path).read_text(encoding="utf-8"))
        student_nb = json.loads((out / path).read_text(encoding="utf-8"))
        for index, regions in cells.items():
            source = teacher_nb["cells"][index]["source"]
            text, stubs = student_edition("".join(source) if isinstance(source, list) else source, regions)
            lines = text.splitlines(keepends=True)
            for line, region in sorted(stubs.items(), reverse=True):
                hand = kind_of(course, region.id) == "hand"
                lines[line : line + 1] = [textwrap.indent(done(region.body, hand), region.indent)]
            student_nb["cells"][index]["source"] = "".join(lines)
        text = json.dumps(student_nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        (out / path).write_text(text, encoding="utf-8")
    return out


def tree(root: int) -> list[int]:
    """root and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def pss(pid: int) -> int:
    """The proportional set size of one process, in bytes (0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def grade(copy: Path, lanes: int) -> tuple[float, int, str]:
    """Grade copy under the sampler: its wall seconds, the peak summed PSS in bytes, the grader's output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
    command = [sys.executable, "-m", "teacher", "--lanes", str(lanes), "grade", str(copy)]
    with tempfile.TemporaryFile("w+") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        peak = 0
        while process.poll() is None:
            peak = max(peak, sum(pss(pid) for pid in tree(process.pid)))
            time.sleep(0.2)
        seconds = time.monotonic() - started
        output.seek(0)
        text = output.read()
    if process.returncode:
        raise SystemExit(f"the grader failed (exit {process.returncode}):\n{text[-3000:]}")
    return seconds, peak, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lanes", type=int, default=1, help="as run_autograder: 1")
    parser.add_argument("--copy", type=Path, default=None, help="grade this copy (default: a fresh honest copy)")
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
    reference = [sys.executable, "-m", "teacher", "reference"]
    subprocess.run(reference, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="honest-") as folder:
        copy = args.copy or honest_copy(Path(folder) / "honest")
        seconds, peak, text = grade(copy, args.lanes)
    scores = dict(re.findall(r"^(core|optional)\s+([0-9.]+)", text, re.M))
    print(f"graded in {seconds:.1f} s with {args.lanes} lane(s); memory peak {peak / MIB:.0f} MiB (summed PSS)")
    core, optional = scores.get("core", "?"), scores.get("optional", "?")
    print(f"core {core}, optional {optional}; Gradescope's default limit {LIMIT_MB} MB")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", newline="") as f:
            rows = [["lanes", "seconds", "peak_mib"], [args.lanes, f"{seconds:.1f}", f"{peak / MIB:.0f}"]]
            csv.writer(f).writerows(rows)
    failed = [] if core == optional == "1.00" else ["the honest copy did not score 1.00"]
    failed += [f"the peak passed {LIMIT_MB} MB"] if peak > LIMIT_MB * 10**6 else []
    print("\n".join(failed) or "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
