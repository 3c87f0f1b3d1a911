"""scratchlib: a neural-network library built from scratch, one notebook at a time.

Modules, from the bottom up (imports point one way):
``data`` and ``check`` (no scratchlib imports), ``plots``, ``mlp`` (notebook 03),
``layers`` and ``network`` (04, 05), ``replay`` and ``stepper`` (a backward pass event by
event, 04 and 06), ``train`` and ``widgets`` (05), ``autograd`` (06).
"""
from scratchlib.source import show_source

__version__ = "0.1.0"
__all__ = ["show_source", "__version__"]
