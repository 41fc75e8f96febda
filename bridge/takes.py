"""Past takes, read back from their sidecars: ``musicgen-bridge takes [DIR]``.

Every take the engine writes has a JSON sidecar beside its WAV (engine/api.py
``_sidecar``; fields in docs/protocol.md).  This module walks a folder for
them and lists the takes newest first.  It reads JSON only: no engine, no
torch, so it works while the engine is stopped or busy.

Sidecar format versions read:

- 1: prompt, model, seed, params (bars, bpm, timesig, seconds...),
  duration_seconds, created, file.  No loudness.
- 2: adds ``loudness`` (``integrated_lufs``, ``true_peak_dbtp``, the target),
  ``checkpoint`` (revision or weights hash), ``adapter_hash`` and ``warnings``.

A sidecar of a newer version is read for the fields above, which every
version keeps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SIDECAR_FORMAT = "musicgen-bridge take"
KNOWN_VERSIONS = (1, 2)
MAX_SIDECAR_BYTES = 1_048_576  # sidecars are a few kB; anything bigger is not one
PROMPT_WIDTH = 36


@dataclass(frozen=True)
class TakeEntry:
    """One take as its sidecar describes it.

    Attributes:
        created: when it was made, ISO 8601 with the UTC offset ("" if unknown).
        prompt: the producer's text.
        model: the checkpoint's name.
        seed: its seed.
        bars, bpm: its length in bars and the tempo (None when asked in seconds).
        timesig: its time signature, "4/4".
        seconds: its length in seconds.
        loudness_lufs: its integrated loudness (None: format 1, or unmeasurable).
        true_peak_dbtp: its true peak (None: format 1, or silence).
        warnings: the codes of its warnings (prompt/request conflicts).
        path: the WAV (absolute).
        sidecar: the sidecar (absolute).
        format_version: the sidecar's format version.
    """

    created: str
    prompt: str
    model: str
    seed: int | None
    bars: float | None
    bpm: float | None
    timesig: str
    seconds: float | None
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    warnings: tuple[str, ...]
    path: str
    sidecar: str
    format_version: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class Listing:
    """The takes under a folder, newest first, and how many JSON files could not be read."""

    takes: list[TakeEntry]
    unreadable: int


def list_takes(folder: Path) -> Listing:
    """Every take whose sidecar lies under ``folder`` (subfolders too), newest first.

    Hidden files and folders (the engine's ``.partial`` files among them) are
    skipped; links to folders are not followed.

    Raises:
        FileNotFoundError, NotADirectoryError: ``folder`` is not a folder.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"{folder} does not exist.")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder.")
    takes, unreadable = [], 0
    for path in _json_files(folder):
        data = _load(path)
        if data is None:
            unreadable += 1
            continue
        if data.get("format") != SIDECAR_FORMAT:
            continue  # some other JSON file in the project folder
        try:
            takes.append(read_sidecar(data, path))
        except (TypeError, ValueError, AttributeError):
            unreadable += 1
    takes.sort(key=_newest_first)
    return Listing(takes, unreadable)


def read_sidecar(data: dict[str, Any], path: Path) -> TakeEntry:
    """A take's entry from its parsed sidecar (any format version) found at ``path``.

    Raises:
        TypeError, ValueError, AttributeError: fields of the wrong shape.
    """
    path = path.resolve()
    params = data.get("params") or {}
    loudness = data.get("loudness") or {}  # format 2 and later
    wav = data.get("file") or path.with_suffix(".wav").name
    return TakeEntry(
        created=str(data.get("created") or ""),
        prompt=str(data.get("prompt", "")),
        model=str(data.get("model", "")),
        seed=_int(data.get("seed")),
        bars=_float(params.get("bars")),
        bpm=_float(params.get("bpm")),
        timesig=str(params.get("timesig") or "4/4"),
        seconds=_float(data.get("duration_seconds")),
        loudness_lufs=_float(loudness.get("integrated_lufs")),
        true_peak_dbtp=_float(loudness.get("true_peak_dbtp")),
        warnings=tuple(str(w.get("code", "")) for w in data.get("warnings") or []),
        path=str(path.parent / Path(str(wav)).name),
        sidecar=str(path),
        format_version=int(data.get("format_version", 1)),
    )


def format_table(takes: list[TakeEntry]) -> str:
    """Aligned text: time, prompt, model, seed, bars @ bpm, length, LUFS, path; a header first."""
    rows = [("time", "prompt", "model", "seed", "bars @ bpm", "length", "loudness", "path")]
    for take in takes:
        rows.append(
            (
                _when(take.created),
                _clip(take.prompt, PROMPT_WIDTH),
                take.model,
                "" if take.seed is None else str(take.seed),
                _bars(take),
                "" if take.seconds is None else f"{take.seconds:.2f} s",
                "" if take.loudness_lufs is None else f"{take.loudness_lufs:.1f} LUFS",
                take.path,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


# -- helpers --------------------------------------------------------------------


def _json_files(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".json") and not name.startswith("."):
                yield Path(root) / name


def _load(path: Path) -> dict[str, Any] | None:
    """The parsed JSON object, or None when it cannot be read as one."""
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return {}  # not a sidecar; not an error either
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else {}


def _newest_first(take: TakeEntry) -> tuple[float, float, str]:
    """Sort key: creation time (second resolution), then the sidecar's mtime, newest first."""
    try:
        mtime = os.stat(take.sidecar).st_mtime
    except OSError:
        mtime = 0.0
    try:
        when = datetime.fromisoformat(take.created)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        stamp = when.timestamp()
    except ValueError:
        stamp = mtime
    return (-stamp, -mtime, take.path)


def _when(created: str) -> str:
    try:
        return datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return created or "?"


def _bars(take: TakeEntry) -> str:
    if take.bars is None or take.bpm is None:
        return "" if take.bpm is None else f"{take.bpm:g} bpm"
    sig = "" if take.timesig == "4/4" else f" {take.timesig}"
    bars = f"{take.bars:g} bar" if take.bars == 1 else f"{take.bars:g} bars"
    return f"{bars}{sig} @ {take.bpm:g}"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
