"""Which package index `make` installs torch from: the light CPU build unless a GPU wants CUDA.

On Linux the default index (PyPI) resolves ``torch==2.13.0`` to the CUDA build: torch plus
some twenty nvidia, cuda and triton packages, several GB. Most students have no NVIDIA GPU,
so on Linux without one we add PyTorch's CPU wheel index, whose ``2.13.0+cpu`` wins over
PyPI's ``2.13.0`` (a local version sorts after its public one) and is about 190 MB.

Run by the Makefile with the system Python before the virtual environment exists, so it uses
the standard library only. It prints the pip options on stdout (nothing for the default
index) and says what it chose, in one line, on stderr::

    pip install -e '.[dev]' $(python3 tools/torch_index.py)

``TORCH_INDEX=<url>`` uses that index instead (e.g. https://download.pytorch.org/whl/cu126);
``TORCH_INDEX=default`` uses the default index.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Seconds the CPU index has to answer before we fall back to the default index.
PROBE_SECONDS = 3.0


def nvidia_gpu_present() -> bool:
    """An NVIDIA driver is loaded (its /proc entry) or its tool is installed."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def reachable(url: str, seconds: float = PROBE_SECONDS, opener: Callable[..., object] = urllib.request.urlopen) -> bool:
    """Whether ``url`` answers within ``seconds``, name lookup included.

    urlopen's own timeout does not cover the DNS lookup, so the request runs in a daemon
    thread that we stop waiting for after ``seconds``.
    """
    answered = []

    def probe():
        try:
            opener(urllib.request.Request(url, method="HEAD"), timeout=seconds)
            answered.append(True)
        except Exception:  # noqa: BLE001 (no network, no DNS, a proxy's refusal: all "no")
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(seconds)
    return bool(answered)


def choose(
    override: str | None, system: str, gpu_present: Callable[[], bool], index_reachable: Callable[[str], bool]
) -> tuple[list[str], str]:
    """The pip options and the one line that says why, for this machine.

    ``gpu_present`` and ``index_reachable`` are asked only when the answer depends on them
    (the tests pass their own).
    """
    if override:
        if override == "default":
            return [], "torch: the default index (TORCH_INDEX=default)"
        return ["--extra-index-url", override], f"torch: from {override} (TORCH_INDEX)"
    if system != "Linux":
        return [], f"torch: the default index ({system}: its torch wheels have no CUDA libraries)"
    if gpu_present():
        return [], (
            "torch: NVIDIA GPU found: the default index, the CUDA build (several GB; "
            f"TORCH_INDEX={CPU_INDEX} for the CPU build)"
        )
    if not index_reachable(CPU_INDEX):
        return [], (
            f"torch: no NVIDIA GPU, but {CPU_INDEX} was not reachable within "
            f"{PROBE_SECONDS:g} s: using the default index (on Linux its torch is the "
            "CUDA build, several GB, unless a local wheel is found; TORCH_INDEX=<url> chooses)"
        )
    return ["--extra-index-url", CPU_INDEX], f"torch: no NVIDIA GPU: the CPU build from {CPU_INDEX}"


def main() -> int:
    options, line = choose(
        os.environ.get("TORCH_INDEX", "").strip() or None, platform.system(), nvidia_gpu_present, reachable
    )
    print(line, file=sys.stderr)
    print(" ".join(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
