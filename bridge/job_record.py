"""A generate request on its way through the queue, and what status shows of it.

:class:`Job` is the queue's record of one request; :class:`JobView` is one job
as status shows it, :class:`Snapshot` the whole engine as status and ping
report it (read without waiting on the worker); :class:`JobListener` receives
everything a job has to say (the server turns those calls into OSC replies).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from bridge.engine_like import MemoryLike, ModelInfoLike
from engine.errors import BridgeError
from engine.spec import GenerationSpec

WorkerState = Literal["loading", "ready", "busy", "no_model", "stopping"]
JobState = Literal["queued", "loading", "generating"]


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
        cancel_requested: set by :meth:`bridge.jobs.JobQueue.cancel` (and shutdown).
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
