"""Notebook 05: training: the toy data sets and the MNIST reader (``data``, ``mnist``) and the loop (``train``).

Import the modules: ``from scratchlib.training import data, mnist, train``.
"""
