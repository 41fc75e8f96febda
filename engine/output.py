"""Writing takes: WAV plus JSON sidecar, atomically, never overwriting.

A take is written under a temporary hidden name in the destination folder,
flushed to disk, then linked to its final name, which fails rather than
replace an existing file.  A crash therefore leaves at most a hidden
``.{stem}.{pid}.partial.wav`` file, never a truncated WAV under a real name;
such a file whose process is gone is removed the next time the engine writes
to that folder (:func:`remove_stale_partials`).  A write that fails (disk
full, read-only disk, permission denied, the folder gone) leaves nothing of
the take behind and raises :class:`WriteFailed` with the reason in words.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import WriteFailed

log = logging.getLogger(__name__)

SLUG_MAX = 40
SUBTYPE = "PCM_24"  # what every DAW imports; headroom is kept by peak-limiting below
PEAK_LIMIT = 0.999  # linear; keeps 24-bit PCM from clipping
# The engine's own temporary names: ".{take_stem}[-n].{pid}.partial.wav|json".
_PARTIAL = re.compile(r"\.\d{8}-\d{6}_[a-z0-9-]*_s\d+(?:-\d+)?\.(\d+)\.partial\.(?:wav|json)")
# What an OSError means for a producer, by errno.
_REASONS = {
    errno.ENOSPC: "the disk is full; free some space",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk quota is used up; free some space",
    errno.EROFS: "the folder is on a read-only disk",
    errno.EACCES: "permission denied: the engine may not write there",
    errno.EPERM: "permission denied: the engine may not write there",
    errno.ENOENT: "the folder no longer exists",
    errno.ENOTDIR: "the folder no longer exists",
    errno.EFBIG: "the file is too large for that disk",
    errno.EIO: "the disk reported an input/output error",
}


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
    remove_stale_partials(out_dir)
    # Encoded in memory first: soundfile turns an OSError raised while it
    # writes to a file into a bare AssertionError (a full disk answered
    # "Internal error: "), so the disk is touched only with the bytes in hand,
    # where a failure is an OSError that says why.
    encoded = io.BytesIO()
    sf.write(encoded, audio.T, sample_rate, subtype=subtype, format="WAV")
    tmp = out_dir / f".{stem}.{os.getpid()}.partial.wav"
    try:
        with open(tmp, "xb") as fh:
            fh.write(encoded.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        wav = _claim(tmp, out_dir, stem)
    except OSError as exc:
        _remove(tmp)
        raise WriteFailed(f"Could not write the take into {out_dir}: {reason(exc)}.") from exc
    except BaseException:
        _remove(tmp)
        raise
    meta = dict(sidecar, file=wav.name)
    try:
        _write_json_exclusive(wav.with_suffix(".json"), meta)
    except OSError as exc:
        _remove(wav)  # a take without its sidecar does not stay behind
        raise WriteFailed(
            f"Could not write the take's sidecar into {out_dir}: {reason(exc)}."
        ) from exc
    return wav


def reason(exc: OSError) -> str:
    """An OSError as words a producer can act on, with the system's own words after."""
    words = _REASONS.get(exc.errno or 0)
    system = exc.strerror or str(exc) or type(exc).__name__
    return f"{words} ({system})" if words else system


def discard_take(wav: Path) -> None:
    """Remove a written take (its WAV and sidecar); never raises."""
    _remove(wav.with_suffix(".json"))
    _remove(wav)


def remove_stale_partials(folder: Path) -> list[str]:
    """Remove the engine's temporary files in ``folder`` whose process is gone.

    Only names of the engine's own making (``.{stem}.{pid}.partial.wav|json``)
    are touched, only regular files, and only when no process has that pid:
    another engine still writing keeps its file.  Never raises.

    Returns:
        The names removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed  # the write that follows says what is wrong with the folder
    for entry in entries:
        match = _PARTIAL.fullmatch(entry.name)
        try:
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        if _process_exists(int(match.group(1))):
            continue
        if _remove(Path(entry.path)):
            removed.append(entry.name)
    if removed:
        log.info("removed stale partial file(s) in %s: %s", folder, ", ".join(removed))
    return removed


def _process_exists(pid: int) -> bool:
    """Whether a process has ``pid`` (True where that cannot be told)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


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


def _remove(path: Path) -> bool:
    """Unlink ``path`` if it can be; True if it was.  Never raises: a failure
    path that cannot clean up (a read-only disk) must still report its cause."""
    with contextlib.suppress(OSError):
        path.unlink()
        return True
    return False
