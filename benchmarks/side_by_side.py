"""Time the layers' train step of several copies of scratchlib side by side, against torch's.

    python benchmarks/side_by_side.py --copies before=/tmp/a after=/tmp/b [--batch-sizes 1 100 1000]
                                      [--threads 1] [--repeats 15]

Each copy is a folder holding a ``scratchlib/`` package (e.g. ``git worktree add /tmp/a HEAD~3``,
or a copy changed in one place): what one design choice costs is the difference of the ratios
to torch between two copies that differ in that choice alone (docs/performance.md). All copies
run in one process, each repetition in a fresh random order, so a slow patch of a shared machine
hurts them alike; the step and the timing are ``scratchlib.benchmark``'s.
"""

from __future__ import annotations

import argparse
import importlib
import random
import statistics
import sys

import torch


def load_copies(copies: list[str], batch_sizes: list[int]):
    """{batch size: {name: step}}, torch's step included, and the first copy's benchmark module."""
    steps: dict = {b: {} for b in batch_sizes}
    first = None
    for spec in copies:
        name, _, path = spec.partition("=")
        for module in [m for m in sys.modules if m == "scratchlib" or m.startswith("scratchlib.")]:
            del sys.modules[module]  # the next import reads this copy
        sys.path.insert(0, path)
        try:
            bench = importlib.import_module("scratchlib.benchmark")
            if not bench.__file__.startswith(path):
                raise SystemExit(f"{spec}: imported {bench.__file__}, not the copy in {path}")
            if first is None:
                first = bench
                for b in batch_sizes:
                    steps[b]["torch"] = bench.torch_step(b)
            for b in batch_sizes:
                steps[b][name] = bench.layers_step(b)  # built while this copy's modules are loaded
        finally:
            sys.path.remove(path)
    return steps, first


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/side_by_side.py", description=__doc__.splitlines()[0])
    parser.add_argument("--copies", nargs="+", required=True, help="name=folder holding a scratchlib/ package")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--min-seconds", type=float, default=0.05)
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    steps, bench = load_copies(args.copies, args.batch_sizes)
    rng = random.Random(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, wall ms per step (x torch), medians")
    for b, named in steps.items():
        for step in named.values():  # warm up
            for _ in range(3):
                step()
        samples: dict = {name: [] for name in named}
        for _ in range(args.repeats):
            order = list(named)
            rng.shuffle(order)
            for name in order:
                samples[name].append(bench.time_steps(named[name], "cpu", args.min_seconds).wall)
        median = {name: statistics.median(v) for name, v in samples.items()}
        print(
            f"batch {b:5d}: "
            + "  ".join(f"{name} {t * 1e3:.3f} ({t / median['torch']:.3f})" for name, t in median.items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
