"""Teacher-only blocks in the course's sources and notebooks, and the derivations of notebook 04.

``BEGIN TEACHER ONLY`` ... ``END TEACHER ONLY`` lines are left out of the student (and solved)
edition wherever they stand: a Makefile, a README, a .py source with solution regions (a
docstring's backward formula, which a derivation exercise asks the student for) and a notebook's
markdown cell. The second half reads the real course: in notebook 04's student edition nothing
shows a layer's backward formula before the student has derived it.
"""

import ast
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import isolate  # noqa: E402
from teacher.edition import edition_file, scan, teacher_blocks, write_edition  # noqa: E402
from teacher.markers import MarkerError  # noqa: E402

# the markers, as the course writes them
BEGIN, END = "BEGIN TEACHER ONLY", "END TEACHER ONLY"
SOLUTION, DONE = "### BEGIN SOLUTION", "### END SOLUTION"

LAYER = f'''"""A toy layer."""


class Double:
    r"""Output $2X$.

    Backward: derived in exercise 9.2.
    {BEGIN}
    $dX = 2 G$.
    {END}
    """

    def backward(self, g):
        {SOLUTION} 9.1: Double.backward
        return 2 * g
        {DONE}
'''


def course(tmp_path: Path, layer: str = LAYER, cells: list | None = None) -> Path:
    """A tiny course (no git: the edition lists its files by walking the folder)."""
    (tmp_path / "scratchlib").mkdir()
    (tmp_path / "scratchlib" / "layer.py").write_text(layer, encoding="utf-8")
    if cells is not None:
        (tmp_path / "notebooks").mkdir()
        nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "notebooks" / "09_toy.ipynb")
    return tmp_path


def markdown(text: str):
    return nbformat.v4.new_markdown_cell(text)


# ---------------------------------------------------------------- a .py source


def test_a_docstring_block_is_left_out_of_the_student_and_solved_editions_and_kept_in_the_probe(tmp_path):
    c = scan(course(tmp_path))
    student = edition_file(c, "scratchlib/layer.py", "student").decode()
    assert "dX = 2 G" not in student and "TEACHER ONLY" not in student
    assert "Backward: derived in exercise 9.2." in student  # the line outside the block stays
    assert 'raise ExerciseNotDone("exercise 9.1: Double.backward")' in student
    ast.parse(student)
    solved = edition_file(c, "scratchlib/layer.py", "solved").decode()
    assert "dX = 2 G" not in solved and "return 2 * g" in solved and "SOLUTION" not in solved
    probe = edition_file(c, "scratchlib/layer.py", "probe").decode()
    assert "dX = 2 G" in probe  # the grader's edition keeps every line


def test_a_block_that_holds_a_solution_region_is_refused(tmp_path):
    layer = LAYER.replace(f"        {SOLUTION}", f"        # {BEGIN}\n        {SOLUTION}").replace(
        f"        {DONE}\n", f"        {DONE}\n        # {END}\n"
    )
    with pytest.raises(MarkerError, match=r"scratchlib/layer.py:\d+: a solution marker inside the teacher-only"):
        scan(course(tmp_path, layer))


def test_a_block_inside_a_solution_region_is_refused(tmp_path):
    layer = LAYER.replace("        return 2 * g\n", f"        # {BEGIN}\n        return 2 * g\n        # {END}\n")
    with pytest.raises(MarkerError, match=r"layer.py:\d+: BEGIN TEACHER ONLY inside the solution region of line"):
        scan(course(tmp_path, layer))


def test_a_block_whose_removal_breaks_the_module_is_refused_by_the_scan(tmp_path):
    layer = LAYER.replace("    def backward(self, g):\n", f"    # {BEGIN}\n    def backward(self, g):\n    # {END}\n")
    with pytest.raises(MarkerError, match="without the teacher-only blocks, does not compile"):
        scan(course(tmp_path, layer))


@pytest.mark.parametrize(
    "text, message",
    [
        (f"a\n{BEGIN}\nb\n", r"where:2: BEGIN TEACHER ONLY is never closed"),
        (f"a\n{END}\n", r"where:2: END TEACHER ONLY without a BEGIN TEACHER ONLY"),
        (f"{BEGIN}\n{BEGIN}\n{END}\n", r"where:2: BEGIN TEACHER ONLY inside another \(line 1\)"),
    ],
)
def test_a_malformed_block_names_its_place_and_line(text, message):
    with pytest.raises(MarkerError, match=message):
        teacher_blocks(text, "where")


def test_the_grader_still_finds_the_students_code_in_a_file_without_the_block(tmp_path):
    """The student's file lacks the block's lines: the grader lines it up with the course all the same."""
    c = scan(course(tmp_path))
    regions = c.sources["scratchlib/layer.py"]
    student = edition_file(c, "scratchlib/layer.py", "student").decode()
    stub = 'raise ExerciseNotDone("exercise 9.1: Double.backward")'
    cases = {
        "stub": student,
        "solution": student.replace(stub, "return 2 * g"),
        "own": student.replace(stub, "return g + g"),
    }
    key = ("scratchlib/layer.py", None)
    for state, text in cases.items():
        copy = isolate.Copy()
        isolate.read_text(key, LAYER, regions, text, copy)
        assert copy.attempts["9.1"].state == state
        stretches = [copy.stretches["9.1"]] if "9.1" in copy.stretches else []
        compile(isolate.splice(copy.edition[key], stretches), "layer.py", "exec")


# ---------------------------------------------------------------- a notebook


def test_a_markdown_block_is_left_out_of_the_student_edition_and_the_rest_of_the_cell_stays(tmp_path):
    cells = [
        markdown(
            f"## Doubling\n\nOutput $2X$.\n\n<!-- {BEGIN} -->\nTeacher's note: $dX = 2G$.\n<!-- {END} -->\n\nNext."
        ),
        nbformat.v4.new_code_cell("print(1)"),
        markdown(
            f"Derive $dX$.\n\n<!-- BEGIN SOLUTION 9.2: dX of Double -->\n$dX = 2G$\n<!-- END SOLUTION -->\n\n"
            f"<!-- {BEGIN} -->\nGrading: the factor 2.\n<!-- {END} -->\nCheck it with exercise 9.1."
        ),
    ]
    root = course(tmp_path, cells=cells)
    c = scan(root)
    student = nbformat.reads(edition_file(c, "notebooks/09_toy.ipynb", "student").decode(), as_version=4)
    assert student.cells[0].source == "## Doubling\n\nOutput $2X$.\n\n\nNext."
    assert student.cells[1].source == "print(1)"
    text = student.cells[2].source
    assert "2G" not in text and "Grading" not in text and "TEACHER ONLY" not in text
    assert "**Exercise 9.2** (your derivation): dX of Double" in text and text.endswith("Check it with exercise 9.1.")
    probe = nbformat.reads(edition_file(c, "notebooks/09_toy.ipynb", "probe").decode(), as_version=4)
    assert "Teacher's note" in probe.cells[0].source
    assert nbformat.read(root / "notebooks" / "09_toy.ipynb", as_version=4).cells[0].source == cells[0].source


def test_a_notebook_without_regions_loses_its_blocks_too(tmp_path):
    root = course(tmp_path, cells=[markdown(f"Shown.\n<!-- {BEGIN} -->\nHidden.\n<!-- {END} -->\n")])
    student = edition_file(scan(root), "notebooks/09_toy.ipynb", "student").decode()
    assert "Shown." in student and "Hidden." not in student


@pytest.mark.parametrize(
    "cell, message",
    [
        (markdown(f"Shown.\n<!-- {BEGIN} -->\nHidden."), r"09_toy.ipynb cell 0:2: BEGIN TEACHER ONLY is never closed"),
        (
            nbformat.v4.new_code_cell(f"# {BEGIN}\nx = 1\n# {END}"),
            r"09_toy.ipynb cell 0: a teacher-only block in a code cell",
        ),
        (
            markdown(f"<!-- {BEGIN} -->\n<!-- BEGIN SOLUTION 9.2: a -->\nb\n<!-- END SOLUTION -->\n<!-- {END} -->"),
            r"cell 0:2: a solution marker inside the teacher-only block of line 1",
        ),
    ],
)
def test_a_notebook_block_in_the_wrong_place_is_refused_by_the_scan(tmp_path, cell, message):
    with pytest.raises(MarkerError, match=message):
        scan(course(tmp_path, cells=[cell]))


# ---------------------------------------------------------------- notebook 04: derive, then code

NB04 = "notebooks/04_full_library.ipynb"
LAYERS = "scratchlib/layers/"
# what gives each derivation's result away, as a notebook, a docstring, a hint or a stub would write it
GIVEAWAYS = {
    "4.25": [  # Linear
        r"G\^\{?\\top\}?\s*X",
        r"G\^T\s*X",
        r"dX\s*=\s*G\s*W",
        r"\(G\s*W\)_",
        r"column sums of G",
        r"\\sum_j G_\{ij\} W_\{jk\}",
        r"\\sum_i G_\{ij\} X_\{ik\}",
    ],
    "4.26": [r"\[\s*[XZH](_\{ij\})?\s*>\s*0\s*\]", r"where the input was positive"],  # ReLU
    "4.27": [r"2\s*\\lambda", r"2 lambda", r"2 \* strength", r"1 - 2\s*\\eta"],  # Regularization
    "4.28": [r"\\frac\{2\s*g?\}\{N\}", r"\\frac2N", r"2\s*g\s*/\s*N", r"2 g \("],  # MSELoss
    "4.29": [  # Scale and Sum
        r"c\s*\\,\s*G",
        r"=\s*c\s*G",
        r"da\s*=\s*db",
        r"copies its gradient",
        r"same gradient",
        r"hands its own",
    ],
}
# the layers whose backward each derivation asks for, and the files that hold them
DERIVED = {
    "4.25": ("linear.py", ["Linear"]),
    "4.26": ("activations.py", ["ReLU"]),
    "4.27": ("losses.py", ["Regularization"]),
    "4.28": ("losses.py", ["MSELoss"]),
    "4.29": ("arithmetic.py", ["Scale", "Sum"]),
}
# the code exercises that implement each derivation
IMPLEMENTED = {"4.25": ["4.3"], "4.26": ["4.5"], "4.27": ["4.15"], "4.28": ["4.17"], "4.29": ["4.11", "4.13"]}


def giveaways(exercise: str, text: str) -> list[str]:
    return [m.group() for pattern in GIVEAWAYS[exercise] for m in [re.search(pattern, text)] if m]


@pytest.fixture(scope="module")
def real_course():
    return scan(ROOT)


@pytest.fixture(scope="module")
def student(real_course, tmp_path_factory):
    out = tmp_path_factory.mktemp("edition") / "student"
    write_edition(real_course, out, "student")
    return out


@pytest.fixture(scope="module")
def student_04(student):
    """Notebook 04 of the student edition as one text, and where each place in it starts."""
    nb = nbformat.read(student / NB04, as_version=4)
    return "\n".join(cell.source + "\n" + json.dumps(cell.get("outputs", [])) for cell in nb.cells)


def position(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text.index(needle)


def test_the_worked_derivations_are_the_rubric_in_the_teachers_notebook(real_course):
    for exercise in GIVEAWAYS:
        assert real_course.kind(exercise) == "derivation"
        body = "".join(real_course.region(exercise).body)
        assert giveaways(exercise, body), f"exercise {exercise}'s worked derivation states no result"


def test_nothing_before_a_derivation_gives_its_result_away(student_04):
    for exercise in GIVEAWAYS:
        before = student_04[: position(student_04, f"**Exercise {exercise}** (your derivation)")]
        assert giveaways(exercise, before) == [], f"before exercise {exercise}"


def test_each_derivation_comes_before_the_code_that_implements_it_and_before_its_file_is_opened(student_04):
    for exercise, (module, _) in DERIVED.items():
        derived = position(student_04, f"**Exercise {exercise}** (your derivation)")
        for code in IMPLEMENTED[exercise]:
            assert derived < position(student_04, f"> **Exercise {code}** · edit"), (exercise, code)
        opened = student_04.index(f"edit `{LAYERS}{module}`")  # the first exercise in that file
        assert derived < opened, f"{module} is opened before exercise {exercise}"


def test_the_derivations_keep_their_question_and_scaffold_in_the_student_edition(student):
    nb = nbformat.read(student / NB04, as_version=4)
    for exercise in GIVEAWAYS:
        (cell,) = [c for c in nb.cells if f"**Exercise {exercise}** (your derivation)" in c.source]
        assert f"> **Exercise {exercise}** · write your derivation in this cell, below" in cell.source
        assert "<summary>Hint</summary>" in cell.source and "\nWrite" in cell.source
        assert "SOLUTION" not in cell.source and "Grading" not in cell.source


def test_the_layer_files_give_no_derived_result_in_docstrings_or_stubs(student):
    """A file is opened after its derivations (the test above); its docstrings and the messages of its
    stubs (what a waiting test prints) still leave the result to the derivation and the rule beside
    backward (the stepper's text) is what the student checks the derivation against."""
    for exercise, (module, classes) in DERIVED.items():
        tree = ast.parse((student / LAYERS / module).read_text(encoding="utf-8"))
        texts = [ast.get_docstring(tree) or ""]
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in classes:
                texts.append(ast.get_docstring(node) or "")
                texts += [
                    arg.value
                    for call in ast.walk(node)
                    if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "ExerciseNotDone"
                    for arg in call.args
                    if isinstance(arg, ast.Constant)
                ]
        for text in texts:
            assert giveaways(exercise, text) == [], (module, text)


def test_base_py_opened_first_gives_no_derived_result(student):
    text = (student / LAYERS / "base.py").read_text(encoding="utf-8")
    for exercise in GIVEAWAYS:
        assert giveaways(exercise, text) == [], exercise


# a gradient written as a formula (dX = G W, dW = 2 * 0.1 * ..., dP = (2 g / N) D, da = db), not as numbers
FORMULA = re.compile(r"\bd[XWPa]\s*=\s*(?:[A-Za-z(]|\d+ \*)")
# the course's tests of each derived layer: a student opens them when a check fails
LAYER_TESTS = {
    "4.25": ("test_linear.py",),
    "4.26": ("test_relu.py",),
    "4.27": ("test_regularization.py",),
    "4.28": ("test_mseloss.py",),
    "4.29": ("test_scale.py", "test_sum.py"),
}


def test_the_layers_tests_give_no_derived_result_in_the_student_edition(real_course, student):
    """The tests' worked numbers stay; the formula they were worked with is teacher-only (the derivation
    asks for it). The teacher's copy keeps it: otherwise this test would check nothing."""
    for exercise, files in LAYER_TESTS.items():
        for name in files:
            theirs = (student / "tests" / name).read_text(encoding="utf-8")
            ours = (real_course.root / "tests" / name).read_text(encoding="utf-8")
            assert giveaways(exercise, theirs) + FORMULA.findall(theirs) == [], name
            assert FORMULA.findall(ours), f"{name}: the teacher's copy states no formula"


# ---------------------------------------------------------------- notebook 06 and scratchlib/autograd

NB06 = "notebooks/06_autograd_from_scratch.ipynb"
AUTOGRAD = "scratchlib/autograd/"
# what gives each backward (and 6.40's stable forward, 6.41's forward) away, as a docstring, a stepper rule,
# a region title, a table row or a hint writes it
GIVEAWAYS_06 = {
    "6.4": [r"\bd[aA]\s*=\s*G\s*[,$]", r"\bd[bB]\s*=\s*G\s*[,$]"],
    "6.5": [r"\bd[bB]\s*=\s*(-|\\pm\s*)G\b", r'"-G, summed'],
    "6.6": [r"G\s*\\odot\s*[bB]\b", r"G\s*\\odot\s*[aA]\b", r"G \* [ab]\b"],
    "6.7": [r"G\s*/\s*[bB]\b", r"[aA]\s*/\s*[bB]\^2"],
    "6.8": [r"\bd[xX]\s*=\s*-G\b", r'"-G"'],
    "6.9": [r"p\\?,?\s*[xX]\^\{p\s*-\s*1\}", r"x\^\(p - 1\)"],
    "6.10": [r"G\s*B\^\\top", r"A\^\\top\s*G", r"G b\^T", r"a\^T G"],
    "6.11": [r"G\^\\top", r'"G\^T'],
    "6.12": [r"G reshaped to"],
    "6.13": [r"copied (back )?along the summed"],
    "6.14": [r"G\s*/\s*[xX]\b"],
    "6.15": [r"G\s*\\odot\s*e\^", r"G \* exp"],
    "6.16": [r"\\text\{not \}", r"not x <= 0", r"G\s*\\odot\s*\[X > 0\]"],
    "6.17": [r"e\^\{x_j - \\mathrm\{lse\}", r"exp\(x - lse", r"G\s*\\odot\s*\\mathrm\{softmax\}"],
    "6.18": [r"dX\s*=\s*G\s*W", r"G\^\\top\s*X", r"G\^T x", r'"G weight"'],
    "6.19": [r"B\\?,?\s*d\\hat x\s*-\s*\\sum", r"B dxhat - sum", r"column sums of G \* xhat", r"\\sum_i G_i \\hat x_i"],
    "6.20": [
        r"\\mathrm\{softmax\}\(Z\)\s*-\s*\\mathrm\{onehot\}",
        r"softmax\(logits\) - onehot",
        r"\(softmax - onehot\)",
    ],
    "6.40": [r"m_i\s*=\s*\\max_j", r"z_j - m - \\log", r"m = \\max_k z_k"],
    "6.41": [r"\(var \+ eps\) \*\* 0\.5"],
    "6.50": [r"1 - \\tanh\^2", r"1 - Y\^2", r"1 - tanh\^2"],
    "6.51": [
        r"\\sigma\(x\)\s*\(1 - \\sigma\(x\)\)",
        r"\\sigma\s*\(1 - \\sigma\)",
        r"Y\s*\(1 - Y\)",
        r"Y \* \(1 - Y\)",
        r"out \* \(1 - out\)",
    ],
    "6.52": [r"permuted (back )?by the inverse"],
    "6.53": [r"s_j\s*\(\\delta_\{ij\} - s_i\)", r"G_i - \\sum_j G_j s_j", r"G - sum_j G_j Y_j", r"G - \\sum_j G_j S_j"],
    "6.54": [r"G_i - s_i \\sum_j", r"G - S \\sum_j", r"G - softmax\(x\) \* sum"],
    "6.55": [r"\\Phi\([xX]\) \+ [xX]\s*\\?,?\s*\\varphi", r"Phi\(x\) \+ x phi"],
    "6.56": [r"G\s*\\odot\s*k", r"G \* mask"],
}


def giveaways_06(text: str) -> list[tuple[str, str]]:
    return [(ex, m.group()) for ex, patterns in GIVEAWAYS_06.items() for p in patterns for m in re.finditer(p, text)]


def notebook_06_before_training(root: Path) -> str:
    """Notebook 06 up to its section 4 (Training on MNIST): every cell's source and outputs, as one text."""
    nb = nbformat.read(root / NB06, as_version=4)
    texts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## 4 "):
            break
        texts.append(cell.source + "\n" + json.dumps(cell.get("outputs", [])))
    return "\n".join(texts)


def autograd_sources(root: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((root / AUTOGRAD).glob("*.py"))}


def test_the_student_edition_of_06_and_the_engine_gives_no_backward_formula(student):
    """Docstrings, stepper rules, stub messages, comments, the table of rules, hints and Try-this answers:
    the student derives each backward; nothing in the student edition writes it out."""
    found = giveaways_06(notebook_06_before_training(student))
    assert found == [], f"{NB06}: {found}"
    for name, text in autograd_sources(student).items():
        assert giveaways_06(text) == [], (name, giveaways_06(text))


def test_the_teachers_edition_still_writes_every_formula(real_course):
    """The teacher's copy reads as a textbook: each formula the student edition hides is still there
    (otherwise the test above would check nothing)."""
    text = notebook_06_before_training(real_course.root) + "\n".join(autograd_sources(real_course.root).values())
    stated = {ex for ex, _ in giveaways_06(text)}
    assert stated == set(GIVEAWAYS_06), sorted(set(GIVEAWAYS_06) - stated)


def test_the_try_this_answers_of_06_are_the_teachers(real_course, student):
    ours, theirs = notebook_06_before_training(real_course.root), notebook_06_before_training(student)
    assert ours.count("<summary>Answer</summary>") >= 6
    assert "<summary>Answer" not in theirs
    assert theirs.count("**Try this.**") == 3 and theirs.count("<summary>Hint</summary>") > 3


def test_the_stepper_rules_of_the_engine_are_empty_in_the_student_edition(real_course, student):
    """Each Function's ``rule`` (the backward stepper's text) is its derived backward: the teacher's
    edition writes one for every input the tests step through, the student's edition leaves ``{}``."""
    for name in ("ops.py", "shape_ops.py", "functional.py"):
        for root, empty in ((real_course.root, False), (student, True)):
            tree = ast.parse((root / AUTOGRAD / name).read_text(encoding="utf-8"))
            rules = [
                node.value
                for cls in ast.walk(tree)
                if isinstance(cls, ast.ClassDef)
                for node in cls.body
                if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["rule"]
            ]
            assert rules, name
            for rule in rules:
                assert isinstance(rule, ast.Dict) and (not rule.keys) == empty, (name, root, ast.unparse(rule))
