"""pytest plugin the grader loads (-p teacher.pytest_plugin) in the pytest it starts.

It records each test with the course runner's Recorder (teacher.course_runner), adding the
exercise under test and the exercises the test's code reached.

Environment:
    TEACHER_RESULTS  a file; one JSON line when a test starts and one when it is done
                     (outcome, duration, the exercises its code reached, the failure text, the
                     one-line reason)
    TEACHER_SELECT   optional JSON file: the runs wanted, a list of [node id, exercise or null]
                     (the other tests are deselected). A test named with several exercises runs
                     once for each, exercise by exercise: during its run the probe's `current`
                     is that exercise (the probe edition raises its stub, the graded copy runs
                     the student's code for it and the course's solution everywhere else).
                     "!4.4" for an exercise: the probe runs 4.4's solution and every other stub
    TEACHER_COLLECT  optional file: the collected node ids are written there as JSON
    TEACHER_TIMEOUT  optional: seconds allowed per test; a test past it fails with
                     "timed out after N s" (hypothesis tests too, see TestTimedOut)
"""

from __future__ import annotations

import importlib
import json
import os
import signal
from collections.abc import Iterator

import pytest
from _pytest.runner import runtestprotocol

from teacher import course_runner

_state: dict = {}


def _probe():
    if "probe" not in _state:
        try:
            _state["probe"] = importlib.import_module("_teacher_probe")
        except ImportError:
            _state["probe"] = None
    return _state["probe"]


def _load(variable):
    path = os.environ.get(variable)
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


def pytest_configure(config: pytest.Config) -> None:
    """The recorder; hypothesis without shrinking: a stub fails on every example, and shrinking it only
    costs time."""
    if os.environ.get("TEACHER_RESULTS"):
        config.pluginmanager.register(Recorder(os.environ["TEACHER_RESULTS"]), "teacher-record")
    try:
        from hypothesis import Phase, settings
    except ImportError:
        return
    settings.register_profile(
        "teacher", parent=settings.default, database=None, phases=[Phase.explicit, Phase.reuse, Phase.generate]
    )
    settings.load_profile("teacher")


class TestTimedOut(BaseException):
    """Raised by the alarm when a test runs past its time.

    A BaseException, not an Exception: hypothesis treats an Exception inside an example as
    that example failing and replays it (another endless loop, with no alarm left); a
    BaseException goes straight through it to pytest, which reports the test as failed.
    """

    __test__ = False  # not a test class, whatever its name


def _alarm(signum, frame):
    raise TestTimedOut(f"timed out after {float(os.environ['TEACHER_TIMEOUT']):g} s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    seconds = float(os.environ.get("TEACHER_TIMEOUT") or 0)
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(trylast=True)  # after -m's deselection: what is collected is what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    collect = os.environ.get("TEACHER_COLLECT")
    if collect:
        with open(collect, "w") as f:
            json.dump([item.nodeid for item in items], f)
    wanted = _load("TEACHER_SELECT")
    if wanted is None:
        return
    position = {item.nodeid: (i, item) for i, item in enumerate(items)}
    runs = sorted(
        {(nodeid, exercise) for nodeid, exercise in wanted if nodeid in position},
        key=lambda run: (run[1] or "", position[run[0]][0]),
    )  # exercise by exercise
    chosen = {nodeid for nodeid, _ in runs}
    dropped = [item for item in items if item.nodeid not in chosen]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = [position[nodeid][1] for nodeid, _ in runs]  # the same item again for each exercise
    _state["queue"], _state["at"] = [exercise for _, exercise in runs], 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """pytest's own protocol, with the run's exercise set first; where the next run is for another
    exercise, every fixture is torn down, so none made with one exercise's code serves another's."""
    queue = _state.get("queue")
    if queue is None:
        return None
    at = _state["at"]
    _state["at"] = at + 1
    _state["exercise"] = exercise = queue[at] if at < len(queue) else None
    if nextitem is not None and (queue[at + 1] if at + 1 < len(queue) else None) != exercise:
        nextitem = None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    runtestprotocol(item, nextitem=nextitem)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


class Recorder(course_runner.Recorder):
    """The course runner's record of each test, with the exercise it ran for and the exercises it reached."""

    def start(self, nodeid: str) -> dict:
        exercise = _state.pop("exercise", None)
        probe = _probe()
        if probe is not None:
            probe.hits.clear()
            probe.current = exercise or ""
        return {**super().start(nodeid), "exercise": exercise}

    def finish(self, record: dict) -> None:
        probe = _probe()
        record["hits"] = sorted(probe.hits) if probe is not None else []
        if probe is not None:
            probe.current = ""

    def reason(self, report: pytest.TestReport) -> str:
        line = super().reason(report)  # "teacher.pytest_plugin.TestTimedOut: timed out after 2 s"
        return line.split(": ", 1)[-1] if "TestTimedOut" in line else line
