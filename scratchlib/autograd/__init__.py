r"""A small reverse-mode automatic differentiation engine with torch's API (notebook 06).

Layers, bottom up: ``tensor`` (Tensor) and ``function`` (Function, the graph and the
backward traversal), ``ops`` (the elementary operations), ``functional`` (fused layer
operations), ``nn`` (modules), ``optim`` (SGD), ``draw`` (a picture of the graph).
torch tensors hold the numbers; torch's own autograd is never used.
"""
from scratchlib.autograd.tensor import Tensor
from scratchlib.autograd.function import AccumulateGrad, Context, Function, backward
from scratchlib.autograd import functional, nn, ops, optim
from scratchlib.autograd.draw import draw_graph

__all__ = ["Tensor", "Function", "Context", "AccumulateGrad", "backward", "functional", "nn", "ops", "optim",
           "draw_graph"]
