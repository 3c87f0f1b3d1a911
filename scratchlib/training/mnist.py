"""MNIST from the standard IDX files, checked byte for byte before it is used.

The four files are the ones Yann LeCun and Corinna Cortes published::

    train-images-idx3-ubyte.gz   train-labels-idx1-ubyte.gz   (60,000 digits)
    t10k-images-idx3-ubyte.gz    t10k-labels-idx1-ubyte.gz    (10,000 digits)

An IDX file is a big-endian header followed by raw bytes: the magic number
``0x00000803`` (unsigned bytes, 3 dimensions) then the sizes ``n, 28, 28`` for
images, ``0x00000801`` then ``n`` for labels. Every file is read whole, its sha256
compared with a table of known checksums, its header and its length checked, and
only then turned into tensors; anything wrong is a clear error naming the file.
Nothing is unpickled.

With no ``root``, :func:`load_mnist` reads the embedded subset, package data of scratchlib
in ``scratchlib/training/datasets/mnist/`` (5,000 real MNIST digits; see ``data/README.md``), checked
against ``scratchlib/training/datasets/SHA256SUMS``.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import torch

#: sha256 of the four published ``.gz`` files, as recorded by TensorFlow Datasets
#: (LeCun's page publishes no checksums; torchvision records MD5s of the same files).
PUBLISHED_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: File stems of each split: (images, labels).
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IMAGE_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned byte, 1 dimension
SIDE = 28

#: The embedded subset's folder (``mnist/`` and ``SHA256SUMS``): package data, found through
#: importlib.resources, so that it is there in an editable install, a wheel, a JupyterHub image.
DATA_DIR = resources.files("scratchlib.training") / "datasets"


def embedded_dir() -> Path:
    """DATA_DIR as a folder on disk (it is one in every install pip makes)."""
    if not isinstance(DATA_DIR, Path):
        raise FileNotFoundError(
            f"load_mnist: the embedded MNIST subset is inside {DATA_DIR}, not in a "
            "folder on disk; install scratchlib with pip, or pass root="
        )
    return DATA_DIR


def sha256_of(raw: bytes) -> str:
    """The sha256 of ``raw`` as 64 hex digits."""
    return hashlib.sha256(raw).hexdigest()


def read_sha256sums(path: Path | str) -> dict[str, str]:
    """Read a ``sha256sum`` file (``<hex>  <relative path>`` per line) into {file name: hex}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checksum file {path} does not exist")
    table = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ValueError(f"{path}, line {number}: expected '<sha256>  <file>', got {line!r}")
        table[Path(parts[1].lstrip("*")).name] = parts[0].lower()
    return table


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"MNIST file {stem}.gz (or {stem}) not found in {root}")


def read_idx(path: Path | str, checksums: Mapping[str, str] | None = None) -> torch.Tensor:
    """Read one IDX file of unsigned bytes (gzip or plain) into a uint8 tensor of its shape.

    When ``checksums`` has an entry for the file's name, the file's sha256 must match it.
    """
    path = Path(path)
    raw = path.read_bytes()
    expected = (checksums or {}).get(path.name)
    if expected is not None and sha256_of(raw) != expected.lower():
        raise ValueError(
            f"{path}: sha256 is {sha256_of(raw)}, expected {expected}; "
            "the file is corrupt, or not the published MNIST file nor the subset scratchlib "
            "ships (download it again)"
        )
    if raw[:2] == b"\x1f\x8b":  # the gzip magic
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise ValueError(f"{path}: not a readable gzip file (truncated or corrupt): {err}") from None
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header (truncated file)")
    zero, dtype_code, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or dims not in (1, 3):
        raise ValueError(
            f"{path}: magic number 0x{raw[:4].hex()} is not an IDX file of unsigned bytes "
            f"(expected 0x{LABEL_MAGIC:08x} for labels or 0x{IMAGE_MAGIC:08x} for images)"
        )
    header = 4 + 4 * dims
    if len(raw) < header:
        raise ValueError(f"{path}: header cut short after {len(raw)} bytes (truncated file)")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    size = 1
    for s in shape:
        size *= s
    if len(raw) - header != size:
        what = "truncated" if len(raw) - header < size else "has trailing bytes"
        raise ValueError(f"{path}: header says shape {shape} = {size} bytes, file holds {len(raw) - header} ({what})")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


def _subset_if_it_is(*paths: Path) -> dict[str, str] | None:
    """The embedded subset's checksums when ``paths`` are its files (a copy, or the package folder
    given as ``root``), so they are recognised rather than called corrupt; else None."""
    try:
        subset = read_sha256sums(embedded_dir() / "SHA256SUMS")
    except FileNotFoundError:
        return None
    same = all(subset.get(p.name) == sha256_of(p.read_bytes()) for p in paths)
    return subset if same else None


def load_mnist(
    split: str = "train", root: Path | str | None = None, checksums: Mapping[str, str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The MNIST ``split`` ("train" or "test") as ``x`` (n, 784) float32 in [0, 1] and ``y`` (n,) int64.

    ``root`` is a folder holding the standard IDX files, gzipped (``*.gz``, checked
    against :data:`PUBLISHED_SHA256`) or plain (not checked: nobody publishes their
    checksums). ``checksums`` replaces that table ({file name: sha256}; ``{}`` checks
    nothing). A ``root`` holding the embedded subset's files is recognised by their checksums.
    With no ``root``: the embedded subset in ``scratchlib/training/datasets/mnist/``
    (4,000 train and 1,000 test digits), checked against its ``SHA256SUMS``. Pixel $p \in
    \{0..255\}$ becomes $p / 255$; row $i$ of ``x`` is image $i$ read row by row.
    """
    if split not in FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    if root is None:
        root = embedded_dir() / "mnist"
        if checksums is None:
            checksums = read_sha256sums(embedded_dir() / "SHA256SUMS")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"load_mnist: data root {root} does not exist or is not a folder")
    image_path, label_path = (_find(root, stem) for stem in FILES[split])
    if checksums is None:
        checksums = _subset_if_it_is(image_path, label_path) or PUBLISHED_SHA256
    images = read_idx(image_path, checksums)
    labels = read_idx(label_path, checksums)
    if images.dim() != 3 or tuple(images.shape[1:]) != (SIDE, SIDE):
        raise ValueError(f"{image_path}: expected images of shape (n, {SIDE}, {SIDE}), got {tuple(images.shape)}")
    if labels.dim() != 1:
        raise ValueError(f"{label_path}: expected labels of shape (n,), got {tuple(labels.shape)}")
    if len(images) != len(labels):
        raise ValueError(f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels")
    if len(labels) and labels.max() > 9:
        raise ValueError(f"{label_path}: labels must be digits 0..9, found {int(labels.max())}")
    x = images.reshape(len(images), SIDE * SIDE).to(torch.float32) / 255.0
    return x, labels.to(torch.int64)
