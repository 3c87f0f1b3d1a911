"""Time one SGD training step of a 784-256-10 MNIST MLP, ours against torch (``make bench``).

    python benchmarks/train_step.py [--batch-sizes 1 10 100 1000] [--device cpu|cuda]
                                    [--threads N] [--repeats 15] [--csv build/bench.csv]

The command line: it prints the tables and writes them as CSV. What it times (each
implementation's step), the interleaved timing and the tables live in
:mod:`scratchlib.benchmark`, which notebook 06 also uses.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch

from scratchlib import benchmark as bench


def write_csv(
    path: Path, results: dict[tuple[str, int], bench.Timing], batch_sizes: list[int], names: list[str]
) -> None:
    """One row per implementation: wall ms and ratio, CPU ms and ratio, for each batch size."""
    wall, cpu = bench.table(results, batch_sizes, names, "wall"), bench.table(results, batch_sizes, names, "cpu")
    fields = ["implementation"] + [
        f"{clock}_{k}@{b}" for b in batch_sizes for clock in ("wall", "cpu") for k in ("ms", "ratio")
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for w, c in zip(wall, cpu):
            row = {"implementation": w["implementation"]}
            row.update({f"wall_{k}": v for k, v in w.items() if k != "implementation"})
            row.update({f"cpu_{k}": v for k, v in c.items() if k != "implementation"})
            writer.writerow(row)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/train_step.py", description=bench.__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None, help="torch's intra-op threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repetitions (medians)")
    parser.add_argument("--min-seconds", type=float, default=0.05, help="least wall time per sample")
    parser.add_argument("--only", nargs="+", choices=list(bench.IMPLEMENTATIONS), default=list(bench.IMPLEMENTATIONS))
    parser.add_argument("--csv", type=Path, default=Path("build/bench.csv"))
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    names = ["torch"] + [n for n in args.only if n != "torch"]
    print(
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
        f"{args.repeats} interleaved repetitions, medians"
    )
    results = bench.measure(args.batch_sizes, names, args.device, args.repeats, args.min_seconds)
    for clock, what in (("wall", "wall time"), ("cpu", "CPU time of this process")):
        print(f"\n{what} per step")
        print(bench.format_table(bench.table(results, args.batch_sizes, names, clock), args.batch_sizes))
    print(f"\n{bench.NOTE}")
    write_csv(args.csv, results, args.batch_sizes, names)
    print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
