"""The job queue and its single model worker thread.

Requests are accepted (or refused) at once on the receiving thread; one
worker thread owns the engine and runs jobs first in, first out.  Everything
a job has to say goes to a :class:`JobListener` (the server turns those calls
into OSC replies), so this module knows nothing of sockets or OSC.

When the worker takes the oldest job, waiting jobs that can share its decoder
run join it (up to ``max_batch`` takes in all): the engine says which can
(:meth:`EngineLike.sharing`), and only jobs no longer than the oldest one join,
so the run lasts as many steps as the oldest job alone.  A step of more rows
costs more (on a CPU, 8 rows about twice 2), so the oldest job may finish
later than alone while the others finish far sooner.  Each keeps its own
seed, progress, cancel and reply.

The gather window (``gather_ms``, ``serve --gather-ms``): requests sent at once
by several clients reach the queue a fraction of a millisecond apart, so the
worker may start a run before most of them are in (issue 28: 8 clients ran as
2 + 6 takes).  So when a run about to start has room and a burst is under way
(a job that joins it arrived within the last ``gather_ms``; or its first job
did, with another generate request already waiting to be read behind it, or
one is waiting to be read now: the server peeks at its socket, see
:attr:`Job.followed` and ``arriving``), the worker waits up to ``gather_ms``
for more, then starts; a run that fills starts at once.  A lone request, a run
that is full, a backlog that queued behind the last run, and a head whose
queue holds only jobs that cannot join it never wait: a producer's single take
pays nothing.  During the window the head is running and the others stay
queued, so a cancel answers at once and a shutdown ends the window at once;
jobs join in arrival order, as without it.

A job's ``model`` applies to that job only: a job without one runs on the
startup model (``serve --model``).  Before a job runs the worker makes its
model the engine's active one, which costs nothing when it is resident (the
engine keeps ``--keep-models`` warm) and evicts only between runs.  A load
that fails fails that job alone; the resident models stay.

Every accepted job gets exactly one terminal call: ``done`` or ``failed``.

:meth:`JobQueue.snapshot` reads, without waiting on the worker, what status
reports: each running and queued job (:class:`JobView`: its progress, how long
it has run, an estimate of the time left) and the engine's memory figures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

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
from engine.preview import PreviewReady
from engine.spec import GenerationSpec, Order

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # at most ten progress replies a second per job

WorkerState = Literal["loading", "ready", "busy", "no_model", "stopping"]
JobState = Literal["queued", "loading", "generating"]


class WarningLike(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


class TakeLike(Protocol):
    @property
    def paths(self) -> tuple[Path, ...]: ...

    @property
    def warnings(self) -> Sequence[WarningLike]: ...


class ModelInfoLike(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def device(self) -> str: ...

    @property
    def dtype(self) -> str: ...

    @property
    def load_seconds(self) -> float: ...

    @property
    def memory_bytes(self) -> int: ...


class MemoryLike(Protocol):
    """Memory figures in bytes (None: this machine cannot say); see engine.memory."""

    @property
    def rss_bytes(self) -> int | None: ...

    @property
    def gpu_allocated_bytes(self) -> int | None: ...

    @property
    def gpu_free_bytes(self) -> int | None: ...


class SharingLike(Protocol):
    @property
    def key(self) -> Hashable: ...

    @property
    def steps(self) -> int: ...


class EngineLike(Protocol):
    """What the worker needs of :class:`engine.api.Engine` (fakes implement this)."""

    @property
    def info(self) -> ModelInfoLike | None: ...

    @property
    def resident(self) -> Sequence[ModelInfoLike]: ...

    def load(self, model_id: str) -> object: ...

    def memory(self) -> MemoryLike:
        """Read from the receiving thread too: it must not wait on the worker."""
        ...

    def sharing(self, spec: GenerationSpec) -> SharingLike | None: ...

    def generate_many(self, orders: Sequence[Order]) -> Sequence[TakeLike | BridgeError]: ...


class JobView(NamedTuple):
    """One running or queued job as status shows it (in the order of its reply's arguments).

    Attributes:
        id: the request's id.
        state: queued, loading (its model is loading) or generating.
        position: jobs ahead of it, counted as ``queued`` counts them (0: running).
        progress: the fraction of its decoding done, 0..1 (every step, not
            only the rate-limited progress replies).
        elapsed_s: seconds since it started running, its model's load
            included (0 while queued).
        eta_s: seconds of decoding left, estimated from its own rate since its
            first step; None until two steps have been seen, and while queued.
        waited_s: seconds between its acceptance and its start (or now, queued).
        model: the checkpoint it runs on ("": the active one).
        prompt: its prompt, whole.
    """

    id: str
    state: JobState
    position: int
    progress: float
    elapsed_s: float
    eta_s: float | None
    waited_s: float
    model: str
    prompt: str


class Snapshot(NamedTuple):
    """What status and ping report, read without waiting on the worker.

    Attributes:
        state: loading, ready, busy, no_model or stopping.
        model: the active model's id; with none yet, the startup model (loading or
            missing; "" only without one).
        device: its device ("" when none).
        running: the running job ids, joined by spaces (ids have none).
        waiting: jobs queued behind them.
        reason: why the state is no_model, in words; while loading, what the
            startup is doing, if it says ("downloading X: 40% ..."); "" otherwise.
        resident: every resident model, least recently used first.
        jobs: the running jobs, then the queued ones in the order they run.
        memory: the engine's memory figures.
        loaded: the active model's id, "" when none is loaded (what models says).
    """

    state: WorkerState
    model: str
    device: str
    running: str
    waiting: int
    reason: str
    resident: tuple[ModelInfoLike, ...]
    jobs: tuple[JobView, ...]
    memory: MemoryLike
    loaded: str = ""


class JobListener(Protocol):
    def progress(self, job: Job, fraction: float, stage: str) -> None: ...

    def done(self, job: Job, paths: list[str], warnings: Sequence[tuple[str, str]] = ()) -> None:
        """The job's takes are written; ``warnings`` are (code, message) pairs about them."""

    def failed(self, job: Job, error: BridgeError) -> None: ...

    def preview(self, job: Job, path: str, seconds: float, take: int, count: int) -> None:
        """Take ``take`` of ``count`` has ``seconds`` of preview at ``path`` (asked for only)."""


@dataclass(eq=False)
class Job:
    """One generate request on its way through the queue.

    Attributes:
        id: the client's request id.
        spec: what to make.
        reply_to: (host, port) replies go to.
        submitted: monotonic time of acceptance, seconds.
        cancel_requested: set by :meth:`JobQueue.cancel` (and shutdown).
        ended: its terminal event has been reported.
        decoded: its last decode step is done (set under the queue's lock, before
            its progress 1.0): from then on a cancel is answered too_late.
        progress_sent: the last progress fraction reported (1.0 always precedes done).
        started: monotonic time the worker took it (None: still queued).
        loading: its model is being loaded for it.
        first_step, last_step: (monotonic time, fraction) at its first and at
            its latest decode step (None: no step yet); each is replaced
            whole, so status reads them from another thread.
        preview: the client asked to hear the takes as they render.
        followed: another generate request was already waiting to be read when
            this one was accepted (the server's hint that a burst is under way).
    """

    id: str
    spec: GenerationSpec
    reply_to: tuple[str, int]
    submitted: float = field(default_factory=time.monotonic)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    ended: bool = False
    decoded: bool = False
    progress_sent: float = 0.0
    started: float | None = None
    loading: bool = False
    first_step: tuple[float, float] | None = None
    last_step: tuple[float, float] | None = None
    preview: bool = False
    followed: bool = False

    def view(self, position: int, model: str, now: float) -> JobView:
        """How status shows this job at monotonic time ``now``."""
        prompt = self.spec.prompt
        if self.started is None:
            waited = now - self.submitted
            return JobView(self.id, "queued", position, 0.0, 0.0, None, waited, model, prompt)
        first, last = self.first_step, self.last_step
        fraction = last[1] if last else 0.0
        eta = None
        if first and last and last[1] > first[1]:
            # The rate since its first step: a load, melody analysis or prompt
            # encoding before it would otherwise read as slow decoding.
            seconds_per_fraction = (last[0] - first[0]) / (last[1] - first[1])
            eta = max(0.0, (1.0 - last[1]) * seconds_per_fraction - (now - last[0]))
        state: JobState = "loading" if self.loading else "generating"
        elapsed, waited = now - self.started, self.started - self.submitted
        return JobView(self.id, state, 0, fraction, elapsed, eta, waited, model, prompt)


class JobQueue:
    """FIFO of jobs with one worker thread that owns the engine.

    Args:
        engine: loads models and makes takes; only the worker thread touches it.
        listener: receives every job's progress and its one terminal event.
        max_queued: jobs waiting (not counting the running ones) before ``Busy``.
        startup_model: loaded by the worker as soon as it starts (None: none).
        max_batch: most takes decoded together in one run (1: one job at a time).
        gather_ms: the gather window, milliseconds (0: none): how long a run
            with room waits for more takes when a burst is under way (the
            module docstring has the rule).
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
        self._max_batch = max_batch
        self._gather_s = gather_ms / 1000.0
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
        self._thread = threading.Thread(target=self._work, name="model-worker", daemon=True)

    # -- called from the receiving thread ---------------------------------

    def start(self) -> None:
        if self._max_batch > 1:
            log.info(
                "shared runs: up to %d takes; gather window %s",
                self._max_batch,
                f"{self._gather_s * 1000:g} ms (a run with room waits up to that long for "
                "more while requests are arriving together)"
                if self._gather_s > 0
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
                return [self._report(head, exc, started)]
            except Exception as exc:  # the one boundary: a bug must not kill the worker
                log.exception("job %s: loading %s failed", head.id, model)
                return [self._report(head, GenerationFailed(f"Internal error: {exc}"), started)]
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
            return [self._report(head, error, started)]
        return self._run(jobs, model)

    def _gather(self, head: Job, model: str | None) -> list[Job]:
        """``head`` and the waiting jobs that share its decoder run (now running too).

        Waits up to the gather window for more when a burst is under way (the
        module docstring).  Returns [] when ``head`` was cancelled, or the
        queue shut down, before the run started; the waiting jobs stay queued.
        """
        if head.spec.variations >= self._max_batch:
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
                joining = self._fit(head, may_join)
                now = time.monotonic()
                room = self._max_batch - sum(j.spec.variations for j in [head, *joining])
                if deadline is None:
                    burst = room > 0 and self._burst(head, joining, now)
                    deadline = now + self._gather_s if burst else now
                stop = self._closed or head.cancel_requested.is_set()
                if not stop and room > 0 and now < deadline:
                    waited = True
                    self._lock.wait(deadline - now)  # a submit, cancel or shutdown wakes it
                    continue
                if stop:
                    return []
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

    def _burst(self, head: Job, joining: list[Job], now: float) -> bool:
        """Whether requests are arriving together: a job that joins ``head``'s run
        arrived within the gather window, or ``head`` did with another generate
        request already waiting to be read behind it, or one is waiting now."""
        if self._gather_s <= 0:
            return False
        if head.followed and now - head.submitted <= self._gather_s:
            return True
        if any(now - job.submitted <= self._gather_s for job in joining):
            return True
        return self._arriving is not None and self._arriving()

    def _may_join(self, job: Job, share: SharingLike, model: str | None) -> bool:
        """Whether ``job`` may share the run whose head shares as ``share`` on ``model``."""
        if self._model_for(job) != model:
            return False
        other = self._sharing(job)
        return other is not None and other.key == share.key and other.steps <= share.steps

    def _fit(self, head: Job, may_join: dict[Job, bool]) -> list[Job]:
        """The waiting jobs that join ``head``'s run, in arrival order, up to max_batch takes.

        Called under the lock.
        """
        takes, joining = head.spec.variations, []
        for job in self._pending:
            if may_join.get(job) and takes + job.spec.variations <= self._max_batch:
                joining.append(job)
                takes += job.spec.variations
        return joining

    def _sharing(self, job: Job) -> SharingLike | None:
        try:
            return self._engine.sharing(job.spec)
        except Exception:  # a job the engine cannot judge runs alone, and fails there
            log.exception("judging whether job %s can share a run failed", job.id)
            return None

    def _run(self, jobs: list[Job], model: str | None) -> list[Callable[[], None]]:
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
            self._report(job, result, started) for job, result in zip(jobs, results, strict=True)
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
            if job in self._running:
                self._running.remove(job)
        try:
            report()
        except Exception:
            log.exception("reporting the end of job %s failed", job.id)

    def _report(
        self, job: Job, result: TakeLike | BridgeError, started: float
    ) -> Callable[[], None]:
        """The call that reports ``job``'s result (nothing, if it ended already)."""
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
