"""The job queue and its worker, with a fake engine."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bridge.jobs import Job, JobQueue
from engine.errors import Busy, DuplicateId, GenerationFailed, UnknownJob
from engine.spec import GenerationSpec
from tests.fakes import FakeEngine, Recorder


def job(job_id: str, tmp_path: Path, model: str | None = None) -> Job:
    spec = GenerationSpec(prompt=job_id, out_dir=tmp_path, seconds=1.0, model=model)
    return Job(job_id, spec, ("127.0.0.1", 9))


@pytest.fixture
def queue_and_engine():
    made = []

    def make(**kwargs):
        engine = FakeEngine(**{k: v for k, v in kwargs.items() if k != "max_queued"})
        recorder = Recorder()
        queue = JobQueue(
            engine, recorder, max_queued=kwargs.get("max_queued", 16), startup_model="fake"
        )
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
    state, model, device, running, waiting = queue.snapshot()
    assert (state, model, device, running, waiting) == ("busy", "fake", "cpu", "a", 1)
    engine.gate.set()
