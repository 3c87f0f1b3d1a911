"""Shared test setup: a headless matplotlib and a hypothesis profile that never flakes."""

import locale
import os
import sys

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

# The tests' matrices are small: a second thread only adds overhead, and on a busy 2-core
# machine a lot of it (a 20x8 matmul: about 800 us with 2 threads, 5 us with 1). One
# thread also sums in the same order everywhere.
torch.set_num_threads(1)

import threading  # noqa: E402

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from tqdm import tqdm  # noqa: E402

# tqdm guards its bars with a lock shared across processes (a POSIX semaphore) as well as a thread
# lock. `make mutation` forks one test process per mutant from a parent that has made that
# semaphore; a process killed at its time limit while holding it left every later process waiting
# on it forever, so each of their mutants was counted a timeout (killed) without being tested.
# One test process needs only the thread lock.
tqdm.set_lock(threading.RLock())

# No deadline: a busy 2-core machine must not turn a slow example into a failure.
# CI is derandomized so that a run is reproducible; locally examples vary.
settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
profile = "ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev")
# The self-check (scratchlib.course.runner sets SCRATCHLIB_SELF_CHECK) does not shrink a failing
# example: a stub fails every example, and shrinking one took seconds per test, half a minute for
# exercise 6.2's check. Whether a test passes is the same; a real failure is reported with the
# first example found, not the smallest (the grader still shrinks).
if os.environ.get("SCRATCHLIB_SELF_CHECK"):
    no_shrink = tuple(phase for phase in settings.get_profile(profile).phases if phase is not Phase.shrink)
    settings.register_profile("self-check", settings.get_profile(profile), phases=no_shrink)
    profile = "self-check"
settings.load_profile(profile)

# tests/teacher_fixture is a tiny course that tests/test_teacher.py builds and grades; its
# own tests and notebook are run by the grader there, not by this test run.
collect_ignore = ["teacher_fixture"]


@pytest.fixture
def ascii_locale():
    """A machine whose locale is not UTF-8 (a grading server's C locale): the grader and the course
    read and write their files as UTF-8 all the same."""
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    """`make mutation`'s stats run only: what the teacher processes this test started reached count
    as reached by the test (before mutmut reads it; see tools/teacher/mutation_alias.py)."""
    alias = sys.modules.get("tools.teacher.mutation_alias")
    if alias is not None:
        alias.merge_hits()
