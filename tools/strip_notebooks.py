"""Remove what a run leaves in a notebook that no other run can repeat: execution timestamps.

`make notebooks` runs this after re-executing the notebooks in place. nbconvert's
``record_timing=False`` stops new timestamps, but keeps the ``metadata.execution`` of every
cell from any earlier run (a notebook saved from JupyterLab has them on every cell); they
would make every commit of a notebook differ and say when a teacher ran it.

Usage: python tools/strip_notebooks.py NOTEBOOK...
"""

from __future__ import annotations

import sys

import nbformat


def strip(path: str) -> bool:
    """Drop every cell's ``metadata.execution``; True when the file changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if "execution" in cell.metadata:
            del cell.metadata["execution"]
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        if strip(name):
            print(f"stripped execution timestamps from {name}")
