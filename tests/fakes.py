"""A fake engine for queue and server tests: no torch, controllable timing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from engine.errors import Cancelled, GenerationFailed


@dataclass(frozen=True)
class FakeInfo:
    model_id: str = "fake"
    device: str = "cpu"


@dataclass(frozen=True)
class FakeTake:
    paths: tuple[Path, ...]


class FakeEngine:
    """Generates nothing; each take takes ``steps`` steps of ``step_s`` seconds.

    ``gate`` (when set) holds every take at its first step until released, so
    a test can observe a running job.
    """

    def __init__(self, steps: int = 5, step_s: float = 0.0, fail_with: Exception | None = None):
        self.steps = steps
        self.step_s = step_s
        self.fail_with = fail_with
        self.info: FakeInfo | None = None
        self.loaded: list[str] = []
        self.ran: list[str] = []
        self.started = threading.Event()
        self.gate: threading.Event | None = None

    def load(self, model_id: str) -> FakeInfo:
        self.loaded.append(model_id)
        self.info = FakeInfo(model_id)
        return self.info

    def available_models(self) -> list[str]:
        return ["fake", "debug"]

    def generate(self, spec, on_progress=None, is_cancelled=None) -> FakeTake:
        if spec.model:
            self.load(spec.model)
        self.ran.append(spec.prompt)
        self.started.set()
        for step in range(1, self.steps + 1):
            if self.gate is not None:
                self.gate.wait(10)
            threading.Event().wait(self.step_s)
            if on_progress:
                on_progress(step, self.steps)
            if is_cancelled and is_cancelled():
                raise Cancelled("Cancelled.")
        if self.fail_with is not None:
            raise self.fail_with
        return FakeTake((spec.out_dir / f"{spec.prompt}.wav",))


class Recorder:
    """A JobListener that records every event, with a way to wait for terminals."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self._cond = threading.Condition()

    def progress(self, job, fraction, stage):
        self._add(("progress", job.id, fraction, stage))

    def done(self, job, paths):
        self._add(("done", job.id, paths))

    def failed(self, job, error):
        self._add(("failed", job.id, error.code))

    def _add(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def terminals(self) -> list[tuple]:
        return [e for e in self.events if e[0] in ("done", "failed")]

    def wait_terminals(self, count: int, timeout: float = 10.0) -> list[tuple]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.terminals()) >= count, timeout)
            return self.terminals()


__all__ = ["FakeEngine", "GenerationFailed", "Recorder"]
