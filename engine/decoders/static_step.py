"""The static decode step: every shape fixed, over buffers allocated once.

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
- the logits land in a static ``out [R * K, V]``;
- then the step draws (:func:`static_draw`): guidance over its conditional
  and null rows, then :func:`engine.sampling.draw`, every setting read from
  small tensors (``sampling``, :class:`engine.sampling.StaticSampling`: the
  guidance scale, temperature, top-k, top-p, greedy, each take's seed and the
  column counter), the tokens into ``picks [B * K]``.  So one CUDA graph
  serves every request's settings, and a run reads B * K tokens a step
  instead of the logits.  A run that needs the logits (teacher forcing,
  guidance off) reads ``out`` and ignores ``picks``.

The prefill, its draw and the delay pattern stay eager in
:mod:`engine.decoders.loop`, outside the step.

Its CUDA graph (:func:`capture_cuda_graph`) and the steps prepared at load are
:mod:`engine.decoders.step_graph`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.decoders.layers import LayerStack
from engine.sampling import Sampling, StaticSampling, draw, guided

#: Eager runs of the step on a side stream before capture (lazy initialisation
#: of cuBLAS handles and workspaces must not happen inside the capture).
WARMUP_RUNS = 3


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
        sampling: the draw's settings for ``R / 2`` takes (input, set per run;
            its ``counter`` per step).
        picks: long ``[R / 2 * K]``: the tokens drawn from ``out`` (output).
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
    sampling: StaticSampling
    picks: Any

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
            sampling=StaticSampling.allocate(rows // 2, device),
            picks=torch.zeros(rows // 2 * stack.codebooks, dtype=torch.long, device=device),
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
            sampling=StaticSampling.allocate(rows // 2, self.out.device),
            picks=self.picks.new_zeros(rows // 2 * codebooks),
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
        tensors = [t for name, t in vars(self).items() if t is not None and name != "positions"]
        return [t for t in tensors if t is not self.sampling] + list(vars(self.sampling).values())

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
    static_draw(buffers)


def static_draw(buffers: StepBuffers) -> None:
    """The step's draw: ``out`` guided, then :func:`engine.sampling.draw`, into ``picks``."""
    settings = buffers.sampling
    buffers.picks.copy_(draw(guided(buffers.out, settings.guidance), settings))


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

    def sample_with(self, sampling: Sampling, seeds: Sequence[int], guidance: float) -> None:
        """Set the run's draw: its settings, each take's seed, the guidance scale."""
        import torch

        with torch.inference_mode():
            self.buffers.sampling.set(sampling, seeds, guidance)

    def step_picks(self, ids: Any, position: int, column: int) -> Any:
        """Feed a token column at ``position`` and draw column ``column``'s tokens.

        Returns:
            The static ``picks`` buffer, long ``[B * K]``: read it before the next step.
        """
        import torch

        with torch.inference_mode():
            self.buffers.sampling.counter.fill_(column)
        self.step(ids, position)
        return self.buffers.picks

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
