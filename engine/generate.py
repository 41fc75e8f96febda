"""A request made audible: conditioning, windows, decoding, post-processing.

:func:`render` turns a :class:`~engine.spec.GenerationSpec` into one float32
array ``[channels, samples]`` per take, at the requested rate and exactly as
long as asked; :func:`render_many` does so for several requests in one decoder
run (:func:`sharing` says which may share one).  It sits above the decoders
(``engine.decoders``), which only turn conditioning into codec tokens, and
plans each request from:

- text: the prompt, with tempo and key appended (``engine.prompting``);
- melody and continuation: chroma sliced per window, and the codec tokens of
  the end of an audio file prompting the first window (``engine.conditioning``);
- long takes: beyond MusicGen's 30 s window, each window is prompted by the
  last 12 s of the one before (``engine.windows``);
- variations: N takes decode as one batch, take i drawing with seed + i.

Progress and cancel are counted per request across windows
(``engine.progress``); the tokens are then made audio and post-processed take
by take (``engine.post_process``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.checkpoint import LoadedModel
from engine.conditioning import melody_chroma, prompt_codes, window_chroma
from engine.decoders.codec import decode_audio
from engine.decoders.contract import DecodeInputs, steps_for
from engine.errors import BridgeError, Cancelled, GenerationFailed, OutOfRange, Unsupported
from engine.post_process import Rendered, finish_part
from engine.preview import Preview, TakePreviews
from engine.progress import CancelCheck, Progress, ProgressCallback, SharedSteps
from engine.prompting import conditioning_text
from engine.sampling import Sampling
from engine.spec import GenerationSpec
from engine.timing import seconds_to_samples
from engine.windows import frames_needed, windows

log = logging.getLogger(__name__)

#: A decoder (engine.decoders.contract.Decoder): engine.decoders.decoder(name).
Decoder = Callable[..., Any]


@dataclass(frozen=True)
class Sharing:
    """What lets requests share one decoder run.

    Attributes:
        key: requests with equal keys can be decoded as one batch.
        steps: decoder steps the request takes; the run takes as many as its
            longest request.
    """

    key: tuple
    steps: int


@dataclass
class Part:
    """One request's part of a render: what to make, its seeds and its own hooks.

    ``preview``: hear the takes as they are made (engine.preview; the engine's
    own loop only); ``requested``: ``time.perf_counter()`` when the request
    reached the engine, from which the sidecar's ``first_audio_s`` counts.
    """

    spec: GenerationSpec
    seeds: Sequence[int]
    on_progress: ProgressCallback | None = None
    is_cancelled: CancelCheck | None = None
    preview: Preview | None = None
    requested: float | None = None


def sharing(loaded: LoadedModel, spec: GenerationSpec) -> Sharing | None:
    """How ``spec`` may share a decoder run with other requests; None: it runs alone.

    Requests share a run when they need one window and no continuation prompt,
    choose tokens alike (guidance, temperature, top-k, top-p) and, on melody
    checkpoints, all have or all lack a melody and have texts of one token
    length (the text sits in the decoder's prefix there, where padding would
    change the take).  Each take is then the take it makes alone, up to the
    rounding of a larger batch (docs/architecture.md, Quirks).
    """
    if spec.model not in (None, loaded.model_id) or spec.continue_from is not None:
        return None
    if spec.has_melody and not loaded.is_melody:
        return None  # refused with words when it runs
    try:
        frames = frames_needed(loaded, spec)
    except OutOfRange:
        return None
    runs = windows(loaded, 0, frames)
    if len(runs) > 1:
        return None
    key: tuple = ("sampling", spec.guidance, spec.temperature, spec.top_k, spec.top_p)
    if loaded.is_melody:
        text = conditioning_text(spec.prompt, spec.bpm, spec.key)
        key += (spec.has_melody, len(loaded.tokenizer(text).input_ids))
    return Sharing(key, steps_for(loaded, frames))


def render(
    loaded: LoadedModel,
    spec: GenerationSpec,
    seeds: Sequence[int],
    decoder: Decoder,
    on_progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> Rendered:
    """Make the takes of one request.

    Args:
        loaded: the resident checkpoint.
        spec: what to make.
        seeds: one per take (``spec.variations`` of them).
        decoder: reference_decode or fast_decode.
        on_progress: called once per decode step.
        is_cancelled: polled once per decode step.

    Raises:
        Unsupported: melody asked of a checkpoint without melody conditioning.
        BadFile: a melody or prompt file could not be used.
        Cancelled, GenerationFailed.
    """
    [result] = render_many(loaded, [Part(spec, seeds, on_progress, is_cancelled)], decoder)
    if isinstance(result, BridgeError):
        raise result
    return result


def render_many(
    loaded: LoadedModel, parts: Sequence[Part], decoder: Decoder
) -> list[Rendered | BridgeError]:
    """Make the takes of several requests in one decoder run.

    Every part but a lone one must share the run (:func:`sharing` gave them
    equal keys): one window, no continuation.  Each part keeps its own seeds,
    length, progress and cancel; a part whose request fails (a bad melody file)
    or is cancelled gets its error, and the others go on.

    Returns:
        For each part, its takes or the error that stopped them.
    """
    results: list[Rendered | BridgeError | None] = [None] * len(parts)
    plans: list[Plan] = []
    for i, part in enumerate(parts):
        try:
            plans.append(_plan(loaded, part, i))
        except BridgeError as exc:
            results[i] = exc
    if len(plans) > 1 and any(len(p.runs) > 1 or p.prompt_codes is not None for p in plans):
        raise ValueError("only one-window requests without a continuation share a run")
    try:  # the previews' files go when the takes end, whichever way
        return _render_plans(loaded, plans, decoder, results)
    finally:
        for plan in plans:
            if plan.previews is not None:
                plan.previews.close()


def _render_plans(
    loaded: LoadedModel, plans: list[Plan], decoder: Decoder, results: list
) -> list[Rendered | BridgeError]:
    """:func:`render_many` once its parts are planned: decode, then finish each."""
    codes: list[Any] = []
    decode_s = 0.0
    if plans:
        t0 = time.perf_counter()
        try:
            for plan in plans:
                plan.previews = _open_previews(loaded, plan)
            codes = _decode(loaded, plans, decoder)
        except (BridgeError, RuntimeError) as exc:
            failure = _failure(exc, loaded, plans)
            for plan in plans:
                results[plan.index] = failure
            return results
        decode_s = time.perf_counter() - t0
    run = {"requests": len(plans), "takes": sum(len(c) for c in codes if c is not None)}
    for plan, tokens in zip(plans, codes, strict=True):
        if tokens is None:
            results[plan.index] = Cancelled("Cancelled.")
            continue
        try:  # one request's codec or post-processing failing leaves the others
            results[plan.index] = finish_part(loaded, plan, tokens, decode_s, run)
        except (BridgeError, RuntimeError) as exc:
            results[plan.index] = _failure(exc, loaded, [plan])
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _failure(exc: Exception, loaded: LoadedModel, plans: list[Plan]) -> BridgeError:
    """What the requests of ``plans`` are told when ``exc`` stopped them."""
    import torch

    if isinstance(exc, BridgeError):
        return exc
    if isinstance(exc, torch.OutOfMemoryError):
        takes = sum(len(plan.part.seeds) for plan in plans)
        longest = max(plan.part.spec.duration_seconds for plan in plans)
        failure = GenerationFailed(
            f"Out of memory on {loaded.device} generating {takes} take(s) of up to "
            f"{longest:.1f} s with '{loaded.model_id}'. Try fewer variations, a shorter take "
            "or a smaller model."
        )
    else:
        failure = GenerationFailed(f"The model failed: {exc}")
    failure.__cause__ = exc
    return failure


@dataclass
class Plan:
    """A part made ready to decode: its text, length, conditioning and windows."""

    part: Part
    index: int  # the part's place in render_many's list
    text: str
    frames: int  # new frames per take
    prompt_codes: Any  # [1, K, T0] of the continuation, or None
    chroma: np.ndarray | None  # the take's whole melody timeline
    runs: list[tuple]
    progress: Progress
    previews: TakePreviews | None = None
    warnings: list[Any] = field(default_factory=list)  # Conflicts its inputs raised

    @property
    def prompt_frames(self) -> int:
        return 0 if self.prompt_codes is None else int(self.prompt_codes.shape[-1])


def _plan(loaded: LoadedModel, part: Part, index: int) -> Plan:
    """Read a part's inputs and plan its windows.

    Raises:
        Unsupported, BadFile, OutOfRange.
    """
    spec = part.spec
    if spec.has_melody and not loaded.is_melody:
        raise Unsupported(
            f"'{loaded.model_id}' has no melody conditioning. Use a melody checkpoint "
            "(facebook/musicgen-melody, facebook/musicgen-stereo-melody) for melody takes, "
            "or offline the built-in debug-melody (random weights: it makes noise)."
        )
    frames = frames_needed(loaded, spec)
    codes = prompt_codes(loaded, spec) if spec.continue_from is not None else None
    prompt_frames = 0 if codes is None else codes.shape[-1]
    seconds = frames / loaded.frame_rate
    warnings: list[Any] = []
    chroma = None
    if spec.has_melody:
        chroma = melody_chroma(loaded, spec, seconds, warnings, part.is_cancelled)
    runs = windows(loaded, prompt_frames, frames)
    steps = sum(steps_for(loaded, new) for _keep, new in runs)
    return Plan(
        part=part,
        index=index,
        text=conditioning_text(spec.prompt, spec.bpm, spec.key),
        frames=frames,
        prompt_codes=codes,
        chroma=chroma,
        runs=runs,
        progress=Progress(steps, part.on_progress, part.is_cancelled),
        warnings=warnings,
    )


def _decode(loaded: LoadedModel, plans: list[Plan], decoder: Decoder) -> list[Any]:
    """The tokens of every plan's takes, window by window.

    Returns:
        Per plan, ``[takes, K, prompt + frames]`` on the model's device, or
        None for a plan cancelled while the others went on.

    Raises:
        Cancelled: every plan was cancelled.
    """
    import torch

    rows = [(plan, seed) for plan in plans for seed in plan.part.seeds]
    tokens = loaded.tokenizer([plan.text for plan, _ in rows], padding=True, return_tensors="pt")
    tokens = {k: v.to(loaded.device) for k, v in tokens.items()}
    seeds = [seed for _, seed in rows]
    spec = plans[0].part.spec  # shared plans choose tokens alike (sharing's key)
    sampling = Sampling(spec.temperature, spec.top_k, spec.top_p)
    frames = tuple(plan.frames for plan, _ in rows)
    runs = plans[0].runs if len(plans) == 1 else [(0, max(frames))]
    steps = SharedSteps([plan.progress for plan in plans])

    first = plans[0].prompt_codes
    codes = None if first is None else first.repeat(len(rows), 1, 1)
    previewing = any(plan.previews is not None for plan in plans)
    timelines = [(plan.chroma, len(plan.part.seeds)) for plan in plans]
    for keep, new in runs:
        made = 0 if codes is None else codes.shape[-1]
        hooks = {"on_frames": _frames_hook(plans, steps, made - keep)} if previewing else {}
        inputs = DecodeInputs(
            tokens["input_ids"],
            tokens["attention_mask"],
            melody=window_chroma(loaded, timelines, (made - keep) / loaded.frame_rate),
            prompt_codes=codes[..., made - keep :] if keep else None,
            guidance=spec.guidance,
            frames=frames if len(set(frames)) > 1 else None,
            offset=made - keep,  # each window draws new noise (the sampler's counter)
        )
        out = decoder(loaded, inputs, new, sampling, seeds, steps.step, **hooks)
        codes = out[..., keep:] if codes is None else torch.cat([codes, out[..., keep:]], -1)
    assert codes is not None
    per_plan, row = [], 0
    for plan, dropped in zip(plans, steps.dropped, strict=True):
        takes = len(plan.part.seeds)
        mine = codes[row : row + takes, :, : plan.prompt_frames + plan.frames]
        per_plan.append(None if dropped else mine)
        row += takes
    return per_plan


def _open_previews(loaded: LoadedModel, plan: Plan) -> TakePreviews | None:
    """The files of a plan's previews, if it asked for one (decoded as its frames come)."""
    preview = plan.part.preview
    if preview is None:
        return None
    spec, sr = plan.part.spec, loaded.sample_rate
    out_sr = spec.sample_rate or sr
    hop = round(sr / loaded.frame_rate)
    first = 0 if spec.include_prompt else plan.prompt_frames
    limit = seconds_to_samples(spec.duration_seconds, out_sr)
    limit += round((plan.prompt_frames - first) * hop * out_sr / sr)
    try:
        return TakePreviews(
            preview,
            len(plan.part.seeds),
            lambda codes: decode_audio(loaded, codes),
            rate=sr,
            out_rate=out_sr,
            channels=loaded.channels,
            hop=hop,
            first=first,
            last=plan.prompt_frames + plan.frames,
            limit=limit,
            requested=plan.part.requested,
        )
    except OSError as exc:  # the preview is extra: the take goes on without it
        log.warning("no preview for this take: %s", exc)
        return None


def _frames_hook(plans: list[Plan], steps: SharedSteps, offset: int) -> Any:
    """A decoder run's frames hook: each previewing plan decodes its takes' new frames.

    ``offset``: the take timeline's frame at the run's frame 0 (a later
    window starts with the end of the one before as its prompt).
    """
    rows, row = [], 0
    for plan in plans:
        rows.append(slice(row, row + len(plan.part.seeds)))
        row += len(plan.part.seeds)

    def on_frames(complete: int, read: Callable[[int, int], Any]) -> None:
        for plan, mine, dropped in zip(plans, rows, steps.dropped, strict=True):
            if plan.previews is None:
                continue
            if dropped:  # cancelled while the others go on: its files go now
                plan.previews.close()
                continue
            plan.previews.advance(
                offset + complete, lambda a, b, m=mine: read(a - offset, b - offset)[m]
            )

    return on_frames
