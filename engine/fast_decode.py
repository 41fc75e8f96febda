"""The engine's own MusicGen decode loop: a static KV cache and an in-place delay pattern.

:func:`fast_decode` has the contract of :func:`engine.decoding.reference_decode`
(transformers' ``generate``) and computes the same numbers with the same weights:
it calls the checkpoint's own submodules (layer norms, projections, embeddings,
lm heads) and ``scaled_dot_product_attention`` as transformers' ``sdpa`` path
does, and chooses tokens with :func:`engine.sampling.guided` then
:func:`engine.sampling.sample_tokens`.  With greedy sampling it is token-for-token
equal to ``generate`` (``tests/test_fast_decode.py``).  What it drops is the
per-step bookkeeping of ``generate``:

- the text encoder runs once, and the cross-attention keys/values of every
  layer are projected once per run (text checkpoints); melody checkpoints'
  conditioning prefix (projected chroma, then projected text) goes through the
  decoder once, as part of the prefill;
- self-attention keys/values live in two preallocated tensors
  ``[layers, R, heads, length, head_dim]`` (R = 2B with guidance: conditional
  rows then null rows) written in place; nothing grows by ``torch.cat``;
- the codec delay pattern lives in a preallocated token buffer ``[B, K, length]``:
  prompt tokens sit delayed, start/pad tokens where the pattern says, and a
  sampled token is written only where the pattern leaves a free slot, exactly
  as ``build_delay_pattern_mask`` / ``apply_delay_pattern_mask`` do;
- a continuation prompt is prefilled in one forward pass.

Every step feeds one column of fixed shape ``[R, 1, hidden]`` and writes one
cache slot, so the loop is ready for CUDA-graph capture (see
docs/performance.md); only the attended cache length grows.

:func:`prepare_for_cpu` offers reduced-precision CPU variants (bf16 weights, or
int8 dynamic quantization of the decoder's Linear layers); they trade exactness
for speed and are never applied unless asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine.checkpoint import LoadedModel
from engine.decoding import DecodeInputs, StepHook, steps_for, undelay
from engine.sampling import Sampling, guided, sample_tokens

#: Modes of :func:`prepare_for_cpu`.
CPU_MODES = ("float32", "bfloat16", "int8")


def fast_decode(
    loaded: LoadedModel,
    inputs: DecodeInputs,
    new_frames: int,
    sampling: Sampling,
    gens: Sequence[Any],
    on_step: StepHook | None = None,
) -> Any:
    """Generate ``new_frames`` frames after the prompt with the engine's own loop.

    Same contract as :func:`engine.decoding.reference_decode`.

    Args:
        loaded: the checkpoint (text or melody, mono or stereo; any dtype, any device).
        inputs: conditioning of B takes.
        new_frames: complete frames to add after the prompt (>= 1); with
            ``inputs.frames``, the most any take makes.
        sampling: how tokens are chosen.
        gens: B generators, one per take.
        on_step: called once per decoder step (``steps_for(loaded, new_frames)``
            times); an exception it raises (Cancelled) stops the run.

    Returns:
        Long tensor ``[B, K, T0 + new_frames]``: the prompt tokens, then the new ones.
    """
    import torch

    if new_frames < 1:
        raise ValueError(f"new_frames must be at least 1, got {new_frames}")
    if len(gens) != inputs.batch:
        raise ValueError(f"{len(gens)} generators for a batch of {inputs.batch}")
    if inputs.frames is not None and (
        len(inputs.frames) != inputs.batch
        or not 1 <= min(inputs.frames) <= max(inputs.frames) <= new_frames
    ):
        raise ValueError(f"frames {inputs.frames} do not fit {inputs.batch} takes of {new_frames}")
    with torch.inference_mode():
        run = _Run(loaded, inputs, new_frames)
        return run.decode(sampling, gens, on_step)


class _Run:
    """The state of one decoder run: conditioning, KV cache, token buffer."""

    def __init__(self, loaded: LoadedModel, inputs: DecodeInputs, new_frames: int) -> None:
        import torch

        model = loaded.model
        self.model = model
        self.lm = model.decoder  # MusicgenForCausalLM / MusicgenMelodyForCausalLM
        self.core = self.lm.model.decoder  # MusicgenDecoder / MusicgenMelodyDecoder
        self.layers = list(self.core.layers)
        self.melody = loaded.is_melody
        config = self.core.config
        self.device = torch.device(loaded.device)
        self.dtype = self.core.layer_norm.weight.dtype
        self.batch = inputs.batch
        self.codebooks = self.core.num_codebooks
        self.channels = loaded.channels
        self.pad = int(model.generation_config.pad_token_id)
        self.cfg = inputs.guidance is not None and inputs.guidance > 1
        self.guidance = inputs.guidance
        self.rows = 2 * self.batch if self.cfg else self.batch
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.heads
        self.scaling = self.head_dim**-0.5
        self.prompt_frames = inputs.prompt_frames
        self.new_frames = new_frames
        self.steps = steps_for(loaded, new_frames)
        # Columns of the delayed sequence: the start token, the prompt, one per step.
        self.columns = 1 + self.prompt_frames + self.steps

        self.cross_mask = None
        self.cross_kv: list[tuple[Any, Any]] = []
        self.prefix = None
        if self.melody:
            self.prefix = self._melody_prefix(inputs)
        else:
            self._text_cross_attention(inputs)
        self.prefix_len = 0 if self.prefix is None else int(self.prefix.shape[1])

        length = self.prefix_len + self.columns
        self.positions = self._positions(length)
        cache_shape = (len(self.layers), self.rows, self.heads, length, self.head_dim)
        self.keys = torch.zeros(cache_shape, dtype=self.dtype, device=self.device)
        self.values = torch.zeros(cache_shape, dtype=self.dtype, device=self.device)
        frames = inputs.frames or (new_frames,) * self.batch
        self.tokens, self.fixed, self.free = self._delay_pattern(inputs.prompt_codes, frames)

    # -- conditioning -------------------------------------------------------

    def _text_states(self, inputs: DecodeInputs) -> tuple[Any, Any]:
        """Projected text states ``[R, S, D]`` times the mask, and the mask ``[R, S]``."""
        import torch

        mask = inputs.attention_mask
        states = self.model.text_encoder(
            input_ids=inputs.input_ids, attention_mask=mask
        ).last_hidden_state
        if self.cfg:  # the null condition: zero states, nothing to attend
            states = torch.cat([states, torch.zeros_like(states)], dim=0)
            mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
        proj = getattr(self.model, "enc_to_dec_proj", None)
        if proj is not None:
            states = proj(states)
        return states * mask[..., None], mask

    def _text_cross_attention(self, inputs: DecodeInputs) -> None:
        """Cross-attention keys/values of every layer, computed once (text checkpoints)."""
        states, mask = self._text_states(inputs)
        # As transformers' sdpa mask: none when every position counts, else boolean.
        self.cross_mask = None if bool(mask.all()) else mask.bool()[:, None, None, :]
        shape = (*states.shape[:-1], -1, self.head_dim)
        for layer in self.layers:
            attn = layer.encoder_attn
            key = attn.k_proj(states).view(shape).transpose(1, 2)
            value = attn.v_proj(states).view(shape).transpose(1, 2)
            self.cross_kv.append((key, value))

    def _melody_prefix(self, inputs: DecodeInputs) -> Any:
        """The melody checkpoint's conditioning prefix ``[R, chroma_length + S, D]``."""
        import torch

        config = self.model.config
        text, _ = self._text_states(inputs)
        chroma = inputs.melody
        null = torch.zeros(
            (self.batch, 1 if chroma is None else chroma.shape[1], config.num_chroma),
            dtype=self.dtype,
            device=self.device,
        )
        null[:, :, 0] = 1  # transformers' "no melody" chroma
        audio = null if chroma is None else chroma.to(self.dtype)
        if self.cfg:
            audio = torch.cat([audio, null], dim=0)
        proj = getattr(self.model, "audio_enc_to_dec_proj", None)
        if proj is not None:
            audio = proj(audio)
        if audio.shape[1] < config.chroma_length:
            audio = audio.repeat(1, math.ceil(config.chroma_length / audio.shape[1]), 1)
        audio = audio[:, : config.chroma_length]
        return torch.cat([audio, text], dim=1)

    def _positions(self, length: int) -> Any:
        """The sinusoidal position table, at least ``length`` rows."""
        table = self.core.embed_positions
        weights = table.weights
        if weights.shape[0] >= length:
            return weights
        # As transformers' make_weights, without changing the module.
        longer = table.get_embedding(length, table.embedding_dim)
        return longer.to(dtype=weights.dtype, device=weights.device)

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

        embeds = sum(self.core.embed_tokens[k](ids[:, k]) for k in range(self.codebooks))
        if self.cfg:  # the null rows see the same tokens
            embeds = torch.cat([embeds, embeds], dim=0)
        return embeds

    def _forward(self, hidden: Any, start: int) -> Any:
        """Run the decoder over ``hidden [R, n, D]`` at positions ``start..start+n-1``.

        Writes every layer's keys/values into the cache and returns the logits of
        the last position, float32 ``[R * K, V]`` (conditional rows first).
        """
        import torch
        import torch.nn.functional as F

        rows, n, _ = hidden.shape
        end = start + n
        hidden = hidden + self.positions[start:end]
        shape = (rows, n, -1, self.head_dim)
        causal = n > 1 and start == 0  # a prefill sees only itself; a step sees all
        for i, layer in enumerate(self.layers):
            residual = hidden
            x = layer.self_attn_layer_norm(hidden)
            attn = layer.self_attn
            query = attn.q_proj(x).view(shape).transpose(1, 2)
            self.keys[i, :, :, start:end] = attn.k_proj(x).view(shape).transpose(1, 2)
            self.values[i, :, :, start:end] = attn.v_proj(x).view(shape).transpose(1, 2)
            x = F.scaled_dot_product_attention(
                query,
                self.keys[i, :, :, :end],
                self.values[i, :, :, :end],
                scale=self.scaling,
                is_causal=causal,
            )
            x = x.transpose(1, 2).reshape(rows, n, -1)
            hidden = residual + attn.out_proj(x)

            if self.cross_kv:
                residual = hidden
                x = layer.encoder_attn_layer_norm(hidden)
                attn = layer.encoder_attn
                query = attn.q_proj(x).view(shape).transpose(1, 2)
                key, value = self.cross_kv[i]
                x = F.scaled_dot_product_attention(
                    query, key, value, attn_mask=self.cross_mask, scale=self.scaling
                )
                x = x.transpose(1, 2).reshape(rows, n, -1)
                hidden = residual + attn.out_proj(x)

            residual = hidden
            x = layer.final_layer_norm(hidden)
            x = layer.fc2(layer.activation_fn(layer.fc1(x)))
            hidden = residual + x
        last = self.core.layer_norm(hidden[:, -1:])
        logits = torch.stack([head(last) for head in self.lm.lm_heads], dim=1)  # [R, K, 1, V]
        return logits.reshape(rows * self.codebooks, -1).float()

    def decode(self, sampling: Sampling, gens: Sequence[Any], on_step: StepHook | None) -> Any:
        """Prefill (prefix, start token, prompt) in one pass, then one column a step."""
        import torch

        first = 1 + self.prompt_frames  # the first column to generate
        hidden = self._embed(self.tokens[:, :, :first])
        if self.prefix is not None:
            hidden = torch.cat([self.prefix, hidden], dim=1)
        logits = self._forward(hidden, 0)
        for column in range(first, self.columns):
            if self.cfg:
                logits = guided(logits, self.guidance)
            picks = sample_tokens(logits, sampling, gens).view(self.batch, self.codebooks)
            self.tokens[:, :, column] = torch.where(
                self.free[:, :, column], picks, self.fixed[:, :, column]
            )
            if on_step is not None:
                on_step()
            if column + 1 < self.columns:
                hidden = self._embed(self.tokens[:, :, column : column + 1])
                logits = self._forward(hidden, self.prefix_len + column)
        return undelay(
            self.tokens, self.channels, start=1, frames=self.prompt_frames + self.new_frames
        )


def prepare_for_cpu(loaded: LoadedModel, mode: str) -> LoadedModel:
    """Convert a CPU checkpoint, in place, to a faster and less exact variant.

    Not exact: tokens drift from float32 ones (docs/performance.md has the
    measured distance).  Nothing calls this unless asked.  It changes the model,
    not the loop, so both decoders then use the variant.

    Args:
        loaded: a checkpoint loaded on the CPU in float32.
        mode: ``"float32"`` (nothing changes); ``"bfloat16"`` (every weight and
            activation in bf16: half the memory traffic, and fast where the CPU
            has native bf16 (AVX512-BF16, AMX), slow where it has not); or
            ``"int8"`` (the decoder layers' Linear weights become int8, one
            scale per output channel, with activations quantized on the fly:
            torch.ao dynamic quantization, a quarter of the traffic; the lm
            heads, embeddings and layer norms stay float32).

    Returns:
        ``loaded``, its ``dtype`` naming the mode.
    """
    import warnings

    import torch

    if mode not in CPU_MODES:
        raise ValueError(f"mode must be one of {', '.join(CPU_MODES)}, got {mode!r}")
    if loaded.device != "cpu":
        raise ValueError(f"prepare_for_cpu is for CPU checkpoints; this one is on {loaded.device}")
    if loaded.dtype != "float32":
        raise ValueError(
            f"prepare_for_cpu converts float32 checkpoints; this one is {loaded.dtype}"
        )
    if mode == "bfloat16":
        loaded.model.to(torch.bfloat16)
    elif mode == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():  # torch.ao's deprecation notices, on every layer
            warnings.simplefilter("ignore")
            quantize_dynamic(
                loaded.model.decoder.model,  # the layers; not the lm heads
                {torch.nn.Linear: per_channel_dynamic_qconfig},
                dtype=torch.qint8,
                inplace=True,
            )
    loaded.dtype = mode
    return loaded
