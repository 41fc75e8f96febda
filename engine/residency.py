"""The checkpoints an engine keeps resident, and how each is loaded.

:class:`ResidentModels` holds up to ``keep_models`` loaded checkpoints, least
recently used first, one of them active; loading one more evicts the least
recently used (never the active one), as does a ``memory_budget`` exceeded.
:func:`load_resident` loads one beside them: the weights (with a
``+ADAPTER`` merged), the CPU precision and Linear kernel, the provenance
hash, the CUDA graphs of its steps and the warm-up, into a :class:`Resident`
whose :class:`ModelInfo` the status replies and sidecars report.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import adapters, checkpoint

if TYPE_CHECKING:
    from engine.api import EngineSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """What is loaded, for status replies and sidecars."""

    model_id: str
    device: str
    dtype: str
    sample_rate: int
    channels: int
    window_seconds: float
    melody: bool
    is_debug: bool
    load_seconds: float
    checkpoint: dict[str, Any] = field(default_factory=dict)  # engine.provenance.describe
    base_model: str = ""  # model_id without its +ADAPTER ("" read as model_id)
    adapter: dict[str, Any] | None = None  # the merged LoRA adapter (_adapter), or None
    memory_bytes: int = 0  # its weights and buffers on its device
    kernel: str = "module"  # its CPU Linear kernel (engine.decoders.kernels)


@dataclass(frozen=True)
class Resident:
    """One resident checkpoint, with the CUDA graphs captured for it (None off CUDA)."""

    loaded: checkpoint.LoadedModel
    info: ModelInfo
    graphs: Any


class ResidentModels:
    """Up to ``settings.keep_models`` resident checkpoints; the one loaded last is active.

    Switching to another resident checkpoint costs no load; loading one more
    evicts the least recently used (never the active one).  A load that fails
    changes nothing.
    """

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._resident: OrderedDict[str, Resident] = OrderedDict()  # least recently used first
        self.infos: tuple[ModelInfo, ...] = ()  # replaced whole: read from other threads
        self.active: Resident | None = None

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._resident

    def load(self, model_id: str) -> ModelInfo:
        """Make ``model_id`` the active checkpoint, loading it unless it is resident.

        A new checkpoint is loaded beside the resident ones; only then, if more
        than ``keep_models`` are resident, the least recently used go.  If the
        load fails, every resident checkpoint stays as it was.

        Raises:
            ModelNotAvailable, ModelLoadFailed.
        """
        if model_id in self._resident:
            if self.active is None or self.active.info.model_id != model_id:
                log.info("model %s is resident: switched to it without loading", model_id)
            return self._activate(model_id)
        self._resident[model_id] = load_resident(model_id, self.settings)
        info = self._activate(model_id)
        self._evict()
        return info

    def unload(self, model_id: str | None = None) -> None:
        """Free one resident checkpoint (None: all of them), and its GPU memory."""
        for name in [model_id] if model_id is not None else list(self._resident):
            if name in self._resident:
                self._drop(name)

    def _activate(self, model_id: str) -> ModelInfo:
        self._resident.move_to_end(model_id)
        self.active = self._resident[model_id]
        self.infos = tuple(r.info for r in self._resident.values())
        return self.active.info

    def _evict(self) -> None:
        """Drop the least recently used checkpoints beyond ``keep_models`` or the
        memory budget (never the active one)."""
        while len(self._resident) > 1:
            budget = self.settings.memory_budget
            held = sum(r.info.memory_bytes for r in self._resident.values())
            if len(self._resident) > self.settings.keep_models:
                why = f"--keep-models {self.settings.keep_models}"
            elif budget and held > budget:
                why = f"{held / 2**30:.2f} GiB resident, --memory-budget {budget / 2**30:.2f} GiB"
            else:
                return
            oldest = next(iter(self._resident))
            if self.active is not None and oldest == self.active.info.model_id:
                return
            self._drop(oldest)
            log.info("model %s evicted (least recently used; %s)", oldest, why)

    def _drop(self, model_id: str) -> None:
        gone = self._resident.pop(model_id)
        if gone.graphs is not None:
            gone.graphs.stop()  # a background capture still going
        if self.active is not None and self.active.info.model_id == model_id:
            self.active = None
        self.infos = tuple(r.info for r in self._resident.values())
        device = gone.loaded.device
        del gone
        import gc

        gc.collect()
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def load_resident(model_id: str, settings: EngineSettings) -> Resident:
    """Load, prepare and warm up ``model_id``; no resident checkpoint changes.

    Raises:
        ModelNotAvailable, ModelLoadFailed.
    """
    _set_threads(settings)
    start = time.perf_counter()
    loaded = checkpoint.load(
        model_id, settings.cache_dir, settings.device, settings.dtype, settings.adapters_folder
    )
    _set_cpu_precision(loaded, settings)
    kernel = _set_kernel(loaded, settings)
    # Hashed (first load only) while the graphs are captured and the warm-up runs:
    # hashlib lets go of the GIL.  After the kernel choice, which it would disturb.
    hashing = ThreadPoolExecutor(1, thread_name_prefix="weights-sha256")
    described = hashing.submit(_provenance, loaded, settings)
    hashing.shutdown(wait=False)
    graphs = None
    if settings.decoder == "fast" and settings.cuda_graphs:
        from engine.decoders.step_graph import prepare_step_graphs

        takes = range(1, settings.max_takes + 1)
        background = settings.graph_capture == "background"
        graphs = prepare_step_graphs(  # None off CUDA
            loaded, takes, background=background, fused=settings.fused_step
        )
    if settings.warmup:
        _warm_up(loaded, graphs, settings)
    if graphs is not None:
        graphs.start()  # a background capture (none pending: nothing to do)
    from engine.windows import window_frames

    described_checkpoint = described.result()  # before load_seconds: the load waited for it
    info = ModelInfo(
        model_id=model_id,
        device=loaded.device,
        dtype=loaded.dtype,
        sample_rate=loaded.sample_rate,
        channels=loaded.channels,
        window_seconds=window_frames(loaded) / loaded.frame_rate,
        melody=loaded.is_melody,
        is_debug=loaded.is_debug,
        load_seconds=time.perf_counter() - start,
        checkpoint=described_checkpoint,
        base_model=loaded.base_id,
        adapter=_adapter(loaded, settings),
        memory_bytes=_memory_bytes(loaded.model),
        kernel=kernel,
    )
    if loaded.is_debug:
        log.warning("model %r has random weights: its takes are noise, not music", model_id)
    log.info(
        "model %s loaded on %s (%s) in %.1f s",
        model_id,
        loaded.device,
        loaded.dtype,
        info.load_seconds,
    )
    return Resident(loaded, info, graphs)


def _provenance(loaded: checkpoint.LoadedModel, settings: EngineSettings) -> dict[str, Any]:
    from engine.provenance import describe

    return describe(
        loaded.base_id,
        loaded.folder,
        is_debug=loaded.is_debug,
        cache_dir=settings.cache_dir,
    )


def _adapter(loaded: checkpoint.LoadedModel, settings: EngineSettings) -> dict[str, Any] | None:
    """The merged adapter, for the sidecar: its name, folder, weights hash, declared base."""
    if loaded.adapter is None:
        return None
    from engine.provenance import sha256_file

    weights = loaded.adapter / adapters.WEIGHTS_NAME
    try:
        digest: str | None = sha256_file(weights, settings.cache_dir)
    except OSError as exc:
        log.warning("could not hash %s for the sidecar: %s", weights, exc)
        digest = None
    return {
        "name": adapters.split(loaded.model_id)[1],
        "folder": str(loaded.adapter),
        "weights_sha256": digest,
        "trained_on": adapters.declared_base(loaded.adapter),
    }


def _set_cpu_precision(loaded: checkpoint.LoadedModel, settings: EngineSettings) -> None:
    from engine.decoders.precision import MEANING, prepare_for_cpu, resolve_cpu_precision

    if settings.cpu_precision == "auto" and (loaded.device != "cpu" or loaded.dtype != "float32"):
        return  # auto leaves a GPU model, or one loaded in another dtype, as it is
    precision, why = resolve_cpu_precision(settings.cpu_precision)
    if precision == "float32":
        return
    if loaded.device != "cpu" or loaded.dtype != "float32":
        log.warning(
            "--cpu-precision %s applies to float32 models on the CPU; this one runs on %s "
            "in %s, unchanged",
            precision,
            loaded.device,
            loaded.dtype,
        )
        return
    prepare_for_cpu(loaded, precision)
    log.info(
        "CPU precision %s (%s; %s): faster, and not exact (docs/performance.md)",
        precision,
        MEANING[precision],
        why,
    )


def _set_kernel(loaded: checkpoint.LoadedModel, settings: EngineSettings) -> str:
    if loaded.device != "cpu":
        return "module"
    from engine.decoders import kernels

    choice = kernels.choose_kernel(loaded, settings.cache_dir, settings.cpu_kernel)
    kernels.apply_choice(loaded, choice)
    log.info("%s", kernels.describe(choice))
    return choice.name


def _set_threads(settings: EngineSettings) -> None:
    import os

    import torch

    threads = settings.threads or max(1, (os.cpu_count() or 2) // 2)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        log.info("using %d CPU thread(s) for torch", threads)


def _warm_up(loaded: checkpoint.LoadedModel, graphs: Any, settings: EngineSettings) -> None:
    """The shapes a first take meets, each part timed in the log (engine.warm_up)."""
    from engine.decoders import decoder
    from engine.warm_up import plan_for, warm_up

    warm_up(loaded, decoder(settings.decoder, graphs), plan_for(loaded.device, settings.max_takes))


def _memory_bytes(model: Any) -> int:
    """Bytes of a model's parameters and buffers (what it holds on its device)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)
