"""The layer library and the engine compute on whatever device their tensors live on."""

import pytest
import torch

from scratchlib import benchmark as bench

OURS = ("scratchlib.layers", "scratchlib.autograd")  # compared with the CPU on CUDA


@pytest.mark.parametrize("name", list(bench.IMPLEMENTATIONS))
def test_a_training_step_stays_on_the_meta_device(name):
    """'meta' tensors have shapes and no numbers: a tensor made on the CPU by mistake in the
    step (a buffer, a constant, a one-hot) would clash with them, and a value read back to
    the host (a per-step check) would fail."""
    step = bench.IMPLEMENTATIONS[name](4, "meta")
    step()
    step()
    params = step.parameters()
    assert [p.device.type for p in params] == ["meta"] * 4
    assert [tuple(p.shape) for p in params] == [(256, 784), (256,), (10, 256), (10,)]


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA GPU on this machine: the CUDA path is covered by the 'meta' test above",
)
@pytest.mark.parametrize("name", OURS)
@pytest.mark.parametrize("batch_size", [1, 32])
def test_training_on_cuda_gives_the_cpu_results(name, batch_size):
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # full float32 products, as on the CPU
    try:
        cpu, cuda = (bench.IMPLEMENTATIONS[name](batch_size, device, lr=0.2) for device in ("cpu", "cuda"))
        for _ in range(10):
            cpu()
            cuda()
        torch.cuda.synchronize()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    for i, (got, want) in enumerate(zip(cuda.parameters(), cpu.parameters())):
        assert got.device.type == "cuda"
        # float32 in another summation order: CPU against torch differs by at most 4.3e-8 here;
        # 1e-5 leaves room for GPU reductions (not measured: no GPU where this was written)
        torch.testing.assert_close(got.cpu(), want, rtol=0, atol=1e-5, msg=f"{name}, parameter {i}")
