"""Musical time to audio time: bars, beats, tempo and sample counts.

Everything a DAW needs to line a take up with its grid lives here, as plain
arithmetic with no torch.  Units are in every name: ``seconds``, ``beats``
(quarter notes), ``bpm`` (quarter notes per minute), ``frames`` (codec frames),
``samples`` (per channel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

ALLOWED_DENOMINATORS = (1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class TimeSignature:
    """A time signature such as 4/4, 3/4, 6/8 or 7/8."""

    numerator: int = 4
    denominator: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.numerator <= 64:
            raise ValueError(f"time signature numerator must be 1-64, got {self.numerator}.")
        if self.denominator not in ALLOWED_DENOMINATORS:
            raise ValueError(
                f"time signature denominator must be one of {ALLOWED_DENOMINATORS}, "
                f"got {self.denominator}."
            )

    @classmethod
    def parse(cls, text: str) -> TimeSignature:
        """Parse ``"7/8"``.  Raises ValueError with a readable message."""
        parts = text.strip().split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"time signature must look like 4/4 or 7/8, got {text!r}.")
        return cls(int(parts[0]), int(parts[1]))

    @property
    def quarter_notes_per_bar(self) -> Fraction:
        """Bar length in quarter notes: 4/4 -> 4, 6/8 -> 3, 7/8 -> 7/2."""
        return Fraction(self.numerator * 4, self.denominator)

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


def bars_to_seconds(bars: float, bpm: float, timesig: TimeSignature) -> float:
    """Length of ``bars`` bars in seconds.

    ``bpm`` counts quarter notes per minute, as Ableton and REAPER display it, so a
    6/8 bar (three quarter notes) at 120 bpm lasts 1.5 s.
    """
    if bpm <= 0:
        raise ValueError("bpm must be positive")
    return float(Fraction(bars) * timesig.quarter_notes_per_bar * 60 / Fraction(bpm))


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """Exact sample count for a length, rounded to the nearest sample."""
    return round(seconds * sample_rate)


def frames_for_samples(samples: int, sample_rate: int, frame_rate: float) -> int:
    """Codec frames needed to cover ``samples`` (rounded up; the surplus is trimmed)."""
    return max(1, math.ceil(samples * frame_rate / sample_rate - 1e-9))
