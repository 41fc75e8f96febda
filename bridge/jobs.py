"""The job queue and its single model worker thread.

Requests are accepted (or refused) at once on the receiving thread; one
worker thread owns the engine and runs jobs first in, first out.  Everything
a job has to say goes to a :class:`JobListener` (the server turns those calls
into OSC replies), so this module knows nothing of sockets or OSC.

Every accepted job gets exactly one terminal call: ``done`` or ``failed``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

from engine.errors import (
    BridgeError,
    Busy,
    Cancelled,
    DuplicateId,
    GenerationFailed,
    ShuttingDown,
    UnknownJob,
)
from engine.spec import GenerationSpec

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # at most ten progress replies a second per job

WorkerState = Literal["loading", "ready", "busy", "no_model", "stopping"]


class TakeLike(Protocol):
    @property
    def paths(self) -> tuple[Path, ...]: ...


class ModelInfoLike(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def device(self) -> str: ...


class EngineLike(Protocol):
    """What the worker needs of :class:`engine.api.Engine` (fakes implement this)."""

    @property
    def info(self) -> ModelInfoLike | None: ...

    def load(self, model_id: str) -> object: ...

    def generate(
        self,
        spec: GenerationSpec,
        on_progress: Callable[[int, int], None] | None = None,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> TakeLike: ...


class JobListener(Protocol):
    def progress(self, job: Job, fraction: float, stage: str) -> None: ...

    def done(self, job: Job, paths: list[str]) -> None: ...

    def failed(self, job: Job, error: BridgeError) -> None: ...


@dataclass(eq=False)
class Job:
    """One generate request on its way through the queue.

    Attributes:
        id: the client's request id.
        spec: what to make.
        reply_to: (host, port) replies go to.
        submitted: monotonic time of acceptance, seconds.
    """

    id: str
    spec: GenerationSpec
    reply_to: tuple[str, int]
    submitted: float = field(default_factory=time.monotonic)
    cancel_requested: threading.Event = field(default_factory=threading.Event)


class JobQueue:
    """FIFO of jobs with one worker thread that owns the engine.

    Args:
        engine: loads models and makes takes; only the worker thread touches it.
        listener: receives every job's progress and its one terminal event.
        max_queued: jobs waiting (not counting the running one) before ``Busy``.
        startup_model: loaded by the worker as soon as it starts (None: none).
    """

    def __init__(
        self,
        engine: EngineLike,
        listener: JobListener,
        max_queued: int = 16,
        startup_model: str | None = None,
    ) -> None:
        self._engine = engine
        self._listener = listener
        self._max_queued = max_queued
        self._startup_model = startup_model
        self._pending: deque[Job] = deque()
        self._running: Job | None = None
        self._loading = startup_model is not None
        self._closed = False
        self._lock = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="model-worker", daemon=True)

    # -- called from the receiving thread ---------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job) -> int:
        """Queue ``job``; returns how many jobs are ahead of it.

        Raises:
            Busy: the queue is full.  DuplicateId: that id is queued or running.
            ShuttingDown: the engine is stopping.
        """
        with self._lock:
            if self._closed:
                raise ShuttingDown("The engine is shutting down.")
            if any(j.id == job.id for j in self._jobs()):
                raise DuplicateId(f"A job with id {job.id!r} is already queued or running.")
            # One take runs and max_queued wait; a job accepted but not yet
            # picked up by the worker counts as the one that runs next.
            in_flight = len(self._pending) + (1 if self._running else 0)
            if in_flight >= self._max_queued + 1:
                raise Busy(
                    f"The queue is full ({self._max_queued} takes waiting). Try again when "
                    "one has finished."
                )
            ahead = len(self._pending) + (1 if self._running or self._loading else 0)
            self._pending.append(job)
            self._lock.notify_all()
            return ahead

    def cancel(self, job_id: str) -> Literal["queued", "running"]:
        """Cancel a queued job at once, or ask the running one to stop.

        The job's own terminal event (``failed`` with Cancelled) follows: at
        once for a queued job, within one decode step for the running one.

        Raises:
            UnknownJob: no such job is queued or running.
        """
        with self._lock:
            for job in self._pending:
                if job.id == job_id:
                    self._pending.remove(job)
                    break
            else:
                if self._running is not None and self._running.id == job_id:
                    self._running.cancel_requested.set()
                    return "running"
                raise UnknownJob(f"No queued or running job has id {job_id!r}.")
        self._listener.failed(job, Cancelled("Cancelled before it started."))
        return "queued"

    def snapshot(self) -> tuple[WorkerState, str, str, str, int]:
        """(state, model id, device, running job id, jobs waiting) for status replies."""
        info = self._engine.info
        with self._lock:
            if self._closed:
                state: WorkerState = "stopping"
            elif self._loading:
                state = "loading"
            elif self._running is not None:
                state = "busy"
            else:
                state = "ready" if info is not None else "no_model"
            running = self._running.id if self._running else ""
            waiting = len(self._pending)
        return state, info.model_id if info else "", info.device if info else "", running, waiting

    def shutdown(self, timeout: float = 30.0) -> None:
        """Refuse new jobs, fail the queued ones, stop the running one, join the worker."""
        with self._lock:
            self._closed = True
            dropped = list(self._pending)
            self._pending.clear()
            if self._running is not None:
                self._running.cancel_requested.set()
            self._lock.notify_all()
        for job in dropped:
            self._listener.failed(job, ShuttingDown("The engine shut down before this take ran."))
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the worker thread ---------------------------------------------------

    def _jobs(self) -> list[Job]:
        return [*self._pending, *([self._running] if self._running else [])]

    def _work(self) -> None:
        if self._startup_model is not None:
            try:
                self._engine.load(self._startup_model)
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
                job = self._running = self._pending.popleft()
            try:
                report = self._run(job)
            finally:
                with self._lock:
                    self._running = None
            # Reported once the job is no longer running, so a status sent on
            # receipt of done never still says busy.
            try:
                report()
            except Exception:
                log.exception("reporting the end of job %s failed", job.id)

    def _run(self, job: Job) -> Callable[[], None]:
        """Run one job; returns the call that reports its terminal event."""
        last = 0.0

        def on_progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL_S:
                last = now
                self._listener.progress(job, done / total, "generating")

        info = self._engine.info
        spec = job.spec
        if spec.model is None and info is None and self._startup_model is not None:
            # The startup load failed (say, not downloaded yet): try again, so a
            # model fetched meanwhile works without restarting the engine.
            spec = replace(spec, model=self._startup_model)
        if spec.model is not None and (info is None or info.model_id != spec.model):
            self._listener.progress(job, 0.0, "loading")
        started = time.monotonic()
        try:
            take = self._engine.generate(spec, on_progress, job.cancel_requested.is_set)
        except BridgeError as exc:
            log.info("job %s: %s (%s)", job.id, exc.code, exc.message)
            error: BridgeError = exc  # Python unbinds `exc` when the except block ends
        except Exception as exc:  # the one boundary: a bug must not kill the worker
            log.exception("job %s failed", job.id)
            error = GenerationFailed(f"Internal error: {exc}")
        else:
            log.info(
                "job %s done in %.2f s (waited %.2f s): %s",
                job.id,
                time.monotonic() - started,
                started - job.submitted,
                ", ".join(p.name for p in take.paths),
            )
            paths = [str(p) for p in take.paths]
            return lambda: self._listener.done(job, paths)
        return lambda: self._listener.failed(job, error)
