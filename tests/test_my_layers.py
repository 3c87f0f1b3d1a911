"""Your own unit tests of notebook 04's layers, with numbers you work out by hand (MSOE lab 7).

Each test below wires one layer to ``Input``s holding the numbers given, with an upstream gradient
``G`` that is not all ones. Your part (one exercise per test, its callout in notebook 04) is what the
test checks: work each value out on paper first, then write it as a literal, as in

    expect(layer.output, [[1.0, -0.5], [2.0, 0.25]])      # exact, as ==
    expect(x.grad, [[0.1, 0.2]], atol=1e-6)               # within 1e-6: for numbers like 1/3

``expect`` (tests/expect.py) names each entry that differs. Never compute an expected value with the
layer or torch: the test is there to catch a wrong layer, and a number the layer computed agrees
with it, wrong or not.

``make check EX=4.32`` runs your test against your own layer: it passes once your layer and your
numbers agree. Your teacher grades it against the course's correct layer (it must pass there, and
on other correct ways of writing the layer) and against several plausible wrong layers (a missing
transpose, a forgotten 1/N, ``=`` for ``+=``, a wrong sign, the wrong axis, ...): the score is the
share of wrong layers your test catches.
"""

import math

import torch

from expect import expect
from scratchlib.layers import Input, Linear, MSELoss, Regularization, ReLU, Scale, SoftmaxCrossEntropy, Sum


def test_linear_by_hand():
    """Exercise 4.32: Linear Z = X W^T + b, forward, backward, accumulate_grad and step, by hand."""
    x = Input((3, 2)).set([[2.0, -1.0], [0.0, 3.0], [1.0, 1.0]])  # X (B=3, in=2)
    W = Input((3, 2), train=True).set([[1.0, -2.0], [0.5, 1.0], [-1.0, 0.0]])  # (out=3, in=2): a parameter
    b = Input((3,), train=True).set([1.0, -0.5, 2.5])  # (out,): a parameter
    G = torch.tensor([[1.0, 0.0, -1.0], [2.0, -1.0, 0.5], [0.0, 1.0, 1.0]])  # dJ/dZ, (B, out)
    G2 = torch.tensor([[0.5, 1.0, 0.0], [-1.0, 0.0, 2.0], [1.0, 1.0, -0.5]])  # a second consumer's dJ/dZ
    layer = Linear(x, W, b)
    # Write, each expected value a literal you worked out by hand:
    #   1. forward:  layer.forward(); expect layer.output
    #   2. backward: layer.accumulate_grad(G); layer.backward(); expect x.grad, W.grad and b.grad
    #   3. accumulate_grad: layer.accumulate_grad(G2); expect layer.grad (the two add), and G as given
    #      (a gradient handed in is never written to)
    #   4. step: W.step(0.5) and b.step(0.5); expect W.output and b.output
    ### BEGIN SOLUTION 4.32: your test of Linear: forward, backward with G, accumulate_grad, step
    # Z = X W^T + b: row 0: [2 + 2 + 1, 1 - 1 - 0.5, -2 + 0 + 2.5] = [5, -0.5, 0.5]
    #                row 1: [0 - 6 + 1, 0 + 3 - 0.5, 0 + 0 + 2.5] = [-5, 2.5, 2.5]
    #                row 2: [1 - 2 + 1, 0.5 + 1 - 0.5, -1 + 0 + 2.5] = [0, 1, 1.5]
    layer.forward()
    expect(layer.output, [[5.0, -0.5, 0.5], [-5.0, 2.5, 2.5], [0.0, 1.0, 1.5]])
    # dX = G W:   row 0: [1, -2] - [-1, 0] = [2, -2];  row 1: 2 [1, -2] - [0.5, 1] + 0.5 [-1, 0] = [1, -5]
    #             row 2: [0.5, 1] + [-1, 0] = [-0.5, 1]
    # dW = G^T X: row 0: [2, -1] + 2 [0, 3] = [2, 5];  row 1: -[0, 3] + [1, 1] = [1, -2]
    #             row 2: -[2, -1] + 0.5 [0, 3] + [1, 1] = [-1, 3.5]
    # db = column sums of G = [3, 0, 0.5]
    layer.accumulate_grad(G)
    layer.backward()
    expect(x.grad, [[2.0, -2.0], [1.0, -5.0], [-0.5, 1.0]])
    expect(W.grad, [[2.0, 5.0], [1.0, -2.0], [-1.0, 3.5]])
    expect(b.grad, [3.0, 0.0, 0.5])
    # G + G2, and G itself unchanged
    layer.accumulate_grad(G2)
    expect(layer.grad, [[1.5, 1.0, -1.0], [1.0, -1.0, 2.5], [1.0, 2.0, 0.5]])
    expect(G, [[1.0, 0.0, -1.0], [2.0, -1.0, 0.5], [0.0, 1.0, 1.0]])
    # W - 0.5 dW = [[1 - 1, -2 - 2.5], [0.5 - 0.5, 1 + 1], [-1 + 0.5, 0 - 1.75]]
    # b - 0.5 db = [1 - 1.5, -0.5, 2.5 - 0.25]
    W.step(0.5)
    b.step(0.5)
    expect(W.output, [[0.0, -4.5], [0.0, 2.0], [-0.5, -1.75]])
    expect(b.output, [-0.5, -0.5, 2.25])
    ### END SOLUTION


def test_relu_by_hand():
    """Exercise 4.33: ReLU H = max(Z, 0), forward, backward and accumulate_grad, by hand."""
    z = Input((2, 3)).set([[2.0, 0.0, -1.5], [-3.0, 0.5, 1.0]])  # Z (B=2, 3): one entry at 0, the kink
    G = torch.tensor([[-1.0, 4.0, 2.0], [1.5, -2.0, 0.5]])  # dJ/dH, (2, 3)
    G2 = torch.tensor([[0.5, -1.0, 1.0], [2.0, 0.0, -0.5]])  # a second consumer's dJ/dH
    layer = ReLU(z)
    # Write, each expected value a literal you worked out by hand:
    #   1. forward:  layer.forward(); expect layer.output
    #   2. backward: layer.accumulate_grad(G); layer.backward(); expect z.grad
    #   3. accumulate_grad: layer.accumulate_grad(G2); expect layer.grad (the two add), and G as given
    #   (a ReLU has no parameters: its step moves nothing)
    ### BEGIN SOLUTION 4.33: your test of ReLU: forward, backward with G, accumulate_grad
    layer.forward()
    expect(layer.output, [[2.0, 0.0, 0.0], [0.0, 0.5, 1.0]])
    # dZ = G where Z > 0, else 0 (at Z = 0 too, as torch)
    layer.accumulate_grad(G)
    layer.backward()
    expect(z.grad, [[-1.0, 0.0, 0.0], [0.0, -2.0, 0.5]])
    layer.accumulate_grad(G2)
    expect(layer.grad, [[-0.5, 3.0, 3.0], [3.5, -2.0, 0.0]])
    expect(G, [[-1.0, 4.0, 2.0], [1.5, -2.0, 0.5]])
    ### END SOLUTION


def test_mseloss_by_hand():
    """Exercise 4.34: MSELoss, the mean of squared differences, forward, backward and accumulate_grad, by hand."""
    pred = Input((2, 2)).set([[1.0, -1.0], [2.0, 0.5]])  # Yhat (B=2, 2)
    target = Input((2, 2)).set([[0.0, 1.0], [2.5, 0.5]])  # Y
    g = torch.tensor(3.0)  # dJ/dL: the loss is a term of a larger J here, so not 1
    g2 = torch.tensor(0.5)  # a second consumer's dJ/dL
    layer = MSELoss(pred, target)
    # Write, each expected value a literal you worked out by hand:
    #   1. forward:  layer.forward(); expect layer.output (a number)
    #   2. backward: layer.accumulate_grad(g); layer.backward(); expect pred.grad and target.grad
    #   3. accumulate_grad: layer.accumulate_grad(g2); expect layer.grad (the two add), and g as given
    ### BEGIN SOLUTION 4.34: your test of MSELoss: forward, backward with g, accumulate_grad
    # Yhat - Y = [[1, -2], [-0.5, 0]]; L = (1 + 4 + 0.25 + 0) / 4 = 1.3125
    layer.forward()
    expect(layer.output, 1.3125)
    # dJ/dYhat = (2 g / N)(Yhat - Y) = 1.5 (Yhat - Y); dJ/dY = -dJ/dYhat
    layer.accumulate_grad(g)
    layer.backward()
    expect(pred.grad, [[1.5, -3.0], [-0.75, 0.0]])
    expect(target.grad, [[-1.5, 3.0], [0.75, 0.0]])
    layer.accumulate_grad(g2)
    expect(layer.grad, 3.5)
    expect(g, 3.0)
    ### END SOLUTION


def test_scale_by_hand():
    """Exercise 4.35: Scale, the output c X, forward, backward and accumulate_grad, by hand."""
    x = Input((2, 3)).set([[4.0, -1.0, 0.5], [-2.0, 1.0, 3.0]])  # X (B=2, 3)
    G = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])  # dJ/d(output), (2, 3)
    G2 = torch.tensor([[-1.0, 1.0, 2.0], [0.5, -0.5, 0.0]])  # a second consumer's dJ/d(output)
    layer = Scale(x, -1.5)  # c = -1.5
    # Write, each expected value a literal you worked out by hand:
    #   1. forward:  layer.forward(); expect layer.output
    #   2. backward: layer.accumulate_grad(G); layer.backward(); expect x.grad
    #   3. accumulate_grad: layer.accumulate_grad(G2); expect layer.grad (the two add), and G as given
    #   (a Scale has no parameters: c is a fixed number, and its step moves nothing)
    ### BEGIN SOLUTION 4.35: your test of Scale: forward, backward with G, accumulate_grad
    # c X = -1.5 [[4, -1, 0.5], [-2, 1, 3]]
    layer.forward()
    expect(layer.output, [[-6.0, 1.5, -0.75], [3.0, -1.5, -4.5]])
    # dX = c G = -1.5 [[1, -2, 0.5], [3, 0.25, -1]]
    layer.accumulate_grad(G)
    layer.backward()
    expect(x.grad, [[-1.5, 3.0, -0.75], [-4.5, -0.375, 1.5]])
    layer.accumulate_grad(G2)
    expect(layer.grad, [[0.0, -1.0, 2.5], [3.5, -0.25, -1.0]])
    expect(G, [[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    ### END SOLUTION


def test_sum_by_hand():
    """Exercise 4.36: Sum s = a + b, forward, backward and accumulate_grad, by hand."""
    # In a network a Sum adds two numbers (the loss and the regularization); it adds any two values of
    # one shape, and two matrices show more: each entry of the gradient on its own.
    a = Input((2, 2)).set([[1.0, -3.0], [0.5, 2.0]])  # a (2, 2)
    b = Input((2, 2)).set([[-2.0, 4.0], [1.5, -0.5]])  # b (2, 2)
    G = torch.tensor([[2.0, -1.0], [0.5, 3.0]])  # dJ/ds, (2, 2)
    G2 = torch.tensor([[1.0, 1.0], [-2.0, 0.5]])  # a second consumer's dJ/ds
    layer = Sum(a, b)
    # Write, each expected value a literal you worked out by hand:
    #   1. forward:  layer.forward(); expect layer.output
    #   2. backward: layer.accumulate_grad(G); layer.backward(); expect a.grad and b.grad
    #   3. accumulate_grad: layer.accumulate_grad(G2); expect layer.grad (the two add), and G as given
    ### BEGIN SOLUTION 4.36: your test of Sum: forward, backward with G, accumulate_grad
    layer.forward()
    expect(layer.output, [[-1.0, 1.0], [2.0, 1.5]])
    # ds/da = ds/db = 1 entry by entry: each input gets G as it is
    layer.accumulate_grad(G)
    layer.backward()
    expect(a.grad, [[2.0, -1.0], [0.5, 3.0]])
    expect(b.grad, [[2.0, -1.0], [0.5, 3.0]])
    layer.accumulate_grad(G2)
    expect(layer.grad, [[3.0, 0.0], [-1.5, 3.5]])
    expect(G, [[2.0, -1.0], [0.5, 3.0]])
    ### END SOLUTION


def test_regularization_by_hand():
    """Exercise 4.37: Regularization R = strength * sum of W's squares, forward, backward, accumulate_grad and
    step, by hand."""
    W = Input((2, 3), train=True).set([[2.0, -1.0, 0.5], [1.0, -3.0, 1.5]])  # (2, 3): a parameter
    g = torch.tensor(3.0)  # dJ/dR: not 1
    g2 = torch.tensor(-1.0)  # a second consumer's dJ/dR
    layer = Regularization(W, 0.25)  # lambda = 0.25
    # Write, each expected value a literal you worked out by hand:
    #   1. forward:  layer.forward(); expect layer.output (a number)
    #   2. backward: layer.accumulate_grad(g); layer.backward(); expect W.grad
    #   3. accumulate_grad: layer.accumulate_grad(g2); expect layer.grad (the two add), and g as given
    #   4. step: W.step(0.5); expect W.output
    ### BEGIN SOLUTION 4.37: your test of Regularization: forward, backward with g, accumulate_grad, step
    # squares: 4 + 1 + 0.25 + 1 + 9 + 2.25 = 17.5; R = 0.25 * 17.5
    layer.forward()
    expect(layer.output, 4.375)
    # dJ/dW = 2 lambda g W = 2 * 0.25 * 3 W = 1.5 W
    layer.accumulate_grad(g)
    layer.backward()
    expect(W.grad, [[3.0, -1.5, 0.75], [1.5, -4.5, 2.25]])
    layer.accumulate_grad(g2)
    expect(layer.grad, 2.0)
    expect(g, 3.0)
    # W - 0.5 (1.5 W) = 0.25 W
    W.step(0.5)
    expect(W.output, [[0.5, -0.25, 0.125], [0.25, -0.75, 0.375]])
    ### END SOLUTION


def test_softmax_cross_entropy_by_hand():
    """Exercise 4.38: SoftmaxCrossEntropy, the mean cross-entropy of the softmax, forward, backward and
    accumulate_grad, by hand."""
    # logits (B=2, C=4), chosen so that the exponentials of a row are in small whole-number ratios
    # (e^(1 + ln 2) = 2e): the softmax works out by hand
    logits = Input((2, 4)).set(
        [
            [1.0, 1.0, 1.0 + math.log(2), 1.0 + math.log(4)],
            [math.log(3) - 2.0, -2.0, math.log(2) - 2.0, math.log(2) - 2.0],
        ]
    )
    target = Input((2,), dtype=torch.int64).set([3, 1])  # each row's class
    g = torch.tensor(4.0)  # dJ/dL: not 1
    g2 = torch.tensor(-1.5)  # a second consumer's dJ/dL
    layer = SoftmaxCrossEntropy(logits, target)
    # Write, each expected value a literal you worked out by hand (float32: use atol=1e-6; a literal may
    # be arithmetic on numbers, math.log(2) included):
    #   1. forward:  layer.forward(); expect layer.classifications (the softmax) and layer.output (a number)
    #   2. backward: layer.accumulate_grad(g); layer.backward(); expect logits.grad (the labels get none)
    #   3. accumulate_grad: layer.accumulate_grad(g2); expect layer.grad (the two add), and g as given
    ### BEGIN SOLUTION 4.38: your test of SoftmaxCrossEntropy: forward, backward with g, accumulate_grad
    # p = [1, 1, 2, 4] / 8 and [3, 1, 2, 2] / 8; L = -(ln p[0, 3] + ln p[1, 1]) / 2 = (ln 2 + ln 8) / 2 = ln 4
    layer.forward()
    expect(layer.classifications, [[0.125, 0.125, 0.25, 0.5], [0.375, 0.125, 0.25, 0.25]], atol=1e-6)
    expect(layer.output, 1.3862944, atol=1e-6)
    # dJ/dlogits = (g / B)(p - onehot) = 2 (p - onehot)
    layer.accumulate_grad(g)
    layer.backward()
    expect(logits.grad, [[0.25, 0.25, 0.5, -1.0], [0.75, -1.75, 0.5, 0.5]], atol=1e-6)
    layer.accumulate_grad(g2)
    expect(layer.grad, 2.5)
    expect(g, 4.0)
    ### END SOLUTION
