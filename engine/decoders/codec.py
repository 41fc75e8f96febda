"""Codec tokens in and out: audio to tokens ``[1, K, frames]`` and tokens to audio.

The checkpoint's EnCodec, one channel at a time for stereo checkpoints (their
codebooks interleave left/right).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.checkpoint import LoadedModel


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
