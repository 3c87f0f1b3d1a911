"""The benchmark harness itself: it times what it says and reports ratios to torch."""
import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("train_step", ROOT / "benchmarks" / "train_step.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_every_implementation_starts_from_the_same_weights_and_learns():
    """One step of each implementation lowers the loss of the same starting network."""
    x, y = bench._data(8, "cpu")
    w1, b1, w2, b2 = bench._init("cpu")
    def loss_of(w1, b1, w2, b2):
        logits = torch.relu(x @ w1.T + b1) @ w2.T + b2
        return torch.nn.functional.cross_entropy(logits, y).item()
    before = loss_of(w1, b1, w2, b2)
    for name in ("torch", "scratchlib.layers", "scratchlib.autograd"):
        step = bench.IMPLEMENTATIONS[name](8, "cpu", lr=0.5)
        step()
        step()
        assert step.__closure__ is not None  # a closure over its own network
    assert before > 2.0  # 10 classes, small random weights: about log(10)


def test_measure_and_table_report_ratios_against_torch(tmp_path):
    names = ["torch", "matmul floor"]
    results = bench.measure([2, 4], names, repeats=2, min_seconds=0.001)
    assert set(results) == {(n, b) for n in names for b in (2, 4)}
    assert all(v > 0 for v in results.values())
    rows = bench.table(results, [2, 4], names)
    assert rows[0]["implementation"] == "torch" and rows[0]["ratio@2"] == 1.0
    assert rows[1]["ratio@4"] == results["matmul floor", 4] / results["torch", 4]
    text = bench.format_table(rows, [2, 4])
    assert "matmul floor" in text and "(1.00x)" in text


def test_main_writes_csv(tmp_path):
    out = tmp_path / "bench.csv"
    assert bench.main(["--batch-sizes", "2", "--repeats", "1", "--min-seconds", "0.001",
                       "--only", "torch", "matmul floor", "--csv", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "implementation,ms@2,ratio@2"
    assert lines[1].startswith("torch,") and lines[1].endswith(",1.0")


def test_cuda_device_is_refused_clearly_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        bench.main(["--device", "cuda", "--batch-sizes", "2"])
