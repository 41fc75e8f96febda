"""Melody conditioning for MusicGen-melody: a one-hot chroma sequence from notes or audio.

MusicGen-melody hears a melody as a chroma sequence ``[frames, 12]``: per frame,
the strongest pitch class gets 1 and the others 0.  transformers computes it with
``MusicgenMelodyFeatureExtractor``, which needs torchaudio; :func:`audio_to_chroma`
reproduces that computation exactly with ``torch.stft`` and transformers' own
``chroma_filter_bank``.  :func:`notes_to_chroma` builds the same sequence straight
from MIDI notes (the highest sounding note is the melody), so a DAW clip can
steer a take without rendering any audio.

Silence, as the extractor sees it: a zero spectrum normalises to zeros and the
argmax of zeros is bin 0, so a silent frame is one-hot on bin 0 (C).  The MIDI
path marks frames with no note the same way.

Units are in every name: ``seconds``/``_s``, ``beats`` (quarter notes), ``bpm``
(quarter notes per minute), ``frames`` (chroma frames), ``samples``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import InvalidValue, OutOfRange

if TYPE_CHECKING:
    from engine.prompting import Conflict

MAX_CLIP_BEATS = 4096  # a melody clip's longest (melody_length's most, too)
MAX_NOTES = 4096  # per clip, sent over the wire (melody_notes) or in a file (melody_midi)
_NOTE_BLOCK = 1024  # notes per vectorised block in notes_to_chroma


@dataclass(frozen=True)
class ChromaParams:
    """How the melody extractor frames audio (from the checkpoint's preprocessor_config.json)."""

    sampling_rate: int = 32000
    n_fft: int = 16384
    hop_length: int = 4096
    num_chroma: int = 12

    @classmethod
    def from_preprocessor_config(cls, data: dict[str, Any]) -> ChromaParams:
        """Read the four values from a parsed ``preprocessor_config.json``.

        Args:
            data: the JSON object; keys it lacks keep their defaults.

        Returns:
            The parameters.

        Raises:
            InvalidValue: a value is not a positive whole number.
        """
        values: dict[str, int] = {}
        for name in ("sampling_rate", "n_fft", "hop_length", "num_chroma"):
            if name not in data:
                continue
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidValue(
                    f"The model's preprocessor_config.json has {name} = {value!r}; "
                    "it must be a positive whole number. The checkpoint may be damaged."
                )
            values[name] = value
        return cls(**values)

    @property
    def frame_rate(self) -> float:
        """Chroma frames per second (7.8125 for MusicGen-melody)."""
        return self.sampling_rate / self.hop_length

    def frames_for_seconds(self, seconds: float) -> int:
        """How many frames the extractor yields for ``seconds`` of audio.

        A centred STFT gives ``1 + samples // hop_length`` frames; audio shorter than
        ``n_fft`` is first padded to ``n_fft`` samples, as the extractor does.

        Args:
            seconds: audio length, >= 0.

        Returns:
            The frame count.

        Raises:
            OutOfRange: ``seconds`` is negative or not finite.
        """
        return 1 + max(self._samples(seconds), self.n_fft) // self.hop_length

    def frame_times(self, seconds: float) -> np.ndarray:
        """Centre time of each frame, in seconds from the start of the audio.

        Frame ``i`` is centred on sample ``i * hop_length``; when the audio is
        shorter than ``n_fft``, the extractor's zero padding in front shifts the
        centres earlier (some fall before 0).

        Args:
            seconds: audio length, >= 0.

        Returns:
            float64 ``[frames_for_seconds(seconds)]``.
        """
        samples = self._samples(seconds)
        pad_front = (self.n_fft - samples) // 2 if samples < self.n_fft else 0
        frames = self.frames_for_seconds(seconds)
        return (np.arange(frames) * self.hop_length - pad_front) / self.sampling_rate

    def _samples(self, seconds: float) -> int:
        if not math.isfinite(seconds) or seconds < 0:
            raise OutOfRange(f"The melody length must be 0 seconds or more, got {seconds}.")
        return round(seconds * self.sampling_rate)


@dataclass(frozen=True)
class Note:
    """A note of a DAW clip, in quarter-note beats from the clip start."""

    pitch: int
    start: float
    length: float
    velocity: int = 100


@dataclass(frozen=True)
class TimedNote:
    """A note in seconds from the start of the take."""

    pitch: int
    start_s: float
    end_s: float
    velocity: int


# -- the wire format -----------------------------------------------------------


def parse_notes(text: str) -> tuple[Note, ...]:
    """Parse a clip sent as ``pitch start length velocity`` groups.

    Numbers are separated by any whitespace, four per note: pitch (whole number
    0-127), start (beats from the clip start, >= 0), length (beats, > 0) and
    velocity (whole number 1-127).

    Args:
        text: e.g. ``"60 0 1 100  62 1 1 90"``.

    Returns:
        The notes, in the order sent.

    Raises:
        InvalidValue: no notes, a count of numbers that is not a multiple of 4, a
            word that is not a number, or a pitch/velocity with a fraction.
        OutOfRange: a value outside its range, or more than ``MAX_NOTES`` notes.
    """
    words = text.split()
    if not words:
        raise InvalidValue(
            "The melody clip has no notes. Put at least one note in the clip, "
            "or leave the melody out."
        )
    if len(words) % 4:
        raise InvalidValue(
            f"The melody notes must come in groups of 4 numbers (pitch start length "
            f"velocity), but {len(words)} numbers were sent."
        )
    count = len(words) // 4
    if count > MAX_NOTES:
        raise OutOfRange(
            f"The melody clip has {count} notes; at most {MAX_NOTES} can be sent. "
            "Use a shorter or simpler clip."
        )
    notes = []
    for n in range(count):
        number = n + 1
        pitch_w, start_w, length_w, velocity_w = words[4 * n : 4 * n + 4]
        pitch = _whole(pitch_w, number, "pitch")
        start = _finite(start_w, number, "start")
        length = _finite(length_w, number, "length")
        velocity = _whole(velocity_w, number, "velocity")
        if not 0 <= pitch <= 127:
            raise OutOfRange(f"Note {number}: pitch {pitch} is outside the MIDI range 0-127.")
        if start < 0:
            raise OutOfRange(
                f"Note {number}: start {start_w} is before the clip start; it must be 0 or more."
            )
        if length <= 0:
            raise OutOfRange(f"Note {number}: length {length_w} must be more than 0 beats.")
        if start + length > MAX_CLIP_BEATS:
            raise OutOfRange(
                f"Note {number}: it ends after {MAX_CLIP_BEATS} beats (start {start_w}, "
                f"length {length_w}); a melody clip is at most {MAX_CLIP_BEATS} beats long."
            )
        if not 1 <= velocity <= 127:
            raise OutOfRange(f"Note {number}: velocity {velocity} must be between 1 and 127.")
        notes.append(Note(pitch, start, length, velocity))
    return tuple(notes)


def format_notes(notes: Sequence[Note]) -> str:
    """Write notes in the wire format :func:`parse_notes` reads (the exact inverse).

    Args:
        notes: the notes.

    Returns:
        One ``pitch start length velocity`` group per note, separated by spaces.
    """
    return " ".join(f"{n.pitch} {_number(n.start)} {_number(n.length)} {n.velocity}" for n in notes)


def _finite(word: str, number: int, name: str) -> float:
    try:
        value = float(word)
    except ValueError:
        raise InvalidValue(f"Note {number}: {name} {word!r} is not a number.") from None
    if not math.isfinite(value):
        raise InvalidValue(f"Note {number}: {name} {word!r} is not a usable number.")
    return value


def _whole(word: str, number: int, name: str) -> int:
    value = _finite(word, number, name)
    if not value.is_integer():
        raise InvalidValue(f"Note {number}: {name} {word!r} must be a whole number.")
    return int(value)


def _number(value: float) -> str:
    """Shortest text that reads back as exactly ``value``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# -- notes in seconds ----------------------------------------------------------


def notes_to_seconds(notes: Sequence[Note], bpm: float) -> tuple[TimedNote, ...]:
    """Place beat-timed notes on the clock at a fixed tempo.

    Args:
        notes: notes in quarter-note beats.
        bpm: quarter notes per minute.

    Returns:
        The same notes in seconds.

    Raises:
        OutOfRange: ``bpm`` is not a positive number.
    """
    if not math.isfinite(bpm) or bpm <= 0:
        raise OutOfRange(f"The tempo must be more than 0 bpm, got {bpm}.")
    spb = 60.0 / bpm
    return tuple(
        TimedNote(n.pitch, n.start * spb, (n.start + n.length) * spb, n.velocity) for n in notes
    )


# -- chroma ----------------------------------------------------------------------


def notes_to_chroma(
    notes: Sequence[TimedNote],
    seconds: float,
    params: ChromaParams,
    loop_s: float | None = None,
) -> np.ndarray:
    """The chroma sequence the extractor would give for a rendering of ``notes``.

    Each frame takes the pitch class of the highest note sounding at its centre
    (``start_s <= t < end_s``; the top voice is the melody).  A frame with no note
    is silence, one-hot on bin 0, as the extractor gives for silent audio.  Frame
    centres outside ``[0, seconds)`` (the edges, and the padding of audio shorter
    than one FFT window) read the nearest moment inside.

    Args:
        notes: notes in seconds from the start of the take.
        seconds: length of the take.
        params: the extractor's framing.
        loop_s: if given, the clip repeats every ``loop_s`` seconds, as a looping
            DAW clip does: time ``t`` reads the clip at ``t % loop_s``.

    Returns:
        float32 ``[params.frames_for_seconds(seconds), params.num_chroma]``, one-hot.

    Raises:
        OutOfRange: ``seconds`` is negative, or ``loop_s`` is not positive.
    """
    times = params.frame_times(seconds)
    if seconds > 0:
        times = np.clip(times, 0.0, seconds - 0.5 / params.sampling_rate)
    else:
        times = np.zeros_like(times)
    if loop_s is not None:
        if not math.isfinite(loop_s) or loop_s <= 0:
            raise OutOfRange(f"The loop length must be more than 0 seconds, got {loop_s}.")
        times = np.mod(times, loop_s)
    top = np.full(times.shape, -1, dtype=np.int64)
    for first in range(0, len(notes), _NOTE_BLOCK):
        block = notes[first : first + _NOTE_BLOCK]
        starts = np.array([n.start_s for n in block], dtype=np.float64)
        ends = np.array([n.end_s for n in block], dtype=np.float64)
        pitches = np.array([n.pitch for n in block], dtype=np.int64)
        on = (starts[None, :] <= times[:, None]) & (times[:, None] < ends[None, :])
        top = np.maximum(top, np.where(on, pitches[None, :], -1).max(axis=1))
    bins = np.where(top >= 0, top % params.num_chroma, 0)
    return _one_hot(bins, params.num_chroma)


SILENT_MELODY = "silent_melody"  # a warning code (engine.prompting.WARNING_CODES)
SILENCE_DBFS = -60.0  # a melody clip whose loudest sample is below this is silence


def silence_warning(audio: np.ndarray, name: str) -> Conflict | None:
    """A warning when melody audio ``[C, T]`` is silent, else None.

    The model would hear its silence as a steady C (a zero spectrum's chroma
    is bin 0), so a take would follow no melody the producer chose.
    """
    from engine.prompting import Conflict

    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak >= 10 ** (SILENCE_DBFS / 20):
        return None
    return Conflict(
        SILENT_MELODY,
        f"The melody audio {name} is silent (its loudest sample is below "
        f"{SILENCE_DBFS:g} dBFS) where the take uses it, so the take follows no melody: the "
        "model hears silence as a steady C. Choose a clip with the melody in it, or check "
        "audio_start and audio_end.",
    )


def audio_to_chroma(audio: np.ndarray, sample_rate: int, params: ChromaParams) -> np.ndarray:
    """The chroma sequence of audio, exactly as ``MusicgenMelodyFeatureExtractor`` computes it.

    One-hot on the largest bin of :func:`chroma_energy`, frame by frame.

    Args:
        audio: float ``[T]`` mono or ``[C, T]``.
        sample_rate: Hz.
        params: the extractor's framing.

    Returns:
        float32 ``[frames, params.num_chroma]``, one-hot; ``frames`` equals
        ``params.frames_for_seconds(T / sample_rate)`` at the model's rate.

    Raises:
        InvalidValue: the array is not ``[T]`` or ``[C, T]``, or the rate is not positive.
    """
    energy = chroma_energy(audio, sample_rate, params)
    return _one_hot(energy.argmax(axis=1), params.num_chroma)


def chroma_energy(audio: np.ndarray, sample_rate: int, params: ChromaParams) -> np.ndarray:
    """The extractor's chroma before it is made one-hot (each frame scaled to a peak of 1).

    Mono (mean of channels), resampled to ``params.sampling_rate`` if needed, padded
    to ``n_fft`` if shorter, then a centred power spectrogram (periodic Hann
    window, reflect padding, divided by the window's L2 norm as torchaudio's
    ``normalized=True`` does), projected on the chroma filter bank and divided by
    its per-frame maximum (at least 1e-6).

    Args:
        audio: float ``[T]`` mono or ``[C, T]``.
        sample_rate: Hz.
        params: the extractor's framing.

    Returns:
        float32 ``[frames, params.num_chroma]``; silent frames are all zero.

    Raises:
        InvalidValue: the array is not ``[T]`` or ``[C, T]``, or the rate is not positive.
    """
    import soxr
    import torch
    from transformers.audio_utils import chroma_filter_bank

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    elif audio.ndim != 1:
        raise InvalidValue(
            f"The melody audio must be one or more channels of samples, got shape {audio.shape}."
        )
    if sample_rate <= 0:
        raise InvalidValue(f"The melody audio's sample rate must be positive, got {sample_rate}.")
    if sample_rate != params.sampling_rate and audio.size:
        audio = soxr.resample(audio, sample_rate, params.sampling_rate, quality="VHQ")
    wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))

    n_fft = params.n_fft
    if wave.shape[-1] < n_fft:  # the extractor's padding, front and back
        pad = n_fft - wave.shape[-1]
        wave = torch.nn.functional.pad(wave[None], (pad // 2, pad // 2 + pad % 2))[0]

    window = torch.hann_window(n_fft)  # periodic, as torchaudio's default
    spec = torch.stft(
        wave,
        n_fft=n_fft,
        hop_length=params.hop_length,
        win_length=n_fft,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    spec = spec / window.pow(2).sum().sqrt()  # torchaudio normalized=True ("window")
    power = spec.abs().pow(2)  # [freq, frames]

    filters = torch.from_numpy(
        chroma_filter_bank(
            sampling_rate=params.sampling_rate,
            num_frequency_bins=n_fft,
            tuning=0,
            num_chroma=params.num_chroma,
        )
    ).float()
    raw = torch.einsum("cf,ft->ct", filters, power)
    norm = torch.nn.functional.normalize(raw, p=float("inf"), dim=0, eps=1e-6)
    return np.ascontiguousarray(norm.T.numpy(), dtype=np.float32)


def _one_hot(bins: np.ndarray, num_chroma: int) -> np.ndarray:
    out = np.zeros((len(bins), num_chroma), dtype=np.float32)
    out[np.arange(len(bins)), bins] = 1.0
    return out
