"""The order of a take's replies (issue 27, probes 4 and 5): queued comes before any
progress, and a cancel after progress 1.0 is never answered ``running`` then ``done``."""

from __future__ import annotations

import threading
import time

import pytest

from bridge.job_record import Job
from bridge.jobs import JobQueue
from bridge.server import OscServer
from engine.errors import TooLate
from engine.spec import GenerationSpec
from tests.fakes import FakeEngine, Recorder
from tests.test_load import P, Peer, in_process_server


def test_queued_goes_out_before_the_workers_first_progress(tmp_path, monkeypatch):
    """A job on another model gets progress 0.0 'loading' the moment the worker takes
    it; the receiving thread's queued must still come first, however slow it is sent."""
    real_send = OscServer.send

    def slow_queued(self, to, reply):
        if reply[0] == f"{P}/queued":
            time.sleep(0.3)  # the receiving thread preempted between submit and send
        real_send(self, to, reply)

    monkeypatch.setattr(OscServer, "send", slow_queued)
    with in_process_server(FakeEngine(), out_dir=tmp_path) as server, Peer(server.address) as peer:
        for i in range(3):
            request_id = f"m{i}"
            peer.send(
                "generate", request_id, prompt="p", model=f"org/other{i}", out_dir=str(tmp_path)
            )
            peer.until(request_id, {f"{P}/done", f"{P}/error"}, timeout=10)
            addresses = [address for _, address, _ in peer.seen(request_id)]
            assert addresses[0] == f"{P}/queued", addresses


class HeldAtTheEnd(Recorder):
    """A listener that holds the worker once it has reported progress 1.0."""

    def __init__(self) -> None:
        super().__init__()
        self.reached_end = threading.Event()
        self.release = threading.Event()

    def progress(self, job, fraction, stage):
        super().progress(job, fraction, stage)
        if fraction >= 1.0:
            self.reached_end.set()
            self.release.wait(10)


def _queue(tmp_path) -> tuple[JobQueue, HeldAtTheEnd]:
    listener = HeldAtTheEnd()
    queue = JobQueue(FakeEngine(steps=3), listener)
    queue.start()
    queue.submit(
        Job("a1", GenerationSpec(prompt="p", out_dir=tmp_path, seconds=1.0), ("127.0.0.1", 9))
    )
    return queue, listener


def test_a_cancel_after_progress_one_is_answered_too_late_and_the_take_arrives(tmp_path):
    queue, listener = _queue(tmp_path)
    try:
        assert listener.reached_end.wait(10)
        with pytest.raises(TooLate) as refused:
            queue.cancel("a1")
        assert refused.value.code == "too_late"
        assert "will arrive" in refused.value.message
        listener.release.set()
        assert [e[0] for e in listener.wait_terminals(1)] == ["done"]
    finally:
        listener.release.set()
        queue.shutdown(5)


def test_a_cancel_before_the_last_step_wins(tmp_path):
    listener = Recorder()
    engine = FakeEngine(steps=3)
    engine.gate = threading.Event()  # held at its first step
    queue = JobQueue(engine, listener)
    queue.start()
    try:
        queue.submit(
            Job("a1", GenerationSpec(prompt="p", out_dir=tmp_path, seconds=1.0), ("127.0.0.1", 9))
        )
        assert engine.started.wait(10)
        assert queue.cancel("a1") == "running"
        engine.gate.set()
        assert listener.wait_terminals(1) == [("failed", "a1", "cancelled")]
    finally:
        engine.gate.set()
        queue.shutdown(5)
