"""load_mnist on tiny IDX files written here (valid, truncated, wrong magic, wrong checksum) and on the embedded
subset."""

import gzip
import hashlib
import re
import shutil
import struct

import pytest
import torch

from scratchlib.training import mnist

STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx(values: torch.Tensor, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes, written independently of the code under test."""
    values = values.to(torch.uint8)
    magic = (0x0800 | values.dim()) if magic is None else magic
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in values.shape) + values.numpy().tobytes()


def images(n, seed=0):
    return torch.randint(0, 256, (n, 28, 28), generator=torch.Generator().manual_seed(seed))


def write(root, stem, raw, gz=True):
    path = root / (stem + ".gz" if gz else stem)
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return path


@pytest.fixture
def mnist_root(tmp_path):
    """Train: 3 images, labels [7, 0, 9]; test: 2 images, labels [1, 2]; all gzipped."""
    write(tmp_path, STEMS[0], idx(images(3)))
    write(tmp_path, STEMS[1], idx(torch.tensor([7, 0, 9])))
    write(tmp_path, STEMS[2], idx(images(2, seed=1)))
    write(tmp_path, STEMS[3], idx(torch.tensor([1, 2])))
    return tmp_path


def checksums_of(root):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.iterdir()}


def test_reads_valid_files_with_matching_checksums(mnist_root):
    x, y = mnist.load_mnist("train", root=mnist_root, checksums=checksums_of(mnist_root))
    assert x.shape == (3, 784) and x.dtype == torch.float32
    assert y.tolist() == [7, 0, 9] and y.dtype == torch.int64
    # pixel p becomes p / 255, image read row by row
    torch.testing.assert_close(x, images(3).reshape(3, 784).float() / 255, rtol=0, atol=0)
    x, y = mnist.load_mnist("test", root=str(mnist_root), checksums={})
    assert x.shape == (2, 784) and y.tolist() == [1, 2]
    torch.testing.assert_close(x[1, 28 * 5 + 3], images(2, seed=1)[1, 5, 3].float() / 255)


def test_reads_plain_files_and_checks_only_named_ones(tmp_path):
    write(tmp_path, STEMS[0], idx(images(2)), gz=False)
    write(tmp_path, STEMS[1], idx(torch.tensor([4, 5])), gz=False)
    # the published table names only the .gz files, so plain files pass on their structure
    x, y = mnist.load_mnist("train", root=tmp_path)
    assert x.shape == (2, 784) and y.tolist() == [4, 5]
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte: sha256 is"):
        mnist.load_mnist("train", root=tmp_path, checksums={"train-labels-idx1-ubyte": "0" * 64})


def test_published_checksums_reject_files_that_are_not_the_published_ones(mnist_root):
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: sha256 is [0-9a-f]{64}, expected 440fcabf"):
        mnist.load_mnist("train", root=mnist_root)


def test_wrong_checksum_names_the_file(mnist_root):
    table = checksums_of(mnist_root)
    table["t10k-labels-idx1-ubyte.gz"] = "ab" * 32
    mnist.load_mnist("train", root=mnist_root, checksums=table)  # the train files are fine
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz: sha256 is .* expected abab.*corrupt"):
        mnist.load_mnist("test", root=mnist_root, checksums=table)


def test_truncated_gzip_file(mnist_root):
    path = mnist_root / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: not a readable gzip file \(truncated"):
        mnist.load_mnist("train", root=mnist_root, checksums={})


@pytest.mark.parametrize(
    "cut, message",
    [(1, "holds 2351 \\(truncated\\)"), (2352 + 10, "header cut short"), (2352 + 14, "too short for an IDX header")],
)
def test_truncated_plain_file(tmp_path, cut, message):
    raw = idx(images(3))  # 16 header bytes + 3 * 784 pixels
    write(tmp_path, STEMS[0], raw[:-cut], gz=False)
    write(tmp_path, STEMS[1], idx(torch.tensor([1, 2, 3])), gz=False)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: .*" + message):
        mnist.load_mnist("train", root=tmp_path)


def test_trailing_bytes_are_corrupt(tmp_path):
    write(tmp_path, STEMS[0], idx(images(1)))
    write(tmp_path, STEMS[1], idx(torch.tensor([3])) + b"\x00")
    with pytest.raises(
        ValueError,
        match=r"train-labels-idx1-ubyte\.gz: header says shape \(1,\) = 1 bytes, "
        r"file holds 2 \(has trailing bytes\)",
    ):
        mnist.load_mnist("train", root=tmp_path, checksums={})


@pytest.mark.parametrize("magic", [0x00000D03, 0x01000803, 0x00000802, 0x1F8B0803])
def test_wrong_magic_number(tmp_path, magic):
    write(tmp_path, STEMS[2], idx(images(1), magic=magic), gz=False)
    write(tmp_path, STEMS[3], idx(torch.tensor([3])), gz=False)
    with pytest.raises(ValueError, match=f"t10k-images-idx3-ubyte: (magic number 0x{magic:08x}|not a readable gzip)"):
        mnist.load_mnist("test", root=tmp_path)


def test_swapped_files_and_mismatched_counts(tmp_path):
    write(tmp_path, STEMS[0], idx(torch.tensor([1, 2])))  # labels where images belong
    write(tmp_path, STEMS[1], idx(torch.tensor([1, 2])))
    with pytest.raises(ValueError, match=r"expected images of shape \(n, 28, 28\), got \(2,\)"):
        mnist.load_mnist("train", root=tmp_path, checksums={})
    write(tmp_path, STEMS[0], idx(images(3)))
    with pytest.raises(ValueError, match=r"holds 3 images but .*train-labels-idx1-ubyte\.gz holds 2 labels"):
        mnist.load_mnist("train", root=tmp_path, checksums={})
    write(tmp_path, STEMS[1], idx(torch.tensor([1, 12, 3])))
    with pytest.raises(ValueError, match=re.escape("labels must be digits 0..9, found 12")):
        mnist.load_mnist("train", root=tmp_path, checksums={})


def test_missing_file_and_missing_root(mnist_root, tmp_path):
    (mnist_root / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\.gz \(or t10k-labels-idx1-ubyte\) not found"):
        mnist.load_mnist("test", root=mnist_root)
    with pytest.raises(FileNotFoundError, match=r"data root .*nowhere does not exist"):
        mnist.load_mnist("train", root=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'validation'"):
        mnist.load_mnist("validation", root=mnist_root)


def test_sha256sums_file_format(tmp_path):
    path = tmp_path / "SHA256SUMS"
    path.write_text("# comment\n" + "a" * 64 + "  mnist/x.gz\n\n" + "B" * 64 + " *y\n")
    assert mnist.read_sha256sums(path) == {"x.gz": "a" * 64, "y": "b" * 64}
    path.write_text("abc  x.gz\n")
    with pytest.raises(ValueError, match="line 1: expected '<sha256>  <file>'"):
        mnist.read_sha256sums(path)
    with pytest.raises(FileNotFoundError, match="checksum file"):
        mnist.read_sha256sums(tmp_path / "missing")


def test_embedded_subset_is_real_balanced_and_checked():
    x, y = mnist.load_mnist("train")
    assert x.shape == (4000, 784) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [400] * 10
    assert x.min() == 0 and x.max() == 1
    xt, yt = mnist.load_mnist("test")
    assert xt.shape == (1000, 784) and torch.bincount(yt).tolist() == [100] * 10
    # real digits: mostly background, about a fifth of the pixels inked, as in MNIST
    assert 0.15 < (x > 0).float().mean() < 0.25
    # no test image also appears in the training split
    assert not (torch.cdist(xt[:200], x).min(dim=1).values == 0).any()
    table = mnist.read_sha256sums(mnist.DATA_DIR / "SHA256SUMS")
    assert sorted(table) == sorted(s + ".gz" for s in STEMS)


def test_embedded_subset_rejects_a_changed_byte(tmp_path, monkeypatch):
    shutil.copytree(mnist.DATA_DIR / "mnist", tmp_path / "mnist")
    shutil.copy(mnist.DATA_DIR / "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setattr(mnist, "DATA_DIR", tmp_path)
    assert mnist.load_mnist("test")[0].shape == (1000, 784)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[5000] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz: sha256 is"):
        mnist.load_mnist("test")


def test_the_embedded_subset_given_as_root_is_recognised(tmp_path):
    # a student who points root= at the bundled files (or a copy of them) gets them, not "corrupt"
    from scratchlib.training import mnist

    folder = mnist.embedded_dir() / "mnist"
    x, y = mnist.load_mnist("test", root=folder)
    x0, y0 = mnist.load_mnist("test")
    assert torch.equal(x, x0) and torch.equal(y, y0)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    assert torch.equal(mnist.load_mnist("test", root=tmp_path)[1], y0)
    # one changed byte: neither the published file nor the subset, and the error says both
    raw = bytearray((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw[-9] ^= 0xFF
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="not the published MNIST file nor the subset scratchlib ships"):
        mnist.load_mnist("test", root=tmp_path)
