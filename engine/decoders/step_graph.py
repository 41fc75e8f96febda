"""Static decode steps, captured as CUDA graphs on CUDA and prepared at model load.

Why: a MusicGen decoder step launches several small kernels per layer (norms,
projections, attention, FFN) for a single column of tokens.  On a GPU the
host-side cost of launching them can rival their run time; a CUDA graph
replays the whole step with one launch.  A graph replays fixed kernels on fixed
memory, so the step it captures must have every shape fixed and read its
inputs from (and write its output to) tensors that never move.  The eager step
of :mod:`engine.decoders.loop` does neither: it slices the cache to a growing
length and takes the position as a Python int.

:func:`static_step` is that step with every shape fixed for a given (rows,
cache length, text length):

- the input is a token column copied into ``ids [R, K, 1]`` and a position
  copied into a long tensor ``position [1]``;
- the position embedding is gathered by index, and each layer's new key/value
  is written with ``index_copy_`` at ``position``;
- self-attention attends the whole preallocated cache under a boolean mask
  that hides the slots after ``position``;
- the text (cross-attention) keys/values sit in buffers padded to a fixed
  number of tokens, the padding masked out (melody checkpoints have none:
  their text is part of the prefix, which the eager prefill puts in the cache);
- the logits land in a static ``out [R * K, V]``.

The prefill, sampling (with its per-take generators) and the delay pattern stay
eager in :mod:`engine.decoders.loop`, outside the step.

:func:`prepare_step_graphs` builds these steps when a model is loaded, for the
take counts asked for (rows double with guidance), so no request pays for a
capture.  All row counts share one KV cache (sized for the most rows) and one
graph memory pool, which is safe because a :class:`StepGraphs` serves one run
at a time and no replay leaves anything in the pool that a later one reads.
Each capture verifies itself (:func:`check_replay`, then :func:`check_run`)
and is dropped, with a warning, if its logits disagree with the eager step;
a run the prepared steps cannot serve decodes with the eager step, which
computes the same logits up to rounding.  On devices other than CUDA the same
objects run the static step eagerly over the same buffers: that is how the CPU
tests exercise everything but the capture itself.

Captured in the background (``serve --graph-capture background``,
:meth:`StepGraphs.start`), the engine says it is ready first: the steps are
checked eagerly, one row count at a time, and serve runs as eager static steps
until their graphs are captured and checked, each in turn, on a thread of its
own (:mod:`engine.decoders.background_capture`).  A run never shares the
buffers with a capture: both hold the steps' one lock, and a run that finds it
held decodes with the eager loop.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.checkpoint import LoadedModel
from engine.decoders.layers import LayerStack
from engine.decoders.step_checks import (
    TOLERANCE,
    check_replay,
    check_run,
    fill_probe,
)

log = logging.getLogger(__name__)

#: Take counts prepared at model load (each needs 2 x takes rows with guidance):
#: every count up to serve's default --max-batch, so requests sharing a run
#: (3, 5, ... takes) replay a graph too.  They share one KV cache; each adds
#: only its capture time and its temporaries in the shared pool.
DEFAULT_BATCHES = tuple(range(1, 9))
#: Text tokens the cross-attention buffers hold; a longer prompt decodes eagerly.
DEFAULT_TEXT_TOKENS = 64
#: Eager runs of the step on a side stream before capture (lazy initialisation
#: of cuBLAS handles and workspaces must not happen inside the capture).
WARMUP_RUNS = 3
# Cache and text lengths are rounded up to this: aligned rows suit the
# memory-efficient attention kernel, which wants its mask's last dim aligned.
_ALIGN = 16


@dataclass
class StepBuffers:
    """Every tensor a static step reads or writes, allocated once.

    Attributes:
        ids: long ``[R, K, 1]``: the token column fed (input).
        position: long ``[1]``: its cache slot and position-table row (input).
        keys: self-attention cache ``[layers, R, heads, length, head_dim]``.
        values: as ``keys``.
        cross_keys: text keys ``[layers, R, heads, text, head_dim]``, padded;
            None for melody checkpoints.
        cross_values: as ``cross_keys``.
        cross_mask: bool ``[R, 1, 1, text]``: the text slots that count; None
            for melody checkpoints.
        slots: ``arange(length)``, to build the self-attention mask from ``position``.
        positions: the sinusoidal position table, at least ``length`` rows.
        out: float32 logits ``[R * K, V]`` (output).
    """

    ids: Any
    position: Any
    keys: Any
    values: Any
    cross_keys: Any
    cross_values: Any
    cross_mask: Any
    slots: Any
    positions: Any
    out: Any

    @classmethod
    def allocate(
        cls, stack: LayerStack, rows: int, length: int, text_tokens: int, melody: bool
    ) -> StepBuffers:
        """Buffers for ``rows`` rows, ``length`` cache slots and ``text_tokens`` text slots."""
        import torch

        device, dtype = stack.device, stack.attention_dtype  # the caches'
        layers, heads, head_dim = len(stack.layers), stack.heads, stack.head_dim
        cache = (layers, rows, heads, length, head_dim)
        text = (layers, rows, heads, text_tokens, head_dim)
        vocab = stack.lm.lm_heads[0].out_features
        return cls(
            ids=torch.zeros((rows, stack.codebooks, 1), dtype=torch.long, device=device),
            position=torch.zeros(1, dtype=torch.long, device=device),
            keys=torch.zeros(cache, dtype=dtype, device=device),
            values=torch.zeros(cache, dtype=dtype, device=device),
            cross_keys=None if melody else torch.zeros(text, dtype=dtype, device=device),
            cross_values=None if melody else torch.zeros(text, dtype=dtype, device=device),
            cross_mask=None
            if melody
            else torch.zeros((rows, 1, 1, text_tokens), dtype=torch.bool, device=device),
            slots=torch.arange(length, device=device),
            positions=stack.position_table(length),
            out=torch.zeros((rows * stack.codebooks, vocab), dtype=torch.float32, device=device),
        )

    def narrow(self, rows: int) -> StepBuffers:
        """Buffers of the first ``rows`` rows: views of these caches, own inputs and output.

        Why: every row count then shares one KV cache, the largest, instead of
        each holding its own (the cache dominates: gigabytes for the larger
        checkpoints at 8 takes).
        """
        import torch

        codebooks, vocab = self.ids.shape[1], self.out.shape[1]
        text = self.cross_mask is not None
        return StepBuffers(
            ids=torch.zeros_like(self.ids[:rows]),
            position=self.position,
            keys=self.keys[:, :rows],
            values=self.values[:, :rows],
            cross_keys=self.cross_keys[:, :rows] if text else None,
            cross_values=self.cross_values[:, :rows] if text else None,
            cross_mask=torch.zeros_like(self.cross_mask[:rows]) if text else None,
            slots=self.slots,
            positions=self.positions,
            out=self.out.new_zeros((rows * codebooks, vocab)),
        )

    @property
    def rows(self) -> int:
        return int(self.ids.shape[0])

    @property
    def length(self) -> int:
        return int(self.keys.shape[3])

    @property
    def text_tokens(self) -> int:
        return 0 if self.cross_mask is None else int(self.cross_mask.shape[-1])

    def tensors(self) -> list[Any]:
        """Every buffer (views included) but the position table, the model's own."""
        return [t for name, t in vars(self).items() if t is not None and name != "positions"]

    def cross_layers(self) -> list[tuple[Any, Any]]:
        """Each layer's padded text keys/values (empty for melody checkpoints)."""
        if self.cross_keys is None:
            return []
        return list(zip(self.cross_keys, self.cross_values, strict=True))


def static_step(stack: LayerStack, buffers: StepBuffers) -> None:
    """One decoder step with every shape fixed: ``ids`` and ``position`` in, ``out`` written.

    Computes what the eager step (``Run._forward`` with one column) computes:
    the attention over slots after ``position`` gets weight zero, as if the
    cache ended there.  Nothing here depends on a Python value that changes
    from step to step, so a CUDA graph of it serves every step of every run of
    its shape.
    """
    import torch.nn.functional as F

    position = buffers.position
    hidden = stack.embed(buffers.ids) + buffers.positions.index_select(0, position)
    visible = (buffers.slots <= position).view(1, 1, 1, -1)  # the slots written so far

    def attend(i: int, query: Any, key: Any, value: Any) -> Any:
        keys, values = buffers.keys[i], buffers.values[i]
        keys.index_copy_(2, position, key)
        values.index_copy_(2, position, value)
        return F.scaled_dot_product_attention(
            query, keys, values, attn_mask=visible, scale=stack.scaling
        )

    cross = stack.projected_cross(buffers.cross_layers(), buffers.cross_mask)
    logits = stack.logits(hidden, attend, cross)
    buffers.out.copy_(logits)


class StepRunner:
    """A static step over its buffers: replays its CUDA graph, or runs the step eagerly.

    Obtained from :meth:`StepGraphs.claim` and given back with :meth:`release`.
    """

    def __init__(self, stack: LayerStack, buffers: StepBuffers, lock: Any) -> None:
        self.stack = stack
        self.buffers = buffers
        self.graph: Any = None  # a torch.cuda.CUDAGraph once captured (or a capturer's stand-in)
        #: Checked against the eager step: runs may claim it (set under the lock).
        self.ready = False
        #: The step in Triton kernels (engine.decoders.fused_step), where asked for and checked.
        self.fused: Any = None
        self._lock = lock

    @property
    def graphed(self) -> bool:
        return self.graph is not None

    def run_eager(self) -> None:
        """The step itself, over the buffers (what the graph replays): fused, or today's."""
        if self.fused is not None:
            self.fused()
        else:
            static_step(self.stack, self.buffers)

    def run(self) -> None:
        """One step: the graph's replay where there is one, else the eager static step."""
        if self.graph is not None:
            self.graph.replay()
        else:
            self.run_eager()

    def step(self, ids: Any, position: int) -> Any:
        """Feed a token column at ``position``; return the logits.

        Args:
            ids: long ``[B, K, 1]``; with guidance (``2B`` rows) the null rows
                see the same tokens.
            position: the column's cache slot.

        Returns:
            The static ``out`` buffer ``[R * K, V]``: read it before the next step.
        """
        import torch

        buffers = self.buffers
        with torch.inference_mode():  # the buffers are inference tensors
            if ids.shape[0] == buffers.rows:
                buffers.ids.copy_(ids)
            else:  # conditional rows, then null rows, in one broadcast copy
                buffers.ids.view(2, *ids.shape).copy_(ids)
            buffers.position.fill_(position)
            self.run()
        return buffers.out

    def begin(self, cross_kv: Sequence[tuple[Any, Any]], cross_mask: Any) -> None:
        """Make the buffers a new run's: a clean cache, then the run's text, its padding masked.

        The cache and the text padding are zeroed first: a mask gives a slot
        zero weight, but zero times an inf or NaN left there by an earlier run
        (a float16 overflow) is NaN, which would poison every later run.

        Args:
            cross_kv: each layer's ``(key, value)`` ``[R, heads, S, head_dim]``
                (empty for melody checkpoints, which have no text buffers).
            cross_mask: bool ``[R, 1, 1, S]``, or None where every token counts.
        """
        import torch

        buffers = self.buffers
        with torch.inference_mode():
            for tensor in (buffers.keys, buffers.values, buffers.cross_keys, buffers.cross_values):
                if tensor is not None:
                    tensor.zero_()
        if buffers.cross_mask is None:
            return
        text = int(cross_kv[0][0].shape[2])
        with torch.inference_mode():
            for i, (key, value) in enumerate(cross_kv):
                buffers.cross_keys[i, :, :, :text] = key
                buffers.cross_values[i, :, :, :text] = value
            buffers.cross_mask.fill_(False)
            buffers.cross_mask[..., :text] = True if cross_mask is None else cross_mask

    def release(self) -> None:
        """Give the prepared steps back for the next run."""
        self._lock.release()

    def capture(self, pool: Any, capturer: Capturer | None = None) -> None:
        """Capture the step (:func:`capture_cuda_graph`, or ``capturer``); replays follow.

        Args:
            pool: a ``torch.cuda.graph_pool_handle()`` shared by every capture
                of one :class:`StepGraphs`.
            capturer: what captures it (the tests' stand-in on the CPU).
        """
        self.graph = (capturer or capture_cuda_graph)(self, pool)


#: Captures a runner's step: ``(runner, pool) -> graph``, where ``graph.replay()``
#: does what ``runner.run_eager()`` does (:func:`capture_cuda_graph`).
Capturer = Callable[[StepRunner, Any], Any]


def capture_cuda_graph(runner: StepRunner, pool: Any, *, thread_local: bool = False) -> Any:
    """The runner's step as a CUDA graph, warmed up on a side stream as PyTorch prescribes.

    Args:
        thread_local: capture in ``thread_local`` error mode, which lets other
            threads use the GPU meanwhile (a background capture beside runs
            that decode eagerly); the default ``global`` mode refuses them.
    """
    import torch

    device = runner.stack.device
    with torch.cuda.device(device):
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                runner.run_eager()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        mode = "thread_local" if thread_local else "global"
        with torch.cuda.graph(graph, pool=pool, capture_error_mode=mode):
            runner.run_eager()
    return graph


class StepGraphs:
    """Static steps prepared for some row counts, sharing one KV cache; graphed on CUDA.

    :meth:`claim` hands a run the step for its shape, or None when none serves
    it; the run decodes eagerly then.  One run at a time: the steps share the
    cache and the graph pool, so a run that finds them busy decodes eagerly.

    Attributes:
        model: the model the steps were prepared for.
        runners: the step of each row count.
        length: cache slots (prefix, start token, prompt and steps of a run).
        text_tokens: text slots (0 for melody checkpoints).
        nbytes: memory of the static buffers, all row counts together, shared
            storage counted once.
    """

    def __init__(
        self,
        model: Any,
        runners: dict[int, StepRunner],
        length: int,
        text_tokens: int,
        nbytes: int,
        lock: Any,
        background: Any = None,
    ) -> None:
        self.model = model
        self.runners = runners  # replaced whole (never changed in place): read by any thread
        self.length = length
        self.text_tokens = text_tokens
        self.nbytes = nbytes
        self._lock = lock
        #: The background capture still to start or running
        #: (engine.decoders.background_capture.BackgroundCapture), or None.
        self.background = background

    def start(self) -> None:
        """Start the background capture (prepared with ``background=True``)."""
        if self.background is not None:
            self.background.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop a background capture after the row count in hand (the model is going)."""
        if self.background is not None:
            self.background.stop(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background capture to end; True once no capture is pending or running."""
        return self.background is None or self.background.wait(timeout)

    def drop(self, rows: int) -> None:
        """Leave ``rows`` out: its runs decode eagerly (call with the lock held)."""
        runner = self.runners.get(rows)
        if runner is not None:
            runner.ready = False
            runner.graph = None
        self.runners = {r: run for r, run in self.runners.items() if r != rows}

    @property
    def graphed(self) -> bool:
        """True where the steps replay CUDA graphs."""
        return any(runner.graphed for runner in self.runners.values())

    def claim(self, rows: int, length: int, text_tokens: int) -> StepRunner | None:
        """The step for a run of ``rows`` rows, ``length`` cache slots and ``text_tokens``.

        Returns:
            The runner, now held by the caller until its ``release()``; None if
            no step serves this shape or another run holds them.
        """
        runner = self.runners.get(rows)
        if (
            runner is None
            or not runner.ready
            or length > self.length
            or text_tokens > self.text_tokens
        ):
            log.debug(
                "no prepared step for rows %d, cache %d, text %d (have rows %s, cache %d, "
                "text %d): eager steps",
                rows,
                length,
                text_tokens,
                sorted(self.runners),
                self.length,
                self.text_tokens,
            )
            return None
        if not self._lock.acquire(blocking=False):
            log.debug("prepared steps busy with another run or a capture: eager steps")
            return None
        if not runner.ready or self.runners.get(rows) is not runner:  # dropped meanwhile
            self._lock.release()
            return None
        return runner

    def describe(self) -> str:
        """One line for the log: what was prepared and what it holds."""
        kind = "CUDA graphs" if self.graphed else "static steps (eager)"
        if self.background is not None and not self.background.wait(0):
            kind += ", graphs being captured in the background"
        rows = ", ".join(str(r) for r in sorted(self.runners))
        return (
            f"{kind} for rows {rows}; cache {self.length} slots, text {self.text_tokens} "
            f"tokens; static buffers {self.nbytes / 2**20:.0f} MiB"
        )


def build_step_graphs(
    loaded: LoadedModel,
    batches: Iterable[int] = DEFAULT_BATCHES,
    *,
    frames: int | None = None,
    text_tokens: int = DEFAULT_TEXT_TOKENS,
    capture: bool | None = None,
    background: bool = False,
    capturer: Capturer | None = None,
    fused: bool = False,
) -> StepGraphs:
    """Allocate, capture (on CUDA) and verify a static step per take count.

    A row count whose capture or check fails is left out with a warning; its
    runs decode eagerly.

    Args:
        loaded: the checkpoint.
        batches: take counts; each gets ``2 x takes`` rows (guidance on).
        frames: frames one run holds, prompt included (default: the engine's
            window, ``engine.generate.window_frames``).
        text_tokens: text slots (text checkpoints); longer prompts decode eagerly.
        capture: capture CUDA graphs (default: where the model is on CUDA, or
            where ``capturer`` is given).
        background: check and capture nothing now: :meth:`StepGraphs.start`
            does it on a thread of its own, runs decoding eagerly meanwhile.
        capturer: what captures a step (default :func:`capture_cuda_graph`);
            a stand-in lets the CPU tests exercise capture and switch-over.
        fused: take the step in Triton kernels (engine.decoders.fused_step)
            where it agrees with the eager static step; else today's step.

    Returns:
        The prepared steps; ``runners`` may be empty.
    """
    import torch

    from engine.decoders.contract import codebooks_per_channel

    if frames is None:
        from engine.generate import window_frames

        frames = window_frames(loaded)
    stack = LayerStack(loaded)
    cuda = stack.device.type == "cuda"
    capture = (cuda or capturer is not None) if capture is None else capture
    if capture and capturer is None and not cuda:
        raise ValueError(f"CUDA graphs need a CUDA device; this model is on {loaded.device}")
    if not capture:
        capturer = None
    elif capturer is None:  # in the background, runs use the GPU beside the capture
        capturer = functools.partial(capture_cuda_graph, thread_local=background)
    melody = loaded.is_melody
    text_tokens = _aligned(text_tokens)
    # Melody checkpoints have no text buffers: the text rides in the prefix, in the cache.
    prefix = loaded.model.config.chroma_length + text_tokens if melody else 0
    # The prefix, the start token, the prompt and the new frames, and the delay.
    length = _aligned(prefix + frames + codebooks_per_channel(loaded))
    text_tokens = 0 if melody else text_tokens
    all_rows = sorted({2 * int(b) for b in batches})
    lock = threading.Lock()
    runners: dict[int, StepRunner] = {}
    with torch.inference_mode():
        largest = StepBuffers.allocate(stack, all_rows[-1], length, text_tokens, melody)
        pool = torch.cuda.graph_pool_handle() if capture and cuda else None
        # The largest first: the smaller captures then fit in the pool it reserved.
        for rows in reversed(all_rows):
            buffers = largest if rows == all_rows[-1] else largest.narrow(rows)
            runner = StepRunner(stack, buffers, lock)
            if not background:
                try:
                    with lock:
                        _prepare(loaded, runner, pool, capturer, fused)
                except Exception as exc:  # any failure leaves this row count to the eager loop
                    _left_out(rows, exc)
                    continue
                runner.ready = True
            runners[rows] = runner
    runners = dict(sorted(runners.items()))
    nbytes = _nbytes([runner.buffers for runner in runners.values()])
    graphs = StepGraphs(loaded.model, runners, length, text_tokens, nbytes, lock)
    if background:
        from engine.decoders.background_capture import BackgroundCapture

        graphs.background = BackgroundCapture(loaded, graphs, lock, pool, capturer, fused)
    return graphs


def _left_out(rows: int, exc: BaseException) -> None:
    log.warning(
        "decode step for %d rows not prepared (%s: %s): those runs decode eagerly",
        rows,
        type(exc).__name__,
        exc,
    )


def prepare_step_graphs(
    loaded: LoadedModel,
    batches: Iterable[int] = DEFAULT_BATCHES,
    *,
    text_tokens: int = DEFAULT_TEXT_TOKENS,
    background: bool = False,
    capturer: Capturer | None = None,
    fused: bool = False,
) -> StepGraphs | None:
    """Capture CUDA graphs of the decode step at model load; None where there are none.

    The engine calls this once after loading a checkpoint and passes the result
    to every ``fast_decode`` call (``graphs=``).  Runs of a shape not prepared
    (another row count, a longer text or cache) decode eagerly.

    Args:
        loaded: the checkpoint, on its device.
        batches: take counts to prepare (each ``2 x takes`` rows: guidance on).
        text_tokens: text tokens the steps hold.
        background: allocate now, check and capture after :meth:`StepGraphs.start`,
            on a thread of its own; runs decode eagerly until each is ready.
        capturer: what captures a step (default :func:`capture_cuda_graph`);
            given, it serves any device (the CPU tests' stand-in).
        fused: the step in Triton kernels where it agrees with the eager one
            (engine.decoders.fused_step; ``serve --fused-step``).

    Returns:
        The captured steps, or None: on a device other than CUDA (logged), or
        when no capture passed its checks (a warning says why).
    """
    import torch

    cuda = loaded.device.startswith("cuda")
    if not cuda and capturer is None:
        log.info("CUDA graphs need a CUDA device; %s decodes with eager steps", loaded.device)
        return None
    start = time.perf_counter()
    reserved = torch.cuda.memory_reserved(loaded.device) if cuda else 0
    try:
        graphs = build_step_graphs(
            loaded,
            batches,
            text_tokens=text_tokens,
            capture=True,
            background=background,
            capturer=capturer,
            fused=fused,
        )
    except Exception as exc:  # out of memory, a capture error: the eager loop still works
        log.warning("CUDA graphs not prepared (%s: %s): decoding eagerly", type(exc).__name__, exc)
        if cuda:
            torch.cuda.empty_cache()
        return None
    if not graphs.runners:
        log.warning("no CUDA graph passed its checks: decoding eagerly")
        return None
    if background:
        log.info(
            "%s allocated in %.1f s; checked and captured in the background once the "
            "engine is ready, runs decoding eagerly until then",
            graphs.describe(),
            time.perf_counter() - start,
        )
        return graphs
    grown = (torch.cuda.memory_reserved(loaded.device) - reserved if cuda else 0) / 2**20
    log.info(
        "%s; GPU memory reserved grew by %.0f MiB; prepared in %.1f s",
        graphs.describe(),
        grown,
        time.perf_counter() - start,
    )
    return graphs


# -- preparing one row count ------------------------------------------------------


def _prepare(
    loaded: LoadedModel, runner: StepRunner, pool: Any, capturer: Any, fused: bool = False
) -> None:
    """Capture ``runner`` (with ``capturer``, unless None) and check it.

    With ``fused``, the fused step first (checked against the eager static
    step, then captured and checked as today's); if any of that fails, a
    warning, and today's step is prepared instead.  Called with the steps'
    lock held.  On failure the runner is left without its graph.

    Raises:
        GraphMismatch: it disagrees with the eager step (or any capture error).
    """
    tolerance = TOLERANCE.get(str(runner.stack.dtype).removeprefix("torch."), 1e-2)
    if fused:
        from engine.decoders.fused_step import make_fused_step

        try:
            runner.fused = make_fused_step(runner, tolerance)
            _prepare(loaded, runner, pool, capturer)
            log.info(
                "fused decode step for %d rows: %d kernels a step",
                runner.buffers.rows,
                runner.fused.kernels_per_step,
            )
            return
        except Exception as exc:  # Triton missing, a kernel that disagrees: today's step
            runner.fused = None
            log.warning(
                "fused decode step for %d rows dropped (%s: %s): today's step instead",
                runner.buffers.rows,
                type(exc).__name__,
                exc,
            )
    try:
        if capturer is not None:
            fill_probe(runner.buffers, runner.stack)
            runner.capture(pool, capturer)
            check_replay(runner.run_eager, runner.run, runner.buffers, tolerance)
        check_run(loaded, runner, tolerance)
    except BaseException:
        runner.graph = None
        raise


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _nbytes(buffers: Sequence[StepBuffers]) -> int:
    """Bytes of the buffers' storage, each shared storage counted once."""
    seen: dict[int, int] = {}
    for part in buffers:
        for tensor in part.tensors():
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())
