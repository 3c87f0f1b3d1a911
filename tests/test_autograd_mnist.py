"""The MNIST run of notebook 06 (scratchlib.autograd.mnist): CMU HW1P1's train (6.45) and mnist (6.46).

Each test runs one exercise alone. train's tests hand it models, losses and optimizers written in the test
(or torch.nn's own), and put a validation written in the test in the place of nn.validation_accuracy
(exercise 6.44): it notes when it was called and what the model held then. mnist's test puts a train
written in the test in the place of exercise 6.45 and looks at what mnist built and handed to it.
"""

import copy
import inspect

import torch

from expect import expect
from scratchlib.autograd import Tensor, nn, optim
from scratchlib.autograd import mnist as loop

# --------------------------------------------------------------------------- train (6.45): the calls, in order


class Log:
    """What the doubles below saw, in order: (event, what came with it)."""

    def __init__(self):
        self.events = []

    def add(self, event, value=None):
        self.events.append((event, value))

    def names(self, *kinds):
        return [event for event, _ in self.events if event in kinds]

    def values(self, kind):
        return [value for event, value in self.events if event == kind]


class Recorder(nn.Module):
    """A model that notes each input it is given and returns a marker instead of scores."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def forward(self, x):
        self.log.add("forward", x)
        return "scores"


class Loss:
    def __init__(self, log, value):
        self.log, self.value = log, value

    def backward(self):
        self.log.add("backward")

    def item(self):
        return self.value


class Criterion:
    """A loss that notes the labels and the output it is given; its n-th value is n / 8."""

    def __init__(self, log):
        self.log, self.calls = log, 0

    def __call__(self, output, target):
        self.calls += 1
        self.log.add("loss", (output, target))
        return Loss(self.log, self.calls / 8)


class Optimizer:
    def __init__(self, log):
        self.log = log

    def zero_grad(self):
        self.log.add("zero_grad")

    def step(self):
        self.log.add("step")


def kind(value):
    """The qualified name of a value's class: torch.Tensor, or our scratchlib.autograd.tensor.Tensor."""
    return f"{type(value).__module__}.{type(value).__qualname__}"


def validation_written_in_the_test(log, result):
    """Stands for nn.validation_accuracy (6.44): notes the steps taken so far and its arguments."""

    def validate(model, x, y, wrap):
        log.add("validate", (len(log.names("step")), model, x, y, wrap))
        return result(model)

    return validate


def test_train_alone_shuffles_each_epoch_and_steps_in_order(monkeypatch):
    """Runs only exercise 6.45: 12 rows (row i is [i, -i], label i % 3) in batches of 4 for 3 epochs."""
    log = Log()
    scores = iter([0.125, 0.25, 0.375, 0.5, 0.625, 0.75])
    monkeypatch.setattr(nn, "validation_accuracy", validation_written_in_the_test(log, lambda model: next(scores)))
    x = torch.stack([torch.arange(12.0), -torch.arange(12.0)], dim=1)
    y = torch.arange(12) % 3
    x_val, y_val = torch.ones(2, 2), torch.tensor([0, 1])
    model = Recorder(log)
    steps, accuracies, losses = loop.train(
        model, Optimizer(log), Criterion(log), x, y, x_val, y_val, epochs=3, batch_size=4, validate_every=2, seed=5
    )

    # the order of each step: zero_grad before backward before step; forward, loss, backward
    expect(log.names("zero_grad", "backward", "step"), ["zero_grad", "backward", "step"] * 9)
    expect(log.names("forward", "loss", "backward"), ["forward", "loss", "backward"] * 9)

    # a new order of the rows each epoch, from one generator seeded with seed, in batches of 4
    inputs = log.values("forward")
    rows = [x_in.data[:, 0].long().tolist() for x_in in inputs]
    generator = torch.Generator().manual_seed(5)
    orders = [torch.randperm(12, generator=generator).tolist() for _ in range(3)]
    expect(rows, [order[i : i + 4] for order in orders for i in (0, 4, 8)])
    epochs = [sum(rows[3 * e : 3 * e + 3], []) for e in range(3)]
    expect([sorted(e) == list(range(12)) for e in epochs], [True] * 3)  # every row once per epoch
    expect([epochs[0] != epochs[1], epochs[1] != epochs[2]], [True, True])  # shuffled again each epoch

    # the inputs: our Tensor (the default wrap), not gradient-enabled, holding the batch's rows
    kinds = [[kind(x_in), x_in.requires_grad, torch.equal(x_in.data, x[r])] for x_in, r in zip(inputs, rows)]
    expect(kinds, [["scratchlib.autograd.tensor.Tensor", False, True]] * 9)
    # the loss gets the model's output and the batch's labels, as a plain tensor
    targets = log.values("loss")
    expect(
        [[out, kind(t), t.tolist()] for out, t in targets], [["scores", "torch.Tensor", y[r].tolist()] for r in rows]
    )

    # validation before the first step, then after every 2 steps counted across epochs, with the given data
    calls = log.values("validate")
    expect([c[0] for c in calls], [0, 2, 4, 6, 8])
    expect([[c[1] is model, c[2] is x_val, c[3] is y_val, c[4] is Tensor] for c in calls], [[True] * 4] * 5)
    expect(
        [steps, accuracies, losses], [[0, 2, 4, 6, 8], [0.125, 0.25, 0.375, 0.5, 0.625], [n / 8 for n in range(1, 10)]]
    )


def test_train_alone_with_its_defaults_runs_the_handouts_3_epochs_of_100_rows_validating_every_100_steps(monkeypatch):
    """Runs only exercise 6.45 with its defaults (CMU's): 3,400 rows make 34 batches of 100 an epoch, so
    3 epochs are 102 steps, validated at steps 0 and 100; the shuffles come from seed 0."""
    log = Log()
    monkeypatch.setattr(nn, "validation_accuracy", validation_written_in_the_test(log, lambda model: 0.5))
    x = torch.arange(3400.0).unsqueeze(1)
    y = torch.zeros(3400, dtype=torch.long)
    steps, accuracies, losses = loop.train(Recorder(log), Optimizer(log), Criterion(log), x, y, x[:2], y[:2])

    generator = torch.Generator().manual_seed(0)
    first_epoch = torch.randperm(3400, generator=generator)
    rows = [x_in.data[:, 0].long() for x_in in log.values("forward")]
    expect([len(rows), {len(r) for r in rows}], [102, {100}])
    expect(torch.equal(torch.cat(rows[:34]), first_epoch), True)
    expect([steps, accuracies, len(losses)], [[0, 100], [0.5, 0.5], 102])


# ------------------------------------------------ train (6.45): a torch.nn model, against a loop written here


def reference_run(model, x, y, epochs, batch_size, every, seed):
    """The same training with torch alone: the parameters at each validation step and each batch's loss."""
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    draw = torch.Generator().manual_seed(seed)
    batches = torch.cat([torch.randperm(len(x), generator=draw) for _ in range(epochs)]).split(batch_size)
    snapshots = {0: [p.detach().clone() for p in model.parameters()]}
    batch_losses = []
    for k, rows in enumerate(batches, start=1):
        for p in model.parameters():
            p.grad = None
        value = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
        value.backward()
        sgd.step()
        batch_losses.append(value.item())
        if k % every == 0:
            snapshots[k] = [p.detach().clone() for p in model.parameters()]
    return snapshots, batch_losses


def test_train_alone_trains_a_torch_model_as_torch_does(monkeypatch):
    """Runs only exercise 6.45, on torch.nn's model, loss and SGD: 24 rows in batches of 8 for 4 epochs."""
    draw = torch.Generator().manual_seed(11)
    x, y = torch.randn(24, 6, generator=draw), torch.randint(0, 3, (24,), generator=draw)
    x_val, y_val = torch.randn(5, 6, generator=draw), torch.randint(0, 3, (5,), generator=draw)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        twin = torch.nn.Sequential(
            torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(), torch.nn.Linear(5, 3)
        )
    reference = copy.deepcopy(twin)
    seen = []

    def snapshot(model):
        seen.append([p.detach().clone() for p in model.parameters()])
        return len(seen) / 10

    monkeypatch.setattr(nn, "validation_accuracy", validation_written_in_the_test(Log(), snapshot))
    sgd = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    steps, accuracies, losses = loop.train(
        twin, sgd, torch.nn.CrossEntropyLoss(), x, y, x_val, y_val, 4, 8, 5, seed=3, wrap=lambda t: t
    )
    snapshots, reference_losses = reference_run(reference, x, y, epochs=4, batch_size=8, every=5, seed=3)
    expect([steps, accuracies], [[0, 5, 10], [0.1, 0.2, 0.3]])
    expect(losses, reference_losses, atol=1e-6)
    for step, params in zip(steps, seen):  # what the model held at each validation
        expect(params, snapshots[step], atol=1e-6)
    expect([p.detach() for p in twin.parameters()], [p.detach() for p in reference.parameters()], atol=1e-6)


# ------------------------------------------------------------------- mnist (6.46): what it builds and hands on


def test_mnist_alone_builds_the_model_loss_and_optimizer_and_trains(monkeypatch):
    """Runs only exercise 6.46: train is a double written here that notes what it was given."""
    signature = inspect.signature(loop.train)
    given = {}

    def train_written_in_the_test(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given.update(bound.arguments)
        return "the curve"

    monkeypatch.setattr(loop, "train", train_written_in_the_test)
    x, y, x_val, y_val = torch.zeros(3, 784), torch.zeros(3, dtype=torch.long), torch.ones(2, 784), torch.ones(2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model, curve = loop.mnist(x, y, x_val, y_val, epochs=7, seed=4)
        torch.manual_seed(0)
        first, second = torch.nn.Linear(784, 20), torch.nn.Linear(20, 10)

    # the model: Linear(784, 20) -> BatchNorm1d(20) -> ReLU -> Linear(20, 10), in training mode
    expect(
        [type(model).__name__, [type(m).__name__ for m in model.layers]],
        ["Sequential", ["Linear", "BatchNorm1d", "ReLU", "Linear"]],
    )
    sizes = [
        [model[0].in_features, model[0].out_features],
        model[1].num_features,
        [model[3].in_features, model[3].out_features],
    ]
    expect(sizes, [[784, 20], 20, [20, 10]])
    expect(model.training, True)
    # drawn from torch's global generator, as torch.nn draws them: a torch.nn twin from the same seed is equal
    expect(
        [model[0].weight.data, model[0].bias.data, model[3].weight.data],
        [first.weight.detach(), first.bias.detach(), second.weight.detach()],
    )

    # what train got: this model, the loss, SGD over the model's parameters with lr 0.1 and momentum 0.9, the data
    expect([given["model"] is model, curve], [True, "the curve"])
    expect(type(given["criterion"]).__name__, "CrossEntropyLoss")
    sgd = given["optimizer"]
    expect([type(sgd).__name__, sgd.lr, sgd.momentum], ["SGD", 0.1, 0.9])
    expect([p is q for p, q in zip(sgd.params, model.parameters())] + [len(sgd.params)], [True] * 6 + [6])
    data = [
        given[name] is value for name, value in [("x_train", x), ("y_train", y), ("x_val", x_val), ("y_val", y_val)]
    ]
    expect(data, [True] * 4)
    expect(
        [given["epochs"], given["seed"], given["batch_size"], given["validate_every"], given["wrap"] is Tensor],
        [7, 4, 100, 100, True],
    )
    expect(isinstance(sgd, optim.SGD), True)

    # by default, the handout's 3 epochs from seed 0
    loop.mnist(x, y, x_val, y_val)
    expect([given["epochs"], given["seed"]], [3, 0])
