"""A wheel of scratchlib, installed away from the repository, still carries the MNIST subset.

Builds the wheel offline from this checkout (no build isolation: the environment's
setuptools, declared in the dev extra), installs it with ``pip install --no-deps --target``
into a temporary folder, and loads the subset from a process that runs outside the
repository with only that folder (and the environment's torch) to import from.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOAD = """
import json
import scratchlib
from scratchlib.training.mnist import load_mnist
x, y = load_mnist("train")
xt, yt = load_mnist("test")
print(json.dumps({"file": scratchlib.__file__, "train": list(x.shape), "test": list(xt.shape),
                  "digits": sorted(set(y.tolist())), "sum": int(y.sum())}))
"""


def pip(*args, cwd):
    run = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_wheel_installed_outside_the_repository_loads_the_embedded_subset(tmp_path):
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(ROOT), cwd=tmp_path)
    [wheel] = wheels.glob("scratchlib-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for file in ["SHA256SUMS", "mnist/train-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"]:
        assert f"scratchlib/training/datasets/{file}" in names, names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names

    pip("install", "--no-deps", "--target", str(target), str(wheel), cwd=tmp_path)
    # torch comes from this environment's site-packages; scratchlib only from the target folder
    # (PYTHONPATH comes first on sys.path), and nothing from the repository (the working folder
    # is elsewhere, and the editable install's finder is never reached).
    run = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert Path(got["file"]).is_relative_to(target), got["file"]
    assert got["train"] == [4000, 784] and got["test"] == [1000, 784]
    assert got["digits"] == list(range(10)) and got["sum"] == 400 * sum(range(10))
