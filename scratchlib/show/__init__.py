"""The pictures, on top of both libraries: charts (``plots``), drawings of the tape and the engine's graph
(``draw``), the engine's graph read as nodes and edges (``graph``), a recorded
backward pass (``events``, ``replay``), the backward stepper
(``stepper``) and the interactive explorer (``widgets``).

Import the modules: ``from scratchlib.show import plots, draw``.
"""
