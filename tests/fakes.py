"""A fake engine for queue and server tests: no torch, controllable timing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from engine.errors import BridgeError, Cancelled, GenerationFailed, ModelNotAvailable


@dataclass(frozen=True)
class FakeInfo:
    model_id: str = "fake"
    device: str = "cpu"
    dtype: str = "float32"
    load_seconds: float = 0.0
    memory_bytes: int = 0


@dataclass(frozen=True)
class FakeMemory:
    rss_bytes: int | None = 64 * 2**20
    gpu_allocated_bytes: int | None = None
    gpu_free_bytes: int | None = None


@dataclass(frozen=True)
class FakeTake:
    paths: tuple[Path, ...]
    warnings: tuple = ()


@dataclass(frozen=True)
class FakeSharing:
    key: tuple
    steps: int


class FakeEngine:
    """Generates nothing; each run takes ``steps`` steps of ``step_s`` seconds.

    ``gate`` (when set) holds every run at its first step until released, so
    a test can observe a running job.  With ``share``, requests of one
    guidance scale share a run, as long as their seconds x 10 in steps.
    One model is resident at a time; a model in ``missing`` fails to load
    (ModelNotAvailable) and leaves the resident one.
    """

    def __init__(
        self,
        steps: int = 5,
        step_s: float = 0.0,
        fail_with: Exception | None = None,
        share: bool = False,
    ):
        self.steps = steps
        self.step_s = step_s
        self.fail_with = fail_with
        self.share = share
        self.info: FakeInfo | None = None
        self.loaded: list[str] = []
        self.ran: list[str] = []
        self.runs: list[list[str]] = []
        self.started = threading.Event()
        self.gate: threading.Event | None = None
        self.missing: set[str] = set()
        self.load_gate: threading.Event | None = None  # holds every load until set
        self.memory_use = FakeMemory()  # what memory() reports: 64 MiB RSS, no GPU

    def memory(self) -> FakeMemory:
        return self.memory_use

    @property
    def resident(self) -> tuple[FakeInfo, ...]:
        return (self.info,) if self.info else ()

    def load(self, model_id: str) -> FakeInfo:
        if self.info is not None and self.info.model_id == model_id:
            return self.info
        if self.load_gate is not None:
            self.load_gate.wait(10)
        if model_id in self.missing:
            raise ModelNotAvailable(f"Model '{model_id}' is not on this machine.")
        self.loaded.append(model_id)
        self.info = FakeInfo(model_id)
        return self.info

    def available_models(self) -> list[str]:
        return ["fake", "debug"]

    def sharing(self, spec) -> FakeSharing | None:
        active = self.info.model_id if self.info else None
        if not self.share or spec.model not in (None, active):
            return None
        return FakeSharing((spec.guidance,), round(spec.duration_seconds * 10))

    def generate_many(self, orders) -> list[FakeTake | BridgeError]:
        if len(orders) == 1 and orders[0].spec.model:
            self.load(orders[0].spec.model)
        self.ran += [order.spec.prompt for order in orders]
        self.models = [order.spec.model for order in orders]  # of the last run
        self.runs.append([order.spec.prompt for order in orders])
        self.started.set()
        dropped = [False] * len(orders)
        for step in range(1, self.steps + 1):
            if self.gate is not None:
                self.gate.wait(10)
            threading.Event().wait(self.step_s)
            for i, order in enumerate(orders):
                if dropped[i]:
                    continue
                if order.on_progress:
                    order.on_progress(step, self.steps)
                dropped[i] = bool(order.is_cancelled and order.is_cancelled())
            if all(dropped):
                return [Cancelled("Cancelled.")] * len(orders)
        if self.fail_with is not None:
            raise self.fail_with
        return [
            Cancelled("Cancelled.")
            if gone
            else FakeTake((order.spec.out_dir / f"{order.spec.prompt}.wav",))
            for order, gone in zip(orders, dropped, strict=True)
        ]


class Recorder:
    """A JobListener that records every event, with a way to wait for terminals."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self._cond = threading.Condition()

    def progress(self, job, fraction, stage):
        self._add(("progress", job.id, fraction, stage))

    def done(self, job, paths, warnings=()):
        for code, message in warnings:
            self._add(("warning", job.id, code, message))
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
