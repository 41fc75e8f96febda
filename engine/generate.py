"""A request made audible: conditioning, windows, decoding, musical post-processing.

:func:`render` turns a :class:`~engine.spec.GenerationSpec` into one float32
array ``[channels, samples]`` per take, at the requested rate and exactly as
long as asked.  It sits above the decoders (``engine.decoders``), which only
turn conditioning into codec tokens:

- text: the prompt, with tempo and key appended (``engine.prompting``);
- melody: chroma from notes, a MIDI file or audio (``engine.melody``), sliced
  per window;
- continuation: the codec tokens of the end of an audio file prompt the first
  window;
- long takes: beyond MusicGen's 30 s window, each window is prompted by the
  last 12 s of the one before (audiocraft's ``extend_stride`` of 18 s);
- variations: N takes decode as one batch, take i drawing with seed + i.

Post-processing runs per take on numpy arrays (``engine.audio``): optional
tempo correction, resampling, then an exact cut or a seamless loop.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import audio as dsp
from engine.checkpoint import LoadedModel
from engine.decoders.codec import decode_audio, encode_audio
from engine.decoders.contract import DecodeInputs, codebooks_per_channel, steps_for
from engine.errors import (
    BadFile,
    BridgeError,
    Cancelled,
    GenerationFailed,
    OutOfRange,
    Unsupported,
)
from engine.preview import Preview, TakePreviews
from engine.prompting import conditioning_text
from engine.sampling import Sampling
from engine.spec import GenerationSpec
from engine.timing import frames_for_samples, seconds_to_samples

log = logging.getLogger(__name__)

#: Called after every decode step with (steps done, steps in total).
ProgressCallback = Callable[[int, int], None]
#: Polled after every decode step; returning True stops the take with Cancelled.
CancelCheck = Callable[[], bool]
#: A decoder (engine.decoders.contract.Decoder): engine.decoders.decoder(name).
Decoder = Callable[..., Any]

WINDOW_SECONDS = 30.0  # what MusicGen was trained on (audiocraft's max_duration)
EXTEND_STRIDE_SECONDS = 18.0  # audiocraft's default: each new window keeps 12 s of context
MAX_TAKE_SECONDS = 600.0
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


def window_frames(loaded: LoadedModel) -> int:
    """Frames one decoder run may hold (prompt included)."""
    positions = loaded.max_frames - codebooks_per_channel(loaded)
    return min(int(WINDOW_SECONDS * loaded.frame_rate), positions)


def max_prompt_seconds(loaded: LoadedModel) -> float:
    """The longest continuation prompt: the window less one second to continue in."""
    return window_frames(loaded) / loaded.frame_rate - 1.0


def plan_windows(prompt_frames: int, new_frames: int, window: int, stride: int) -> list[tuple]:
    """(prompt frames kept, new frames) for each decoder run of a take.

    The first run keeps the whole continuation prompt; each later run keeps the
    last ``window - stride`` frames made so far, as audiocraft's extension does.
    """
    runs, made, keep = [], 0, prompt_frames
    while made < new_frames:
        new = min(new_frames - made, window - keep)
        runs.append((keep, new))
        made += new
        keep = min(prompt_frames + made, window - stride)
    return runs


def _runs(loaded: LoadedModel, prompt_frames: int, new_frames: int) -> list[tuple]:
    """:func:`plan_windows` with the checkpoint's window and audiocraft's stride."""
    stride = int(EXTEND_STRIDE_SECONDS * loaded.frame_rate)
    return plan_windows(prompt_frames, new_frames, window_frames(loaded), stride)


def total_steps(loaded: LoadedModel, spec: GenerationSpec) -> int:
    """Decoder steps a spec will take (for benchmarks and tests).

    A continuation is counted with its full ``prompt_seconds``; a shorter file
    prompts with less, and takes the steps :func:`render` reports.
    """
    prompt = 0
    if spec.continue_from is not None:
        prompt = int(spec.prompt_seconds * loaded.frame_rate)
    runs = _runs(loaded, prompt, _frames_needed(loaded, spec))
    return sum(steps_for(loaded, new) for _keep, new in runs)


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
        frames = _frames_needed(loaded, spec)
    except OutOfRange:
        return None
    runs = _runs(loaded, 0, frames)
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
    plans: list[_Plan] = []
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
    loaded: LoadedModel, plans: list[_Plan], decoder: Decoder, results: list
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
            results[plan.index] = _finish_part(loaded, plan, tokens, decode_s, run)
        except (BridgeError, RuntimeError) as exc:
            results[plan.index] = _failure(exc, loaded, [plan])
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _failure(exc: Exception, loaded: LoadedModel, plans: list[_Plan]) -> BridgeError:
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
class _Plan:
    """A part made ready to decode: its text, length, conditioning and windows."""

    part: Part
    index: int  # the part's place in render_many's list
    text: str
    frames: int  # new frames per take
    prompt_codes: Any  # [1, K, T0] of the continuation, or None
    chroma: np.ndarray | None  # the take's whole melody timeline
    runs: list[tuple]
    progress: _Progress
    previews: TakePreviews | None = None
    warnings: list[Any] = field(default_factory=list)  # Conflicts its inputs raised

    @property
    def prompt_frames(self) -> int:
        return 0 if self.prompt_codes is None else int(self.prompt_codes.shape[-1])


def _plan(loaded: LoadedModel, part: Part, index: int) -> _Plan:
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
    frames = _frames_needed(loaded, spec)
    prompt_codes = _prompt_codes(loaded, spec) if spec.continue_from is not None else None
    prompt_frames = 0 if prompt_codes is None else prompt_codes.shape[-1]
    seconds = frames / loaded.frame_rate
    warnings: list[Any] = []
    chroma = _melody_chroma(loaded, part, seconds, warnings) if spec.has_melody else None
    runs = _runs(loaded, prompt_frames, frames)
    steps = sum(steps_for(loaded, new) for _keep, new in runs)
    return _Plan(
        part=part,
        index=index,
        text=conditioning_text(spec.prompt, spec.bpm, spec.key),
        frames=frames,
        prompt_codes=prompt_codes,
        chroma=chroma,
        runs=runs,
        progress=_Progress(steps, part.on_progress, part.is_cancelled),
        warnings=warnings,
    )


def _decode(loaded: LoadedModel, plans: list[_Plan], decoder: Decoder) -> list[Any]:
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
    steps = _SharedSteps([plan.progress for plan in plans])

    first = plans[0].prompt_codes
    codes = None if first is None else first.repeat(len(rows), 1, 1)
    previewing = any(plan.previews is not None for plan in plans)
    for keep, new in runs:
        made = 0 if codes is None else codes.shape[-1]
        hooks = {"on_frames": _frames_hook(plans, steps, made - keep)} if previewing else {}
        inputs = DecodeInputs(
            tokens["input_ids"],
            tokens["attention_mask"],
            melody=_run_chroma(loaded, plans, (made - keep) / loaded.frame_rate),
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


def _open_previews(loaded: LoadedModel, plan: _Plan) -> TakePreviews | None:
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


def _frames_hook(plans: list[_Plan], steps: _SharedSteps, offset: int) -> Any:
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


def _finish_part(
    loaded: LoadedModel, plan: _Plan, codes: Any, decode_s: float, run: dict[str, int]
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
        take, facts = _finish(take_audio[:, start:], spec, sr, out_sr, prompt_frames * hop - start)
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


def _frames_needed(loaded: LoadedModel, spec: GenerationSpec) -> int:
    """Codec frames to generate: the take, plus what loop and tempo correction consume."""
    sr = loaded.sample_rate
    samples = seconds_to_samples(spec.duration_seconds, sr)
    if spec.tempo_correct:
        samples += math.ceil(samples * TEMPO_MARGIN)
    if spec.loop:
        samples += dsp.loop_fade_samples(sr)
    if samples > MAX_TAKE_SECONDS * sr:
        raise OutOfRange(f"A take can be at most {MAX_TAKE_SECONDS:g} s.")
    return frames_for_samples(samples, sr, loaded.frame_rate)


def _finish(
    audio: np.ndarray, spec: GenerationSpec, sr: int, out_sr: int, prompt_samples: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Tempo-correct, resample, and cut (or loop) one take to its exact length."""
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


def _prompt_codes(loaded: LoadedModel, spec: GenerationSpec) -> Any:
    """Codec tokens of the last ``prompt_seconds`` of the continuation file: ``[1, K, T0]``."""
    assert spec.continue_from is not None
    audio, rate = _read_part(spec.continue_from, spec)
    audio = dsp.match_channels(dsp.resample(audio, rate, loaded.sample_rate), loaded.channels)
    seconds = min(spec.prompt_seconds, max_prompt_seconds(loaded))
    hop = round(loaded.sample_rate / loaded.frame_rate)
    tail = audio[:, -seconds_to_samples(seconds, loaded.sample_rate) :]
    tail = tail[:, tail.shape[-1] % hop :]  # whole frames only, ending at the file's end
    if tail.shape[-1] < hop:
        raise BadFile(f"{spec.continue_from.name} is too short to continue (under one frame).")
    return encode_audio(loaded, tail)


def _read_part(path, spec: GenerationSpec) -> tuple[np.ndarray, int]:
    """An input file's audio between ``spec.audio_start`` and ``spec.audio_end``."""
    audio, rate = dsp.read_audio(path)
    first = seconds_to_samples(spec.audio_start or 0.0, rate)
    last = audio.shape[-1] if spec.audio_end is None else seconds_to_samples(spec.audio_end, rate)
    part = audio[:, first:last]
    if part.shape[-1] == 0:
        raise BadFile(
            f"{path.name} is {audio.shape[-1] / rate:.2f} s long: nothing lies between "
            f"audio_start and audio_end."
        )
    return part, rate


def _melody_chroma(
    loaded: LoadedModel, part: Part, seconds: float, warnings: list[Any]
) -> np.ndarray:
    """One-hot chroma ``[frames, 12]`` for the take's whole timeline (a silent melody
    adds its warning to ``warnings``)."""
    from engine import melody, midi_file

    spec = part.spec
    params = melody.ChromaParams.from_preprocessor_config(loaded.features)
    if spec.melody_audio is not None:
        audio, rate = _read_part(spec.melody_audio, spec)
        audio = audio[:, : seconds_to_samples(seconds, rate)]  # the take needs no more
        warnings += filter(None, [melody.silence_warning(audio, spec.melody_audio.name)])
        chroma = melody.audio_to_chroma(audio, rate, params)
        # The model tiles a melody shorter than its window; so does the timeline.
        frames = params.frames_for_seconds(seconds)
        return np.resize(chroma, (max(frames, 1), chroma.shape[-1]))
    if spec.melody_notes is not None:
        assert spec.bpm is not None
        notes = melody.notes_to_seconds(spec.melody_notes, spec.bpm)
        beats = spec.melody_length or _whole_bars(spec)
        return melody.notes_to_chroma(notes, seconds, params, loop_s=beats * 60.0 / spec.bpm)
    assert spec.melody_midi is not None
    notes = midi_file.read_midi(spec.melody_midi, part.is_cancelled)  # a cancel stops the parse
    return melody.notes_to_chroma(notes, seconds, params)


def _whole_bars(spec: GenerationSpec) -> float:
    """The melody clip's length in beats: its last note's end, rounded up to a bar."""
    assert spec.melody_notes
    end = max(note.start + note.length for note in spec.melody_notes)
    bar = float(spec.timesig.quarter_notes_per_bar)
    return max(1, math.ceil(end / bar - 1e-9)) * bar


def _run_chroma(loaded: LoadedModel, plans: list[_Plan], start_s: float) -> Any:
    """The melody chroma of one window for every take: ``[takes, chroma_length, 12]``.

    Each plan's chroma from ``start_s`` on its timeline, tiled to the
    checkpoint's ``chroma_length`` as the model itself tiles a shorter melody
    (so plans of different lengths stack).  None when the plans have no melody.
    """
    if plans[0].chroma is None:
        return None
    import torch

    from engine.melody import ChromaParams

    params = ChromaParams.from_preprocessor_config(loaded.features)
    length = loaded.model.config.chroma_length
    windows = []
    for plan in plans:
        assert plan.chroma is not None  # shared plans all have a melody, or none does
        first = min(round(start_s * params.frame_rate), plan.chroma.shape[0] - 1)
        part = plan.chroma[first : first + params.frames_for_seconds(WINDOW_SECONDS)]
        part = np.resize(part, (length, part.shape[-1]))
        windows += [part] * len(plan.part.seeds)
    tensor = torch.from_numpy(np.ascontiguousarray(np.stack(windows), dtype=np.float32))
    return tensor.to(loaded.device, loaded.model.dtype)


class _Progress:
    """Counts decoder steps across windows; reports them and honours cancel."""

    def __init__(
        self, total: int, on_progress: ProgressCallback | None, is_cancelled: CancelCheck | None
    ) -> None:
        self.total = total
        self.done = 0
        self.on_progress = on_progress
        self.is_cancelled = is_cancelled

    def step(self) -> None:
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(min(self.done, self.total), self.total)
        if self.is_cancelled is not None and self.is_cancelled():
            raise Cancelled("Cancelled.")


class _SharedSteps:
    """One decoder step hook for the plans of a run: each counts, each may cancel.

    A cancelled plan drops out (its takes are still computed, then discarded);
    the run stops when every plan has.
    """

    def __init__(self, progresses: list[_Progress]) -> None:
        self.progresses = progresses
        self.dropped = [False] * len(progresses)

    def step(self) -> None:
        for i, progress in enumerate(self.progresses):
            if self.dropped[i]:
                continue
            try:
                progress.step()
            except Cancelled:
                self.dropped[i] = True
        if all(self.dropped):
            raise Cancelled("Cancelled.")
