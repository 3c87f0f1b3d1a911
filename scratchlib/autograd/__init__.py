r"""A small reverse-mode automatic differentiation engine with torch's API (notebook 06).

Layers, bottom up: ``tensor`` (Tensor) and ``function`` (Function, the graph and the
backward traversal), ``ops`` (the elementary operations), ``functional`` (fused layer
operations), ``nn`` (modules), ``optim`` (SGD, Adam, AdamW), ``mnist`` (CMU HW1P1's ``train`` and
``mnist``: the training loop and the MNIST model). The pictures read the graph from
above: :mod:`scratchlib.show.graph` (its nodes and names) and :mod:`scratchlib.show.replay`
(a backward pass recorded node by node).
torch tensors hold the numbers; torch's own autograd is never used. The picture of a
graph is :func:`scratchlib.show.draw.draw_graph` (above both libraries: the engine imports
nothing of the layer library).
"""

# Tensor first: the operations build on it, and tensor.py imports them at its end
# isort: off
from scratchlib.autograd.tensor import Tensor
from scratchlib.autograd.function import AccumulateGrad, Context, Function, backward
from scratchlib.autograd import functional, mnist, nn, ops, optim
# isort: on

__all__ = ["Tensor", "Function", "Context", "AccumulateGrad", "backward", "functional", "mnist", "nn", "ops", "optim"]
