"""The self-check: run exactly the tests of one exercise and say what passed, what failed, and why.

From a terminal, in the course folder::

    make check EX=4.3            # the same as: python -m scratchlib.course.exercises 4.3

From a notebook cell::

    import scratchlib
    scratchlib.exercises.check("4.3")

Which tests check which exercise is read from tests/exercises.json, the exercise map that
ships with the course (the teacher's tools write it; it holds test names and cells, no
solutions). A library exercise is checked by its unit tests, a notebook exercise by
running its notebook (as saved on disk) up to its checking cells; a derivation is graded
by hand. When something fails, the exercise's hint from its callout in the notebook is
printed at the end, as plain text; when a failing test also runs another exercise you have
changed, the report points there first.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scratchlib.course import answers, runner

ROOT = Path(__file__).resolve().parents[2]
MAP = Path("tests") / "exercises.json"
ID = re.compile(r"(\d+)\.(\d+)")


@dataclass
class Outcome:
    """One test or checking cell: its name, whether it passed, and a one-line reason."""

    test: str
    passed: bool
    reason: str = ""
    key: str = ""  # its name in the exercise map ("notebooks/01_x.ipynb::cell 8"); "" when the same as test
    others: tuple[str, ...] = ()  # the other exercises it runs that the student has changed


def load_course_map(root: Path = ROOT) -> dict:
    """The whole exercise map: its exercises, and which exercises each test reaches ("reaches")."""
    path = Path(root) / MAP
    if not path.exists():
        raise FileNotFoundError(f"exercises: no exercise map at {path} (is this the course folder?)")
    data: dict = json.loads(path.read_text())
    return data


def load_map(root: Path = ROOT) -> dict:
    """The exercises of the map: id -> task, where, kind and tests."""
    exercises: dict = load_course_map(root)["exercises"]
    return exercises


def _key(exercise: str) -> tuple[int, int]:
    major, minor = exercise.split(".")
    return int(major), int(minor)


def exercise_id(value: object, known: list[str] | dict) -> str:
    """The id of an exercise of this course, as its callout writes it ("4.10"); a clear error otherwise.

    A number is refused: 4.10 and 4.1 are the same float, so check(4.10) cannot mean exercise 4.10.
    """
    if not isinstance(value, str):
        raise TypeError(
            f'check: write the exercise id in quotes, as its callout does: check("4.10"), not check(4.10); '
            f"the number {value!r} cannot tell exercise 4.1 from 4.10"
        )
    found = ID.fullmatch(value.strip())
    if found is None:
        raise ValueError(
            f"check: {value!r} is not an exercise id; an id is the notebook's number, a dot and the "
            f"exercise's number, as in its callout: 4.3, 4.10"
        )
    exercise = f"{int(found[1])}.{int(found[2])}"
    if exercise not in known:
        raise ValueError(f"check: no exercise {exercise} in this course; {_nearby(exercise, list(known))}")
    return exercise


def _nearby(exercise: str, known: list[str], shown: int = 6) -> str:
    """The ids next to an unknown one: those of its notebook, else each notebook's first and last."""
    major, minor = _key(exercise)
    same = [e for e in known if _key(e)[0] == major]
    if same:
        closest = sorted(sorted(same, key=lambda e: (abs(_key(e)[1] - minor), _key(e)))[:shown], key=_key)
        return f"notebook {major:02d}'s nearest are {', '.join(closest)} (it has {len(same)})"
    ranges = []
    for number in sorted({_key(e)[0] for e in known}):
        ids = sorted((e for e in known if _key(e)[0] == number), key=_key)
        ranges.append(ids[0] if len(ids) == 1 else f"{ids[0]} to {ids[-1]}")
    return "its exercises are " + ", ".join(ranges)


def run_unit_tests(tests: list[str], root: Path = ROOT, timeout: float = 120.0) -> list[Outcome]:
    """Run the named pytest node ids in a child pytest; one Outcome per test, in the given order."""
    return [
        Outcome(r["nodeid"], r["outcome"] == "passed", r["reason"])
        for r in runner.run_tests(tests, Path(root), timeout, lean=True)
    ]


def run_notebook_cells(cells: list[dict], root: Path = ROOT, timeout: float = 300.0) -> list[Outcome]:
    """Run the notebook of these cells in a fresh kernel up to the last of them; one Outcome per cell."""
    import nbformat

    path = Path(root) / cells[0]["notebook"]
    by_id = {cell.get("id"): i for i, cell in enumerate(nbformat.read(path, as_version=4).cells)}
    wanted = [by_id.get(c["id"], c["index"]) for c in cells]
    # the course's own package first, whichever scratchlib is installed
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(root).resolve()), os.environ.get("PYTHONPATH")]))}
    records = {r["index"]: r for r in runner.execute_notebook(path, env, timeout, until=max(wanted))}
    return [
        Outcome(
            f"{c['notebook']} cell {index}",
            records.get(index, {}).get("ok", False),
            runner.cell_reason(records.get(index)),
            key=c.get("test", ""),
        )
        for c, index in zip(cells, wanted)
    ]


def other_stub(reason: str, exercise: str) -> str:
    """A test that stopped at another exercise's stub says so: this one is not to blame."""
    other = runner.stub_exercise(reason)
    if other and other != exercise:
        return f"needs exercise {other} first: its stub is still there"
    return reason


def attempted(exercise: str, entry: dict, root: Path = ROOT) -> bool:
    """Whether the student changed an exercise: its region (the file or notebook the map names) no
    longer holds its stub. A derivation is never counted: no test runs it."""
    if entry.get("kind") == "derivation":
        return False
    path = Path(root) / entry["where"].split(" cell ")[0].rsplit(":", 1)[0]
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join("".join(cell.get("source", "")) for cell in json.loads(text)["cells"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return not runner.holds_stub(text, exercise)


def hint(exercise: str, task: str = "", root: Path = ROOT) -> str:
    """The hint of the exercise's callout (its <details><summary>Hint</summary> block), else its task."""
    callout = re.compile(rf"\*\*Exercise {re.escape(exercise)}\*\*")
    block = re.compile(r"<details>\s*<summary>\s*Hint\s*</summary>(.*?)</details>", re.S)
    for path in sorted((Path(root) / "notebooks").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        if f"**Exercise {exercise}**" not in text:  # most notebooks: no need to parse them
            continue
        # plain JSON, not nbformat: importing nbformat (and jsonschema) and validating took seconds
        cells = [(cell.get("cell_type"), "".join(cell.get("source", ""))) for cell in json.loads(text).get("cells", [])]
        for i, (kind, source) in enumerate(cells):
            found_callout = callout.search(source) if kind == "markdown" else None
            if found_callout:
                rest = source[found_callout.end() :]
                after = cells[i + 1][1] if i + 1 < len(cells) and cells[i + 1][0] == "markdown" else ""
                found = block.search(rest) or block.search(after)
                if found:
                    return found.group(1).strip()
    return task


# ---------------------------------------------------------------- the hint as plain text

_NAMES = {  # LaTeX commands without an argument, as a terminal writes them
    "partial": "d",
    "nabla": "grad",
    "odot": "(.)",
    "cdot": "*",
    "times": "x",
    "top": "T",
    "ne": "!=",
    "neq": "!=",
    "le": "<=",
    "leq": "<=",
    "ge": ">=",
    "geq": ">=",
    "to": "->",
    "rightarrow": "->",
    "infty": "inf",
    "approx": "~",
    "ell": "l",
    "lVert": "||",
    "rVert": "||",
    "lceil": "ceil(",
    "rceil": ")",
    "lfloor": "floor(",
    "rfloor": ")",
    "left": "",
    "right": "",
    "varphi": "phi",
    "varepsilon": "epsilon",
    "quad": "  ",
}
_TEXT_FONT = r"\\(?:mathrm|text|mathbf|mathit|mathcal|boldsymbol|operatorname)\{([^{}]*)\}"


def _wrapped(part: str) -> str:
    """A numerator or denominator, in parentheses when it is more than one term."""
    part = part.strip()
    return f"({part})" if re.search(r"[\s+\-/]", part) else part


def _fraction(match: re.Match[str]) -> str:
    r"""a/b, in parentheses when a factor follows: \frac{2}{n}(Y - T) -> (2/n)(Y - T)."""
    top, bottom = (part[1:-1] if part.startswith("{") else part for part in match.groups())
    text = f"{_wrapped(top)}/{_wrapped(bottom)}"
    return f"({text})" if match.string[match.end() : match.end() + 1] == "(" else text


def _power(match: re.Match[str]) -> str:
    """^{-1} -> ^(-1), _{ij} -> _ij, ^{(l)} -> ^(l)."""
    mark, inner = match.groups()
    simple = len(inner) == 1 or (mark == "_" and " " not in inner) or re.fullmatch(r"\([^()]*\)", inner)
    return f"{mark}{inner}" if simple else f"{mark}({inner})"


def _command(match: re.Match[str]) -> str:
    r"""A command without an argument as a word (\sigma -> sigma), set apart from the letters around it."""
    word, text = _NAMES.get(match[1], match[1]), match.string
    if word[:1].isalpha() and match.start() > 0 and text[match.start() - 1].isalnum():
        word = " " + word
    if word[-1:].isalpha() and text[match.end() : match.end() + 1].isalnum():
        word += " "
    return word


def _math(tex: str) -> str:
    r"""One piece of LaTeX math as plain text: \frac{dJ}{dW} -> dJ/dW, W^\top -> W^T, \sigma -> sigma."""
    tex = re.sub(r"\\partial\s*", "d", tex)
    tex = re.sub(r"\\(hat|bar|tilde)\s*(?:\{\s*([A-Za-z])\s*\}|([A-Za-z]))", lambda m: f"{m[2] or m[3]}_{m[1]}", tex)
    tex = re.sub(r"\}(?=\\)", "} ", tex)  # \nabla_{Y}\mathcal{L}: two symbols, not one word
    tex = re.sub(r"\\begin\{\w+\*?\}", "[", tex)
    tex = re.sub(r"\\end\{\w+\*?\}", "]", tex)
    tex = re.sub(r"\s*\\\\\s*", "; ", tex)
    tex = re.sub(r"\s*&\s*", ", ", tex)
    tex = re.sub(r"\\[,;:! ]", " ", tex)
    # commands without an argument (\sigma, \top, \odot); those with one wait for their braces
    tex = re.sub(r"\\(?!frac|sqrt)([A-Za-z]+)(?![A-Za-z]|\s*\{)", _command, tex)
    for _ in range(10):  # innermost braces first, until none is left
        before = tex
        tex = re.sub(_TEXT_FONT, r"\1", tex)
        tex = re.sub(r"\\frac\s*(\{[^{}]*\}|\w)\s*(\{[^{}]*\}|\w)", _fraction, tex)  # \frac{a}{b}, \frac12
        tex = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", tex)
        tex = re.sub(r"([\^_])\{([^{}]*)\}", _power, tex)
        if tex == before:
            break
    tex = re.sub(r"\\([A-Za-z]+)\s*\{([^{}]*)\}", lambda m: f"{_NAMES.get(m[1], m[1])}({m[2]})", tex)
    tex = re.sub(r"\\([A-Za-z]+)", _command, tex)
    tex = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", tex.replace("{", "").replace("}", "")))
    return re.sub(r"[ \t]{2,}", " ", tex).strip()


def plain_text(markdown: str) -> str:
    """A hint as a terminal shows it: LaTeX math ($...$) as plain text, no markdown emphasis or HTML.

    Code in backticks is kept as it is.
    """
    parts = re.split(r"(`[^`]*`)", markdown)
    for i in range(0, len(parts), 2):
        text = re.sub(r"\$\$(.+?)\$\$", lambda m: _math(m[1]), parts[i], flags=re.S)
        text = re.sub(r"(?<!\\)\$(.+?)(?<!\\)\$", lambda m: _math(m[1]), text, flags=re.S)
        text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
        text = re.sub(r"<br\s*/?>", "\n", text).replace("&nbsp;", " ").replace("\\$", "$")
        parts[i] = re.sub(r"</?(?:em|strong|b|i|code)>", "", text)
    return "".join(parts)


# ---------------------------------------------------------------- the check


def check(exercise: str, root: Path | str = ROOT, timeout: float = 120.0, out: Callable[[str], None] = print) -> None:
    """Run an exercise's tests and print the report: each test with PASS, FAIL or WAIT and why, then
    what to do next (the hint when one failed). In a notebook the report is the cell's output and
    nothing else (this returns None); ``run_check`` does the same and says whether all passed."""
    run_check(exercise, root, timeout, out)


def run_check(
    exercise: str, root: Path | str = ROOT, timeout: float = 120.0, out: Callable[[str], None] = print
) -> bool:
    """Run exercise's tests; print each with pass/fail/wait and why, then the hint if one failed.

    A test stopped by another exercise's stub (a unit test that also runs it, a cell reading a name
    its cell sets) waits for that exercise: it is not counted as this exercise's failure, and it
    is not a pass either. A failing test that also runs another exercise the student changed says
    so: that exercise may be the one to fix. Returns True when nothing failed and every test passed,
    or every test that runs this exercise alone passed (the others wait for exercises not done yet).
    """
    root = Path(root)
    data = load_course_map(root)
    exercises = data["exercises"]
    exercise = exercise_id(exercise, exercises)
    entry = exercises[exercise]
    out(f"exercise {exercise}: {entry['task']}  ({entry['where']})")
    if entry.get("kind") == "derivation":
        out("a derivation: written in its notebook and graded by hand; nothing to run.")
        return True
    if not entry["tests"]:
        out("no test checks this exercise in this course's map")
        return False
    if entry.get("cells") and (refused := answers.notebook_refusal(root / entry["cells"][0]["notebook"], exercise)):
        out(f"FAIL  {refused}\n0 of {len(entry['tests'])} passed: an answer is the numbers you worked out by hand")
        return False
    if entry.get("kind") == "test" and (refused := own_test_refusal(entry["tests"], root, exercise)):
        out(
            f"FAIL  {refused}\n0 of {len(entry['tests'])} passed: a test's expected values are the numbers you "
            "worked out by hand"
        )
        return False
    if entry.get("cells"):
        results = run_notebook_cells(entry["cells"], root, timeout=max(timeout, 300.0))
    else:
        results = run_unit_tests(entry["tests"], root, timeout)
    reaches = data.get("reaches", {})  # maps of version 4 on: the exercises each test runs
    changed: dict[str, bool] = {}

    def is_changed(other: str) -> bool:
        if other not in changed:
            changed[other] = other in exercises and attempted(other, exercises[other], root)
        return changed[other]

    for r in results:
        r.reason = other_stub(r.reason, exercise)
        if not r.passed and not r.reason.startswith("needs exercise "):
            reached = reaches.get(r.key or r.test, [])
            r.others = tuple(sorted((e for e in reached if e != exercise and is_changed(e)), key=_key))
    # a test stopped by another exercise's stub waits for it: this exercise is not to blame (the
    # grader runs it with the course's solution for the other one)
    waiting = [r for r in results if not r.passed and r.reason.startswith("needs exercise ")]
    for line in _report_lines(results, waiting):
        out(line)
    passed = sum(r.passed for r in results)
    out(
        f"{passed} of {len(results)} passed"
        + (
            f"; {len(waiting)} wait{'s' if len(waiting) == 1 else ''} for "
            f"another exercise (it runs again once that one is done)"
            if waiting
            else ""
        )
    )
    failed = [r for r in results if not r.passed and r not in waiting]
    if entry.get("kind") == "test":  # the student's own test: run against the student's own layer
        _report_own_test(exercise, entry, failed, waiting, root, out)
        return not failed and not waiting
    # the tests that run this exercise's code and no other's: when they all pass, the exercise is done
    # as far as it can be checked alone (a library exercise always has some: `make student` sees to it)
    own = [r for r in results if reaches.get(r.key or r.test) == [exercise]]
    alone = bool(own) and all(r.passed for r in own)
    suspects = sorted({e for r in failed for e in r.others}, key=_key)
    if failed and all(r.others for r in failed):
        # every failing test also runs code of another exercise the student changed: the fault may
        # well be there, and this exercise's hint would point at what may be right
        out(
            f"\nEvery failing test also runs exercise{'s' if len(suspects) > 1 else ''} {', '.join(suspects)}, "
            f"which you changed: check {_either(suspects)} first (make check EX={suspects[0]}), then this one again."
        )
    elif failed:
        out(f"\nHint for exercise {exercise}:\n{plain_text(hint(exercise, entry['task'], root))}")
        if suspects:
            out(f"(Some failing tests also run {', '.join(suspects)}, which you changed: check it too.)")
    elif waiting and alone:
        others = sorted({r.reason.split()[2] for r in waiting}, key=_key)
        out(
            f"\nExercise {exercise} passes every test that runs it alone: done. The tests that wait also run "
            f"exercise{'s' if len(others) > 1 else ''} {', '.join(others)}; they run again when you check "
            f"{'those' if len(others) > 1 else 'it'}."
        )
    elif waiting:
        others = sorted({r.reason.split()[2] for r in waiting}, key=_key)
        out(
            f"\nNothing failed so far, but exercise {exercise} is not fully checked yet: do exercise"
            f"{'s' if len(others) > 1 else ''} {', '.join(others)} first, then check again."
        )
    return not failed and (passed == len(results) or alone)


def own_test_refusal(tests: list[str], root: Path, exercise: str) -> str | None:
    """Why the student's own test (the map's node ids ``path::function``) is refused, else None: an expected
    value of its checks that is not a literal (answers.test_refusal; the grader asks the same)."""
    for test in tests:
        path, _, function = test.partition("::")
        try:
            source = (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # running it reports the missing file
        if refused := answers.test_refusal(source, function or None, exercise):
            return refused
    return None


def _report_own_test(
    exercise: str, entry: dict, failed: list[Outcome], waiting: list[Outcome], root: Path, out: Callable[[str], None]
) -> None:
    """What a check of the student's own test says: it ran against the student's own layer, and how the
    teacher grades it (against the correct layer and plausible wrong ones)."""
    layers = [e for e in entry.get("layers", []) if e != exercise]
    named = ", ".join(layers)
    if waiting:
        others = sorted({r.reason.split()[2] for r in waiting}, key=_key)
        out(
            f"\nYour test runs your layer, and exercise{'s' if len(others) > 1 else ''} {', '.join(others)} "
            f"{'are' if len(others) > 1 else 'is'} not done yet: do {_either(others)} first, then check again "
            "(this is not a failure of your test)."
        )
    elif failed:
        out(
            f"\nYour test fails on your own layer: a number you wrote, or your layer (exercises {named}: "
            f"make check EX={layers[0] if layers else exercise}), is wrong. Work the failing value out again by hand."
        )
        out(f"\nHint for exercise {exercise}:\n{plain_text(hint(exercise, entry['task'], root))}")
    else:
        out(f"\nYour test passes on your own layer (exercises {named}).")
    out(
        "Your teacher grades this test against the course's correct layer (it must pass there) and against "
        "plausible wrong layers: your score is the share of wrong layers it catches."
    )


def _either(exercises: list[str]) -> str:
    return exercises[0] if len(exercises) == 1 else ", ".join(exercises[:-1]) + " and " + exercises[-1]


SHOWN = 3  # tests shown per reason; the rest of a long list is counted, not printed


def _report_lines(results: list[Outcome], waiting: list[Outcome]) -> list[str]:
    """One line per test (and its reason), in groups of the same outcome and reason: a stub that
    many tests reach makes them all fail the same way, and a screenful of that says nothing new."""
    groups: dict[tuple[str, str, tuple[str, ...]], list[Outcome]] = {}
    for r in results:
        status = "PASS" if r.passed else "WAIT" if r in waiting else "FAIL"
        groups.setdefault((status, r.reason, r.others), []).append(r)
    lines = []
    for (status, reason, others), group in groups.items():
        also = (
            f"\n        this test also runs {', '.join(others)}, which you changed: check {_either(list(others))} first"
            if others
            else ""
        )
        for r in group[:SHOWN]:
            lines.append(f"  {status}  {r.test}" + (f"\n        {reason}" if reason else "") + also)
        if len(group) > SHOWN:
            more = len(group) - SHOWN
            lines.append(
                f"  {status}  ... and {more} more test{'s' if more > 1 else ''}" + (" the same way" if reason else "")
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].strip():
        print("usage: make check EX=4.3   (or: python -m scratchlib.course.exercises 4.3)", file=sys.stderr)
        return 2
    try:
        return 0 if run_check(args[0]) else 1
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
