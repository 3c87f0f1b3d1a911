"""Bad input to training (notebooks 03 and 05): the loops, the data sets, notebook 03's MLP;
and what training must get right: labels of any integer dtype, to_torch's output activation.

Rows from issue 30 (items 5, 10 and the training parts of 14).
"""

import math

import pytest
import torch

from bad_input import Bad, check, rows
from scratchlib import mlp as notebook03
from scratchlib.layers import mlp
from scratchlib.training import data, train

F64 = torch.float64


def classifier():
    """A small library MLP and its data: (net, x, y)."""
    x, y = data.xor(n=40)
    return mlp([2, 4, 2], generator=torch.Generator().manual_seed(0)), x, y


def weights(made):
    net = made[0] if isinstance(made, tuple) else made
    return [p.output for p in net.parameters()]


def notebook03_net():
    return notebook03.NeuralNetwork(2, 1, [3], generator=torch.Generator().manual_seed(0))


def notebook03_weights(net):
    return [(layer.linear.weight, layer.linear.bias) for layer in net.layers]


def nothing():
    return None


def torch_classifier():
    """A torch.nn twin of :func:`classifier`'s net and the same data: (model, x, y)."""
    net, x, y = classifier()
    return train.to_torch(net), x, y


def torch_weights(made):
    return [p.detach() for p in made[0].parameters()]


def train_torch(made, **changes):
    model, x, y = made
    return train.train_torch(**{"model": model, "x": x, "y": y, "epochs": 1, "lr": 0.1, **changes})


@rows(
    Bad(
        "train with list targets",
        classifier,
        lambda m: train.train(m[0], m[1], m[2].tolist(), epochs=1, lr=0.1, progress=False),
        TypeError,
        ["train: the targets of x must be a tensor", "torch.tensor(y)", "got list"],
        weights,
    ),
    Bad(
        "train with held-out list targets",
        classifier,
        lambda m: train.train(m[0], m[1], m[2], epochs=1, lr=0.1, x_val=m[1], y_val=m[2].tolist(), progress=False),
        TypeError,
        ["the targets of x_val must be a tensor", "got list"],
        weights,
    ),
    Bad(
        "train given a torch model",
        classifier,
        lambda m: train.train(torch.nn.Linear(2, 2), m[1], m[2], epochs=1, lr=0.1, progress=False),
        TypeError,
        ["train: net must be a library network built by mlp(...)", "got Linear", "train_torch"],
        weights,
    ),
    Bad(
        "train given a string as the net",
        classifier,
        lambda m: train.train("net", m[1], m[2], epochs=1, lr=0.1, progress=False),
        TypeError,
        ["train: net must be a library network", "got str"],
    ),
    Bad(
        "train with a string seed",
        classifier,
        lambda m: train.train(m[0], m[1], m[2], epochs=1, lr=0.1, seed="a", progress=False),
        TypeError,
        ["train: seed must be an integer", "str 'a'"],
        weights,
    ),
    Bad(
        "train with a seed of 2**70",
        classifier,
        lambda m: train.train(m[0], m[1], m[2], epochs=1, lr=0.1, seed=2**70, progress=False),
        ValueError,
        ["train: seed must be an integer in [0, 2**64)", "1180591620717411303424"],
        weights,
    ),
    Bad(
        "train with float labels 0.7",
        classifier,
        lambda m: train.train(m[0], m[1], m[2] * 0.7, epochs=1, lr=0.1, progress=False),
        ValueError,
        ["train: labels for x: class labels must be integers", "torch.float32"],
        weights,
    ),
    Bad(
        "train_torch given a library network",
        classifier,
        lambda m: train.train_torch(m[0], m[1], m[2], epochs=1, lr=0.1),
        TypeError,
        ["train_torch: model must be a torch.nn.Module", "got MLP", "for a library network use train"],
        weights,
    ),
    Bad(
        "train_torch with list targets",
        torch_classifier,
        lambda m: train_torch(m, y=m[2].tolist()),
        TypeError,
        ["train_torch: the targets of x must be a tensor", "got list"],
        torch_weights,
    ),
    Bad(
        "train_torch with float labels 0.7",
        torch_classifier,
        lambda m: train_torch(m, y=m[2] * 0.7),
        ValueError,
        ["train_torch: labels for x: class labels must be integers", "torch.float32"],
        torch_weights,
    ),
    Bad(
        "train_torch with label 2 for 2 classes",
        torch_classifier,
        lambda m: train_torch(m, y=m[2] + 1),
        ValueError,
        ["train_torch: labels for x: class labels must lie in [0, 2)", "from 1 to 2"],
        torch_weights,
    ),
    Bad(
        "train_torch on 0 rows",
        torch_classifier,
        lambda m: train_torch(m, x=m[1][:0], y=m[2][:0]),
        ValueError,
        ["train_torch: x is empty"],
        torch_weights,
    ),
    Bad(
        "train_torch with a string seed",
        torch_classifier,
        lambda m: train_torch(m, seed="a"),
        TypeError,
        ["train_torch: seed must be an integer", "str 'a'"],
        torch_weights,
    ),
    Bad(
        "train_torch with a seed of 2**70",
        torch_classifier,
        lambda m: train_torch(m, seed=2**70),
        ValueError,
        ["train_torch: seed must be an integer in [0, 2**64)"],
        torch_weights,
    ),
    Bad(
        "train_torch with lr=0",
        torch_classifier,
        lambda m: train_torch(m, lr=0),
        ValueError,
        ["train_torch: lr must be a positive finite number", "got 0"],
        torch_weights,
    ),
    Bad(
        "train_torch with x_val and no y_val",
        torch_classifier,
        lambda m: train_torch(m, x_val=m[1]),
        ValueError,
        ["train_torch: give both x_val and y_val"],
        torch_weights,
    ),
    Bad(
        "to_torch given a torch model",
        torch_classifier,
        lambda m: train.to_torch(m[0]),
        TypeError,
        ["to_torch: net must be a library network built by mlp(...)", "got Sequential"],
        torch_weights,
    ),
    Bad(
        "batches of lists",
        nothing,
        lambda _: list(data.batches([[0.0, 1.0], [1.0, 0.0]], [0, 1], 1)),
        TypeError,
        ["batches: x must be a tensor (torch.tensor(x) makes one), got list"],
    ),
    Bad(
        "batches with list targets",
        nothing,
        lambda _: list(data.batches(torch.zeros(2, 2), [0, 1], 1)),
        TypeError,
        ["batches: y must be a tensor", "got list"],
    ),
    Bad("xor(seed='a')", nothing, lambda _: data.xor(seed="a"), TypeError, ["xor: seed must be an integer", "'a'"]),
    Bad("xor(seed=2**70)", nothing, lambda _: data.xor(seed=2**70), ValueError, ["xor: seed must be", "[0, 2**64)"]),
    Bad("circles(seed=True)", nothing, lambda _: data.circles(seed=True), TypeError, ["circles: seed", "bool True"]),
    Bad("spirals(seed=1.5)", nothing, lambda _: data.spirals(seed=1.5), TypeError, ["spirals: seed", "float 1.5"]),
    Bad(
        "linear data with seed -1",
        nothing,
        lambda _: data.create_linear_training_data(seed=-1),
        ValueError,
        ["create_linear_training_data: seed must be an integer in [0, 2**64)", "-1"],
    ),
    Bad(
        "batches with a string generator",
        nothing,
        lambda _: list(data.batches(torch.zeros(4, 2), torch.zeros(4), 2, generator="g")),
        TypeError,
        ["batches: generator must be a torch.Generator", "str 'g'"],
    ),
    Bad(
        "notebook 03: train on 0 rows",
        notebook03_net,
        lambda net: notebook03.train(torch.zeros(0, 2), torch.zeros(0, 1), net, epochs=3, lr=0.1),
        ValueError,
        ["NeuralNetwork.backward: x has 0 rows", "at least one sample"],
        notebook03_weights,
    ),
    Bad(
        "notebook 03: get_loss on 0 rows",
        notebook03_net,
        lambda net: net.get_loss(torch.zeros(0, 2), torch.zeros(0, 1)),
        ValueError,
        ["NeuralNetwork.get_loss: x has 0 rows"],
        notebook03_weights,
    ),
    Bad(
        "notebook 03: a string generator",
        nothing,
        lambda _: notebook03.NeuralNetwork(2, 1, [3], generator="g"),
        TypeError,
        ["NeuralNetwork: generator must be a torch.Generator", "str 'g'"],
    ),
    Bad(
        "notebook 03: an integer dtype",
        nothing,
        lambda _: notebook03.Linear(2, 3, dtype=torch.int64),
        TypeError,
        ["Linear: dtype must be a floating-point dtype", "torch.int64"],
    ),
    Bad(
        "glorot_uniform with a string generator",
        nothing,
        lambda _: notebook03.glorot_uniform(3, 2, generator="g"),
        TypeError,
        ["glorot_uniform: generator must be a torch.Generator"],
    ),
)
def test_bad_input_is_refused_before_anything_changes(row):
    check(row)


# ---------------------------------------------------------------- right answers (not errors)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_train_takes_labels_of_any_integer_dtype(dtype):
    # issue 30, item 5: uint8 and int16 labels crashed inside the loss's gather
    x, y = data.xor(n=40)
    runs = []
    for labels in (y, y.to(dtype)):
        net = mlp([2, 4, 2], generator=torch.Generator().manual_seed(0))
        history = train.train(net, x, labels, epochs=2, lr=0.1, batch_size=8, x_val=x, y_val=labels, progress=False)
        runs.append((history.step_loss, history.val_accuracy))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_train_torch_takes_labels_of_any_integer_dtype(dtype):
    # issue 30, item 5, in the reference loop: int16 labels crashed inside torch's cross_entropy
    x, y = data.xor(n=40)
    runs = []
    for labels in (y, y.to(dtype)):
        model, _, _ = torch_classifier()
        history = train.train_torch(model, x, labels, epochs=2, lr=0.1, batch_size=8, x_val=x, y_val=labels)
        runs.append((history.step_loss, history.val_accuracy))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) == 10 and all(math.isfinite(loss) for loss in runs[0][0])


def test_to_torch_keeps_the_output_activation():
    # issue 30, item 10: the torch twin of an mse net with a sigmoid output had no Sigmoid
    net = mlp([2, 3, 1], loss="mse", output_activation="sigmoid", generator=torch.Generator().manual_seed(0))
    twin = train.to_torch(net)
    assert [type(m).__name__ for m in twin] == ["Linear", "ReLU", "Linear", "Sigmoid"]
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(twin(x), net.predict(x), rtol=0, atol=1e-6)


def test_to_torch_without_an_output_activation_ends_in_the_logits():
    net = mlp([2, 3, 3], activation="tanh", generator=torch.Generator().manual_seed(0))
    assert [type(m).__name__ for m in train.to_torch(net)] == ["Linear", "Tanh", "Linear"]


def test_seeds_as_numpy_integers_and_up_to_2_64_are_seeds():
    np = pytest.importorskip("numpy")
    assert torch.equal(data.xor(n=8, seed=np.int64(3))[0], data.xor(n=8, seed=3)[0])
    assert data.xor(n=8, seed=2**64 - 1)[0].shape == (8, 2)
    # train_torch too (torch's manual_seed refuses a NumPy integer): the same batches as seed 3
    runs = [train_torch(torch_classifier(), seed=seed, batch_size=8).step_loss for seed in (3, np.int64(3))]
    assert runs[0] == runs[1] and len(runs[0]) == 5
