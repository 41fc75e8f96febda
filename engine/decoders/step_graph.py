"""Static decode steps, captured as CUDA graphs on CUDA and prepared at model load.

Why a static step, and what it is: :mod:`engine.decoders.static_step`.

:func:`prepare_step_graphs` builds these steps when a model is loaded, for the
take counts asked for (rows double with guidance), so no request pays for a
capture.  All row counts share one KV cache (sized for the most rows) and one
graph memory pool, which is safe because a :class:`StepGraphs` serves one run
at a time and no replay leaves anything in the pool that a later one reads.
Each capture verifies itself (:func:`check_replay`, then :func:`check_run`)
and is dropped, with a warning, if its logits or the tokens it draws disagree
with the eager step's;
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
from collections.abc import Iterable, Sequence
from typing import Any

from engine.checkpoint import LoadedModel
from engine.decoders.layers import LayerStack
from engine.decoders.static_step import (  # re-exported: the steps' users import them here
    Capturer,
    StepBuffers,
    StepRunner,
    capture_cuda_graph,
    static_step,  # noqa: F401
)
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
# Cache and text lengths are rounded up to this: aligned rows suit the
# memory-efficient attention kernel, which wants its mask's last dim aligned.
_ALIGN = 16


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
            window, ``engine.windows.window_frames``).
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
        from engine.windows import window_frames

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
