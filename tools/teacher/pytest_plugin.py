"""pytest plugin the grader loads (-p teacher.pytest_plugin) in the pytest it starts.

Environment:
    TEACHER_RESULTS  a file; one JSON line when a test starts and one when it is done
                     (outcome, duration, the exercises its code reached, the failure text)
    TEACHER_SELECT   optional JSON file: the runs wanted, a list of [node id, exercise or null]
                     (the other tests are deselected). A test named with several exercises runs
                     once for each, exercise by exercise: during its run the probe's `current`
                     is that exercise (the probe edition raises its stub, the graded copy runs
                     the student's code for it and the course's solution everywhere else)
    TEACHER_COLLECT  optional file: the collected node ids are written there as JSON
    TEACHER_TIMEOUT  optional: seconds allowed per test; a test past it fails with
                     "timed out after N s" (hypothesis tests too, see TestTimedOut)
"""
from __future__ import annotations

import importlib
import json
import os
import signal

import pytest
from _pytest.runner import runtestprotocol

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


def _write(record):
    path = os.environ.get("TEACHER_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def pytest_configure(config):
    """Hypothesis without shrinking: a stub fails on every example, and shrinking it only costs time."""
    try:
        from hypothesis import Phase, settings
    except ImportError:
        return
    settings.register_profile("teacher", parent=settings.default, database=None,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate])
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
def pytest_runtest_call(item):
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


def reason(report) -> str:
    """One line saying why a test failed, for the teacher's table and the student's report."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "failed"
    if "TestTimedOut" in first or first.startswith("timed out after"):
        return first.split(": ", 1)[-1] if "TestTimedOut" in first else first
    if first.startswith("NotImplementedError: exercise "):
        return "not attempted: the stub is still there (" + first.split(": ", 1)[1] + ")"
    return first[:300]


@pytest.hookimpl(trylast=True)  # after -m's deselection: what is collected is what runs
def pytest_collection_modifyitems(config, items):
    collect = os.environ.get("TEACHER_COLLECT")
    if collect:
        with open(collect, "w") as f:
            json.dump([item.nodeid for item in items], f)
    wanted = _load("TEACHER_SELECT")
    if wanted is None:
        return
    position = {item.nodeid: (i, item) for i, item in enumerate(items)}
    runs = sorted({(nodeid, exercise) for nodeid, exercise in wanted if nodeid in position},
                  key=lambda run: (run[1] or "", position[run[0]][0]))  # exercise by exercise
    chosen = {nodeid for nodeid, _ in runs}
    dropped = [item for item in items if item.nodeid not in chosen]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = [position[nodeid][1] for nodeid, _ in runs]  # the same item again for each exercise
    _state["queue"], _state["at"] = [exercise for _, exercise in runs], 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
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


def pytest_runtest_logstart(nodeid, location):
    exercise = _state.pop("exercise", None)
    _state["current"] = {"nodeid": nodeid, "exercise": exercise, "outcome": "passed", "duration": 0.0,
                         "message": "", "reason": ""}
    probe = _probe()
    if probe is not None:
        probe.hits.clear()
        probe.current = exercise or ""
    _write({"event": "start", "nodeid": nodeid, "exercise": exercise})


def pytest_runtest_logreport(report):
    current = _state.get("current")
    if current is None or current["nodeid"] != report.nodeid:
        return
    current["duration"] += report.duration
    if report.failed:
        current["outcome"] = "failed"
        current["message"] += report.longreprtext[-3000:] + "\n"
        current["reason"] = current["reason"] or reason(report)
    elif report.skipped and current["outcome"] == "passed":
        current["outcome"] = "skipped"


def pytest_runtest_logfinish(nodeid, location):
    current = _state.pop("current", None)
    if current is None:
        return
    probe = _probe()
    current["hits"] = sorted(probe.hits) if probe is not None else []
    if probe is not None:
        probe.current = ""
    _write({"event": "done", **current})
