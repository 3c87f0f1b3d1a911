"""The graph drawer (scratchlib.autograd.draw)."""
import matplotlib.pyplot as plt
import pytest
import torch

from scratchlib.autograd import Tensor, draw_graph
from scratchlib.autograd.draw import graph_nodes


def test_draws_every_node_and_edge_of_a_small_expression():
    a = Tensor(torch.tensor(2.0), requires_grad=True)
    b = Tensor(torch.tensor(-3.0), requires_grad=True)
    u = a * b
    loss = u * a + b  # a and b are used twice: one leaf node each, two arrows out
    nodes, edges = graph_nodes(loss)
    assert len(nodes) == 5 and len(edges) == 6
    loss.backward()
    ax = draw_graph(loss, names={"a": a, "b": b, "u": u, "L": loss})
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(texts) == 5 and len(arrows) == 6
    assert sum("Mul" in t for t in texts) == 2 and sum("Add" in t for t in texts) == 1
    # L = a^2 b + b = -15; dL/da = 2ab = -12, dL/db = a^2 + 1 = 5
    assert "a\n2\ngrad -12" in texts and "b\n-3\ngrad 5" in texts
    assert "Add\n= L\n-15" in texts and "Mul\n= u\n-6" in texts
    plt.close("all")


def test_needs_a_tensor_with_a_graph():
    with pytest.raises(ValueError, match="requires_grad=True"):
        draw_graph(Tensor(torch.ones(2)))
