"""Codec tokens in and out, and the reference decoder (transformers' ``generate``).

A *decoder* turns conditioning (text, optional melody chroma, optional prompt
tokens) into codec tokens ``[B, K, frames]``: B takes, K codebooks (stereo
checkpoints interleave left/right), one column per codec frame, without the
delay pattern.  Two decoders exist: :func:`reference_decode` here, which drives
transformers' ``generate``, and the engine's own loop in ``engine.fast_decode``.
Both take a :class:`DecodeInputs` and return the same shape, so windowing,
continuation and variations (``engine.generate``) sit above either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.checkpoint import LoadedModel
from engine.sampling import Sampling, TokenPicker

#: Called after every decoder step; reports progress and may raise Cancelled.
StepHook = Callable[[], None]
#: Chooses a step's tokens instead of sampling: guided float logits ``[B * K, V]``
#: in, long ``[B * K]`` out.  Teacher forcing (tests, faithfulness benchmarks).
Picker = Callable[[Any], Any]


@dataclass
class DecodeInputs:
    """Conditioning for one decoder run of B takes (tensors on the model's device).

    Attributes:
        input_ids: text tokens ``[B, S]``.
        attention_mask: ``[B, S]``.
        melody: chroma ``[B, frames, 12]`` for melody checkpoints, else None.
        prompt_codes: tokens ``[B, K, T0]`` the takes continue from, else None.
        guidance: classifier-free guidance scale (1 = off).
        frames: new frames of each take, where the takes of one run differ in
            length (requests sharing a run; the engine's own loop only).  A
            take's tokens are those it makes alone; after its last frame its
            row holds the pad token.  None: every take makes ``new_frames``.
    """

    input_ids: Any
    attention_mask: Any
    melody: Any = None
    prompt_codes: Any = None
    guidance: float = 3.0
    frames: tuple[int, ...] | None = None

    @property
    def batch(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def prompt_frames(self) -> int:
        return 0 if self.prompt_codes is None else int(self.prompt_codes.shape[-1])


def codebooks_per_channel(loaded: LoadedModel) -> int:
    """The delay pattern's depth: codebook k of each channel lags k steps."""
    return loaded.model.decoder.num_codebooks // loaded.channels


def steps_for(loaded: LoadedModel, new_frames: int) -> int:
    """Decoder steps that produce ``new_frames`` complete frames."""
    return new_frames + codebooks_per_channel(loaded) - 1


def reference_decode(
    loaded: LoadedModel,
    inputs: DecodeInputs,
    new_frames: int,
    sampling: Sampling,
    gens: Sequence[Any],
    on_step: StepHook | None = None,
    *,
    pick: Picker | None = None,
) -> Any:
    """Generate ``new_frames`` frames after the prompt with transformers' ``generate``.

    ``pick``, where given, chooses every step's tokens instead of ``sampling``
    (see :data:`Picker`, :func:`forced_logits`).

    Returns:
        Long tensor ``[B, K, T0 + new_frames]``: the prompt tokens, then the new ones.
    """
    import torch
    from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

    if inputs.frames is not None and len(set(inputs.frames)) > 1:
        raise ValueError("transformers' generate makes takes of one length; use fast_decode")
    model = loaded.model
    num_codebooks = model.decoder.num_codebooks
    steps = steps_for(loaded, new_frames)
    last: dict[str, Any] = {}

    class _EachStep(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            last["ids"] = input_ids
            if on_step is not None:
                on_step()
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    kwargs: dict[str, Any] = {}
    if inputs.melody is not None:
        kwargs["input_features"] = inputs.melody
    if inputs.prompt_codes is not None:
        kwargs["decoder_input_ids"] = inputs.prompt_codes.reshape(inputs.batch * num_codebooks, -1)
    picker = TokenPicker(sampling, gens, inputs.batch * num_codebooks, inputs.guidance, pick)
    with torch.inference_mode():
        model.generate(
            input_ids=inputs.input_ids,
            attention_mask=inputs.attention_mask,
            max_new_tokens=steps,
            do_sample=False,
            guidance_scale=inputs.guidance,
            logits_processor=LogitsProcessorList([picker]),
            stopping_criteria=StoppingCriteriaList([_EachStep()]),
            **kwargs,
        )
    ids = last["ids"].reshape(inputs.batch, num_codebooks, -1)
    new = undelay(ids, loaded.channels, start=1 + inputs.prompt_frames, frames=new_frames)
    if inputs.prompt_codes is None:
        return new
    return torch.cat([inputs.prompt_codes, new], dim=-1)


def forced_logits(
    decoder: Callable[..., Any],
    loaded: LoadedModel,
    inputs: DecodeInputs,
    codes: Any,
    **kwargs: Any,
) -> Any:
    """The guided logits a decoder computes when fed ``codes`` (teacher forcing).

    Every step's tokens are taken from ``codes`` instead of being sampled, so
    two decoders (or one decoder in two batch shapes) are compared on the same
    history, step by step, rather than on takes that parted at the first
    token a rounding difference tipped.

    Args:
        decoder: :func:`reference_decode` or ``fast_decode`` (or a partial of it).
        loaded: the checkpoint.
        inputs: conditioning of B takes; its prompt, if any, is ``codes``' start.
        codes: long ``[B, K, T0 + new_frames]``: the prompt, then the tokens to feed.
        kwargs: passed to the decoder (``graphs=``).

    Returns:
        float32 ``[steps, B * K, V]``: the logits each step's tokens were chosen
        from (guidance applied), ``steps = steps_for(loaded, new_frames)``.
    """
    import torch

    t0 = inputs.prompt_frames
    total = int(codes.shape[-1])
    batch, codebooks = int(codes.shape[0]), int(codes.shape[1])
    delay = torch.arange(codebooks, device=codes.device) // loaded.channels
    record: list[Any] = []

    def pick(logits: Any) -> Any:
        # Step s writes frame t0 + s - delay(k) of codebook k (where the pattern leaves room).
        frame = (t0 + len(record) - delay).clamp(0, total - 1)
        record.append(logits.float().clone())
        chosen = codes[:, torch.arange(codebooks, device=codes.device), frame]  # [B, K]
        return chosen.reshape(batch * codebooks).to(logits.device)

    gens = [None] * batch
    decoder(loaded, inputs, total - t0, Sampling(greedy=True), gens, pick=pick, **kwargs)
    return torch.stack(record)


def undelay(ids: Any, channels: int, start: int, frames: int) -> Any:
    """Undo the delay pattern: frame j of codebook k sits at column ``start + j + delay(k)``.

    Args:
        ids: ``[B, K, L]`` decoder sequence (column 0 is the start token).
        channels: 1, or 2 where left/right codebooks interleave (both lag alike).
        start: the column of the first frame wanted in codebook 0.
        frames: how many frames to read.

    Returns:
        ``[B, K, frames]``.
    """
    import torch

    rows = [
        ids[:, k, start + k // channels : start + k // channels + frames]
        for k in range(ids.shape[1])
    ]
    return torch.stack(rows, dim=1)


def encode_audio(loaded: LoadedModel, audio: np.ndarray) -> Any:
    """Codec tokens of ``audio`` (``[C, T]`` at the model's rate, C = the model's channels).

    Returns:
        Long tensor ``[1, K, frames]`` on the model's device.
    """
    import torch

    codec = loaded.model.audio_encoder
    wav = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(loaded.device)
    wav = wav.to(codec.dtype)
    with torch.inference_mode():
        per_channel = [
            codec.encode(wav[c][None, None, :]).audio_codes[0] for c in range(loaded.channels)
        ]  # each [1, K/C, frames]
    if loaded.channels == 1:
        return per_channel[0]
    left, right = per_channel
    codes = torch.empty((1, left.shape[1] * 2, left.shape[2]), dtype=left.dtype, device=left.device)
    codes[:, 0::2], codes[:, 1::2] = left, right
    return codes


def decode_audio(loaded: LoadedModel, codes: Any) -> np.ndarray:
    """Audio of tokens ``[B, K, frames]``: float32 ``[B, C, samples]`` on the CPU."""
    import torch

    codec = loaded.model.audio_encoder
    scales = [None] * codes.shape[0]
    with torch.inference_mode():
        if loaded.channels == 1:
            audio = codec.decode(codes[None], audio_scales=scales).audio_values
        else:
            left = codec.decode(codes[None, :, 0::2], audio_scales=scales).audio_values
            right = codec.decode(codes[None, :, 1::2], audio_scales=scales).audio_values
            audio = torch.cat([left, right], dim=1)
    return audio.float().cpu().numpy()
