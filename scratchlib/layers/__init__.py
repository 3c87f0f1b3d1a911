"""Notebook 04: the layer library, a graph of layers run as a tape; the student writes each layer's passes.

Everything a notebook or a test uses is imported from here (``from scratchlib.layers import
Linear, Network``). The modules, bottom up: ``wiring`` (the checks made when layers are wired
together), ``base`` (``Layer`` and ``Input``: the gradient every layer keeps), the layers
(``linear``, ``activations``, ``arithmetic``, ``losses``), and ``network`` (the tape).
"""

from scratchlib.layers.activations import ReLU, Sigmoid, Softmax, Tanh
from scratchlib.layers.arithmetic import Scale, Sum
from scratchlib.layers.base import Input, Layer
from scratchlib.layers.linear import Linear
from scratchlib.layers.losses import MSELoss, Regularization, SoftmaxCrossEntropy
from scratchlib.layers.network import MLP, Network, mlp

__all__ = [
    "Layer",
    "Input",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Scale",
    "Sum",
    "Regularization",
    "MSELoss",
    "SoftmaxCrossEntropy",
    "Network",
    "MLP",
    "mlp",
]
