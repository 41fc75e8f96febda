"""The warm-up after a load: the shapes a first take meets, each part timed and logged.

Why: on an H200 (issue 28) the first 8 s take after ``serve`` took 2.84 s
against 1.08 s for every later one, its decoder 2.21 s against 0.94 s, after a
warm-up that was one 0.2 s take of one prompt.  CUDA libraries do work the
first time a shape (or a kernel) is met: cuBLAS picks and loads a kernel per
GEMM shape, the lazily loaded CUDA modules load on first launch, cuDNN picks
the codec's convolutions per length, the allocator grows its pools.  A take
meets shapes a single short warm-up take does not: another prompt length in
the text encoder and the cross-attention projections, another take count in
the prefill, guidance and top-k sampling, another length in the codec.  And
the warm-up take was never written: the first take's files paid for importing
the loudness meter (pyloudnorm, scipy), the resampler and the WAV writer, on
every device (0.76 s of a first take's 0.83 s on this project's 2-core AMD
EPYC with the debug checkpoint, against 0.03 s for the next takes).

:func:`plan_for` says which shapes a device warms up (:class:`WarmUpPlan`);
:func:`warm_up` runs them part by part, each timed (synchronised on CUDA) and
logged on one line, so that a slow first take can be set beside the part that
should have covered it.  On the CPU the plan is the one short take it always
was, and its files: the CPU has no per-shape plans or lazily loaded kernels
worth the time (and a CPU load should stay short).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.checkpoint import LoadedModel
from engine.decoders.contract import DecodeInputs, Decoder

log = logging.getLogger(__name__)

#: The warm-up take's length in seconds (its whole pipeline: text, decoder, codec, files' maths).
TAKE_SECONDS = 0.2
#: Prompt lengths in text tokens warmed up on CUDA (a producer's prompt is 5 to 40 tokens;
#: the step graphs hold up to 64, engine.decoders.step_graph.DEFAULT_TEXT_TOKENS).
CUDA_TEXT_TOKENS = (8, 16, 32, 64)
#: Take lengths in seconds the codec is warmed up at on CUDA (8 s: the issue's take).
CUDA_CODEC_SECONDS = (1.0, 8.0, 30.0)
#: Frames of each warm-up decoder run: the prefill, then a few steps (frames + the
#: codebooks' delay), guidance and sampling.  Few: with ``--graph-capture background``
#: these runs are eager (about 30 ms a step for small on the H200), before the engine
#: is ready.
RUN_FRAMES = 2


@dataclass(frozen=True)
class WarmUpPlan:
    """What a warm-up covers.

    Attributes:
        take_seconds: one whole take of this length (0: none).
        files: put the take through what writing a take does (peak limit,
            loudness measurement, resampling to 48 kHz, the WAV and its sidecar
            encoded, in memory: nothing is written to disk).
        text_tokens: prompt lengths (tokens) the text encoder and a decoder
            run's cross-attention projections are run at.
        batches: take counts a short decoder run is made with (prefill,
            static or graphed steps, guidance, top-k sampling at that width).
        codec_seconds: lengths the codec decodes tokens to audio at.
    """

    take_seconds: float = TAKE_SECONDS
    files: bool = True
    text_tokens: tuple[int, ...] = ()
    batches: tuple[int, ...] = ()
    codec_seconds: tuple[float, ...] = ()


def plan_for(device: str, max_takes: int) -> WarmUpPlan:
    """The warm-up of a model on ``device`` serving up to ``max_takes`` takes a run.

    On CUDA: the take, the prompt-length buckets, take counts 1, 2, 4 and
    ``max_takes`` (the others share their kernels' shapes closely enough to be
    left to the log to show), the codec at 1, 8 and 30 s.  Elsewhere: the take.
    """
    if not device.startswith("cuda"):
        return WarmUpPlan()
    batches = tuple(sorted({b for b in (1, 2, 4, max_takes) if 1 <= b <= max_takes}))
    return WarmUpPlan(TAKE_SECONDS, True, CUDA_TEXT_TOKENS, batches, CUDA_CODEC_SECONDS)


def warm_up(loaded: LoadedModel, decoder: Decoder, plan: WarmUpPlan) -> dict[str, float]:
    """Run every part of ``plan``; log one line with each part's time.

    Returns:
        Seconds per part, in the order run (``"take 0.2 s"``, ``"files"``,
        ``"text 16 tokens"``, ``"run of 4 takes"``, ``"codec 8 s"``).
    """
    import torch

    from engine.decoders.codec import decode_audio
    from engine.generate import render
    from engine.sampling import Sampling
    from engine.spec import GenerationSpec

    spec = GenerationSpec(prompt="warm up", out_dir=Path("."), seconds=plan.take_seconds or 1.0)
    sampling = Sampling(spec.temperature, spec.top_k, spec.top_p)
    device = loaded.device
    parts: dict[str, float] = {}

    def timed(name: str, work: Callable[[], Any]) -> None:
        _sync(device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            work()
        _sync(device)
        parts[name] = time.perf_counter() - t0

    made: list[Any] = []
    if plan.take_seconds:
        take = lambda: made.append(render(loaded, spec, [0], decoder))  # noqa: E731
        timed(f"take {plan.take_seconds:g} s", take)
    if plan.files:
        audio = made[0].takes[0] if made else np.zeros((loaded.channels, loaded.sample_rate))
        timed("files", lambda: _files(audio, loaded.sample_rate))
    for tokens in plan.text_tokens:
        inputs = _inputs(loaded, 1, tokens, spec.guidance)
        timed(f"text {tokens} tokens", lambda i=inputs: _run(loaded, decoder, i, sampling, 1))
    for batch in plan.batches:
        inputs = _inputs(loaded, batch, 8, spec.guidance)
        run = lambda i=inputs, b=batch: _run(loaded, decoder, i, sampling, b)  # noqa: E731
        timed(f"run of {batch} take{'s' if batch > 1 else ''}", run)
    codebooks = loaded.model.decoder.config.num_codebooks
    vocab = loaded.model.decoder.config.vocab_size
    for seconds in plan.codec_seconds:
        frames = max(1, round(seconds * loaded.frame_rate))
        gen = torch.Generator(device=device).manual_seed(0)
        codes = torch.randint(0, vocab, (1, codebooks, frames), generator=gen, device=device)
        timed(f"codec {seconds:g} s", lambda c=codes: decode_audio(loaded, c))
    log.info(
        "warm-up took %.2f s: %s",
        sum(parts.values()),
        ", ".join(f"{name} {seconds:.3f} s" for name, seconds in parts.items()),
    )
    return parts


def _files(audio: Any, sample_rate: int) -> None:
    """What writing a take does to its audio, the WAV and its sidecar encoded in memory.

    Nothing is written to disk: the engine writes only where it is asked to.
    """
    import io
    import json

    import soundfile

    from engine.audio import resample
    from engine.loudness import measure
    from engine.output import SUBTYPE, limit_peak
    from engine.take_files import versions

    audio, _ = limit_peak(np.asarray(audio, dtype=np.float32))
    facts = measure(audio, sample_rate)
    resample(audio, sample_rate, 48000)
    soundfile.write(io.BytesIO(), audio.T, sample_rate, format="WAV", subtype=SUBTYPE)
    json.dumps({"loudness": facts, "versions": versions()})


def _inputs(loaded: LoadedModel, batch: int, tokens: int, guidance: float) -> DecodeInputs:
    """``batch`` prompts of exactly ``tokens`` text tokens (words the tokenizer knows)."""
    import torch

    words = loaded.tokenizer(["warm up"], return_tensors="pt").input_ids[0]
    ids = words[torch.arange(tokens) % len(words)].repeat(batch, 1).to(loaded.device)
    return DecodeInputs(ids, torch.ones_like(ids), guidance=guidance)


def _run(
    loaded: LoadedModel, decoder: Decoder, inputs: DecodeInputs, sampling: Any, batch: int
) -> Any:
    """A short decoder run: prefill, steps, guidance and sampling at ``batch`` takes."""
    seeds: Sequence[int] = range(batch)
    return decoder(loaded, inputs, RUN_FRAMES, sampling, seeds)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
