"""The text MusicGen is conditioned on: the producer's prompt, plus tempo and key.

MusicGen was trained on descriptions that often state tempo and key, and it
follows them loosely.  When the project's tempo (or a key) is known and the
prompt does not already say one, it is appended: ``"warm rhodes, 92 bpm, in
A minor"``.  A prompt that names its own tempo or key is left as written.

When the prompt states a tempo, key or time signature that differs from the
request's, :func:`conflicts` says so in words (the bridge sends them as
``/musicgen/warning``).  Which value wins: the model hears the prompt as
written (the producer's own words are never rewritten, and a second,
contradicting tempo or key is not appended); the take's length always follows
the request's bars, bpm and time signature, so it lines up with the project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidValue
from engine.timing import ALLOWED_DENOMINATORS, TimeSignature

TEMPO_CONFLICT = "tempo_conflict"
KEY_CONFLICT = "key_conflict"
TIMESIG_CONFLICT = "timesig_conflict"
# silent_melody: engine.melody.silence_warning (the melody audio is silent).
WARNING_CODES = (TEMPO_CONFLICT, KEY_CONFLICT, TIMESIG_CONFLICT, "silent_melody")
TEMPO_TOLERANCE_BPM = 0.5  # "92 bpm" in the prompt agrees with a project at 92.3

_NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_NATURAL = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_KEY = re.compile(
    r"(?P<root>[a-g])(?P<accidental>#|b|♯|♭)?\s*"
    r"(?P<mode>maj|major|min|minor|m)?",
    re.IGNORECASE,
)
_STATES_TEMPO = re.compile(
    r"\b(?P<bpm>\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)\b", re.IGNORECASE
)
_MODE = r"(?:major|minor|maj|min|m)"
# A key the prompt states: "in G", "key of F#m", "in a minor", "Eb major".  A bare
# root after "in" must be a capital ("jazz in a smoky bar" states no key); with
# a mode word, any case ("m" only right after the root: "Am").  With a mode first.
_STATES_KEY = re.compile(
    r"\b(?i:in|key(?: of)?:?)\s+(?P<root1>[a-gA-G](?:#|b|♯|♭)?)"
    r"(?P<mode1>\s*(?i:major|minor|maj|min)|m)(?![\w#♯♭])"
    r"|\b(?i:in|key(?: of)?:?)\s+(?P<root2>[A-G](?:#|b|♯|♭)?)(?P<mode2>)(?![\w#♯♭])"
    r"|(?<![\w#])(?P<root3>[a-gA-G](?:#|b|♯|♭)?)\s*(?P<mode3>(?i:major|minor))\b",
)
# "in 3/4", "7/8 time", "6/8 groove": n/d with a musical denominator, not a date or "24/7".
_STATES_TIMESIG = re.compile(r"(?<![\w/.])(?P<num>\d{1,2})/(?P<den>\d{1,2})(?![\w/.])")


def parse_key(text: str) -> str:
    """``"f#m"`` -> ``"F# minor"``; ``"Bb"`` -> ``"Bb major"``; ``"a minor"`` -> ``"A minor"``.

    Raises:
        InvalidValue: not a key.
    """
    match = _KEY.fullmatch(text.strip())
    if match is None:
        raise InvalidValue(f"key must be like 'A minor', 'F#m' or 'Eb major', got {text!r}.")
    pitch = _NATURAL[match["root"].lower()]
    accidental = match["accidental"] or ""
    pitch = (
        pitch + (1 if accidental in ("#", "♯") else -1 if accidental in ("b", "♭") else 0)
    ) % 12
    mode = (match["mode"] or "major").lower()
    minor = mode in ("m", "min", "minor") and match["mode"] != "M"
    return f"{_NOTE_NAMES[pitch]} {'minor' if minor else 'major'}"


def conditioning_text(prompt: str, bpm: float | None, key: str | None) -> str:
    """The prompt with tempo and key appended where it does not state them."""
    parts = [prompt.strip().rstrip(",.;")]
    if bpm is not None and stated_tempo(prompt) is None:
        parts.append(f"{bpm:g} bpm")
    if key is not None and stated_key(prompt) is None:
        parts.append(f"in {key}")
    return ", ".join(parts)


def stated_tempo(prompt: str) -> float | None:
    """The tempo the prompt states (``"house at 124 BPM"`` -> 124.0), or None."""
    match = _STATES_TEMPO.search(prompt)
    return float(match["bpm"]) if match else None


def stated_key(prompt: str) -> str | None:
    """The key the prompt states, normalised (``"techno in g major"`` -> ``"G major"``), or None."""
    for match in _STATES_KEY.finditer(prompt):
        for n in ("1", "2", "3"):
            if match[f"root{n}"]:
                mode = (match[f"mode{n}"] or "").strip()
                return parse_key(match[f"root{n}"] + (mode if mode else ""))
    return None


def stated_timesig(prompt: str) -> TimeSignature | None:
    """The time signature the prompt states (``"waltz in 3/4"`` -> 3/4), or None."""
    for match in _STATES_TIMESIG.finditer(prompt):
        num, den = int(match["num"]), int(match["den"])
        if 1 <= num <= 64 and den in ALLOWED_DENOMINATORS and not (num == den == 1):
            return TimeSignature(num, den)
    return None


@dataclass(frozen=True)
class Conflict:
    """The prompt says one thing and the request another.

    Attributes:
        code: ``tempo_conflict``, ``key_conflict`` or ``timesig_conflict`` (stable).
        message: a sentence for the producer: both values, which one the
            model heard, which one the length follows, and the fix.
    """

    code: str
    message: str


def conflicts(
    prompt: str,
    bpm: float | None,
    key: str | None,
    timesig: TimeSignature,
    *,
    bars: float | None = None,
) -> list[Conflict]:
    """Where the prompt states a tempo, key or time signature other than the request's.

    Args:
        prompt: the producer's text.
        bpm: the request's tempo (None: it sent none, nothing to conflict with).
        key: the request's key, normalised as :func:`parse_key` makes it.
        timesig: the request's time signature.
        bars: the request's length in bars; the time signature only conflicts
            when the length is in bars (with seconds it shapes nothing).

    Returns:
        The conflicts, tempo first, then key, then time signature.
    """
    found = []
    said_bpm = stated_tempo(prompt)
    if bpm is not None and said_bpm is not None and abs(said_bpm - bpm) > TEMPO_TOLERANCE_BPM:
        length = f"{_bars(bars)} at {bpm:g} bpm" if bars is not None else f"timed at {bpm:g} bpm"
        found.append(
            Conflict(
                TEMPO_CONFLICT,
                f"The prompt says {said_bpm:g} bpm but the project tempo is {bpm:g} bpm: the "
                f"model was told {said_bpm:g} bpm, and the take is {length}, so it may not sit "
                "on the grid. Take the tempo out of the prompt to have the project's used.",
            )
        )
    said_key = stated_key(prompt)
    if key is not None and said_key is not None and said_key != key:
        found.append(
            Conflict(
                KEY_CONFLICT,
                f"The prompt says {said_key} but the key asked for is {key}: the model was told "
                f"{said_key}. Take the key out of the prompt to have {key} used.",
            )
        )
    said_sig = stated_timesig(prompt)
    if bars is not None and said_sig is not None and said_sig != timesig:
        found.append(
            Conflict(
                TIMESIG_CONFLICT,
                f"The prompt says {said_sig} but the project is in {timesig}: the model was told "
                f"{said_sig}, and the take is {_bars(bars)} of {timesig}, so its bars may not "
                "fall on the project's. Take the time signature out of the prompt, or set the "
                "project's.",
            )
        )
    return found


def _bars(bars: float) -> str:
    return f"{bars:g} bar" if bars == 1 else f"{bars:g} bars"
