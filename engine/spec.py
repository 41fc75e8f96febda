"""What a caller may ask the engine for, as plain frozen data (no torch).

:class:`GenerationSpec` is the one description of a take.  The bridge builds it
from an OSC request, the CLI from flags; the engine turns it into audio and the
sidecar records it, so any take can be asked for again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.timing import TimeSignature, bars_to_seconds

# MusicGen's own sampling defaults (audiocraft MusicGen.set_generation_params).
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_K = 250
DEFAULT_TOP_P = 0.0
DEFAULT_GUIDANCE = 3.0


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

    def __post_init__(self) -> None:
        # Callers validate first; this only guards against programming errors.
        if (self.seconds is None) == (self.bars is None):
            raise ValueError("give exactly one of seconds or bars")
        if self.bars is not None and self.bpm is None:
            raise ValueError("bars needs bpm")

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
        data["out_dir"] = str(self.out_dir)
        data["timesig"] = str(self.timesig)
        return data
