"""tools/torch_index.py: which index torch comes from, decided without touching the network."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("torch_index", ROOT / "tools" / "torch_index.py")
torch_index = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(torch_index)

CPU = torch_index.CPU_INDEX


def never(*_):
    raise AssertionError("asked although the answer cannot change the choice")


def answer(value):
    return lambda *_: value


@pytest.mark.parametrize(
    "gpu, reachable, options, says",
    [
        (False, True, ["--extra-index-url", CPU], "no NVIDIA GPU: the CPU build from " + CPU),
        (False, False, [], "was not reachable within 3 s: using the default index"),
        (True, never, [], "NVIDIA GPU found: the default index, the CUDA build"),
    ],
)
def test_linux_takes_the_cpu_index_unless_a_gpu_wants_cuda_or_the_index_is_out_of_reach(gpu, reachable, options, says):
    got, line = torch_index.choose(None, "Linux", answer(gpu), reachable if callable(reachable) else answer(reachable))
    assert got == options
    assert says in line and "\n" not in line


def test_torch_index_overrides_and_other_systems_keep_the_default_index():
    url = "https://download.pytorch.org/whl/cu126"
    assert torch_index.choose(url, "Linux", never, never)[0] == ["--extra-index-url", url]
    assert torch_index.choose("default", "Linux", never, never)[0] == []
    for system in ("Darwin", "Windows"):
        assert torch_index.choose(None, system, never, never)[0] == []


def test_an_index_that_hangs_counts_as_unreachable_after_the_time_limit():
    def hanging(request, timeout):
        assert request.get_method() == "HEAD" and request.full_url == CPU + "/torch/"
        time.sleep(30)

    start = time.monotonic()
    assert torch_index.reachable(CPU + "/torch/", seconds=0.2, opener=hanging) is False
    assert time.monotonic() - start < 5
    assert torch_index.reachable(CPU + "/torch/", seconds=5, opener=lambda r, timeout: None) is True
    assert torch_index.reachable(CPU + "/torch/", seconds=5, opener=never) is False


def test_the_script_prints_pip_options_and_says_why_on_one_line():
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "torch_index.py")],
        capture_output=True,
        text=True,
        env={"TORCH_INDEX": "https://example.org/whl/cpu", "PATH": ""},
        check=True,
    )
    assert run.stdout == "--extra-index-url https://example.org/whl/cpu\n"
    assert run.stderr == "torch: from https://example.org/whl/cpu (TORCH_INDEX)\n"


def test_the_makefile_installs_with_the_chosen_index():
    makefile = (ROOT / "Makefile").read_text()
    assert "tools/torch_index.py" in makefile
    assert "$$torch_index" in makefile
