"""A request's decoded tokens made its takes' audio, each cut to its exact length.

:func:`finish_part` decodes one request's tokens take by take with the codec
and gathers the sidecar's facts into a :class:`Rendered`; :func:`finish_take`
post-processes one take on numpy arrays (``engine.audio``): optional tempo
correction, resampling, then an exact cut or a seamless loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine import audio as dsp
from engine.checkpoint import LoadedModel
from engine.decoders.codec import decode_audio
from engine.spec import GenerationSpec
from engine.timing import seconds_to_samples

if TYPE_CHECKING:
    from engine.generate import Plan

TEMPO_MARGIN = 0.15  # corrections beyond +-15 % are not drift but a misread; left alone


@dataclass
class Rendered:
    """The takes of one request, ready to write.

    Attributes:
        takes: one float32 array ``[C, T]`` per variation, at ``sample_rate``.
        sample_rate: Hz.
        text: the text the model was conditioned on.
        details: facts for the sidecar (windows, tempo estimates...), per take
            under ``per_take``.
    """

    takes: list[np.ndarray]
    sample_rate: int
    text: str
    details: dict[str, Any] = field(default_factory=dict)


def finish_part(
    loaded: LoadedModel, plan: Plan, codes: Any, decode_s: float, run: dict[str, int]
) -> Rendered:
    """Audio of one plan's tokens, post-processed take by take.

    ``run`` is the shared run's size (requests, takes), for the sidecar.
    """
    sr, fr = loaded.sample_rate, loaded.frame_rate
    spec = plan.part.spec
    t1 = time.perf_counter()
    # One take at a time: the codec's batched convolutions round differently,
    # and a variation should be the very take its seed makes alone.
    audio = np.concatenate([decode_audio(loaded, codes[b : b + 1]) for b in range(len(codes))])
    hop = round(sr / fr)
    prompt_frames = plan.prompt_frames
    start = 0 if spec.include_prompt else prompt_frames * hop
    out_sr = spec.sample_rate or sr
    details: dict[str, Any] = {
        "conditioning_text": plan.text,
        "windows": len(plan.runs),
        "decode_steps": plan.progress.total,
        "prompt_seconds_used": prompt_frames / fr,
        "shared_run": run,
        "per_take": [],
        "warnings": list(plan.warnings),
    }
    t2 = time.perf_counter()
    takes = []
    for take_audio in audio:
        take, facts = finish_take(
            take_audio[:, start:], spec, sr, out_sr, prompt_frames * hop - start
        )
        takes.append(take)
        details["per_take"].append(facts)
    details["timings"] = {
        "decode_s": round(decode_s, 4),
        "codec_s": round(t2 - t1, 4),
        "post_s": round(time.perf_counter() - t2, 4),
    }
    if plan.previews is not None and plan.previews.first_audio_s is not None:
        details["timings"]["first_audio_s"] = round(plan.previews.first_audio_s, 4)
    return Rendered(takes=takes, sample_rate=out_sr, text=plan.text, details=details)


def finish_take(
    audio: np.ndarray, spec: GenerationSpec, sr: int, out_sr: int, prompt_samples: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Tempo-correct, resample, and cut (or loop) one take ``[C, T]`` to its exact length.

    ``sr``/``out_sr``: the model's and the request's rates (Hz);
    ``prompt_samples``: samples of continuation prompt kept at the start (at ``sr``).

    Returns:
        The take, float32 at ``out_sr``, and its facts for the sidecar.
    """
    facts: dict[str, Any] = {}
    if spec.tempo_correct:
        assert spec.bpm is not None  # the spec guarantees it
        estimated = dsp.estimate_tempo(audio, sr, hint_bpm=spec.bpm)
        ratio = spec.bpm / estimated
        corrected = abs(math.log(ratio)) <= math.log1p(TEMPO_MARGIN)
        if corrected:
            audio = dsp.stretch_to_tempo(audio, sr, estimated, spec.bpm)
        facts["tempo"] = {
            "estimated_bpm": round(estimated, 2),
            "target_bpm": spec.bpm,
            "stretched": corrected,
            "why_not": None if corrected else f"more than {TEMPO_MARGIN:.0%} away: left as made",
        }
    audio = dsp.resample(audio, sr, out_sr)
    length = seconds_to_samples(spec.duration_seconds, out_sr)
    length += round(prompt_samples * out_sr / sr)
    if spec.loop:
        fade = dsp.loop_fade_samples(out_sr)
        if audio.shape[-1] >= length + fade:
            audio = dsp.loop_crossfade(audio, length, fade)
            facts["loop_crossfade_samples"] = fade
    return dsp.fit_length(audio, length).astype(np.float32, copy=False), facts
