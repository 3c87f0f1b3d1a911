"""pytest plugin the grader loads (-p teacher.pytest_plugin) in the pytest it starts.

Environment:
    TEACHER_RESULTS  a file; one JSON line when a test starts and one when it is done
                     (outcome, duration, the exercises its code reached, the failure text)
    TEACHER_SELECT   optional JSON file: the node ids to run (the others are deselected)
    TEACHER_COLLECT  optional file: the collected node ids are written there as JSON
    TEACHER_PLAN     optional JSON file: node id -> exercise whose stub the probe raises
    TEACHER_TIMEOUT  optional: seconds allowed per test; a test past it fails with
                     "timed out after N s" (hypothesis tests too, see TestTimedOut)
"""
from __future__ import annotations

import importlib
import json
import os
import signal

import pytest

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


def pytest_collection_modifyitems(config, items):
    collect = os.environ.get("TEACHER_COLLECT")
    if collect:
        with open(collect, "w") as f:
            json.dump([item.nodeid for item in items], f)
    wanted = _load("TEACHER_SELECT")
    if wanted is None:
        return
    wanted = set(wanted)
    keep = [item for item in items if item.nodeid in wanted]
    dropped = [item for item in items if item.nodeid not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


def pytest_runtest_logstart(nodeid, location):
    _state["current"] = {"nodeid": nodeid, "outcome": "passed", "duration": 0.0, "message": "", "reason": ""}
    probe = _probe()
    if probe is not None:
        probe.hits.clear()
        stub = (_state.setdefault("plan", _load("TEACHER_PLAN") or {})).get(nodeid)
        probe.stubs = {stub} if stub else set()
    _write({"event": "start", "nodeid": nodeid})


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
        probe.stubs = set()
    _write({"event": "done", **current})
