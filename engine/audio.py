"""Input audio and musical post-processing: numpy in, numpy out.

Reading the files a request names (melody audio, a take to continue) under the
read rules of docs/security.md, and the small jobs that make a take sit in a
DAW session: resampling, channel layout, exact length, a seamless loop point,
tempo estimation and tempo correction.  Audio arrays are float32 ``[channels,
samples]`` throughout.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import numpy as np

from engine.errors import BadFile, BadPath, InvalidValue, OutOfRange

MAX_INPUT_BYTES = 512 * 1024 * 1024
AUDIO_SUFFIXES = (".wav", ".wave", ".aif", ".aiff", ".flac")
MIDI_SUFFIXES = (".mid", ".midi")
SAMPLE_FORMATS = {"pcm16": "PCM_16", "pcm24": "PCM_24", "float": "FLOAT"}  # wire -> soundfile
SAMPLE_RATES = (22050, 32000, 44100, 48000, 88200, 96000)
LOOP_FADE_SECONDS = 0.05

TEMPO_RATE = 22050  # tempo analysis runs at this rate...
TEMPO_HOP = 256  # ...with this hop (11.6 ms frames), refined below one frame
_OCTAVE_RATIOS = (0.5, 1.0, 2.0, 2.0 / 3.0, 1.5)
_NO_BEAT = (
    "Could not hear a steady beat in the audio, so its tempo is unknown. "
    "Set the tempo yourself, or use a take with a clearer beat."
)


# -- reading ----------------------------------------------------------------------


def check_input_file(
    value: str, *, what: str, suffixes: tuple[str, ...], max_bytes: int = MAX_INPUT_BYTES
) -> Path:
    """Apply the read rules to a file a request names.

    The path must be absolute, without ``..``, exist, be a regular file once links
    are followed (never a folder, FIFO or device; nothing is opened here), end in
    one of ``suffixes`` and be at most ``max_bytes`` long.

    Args:
        value: the path as sent.
        what: the argument's name, for messages (``"melody_audio"``).
        suffixes: allowed endings, lower case with the dot.
        max_bytes: the size limit.

    Returns:
        The path.

    Raises:
        BadPath: relative, contains ``..``, missing, not a regular file, or not
            reachable (permission denied...).
        BadFile: the wrong kind of file, or too big.
    """
    path = Path(value)
    if not value or not path.is_absolute():
        raise BadPath(f"{what} must be a full (absolute) path, got {value!r}.")
    if ".." in path.parts:
        raise BadPath(f"{what} must not contain '..'; give the file's full path, got {value!r}.")
    try:
        info = os.stat(path)  # follows symlinks; never opens the file
    except FileNotFoundError:
        raise BadPath(f"{what}: {value} does not exist. Check the file is still there.") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadPath(f"{what}: cannot reach {value}: {reason}.") from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise BadPath(f"{what}: {value} is {kind}; name an ordinary file.")
    if path.suffix.lower() not in suffixes:
        allowed = ", ".join(suffixes)
        raise BadFile(
            f"{what}: {path.name} is not a file type the engine reads here; use one of {allowed}."
        )
    if info.st_size > max_bytes:
        raise BadFile(
            f"{what}: {path.name} is {info.st_size / 1_048_576:.1f} MB, over the "
            f"{max_bytes / 1_048_576:.1f} MB limit. Use a shorter file."
        )
    return path


def read_input_bytes(path: Path, *, what: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The whole of an input file, read under the read rules where it is read.

    The request's path was checked on arrival (:func:`check_input_file`), but the
    file may have been swapped since: it is opened without blocking (a FIFO put
    there must not hold the worker for good), checked on the open descriptor to
    be a regular file, and read no further than ``max_bytes``.

    Raises:
        BadPath: gone, not reachable, or not a regular file any more.
        BadFile: over ``max_bytes``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise BadPath(f"{what}: {path} no longer exists. Check the file is still there.") from None
    except OSError as exc:
        raise BadPath(f"{what}: cannot open {path}: {exc.strerror or exc}.") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadPath(
                f"{what}: {path} is no longer a regular file (it was replaced after the "
                "request was accepted); name an ordinary file."
            )
        too_big = BadFile(
            f"{what}: {path.name} is over the {max_bytes / 1_048_576:.1f} MB limit. "
            "Use a shorter file."
        )
        if info.st_size > max_bytes:
            raise too_big
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise too_big  # it grew since fstat
    except OSError as exc:
        raise BadPath(f"{what}: cannot read {path}: {exc.strerror or exc}.") from exc
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_audio(path: Path, *, what: str = "audio") -> tuple[np.ndarray, int]:
    """Decode an audio file, read with :func:`read_input_bytes`.

    Args:
        path: a WAV, AIFF or FLAC file (already checked with :func:`check_input_file`).
        what: the request key that named it, for messages.

    Returns:
        (float32 ``[C, T]``, sample rate in Hz).

    Raises:
        BadPath: the file was swapped for something that is not a regular file.
        BadFile: not decodable, too big, or no audio in it.
    """
    import io

    import soundfile as sf

    raw = read_input_bytes(path, what=what)
    try:
        data, rate = sf.read(io.BytesIO(raw), always_2d=True, dtype="float32")
    except (sf.SoundFileError, OSError, RuntimeError, TypeError, ValueError) as exc:
        raise BadFile(
            f"{path.name} is not a WAV, AIFF or FLAC file that can be read (its contents are "
            "damaged or of another kind). Export the clip again as WAV, AIFF or FLAC."
        ) from exc
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise BadFile(f"{path.name} is empty: it holds no audio. Choose a file with sound in it.")
    return np.ascontiguousarray(data.T), int(rate)


# -- format -----------------------------------------------------------------------


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr, very high quality), each channel alike.

    Args:
        audio: ``[C, T]``.
        from_rate: its rate in Hz.
        to_rate: the wanted rate in Hz.

    Returns:
        float32 ``[C, T']``, ``T'`` about ``T * to_rate / from_rate``.

    Raises:
        OutOfRange: a rate is not positive.
    """
    import soxr

    if from_rate <= 0 or to_rate <= 0:
        raise OutOfRange(f"Sample rates must be positive, got {from_rate} and {to_rate} Hz.")
    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate:
        return audio
    if audio.shape[-1] == 0:
        return np.zeros((audio.shape[0], 0), dtype=np.float32)
    out = soxr.resample(np.ascontiguousarray(audio.T), from_rate, to_rate, quality="VHQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, audio.shape[0]).T)


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Make ``audio`` mono or stereo.

    Mono is the mean of all channels; stereo duplicates mono, keeps stereo, and
    folds more channels to mono first.

    Args:
        audio: ``[C, T]``.
        channels: 1 or 2.

    Returns:
        float32 ``[channels, T]``.

    Raises:
        OutOfRange: ``channels`` is not 1 or 2.
    """
    if channels not in (1, 2):
        raise OutOfRange(f"Takes are mono (1) or stereo (2), got {channels} channels.")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape[0] == channels:
        return audio
    mono = audio.mean(axis=0, keepdims=True, dtype=np.float32)
    return mono if channels == 1 else np.repeat(mono, 2, axis=0)


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Trim, or pad with silence at the end, to exactly ``samples``.

    Args:
        audio: ``[C, T]``.
        samples: the wanted length, >= 0.

    Returns:
        ``[C, samples]``.

    Raises:
        OutOfRange: ``samples`` is negative.
    """
    if samples < 0:
        raise OutOfRange(f"A length cannot be negative, got {samples} samples.")
    have = audio.shape[-1]
    if have >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - have)))


# -- loops --------------------------------------------------------------------------


def loop_fade_samples(sample_rate: int, seconds: float = LOOP_FADE_SECONDS) -> int:
    """Crossfade length for a loop point, in samples (at least 1).

    Args:
        sample_rate: Hz.
        seconds: fade length.

    Returns:
        ``round(seconds * sample_rate)``, at least 1.
    """
    return max(1, round(seconds * sample_rate))


def loop_crossfade(audio: np.ndarray, samples: int, fade: int) -> np.ndarray:
    """Turn a take rendered ``fade`` samples past the loop end into a seamless loop.

    The overhang ``audio[:, samples:samples + fade]`` (what plays right after the
    loop end) is crossfaded into the head ``audio[:, :fade]`` with an equal-power
    fade: the loop starts on the overhang and fades into the head.  Playing the
    result in a loop, the last sample runs on into the first as the take itself did.

    Args:
        audio: ``[C, T]`` with ``T >= samples + fade``.
        samples: the loop length.
        fade: the crossfade length, ``1 <= fade <= samples``.

    Returns:
        float32 ``[C, samples]``.

    Raises:
        OutOfRange: ``audio`` is too short, or ``fade`` is out of range.
    """
    if not 1 <= fade <= samples:
        raise OutOfRange(f"The loop crossfade must be 1 to {samples} samples, got {fade}.")
    if audio.shape[-1] < samples + fade:
        raise OutOfRange(
            f"A loop of {samples} samples with a {fade}-sample crossfade needs "
            f"{samples + fade} samples of audio, got {audio.shape[-1]}."
        )
    out = np.array(audio[:, :samples], dtype=np.float32)
    angle = (np.arange(fade, dtype=np.float64) / fade) * (math.pi / 2)
    fade_in = np.sin(angle).astype(np.float32)
    fade_out = np.cos(angle).astype(np.float32)
    out[:, :fade] = audio[:, :fade] * fade_in + audio[:, samples : samples + fade] * fade_out
    return out


# -- tempo --------------------------------------------------------------------------


def estimate_tempo(audio: np.ndarray, sample_rate: int, hint_bpm: float | None = None) -> float:
    """Estimate the tempo of a take, to a fraction of a bpm on a steady beat.

    librosa's beat tracker finds the beats on an onset envelope with 11.6 ms
    frames; each beat is then placed below one frame on its onset peak, and a
    straight line fitted to beat times against beat numbers gives the period.
    ``hint_bpm`` (usually the session tempo) settles half/double-time and
    two-against-three readings: of x0.5, x1, x2, x2/3 and x3/2, the reading
    nearest the hint wins.

    Args:
        audio: ``[C, T]`` or ``[T]``.
        sample_rate: Hz.
        hint_bpm: the tempo expected, if known.

    Returns:
        The tempo in quarter notes per minute.

    Raises:
        InvalidValue: no steady beat could be found (silence, too short, free time).
        OutOfRange: ``hint_bpm`` is not a positive number.
    """
    import librosa

    if hint_bpm is not None and (not math.isfinite(hint_bpm) or hint_bpm <= 0):
        raise OutOfRange(f"The tempo hint must be more than 0 bpm, got {hint_bpm}.")
    mono = np.asarray(audio, dtype=np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=0)
    if mono.size and sample_rate != TEMPO_RATE:
        mono = resample(mono[None], sample_rate, TEMPO_RATE)[0]
    if mono.size < TEMPO_RATE:  # under a second: not enough beats to measure
        raise InvalidValue(_NO_BEAT)
    envelope = librosa.onset.onset_strength(y=mono, sr=TEMPO_RATE, hop_length=TEMPO_HOP)
    tempo, beats = librosa.beat.beat_track(
        onset_envelope=envelope,
        sr=TEMPO_RATE,
        hop_length=TEMPO_HOP,
        start_bpm=float(np.clip(hint_bpm, 30.0, 300.0)) if hint_bpm else 120.0,
        units="frames",
    )
    coarse = float(np.atleast_1d(tempo)[0])
    if not coarse > 0 or len(beats) < 2:
        raise InvalidValue(_NO_BEAT)
    bpm = _refine_tempo(envelope, beats, coarse) or coarse
    if hint_bpm is None:
        return bpm
    candidates = [bpm * r for r in _OCTAVE_RATIOS]
    return min(candidates, key=lambda c: abs(math.log(c / hint_bpm)))


def _refine_tempo(envelope: np.ndarray, beats: np.ndarray, coarse_bpm: float) -> float | None:
    """Least-squares tempo from beat positions refined on the onset peaks; None if too few."""
    period_frames = 60.0 / coarse_bpm * TEMPO_RATE / TEMPO_HOP
    reach = max(1, int(0.15 * period_frames))
    positions, heights = [], []
    for beat in beats:
        lo, hi = max(int(beat) - reach, 1), min(int(beat) + reach + 1, len(envelope) - 1)
        if hi - lo < 3:
            continue
        peak = lo + int(np.argmax(envelope[lo:hi]))
        left, top, right = envelope[peak - 1], envelope[peak], envelope[peak + 1]
        if top <= 0 or top < left or top < right:
            continue  # no onset peak near this beat (a beat the tracker filled in)
        curve = left - 2 * top + right
        offset = 0.5 * (left - right) / curve if curve < 0 else 0.0  # parabolic peak
        positions.append(peak + offset)
        heights.append(top)
    if len(positions) < 4:
        return None
    heights_a = np.array(heights)
    times = np.array(positions)[heights_a >= 0.25 * np.median(heights_a)] * TEMPO_HOP / TEMPO_RATE
    period = 60.0 / coarse_bpm
    index = np.round((times - times[0]) / period)
    for _ in range(3):  # fit, drop beats off the line, renumber, fit again
        if len(np.unique(index)) < 4:
            return None
        period, origin = np.polyfit(index, times, 1)
        if period <= 0:
            return None
        on_line = np.abs(times - (origin + period * index)) < 0.1 * period
        times = times[on_line]
        index = np.round((times - origin) / period)
    if len(np.unique(index)) < 4:
        return None
    period, _ = np.polyfit(index, times, 1)
    return 60.0 / float(period) if period > 0 else None


def stretch_to_tempo(
    audio: np.ndarray, sample_rate: int, from_bpm: float, to_bpm: float
) -> np.ndarray:
    """Time-stretch a take from one tempo to another, keeping its pitch.

    Uses librosa's phase-vocoder ``time_stretch`` on each channel.

    Args:
        audio: ``[C, T]``.
        sample_rate: Hz (unused by the stretch itself; kept for a uniform signature).
        from_bpm: the take's tempo.
        to_bpm: the wanted tempo.

    Returns:
        float32 ``[C, T']``, ``T'`` about ``T * from_bpm / to_bpm``.

    Raises:
        OutOfRange: a tempo is not a positive number.
    """
    import librosa

    for name, value in (("from", from_bpm), ("to", to_bpm)):
        if not math.isfinite(value) or value <= 0:
            raise OutOfRange(f"The {name} tempo must be more than 0 bpm, got {value}.")
    audio = np.asarray(audio, dtype=np.float32)
    rate = to_bpm / from_bpm
    if rate == 1.0:
        return audio.copy()
    channels = [librosa.effects.time_stretch(ch, rate=rate) for ch in audio]
    return np.stack(channels).astype(np.float32, copy=False)
