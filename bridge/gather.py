"""Which waiting jobs share a run, and how long a run waits for more (the gather window).

When the worker takes the oldest job, waiting jobs that can share its decoder
run join it (up to ``max_batch`` takes in all): the engine says which can
(:meth:`~bridge.engine_like.EngineLike.sharing`), and only jobs on the same
model and no longer than the oldest one join, so the run lasts as many steps
as the oldest job alone.  A step of more rows costs more (on a CPU, 8 rows
about twice 2), so the oldest job may finish later than alone while the others
finish far sooner.  Each keeps its own seed, progress, cancel and reply.

The gather window (``gather_ms``, ``serve --gather-ms``): requests sent at once
by several clients reach the queue a fraction of a millisecond apart, so the
worker may start a run before most of them are in (issue 28: 8 clients ran as
2 + 6 takes).  So when a run about to start has room and a burst is under way
(a job that joins it arrived within the last ``gather_ms``; or its first job
did, with another generate request already waiting to be read behind it, or
one is waiting to be read now: the server peeks at its socket, see
:attr:`~bridge.job_record.Job.followed` and the queue's ``arriving``), the
worker waits up to ``gather_ms`` for more, then starts; a run that fills starts
at once.  A lone request, a run that is full, a backlog that queued behind the
last run, and a head whose queue holds only jobs that cannot join it never
wait: a producer's single take pays nothing.  During the window the head is
running and the others stay queued, so a cancel answers at once and a shutdown
ends the window at once; jobs join in arrival order, as without it.

:class:`GatherRule` is that rule alone, given the waiting jobs, the time and
the settings: no lock, no clock, no engine.  :class:`bridge.jobs.JobQueue`
asks the engine how each job shares, calls the rule under its lock, and waits
(woken by a submit, a cancel or a shutdown) as long as the rule says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bridge.engine_like import SharingLike
from bridge.job_record import Job


class RunPlan(NamedTuple):
    """What the rule says of a run about to start, at one moment.

    Attributes:
        joining: the waiting jobs that join the head's run, in arrival order.
        deadline: when the run starts at the latest (monotonic seconds); the
            moment it was first planned when its window did not open.
        wait_s: how long to wait for more takes before starting (0: start now).
    """

    joining: list[Job]
    deadline: float
    wait_s: float


@dataclass(frozen=True)
class GatherRule:
    """The sharing and gather-window rule (the module docstring).

    Attributes:
        max_batch: most takes decoded together in one run.
        gather_s: the gather window, seconds (0: none).
    """

    max_batch: int
    gather_s: float

    def alone(self, head: Job) -> bool:
        """Whether ``head``'s own takes leave its run no room for another job's."""
        return head.spec.variations >= self.max_batch

    @staticmethod
    def shares(head: SharingLike, other: SharingLike | None) -> bool:
        """Whether a job on the head's model that shares as ``other`` may join the run
        whose head shares as ``head`` (None: the engine says it cannot share)."""
        return other is not None and other.key == head.key and other.steps <= head.steps

    def fit(self, head: Job, pending: Iterable[Job], may_join: Mapping[Job, bool]) -> list[Job]:
        """The waiting jobs that join ``head``'s run, in arrival order, up to max_batch takes.

        ``may_join`` says of each waiting job judged so far whether it may
        share the run; one not in it does not join.
        """
        takes, joining = head.spec.variations, []
        for job in pending:
            if may_join.get(job) and takes + job.spec.variations <= self.max_batch:
                joining.append(job)
                takes += job.spec.variations
        return joining

    def burst(
        self,
        head: Job,
        joining: Sequence[Job],
        now: float,
        arriving: Callable[[], bool] | None,
    ) -> bool:
        """Whether requests are arriving together: a job that joins ``head``'s run
        arrived within the gather window, or ``head`` did with another generate
        request already waiting to be read behind it, or one is waiting now
        (``arriving``, asked last and only then; None: nothing says)."""
        if self.gather_s <= 0:
            return False
        if head.followed and now - head.submitted <= self.gather_s:
            return True
        if any(now - job.submitted <= self.gather_s for job in joining):
            return True
        return arriving is not None and arriving()

    def plan(
        self,
        head: Job,
        pending: Iterable[Job],
        may_join: Mapping[Job, bool],
        now: float,
        deadline: float | None,
        arriving: Callable[[], bool] | None,
    ) -> RunPlan:
        """Who joins ``head``'s run at monotonic time ``now``, and how long it waits.

        ``deadline`` is the one a previous plan of this run returned (None: the
        first plan): the window opens, or not, once per run and never moves.
        A run with no room left never waits.
        """
        joining = self.fit(head, pending, may_join)
        room = self.max_batch - sum(j.spec.variations for j in [head, *joining])
        if deadline is None:
            burst = room > 0 and self.burst(head, joining, now, arriving)
            deadline = now + self.gather_s if burst else now
        wait_s = deadline - now if room > 0 and now < deadline else 0.0
        return RunPlan(joining, deadline, wait_s)
