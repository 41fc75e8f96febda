"""The engine's one interface: load checkpoints, make takes, list models.

The bridge talks to :class:`Engine` and nothing else in this package.  No
tensor crosses this boundary: requests are :class:`~engine.spec.GenerationSpec`,
results are :class:`Take` (paths and figures).  An Engine is driven from one
thread at a time (the bridge's model worker).
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import adapters, checkpoint
from engine.catalog import Catalog, CatalogEntry
from engine.checkpoint import device_problem
from engine.debug_checkpoint import DEBUG_MODELS
from engine.errors import BridgeError, ModelNotAvailable
from engine.generate import Sharing
from engine.loudness import DEFAULT_TRUE_PEAK
from engine.memory import MemoryUse, memory_use
from engine.post_process import Rendered
from engine.progress import CancelCheck, ProgressCallback
from engine.prompting import Conflict
from engine.spec import GenerationSpec, Order
from engine.take_files import versions

log = logging.getLogger(__name__)

__all__ = ["Engine", "EngineSettings", "ModelInfo", "Take", "device_problem", "versions"]


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs: where its cache is and what hardware it uses.

    Attributes:
        cache_dir: the bridge's own cache (the debug checkpoint lives there).
        device: "auto" (cuda, then mps, then cpu) or a torch device string.
        dtype: "auto" (float16 on CUDA, else float32), "float32", "float16", "bfloat16".
        warmup: run a short generation right after loading, so the first
            producer request does not pay for lazy initialisation.
        threads: CPU threads for torch; 0 = half the cores (at least 1), so the
            DAW's audio threads keep cores of their own.  Oversubscribed, torch's
            spinning threads made a 0.5 s take 40x slower here.
        decoder: "fast" (the engine's own static-cache loop) or "reference"
            (transformers' generate), alike up to float rounding (docs/performance.md).
        cpu_precision: on the CPU, "float32" (exact), or "bfloat16" / "int8" /
            "int8-dynamic" weights (engine.decoders.precision.prepare_for_cpu):
            faster, not exact; "auto": bfloat16 where the CPU has native bf16,
            else float32.
        cuda_graphs: on CUDA, capture the fast decoder's step as CUDA graphs at
            load (engine.decoders.step_graph), each checked against the eager step.
        graph_capture: "now" (during the load) or "background" (after the
            engine is ready, runs decoding eagerly until each is captured;
            engine.decoders.background_capture).
        fused_step: on CUDA, decode with the step in Triton kernels
            (engine.decoders.fused_step) where it agrees with the eager step;
            off until a GPU has measured it.
        max_takes: the most takes one decoder run holds (the bridge's
            max_batch and max_variations): graphs are captured for 1..max_takes.
        true_peak: the true-peak ceiling in dBTP that loudness normalisation
            never crosses (engine.loudness).
        out_dir: the engine's own folder (``serve --out-dir``): a take whose
            folder cannot be written is saved there instead.  Its stale
            partial files are removed when the engine is made.  None: no such folder.
        cpu_kernel: on the CPU, the decoder's Linear kernel: "auto" (the
            fastest exact one, measured at first load and cached per machine;
            engine.decoders.kernels), "module" or "onednn".
        keep_models: the most checkpoints kept resident (``serve --keep-models``,
            at least 1); loading one more evicts the least recently used.
        memory_budget: bytes the resident checkpoints' weights may take together
            (``serve --memory-budget``); beyond it, after a load, the least
            recently used are evicted (never the active one).  0: no budget.
        models_dir: a folder whose MusicGen subfolders ``models`` lists
            (``serve --models-dir``); None: none.
        adapters_dir: the folder of LoRA adapters (``serve --adapters-dir``):
            a bare adapter name in ``BASE+ADAPTER`` is its subfolder, and
            ``models`` lists them (engine.adapters).  None: ``cache_dir/adapters``.
    """

    cache_dir: Path
    device: str = "auto"
    dtype: str = "auto"
    warmup: bool = True
    threads: int = 0
    decoder: str = "fast"
    cpu_precision: str = "auto"
    cuda_graphs: bool = True
    max_takes: int = 8
    graph_capture: str = "now"
    fused_step: bool = False
    true_peak: float = DEFAULT_TRUE_PEAK
    out_dir: Path | None = None
    cpu_kernel: str = "auto"
    keep_models: int = 2
    memory_budget: int = 0
    models_dir: Path | None = None
    adapters_dir: Path | None = None

    @property
    def adapters_folder(self) -> Path:
        """Where bare adapter names are looked up: ``adapters_dir`` or its default."""
        return self.adapters_dir or adapters.default_dir(self.cache_dir)


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
    adapter: dict[str, Any] | None = None  # the merged LoRA adapter (Engine._adapter), or None
    memory_bytes: int = 0  # its weights and buffers on its device
    kernel: str = "module"  # its CPU Linear kernel (engine.decoders.kernels)


@dataclass(frozen=True)
class _Resident:
    """One resident checkpoint, with the CUDA graphs captured for it (None off CUDA)."""

    loaded: checkpoint.LoadedModel
    info: ModelInfo
    graphs: Any


@dataclass(frozen=True)
class Take:
    """A finished take: the files written, how long each stage took, and its warnings.

    ``warnings`` are the request's conflicts between prompt and request
    (:func:`engine.prompting.conflicts`), also in every sidecar.
    """

    paths: tuple[Path, ...]
    seed: int
    duration_seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    warnings: tuple[Conflict, ...] = ()


class Engine:
    """Keeps up to ``settings.keep_models`` checkpoints resident and turns specs into files.

    One of them is active: the one :meth:`load` named last, which
    :meth:`generate_many` and :meth:`sharing` use.  Switching to another
    resident checkpoint costs no load; loading one more evicts the least
    recently used (never the active one).  A load that fails changes nothing.
    """

    def __init__(self, settings: EngineSettings) -> None:
        if settings.keep_models < 1:
            raise ValueError(f"keep_models must be at least 1, not {settings.keep_models}")
        self.settings = settings
        self._resident: OrderedDict[str, _Resident] = OrderedDict()  # least recently used first
        self._infos: tuple[ModelInfo, ...] = ()  # replaced whole: read from other threads
        self._loaded: checkpoint.LoadedModel | None = None  # the active checkpoint
        self._info: ModelInfo | None = None
        self._graphs: Any = None  # engine.decoders.step_graph.StepGraphs of the active checkpoint
        self._catalog = Catalog(settings.cache_dir, settings.models_dir, settings.adapters_folder)
        from engine.preview import preview_dir, remove_orphans

        remove_orphans(preview_dir(settings.cache_dir))
        self._first_run: set[str] = set()  # loaded, no run yet: its figures go in the log
        if settings.out_dir is not None:
            from engine.output import remove_stale_partials

            remove_stale_partials(settings.out_dir)

    @property
    def info(self) -> ModelInfo | None:
        """The active checkpoint, or None."""
        return self._info

    @property
    def resident(self) -> tuple[ModelInfo, ...]:
        """Every resident checkpoint, least recently used first (safe from any thread)."""
        return self._infos

    def memory(self) -> MemoryUse:
        """The process's RSS and, where a resident checkpoint is on CUDA, that GPU's
        allocated and free bytes (engine.memory; safe from any thread, never raises)."""
        cuda = next((i.device for i in self._infos if i.device.startswith("cuda")), None)
        return memory_use(cuda)

    def load(self, model_id: str) -> ModelInfo:
        """Make ``model_id`` the active checkpoint, loading it unless it is resident.

        A new checkpoint is loaded beside the resident ones; only then, if more
        than ``keep_models`` are resident, the least recently used go.  If the
        load fails, every resident checkpoint stays as it was.

        Raises:
            ModelNotAvailable, ModelLoadFailed.
        """
        if model_id in self._resident:
            if self._info is None or self._info.model_id != model_id:
                log.info("model %s is resident: switched to it without loading", model_id)
            self._activate(model_id)
            assert self._info is not None
            return self._info
        self._resident[model_id] = self._load_new(model_id)
        self._first_run.add(model_id)
        self._activate(model_id)
        self._evict()
        assert self._info is not None
        return self._info

    def _activate(self, model_id: str) -> None:
        self._resident.move_to_end(model_id)
        active = self._resident[model_id]
        self._loaded, self._info, self._graphs = active.loaded, active.info, active.graphs
        self._infos = tuple(r.info for r in self._resident.values())

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
            if self._info is not None and oldest == self._info.model_id:
                return
            self._drop(oldest)
            log.info("model %s evicted (least recently used; %s)", oldest, why)

    def _drop(self, model_id: str) -> None:
        gone = self._resident.pop(model_id)
        if gone.graphs is not None:
            gone.graphs.stop()  # a background capture still going
        if self._info is not None and self._info.model_id == model_id:
            self._loaded, self._info, self._graphs = None, None, None
        self._infos = tuple(r.info for r in self._resident.values())
        device = gone.loaded.device
        del gone
        import gc

        gc.collect()
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def _load_new(self, model_id: str) -> _Resident:
        """Load, prepare and warm up ``model_id``; nothing of the engine changes."""
        self._set_threads()
        start = time.perf_counter()
        loaded = checkpoint.load(
            model_id,
            self.settings.cache_dir,
            self.settings.device,
            self.settings.dtype,
            self.settings.adapters_folder,
        )
        self._set_cpu_precision(loaded)
        kernel = self._set_kernel(loaded)
        # Hashed (first load only) while the graphs are captured and the warm-up runs:
        # hashlib lets go of the GIL.  After the kernel choice, which it would disturb.
        hashing = ThreadPoolExecutor(1, thread_name_prefix="weights-sha256")
        described = hashing.submit(self._provenance, loaded)
        hashing.shutdown(wait=False)
        graphs = None
        if self.settings.decoder == "fast" and self.settings.cuda_graphs:
            from engine.decoders.step_graph import prepare_step_graphs

            takes = range(1, self.settings.max_takes + 1)
            background = self.settings.graph_capture == "background"
            graphs = prepare_step_graphs(  # None off CUDA
                loaded, takes, background=background, fused=self.settings.fused_step
            )
        if self.settings.warmup:
            self._warm_up(loaded, graphs)
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
            adapter=self._adapter(loaded),
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
        return _Resident(loaded, info, graphs)

    def _provenance(self, loaded: checkpoint.LoadedModel) -> dict[str, Any]:
        from engine.provenance import describe

        return describe(
            loaded.base_id,
            loaded.folder,
            is_debug=loaded.is_debug,
            cache_dir=self.settings.cache_dir,
        )

    def _adapter(self, loaded: checkpoint.LoadedModel) -> dict[str, Any] | None:
        """The merged adapter, for the sidecar: its name, folder, weights hash, declared base."""
        if loaded.adapter is None:
            return None
        from engine.provenance import sha256_file

        weights = loaded.adapter / adapters.WEIGHTS_NAME
        try:
            digest: str | None = sha256_file(weights, self.settings.cache_dir)
        except OSError as exc:
            log.warning("could not hash %s for the sidecar: %s", weights, exc)
            digest = None
        return {
            "name": adapters.split(loaded.model_id)[1],
            "folder": str(loaded.adapter),
            "weights_sha256": digest,
            "trained_on": adapters.declared_base(loaded.adapter),
        }

    def _set_cpu_precision(self, loaded: checkpoint.LoadedModel) -> None:
        from engine.decoders.precision import MEANING, prepare_for_cpu, resolve_cpu_precision

        if self.settings.cpu_precision == "auto" and (
            loaded.device != "cpu" or loaded.dtype != "float32"
        ):
            return  # auto leaves a GPU model, or one loaded in another dtype, as it is
        precision, why = resolve_cpu_precision(self.settings.cpu_precision)
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

    def _set_kernel(self, loaded: checkpoint.LoadedModel) -> str:
        if loaded.device != "cpu":
            return "module"
        from engine.decoders import kernels

        choice = kernels.choose_kernel(loaded, self.settings.cache_dir, self.settings.cpu_kernel)
        kernels.apply_choice(loaded, choice)
        log.info("%s", kernels.describe(choice))
        return choice.name

    def _set_threads(self) -> None:
        import os

        import torch

        threads = self.settings.threads or max(1, (os.cpu_count() or 2) // 2)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
            log.info("using %d CPU thread(s) for torch", threads)

    def unload(self, model_id: str | None = None) -> None:
        """Free one resident checkpoint (None: all of them), and its GPU memory."""
        for name in [model_id] if model_id is not None else list(self._resident):
            if name in self._resident:
                self._drop(name)

    def generate(
        self,
        spec: GenerationSpec,
        on_progress: ProgressCallback | None = None,
        is_cancelled: CancelCheck | None = None,
    ) -> Take:
        """Make the take(s) of one request and write each (WAV + sidecar) into ``spec.out_dir``.

        Loads ``spec.model`` first if it is not the resident one.  With
        ``spec.variations`` = N, N takes are decoded together, take i with seed + i.

        Raises:
            ModelNotAvailable, ModelLoadFailed, Unsupported, BadFile, OutOfRange,
            Cancelled, GenerationFailed, WriteFailed.
        """
        [result] = self.generate_many([Order(spec, on_progress, is_cancelled)])
        if isinstance(result, BridgeError):
            raise result
        return result

    def sharing(self, spec: GenerationSpec) -> Sharing | None:
        """How ``spec`` may share a decoder run with other requests (None: alone).

        Only the engine's own loop decodes requests together, and only on the
        resident checkpoint (see :func:`engine.generate.sharing`).
        """
        from engine.generate import sharing

        if self._loaded is None or self.settings.decoder != "fast":
            return None
        return sharing(self._loaded, spec)

    def generate_many(self, orders: Sequence[Order]) -> list[Take | BridgeError]:
        """Make several requests' takes in one decoder run, then write each request's files.

        One order may ask for any checkpoint (it is loaded first); several must
        share a run (:meth:`sharing` gave them equal keys).  Each order keeps
        its own seeds, progress and cancel, and gets its own result.

        Returns:
            Per order, its written take or the error that stopped it.

        Raises:
            ModelNotAvailable, ModelLoadFailed: before anything was made.
        """
        from engine.generate import Part, render_many

        requested = time.perf_counter()
        named = {order.spec.model for order in orders if order.spec.model is not None}
        if len(named) == 1:
            self.load(named.pop())
        if self._loaded is None:
            raise ModelNotAvailable("No model is loaded. Start the engine with --model.")
        loaded = self._loaded
        if len(orders) > 1:
            shares = [self.sharing(order.spec) for order in orders]
            if None in shares or len({share.key for share in shares if share}) > 1:
                raise ValueError("these requests cannot share a decoder run (see sharing())")
        parts = []
        for order in orders:
            spec = order.spec
            first = (
                spec.seed if spec.seed is not None else random.randrange(2**31 - spec.variations)
            )
            seeds = [first + i for i in range(spec.variations)]
            parts.append(
                Part(
                    spec,
                    seeds,
                    order.on_progress,
                    order.is_cancelled,
                    preview=self._preview(order),
                    requested=requested,
                )
            )
        started = datetime.now().astimezone()
        t0 = time.perf_counter()
        rendered = render_many(loaded, parts, self._decoder(self._graphs))
        t1 = time.perf_counter()
        self._log_first_run(rendered)
        results: list[Take | BridgeError] = []
        for part, made in zip(parts, rendered, strict=True):
            if isinstance(made, BridgeError):
                results.append(made)
                continue
            try:
                results.append(self._write(part.spec, part.seeds, made, started, t1 - t0))
            except BridgeError as exc:
                results.append(exc)
        return results

    def _preview(self, order: Order) -> Any:
        """The order's preview wish for the render (engine.preview.Preview), or None.

        Only the engine's own loop hands out its frames as they are made: with
        ``decoder="reference"`` a preview asked for is not made (logged).
        """
        if order.on_preview is None:
            return None
        if self.settings.decoder != "fast":
            log.info("no preview: the reference decoder gives its frames only at the end")
            return None
        from engine.preview import Preview, preview_dir

        folder = preview_dir(self.settings.cache_dir)
        return Preview(order.on_preview, order.label or "take", folder)

    def _write(
        self,
        spec: GenerationSpec,
        seeds: Sequence[int],
        rendered: Rendered,
        started: datetime,
        generate_s: float,
    ) -> Take:
        """Write one request's takes (engine.take_files).  Raises WriteFailed."""
        from engine.take_files import Made, write_request

        t0 = time.perf_counter()
        assert self._info is not None  # generate_many loaded a model first
        made = Made(self._info, self.settings.decoder, self._graphs is not None)
        paths, warnings = write_request(
            spec,
            seeds,
            rendered,
            started,
            generate_s,
            made,
            true_peak=self.settings.true_peak,
            rescue_dir=self.settings.out_dir,
        )
        return Take(
            paths=tuple(paths),
            seed=seeds[0],
            duration_seconds=rendered.takes[0].shape[-1] / rendered.sample_rate,
            timings={"generate_s": generate_s, "write_s": time.perf_counter() - t0},
            warnings=tuple(warnings),
        )

    def _log_first_run(self, rendered: Sequence[Any]) -> None:
        """The first run after a load, in the log beside the warm-up's parts (issue 28)."""
        assert self._info is not None
        if self._info.model_id not in self._first_run:
            return
        self._first_run.discard(self._info.model_id)
        made = next((r for r in rendered if isinstance(r, Rendered)), None)
        if made is not None:
            timings = made.details.get("timings", {})
            log.info(
                "first run after loading %s: %d decode steps in %.2f s, codec %.2f s "
                "(set them beside the warm-up's parts above)",
                self._info.model_id,
                made.details.get("decode_steps", 0),
                timings.get("decode_s", 0.0),
                timings.get("codec_s", 0.0),
            )

    def _decoder(self, graphs: Any):
        """The decode function for a checkpoint with these CUDA graphs (None: none)."""
        from engine.decoders import decoder

        return decoder(self.settings.decoder, graphs)

    def available_models(self) -> list[str]:
        """Models this machine can load now: the resident ones, the HF cache, debug, and
        the adapters that name their base (as ``BASE+ADAPTER``)."""
        entries = self.catalog()
        names = [info.model_id for info in reversed(self._infos)]
        names += [e.name for e in entries if e.kind == "cache"]
        names += DEBUG_MODELS
        names += [e.name for e in entries if e.kind == "adapter" and e.base]
        return list(dict.fromkeys(names))

    def catalog(self) -> list[CatalogEntry]:
        """Every checkpoint on this machine or released, and which are resident (any thread).

        The scan is remembered and redone only when a folder it read changed
        (engine.catalog), so this is cheap to call for every ``models`` query.
        """
        keys: set[str] = set()
        for info in self._infos:
            keys.add(info.model_id)
            if info.adapter is not None:  # the base alone is not resident
                folder = Path(info.adapter["folder"]).resolve()
                keys.add(adapters.join(info.base_model, str(folder)))
                continue
            described = info.checkpoint
            if described.get("revision"):
                keys.add(f"{described.get('repo')}@{described['revision']}")
            if described.get("folder"):
                keys.add(str(Path(described["folder"]).resolve()))
        return self._catalog.entries(checkpoint.hf_cache_dir(), frozenset(keys))

    def _warm_up(self, loaded: checkpoint.LoadedModel, graphs: Any) -> None:
        """The shapes a first take meets, each part timed in the log (engine.warm_up)."""
        from engine.warm_up import plan_for, warm_up

        warm_up(loaded, self._decoder(graphs), plan_for(loaded.device, self.settings.max_takes))


def _memory_bytes(model: Any) -> int:
    """Bytes of a model's parameters and buffers (what it holds on its device)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)
