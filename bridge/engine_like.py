"""What the bridge's job queue needs of the engine, as Protocols.

:class:`engine.api.Engine` implements :class:`EngineLike` (the tests' fakes do
too), so the bridge names the engine's types here without importing torch or
the engine's loading code.  Only the worker thread calls the engine, except
:meth:`EngineLike.memory`, :attr:`EngineLike.info` and
:attr:`EngineLike.resident`, which status reads from the receiving thread.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Protocol

from engine.errors import BridgeError
from engine.spec import GenerationSpec, Order


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
