import pytest
import torch

from scratchlib.training import data


def test_linear_data_is_a_90_degree_rotation():
    x, y = data.create_linear_training_data(n=50, seed=3)
    assert x.shape == y.shape == (50, 2)
    # R = [[0, -1], [1, 0]]: (a, b) -> (-b, a)
    torch.testing.assert_close(y, torch.stack([-x[:, 1], x[:, 0]], dim=1), rtol=0, atol=0)


def test_linear_data_noise_has_the_requested_size_and_is_seeded():
    x, y = data.create_linear_training_data(n=4000, noise=0.5, seed=1)
    residual = y - x @ data.ROTATION.T
    assert abs(residual.std().item() - 0.5) < 0.02
    x2, y2 = data.create_linear_training_data(n=4000, noise=0.5, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, data.create_linear_training_data(n=4000, noise=0.5, seed=2)[0])


def test_five_points_values():
    x, y = data.five_points()
    assert x.tolist() == [[0, 0], [1, 0], [0, -1], [-1, 0], [0, 1]]
    assert x.dtype == torch.float32
    assert y.tolist() == [1, 0, 0, 0, 0]


@pytest.mark.parametrize("make, classes", [(data.xor, 2), (data.circles, 2), (data.spirals, 3)])
def test_toy_sets_are_deterministic_and_balanced(make, classes):
    x, y = make(n=300, seed=5)
    assert x.shape == (300, 2) and x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [300 // classes] * classes
    x2, y2 = make(n=300, seed=5)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, make(n=300, seed=6)[0])


def test_xor_labels_follow_the_signs():
    x, y = data.xor(n=400, noise=0.1, seed=0)
    torch.testing.assert_close(y, ((x[:, 0] > 0) != (x[:, 1] > 0)).long())


def test_circles_radii():
    x, y = data.circles(n=400, noise=0.0, factor=0.3)
    radius = x.norm(dim=1)
    torch.testing.assert_close(radius[y == 0], torch.ones(200))
    torch.testing.assert_close(radius[y == 1], torch.full((200,), 0.3))


def test_spirals_class_count():
    x, y = data.spirals(n=100, classes=4, seed=0)
    assert torch.bincount(y).tolist() == [25, 25, 25, 25]
    assert x.norm(dim=1).max() <= 1.0 + 1e-6


def test_batches_cover_every_row_once_in_a_seeded_order():
    x = torch.arange(23.0).reshape(23, 1)
    y = torch.arange(23)
    parts = list(data.batches(x, y, batch_size=5, generator=torch.Generator().manual_seed(0)))
    assert [len(xb) for xb, _ in parts] == [5, 5, 5, 5, 3]
    seen = torch.cat([yb for _, yb in parts])
    assert sorted(seen.tolist()) == list(range(23))
    assert seen.tolist() != list(range(23))  # shuffled
    for xb, yb in parts:
        assert torch.equal(xb[:, 0].long(), yb)  # rows stay paired
    again = torch.cat([yb for _, yb in data.batches(x, y, 5, generator=torch.Generator().manual_seed(0))])
    assert torch.equal(seen, again)


def test_batches_without_shuffle_keep_order():
    x, y = torch.zeros(7, 2), torch.arange(7)
    assert [yb.tolist() for _, yb in data.batches(x, y, 3, shuffle=False)] == [[0, 1, 2], [3, 4, 5], [6]]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same number of rows"):
        list(data.batches(torch.zeros(3, 2), torch.zeros(4), 2))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        list(data.batches(torch.zeros(3, 2), torch.zeros(3), 0))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        data.spirals(n=-1)
    with pytest.raises(ValueError, match="factor"):
        data.circles(factor=1.5)
