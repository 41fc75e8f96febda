"""The text MusicGen is conditioned on: the producer's prompt, plus tempo and key.

MusicGen was trained on descriptions that often state tempo and key, and it
follows them loosely.  When the project's tempo (or a key) is known and the
prompt does not already say one, it is appended: ``"warm rhodes, 92 bpm, in
A minor"``.  A prompt that names its own tempo or key is left as written.
"""

from __future__ import annotations

import re

from engine.errors import InvalidValue

_NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_NATURAL = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_KEY = re.compile(
    r"(?P<root>[a-g])(?P<accidental>#|b|♯|♭)?\s*"
    r"(?P<mode>maj|major|min|minor|m)?",
    re.IGNORECASE,
)
_STATES_TEMPO = re.compile(r"\b\d{2,3}(?:\.\d+)?\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_STATES_KEY = re.compile(
    r"\b(?:in|key(?: of)?:?)\s+[a-g](?:#|b|♯|♭)?(?:\s*(?:major|minor|maj|min|m))?\b"
    r"|\b[a-g](?:#|b|♯|♭)?\s*(?:major|minor)\b",
    re.IGNORECASE,
)


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
    if bpm is not None and not _STATES_TEMPO.search(prompt):
        parts.append(f"{bpm:g} bpm")
    if key is not None and not _STATES_KEY.search(prompt):
        parts.append(f"in {key}")
    return ", ".join(parts)
