"""scratchlib: a neural-network library built from scratch, one notebook at a time.

The folders are the course's parts (docs/architecture.md draws them): ``course`` (the course's
own tools, at the bottom), the chapters side by side above it (``mlp``: notebook 03,
``layers``: 04, ``training``: 05, ``autograd``: 06), and the pictures on top (``show``).

The two names a notebook cell types without importing more: ``scratchlib.show_source`` and
``scratchlib.exercises.check("4.3")`` (the self-check).
"""

from __future__ import annotations

from types import ModuleType

from scratchlib.course.source import show_source

__version__ = "0.1.0"
__all__ = ["exercises", "show_source", "__version__"]


def __getattr__(name: str) -> ModuleType:
    # the self-check is imported on first use, not with the package: `make check` runs it as
    # `python -m scratchlib.course.exercises`, which must find it not yet imported
    if name == "exercises":
        from scratchlib.course import exercises

        return exercises
    raise AttributeError(f"module 'scratchlib' has no attribute {name!r}")
