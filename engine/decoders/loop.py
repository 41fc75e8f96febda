"""The engine's own MusicGen decode loop: a static KV cache and an in-place delay pattern.

:func:`fast_decode` is a :class:`engine.decoders.contract.Decoder`, as
:func:`engine.decoders.reference.reference_decode`
(transformers' ``generate``) and computes the same numbers with the same weights:
it calls the checkpoint's own submodules (layer norms, projections, embeddings,
lm heads) and ``scaled_dot_product_attention`` as transformers' ``sdpa`` path
does, and chooses tokens with :func:`engine.sampling.guided` then
:func:`engine.sampling.draw`.  Fed the same tokens its logits equal
``generate``'s to float rounding, and its takes agree with ``generate``'s up to
a token rounding tips (``tests/test_fast_decode.py``; on the CPUs measured,
greedy float32 takes are identical).  What it drops is the
per-step bookkeeping of ``generate``:

- the text encoder runs once, and the cross-attention keys/values of every
  layer are projected once per run (text checkpoints), or on the CPU, where
  it reads fewer bytes a step, folded with ``q_proj`` and ``out_proj`` into
  the text (:mod:`engine.decoders.cross_fold`); melody checkpoints'
  conditioning prefix (projected chroma, then projected text) goes through the
  decoder once, as part of the prefill (both :mod:`engine.decoders.encoding`);
- self-attention keys/values live in two preallocated tensors
  ``[layers, R, heads, length, head_dim]`` (R = 2B with guidance: conditional
  rows then null rows) written in place; nothing grows by ``torch.cat``;
- the codec delay pattern lives in a preallocated token buffer ``[B, K, length]``:
  prompt tokens sit delayed, start/pad tokens where the pattern says, and a
  sampled token is written only where the pattern leaves a free slot, exactly
  as ``build_delay_pattern_mask`` / ``apply_delay_pattern_mask`` do;
- a continuation prompt is prefilled in one forward pass.

Every step feeds one column of fixed shape ``[R, 1, hidden]`` and writes one
cache slot; only the attended cache length grows.  Given ``graphs``
(:func:`engine.decoders.step_graph.prepare_step_graphs`, which this module
knows only as :class:`PreparedSteps`), a run whose shape the graphs serve takes
its steps through a *static* step instead, every shape fixed, as a CUDA graph
on CUDA.  A guided run that samples takes its tokens from the static step too,
which ends with guidance and :func:`engine.sampling.draw` (inside the graph);
others (teacher forcing, guidance off) take the step's logits and choose here.
The prefill, the first draw and the delay pattern stay here.  Both steps run
the layers through one :class:`engine.decoders.layers.LayerStack`, and both
draw with the same function and noise, so they choose the same tokens from
the same logits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from engine.checkpoint import LoadedModel
from engine.decoders.contract import (
    DecodeInputs,
    Picker,
    StepHook,
    draw_column,
    steps_for,
    undelay,
)
from engine.decoders.encoding import melody_prefix, text_cross_attention
from engine.decoders.layers import CrossAttention, LayerStack
from engine.sampling import Sampling, StaticSampling, draw, guided

#: Called after each step with (frames complete, prompt included; a reader of them):
#: ``read(start, stop)`` gives tokens ``[B, K, stop - start]`` of frames start..stop-1,
#: without the delay pattern.  The preview (engine.preview) decodes them as they come.
FramesHook = Callable[[int, Callable[[int, int], Any]], None]


class PreparedStep(Protocol):
    """A static step a run has claimed (``engine.decoders.step_graph.StepRunner``)."""

    buffers: Any  # positions, keys, values: the run's position table and KV cache

    def begin(self, cross_kv: Sequence[tuple[Any, Any]], cross_mask: Any) -> None: ...

    def step(self, ids: Any, position: int) -> Any: ...

    def sample_with(self, sampling: Sampling, seeds: Sequence[int], guidance: float) -> None: ...

    def step_picks(self, ids: Any, position: int, column: int) -> Any: ...

    def release(self) -> None: ...


class PreparedSteps(Protocol):
    """Static steps prepared at load (``engine.decoders.step_graph.StepGraphs``)."""

    model: Any

    def claim(self, rows: int, length: int, text_tokens: int) -> PreparedStep | None: ...


def fast_decode(
    loaded: LoadedModel,
    inputs: DecodeInputs,
    new_frames: int,
    sampling: Sampling,
    seeds: Sequence[int],
    on_step: StepHook | None = None,
    *,
    graphs: PreparedSteps | None = None,
    pick: Picker | None = None,
    on_frames: FramesHook | None = None,
) -> Any:
    """Generate ``new_frames`` frames after the prompt with the engine's own loop.

    The :class:`engine.decoders.contract.Decoder` contract (the arguments
    are described there), and:

    Args:
        graphs: static steps prepared at model load
            (:func:`engine.decoders.step_graph.prepare_step_graphs`); a run they cannot
            serve (another row count, a longer cache or text, or another run
            using them) takes the eager steps.  Both steps compute the same
            logits up to rounding.
        pick: chooses every step's tokens instead of ``sampling``
            (teacher forcing; :func:`engine.decoders.contract.forced_logits`).
        on_frames: called after each step (after ``on_step``) with the frames
            complete so far and a reader of them (:data:`FramesHook`).

    Returns:
        Long tensor ``[B, K, T0 + new_frames]``: the prompt tokens, then the new ones.
    """
    import torch

    if new_frames < 1:
        raise ValueError(f"new_frames must be at least 1, got {new_frames}")
    if len(seeds) != inputs.batch:
        raise ValueError(f"{len(seeds)} seeds for a batch of {inputs.batch}")
    if inputs.frames is not None and (
        len(inputs.frames) != inputs.batch
        or not 1 <= min(inputs.frames) <= max(inputs.frames) <= new_frames
    ):
        raise ValueError(f"frames {inputs.frames} do not fit {inputs.batch} takes of {new_frames}")
    if graphs is not None and graphs.model is not loaded.model:
        raise ValueError("these step graphs were prepared for another model")
    with torch.inference_mode():
        run = Run(loaded, inputs, new_frames, graphs)
        return run.decode(sampling, seeds, on_step, pick, on_frames)


class Run:
    """The state of one decoder run: conditioning, KV cache, token buffer.

    With ``graphs`` that serve its shape, the run claims one of their static
    steps (released when :meth:`decode` ends) and keeps its KV cache in that
    step's buffers; otherwise it allocates a cache of its own length.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        inputs: DecodeInputs,
        new_frames: int,
        graphs: PreparedSteps | None = None,
    ) -> None:
        import torch

        model = loaded.model
        self.model = model
        self.stack = LayerStack(loaded)
        self.layers = self.stack.layers
        self.melody = loaded.is_melody
        self.device = self.stack.device
        self.dtype = self.stack.dtype
        self.batch = inputs.batch
        self.codebooks = self.stack.codebooks
        self.channels = loaded.channels
        self.pad = int(model.generation_config.pad_token_id)
        self.cfg = inputs.guidance is not None and inputs.guidance > 1
        self.guidance = inputs.guidance
        self.rows = 2 * self.batch if self.cfg else self.batch
        self.head_dim = self.stack.head_dim
        self.prompt_frames = inputs.prompt_frames
        self.inputs = inputs
        self.new_frames = new_frames
        self.steps = steps_for(loaded, new_frames)
        # Columns of the delayed sequence: the start token, the prompt, one per step.
        self.columns = 1 + self.prompt_frames + self.steps

        self.cross_mask = None
        self.cross_kv: list[tuple[Any, Any]] = []
        #: Cross-attention over the text (None for melody checkpoints): the
        #: folded products where they pay on the CPU (engine.decoders.cross_fold),
        #: else the projected keys/values; a static step always takes the latter.
        self.cross: CrossAttention | None = None
        self.prefix = None
        if self.melody:
            self.prefix = melody_prefix(self.stack, model, inputs, self.cfg)
        else:
            fold = graphs is None
            self.cross_kv, self.cross_mask, self.cross = text_cross_attention(
                self.stack, model, inputs, self.cfg, fold
            )
        self.prefix_len = 0 if self.prefix is None else int(self.prefix.shape[1])
        frames = inputs.frames or (new_frames,) * self.batch
        self.tokens, self.fixed, self.free = self._delay_pattern(inputs.prompt_codes, frames)

        length = self.prefix_len + self.columns
        text = 0 if self.melody else int(inputs.input_ids.shape[1])
        # Claimed last, so that nothing after it can fail before decode() releases it.
        self.runner = None if graphs is None else self._claim(graphs, length, text)
        if self.runner is not None:
            buffers = self.runner.buffers
            self.positions, self.keys, self.values = buffers.positions, buffers.keys, buffers.values
        else:
            self.positions = self.stack.position_table(length)
            shape = (len(self.layers), self.rows, self.stack.heads, length, self.head_dim)
            cache = self.stack.attention_dtype
            self.keys = torch.zeros(shape, dtype=cache, device=self.device)
            self.values = torch.zeros(shape, dtype=cache, device=self.device)

    def _claim(self, graphs: PreparedSteps, length: int, text: int) -> PreparedStep | None:
        """The static step of ``graphs`` for this run, made clean, its text loaded; or None."""
        runner = graphs.claim(self.rows, length, text)
        if runner is not None:
            try:
                runner.begin(self.cross_kv, self.cross_mask)
            except BaseException:
                runner.release()
                raise
        return runner

    # -- delay pattern ------------------------------------------------------

    def _delay_pattern(self, prompt_codes: Any, frames: Sequence[int]) -> tuple[Any, Any, Any]:
        """The token buffer, its fixed values and where sampled tokens may go.

        Column 0 is the start token; frame j of codebook k sits at column
        ``1 + j + delay(k)`` with ``delay(k) = k // channels``.  Columns before a
        codebook's first frame and after its last hold the pad token (= start
        token), the prompt's columns hold the prompt, the columns of take b's
        ``frames[b]`` new frames are free.

        Returns:
            ``tokens [B, K, L]`` (fixed values, to be filled), ``fixed`` (a
            copy), ``free`` bool ``[B, K, L]``.
        """
        import torch

        batch, codebooks, length = self.batch, self.codebooks, self.columns
        t0 = self.prompt_frames
        fixed = torch.full((batch, codebooks, length), self.pad, dtype=torch.long)
        fixed = fixed.to(self.device)
        delay = torch.arange(codebooks, device=self.device) // self.channels
        frame = torch.arange(length, device=self.device)[None, :] - 1 - delay[:, None]
        ends = torch.tensor(frames, device=self.device)[:, None, None] + t0
        free = (frame >= t0) & (frame < ends)
        if t0:
            for k in range(codebooks):
                d = k // self.channels
                fixed[:, k, 1 + d : 1 + d + t0] = prompt_codes[:, k]
        return fixed.clone(), fixed, free

    # -- the decoder --------------------------------------------------------

    def _embed(self, ids: Any) -> Any:
        """Token embeddings summed over codebooks: ``[B, K, n]`` -> ``[R, n, D]``."""
        import torch

        embeds = self.stack.embed(ids)
        if self.cfg:  # the null rows see the same tokens
            embeds = torch.cat([embeds, embeds], dim=0)
        return embeds

    def _forward(self, hidden: Any, start: int) -> Any:
        """Run the decoder over ``hidden [R, n, D]`` at positions ``start..start+n-1``.

        The eager step (and the prefill): writes every layer's keys/values into
        the cache slots ``start..end-1`` and attends the cache up to ``end``.

        Returns:
            The logits of the last position, float32 ``[R * K, V]`` (conditional rows first).
        """
        import torch.nn.functional as F

        n = hidden.shape[1]
        end = start + n
        causal = n > 1 and start == 0  # a prefill sees only itself; a step sees all

        def attend(i: int, query: Any, key: Any, value: Any) -> Any:
            self.keys[i, :, :, start:end] = key
            self.values[i, :, :, start:end] = value
            return F.scaled_dot_product_attention(
                query,
                self.keys[i, :, :, :end],
                self.values[i, :, :, :end],
                scale=self.stack.scaling,
                is_causal=causal,
            )

        hidden = hidden + self.positions[start:end]
        return self.stack.logits(hidden, attend, self.cross)

    def step(self, column: int) -> Any:
        """The logits after feeding column ``column`` of the token buffer (static or eager)."""
        ids = self.tokens[:, :, column : column + 1]
        position = self.prefix_len + column
        if self.runner is not None:
            return self.runner.step(ids, position)
        return self._forward(self._embed(ids), position)

    def decode(
        self,
        sampling: Sampling,
        seeds: Sequence[int],
        on_step: StepHook | None,
        pick: Picker | None = None,
        on_frames: FramesHook | None = None,
    ) -> Any:
        """Prefill (prefix, start token, prompt) in one pass, then one column a step."""
        try:
            return self._decode(sampling, seeds, on_step, pick, on_frames)
        finally:
            if self.runner is not None:
                self.runner.release()

    def _decode(
        self,
        sampling: Sampling,
        seeds: Sequence[int],
        on_step: StepHook | None,
        pick: Picker | None,
        on_frames: FramesHook | None = None,
    ) -> Any:
        settings = StaticSampling.of(sampling, seeds, self.device)
        # The static step draws itself where it can: guided rows in, picks out.
        in_step = pick is None and self.cfg and self.runner is not None
        if in_step:
            self.runner.sample_with(sampling, seeds, self.guidance)
        logits, picks = self.prefill(), None
        first = 1 + self.prompt_frames
        for column in range(first, self.columns):
            if picks is None:  # choose from the logits in hand
                if self.cfg:
                    logits = guided(logits, self.guidance)
                draws = draw_column(self.inputs, column - first)
                picks = draw(logits, settings.at(draws), sampling) if pick is None else pick(logits)
            self.place(column, picks)
            if on_step is not None:
                on_step()
            if on_frames is not None:
                on_frames(self.complete_frames(column), self.read_frames)
            logits, picks = None, None
            if column + 1 < self.columns:
                if in_step:
                    picks = self.step_picks(column, draw_column(self.inputs, column + 1 - first))
                else:
                    logits = self.step(column)
        return undelay(
            self.tokens, self.channels, start=1, frames=self.prompt_frames + self.new_frames
        )

    def step_picks(self, column: int, draws: int) -> Any:
        """The static step's own draw after feeding column ``column``: long ``[B * K]``.

        ``draws`` is the sampler's counter for the column drawn (the next one).
        """
        ids = self.tokens[:, :, column : column + 1]
        assert self.runner is not None
        return self.runner.step_picks(ids, self.prefix_len + column, draws)

    def complete_frames(self, column: int) -> int:
        """Frames (prompt included) whose every codebook is placed once ``column`` is."""
        depth = self.codebooks // self.channels  # the last codebook lags depth - 1 columns
        made = min(column - depth + 1, self.prompt_frames + self.new_frames)
        return max(self.prompt_frames, made)

    def read_frames(self, start: int, stop: int) -> Any:
        """Tokens ``[B, K, stop - start]`` of frames start..stop-1, without the delay."""
        return undelay(self.tokens, self.channels, start=1 + start, frames=stop - start)

    def prefill(self) -> Any:
        """Run the prefix, the start token and the prompt in one pass; the logits after them."""
        import torch

        hidden = self._embed(self.tokens[:, :, : 1 + self.prompt_frames])
        if self.prefix is not None:
            hidden = torch.cat([self.prefix, hidden], dim=1)
        return self._forward(hidden, 0)

    def place(self, column: int, picks: Any) -> None:
        """Write tokens ``[B * K]`` into ``column`` where the delay pattern leaves it free."""
        import torch

        picks = picks.view(self.batch, self.codebooks)
        self.tokens[:, :, column] = torch.where(
            self.free[:, :, column], picks, self.fixed[:, :, column]
        )
