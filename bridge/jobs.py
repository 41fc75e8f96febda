"""The job queue and its single model worker thread.

Requests are accepted (or refused) at once on the receiving thread; one
worker thread owns the engine and runs jobs first in, first out.  Everything
a job has to say goes to a :class:`~bridge.job_record.JobListener` (the server
turns those calls into OSC replies), so this module knows nothing of sockets
or OSC.

When the worker takes the oldest job, waiting jobs that can share its decoder
run join it, after a gather window when requests are arriving together:
:mod:`bridge.gather` has the rule, which the worker applies under the queue's
lock.  Each job keeps its own seed, progress, cancel and reply
(:mod:`bridge.job_runs`).

A job's ``model`` applies to that job only: a job without one runs on the
startup model (``serve --model``).  Before a job runs the worker makes its
model the engine's active one, which costs nothing when it is resident (the
engine keeps ``--keep-models`` warm) and evicts only between runs.  A load
that fails fails that job alone; the resident models stay.

Every accepted job gets exactly one terminal call: ``done`` or ``failed``.

:meth:`JobQueue.snapshot` reads, without waiting on the worker, what status
reports: each running and queued job (:class:`~bridge.job_record.JobView`: its
progress, how long it has run, an estimate of the time left) and the engine's
memory figures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from bridge.engine_like import EngineLike, SharingLike
from bridge.gather import GatherRule
from bridge.job_record import Job, JobListener, Snapshot, WorkerState
from bridge.job_runs import JobRunner
from engine.errors import (
    BridgeError,
    Busy,
    Cancelled,
    DuplicateId,
    GenerationFailed,
    ShuttingDown,
    TooLate,
    UnknownJob,
)

log = logging.getLogger(__name__)


class JobQueue:
    """FIFO of jobs with one worker thread that owns the engine.

    Args:
        engine: loads models and makes takes; only the worker thread touches it.
        listener: receives every job's progress and its one terminal event.
        max_queued: jobs waiting (not counting the running ones) before ``Busy``.
        startup_model: loaded by the worker as soon as it starts (None: none).
        max_batch: most takes decoded together in one run (1: one job at a time).
        gather_ms: the gather window, milliseconds (0: none): how long a run
            with room waits for more takes when a burst is under way
            (:mod:`bridge.gather` has the rule).
        arriving: says whether another generate request is waiting to be read
            right now (the server's peek at its socket; called by the worker
            as a run is about to start); None: nothing says.
        before_startup: run by the worker before it loads the startup model (the
            start-up download); it is given a function that sets what ping and
            status say while the state is ``loading`` ("downloading X: 40%").
            Whatever it raises is logged, and the startup load goes ahead.
    """

    def __init__(
        self,
        engine: EngineLike,
        listener: JobListener,
        max_queued: int = 16,
        startup_model: str | None = None,
        max_batch: int = 1,
        before_startup: Callable[[Callable[[str], None]], None] | None = None,
        gather_ms: float = 0.0,
        arriving: Callable[[], bool] | None = None,
    ) -> None:
        self._engine = engine
        self._rule = GatherRule(max_batch, gather_ms / 1000.0)
        self._arriving = arriving
        self._listener = listener
        self._max_queued = max_queued
        self._startup_model = startup_model
        self._pending: deque[Job] = deque()
        self._running: list[Job] = []
        self._loading = startup_model is not None
        self._reason = ""  # why the startup model is not loaded, once it failed
        self._before_startup = before_startup
        self._loading_note = ""  # what the startup is doing, while it is loading
        self._closed = False
        self._lock = threading.Condition()
        self._runner = JobRunner(engine, listener, self._lock, self._stopped)
        self._thread = threading.Thread(target=self._work, name="model-worker", daemon=True)

    # -- called from the receiving thread ---------------------------------

    def start(self) -> None:
        if self._rule.max_batch > 1:
            log.info(
                "shared runs: up to %d takes; gather window %s",
                self._rule.max_batch,
                f"{self._rule.gather_s * 1000:g} ms (a run with room waits up to that long for "
                "more while requests are arriving together)"
                if self._rule.gather_s > 0
                else "off (--gather-ms 0)",
            )
        self._thread.start()

    def submit(self, job: Job, on_queued: Callable[[int], None] | None = None) -> int:
        """Queue ``job``; returns how many jobs are ahead of it.

        ``on_queued`` is called with that count before the worker can see the
        job, so the ``queued`` reply it sends precedes the job's first progress.

        Raises:
            Busy: the queue is full.  DuplicateId: that id is queued or running.
            ShuttingDown: the engine is stopping.
        """
        with self._lock:
            if self._closed:
                raise ShuttingDown("The engine is shutting down.")
            if any(j.id == job.id for j in self._jobs()):
                raise DuplicateId(
                    f"A job with id {job.id!r} is already queued or running, so this request "
                    "was not queued (that job goes on). Send each request with a fresh id."
                )
            # One run goes and max_queued wait; a job accepted but not yet
            # picked up by the worker counts as the one that runs next.
            if len(self._pending) >= self._max_queued + (0 if self._running else 1):
                raise Busy(
                    f"The queue is full ({self._max_queued} takes waiting). Try again when "
                    "one has finished."
                )
            ahead = len(self._pending) + (1 if self._running or self._loading else 0)
            if on_queued is not None:
                on_queued(ahead)  # under the lock: the worker takes jobs under it too
            self._pending.append(job)
            self._lock.notify_all()
            return ahead

    def cancel(self, job_id: str) -> Literal["queued", "running"]:
        """Cancel a queued job at once, or ask the running one to stop.

        The job's own terminal event (``failed`` with Cancelled) follows: at
        once for a queued job, within one decode step for the running one.

        Raises:
            UnknownJob: no such job is queued or running.
            TooLate: the job's decoding has ended (its progress 1.0 went out): its
                take is being written and will arrive.
        """
        with self._lock:
            for job in self._pending:
                if job.id == job_id:
                    self._pending.remove(job)
                    break
            else:
                for running in self._running:
                    if running.id == job_id and running.decoded:
                        raise TooLate(
                            f"Job {job_id!r} has finished generating and its take is being "
                            "written: it can no longer be cancelled, and it will arrive."
                        )
                    if running.id == job_id:
                        running.cancel_requested.set()
                        self._lock.notify_all()  # ends a gather window at once
                        log.info("job %s: cancel asked; it stops at its next decode step", job_id)
                        return "running"
                raise UnknownJob(f"No queued or running job has id {job_id!r}.")
        log.info("job %s: cancelled before it started", job_id)
        self._listener.failed(job, Cancelled("Cancelled before it started."))
        return "queued"

    def snapshot(self) -> Snapshot:
        """The engine's state for status and ping replies (never waits on a load).

        Jobs sharing a run are all running; their ids are joined by spaces
        (ids have none).
        """
        info = self._engine.info
        resident = tuple(self._engine.resident)
        memory = self._engine.memory()
        with self._lock:
            if self._closed:
                state: WorkerState = "stopping"
            elif self._loading:
                state = "loading"
            elif self._running:
                state = "busy"
            else:
                state = "ready" if info is not None else "no_model"
            running = " ".join(job.id for job in self._running)
            waiting = len(self._pending)
            reason = {"no_model": self._reason, "loading": self._loading_note}.get(state, "")
            now = time.monotonic()
            ahead = 1 if self._running or self._loading else 0  # as submit counts them
            jobs = tuple(
                [job.view(0, self._model_for(job) or "", now) for job in self._running]
                + [
                    job.view(i + ahead, self._model_for(job) or "", now)
                    for i, job in enumerate(self._pending)
                ]
            )
        if state == "no_model" and not reason:
            reason = "No model is loaded yet: the next request loads one."
        # While the startup model loads, or once it failed, name it (never blank).
        model = info.model_id if info else (self._startup_model or "")
        return Snapshot(
            state,
            model,
            info.device if info else "",
            running,
            waiting,
            reason,
            resident,
            jobs,
            memory,
            info.model_id if info else "",
        )

    def shutdown(self, timeout: float = 30.0) -> None:
        """Refuse new jobs, fail the queued ones, stop the running one, join the worker."""
        with self._lock:
            self._closed = True
            dropped = list(self._pending)
            self._pending.clear()
            for job in self._running:
                job.cancel_requested.set()
            self._lock.notify_all()
        for job in dropped:
            log.info("job %s: shutting_down (it had not started)", job.id)
            self._listener.failed(job, ShuttingDown("The engine shut down before this take ran."))
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the worker thread ---------------------------------------------------

    def _jobs(self) -> list[Job]:
        return [*self._pending, *self._running]

    def _stopped(self, job: Job) -> None:
        """``job`` ended mid-run (cancelled while others share its run); under the lock."""
        if job in self._running:
            self._running.remove(job)

    def _note_loading(self, text: str) -> None:
        """What ping and status say while loading; raises once the queue is shut down,
        so a start-up download stops at its next report rather than holding the exit."""
        with self._lock:
            if self._closed:
                raise ShuttingDown("The engine shut down before its startup model was ready.")
            self._loading_note = text

    def _work(self) -> None:
        if self._before_startup is not None:
            try:
                self._before_startup(self._note_loading)
            except ShuttingDown as exc:
                log.info("%s", exc.message)
            except Exception:
                log.exception("preparing the startup model failed")
            with self._lock:
                self._loading_note = ""
                if self._closed:
                    self._loading = False
                    return
        if self._startup_model is not None:
            try:
                self._load(self._startup_model)
            except BridgeError as exc:
                log.error("%s", exc.message)
            except Exception:
                log.exception("loading %s failed", self._startup_model)
            finally:
                with self._lock:
                    self._loading = False
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                head = self._pending.popleft()
                head.started = time.monotonic()
                self._running = [head]
            try:
                reports = self._start(head)
            finally:
                with self._lock:
                    self._running = []
            # Reported once the jobs are no longer running, so a status sent on
            # receipt of done never still says busy.
            for report in reports:
                try:
                    report()
                except Exception:
                    log.exception("reporting the end of a job failed")

    def _model_for(self, job: Job) -> str | None:
        """The model ``job`` runs on: its own, else the startup model (None: the active one)."""
        return job.spec.model or self._startup_model

    def _load(self, model: str) -> None:
        """Make ``model`` the engine's active one; remember why the startup model failed."""
        try:
            self._engine.load(model)
        except BridgeError as exc:
            if model == self._startup_model:
                self._reason = exc.message
            raise
        except Exception as exc:
            if model == self._startup_model:
                self._reason = f"Loading {model} failed: {exc}. The engine log has the details."
            raise
        self._reason = ""

    def _start(self, head: Job) -> list[Callable[[], None]]:
        """Activate ``head``'s model, then run it with the jobs that share its run."""
        model = self._model_for(head)
        info = self._engine.info
        if model is not None and (info is None or info.model_id != model):
            if model not in {r.model_id for r in self._engine.resident}:
                head.loading = True
                self._listener.progress(head, 0.0, "loading")
            started = time.monotonic()
            try:
                self._load(model)
            except BridgeError as exc:
                return [self._runner.report(head, exc, started)]
            except Exception as exc:  # the one boundary: a bug must not kill the worker
                log.exception("job %s: loading %s failed", head.id, model)
                return [
                    self._runner.report(head, GenerationFailed(f"Internal error: {exc}"), started)
                ]
            finally:
                head.loading = False
        started = time.monotonic()
        jobs = self._gather(head, model)
        if not jobs:  # cancelled, or the engine stopped, while its run gathered
            error = (
                ShuttingDown("The engine shut down before this take ran.")
                if self._closed
                else Cancelled("Cancelled before it started.")
            )
            return [self._runner.report(head, error, started)]
        return self._runner.run(jobs, model)

    def _gather(self, head: Job, model: str | None) -> list[Job]:
        """``head`` and the waiting jobs that share its decoder run (now running too).

        Waits as long as the gather window says (:mod:`bridge.gather`), woken by
        a submit, a cancel or a shutdown.  Returns [] when ``head`` was
        cancelled, or the queue shut down, before the run started; the waiting
        jobs stay queued.
        """
        if self._rule.alone(head):
            return [head]
        share = self._sharing(head)
        if share is None:
            return [head]
        may_join: dict[Job, bool] = {}  # each waiting job judged once, outside the lock
        opened = time.monotonic()
        deadline: float | None = None
        waited = False
        while True:
            with self._lock:
                unjudged = [job for job in self._pending if job not in may_join]
            for job in unjudged:
                may_join[job] = self._may_join(job, share, model)
            with self._lock:
                if any(job not in may_join for job in self._pending):
                    continue  # more arrived while judging: judge them too
                now = time.monotonic()
                plan = self._rule.plan(head, self._pending, may_join, now, deadline, self._arriving)
                deadline = plan.deadline
                stop = self._closed or head.cancel_requested.is_set()
                if not stop and plan.wait_s > 0:
                    waited = True
                    self._lock.wait(plan.wait_s)  # a submit, cancel or shutdown wakes it
                    continue
                if stop:
                    return []
                joining = plan.joining
                for job in joining:
                    self._pending.remove(job)
                    job.started = now
                self._running.extend(joining)
                break
        if joining:
            log.info(
                "job %s shares its run with %s%s",
                head.id,
                ", ".join(j.id for j in joining),
                f" (gathered for {(now - opened) * 1000:.1f} ms)" if waited else "",
            )
        elif waited:
            log.info("job %s runs alone (gathered for %.1f ms)", head.id, (now - opened) * 1000)
        return [head, *joining]

    def _may_join(self, job: Job, share: SharingLike, model: str | None) -> bool:
        """Whether ``job`` may share the run whose head shares as ``share`` on ``model``."""
        return self._model_for(job) == model and self._rule.shares(share, self._sharing(job))

    def _sharing(self, job: Job) -> SharingLike | None:
        try:
            return self._engine.sharing(job.spec)
        except Exception:  # a job the engine cannot judge runs alone, and fails there
            log.exception("judging whether job %s can share a run failed", job.id)
            return None
