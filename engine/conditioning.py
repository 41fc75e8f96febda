"""A take's conditioning beyond its text: continuation prompt tokens and melody chroma.

Read from the request's files and notes, each bounded to the part the take
uses (``audio_start``/``audio_end``, the take's length):

- :func:`prompt_codes`: the codec tokens of the end of an audio file, which
  prompt a continuation's first window;
- :func:`melody_chroma`: one-hot chroma for the take's whole timeline, from
  notes, a MIDI file or audio (``engine.melody``);
- :func:`window_chroma`: that timeline sliced for one decoder window, for
  every take of a run.

The text (prompt, tempo, key) is ``engine.prompting``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine import audio as dsp
from engine.checkpoint import LoadedModel
from engine.decoders.codec import encode_audio
from engine.errors import BadFile
from engine.spec import GenerationSpec
from engine.timing import seconds_to_samples
from engine.windows import WINDOW_SECONDS, max_prompt_seconds


def prompt_codes(loaded: LoadedModel, spec: GenerationSpec) -> Any:
    """Codec tokens of the last ``prompt_seconds`` of the continuation file: ``[1, K, T0]``.

    Raises:
        BadFile: the file cannot be read, or holds under one frame.
    """
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


def _read_part(path: Path, spec: GenerationSpec) -> tuple[np.ndarray, int]:
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


def melody_chroma(
    loaded: LoadedModel,
    spec: GenerationSpec,
    seconds: float,
    warnings: list[Any],
    is_cancelled: Callable[[], bool] | None = None,
) -> np.ndarray:
    """One-hot chroma ``[frames, 12]`` for the take's whole timeline of ``seconds``.

    A silent melody adds its warning to ``warnings``; ``is_cancelled`` stops
    a MIDI file's parse.

    Raises:
        BadFile: the melody file cannot be used.
    """
    from engine import melody, midi_file

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
    notes = midi_file.read_midi(spec.melody_midi, is_cancelled)  # a cancel stops the parse
    return melody.notes_to_chroma(notes, seconds, params)


def _whole_bars(spec: GenerationSpec) -> float:
    """The melody clip's length in beats: its last note's end, rounded up to a bar."""
    assert spec.melody_notes
    end = max(note.start + note.length for note in spec.melody_notes)
    bar = float(spec.timesig.quarter_notes_per_bar)
    return max(1, math.ceil(end / bar - 1e-9)) * bar


def window_chroma(
    loaded: LoadedModel, timelines: Sequence[tuple[np.ndarray | None, int]], start_s: float
) -> Any:
    """The melody chroma of one window for every take: ``[takes, chroma_length, 12]``.

    ``timelines``: per request of the run, its :func:`melody_chroma` and its
    number of takes.  Each request's chroma from ``start_s`` on its timeline,
    tiled to the checkpoint's ``chroma_length`` as the model itself tiles a
    shorter melody (so requests of different lengths stack).  None when the
    requests have no melody.
    """
    if timelines[0][0] is None:
        return None
    import torch

    from engine.melody import ChromaParams

    params = ChromaParams.from_preprocessor_config(loaded.features)
    length = loaded.model.config.chroma_length
    windows = []
    for chroma, takes in timelines:
        assert chroma is not None  # shared requests all have a melody, or none does
        first = min(round(start_s * params.frame_rate), chroma.shape[0] - 1)
        part = chroma[first : first + params.frames_for_seconds(WINDOW_SECONDS)]
        part = np.resize(part, (length, part.shape[-1]))
        windows += [part] * takes
    tensor = torch.from_numpy(np.ascontiguousarray(np.stack(windows), dtype=np.float32))
    return tensor.to(loaded.device, loaded.model.dtype)
