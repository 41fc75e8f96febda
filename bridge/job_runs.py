"""One decoder run of jobs on the engine, and what each job in it says to its listener.

The worker thread runs the jobs that share a run in one engine call
(:meth:`JobRunner.run`).  Each gets its own hooks: progress
rate-limited to :data:`PROGRESS_INTERVAL_S` (the last step always goes out,
once), the preview pieces of each take (rate-limited the same way, a take's
last piece always), and a cancel answered at once, mid-run, when it is asked
for (the engine then drops its takes).  :meth:`JobRunner.report` makes the one
terminal call of a job that has not ended: ``done`` (after progress 1.0, the
protocol's promise) or ``failed``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from bridge.engine_like import EngineLike, TakeLike
from bridge.job_record import Job, JobListener
from engine.errors import BridgeError, Cancelled, GenerationFailed
from engine.preview import PreviewReady
from engine.spec import Order

# Logged under the queue's name, as before runs had a module of their own: the
# serve log names it on each line, and that name is what users filter on.
log = logging.getLogger("bridge.jobs")

PROGRESS_INTERVAL_S = 0.1  # at most ten progress replies a second per job


class JobRunner:
    """Runs jobs on the engine and makes their listener calls (worker thread).

    Args:
        engine: makes the takes.
        listener: receives every job's progress, previews and its one terminal event.
        lock: the queue's lock; a job's ``decoded`` is set under it, and its
            ``ended`` when it ends mid-run.
        on_end: called under ``lock`` when a job ends mid-run (cancelled while
            others share its run): the queue then no longer counts it running.
    """

    def __init__(
        self,
        engine: EngineLike,
        listener: JobListener,
        lock: threading.Condition,
        on_end: Callable[[Job], None],
    ) -> None:
        self._engine = engine
        self._listener = listener
        self._lock = lock
        self._on_end = on_end

    def run(self, jobs: list[Job], model: str | None) -> list[Callable[[], None]]:
        """Run jobs on ``model`` in one engine call; returns the calls that report their ends.

        Each order names the model, so the sidecar's params say which one the
        take was made with.
        """
        orders = [
            Order(
                replace(job.spec, model=model) if model else job.spec,
                *self._hooks(job),
                on_preview=self._preview_hook(job),
                label=job.id,
            )
            for job in jobs
        ]
        started = time.monotonic()
        try:
            results: Sequence[TakeLike | BridgeError] = self._engine.generate_many(orders)
        except BridgeError as exc:
            results = [exc] * len(jobs)
        except Exception as exc:  # the one boundary: a bug must not kill the worker
            log.exception("jobs %s failed", ", ".join(job.id for job in jobs))
            results = [GenerationFailed(f"Internal error: {exc}")] * len(jobs)
        return [
            self.report(job, result, started) for job, result in zip(jobs, results, strict=True)
        ]

    def _hooks(self, job: Job) -> tuple[Callable[[int, int], None], Callable[[], bool]]:
        """The job's progress callback (rate-limited) and cancel check.

        A job cancelled while others share its run is answered at once, not
        when the run ends; the engine then drops its takes.
        """
        last = 0.0

        def on_progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            step = (now, min(1.0, done / total) if total > 0 else 1.0)
            if job.first_step is None:
                job.first_step = step
            job.last_step = step
            final = done >= total  # the last step always goes out, once
            if final and not job.decoded:
                # A cancel set before this wins at the check that follows this
                # step; one after it is answered too_late (never running, then done).
                with self._lock:
                    job.decoded = True
            if job.progress_sent < 1.0 and (final or now - last >= PROGRESS_INTERVAL_S):
                last = now
                self._progress(job, 1.0 if final else done / total)

        def is_cancelled() -> bool:
            if not job.cancel_requested.is_set():
                return False
            if not job.ended:
                log.info("job %s: cancelled", job.id)
                self._end(job, lambda: self._listener.failed(job, Cancelled("Cancelled.")))
            return True

        return on_progress, is_cancelled

    def _preview_hook(self, job: Job) -> Callable[[PreviewReady], None] | None:
        """The job's preview callback (rate-limited per take, as progress), or None.

        A take's last piece always
        goes out, and nothing once the job has ended (cancelled mid-run).
        """
        if not job.preview:
            return None
        last: dict[int, float] = {}

        def on_preview(ready: PreviewReady) -> None:
            now = time.monotonic()
            if job.ended or job.cancel_requested.is_set():
                return
            if not ready.final and now - last.get(ready.take, -1e9) < PROGRESS_INTERVAL_S:
                return
            last[ready.take] = now
            self._listener.preview(job, str(ready.path), ready.seconds, ready.take, ready.count)

        return on_preview

    def _progress(self, job: Job, fraction: float) -> None:
        job.progress_sent = fraction
        self._listener.progress(job, fraction, "generating")

    def _end(self, job: Job, report: Callable[[], None]) -> None:
        """Report a job's end now that it is no longer running (worker thread)."""
        with self._lock:
            job.ended = True
            self._on_end(job)
        try:
            report()
        except Exception:
            log.exception("reporting the end of job %s failed", job.id)

    def report(
        self, job: Job, result: TakeLike | BridgeError, started: float
    ) -> Callable[[], None]:
        """The call that reports ``job``'s result (nothing, if it ended already);
        ``started`` is the monotonic time its run (or its model's load) began."""
        if job.ended:
            return lambda: None
        job.ended = True
        if isinstance(result, BridgeError):
            log.info("job %s: %s (%s)", job.id, result.code, result.message)
            return lambda: self._listener.failed(job, result)
        log.info(
            "job %s done in %.2f s (waited %.2f s): %s",
            job.id,
            time.monotonic() - started,
            started - job.submitted,
            ", ".join(p.name for p in result.paths),
        )
        paths = [str(p) for p in result.paths]
        warnings = [(w.code, w.message) for w in result.warnings]

        def report() -> None:
            if job.progress_sent < 1.0:  # the protocol's promise: 1.0, then done
                self._progress(job, 1.0)
            self._listener.done(job, paths, warnings)

        return report
