"""Every task the lab handouts give a student is the student's to do (issue 28).

TASKS lists the handout tasks (in /work/shared/sources, as the course's README of its sources
names them) with the exercise that holds each one. The test builds each file's student edition
as `make student` does and fails on a task that is given there rather than stubbed: its solution
region must exist in the course, and in the student edition the region's code must be gone and
its one-line stub, naming the exercise, in its place; and no other cell or file of the student
edition may show a line of its solution (teacher.leaks, which `make student` runs on every
exercise). A test of the teacher's tools: it ships only in the teacher's edition.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import leaks  # noqa: E402
from teacher.edition import edition_file, scan, write_edition  # noqa: E402

NB02 = "notebooks/02_autograd_baseline.ipynb"
NB03 = "notebooks/03_manual_backprop.ipynb"
NB05 = "notebooks/05_training.ipynb"
MLP = "scratchlib/mlp.py"
BASE = "scratchlib/layers/base.py"
LINEAR = "scratchlib/layers/linear.py"
MINE = "tests/test_my_layers.py"
OPS = "scratchlib/autograd/ops.py"
TENSOR = "scratchlib/autograd/tensor.py"
ENGINE = "scratchlib/autograd/function.py"
NN = "scratchlib/autograd/nn.py"
FUNCTIONAL = "scratchlib/autograd/functional.py"
OPTIM = "scratchlib/autograd/optim.py"
MNIST = "scratchlib/autograd/mnist.py"

# handout, task, the file that holds it, exercise id. Add the rows of your notebook here.
TASKS = [
    ("MSOE lab 3", "initialisation: weights a scaled normal, zero biases", NB02, "2.7"),
    ("MSOE lab 3", "the epoch and batch loop of SGD", NB02, "2.8"),
    ("MSOE lab 3", "the rotation learned: the end-to-end matrix W*M, to equal R", NB02, "2.9"),
    ("MSOE lab 3", "explore: the initial scale and the loss before training", NB02, "2.50"),
    ("MSOE lab 3", "explore: learning rate and hidden size", NB02, "2.51"),
    ("LMU explorations", "explore: depth (stacked hidden layers)", NB02, "2.52"),
    ("LMU Ex 2", "NeuralNetwork.forward", MLP, "3.12"),
    ("LMU Ex 2", "NeuralNetwork.get_loss", MLP, "3.13"),
    ("LMU Ex 2", "NeuralNetwork.backward", MLP, "3.4"),
    ("LMU Ex 2", "train", MLP, "3.14"),
    ("LMU explorations", "explore: depth (no hidden layer)", NB03, "3.50"),
    ("LMU explorations", "explore: the scale of the initial weights", NB03, "3.51"),
    ("MSOE lab 5", "Linear's backward: dX, dW, db", LINEAR, "4.3"),
    ("MSOE lab 7", "step of a parameter", BASE, "4.30"),
    ("MSOE lab 7", "clear_grad", BASE, "4.31"),
    ("MSOE lab 7", "your own unit test of Linear, by hand", MINE, "4.32"),
    ("MSOE lab 7", "your own unit test of ReLU, by hand", MINE, "4.33"),
    ("MSOE lab 7", "your own unit test of MSELoss, by hand", MINE, "4.34"),
    ("MSOE lab 7", "your own unit test of Scale, by hand", MINE, "4.35"),
    ("MSOE lab 7", "your own unit test of Sum, by hand", MINE, "4.36"),
    ("MSOE lab 7", "your own unit test of Regularization, by hand", MINE, "4.37"),
    ("MSOE lab 7", "your own unit test of SoftmaxCrossEntropy, by hand", MINE, "4.38"),
    ("LMU explorations", "explore: the learning rate on MNIST", NB05, "5.50"),
    ("MSOE lab 3", "explore: noise, and whether regularization helps", NB05, "5.51"),
    ("LMU explorations", "explore: width (the hidden units circles and xor need)", NB05, "5.52"),
    ("LMU explorations", "explore: initialisation (the loss before training by the initial scale)", NB05, "5.53"),
    ("CMU HW1P1 1.1", "Sub.backward", OPS, "6.5"),
    ("CMU HW1P1 1.1", "Mul.backward", OPS, "6.6"),
    ("CMU HW1P1 1.1", "Div.backward", OPS, "6.7"),
    ("CMU HW1P1 1.1", "Sub.forward", OPS, "6.28"),
    ("CMU HW1P1 1.1", "Mul.forward", OPS, "6.29"),
    ("CMU HW1P1 1.1", "Div.forward", OPS, "6.30"),
    ("CMU HW1P1 1.1", "Tensor.__sub__", TENSOR, "6.31"),
    ("CMU HW1P1 1.1", "Tensor.__mul__", TENSOR, "6.32"),
    ("CMU HW1P1 1.1", "Tensor.__truediv__", TENSOR, "6.33"),
    ("CMU HW1P1 1.2", "Function.apply: run forward and add its node to the graph", ENGINE, "6.34"),
    ("CMU HW1P1 1.2", "Tensor.backward: seed the gradient and start the traversal", ENGINE, "6.35"),
    ("CMU HW1P1 2.1", "Sequential.forward", NN, "6.38"),
    ("CMU HW1P1 2.1", "Linear.forward, through the functional op", NN, "6.39"),
    ("CMU HW1P1 2.2", "the ReLU Function's forward", OPS, "6.36"),
    ("CMU HW1P1 2.2", "nn.ReLU.forward", NN, "6.37"),
    ("CMU HW1P1 2.2", "the ReLU Function's backward", OPS, "6.16"),
    ("CMU HW1P1 2.4", "BatchNorm1d's forward in training: the batch's statistics normalise", FUNCTIONAL, "6.41"),
    ("CMU HW1P1 2.4", "BatchNorm1d's running mean and unbiased running variance", FUNCTIONAL, "6.42"),
    ("CMU HW1P1 2.4", "BatchNorm1d's forward in eval: the running statistics", NN, "6.43"),
    ("CMU HW1P1 2.4", "BatchNorm1d's backward", FUNCTIONAL, "6.19"),
    ("CMU HW1P1 2.5", "cross-entropy's stable forward (the LogSumExp trick)", FUNCTIONAL, "6.40"),
    ("CMU HW1P1 2.5", "cross-entropy's backward", FUNCTIONAL, "6.20"),
    ("CMU HW1P1 3.1", "SGD with momentum: step", OPTIM, "6.21"),
    ("CMU HW1P1 3.1", "mnist: the loss, SGD and the 784-20-BatchNorm-ReLU-10 model, then train", MNIST, "6.46"),
    ("CMU HW1P1 3.2", "train: shuffle each epoch, inputs without gradients, validate every 100 batches", MNIST, "6.45"),
    ("CMU HW1P1 3.3", "validate: eval mode, the accuracy over the validation set", NN, "6.44"),
]


@pytest.fixture(scope="module")
def course():
    return scan(ROOT)


@pytest.fixture(scope="module")
def shown_elsewhere(course, tmp_path_factory):
    """exercise -> the places of the student edition, beside its own, that show a line of its solution."""
    out = tmp_path_factory.mktemp("handout") / "student"
    files = write_edition(course, out, "student")
    found: dict[str, list[str]] = {}
    for leak in leaks.refused(leaks.code_leaks(course, out, files)):
        found.setdefault(leak.exercise, []).append(f"{leak.place}: {leak.shown}")
    return found


def regions_of(course, path):
    """The solution regions of one course file: a source's, or every cell's of a notebook."""
    if path.endswith(".ipynb"):
        return [r for regions in course.notebooks.get(path, {}).values() for r in regions]
    return list(course.sources.get(path, []))


def student_text(course, path, region):
    """The student edition of the region's place: its source file, or its notebook cell (outputs left out)."""
    raw = edition_file(course, path, "student").decode("utf-8")
    if path.endswith(".ipynb"):
        index = int(region.where.rsplit(" cell ", 1)[1])
        return "".join(json.loads(raw)["cells"][index]["source"])
    return raw


def test_the_table_names_each_exercise_once_in_its_own_notebook():
    ids = [exercise for *_, exercise in TASKS]
    assert len(ids) == len(set(ids)), f"an exercise listed twice: {sorted(e for e in ids if ids.count(e) > 1)}"
    for handout, task, path, exercise in TASKS:
        if path.startswith("notebooks/"):
            number = int(Path(path).name.split("_")[0])
            assert exercise.split(".")[0] == str(number), f"{handout}: {task}: exercise {exercise} is not in {path}"


@pytest.mark.parametrize("handout, task, path, exercise", TASKS, ids=[f"{e} {t}" for _, t, _, e in TASKS])
def test_each_handout_task_is_stubbed_in_the_student_edition(course, handout, task, path, exercise):
    found = [r for r in regions_of(course, path) if r.id == exercise]
    assert found, f"{handout}: {task}: no solution region {exercise} in {path}: the task is given, not an exercise"
    region = found[0]
    text = student_text(course, path, region)
    stub = region.stub().strip()
    assert stub in text, (
        f"{handout}: {task}: the student edition of {region.where} lacks the stub of {exercise}: {stub!r}"
    )
    # the region's code is gone from its place (lines of some length: `return x` may stand elsewhere too)
    code = [line.strip() for line in region.body if len(line.strip()) > 12 and not line.strip().startswith("#")]
    kept = {line.strip() for line in text.splitlines()}
    shown = [line for line in code if line in kept]
    assert not shown, (
        f"{handout}: {task}: the student edition of {region.where} still shows {exercise}'s code: {shown[0]!r}"
    )


@pytest.mark.parametrize("handout, task, path, exercise", TASKS, ids=[f"{e} {t}" for _, t, _, e in TASKS])
def test_no_other_place_of_the_student_edition_shows_the_task_done(shown_elsewhere, handout, task, path, exercise):
    """A stub is no exercise when another cell or file shows its lines (a variant of the task, a copy)."""
    assert exercise not in shown_elsewhere, f"{handout}: {task}: {exercise} is shown in {shown_elsewhere[exercise]}"
