"""A decoder run's conditioning, encoded once before its first step.

What the engine's loop (:mod:`engine.decoders.loop`) attends to, from a run's
:class:`~engine.decoders.contract.DecodeInputs`; with guidance the rows are
``R = 2B``, the conditional rows then the null ones:

- :func:`text_cross_attention` (text checkpoints): the text encoded and
  projected, then every layer's cross-attention keys/values projected once,
  or on the CPU, where it reads fewer bytes a step, folded with ``q_proj``
  and ``out_proj`` into the run's distinct texts (:mod:`engine.decoders.cross_fold`);
- :func:`melody_prefix` (melody checkpoints): the conditioning prefix
  (projected chroma, then projected text) that goes through the decoder once,
  as part of the prefill.
"""

from __future__ import annotations

import math
from typing import Any

from engine.decoders.contract import DecodeInputs
from engine.decoders.layers import CrossAttention, LayerStack


def text_states(model: Any, inputs: DecodeInputs, cfg: bool) -> tuple[Any, Any]:
    """Projected text states ``[R, S, D]`` times the mask, and the mask ``[R, S]``.

    ``cfg``: guidance is on (the null rows follow, with zero states).
    """
    import torch

    mask = inputs.attention_mask
    states = model.text_encoder(input_ids=inputs.input_ids, attention_mask=mask).last_hidden_state
    if cfg:  # the null condition: zero states, nothing to attend
        states = torch.cat([states, torch.zeros_like(states)], dim=0)
        mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
    proj = getattr(model, "enc_to_dec_proj", None)
    if proj is not None:
        states = proj(states)
    return states * mask[..., None], mask


def text_cross_attention(
    stack: LayerStack, model: Any, inputs: DecodeInputs, cfg: bool, fold: bool
) -> tuple[list[tuple[Any, Any]], Any, CrossAttention | None]:
    """Cross-attention over the text, prepared once (text checkpoints).

    Folded into the distinct texts where ``fold`` allows and that reads fewer
    bytes a step (:mod:`engine.decoders.cross_fold`, CPU only); else every
    layer's keys and values, projected once.

    Returns:
        Every layer's projected (keys, values) ``[R, heads, S, head_dim]`` (none
        when folded), the boolean cross mask ``[R, 1, 1, S]`` (None when every
        position counts), and the cross-attention the layers run.
    """
    states, mask = text_states(model, inputs, cfg)
    # As transformers' sdpa mask: none when every position counts, else boolean.
    cross_mask = None if bool(mask.all()) else mask.bool()[:, None, None, :]
    if fold and stack.device.type == "cpu":
        folded = _folded_cross(stack, inputs, states, mask)
        if folded is not None:
            return [], cross_mask, folded
    cross_kv = []
    shape = (*states.shape[:-1], -1, stack.head_dim)
    for layer in stack.layers:
        attn = layer.encoder_attn
        cache = stack.attention_dtype
        key = attn.k_proj(states).view(shape).transpose(1, 2).to(cache)
        value = attn.v_proj(states).view(shape).transpose(1, 2).to(cache)
        cross_kv.append((key, value))
    return cross_kv, cross_mask, stack.projected_cross(cross_kv, cross_mask)


def _folded_cross(
    stack: LayerStack, inputs: DecodeInputs, states: Any, mask: Any
) -> CrossAttention | None:
    """The folded cross-attention of the takes' distinct prompts, or None where it won't pay."""
    from engine.decoders.cross_fold import FoldedCross, fold_pays, foldable

    texts: dict[tuple, int] = {}  # prompt (ids, mask) -> its index, first seen first
    ids, attended = inputs.input_ids.tolist(), inputs.attention_mask.tolist()
    text_of_take = [
        texts.setdefault((tuple(ids[take]), tuple(attended[take])), len(texts))
        for take in range(inputs.batch)
    ]
    if not fold_pays(len(texts), int(states.shape[1]), stack.head_dim):
        return None
    if not foldable(stack):
        return None
    first = [text_of_take.index(text) for text in range(len(texts))]
    return FoldedCross(stack, states[first], mask[first], text_of_take)


def melody_prefix(stack: LayerStack, model: Any, inputs: DecodeInputs, cfg: bool) -> Any:
    """The melody checkpoint's conditioning prefix ``[R, chroma_length + S, D]``."""
    import torch

    config = model.config
    text, _ = text_states(model, inputs, cfg)
    chroma = inputs.melody
    null = torch.zeros(
        (inputs.batch, 1 if chroma is None else chroma.shape[1], config.num_chroma),
        dtype=stack.dtype,
        device=stack.device,
    )
    null[:, :, 0] = 1  # transformers' "no melody" chroma
    audio = null if chroma is None else chroma.to(stack.dtype)
    if cfg:
        audio = torch.cat([audio, null], dim=0)
    proj = getattr(model, "audio_enc_to_dec_proj", None)
    if proj is not None:
        audio = proj(audio)
    if audio.shape[1] < config.chroma_length:
        audio = audio.repeat(1, math.ceil(config.chroma_length / audio.shape[1]), 1)
    audio = audio[:, : config.chroma_length]
    return torch.cat([audio, text], dim=1)
