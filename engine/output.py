"""Writing takes: WAV plus JSON sidecar, atomically, never overwriting.

A take is written under a temporary hidden name in the destination folder,
flushed to disk, then linked to its final name, which fails rather than
replace an existing file.  A crash therefore leaves at most a hidden
``.*.partial`` file, never a truncated WAV under a real name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import WriteFailed

SLUG_MAX = 40
SUBTYPE = "PCM_24"  # what every DAW imports; headroom is kept by peak-limiting below
PEAK_LIMIT = 0.999  # linear; keeps 24-bit PCM from clipping


def slugify(prompt: str, limit: int = SLUG_MAX) -> str:
    """``"Dusty lo-fi drums, 92 BPM!"`` -> ``"dusty-lo-fi-drums-92-bpm"`` (ASCII, <= limit)."""
    text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = slug[:limit].rstrip("-")
    return slug or "take"


def take_stem(prompt: str, seed: int, when: datetime) -> str:
    """The engine's own file name (without extension): time, prompt slug, seed."""
    return f"{when:%Y%m%d-%H%M%S}_{slugify(prompt)}_s{seed}"


def limit_peak(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """Scale ``audio`` down if its peak would clip.  Returns (audio, gain in dB)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= PEAK_LIMIT:
        return audio, 0.0
    gain = PEAK_LIMIT / peak
    return audio * gain, float(20 * np.log10(gain))


def write_take(
    audio: np.ndarray,
    sample_rate: int,
    out_dir: Path,
    stem: str,
    sidecar: dict[str, Any],
    subtype: str = SUBTYPE,
) -> Path:
    """Write ``audio`` as ``out_dir/stem.wav`` and its sidecar ``stem.json``.

    If either name is taken, ``stem-2``, ``stem-3``... is used instead.

    Args:
        audio: float array ``[C, T]`` in [-1, 1].
        sample_rate: Hz.
        out_dir: an existing folder.
        stem: file name without extension.
        sidecar: JSON-ready description; ``file`` is added.
        subtype: soundfile subtype: "PCM_16", "PCM_24" or "FLOAT".

    Returns:
        Absolute path of the WAV.

    Raises:
        WriteFailed: the folder vanished, the disk is full, permission denied...
    """
    import soundfile as sf

    out_dir = out_dir.resolve()
    tmp = out_dir / f".{stem}.{os.getpid()}.partial.wav"
    try:
        with open(tmp, "xb") as fh:
            sf.write(fh, audio.T, sample_rate, subtype=subtype, format="WAV")
            fh.flush()
            os.fsync(fh.fileno())
        wav = _claim(tmp, out_dir, stem)
    except OSError as exc:
        _remove(tmp)
        raise WriteFailed(
            f"Could not write the take into {out_dir}: {exc.strerror or exc}."
        ) from exc
    except BaseException:
        _remove(tmp)
        raise
    meta = dict(sidecar, file=wav.name)
    try:
        _write_json_exclusive(wav.with_suffix(".json"), meta)
    except OSError as exc:
        raise WriteFailed(
            f"Wrote {wav.name} but not its sidecar in {out_dir}: {exc.strerror or exc}."
        ) from exc
    return wav


def _claim(tmp: Path, out_dir: Path, stem: str) -> Path:
    """Give ``tmp`` the first free final name; never replaces an existing file."""
    for n in range(1, 1000):
        name = stem if n == 1 else f"{stem}-{n}"
        wav = out_dir / f"{name}.wav"
        if wav.with_suffix(".json").exists():
            continue
        try:
            os.link(tmp, wav)  # atomic, and fails if the name exists
        except FileExistsError:
            continue
        except OSError:
            # Filesystems without hard links (FAT, some network shares): reserve
            # the name exclusively, then move the finished file over it.
            try:
                os.close(os.open(wav, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            try:
                os.replace(tmp, wav)
            except OSError:
                _remove(wav)  # our empty placeholder must not outlive the failure
                raise
            return wav
        _remove(tmp)
        return wav
    raise FileExistsError(f"no free name for {stem} in {out_dir}")


def _write_json_exclusive(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.json")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # the name was kept free together with the WAV's
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
