"""Time one SGD training step of a 784-256-10 MNIST MLP, ours against torch (``make bench``).

    python benchmarks/train_step.py [--batch-sizes 1 10 100 1000] [--device cpu|cuda]
                                    [--threads N] [--repeats 15] [--csv build/bench.csv]

The implementations, the timing and the tables live in :mod:`scratchlib.benchmark`
(notebook 06 runs a small version of the same benchmark from there).
"""
import sys

from scratchlib.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
