"""The gather window (issue 28, item 4): a run about to start waits a moment for
more takes while requests are arriving together, and never otherwise.

A fake engine, events and windows far longer than any test waits (30 s), so no
outcome depends on how fast this machine schedules threads: where the window
must not open, a test would take 30 s and time out; where it must, the run
starts only once it fills, or once the window's own bound has passed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import pytest

from bridge.config import ServeConfig
from bridge.job_record import Job
from bridge.jobs import JobQueue
from engine.spec import GenerationSpec
from tests.fakes import FakeEngine, Recorder
from tests.test_load import P, Peer, in_process_server

LONG_MS = 30_000.0  # a window no test waits out
SETTLE_S = 0.3  # how long a test watches a run not start


def job(job_id: str, tmp_path: Path, model: str | None = None, **fields) -> Job:
    fields.setdefault("seconds", 1.0)
    spec = GenerationSpec(prompt=job_id, out_dir=tmp_path, model=model, **fields)
    return Job(job_id, spec, ("127.0.0.1", 9))


class HeldJudging(FakeEngine):
    """A fake engine whose first ``sharing`` call (the head's) waits for ``release``,
    so a test can have more jobs arrive between the worker taking a job and
    gathering its run: the moment issue 28's 8 clients hit."""

    def __init__(self, **kwargs) -> None:
        super().__init__(share=True, **kwargs)
        self.judging = threading.Event()
        self.release = threading.Event()

    def sharing(self, spec):
        if not self.judging.is_set():
            self.judging.set()
            self.release.wait(10)
        return super().sharing(spec)


@pytest.fixture
def make_queue():
    made = []

    def make(gather_ms: float, max_batch: int = 8, engine: FakeEngine | None = None, **kw):
        engine = engine or FakeEngine(share=True)
        recorder = Recorder()
        queue = JobQueue(
            engine, recorder, startup_model="fake", max_batch=max_batch, gather_ms=gather_ms, **kw
        )
        made.append(queue)
        return queue, engine, recorder

    yield make
    for queue in made:
        queue.shutdown(5)


def wait_running(queue: JobQueue, running: str) -> None:
    deadline = time.monotonic() + 10
    while queue.snapshot().running != running:
        assert time.monotonic() < deadline, queue.snapshot()
        time.sleep(0.005)


def test_a_request_arriving_while_the_run_gathers_joins_it(make_queue, tmp_path):
    """a is taken; b arrives before its run is gathered (the window opens); c
    arrives later, while the window waits, and joins: one run of three."""
    engine = HeldJudging()
    queue, _, recorder = make_queue(LONG_MS, max_batch=3, engine=engine)
    queue.start()
    queue.submit(job("a", tmp_path))
    assert engine.judging.wait(5)  # the worker took a
    queue.submit(job("b", tmp_path))
    engine.release.set()
    assert not engine.started.wait(SETTLE_S)  # waiting for more, a and b together
    now = queue.snapshot()
    assert [(j.id, j.state, j.position) for j in now.jobs] == [
        ("a", "generating", 0),
        ("b", "queued", 1),  # still queued while the window waits: cancellable as such
    ]
    queue.submit(job("c", tmp_path), on_queued=lambda ahead: recorder._add(("queued", "c", ahead)))
    assert [t[:2] for t in recorder.wait_terminals(3)] == [("done", n) for n in "abc"]
    assert engine.runs == [["a", "b", "c"]]
    # c's queued precedes its first progress (issue 27, item 4).
    about_c = [e[0] for e in recorder.events if e[1] == "c"]
    assert about_c[0] == "queued" and "progress" in about_c


def test_with_the_window_off_the_later_request_runs_next(make_queue, tmp_path):
    engine = HeldJudging()
    queue, _, recorder = make_queue(0, max_batch=3, engine=engine)
    queue.start()
    queue.submit(job("a", tmp_path))
    assert engine.judging.wait(5)
    queue.submit(job("b", tmp_path))
    engine.release.set()
    assert engine.started.wait(5)  # no wait: a and b start as soon as they are judged
    queue.submit(job("c", tmp_path))
    recorder.wait_terminals(3)
    assert engine.runs == [["a", "b"], ["c"]]


def test_the_window_is_bounded_by_gather_ms(make_queue, tmp_path, caplog):
    """A run that does not fill starts once the window has passed (and not before)."""
    caplog.set_level(logging.INFO, logger="bridge.jobs")
    queue, engine, recorder = make_queue(200, max_batch=8)
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    queue.start()
    recorder.wait_terminals(2)
    assert engine.runs == [["a", "b"]]
    [waited] = re.findall(r"job a shares its run with b \(gathered for ([\d.]+) ms\)", caplog.text)
    assert float(waited) >= 200


def test_a_lone_request_never_waits(make_queue, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="bridge.jobs")
    queue, engine, recorder = make_queue(LONG_MS)
    queue.start()
    queue.submit(job("alone", tmp_path))
    assert recorder.wait_terminals(1, timeout=10)[0][:2] == ("done", "alone")
    assert engine.runs == [["alone"]]
    assert "gathered for" not in caplog.text


def test_a_full_run_starts_at_once(make_queue, tmp_path):
    queue, engine, recorder = make_queue(LONG_MS, max_batch=3)
    queue.submit(job("a", tmp_path, variations=2))
    queue.submit(job("b", tmp_path))  # a + b: 3 takes, the run is full
    queue.submit(job("c", tmp_path))
    queue.start()
    assert engine.started.wait(10)
    assert engine.runs[0] == ["a", "b"]
    recorder.wait_terminals(3, timeout=10)
    assert engine.runs == [["a", "b"], ["c"]]


def test_a_backlog_that_arrived_earlier_does_not_wait(make_queue, tmp_path, caplog):
    """Jobs that queued behind a run start together at once when it ends: nothing
    is arriving any more, so there is nothing to wait for."""
    caplog.set_level(logging.INFO, logger="bridge.jobs")
    queue, engine, recorder = make_queue(300, max_batch=8)
    engine.gate = threading.Event()
    queue.start()
    queue.submit(job("first", tmp_path))
    assert engine.started.wait(5)
    queue.submit(job("b", tmp_path))
    queue.submit(job("c", tmp_path))
    time.sleep(0.4)  # b and c are now older than the window
    engine.gate.set()
    recorder.wait_terminals(3)
    assert engine.runs == [["first"], ["b", "c"]]
    assert "job b shares its run with c\n" in caplog.text + "\n"
    assert "gathered for" not in caplog.text


def test_a_job_of_another_model_is_not_waited_for(make_queue, tmp_path):
    """Only a request that can join the run is a reason to wait; one that cannot
    neither opens the window nor joins nor ends it."""
    queue, engine, recorder = make_queue(LONG_MS, max_batch=8)
    queue.submit(job("a", tmp_path))
    queue.submit(job("other", tmp_path, model="other"))
    queue.submit(job("louder", tmp_path, guidance=5.0))  # samples otherwise: cannot share
    queue.start()
    recorder.wait_terminals(3, timeout=10)
    assert engine.runs == [["a"], ["other"], ["louder"]]


def test_a_job_that_cannot_join_arriving_during_the_window_waits_its_turn(make_queue, tmp_path):
    engine = HeldJudging()
    queue, _, recorder = make_queue(LONG_MS, max_batch=3, engine=engine)
    queue.start()
    queue.submit(job("a", tmp_path))
    assert engine.judging.wait(5)
    queue.submit(job("b", tmp_path))
    engine.release.set()
    assert not engine.started.wait(SETTLE_S)
    queue.submit(job("d", tmp_path, model="other"))
    assert not engine.started.wait(SETTLE_S)  # it neither joins nor ends the window
    queue.submit(job("c", tmp_path))
    recorder.wait_terminals(4)
    assert engine.runs == [["a", "b", "c"], ["d"]]


def test_a_cancel_during_the_window_is_answered_at_once(make_queue, tmp_path):
    """The head cancelled while its run gathers: answered at once, never run; the
    jobs that would have joined it run without it."""
    queue, engine, recorder = make_queue(LONG_MS, max_batch=3)
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    queue.start()
    wait_running(queue, "a")
    assert not engine.started.wait(SETTLE_S)
    assert queue.cancel("a") == "running"
    assert recorder.wait_terminals(1, timeout=5)[0] == ("failed", "a", "cancelled")
    recorder.wait_terminals(2, timeout=5)
    assert engine.runs == [["b"]]


def test_a_job_cancelled_during_the_window_does_not_join(make_queue, tmp_path):
    queue, engine, recorder = make_queue(LONG_MS, max_batch=3)
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    queue.start()
    wait_running(queue, "a")
    assert not engine.started.wait(SETTLE_S)
    assert queue.cancel("b") == "queued"
    assert recorder.wait_terminals(1, timeout=5)[0] == ("failed", "b", "cancelled")
    queue.submit(job("c", tmp_path))
    queue.submit(job("d", tmp_path))
    recorder.wait_terminals(4)
    assert engine.runs == [["a", "c", "d"]]


def test_a_shutdown_during_the_window_ends_it_at_once(make_queue, tmp_path):
    queue, engine, recorder = make_queue(LONG_MS, max_batch=3)
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    queue.start()
    wait_running(queue, "a")
    assert not engine.started.wait(SETTLE_S)
    queue.shutdown(5)
    assert not queue._thread.is_alive()  # the window did not hold the worker
    assert sorted(recorder.wait_terminals(2, timeout=5)) == [
        ("failed", "a", "shutting_down"),
        ("failed", "b", "shutting_down"),
    ]
    assert engine.runs == []


def test_the_start_log_names_the_window(caplog):
    caplog.set_level(logging.INFO, logger="bridge.jobs")
    for gather_ms, words in ((5, "gather window 5 ms"), (0, "gather window off")):
        queue = JobQueue(FakeEngine(), Recorder(), max_batch=8, gather_ms=gather_ms)
        queue.start()
        queue.shutdown(5)
        assert words in caplog.text


# -- serve --gather-ms -------------------------------------------------------------


def test_gather_ms_is_read_and_bounded():
    assert ServeConfig.from_sources({}, {"HOME": "/h"}).gather_ms == 10.0
    assert ServeConfig.from_sources({"gather_ms": 0.0}, {"HOME": "/h"}).gather_ms == 0.0
    env = {"HOME": "/h", "MUSICGEN_BRIDGE_GATHER_MS": "2.5"}
    assert ServeConfig.from_sources({}, env).gather_ms == 2.5
    for bad in ("-1", "1001"):
        with pytest.raises(ValueError, match="gather_ms must be 0 \\(off\\) to 1000 milliseconds"):
            ServeConfig.from_sources({}, {"HOME": "/h", "MUSICGEN_BRIDGE_GATHER_MS": bad})


def test_served_requests_sent_together_share_one_run_over_loopback(tmp_path, monkeypatch):
    """serve's --gather-ms reaches the queue: three requests over UDP, the second
    in before the first's run is gathered, the third while it waits."""
    import bridge.config

    monkeypatch.setattr(bridge.config, "GATHER_MS_MAX", LONG_MS)  # a window no test waits out
    engine = HeldJudging()
    with (
        in_process_server(engine, out_dir=tmp_path, max_batch=3, gather_ms=LONG_MS) as server,
        Peer(server.address) as peer,
    ):
        peer.send("generate", "r0", prompt="a", seconds=1.0, out_dir=str(tmp_path))
        assert engine.judging.wait(10)
        peer.send("generate", "r1", prompt="b", seconds=1.0, out_dir=str(tmp_path))
        peer.until("r1", {f"{P}/queued"}, timeout=10)
        engine.release.set()
        assert not engine.started.wait(SETTLE_S)
        peer.send("generate", "r2", prompt="c", seconds=1.0, out_dir=str(tmp_path))
        for request_id in ("r0", "r1", "r2"):
            peer.until(request_id, {f"{P}/done"}, timeout=10)
    assert engine.runs == [["a", "b", "c"]]


def test_a_request_read_with_another_waiting_behind_it_opens_the_window(make_queue, tmp_path):
    """The first of a burst is taken before the rest are in: the server's hint that
    another generate was waiting to be read behind it opens the window."""
    queue, engine, recorder = make_queue(LONG_MS, max_batch=2)
    queue.start()
    first = job("a", tmp_path)
    first.followed = True
    queue.submit(first)
    wait_running(queue, "a")
    assert not engine.started.wait(SETTLE_S)
    queue.submit(job("b", tmp_path))
    recorder.wait_terminals(2)
    assert engine.runs == [["a", "b"]]


def test_a_request_waiting_to_be_read_as_the_run_starts_opens_the_window(make_queue, tmp_path):
    """The next of a burst read off the socket only after the first was judged: the
    server's peek, asked as the run is about to start, opens the window."""
    asked = []

    def arriving() -> bool:
        asked.append(1)
        return True

    queue, engine, recorder = make_queue(LONG_MS, max_batch=2, arriving=arriving)
    queue.start()
    queue.submit(job("a", tmp_path))
    wait_running(queue, "a")
    assert not engine.started.wait(SETTLE_S)
    assert asked
    queue.submit(job("b", tmp_path))
    recorder.wait_terminals(2)
    assert engine.runs == [["a", "b"]]


def test_nothing_waiting_to_be_read_is_no_reason_to_wait(make_queue, tmp_path):
    queue, _, recorder = make_queue(LONG_MS, arriving=lambda: False)
    queue.start()
    queue.submit(job("alone", tmp_path))
    assert recorder.wait_terminals(1, timeout=10)[0][:2] == ("done", "alone")


def test_the_server_sees_a_generate_waiting_to_be_read(tmp_path):
    """What sets that hint: a peek at the listening socket, which reads nothing."""
    import select
    import socket

    from bridge.server import OscServer
    from tests.fakes import FakeEngine

    listening = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listening.bind(("127.0.0.1", 0))
    listening.settimeout(5)
    server = OscServer(ServeConfig(out_dir=tmp_path), FakeEngine(), sock=listening)
    with Peer(listening.getsockname()) as peer:
        assert not server._generate_waiting()  # nothing waiting
        peer.send("ping", "p1")
        assert select.select([listening], [], [], 5)[0]  # it has arrived
        assert not server._generate_waiting()  # a query is no burst of takes
        listening.recvfrom(65535)
        peer.send("generate", "g1", prompt="a", out_dir=str(tmp_path))
        deadline = time.monotonic() + 5
        while not server._generate_waiting():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        data, _ = listening.recvfrom(65535)  # the peek left it there
        assert b"/musicgen/generate" in data
    listening.close()


def test_the_servers_peek_opens_the_window_for_the_first_of_a_burst(tmp_path, monkeypatch):
    """r0 is read while r1 already waits at the socket: the window opens though r0
    is alone in the queue, and r1 joins it once read."""
    import select

    import bridge.config
    from bridge.server import OscServer

    monkeypatch.setattr(bridge.config, "GATHER_MS_MAX", LONG_MS)
    r1_waiting, release = threading.Event(), threading.Event()
    dispatch = OscServer._dispatch

    def held(self, request, reply_to):
        if request.id == "r0":
            r1_waiting.wait(10)  # r0 read, not yet queued: r1 sent meanwhile
        dispatch(self, request, reply_to)
        if request.id == "r0":
            release.wait(10)  # r0 queued; r1 still unread

    monkeypatch.setattr(OscServer, "_dispatch", held)
    engine = FakeEngine(share=True)
    with (
        in_process_server(engine, out_dir=tmp_path, max_batch=2, gather_ms=LONG_MS) as server,
        Peer(server.address) as peer,
    ):
        peer.send("generate", "r0", prompt="a", seconds=1.0, out_dir=str(tmp_path))
        peer.send("generate", "r1", prompt="b", seconds=1.0, out_dir=str(tmp_path))
        assert select.select([server._sock], [], [], 10)[0]
        r1_waiting.set()
        peer.until("r0", {f"{P}/queued"}, timeout=10)
        assert not engine.started.wait(SETTLE_S)  # r0 alone in the queue, and waiting
        release.set()
        for request_id in ("r0", "r1"):
            peer.until(request_id, {f"{P}/done"}, timeout=10)
    assert engine.runs == [["a", "b"]]
