"""The engine's one interface: load checkpoints, make takes, list models.

The bridge talks to :class:`Engine` and nothing else in this package.  No
tensor crosses this boundary: requests are :class:`~engine.spec.GenerationSpec`,
results are :class:`Take` (paths and figures).  An Engine is driven from one
thread at a time (the bridge's model worker).

Which checkpoints are resident and how each is loaded is
``engine.residency``'s; making the takes is ``engine.generate``'s, writing
them ``engine.take_files``'.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
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
from engine.residency import ModelInfo, ResidentModels
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
        self._models = ResidentModels(settings)
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
        return self._models.infos

    @property
    def _loaded(self) -> checkpoint.LoadedModel | None:
        """The active checkpoint's model, or None."""
        active = self._models.active
        return None if active is None else active.loaded

    @property
    def _info(self) -> ModelInfo | None:
        active = self._models.active
        return None if active is None else active.info

    @property
    def _graphs(self) -> Any:
        """The active checkpoint's engine.decoders.step_graph.StepGraphs (None: none)."""
        active = self._models.active
        return None if active is None else active.graphs

    def memory(self) -> MemoryUse:
        """The process's RSS and, where a resident checkpoint is on CUDA, that GPU's
        allocated and free bytes (engine.memory; safe from any thread, never raises)."""
        cuda = next((i.device for i in self._models.infos if i.device.startswith("cuda")), None)
        return memory_use(cuda)

    def load(self, model_id: str) -> ModelInfo:
        """Make ``model_id`` the active checkpoint, loading it unless it is resident.

        A new checkpoint is loaded beside the resident ones; only then, if more
        than ``keep_models`` are resident, the least recently used go.  If the
        load fails, every resident checkpoint stays as it was
        (engine.residency).

        Raises:
            ModelNotAvailable, ModelLoadFailed.
        """
        new = model_id not in self._models
        info = self._models.load(model_id)
        if new:
            self._first_run.add(model_id)
        return info

    def unload(self, model_id: str | None = None) -> None:
        """Free one resident checkpoint (None: all of them), and its GPU memory."""
        self._models.unload(model_id)

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
        names = [info.model_id for info in reversed(self._models.infos)]
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
        for info in self._models.infos:
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
