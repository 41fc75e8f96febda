"""What a caller may ask the engine for, as plain frozen data (no torch).

:class:`GenerationSpec` is the one description of a take.  The bridge builds it
from an OSC request, the CLI from flags; the engine turns it into audio and the
sidecar records it, so any take can be asked for again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.melody import Note
from engine.timing import TimeSignature, bars_to_seconds

# MusicGen's own sampling defaults (audiocraft MusicGen.set_generation_params).
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_K = 250
DEFAULT_TOP_P = 0.0
DEFAULT_GUIDANCE = 3.0
DEFAULT_PROMPT_SECONDS = 10.0
DEFAULT_SAMPLE_FORMAT = "pcm24"


@dataclass(frozen=True)
class GenerationSpec:
    """One take, fully described.

    Length is either ``seconds`` or ``bars`` (with ``bpm`` and ``timesig``); the
    written file is exactly that long, to the sample.

    Attributes:
        prompt: the text description, e.g. "dusty lo-fi drums with warm Rhodes".
        out_dir: absolute path of an existing folder to write the WAV and sidecar in.
        seconds: length in seconds, or None when ``bars`` is given.
        bars: length in bars (may be fractional), or None when ``seconds`` is given.
        bpm: project tempo in quarter notes per minute; needed with ``bars``.
        timesig: project time signature.
        seed: RNG seed; None lets the engine pick one (and record it).
        temperature: softmax temperature, > 0.
        top_k: sample among the k most likely tokens (0 disables).
        top_p: nucleus sampling threshold in [0, 1] (0 disables).
        guidance: classifier-free guidance scale (1 disables).
        model: checkpoint to use; None means whichever the engine has loaded.
        key: musical key, e.g. "A minor"; goes into the text conditioning.
        melody_notes: melody as notes in beats (needs bpm), for melody checkpoints.
        melody_length: the melody clip's length in beats: it repeats every so many
            beats (None: the last note's end rounded up to a whole bar).
        melody_midi: a .mid file whose notes are the melody (its own tempo map).
        melody_audio: an audio file whose chroma is the melody.
        continue_from: an audio file the take continues (its last ``prompt_seconds``).
        prompt_seconds: how much of ``continue_from``'s end conditions the take.
        audio_start, audio_end: the part of ``continue_from`` or ``melody_audio``
            to use, in seconds into the file (a trimmed DAW clip); None = the
            file's start and end.
        include_prompt: the written file starts with that prompt audio (as the
            codec renders it), then the continuation.
        variations: how many takes to make at once; take i uses seed + i.
        loop: the end crossfades into the start so the file loops seamlessly.
        tempo_correct: estimate the take's tempo and time-stretch it to ``bpm``.
        sample_rate: output rate in Hz; None keeps the model's (32000).
        sample_format: "pcm16", "pcm24" or "float".
        loudness: target integrated loudness in LUFS (e.g. -14), reached with
            one gain under the engine's true-peak ceiling; None: peak limiting only.
    """

    prompt: str
    out_dir: Path
    seconds: float | None = None
    bars: float | None = None
    bpm: float | None = None
    timesig: TimeSignature = field(default_factory=TimeSignature)
    seed: int | None = None
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = DEFAULT_TOP_K
    top_p: float = DEFAULT_TOP_P
    guidance: float = DEFAULT_GUIDANCE
    model: str | None = None
    key: str | None = None
    melody_notes: tuple[Note, ...] | None = None
    melody_length: float | None = None
    melody_midi: Path | None = None
    melody_audio: Path | None = None
    continue_from: Path | None = None
    prompt_seconds: float = DEFAULT_PROMPT_SECONDS
    audio_start: float | None = None
    audio_end: float | None = None
    include_prompt: bool = False
    variations: int = 1
    loop: bool = False
    tempo_correct: bool = False
    sample_rate: int | None = None
    sample_format: str = DEFAULT_SAMPLE_FORMAT
    loudness: float | None = None

    def __post_init__(self) -> None:
        # Callers validate first; this only guards against programming errors.
        if (self.seconds is None) == (self.bars is None):
            raise ValueError("give exactly one of seconds or bars")
        if self.bars is not None and self.bpm is None:
            raise ValueError("bars needs bpm")
        if sum(x is not None for x in (self.melody_notes, self.melody_midi, self.melody_audio)) > 1:
            raise ValueError("give at most one melody source")
        if self.melody_notes is not None and self.bpm is None:
            raise ValueError("melody_notes needs bpm")
        if self.tempo_correct and self.bpm is None:
            raise ValueError("tempo_correct needs bpm")
        if self.has_melody and self.continue_from is not None:
            raise ValueError("melody and continue_from do not combine")
        if (self.audio_start is not None or self.audio_end is not None) and (
            self.continue_from is None and self.melody_audio is None
        ):
            raise ValueError("audio_start/audio_end need continue_from or melody_audio")
        if self.variations < 1:
            raise ValueError("variations must be at least 1")

    @property
    def has_melody(self) -> bool:
        """True when the take is conditioned on a melody (notes, MIDI file or audio)."""
        return any(x is not None for x in (self.melody_notes, self.melody_midi, self.melody_audio))

    @property
    def duration_seconds(self) -> float:
        """The take's exact length in seconds."""
        if self.seconds is not None:
            return self.seconds
        assert self.bars is not None and self.bpm is not None  # guaranteed by __post_init__
        return bars_to_seconds(self.bars, self.bpm, self.timesig)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the sidecar)."""
        data = asdict(self)
        for name in ("out_dir", "melody_midi", "melody_audio", "continue_from"):
            if data[name] is not None:
                data[name] = str(data[name])
        data["timesig"] = str(self.timesig)
        if self.melody_notes is not None:
            data["melody_notes"] = [asdict(note) for note in self.melody_notes]
        return data


@dataclass(frozen=True)
class Order:
    """A spec with the hooks of the request that asked for it.

    Attributes:
        spec: what to make.
        on_progress: called with (steps done, steps in total) after each decode step.
        is_cancelled: polled after each decode step; True stops this request's takes.
        on_preview: asks for a preview (engine.preview): called with an
            ``engine.preview.PreviewReady`` after each piece of each take; None: none.
        label: names the request's preview files (the request id).
    """

    spec: GenerationSpec
    on_progress: Callable[[int, int], None] | None = None
    is_cancelled: Callable[[], bool] | None = None
    on_preview: Callable[[Any], None] | None = None
    label: str = ""
