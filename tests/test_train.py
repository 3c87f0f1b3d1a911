"""The training loop: the step is SGD exactly, the loop matches torch.nn + autograd, the history adds up."""

import math

import matplotlib.pyplot as plt
import pytest
import torch

from expect import expect
from scratchlib.layers import Input, mlp
from scratchlib.training import data, train


def blobs(n=30, features=3, classes=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    centres = 2 * torch.randn(classes, features, generator=g, dtype=dtype)
    return centres[y] + torch.randn(n, features, generator=g, dtype=dtype), y


def net64(sizes=(3, 5, 4), seed=1, **kwargs):
    return mlp(list(sizes), generator=torch.Generator().manual_seed(seed), dtype=torch.float64, **kwargs)


def weights(net):
    return [p.output.clone() for p in net.parameters()]


def test_train_step_is_one_sgd_step_on_the_objective():
    x, y = blobs(n=6)
    net = net64(regularization=0.03)
    before = weights(net)
    # the same objective by autograd: J = CE(x W1^T + b1 -> relu -> W2, b2) + 0.03 (|W1|^2 + |W2|^2)
    W1, b1, W2, b2 = (p.clone().requires_grad_() for p in before)
    logits = torch.relu(x @ W1.T + b1) @ W2.T + b2
    J = torch.nn.functional.cross_entropy(logits, y) + 0.03 * ((W1**2).sum() + (W2**2).sum())
    J.backward()
    objective = train.train_step(net, x, y, lr=0.7)
    assert objective == pytest.approx(J.item(), rel=1e-14)
    for p, ref in zip(net.parameters(), (W1, b1, W2, b2)):
        torch.testing.assert_close(p.output, ref.detach() - 0.7 * ref.grad, rtol=0, atol=1e-14)


class InfiniteLossNet:
    """A network made by hand: its forward notes the batch it reads and returns J = inf.

    An infinite J also stops train_step before its update (exercise 5.2)."""

    def __init__(self):
        self.x = Input((3, 2), dtype=torch.float64)
        self.target = Input((3,), dtype=torch.int64)
        self.seen = []

    def forward(self):
        self.seen.append((self.x.output.clone(), self.target.output.clone()))
        return torch.tensor(math.inf, dtype=torch.float64)


def test_forward_pass_alone_loads_the_batch_and_reads_the_objective():
    """Runs only exercise 5.1, on a network made by hand whose J is inf; train_step then stops before 5.2."""
    x_batch = torch.tensor([[0.5, -2.0], [3.0, 1.0], [-1.0, 0.25]], dtype=torch.float64)
    y_batch = torch.tensor([2, 0, 1])
    net = InfiniteLossNet()
    expect(train.forward_pass(net, x_batch, y_batch), math.inf)
    with pytest.raises(train.TrainingDiverged, match=r"training stopped at step 4: the loss is \S*inf"):
        train.train_step(net, x_batch, y_batch, lr=0.1, step=4)
    expect(len(net.seen), 2)  # one forward pass each, with the batch loaded first
    seen_x, seen_y = net.seen[0]
    expect(seen_x.tolist(), [[0.5, -2.0], [3.0, 1.0], [-1.0, 0.25]])
    expect(seen_y.tolist(), [2, 0, 1])


class HandMadeRegression:
    """A network made by hand (plain torch, no exercise): J = mean((x w - y)^2) for one weight vector w.

    As a library network, backward adds its gradient to the one held and step moves w by SGD."""

    def __init__(self, w, stale_grad):
        self.x = Input((4, 2), dtype=torch.float64)
        self.target = Input((4,), dtype=torch.float64)
        self.w, self.grad, self.calls = w, stale_grad, []

    def forward(self):
        self.calls.append("forward")
        return ((self.x.output @ self.w - self.target.output) ** 2).mean()

    def clear_grad(self):
        self.calls.append("clear_grad")
        self.grad = None

    def backward(self):
        self.calls.append("backward")
        x, y = self.x.output, self.target.output
        g = 2 * x.T @ (x @ self.w - y) / len(y)
        self.grad = g if self.grad is None else self.grad + g

    def step(self, lr):
        self.calls.append(f"step {lr}")
        self.w = self.w - lr * self.grad


def test_sgd_update_alone_on_a_hand_made_network():
    """Runs only exercise 5.2: the batch is loaded and J computed by the test, on a network made by hand."""
    # x w = [0.5 - 2, 0 + 1, 1 - 1, -0.5 - 0.5] = [-1.5, 1, 0, -1];  r = x w - y = [-2.5, 0.5, 1, -1.5]
    # dJ/dw = (2 / 4) x^T r = 0.5 [-2.5 + 0 + 2 + 1.5, -5 - 0.5 + 1 - 0.75] = [0.5, -2.625]
    # w - 0.5 dJ/dw = [0.5 - 0.25, -1 + 1.3125] = [0.25, 0.3125]  (the stale gradient is cleared first)
    x_batch = torch.tensor([[1.0, 2.0], [0.0, -1.0], [2.0, 1.0], [-1.0, 0.5]], dtype=torch.float64)
    y_batch = torch.tensor([1.0, 0.5, -1.0, 0.5], dtype=torch.float64)
    w = torch.tensor([0.5, -1.0], dtype=torch.float64)
    net = HandMadeRegression(w, stale_grad=torch.tensor([100.0, -100.0], dtype=torch.float64))
    net.x.set(x_batch)
    net.target.set(y_batch)
    expect(net.forward().item(), 2.4375)  # J = (6.25 + 0.25 + 1 + 2.25) / 4
    train.sgd_update(net, lr=0.5)
    expect(net.calls, ["forward", "clear_grad", "backward", "step 0.5"])
    expect(net.grad.tolist(), [0.5, -2.625])
    expect(net.w.tolist(), [0.25, 0.3125])
    leaf = w.clone().requires_grad_()
    ((x_batch @ leaf - y_batch) ** 2).mean().backward()
    expect(net.w, w - 0.5 * leaf.grad, atol=1e-15, dtype=True)


def test_train_step_is_the_forward_pass_then_the_update_on_a_hand_made_network():
    """Runs exercises 5.1 and 5.2 together, as train_step does: J is measured before the step."""
    x_batch = torch.tensor([[1.0, 2.0], [0.0, -1.0], [2.0, 1.0], [-1.0, 0.5]], dtype=torch.float64)
    y_batch = torch.tensor([1.0, 0.5, -1.0, 0.5], dtype=torch.float64)
    net = HandMadeRegression(torch.tensor([0.5, -1.0], dtype=torch.float64), stale_grad=None)
    assert train.train_step(net, x_batch, y_batch, lr=0.5) == 2.4375
    assert net.calls == ["forward", "clear_grad", "backward", "step 0.5"]
    assert net.w.tolist() == [0.25, 0.3125]


def test_library_loop_matches_torch_nn_with_autograd_step_for_step():
    x, y = blobs(n=50)
    x_val, y_val = blobs(n=20, seed=3)
    net = net64(sizes=(3, 6, 5, 4), regularization=0.01)
    twin = train.to_torch(net)
    mine = train.train(net, x, y, epochs=3, lr=0.3, batch_size=8, x_val=x_val, y_val=y_val, seed=4, progress=False)
    ref = train.train_torch(
        twin, x, y, epochs=3, lr=0.3, batch_size=8, regularization=0.01, x_val=x_val, y_val=y_val, seed=4
    )
    assert len(mine.step_loss) == len(ref.step_loss) == 3 * 7  # ceil(50 / 8) = 7 steps per epoch
    # float64 differences seen: about 1e-16; the losses move by far more than that per step
    torch.testing.assert_close(torch.tensor(mine.step_loss), torch.tensor(ref.step_loss), rtol=0, atol=1e-12)
    assert mine.step_accuracy == ref.step_accuracy and mine.val_accuracy == ref.val_accuracy
    torch.testing.assert_close(torch.tensor(mine.val_loss), torch.tensor(ref.val_loss), rtol=0, atol=1e-12)
    linears = [m for m in twin if isinstance(m, torch.nn.Linear)]
    for W, linear in zip(net.weights, linears):
        torch.testing.assert_close(W.output, linear.weight.detach(), rtol=0, atol=1e-12)
    assert mine.epoch_loss[-1] < 0.8 * mine.epoch_loss[0]  # it learns (1.69 -> 1.20)
    # the reference's history holds the same per-epoch means and the settings it ran with
    torch.testing.assert_close(torch.tensor(mine.epoch_loss), torch.tensor(ref.epoch_loss), rtol=0, atol=1e-12)
    assert mine.epoch_accuracy == ref.epoch_accuracy
    assert (ref.lr, ref.batch_size, ref.regularization, ref.steps_per_epoch) == (0.3, 8, 0.01, 7)


def test_history_adds_up():
    x, y = blobs(n=23)
    x_val, y_val = blobs(n=9, seed=5)
    net = net64()
    h = train.train(net, x, y, epochs=2, lr=0.1, batch_size=5, x_val=x_val, y_val=y_val, eval_every=2, progress=False)
    assert h.steps_per_epoch == 5 and h.epochs == 2
    assert len(h.step_loss) == len(h.step_accuracy) == 10
    sizes = torch.tensor([5, 5, 5, 5, 3], dtype=torch.float64)
    for e in range(2):
        losses = torch.tensor(h.step_loss[5 * e : 5 * e + 5], dtype=torch.float64)
        accuracies = torch.tensor(h.step_accuracy[5 * e : 5 * e + 5], dtype=torch.float64)
        assert h.epoch_loss[e] == pytest.approx((losses * sizes).sum().item() / 23, rel=1e-12)
        assert h.epoch_accuracy[e] == pytest.approx((accuracies * sizes).sum().item() / 23, rel=1e-12)
    assert h.eval_step == [2, 4, 6, 8, 10]
    assert h.eval_loss[-1] == h.val_loss[-1] and h.eval_accuracy[-1] == h.val_accuracy[-1]
    loss, accuracy = train.evaluate(net, x_val, y_val)
    assert (loss, accuracy) == (h.val_loss[-1], h.val_accuracy[-1])
    assert accuracy == (train.predict(net, x_val) == y_val).double().mean().item()
    assert h.summary().startswith(f"epoch 2: train loss {h.epoch_loss[-1]:.4f}, accuracy ")
    assert "held-out loss" in h.summary() and train.History().summary() == "no epoch completed"
    loss_ax, accuracy_ax = h.plot(label="lib")
    assert [line.get_label() for line in loss_ax.get_lines()][1:] == ["lib train", "lib held-out"]
    assert accuracy_ax.get_ylabel() == "accuracy (%)"
    plt.close(loss_ax.figure)


def test_history_plot_draws_what_was_measured():
    """Each curve's points read back from the axes: faint per-step values, epoch means at each
    epoch's last step, held-out values (every k steps, or per epoch); accuracy in percent."""
    h = train.History(steps_per_epoch=2, step_loss=[4.0, 2.0, 1.0, 0.5], epoch_loss=[3.0, 0.75])
    h.step_accuracy, h.epoch_accuracy = [0.25, 0.5, 0.75, 1.0], [0.375, 0.875]
    h.val_loss, h.val_accuracy = [2.5, 1.5], [0.5, 0.75]
    loss_ax, accuracy_ax = h.plot()
    assert loss_ax.figure is accuracy_ax.figure and tuple(loss_ax.figure.get_size_inches()) == (9, 3.4)
    lines = {line.get_label(): line for line in accuracy_ax.get_lines()}
    assert [line.get_xydata().tolist() for line in loss_ax.get_lines()] == [
        [[1, 4.0], [2, 2.0], [3, 1.0], [4, 0.5]],
        [[2, 3.0], [4, 0.75]],
        [[2, 2.5], [4, 1.5]],
    ]
    assert list(lines)[1:] == ["train", "held-out"]
    assert lines["train"].get_xydata().tolist() == [[2, 37.5], [4, 87.5]]
    assert lines["held-out"].get_xydata().tolist() == [[2, 50.0], [4, 75.0]]
    assert lines["train"].get_color() == accuracy_ax.get_lines()[0].get_color()
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel(), loss_ax.get_yscale()) == ("step", "loss", "log")
    assert (accuracy_ax.get_ylabel(), accuracy_ax.get_yscale()) == ("accuracy (%)", "linear")
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["train", "held-out"]
    # the look: faint steps, dots for the epochs, squares for the held-out epochs, a light grid
    steps, epochs, held_out = loss_ax.get_lines()
    assert (steps.get_alpha(), steps.get_linewidth(), epochs.get_marker(), epochs.get_markersize()) == (
        0.25,
        0.8,
        "o",
        3,
    )
    assert (held_out.get_marker(), held_out.get_linestyle(), held_out.get_markersize()) == ("s", "--", 3)
    assert loss_ax.xaxis.get_gridlines()[0].get_visible() and loss_ax.xaxis.get_gridlines()[0].get_alpha() == 0.3
    assert loss_ax.get_legend().get_texts()[0].get_fontsize() == 8
    plt.close(loss_ax.figure)
    h.eval_step, h.eval_loss, h.eval_accuracy = [1, 3], [3.5, 1.25], [0.5, 1.0]
    loss_ax, _ = h.plot(label="run")
    assert [line.get_label() for line in loss_ax.get_lines()][1:] == ["run train", "run held-out"]
    assert loss_ax.get_lines()[2].get_xydata().tolist() == [[1, 3.5], [3, 1.25]]
    assert loss_ax.get_lines()[2].get_linestyle() == "--"
    plt.close("all")


def test_same_seed_same_batches_other_seed_other_batches():
    x, y = blobs(n=40)
    runs = [
        train.train(net64(), x, y, epochs=2, lr=0.2, batch_size=6, seed=s, progress=False).step_loss for s in (7, 7, 8)
    ]
    assert runs[0] == runs[1] and runs[0] != runs[2]


@pytest.mark.parametrize("make, hidden, lr, epochs", [(data.xor, 8, 0.5, 60), (data.circles, 16, 0.5, 150)])
def test_learns_the_toy_sets(make, hidden, lr, epochs):
    x, y = make(n=200, seed=0)
    x_val, y_val = make(n=200, seed=1)
    net = mlp([2, hidden, 2], activation="tanh", generator=torch.Generator().manual_seed(0))
    h = train.train(net, x, y, epochs=epochs, lr=lr, batch_size=20, x_val=x_val, y_val=y_val, progress=False)
    assert h.val_accuracy[-1] >= 0.95
    assert h.epoch_loss[-1] < h.epoch_loss[0] / 3


def test_regression_learns_the_rotation_without_accuracy():
    x, y = data.create_linear_training_data(n=200, seed=0)
    net = mlp([2, 2], loss="mse", generator=torch.Generator().manual_seed(0))
    h = train.train(net, x, y, epochs=30, lr=0.1, batch_size=10, x_val=x[:50], y_val=y[:50], progress=False)
    torch.testing.assert_close(net.weights[0].output, data.ROTATION, rtol=0, atol=1e-3)
    assert h.step_accuracy == h.epoch_accuracy == h.val_accuracy == []
    assert h.val_loss[-1] < 1e-6 and h.summary().count("accuracy") == 0
    assert len(h.plot()) == 1
    plt.close("all")


def test_regularization_sets_every_strength_and_shrinks_the_weights():
    x, y = blobs(n=40)
    free, decayed = net64(), net64(regularization=1.0)
    train.train(free, x, y, epochs=20, lr=0.1, batch_size=10, progress=False)
    h = train.train(decayed, x, y, epochs=20, lr=0.1, batch_size=10, regularization=0.05, progress=False)
    assert [r.strength for r in decayed.regularizers] == [0.05, 0.05] and h.regularization == 0.05
    norm = lambda net: sum((W.output**2).sum().item() for W in net.weights)  # noqa: E731
    assert norm(decayed) < 0.8 * norm(free)
    # strength 0 asks for no decay, which a network without the branch already has
    h = train.train(free, x, y, epochs=1, lr=0.1, batch_size=10, regularization=0.0, progress=False)
    assert h.regularization == 0.0 and len(h.step_loss) == 4


def test_predict_gives_one_class_per_row():
    net = net64()
    x = blobs(n=5)[0]
    expect(train.predict(net, x).tolist(), net.predict(x).argmax(dim=1).tolist())
    assert train.predict(net, x).shape == (5,)


def test_nan_loss_stops_before_the_step_and_says_where():
    # too large a step: the squared error grows about 1000-fold per step until it overflows
    x, y = data.create_linear_training_data(n=40)
    net = mlp([2, 8, 2], loss="mse", activation="tanh", generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(train.TrainingDiverged) as caught:
        train.train(net, x.double(), y.double(), epochs=50, lr=10.0, batch_size=10, progress=False)
    message = str(caught.value)
    step = int(message.split("step ")[1].split(":")[0])
    assert step > 1 and "learning rate 10.0" in message and f"(epoch {(step - 1) // 4 + 1})" in message
    # the loss turned non-finite, or the step that would have overflowed a weight was refused
    assert ("the loss is nan" in message) or ("the loss is inf" in message) or ("would make" in message)
    assert "try a smaller learning rate" in message
    history = caught.value.history
    assert len(history.step_loss) == step - 1  # every step before it was recorded
    assert all(math.isfinite(v) for v in history.step_loss)
    assert all(bool(torch.isfinite(W.output).all()) for W in net.weights + net.biases)


def test_a_step_that_would_overflow_is_refused_and_leaves_the_weights_as_they_were():
    # float32, lr 1e39: the first gradient times lr overflows float32 (max 3.4e38)
    x, y = blobs(n=20)
    net = mlp([3, 5, 4], generator=torch.Generator().manual_seed(0))
    before = weights(net)
    with pytest.raises(
        train.TrainingDiverged,
        match=r"training stopped at step 1: Network.step: the update would "
        r"make Input\(5, 3\) \(parameter\) at tape position 2 non-finite: the step \(step size 1e\+39 "
        r"times a gradient of norm .*\) overflows; nothing was moved, so the weights are those before "
        r"this step; the steps diverge \(learning rate 1e\+39\)",
    ):
        train.train(net, x.float(), y, epochs=1, lr=1e39, batch_size=10, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, weights(net)))  # bit for bit


def test_non_finite_data_is_refused_before_any_step():
    x, y = blobs(n=40)
    net = net64()
    before = weights(net)
    x_bad = x.clone()
    x_bad[:, 1] = math.nan
    with pytest.raises(ValueError, match=r"train: x holds NaN or inf in 40 rows \(0, 1, 2, 3, 4 and 35 more\)"):
        train.train(net, x_bad, y, epochs=1, lr=0.1, batch_size=10, progress=False)
    regression = mlp([2, 2], loss="mse")
    with pytest.raises(ValueError, match=r"train: targets for x holds NaN or inf in 1 row \(3\)"):
        train.train(
            regression,
            torch.zeros(10, 2),
            torch.zeros(10, 2).index_fill_(0, torch.tensor([3]), math.inf),
            epochs=1,
            lr=0.1,
            progress=False,
        )
    assert all(torch.equal(a, b) for a, b in zip(before, weights(net)))


def test_integer_inputs_and_targets_are_taken_as_numbers():
    # net.predict([[1, 2]]) and whole-number regression targets: the same result as floats
    net = mlp([2, 3, 2], loss="mse", generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(net.predict([[1, 2]]), net.predict(torch.tensor([[1.0, 2.0]])), rtol=0, atol=0)
    twin = mlp([2, 3, 2], loss="mse", generator=torch.Generator().manual_seed(0))
    x = torch.tensor([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]])
    y = torch.tensor([[1, 0], [0, 2], [3, -1]])
    train.train(net, x, y, epochs=3, lr=0.05, batch_size=3, progress=False)
    train.train(twin, x, y.float(), epochs=3, lr=0.05, batch_size=3, progress=False)
    for a, b in zip(weights(net), weights(twin)):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(epochs=0), ValueError, "epochs must be a positive integer, got 0"),
        (dict(epochs=2.5), TypeError, "epochs must be an integer, got float 2.5"),
        (dict(lr="0.1"), TypeError, "lr must be a number, got str '0.1'"),
        (dict(lr=True), TypeError, "lr must be a number, got bool True"),
        (dict(epochs=True), TypeError, "epochs must be an integer, got bool True"),
        (dict(lr=-0.1), ValueError, "lr must be a positive finite number, got -0.1"),
        (dict(lr=math.inf), ValueError, "lr must be a positive finite number, got inf"),
        (dict(lr="fast"), TypeError, "lr must be a number, got str 'fast'"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive integer, got 0"),
        (dict(eval_every=0), ValueError, "eval_every must be a positive integer"),
        (dict(regularization=-1.0), ValueError, "regularization must be a finite number >= 0, got -1.0"),
        (
            dict(regularization=0.1),
            ValueError,
            r"regularization=0.1 needs a network with a weight-decay branch.*mlp\(\.\.\., regularization",
        ),
        (dict(x=torch.zeros(30, 4, dtype=torch.float64)), ValueError, "x has 4 features per row, the network takes 3"),
        (dict(x=torch.zeros(30, 3, dtype=torch.long)), ValueError, r"x must be a float tensor of shape \(n, 3\)"),
        (dict(y=torch.zeros(29, dtype=torch.long)), ValueError, "x has 30 rows but its targets have 29"),
        (
            dict(y=torch.full((30,), 4)),
            ValueError,
            r"labels for x: class labels must lie in \[0, 4\), got values from 4 to 4",
        ),
        (dict(y=torch.zeros(30)), ValueError, "labels for x: class labels must be integers"),
        (dict(x_val=torch.zeros(5, 3, dtype=torch.float64)), ValueError, "give both x_val and y_val"),
        (
            dict(x=torch.zeros(30, 3, dtype=torch.float64).index_fill_(0, torch.tensor([4, 17]), math.inf)),
            ValueError,
            r"x holds NaN or inf in 2 rows \(4, 17\); clean or drop them before training",
        ),
        (
            dict(x_val=torch.zeros(5, 2, dtype=torch.float64), y_val=torch.zeros(5, dtype=torch.long)),
            ValueError,
            "x_val has 2 features per row",
        ),
    ],
)
def test_bad_input_is_named_and_changes_nothing(kwargs, error, message):
    x, y = blobs(n=30)
    net = net64()
    before = weights(net)
    arguments = dict(x=x, y=y, epochs=1, lr=0.1, progress=False) | kwargs
    with pytest.raises(error, match="train: " + message):
        train.train(net, **arguments)
    assert all(torch.equal(a, b) for a, b in zip(before, weights(net)))


def test_regression_targets_are_checked():
    net = mlp([2, 2], loss="mse")
    with pytest.raises(ValueError, match=r"targets for x must have shape \(n, 2\), got \(10, 3\)"):
        train.train(net, torch.zeros(10, 2), torch.zeros(10, 3), epochs=1, lr=0.1, progress=False)


def test_progress_bar_reports_the_steps(capsys):
    x, y = blobs(n=20)
    train.train(net64(), x, y, epochs=2, lr=0.1, batch_size=10, progress=True, desc="blobs")
    err = capsys.readouterr().err
    assert "blobs" in err and "4/4" in err and "train loss" in err


def test_to_torch_computes_the_same_function():
    net = net64(sizes=(3, 7, 6, 4), activation="tanh")
    x, _ = blobs(n=5)
    torch.testing.assert_close(train.to_torch(net)(x), net.predict(x), rtol=0, atol=1e-14)


def test_train_defaults_and_what_the_history_records(capsys):
    """Batch size 32, seed 0 and a progress bar named "training" unless told otherwise; the history
    keeps the settings it ran with."""
    x, y = blobs(n=70)
    default = train.train(net64(), x, y, epochs=1, lr=0.1)
    explicit = train.train(net64(), x, y, epochs=1, lr=0.1, batch_size=32, seed=0, progress=False)
    assert default.step_loss == explicit.step_loss and default.steps_per_epoch == 3
    assert (default.lr, default.batch_size, default.regularization) == (0.1, 32, 0.0)
    bar = capsys.readouterr().err
    assert "training: 100%" in bar and "3/3" in bar and "step" in bar


def test_the_summary_line_reads_the_last_epoch_in_percent():
    h = train.History(epoch_loss=[0.5, 0.25], epoch_accuracy=[0.5, 0.875], val_loss=[0.3], val_accuracy=[0.8125])
    assert h.summary() == "epoch 2: train loss 0.2500, accuracy 87.50%; held-out loss 0.3000, accuracy 81.25%"


def test_history_plot_makes_one_row_and_fits_the_axes_it_is_given():
    """One row of axes (two with accuracy, one without), drawn without warnings; given axes are used as
    they come: a classifier's history on one axis draws only the loss, a regression's on two leaves the
    second empty."""
    import copy
    import warnings

    h = train.History(steps_per_epoch=1, step_loss=[2.0, 1.0], epoch_loss=[2.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (loss_ax,) = h.plot()
    assert len(loss_ax.figure.axes) == 1
    classifier = copy.copy(h)
    classifier.step_accuracy, classifier.epoch_accuracy = [0.5, 0.75], [0.5, 0.75]
    loss_ax, accuracy_ax = classifier.plot()
    assert len(loss_ax.figure.axes) == 2
    _, one = plt.subplots()
    assert classifier.plot(axes=[one]) == [one] and len(one.get_lines()) == 2
    _, two = plt.subplots(1, 2)
    h.plot(axes=two)
    assert len(two[0].get_lines()) == 2 and two[1].get_lines() == []
    plt.close("all")


def test_train_step_alone_stops_at_step_0_with_an_empty_history():
    """Called alone, train_step names step 0 and hands an empty History with its TrainingDiverged, for
    a NaN objective and for a step that would overflow."""
    net = net64()
    x, y = blobs(n=4)
    with pytest.raises(train.TrainingDiverged, match=r"^training stopped at step 0: the loss is nan") as stop:
        train.train_step(net, torch.full_like(x, math.nan), y, lr=0.1)
    assert stop.value.history == train.History()
    with pytest.raises(train.TrainingDiverged, match=r"^training stopped at step 0: Network.step") as stop:
        train.train_step(net, torch.full_like(x, 1e30), y, lr=1e300)
    assert stop.value.history == train.History()


def test_whole_number_regression_targets_reach_the_network_as_floats():
    """The targets' Input holds floats after training on int64 targets (the last batch, or the held-out set)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 2, dtype=torch.float64, generator=g), torch.randint(0, 3, (8, 3), generator=g)
    net = net64(sizes=(2, 3), loss="mse")
    train.train(net, x, y, epochs=1, lr=0.01, batch_size=4, progress=False)
    assert net.target.output.dtype == torch.float64
    net = net64(sizes=(2, 3), loss="mse")
    train.train(net, x, y.double(), epochs=1, lr=0.01, batch_size=4, x_val=x, y_val=y, progress=False)
    assert net.target.output.dtype == torch.float64


def test_a_one_layer_network_records_its_regularization():
    x, y = blobs(n=6)
    history = train.train(net64(sizes=(3, 4), regularization=0.5), x, y, epochs=1, lr=0.1, progress=False)
    assert history.regularization == 0.5


def test_the_progress_bar_shows_the_summary_after_each_epoch(monkeypatch):
    """The bar's postfix is the summary without "epoch k: ", drawn with the bar's next update."""
    postfixes = []

    class Bar:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self):
            pass

        def set_postfix_str(self, text, **kwargs):
            postfixes.append((text, kwargs))

    monkeypatch.setattr(train, "_progress", lambda total, enabled, desc: Bar())
    x, y = blobs(n=6)
    history = train.train(net64(), x, y, epochs=2, lr=0.1, x_val=x, y_val=y)
    assert len(postfixes) == 2 and postfixes[-1] == (history.summary()[len("epoch 2: ") :], {"refresh": False})


def _torch_three_layers():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)
    )


def test_train_torch_defaults_and_what_the_history_records():
    """Batch size 32, no regularization and seed 0 unless told otherwise, as train."""
    import copy

    x, y = blobs(n=40, classes=2, dtype=torch.float32)
    model = _torch_three_layers()
    twin = copy.deepcopy(model)
    default = train.train_torch(model, x, y, epochs=1, lr=0.1)
    explicit = train.train_torch(twin, x, y, epochs=1, lr=0.1, batch_size=32, regularization=0.0, seed=0)
    assert default.step_loss == explicit.step_loss and len(default.step_loss) == 2
    assert (default.lr, default.batch_size, default.regularization, default.steps_per_epoch) == (0.1, 32, 0.0, 2)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def _x(n=6, features=3):
    return torch.zeros(n, features)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: train.train_torch(object(), _x(), torch.zeros(6, dtype=torch.int64), 1, 0.1),
            TypeError,
            "train_torch: model must be a torch.nn.Module, got object",
        ),
        (
            lambda: train.train(object(), _x(), torch.zeros(6, dtype=torch.int64), 1, 0.1, progress=False),
            TypeError,
            "train: net must be a library network built by mlp(...), with x, target, loss, regularizers, "
            "clear_grad, backward, step; got object",
        ),
        (  # a model without a Linear: its sizes are unknown
            lambda: train.train_torch(torch.nn.ReLU(), [[1.0]], torch.zeros(1, dtype=torch.int64), 1, 0.1),
            ValueError,
            "train_torch: x must be a float tensor of shape (n, features), got list",
        ),
        (
            lambda: train.train_torch(_torch_three_layers(), torch.zeros(5), torch.zeros(5, dtype=torch.int64), 1, 0.1),
            ValueError,
            "train_torch: x must be a float tensor of shape (n, 3), got shape (5,) torch.float32",
        ),
        (
            lambda: train.train_torch(_torch_three_layers(), _x(6, 4), torch.zeros(6, dtype=torch.int64), 1, 0.1),
            ValueError,
            "train_torch: x has 4 features per row, the network takes 3",
        ),
        (  # classes from the last Linear (2), not from a hidden one (5)
            lambda: train.train_torch(_torch_three_layers(), _x(), torch.full((6,), 3), 1, 0.1),
            ValueError,
            "train_torch: labels for x: class labels must lie in [0, 2), got values from 3 to 3",
        ),
        (
            lambda: train.train_torch(
                _torch_three_layers(),
                _x(),
                torch.zeros(6, dtype=torch.int64),
                1,
                0.1,
                x_val=_x(2, 4),
                y_val=torch.zeros(2, dtype=torch.int64),
            ),
            ValueError,
            "train_torch: x_val has 4 features per row, the network takes 3",
        ),
        (
            lambda: train.train(net64(), _x().double(), torch.zeros(6, 1, dtype=torch.int64), 1, 0.1, progress=False),
            ValueError,
            "train: labels for x must have shape (n,), got (6, 1)",
        ),
        (
            lambda: train.train(
                net64(sizes=(3, 2), loss="mse"), _x().double(), torch.zeros(6, 2, dtype=torch.bool), 1, 0.1
            ),
            ValueError,
            "train: targets for x must be numbers, got dtype torch.bool",
        ),
    ],
)
def test_refusals_in_full(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value) == message


def test_progress_false_prints_nothing_and_the_bar_counts_steps(capsys):
    x, y = blobs(n=20)
    train.train(net64(), x, y, epochs=1, lr=0.1, batch_size=10, progress=False)
    assert capsys.readouterr().err == ""
    train.train(net64(), x, y, epochs=1, lr=0.1, batch_size=10)
    err = capsys.readouterr().err
    assert "step/s" in err or "s/step" in err, err
