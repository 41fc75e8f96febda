"""A request's decoder steps counted across windows and shared runs, and its cancel honoured.

:class:`Progress` counts one request's steps over all its windows, reports
them to its :data:`ProgressCallback` and polls its :data:`CancelCheck`;
:class:`SharedSteps` is the one step hook of a decoder run that several
requests share, where a cancelled request drops out and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import Cancelled

#: Called after every decode step with (steps done, steps in total).
ProgressCallback = Callable[[int, int], None]
#: Polled after every decode step; returning True stops the take with Cancelled.
CancelCheck = Callable[[], bool]


class Progress:
    """Counts decoder steps across windows; reports them and honours cancel."""

    def __init__(
        self, total: int, on_progress: ProgressCallback | None, is_cancelled: CancelCheck | None
    ) -> None:
        self.total = total
        self.done = 0
        self.on_progress = on_progress
        self.is_cancelled = is_cancelled

    def step(self) -> None:
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(min(self.done, self.total), self.total)
        if self.is_cancelled is not None and self.is_cancelled():
            raise Cancelled("Cancelled.")


class SharedSteps:
    """One decoder step hook for the requests of a run: each counts, each may cancel.

    A cancelled request drops out (its takes are still computed, then discarded);
    the run stops when every request has.
    """

    def __init__(self, progresses: list[Progress]) -> None:
        self.progresses = progresses
        self.dropped = [False] * len(progresses)

    def step(self) -> None:
        for i, progress in enumerate(self.progresses):
            if self.dropped[i]:
                continue
            try:
                progress.step()
            except Cancelled:
                self.dropped[i] = True
        if all(self.dropped):
            raise Cancelled("Cancelled.")
