"""The sharing and gather-window rule alone (bridge.gather.GatherRule): no thread,
no lock, no clock; the times are numbers given to it.  tests/test_gather.py
checks the same rule through a running queue."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from bridge.gather import GatherRule
from bridge.job_record import Job
from engine.spec import GenerationSpec

NOW = 1000.0  # monotonic seconds
WINDOW = GatherRule(max_batch=8, gather_s=0.010)


class Share(NamedTuple):
    key: str
    steps: int


def job(job_id: str, submitted: float = NOW, variations: int = 1, followed: bool = False) -> Job:
    spec = GenerationSpec(prompt=job_id, out_dir=Path("/tmp"), seconds=1.0, variations=variations)
    return Job(job_id, spec, ("127.0.0.1", 9), submitted=submitted, followed=followed)


def never() -> bool:
    raise AssertionError("asked whether a request is arriving when the answer cannot matter")


def test_a_job_shares_only_the_same_settings_and_no_more_steps():
    head = Share("k", 50)
    assert GatherRule.shares(head, Share("k", 50))
    assert GatherRule.shares(head, Share("k", 10))
    assert not GatherRule.shares(head, Share("k", 51))  # it would lengthen the run
    assert not GatherRule.shares(head, Share("other", 10))
    assert not GatherRule.shares(head, None)  # the engine says it cannot share


def test_a_head_with_max_batch_takes_of_its_own_runs_alone():
    assert WINDOW.alone(job("a", variations=8))
    assert not WINDOW.alone(job("a", variations=7))


def test_fit_takes_waiting_jobs_in_arrival_order_up_to_max_batch_takes():
    rule = GatherRule(max_batch=4, gather_s=0.0)
    head, b, c, d, e = job("a"), job("b", variations=2), job("c", variations=2), job("d"), job("e")
    may = {b: True, c: True, d: False, e: True}
    # b fills to 3 takes, c (2) no longer fits, d may not join, e (1) fits: 4.
    assert rule.fit(head, [b, c, d, e], may) == [b, e]
    # A job not judged yet does not join.
    assert rule.fit(head, [b, c, d, e, job("f")], may) == [b, e]


@pytest.mark.parametrize(
    ("head", "joining", "arriving", "burst"),
    [
        (job("a", followed=True, submitted=NOW - 0.005), [], None, True),
        (job("a", followed=True, submitted=NOW - 0.020), [], None, False),  # followed long ago
        (job("a", submitted=NOW - 0.005), [], None, False),  # a lone request, nothing behind
        (job("a", submitted=NOW - 5), [job("b", submitted=NOW - 0.002)], None, True),
        (job("a", submitted=NOW - 5), [job("b", submitted=NOW - 1)], None, False),  # backlog
        (job("a", submitted=NOW - 5), [], lambda: True, True),  # one waits to be read now
        (job("a", submitted=NOW - 5), [], lambda: False, False),
    ],
)
def test_a_burst_is_requests_arriving_within_the_window(head, joining, arriving, burst):
    assert WINDOW.burst(head, joining, NOW, arriving) is burst


def test_the_socket_is_asked_last_and_never_with_the_window_off():
    assert WINDOW.burst(job("a", followed=True), [], NOW, never)
    assert WINDOW.burst(job("a", submitted=NOW - 5), [job("b")], NOW, never)
    assert not GatherRule(8, 0.0).burst(job("a", followed=True), [job("b")], NOW, never)


def test_a_lone_request_starts_at_once():
    head = job("a", submitted=NOW - 0.001)
    plan = WINDOW.plan(head, [], {}, NOW, None, lambda: False)
    assert plan == ([], NOW, 0.0)


def test_a_burst_with_room_waits_out_the_window_and_the_deadline_never_moves():
    head, b = job("a", submitted=NOW - 0.001), job("b", submitted=NOW - 0.0005)
    first = WINDOW.plan(head, [b], {b: True}, NOW, None, never)
    assert first.joining == [b]
    assert first.deadline == pytest.approx(NOW + 0.010)
    assert first.wait_s == pytest.approx(0.010)
    # Woken 4 ms later by c's arrival: c joins, the wait is what is left.
    c = job("c", submitted=NOW + 0.004)
    later = WINDOW.plan(head, [b, c], {b: True, c: True}, NOW + 0.004, first.deadline, never)
    assert later.joining == [b, c]
    assert later.deadline == first.deadline
    assert later.wait_s == pytest.approx(0.006)
    # Once the deadline has passed, the run starts with whoever joined.
    done = WINDOW.plan(head, [b, c], {b: True, c: True}, NOW + 0.011, first.deadline, never)
    assert done == ([b, c], first.deadline, 0.0)


def test_a_run_that_fills_starts_at_once_even_within_its_window():
    rule = GatherRule(max_batch=3, gather_s=0.010)
    head, b, c = job("a", followed=True), job("b"), job("c")
    opened = rule.plan(head, [b], {b: True}, NOW, None, never)
    assert opened.wait_s > 0
    full = rule.plan(head, [b, c], {b: True, c: True}, NOW + 0.001, opened.deadline, never)
    assert full.joining == [b, c] and full.wait_s == 0.0
    # Full from the first plan: the window never opens, nothing is asked.
    assert rule.plan(head, [b, c], {b: True, c: True}, NOW, None, never).deadline == NOW


def test_a_window_that_did_not_open_does_not_open_later():
    """The first plan decides: a job arriving after a run chose not to wait
    does not reopen the window (the queue starts the run at that plan)."""
    head = job("a", submitted=NOW - 5)
    first = WINDOW.plan(head, [], {}, NOW, None, lambda: False)
    assert first.wait_s == 0.0
    b = job("b", submitted=NOW)
    assert WINDOW.plan(head, [b], {b: True}, NOW, first.deadline, never).wait_s == 0.0


def test_jobs_that_cannot_join_do_not_open_the_window():
    head, other = job("a", submitted=NOW - 5), job("b")
    plan = WINDOW.plan(head, [other], {other: False}, NOW, None, lambda: False)
    assert plan == ([], NOW, 0.0)
