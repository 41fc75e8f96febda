"""The job queue and its worker, with a fake engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bridge.job_record import Job
from bridge.jobs import JobQueue
from engine.errors import Busy, DuplicateId, GenerationFailed, UnknownJob
from engine.spec import GenerationSpec
from tests.fakes import FakeEngine, Recorder


def job(job_id: str, tmp_path: Path, model: str | None = None, **fields) -> Job:
    fields.setdefault("seconds", 1.0)
    spec = GenerationSpec(prompt=job_id, out_dir=tmp_path, model=model, **fields)
    return Job(job_id, spec, ("127.0.0.1", 9))


@pytest.fixture
def queue_and_engine():
    made = []

    def make(**kwargs):
        queue_args = {"max_queued": 16, "max_batch": 1}
        queue_args.update({k: kwargs.pop(k) for k in queue_args if k in kwargs})
        engine = FakeEngine(**kwargs)
        recorder = Recorder()
        queue = JobQueue(engine, recorder, startup_model="fake", **queue_args)
        made.append(queue)
        return queue, engine, recorder

    yield make
    for queue in made:
        queue.shutdown(5)


def test_jobs_run_first_in_first_out_with_one_terminal_each(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine()
    positions = [queue.submit(job(f"j{i}", tmp_path)) for i in range(4)]
    queue.start()
    terminals = recorder.wait_terminals(4)
    assert engine.ran == ["j0", "j1", "j2", "j3"]
    assert [t[:2] for t in terminals] == [("done", f"j{i}") for i in range(4)]
    assert positions == [1, 2, 3, 4]  # the startup load counts as ahead
    assert engine.loaded == ["fake"]


def test_progress_is_rate_limited(queue_and_engine, tmp_path):
    queue, _, recorder = queue_and_engine(steps=200)
    queue.start()
    queue.submit(job("a", tmp_path))
    recorder.wait_terminals(1)
    progress = [e for e in recorder.events if e[0] == "progress"]
    assert 1 <= len(progress) < 20  # 200 steps in well under a second


def test_full_queue_answers_busy(queue_and_engine, tmp_path):
    # One take runs (here: the first accepted, next to run) and max_queued wait.
    queue, _, _ = queue_and_engine(max_queued=2)  # not started: nothing drains
    for name in "abc":
        queue.submit(job(name, tmp_path))
    with pytest.raises(Busy):
        queue.submit(job("d", tmp_path))


def test_duplicate_id_is_refused(queue_and_engine, tmp_path):
    queue, _, _ = queue_and_engine()
    queue.submit(job("a", tmp_path))
    with pytest.raises(DuplicateId):
        queue.submit(job("a", tmp_path))


def test_cancel_queued_job_answers_at_once_and_it_never_runs(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine()
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    assert queue.cancel("a") == "queued"
    queue.start()
    terminals = recorder.wait_terminals(2)
    assert ("failed", "a", "cancelled") in terminals
    assert engine.ran == ["b"]


def test_cancel_running_job_stops_it_and_the_next_one_runs(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(steps=1000, step_s=0.001)
    engine.gate = threading.Event()
    queue.start()
    queue.submit(job("long", tmp_path))
    queue.submit(job("next", tmp_path))
    assert engine.started.wait(5)
    assert queue.cancel("long") == "running"
    engine.gate.set()
    terminals = recorder.wait_terminals(2)
    assert terminals[0] == ("failed", "long", "cancelled")
    assert terminals[1][:2] == ("done", "next")


def test_cancel_unknown_job(queue_and_engine):
    queue, _, _ = queue_and_engine()
    with pytest.raises(UnknownJob):
        queue.cancel("nope")


def test_engine_failure_is_reported_and_worker_keeps_going(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(fail_with=GenerationFailed("boom"))
    queue.start()
    queue.submit(job("a", tmp_path))
    recorder.wait_terminals(1)
    engine.fail_with = None
    queue.submit(job("b", tmp_path))
    assert recorder.wait_terminals(2)[-1][:2] == ("done", "b")
    assert recorder.terminals()[0] == ("failed", "a", "generation_failed")


def test_unexpected_exception_becomes_an_error_not_a_dead_worker(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(fail_with=ZeroDivisionError("bug"))
    queue.start()
    queue.submit(job("a", tmp_path))
    assert recorder.wait_terminals(1)[0] == ("failed", "a", "generation_failed")
    engine.fail_with = None
    queue.submit(job("b", tmp_path))
    assert recorder.wait_terminals(2)[-1][:2] == ("done", "b")


def test_shutdown_answers_queued_jobs(queue_and_engine, tmp_path):
    queue, _, recorder = queue_and_engine()
    queue.submit(job("a", tmp_path))
    queue.shutdown()
    assert recorder.terminals() == [("failed", "a", "shutting_down")]


def test_status_snapshot_reports_running_job(queue_and_engine, tmp_path):
    queue, engine, _ = queue_and_engine(steps=3)
    engine.gate = threading.Event()
    queue.start()
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    assert engine.started.wait(5)
    now = queue.snapshot()
    assert now[:6] == ("busy", "fake", "cpu", "a", 1, "")
    assert [m.model_id for m in now.resident] == ["fake"]
    engine.gate.set()


def test_a_jobs_view_estimates_the_time_left_from_its_own_rate(tmp_path):
    j = job("a", tmp_path)
    j.submitted = 8.0
    queued = j.view(position=2, model="fake", now=9.5)
    assert queued == ("a", "queued", 2, 0.0, 0.0, None, 1.5, "fake", "a")
    j.started = 10.0
    assert j.view(0, "fake", now=11.0)[1:6] == ("generating", 0, 0.0, 1.0, None)
    j.first_step = j.last_step = (12.0, 0.1)
    assert j.view(0, "fake", now=12.5).eta_s is None  # one step: no rate yet
    j.last_step = (14.0, 0.3)  # 0.2 of it in 2 s: 10 s per whole take
    view = j.view(0, "fake", now=14.5)
    assert view.state == "generating" and view.progress == 0.3
    assert view.elapsed_s == pytest.approx(4.5) and view.waited_s == pytest.approx(2.0)
    # 0.7 left at 10 s each, less the 0.5 s since that step; the 2 s before the
    # first step (a load, say) do not count as decoding.
    assert view.eta_s == pytest.approx(6.5)
    assert j.view(0, "fake", now=30.0).eta_s == 0.0  # late, never negative
    j.loading = True
    assert j.view(0, "other", now=14.5).state == "loading"


def test_status_snapshot_lists_the_running_job_then_the_queued_ones(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(steps=40, step_s=0.05)  # about 2 s
    queue.start()
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path, model="other"))
    deadline = time.monotonic() + 20
    while (now := queue.snapshot()).jobs[0].eta_s is None or now.jobs[0].progress < 0.2:
        assert time.monotonic() < deadline, now
        time.sleep(0.02)
    running, queued = now.jobs
    assert (running.id, running.state, running.position, running.model) == (
        "a",
        "generating",
        0,
        "fake",
    )
    assert 0.2 <= running.progress < 1.0 and running.elapsed_s > 0
    assert 0.0 <= running.eta_s < 20  # about (1 - progress) x 2 s on a quiet machine
    assert (queued.id, queued.state, queued.position, queued.model) == ("b", "queued", 1, "other")
    assert queued.progress == 0.0 and queued.eta_s is None and queued.waited_s > 0
    assert now.memory == engine.memory_use
    queue.cancel("a")
    queue.cancel("b")
    recorder.wait_terminals(2)
    assert queue.snapshot().jobs == ()


def test_jobs_sharing_a_run_are_each_listed_as_running(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(share=True, max_batch=8, steps=4)
    engine.gate = threading.Event()
    for name in "abc":
        queue.submit(job(name, tmp_path))
    queue.start()
    assert engine.started.wait(5)
    now = queue.snapshot()
    assert [(j.id, j.state, j.position) for j in now.jobs] == [
        ("a", "generating", 0),
        ("b", "generating", 0),
        ("c", "generating", 0),
    ]
    assert now.running == "a b c" and now.waiting == 0
    engine.gate.set()
    recorder.wait_terminals(3)


# -- models per request ------------------------------------------------------------


def test_a_request_without_a_model_runs_on_the_startup_model(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine()
    queue.start()
    queue.submit(job("other", tmp_path, model="other"))
    recorder.wait_terminals(1)
    assert engine.models == ["other"]
    queue.submit(job("plain", tmp_path))
    recorder.wait_terminals(2)
    assert engine.models == ["fake"]  # not the last request's model
    assert engine.loaded == ["fake", "other", "fake"]


def test_a_model_that_fails_to_load_fails_that_request_only(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine()
    engine.missing = {"absent"}
    queue.start()
    queue.submit(job("a", tmp_path, model="absent"))
    queue.submit(job("b", tmp_path))
    assert [t[:3] for t in recorder.wait_terminals(2)] == [
        ("failed", "a", "model_not_available"),
        ("done", "b", [str(tmp_path / "b.wav")]),
    ]
    assert queue.snapshot()[:3] == ("ready", "fake", "cpu")


def test_jobs_of_another_model_do_not_join_a_shared_run(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(share=True, max_batch=8)
    engine.gate = threading.Event()
    queue.start()
    queue.submit(job("a", tmp_path))
    assert engine.started.wait(5)
    queue.submit(job("b", tmp_path))
    queue.submit(job("c", tmp_path, model="fake"))  # the startup model, named
    queue.submit(job("d", tmp_path, model="other"))
    engine.gate.set()
    recorder.wait_terminals(4)
    assert engine.runs == [["a"], ["b", "c"], ["d"]]


def test_status_is_answered_while_a_request_loads_its_model(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine()
    queue.start()
    queue.submit(job("warm", tmp_path))
    recorder.wait_terminals(1)
    engine.load_gate = threading.Event()
    queue.submit(job("cold", tmp_path, model="other"))
    deadline = time.monotonic() + 5
    while not any(e[:2] == ("progress", "cold") for e in recorder.events):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    t0 = time.monotonic()
    now = queue.snapshot()  # the worker is inside load(), held by the gate
    assert time.monotonic() - t0 < 0.5
    assert now[:4] == ("busy", "fake", "cpu", "cold")
    [cold] = now.jobs
    assert (cold.id, cold.state, cold.model, cold.progress, cold.eta_s) == (
        "cold",
        "loading",
        "other",
        0.0,
        None,
    )
    assert recorder.events[-1] == ("progress", "cold", 0.0, "loading")
    engine.load_gate.set()
    assert recorder.wait_terminals(2)[-1][:2] == ("done", "cold")


def test_no_model_says_why_and_what_to_do(tmp_path):
    engine = FakeEngine()
    engine.missing = {"fake"}
    queue = JobQueue(engine, Recorder(), startup_model="fake")
    queue.start()
    deadline = time.monotonic() + 5
    while queue.snapshot().state == "loading" and time.monotonic() < deadline:
        time.sleep(0.01)
    now = queue.snapshot()
    assert (now.state, now.reason) == ("no_model", "Model 'fake' is not on this machine.")
    queue.shutdown(5)


# -- requests sharing a run ------------------------------------------------------


def test_waiting_jobs_that_can_share_join_the_oldest_ones_run(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(share=True, max_batch=8)
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    queue.submit(job("longer", tmp_path, seconds=2.0))  # would finish "a" later: not joined
    queue.submit(job("other", tmp_path, guidance=5.0))  # chooses tokens otherwise: not joined
    queue.submit(job("shorter", tmp_path, seconds=0.5))
    queue.start()
    terminals = recorder.wait_terminals(5)
    assert engine.runs == [["a", "b", "shorter"], ["longer"], ["other"]]
    assert sorted(t[:2] for t in terminals) == sorted(
        ("done", name) for name in ("a", "b", "longer", "other", "shorter")
    )
    # Each job has its own progress.
    for name in ("a", "b", "shorter"):
        assert any(e[:2] == ("progress", name) for e in recorder.events)


def test_a_run_holds_at_most_max_batch_takes(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(share=True, max_batch=3)
    queue.submit(job("a", tmp_path, variations=2))
    queue.submit(job("b", tmp_path, variations=2))
    queue.submit(job("c", tmp_path))
    queue.start()
    recorder.wait_terminals(3)
    assert engine.runs == [["a", "c"], ["b"]]


def test_jobs_run_alone_when_the_engine_says_they_cannot_share(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(share=False, max_batch=8)
    for name in "abc":
        queue.submit(job(name, tmp_path))
    queue.start()
    recorder.wait_terminals(3)
    assert engine.runs == [["a"], ["b"], ["c"]]


def test_cancelling_one_job_of_a_shared_run_answers_it_and_the_rest_go_on(
    queue_and_engine, tmp_path
):
    queue, engine, recorder = queue_and_engine(share=True, max_batch=8, steps=50)
    engine.gate = threading.Event()
    for name in ("a", "b", "c"):
        queue.submit(job(name, tmp_path))
    queue.start()
    assert engine.started.wait(5)
    assert queue.snapshot()[3] == "a b c"  # all three run
    assert queue.cancel("b") == "running"
    engine.gate.set()
    terminals = recorder.wait_terminals(3)
    assert terminals[0] == ("failed", "b", "cancelled")  # at once, not when the run ends
    assert sorted(t[:2] for t in terminals[1:]) == [("done", "a"), ("done", "c")]
    assert len(recorder.terminals()) == 3  # one terminal each


def test_cancelling_every_job_of_a_shared_run_stops_it(queue_and_engine, tmp_path):
    queue, engine, recorder = queue_and_engine(share=True, max_batch=8, steps=10_000, step_s=0.01)
    engine.gate = threading.Event()
    queue.submit(job("a", tmp_path))
    queue.submit(job("b", tmp_path))
    queue.start()
    assert engine.started.wait(5)
    queue.cancel("a")
    queue.cancel("b")
    engine.gate.set()
    terminals = recorder.wait_terminals(2)
    assert sorted(terminals) == [("failed", "a", "cancelled"), ("failed", "b", "cancelled")]
    engine.steps = 3
    queue.submit(job("next", tmp_path))
    assert recorder.wait_terminals(3)[-1][:2] == ("done", "next")


@pytest.mark.parametrize("steps", [200, 0], ids=["fast steps", "no step reported"])
def test_the_last_progress_before_done_is_exactly_one(queue_and_engine, tmp_path, steps):
    """The rate limit dropped the last steps: the last progress was 0.95 before done."""
    queue, _, recorder = queue_and_engine(steps=steps)
    queue.start()
    queue.submit(job("a", tmp_path))
    recorder.wait_terminals(1)
    events = [e for e in recorder.events if e[1] == "a"]
    assert events[-1][0] == "done"
    assert events[-2] == ("progress", "a", 1.0, "generating")
    assert [e[2] for e in events if e[0] == "progress"].count(1.0) == 1


def test_cancels_are_logged(queue_and_engine, tmp_path, caplog):
    caplog.set_level("INFO", logger="bridge.jobs")
    gate = threading.Event()
    queue, engine, recorder = queue_and_engine()
    engine.gate = gate
    queue.start()
    queue.submit(job("run", tmp_path))
    queue.submit(job("wait", tmp_path))
    engine.started.wait(5)
    assert queue.cancel("wait") == "queued"
    assert queue.cancel("run") == "running"
    gate.set()
    recorder.wait_terminals(2)
    assert "job wait: cancelled before it started" in caplog.text
    assert "job run: cancel asked" in caplog.text and "job run: cancelled" in caplog.text


def test_the_startup_step_runs_first_and_its_words_are_the_loading_reason(tmp_path):
    """serve --download-missing downloads in the worker: meanwhile ping and status answer
    ``loading`` with the download's progress as the reason; then the startup model loads."""
    engine = FakeEngine()
    said, go = threading.Event(), threading.Event()

    def download(say):
        assert engine.loaded == []  # before the startup load
        say("downloading fake: 40%, 0.48 GB of 1.20 GB")
        said.set()
        go.wait(10)

    queue = JobQueue(engine, Recorder(), startup_model="fake", before_startup=download)
    try:
        queue.start()
        assert said.wait(10)
        now = queue.snapshot()
        assert (now.state, now.reason) == ("loading", "downloading fake: 40%, 0.48 GB of 1.20 GB")
        go.set()
        deadline = time.monotonic() + 10
        while queue.snapshot().state != "ready" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (queue.snapshot().state, queue.snapshot().reason) == ("ready", "")
        assert engine.loaded == ["fake"]
    finally:
        go.set()
        queue.shutdown(5)


def test_a_shutdown_stops_the_startup_step_at_its_next_report_and_loads_nothing():
    """Ctrl-C during the start-up download: the download's next progress report raises, the
    worker ends without loading the startup model, and shutdown does not wait it out."""
    engine = FakeEngine()
    reports = []

    def download(say):
        while True:  # a download that would go on for ever, reporting as it goes
            say(f"downloading fake: {len(reports)} reports")
            reports.append(1)
            time.sleep(0.01)

    queue = JobQueue(engine, Recorder(), startup_model="fake", before_startup=download)
    queue.start()
    while not reports:
        time.sleep(0.01)
    started = time.monotonic()
    queue.shutdown(10)
    assert time.monotonic() - started < 2.0
    assert not queue._thread.is_alive()
    assert engine.loaded == []
    assert queue.snapshot().state == "stopping"
