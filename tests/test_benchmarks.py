"""The benchmark harness (scratchlib.benchmark, and its command line benchmarks/train_step.py): it times the
same work everywhere and reports ratios to torch."""

import collections
import importlib.util
from pathlib import Path

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from scratchlib import benchmark as bench

ROOT = Path(__file__).resolve().parents[1]
COMPARED = ("scratchlib.layers", "scratchlib.autograd")


def command_line():
    """benchmarks/train_step.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("train_step", ROOT / "benchmarks" / "train_step.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.parametrize("batch_size", [1, 8])
def test_every_implementation_does_the_same_steps_as_torch(batch_size):
    """Same init, data and lr: after 10 steps the layers' and the engine's parameters equal torch's."""
    lr = 0.2  # large enough that every parameter moves far beyond the tolerance
    steps = {name: bench.IMPLEMENTATIONS[name](batch_size, "cpu", lr=lr) for name in ("torch",) + COMPARED}
    for name, step in steps.items():
        for before, start in zip(step.parameters(), bench.starting_weights()):
            assert torch.equal(before, start), name  # all start from the same weights
    for step in steps.values():
        for _ in range(10):
            step()
    expected = steps["torch"].parameters()
    for got, start in zip(expected, bench.starting_weights()):
        assert (got - start).abs().max() > 5e-3  # torch's parameters really moved
    for name in COMPARED:
        for i, (got, want) in enumerate(zip(steps[name].parameters(), expected)):
            # float32: the largest difference seen was 4.3e-8 (other summation orders)
            torch.testing.assert_close(got, want, rtol=0, atol=5e-7, msg=f"{name}, parameter {i}")


def test_a_wrong_step_would_be_caught():
    """The tolerance above separates a 1% different learning rate (the test is not vacuous)."""
    a, b = bench.layers_step(8, lr=0.2), bench.torch_step(8, lr=0.2 * 1.01)
    for _ in range(10):
        a(), b()
    assert max((p - q).abs().max() for p, q in zip(a.parameters(), b.parameters())) > 5e-5


def _ops(step) -> collections.Counter:
    step()  # warm-up outside the profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    return collections.Counter(e.name for e in prof.events() if e.name.startswith("aten::"))


def test_matmul_floor_is_the_products_and_bias_sums_of_a_real_step_and_nothing_else():
    products = ("aten::addmm", "aten::mm", "aten::sum")
    torch_ops, floor_ops = _ops(bench.torch_step(8)), _ops(bench.matmul_floor(8))
    assert (
        {k: floor_ops[k] for k in products}
        == {k: torch_ops[k] for k in products}
        == {"aten::addmm": 2, "aten::mm": 3, "aten::sum": 2}
    )
    # nothing else computes: what is left are views and the copies of `out=` into the buffers
    others = set(floor_ops) - set(products)
    assert others <= {
        "aten::as_strided",
        "aten::copy_",
        "aten::expand",
        "aten::fill_",
        "aten::numpy_T",
        "aten::permute",
        "aten::resolve_conj",
        "aten::t",
        "aten::transpose",
    }, others
    assert "aten::relu" not in floor_ops and "aten::add_" not in floor_ops and "aten::_foreach_add_" not in floor_ops


def test_mlp_row_is_labelled_as_a_different_network():
    assert "tanh" in bench.LABELS["scratchlib.mlp"] and "MSE" in bench.LABELS["scratchlib.mlp"]
    step = bench.mlp_step(4)
    step()
    assert [tuple(p.shape) for p in step.parameters()] == [(256, 784), (256,), (10, 256), (10,)]


def test_measure_and_table_report_ratios_against_torch():
    names = ["torch", "matmul floor"]
    results = bench.measure([2, 4], names, repeats=2, min_seconds=0.001)
    assert set(results) == {(n, b) for n in names for b in (2, 4)}
    assert all(t.wall > 0 and t.cpu >= 0 for t in results.values())
    for clock in ("wall", "cpu"):
        rows = bench.table(results, [2, 4], names, clock)
        assert rows[0]["implementation"] == "torch" and rows[0]["ratio@2"] == 1.0
        ours, theirs = getattr(results["matmul floor", 4], clock), getattr(results["torch", 4], clock)
        assert rows[1]["ratio@4"] == ours / theirs
        text = bench.format_table(rows, [2, 4])
        assert "matmul floor" in text and "(1.00x)" in text


def test_main_writes_csv(tmp_path, capsys):
    out = tmp_path / "bench.csv"
    assert (
        command_line().main(
            [
                "--batch-sizes",
                "2",
                "--repeats",
                "1",
                "--min-seconds",
                "0.001",
                "--only",
                "torch",
                "matmul floor",
                "--csv",
                str(out),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "implementation,wall_ms@2,wall_ratio@2,cpu_ms@2,cpu_ratio@2"
    assert lines[1].startswith("torch,") and lines[1].split(",")[2] == lines[1].split(",")[4] == "1.0"
    printed = capsys.readouterr().out
    assert "wall time per step" in printed and "CPU time of this process per step" in printed


def test_the_library_keeps_the_steps_and_the_script_the_command_line():
    assert not hasattr(bench, "main") and not hasattr(bench, "write_csv")
    assert not {"data", "init"} & set(dir(bench))  # no names that shadow scratchlib.training.data
    script = command_line()
    assert callable(script.main) and script.bench is bench


def test_cuda_device_is_refused_clearly_without_a_gpu(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        command_line().main(["--device", "cuda", "--batch-sizes", "2"])
    assert "no CUDA device is available" in capsys.readouterr().err
