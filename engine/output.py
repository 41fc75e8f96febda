"""Writing takes: WAV plus JSON sidecar, atomically, never overwriting.

A request's files are each written whole under a hidden temporary name in the
destination folder (``.{name}.{pid}.partial.wav|json``) and flushed to disk;
then a hidden journal (``.{name}.{pid}.partial.publish``) lists the final
names, each file is linked to its final name (which fails rather than replace
anything there, file or symlink), and the journal goes.  So a crash, SIGKILL
included, leaves either all of a request's takes or none of them under final
names, plus hidden files: the next time the engine writes to that folder it
removes those whose process is gone, and what a journal names
(:func:`remove_stale_partials`).  A write that fails (disk full, read-only
disk, permission denied, the folder gone) leaves nothing of the takes behind
and raises :class:`WriteFailed` with the reason in words.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import re
import stat
import unicodedata
from collections.abc import Sequence
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
_PARTIAL = re.compile(r"\.\d{8}-\d{6}_[a-z0-9-]*_s\d+(?:-\d+)?\.(\d+)\.partial\.(wav|json|publish)")
_FINAL = re.compile(r"\d{8}-\d{6}_[a-z0-9-]*_s\d+(?:-\d+)?\.(?:wav|json)")
MAX_JOURNAL_BYTES = 1 << 20
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
    """Write one take; :func:`write_takes` for a request of one.  Returns the WAV's path."""
    [wav] = write_takes([(stem, audio, sidecar)], sample_rate, out_dir, subtype)
    return wav


def write_takes(
    takes: Sequence[tuple[str, np.ndarray, dict[str, Any]]],
    sample_rate: int,
    out_dir: Path,
    subtype: str = SUBTYPE,
) -> list[Path]:
    """Write a request's takes, each as ``out_dir/stem.wav`` and its sidecar ``stem.json``,
    all of them published together once every file is written.

    If a name is taken (by anything: a file, a folder, a symlink, even a
    dangling one), ``stem-2``, ``stem-3``... is used instead.  Every file is
    first written whole under a hidden temporary name and flushed; then a
    hidden journal naming the final names is written, the final names are
    linked, and the journal is removed.  A crash before that leaves only
    hidden files; a crash while linking leaves the journal, and the next write
    to the folder removes what it names (:func:`remove_stale_partials`): a
    request's takes are there all together, or not at all.

    Args:
        takes: (stem, float audio ``[C, T]`` in [-1, 1], JSON-ready sidecar)
            per take; ``file`` is added to each sidecar.
        sample_rate: Hz.
        out_dir: an existing folder.
        subtype: soundfile subtype: "PCM_16", "PCM_24" or "FLOAT".

    Returns:
        Absolute paths of the WAVs, in order.

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
    encoded = []
    for _, audio, _ in takes:
        buffer = io.BytesIO()
        sf.write(buffer, audio.T, sample_rate, subtype=subtype, format="WAV")
        encoded.append(buffer.getvalue())
    for _ in range(_PUBLISH_TRIES):
        staged: list[Path] = []
        what = "the take"  # what was being written, for the error
        try:
            names = _free_names(out_dir, [stem for stem, _, _ in takes])
            files = []  # (hidden, final) per file, WAV then sidecar per take
            for name, data, (_, _, meta) in zip(names, encoded, takes, strict=True):
                sidecar = json.dumps(dict(meta, file=f"{name}.wav"), indent=2, ensure_ascii=False)
                for suffix, body in ((".wav", data), (".json", (sidecar + "\n").encode())):
                    hidden = out_dir / f".{name}.{os.getpid()}.partial{suffix}"
                    what = "the take's sidecar" if suffix == ".json" else "the take"
                    _write_new(hidden, body)
                    staged.append(hidden)
                    files.append((hidden, out_dir / f"{name}{suffix}"))
            what = "the take"
            journal = out_dir / f".{names[0]}.{os.getpid()}.partial.publish"
            entries = [[final.name, os.stat(hidden).st_ino] for hidden, final in files]
            _write_new(journal, json.dumps(entries).encode())
            staged.append(journal)
            published: list[tuple[Path, int]] = []
            try:
                for (hidden, final), (_, inode) in zip(files, entries, strict=True):
                    _publish(hidden, final)
                    published.append((final, inode))
            except FileExistsError:  # a name taken since it was chosen: choose again
                _unpublish(published)
                continue
            except BaseException:
                _unpublish(published)
                raise
            _sync_folder(out_dir)
            _remove(journal)  # from here on the takes are published
            return [final for _, final in files[::2]]
        except OSError as exc:
            raise WriteFailed(f"Could not write {what} into {out_dir}: {reason(exc)}.") from exc
        finally:
            for path in staged:
                _remove(path)
    raise WriteFailed(
        f"Could not write the take into {out_dir}: its names kept being taken by other "
        "files while it was written. Try again."
    )


_PUBLISH_TRIES = 3


def _free_names(out_dir: Path, stems: Sequence[str]) -> list[str]:
    """For each stem, the first of stem, stem-2, ... whose WAV and sidecar names are
    both free (nothing there, not even a dangling symlink), distinct in the request."""
    names: list[str] = []
    for stem in stems:
        for n in range(1, 1000):
            name = stem if n == 1 else f"{stem}-{n}"
            if name in names:
                continue
            if not any(os.path.lexists(out_dir / f"{name}{s}") for s in (".wav", ".json")):
                names.append(name)
                break
        else:
            raise FileExistsError(errno.EEXIST, f"no free name for {stem} in {out_dir}")
    return names


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never through an existing name or link), write, flush to disk."""
    with open(path, "xb") as fh:
        try:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        except BaseException:
            _remove(path)  # made here, so ours to remove
            raise


def _publish(hidden: Path, final: Path) -> None:
    """Give the written file ``hidden`` the name ``final``, which must not exist.

    A hard link is atomic and fails on any existing name.  Filesystems without
    hard links (FAT, some network shares): reserve the name exclusively, then
    move the file over it (the hidden name goes; the journal still names it).
    """
    try:
        os.link(hidden, final)
        return
    except FileExistsError:
        raise
    except OSError:
        pass
    os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    try:
        os.replace(hidden, final)
    except OSError:
        _remove(final)  # our empty placeholder must not outlive the failure
        raise


def _unpublish(published: Sequence[tuple[Path, int]]) -> None:
    """Remove the final names this request already published (never raises)."""
    for final, inode in published:
        if _is_ours(final, inode):
            _remove(final)


def _is_ours(final: Path, inode: int) -> bool:
    """Whether ``final`` is the file published under the journal's inode, or the
    empty placeholder that reserved it."""
    try:
        info = os.lstat(final)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (info.st_ino == inode or info.st_size == 0)


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entries to disk where the system allows (POSIX)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
    for entry, match in dead_process_files(folder, _PARTIAL):
        if match.group(2) == "publish":
            removed += _undo_publishing(Path(entry.path))
        if _remove(Path(entry.path)):
            removed.append(entry.name)
    if removed:
        log.info("removed stale partial file(s) in %s: %s", folder, ", ".join(removed))
    return removed


def dead_process_files(folder: Path, names: re.Pattern[str]) -> list[tuple[os.DirEntry, re.Match]]:
    """The regular files in ``folder`` named by ``names`` whose process is gone.

    Args:
        folder: where to look; an unreadable folder has none (never raises).
        names: the whole name's pattern; its first group is the writing process's pid.

    Returns:
        (entry, match) for each such file; a live process's files are left out.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []  # the write that follows says what is wrong with the folder
    found = []
    for entry in entries:
        match = names.fullmatch(entry.name)
        try:
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        if not _process_exists(int(match.group(1))):
            found.append((entry, match))
    return found


def _undo_publishing(journal: Path) -> list[str]:
    """Remove what a publishing cut short (its journal left behind) had published.

    Only the journal's own names in its folder, and only files that are the
    very ones it published (the inode it recorded) or its empty placeholders.
    """
    removed = []
    try:
        data = _read_own_file(journal, MAX_JOURNAL_BYTES)
        entries = json.loads(data)
    except (OSError, ValueError):
        return removed
    if not isinstance(entries, list):
        return removed
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            continue
        name, inode = entry
        if not _FINAL.fullmatch(name) or not isinstance(inode, int):
            continue
        final = journal.parent / name
        if _is_ours(final, inode) and _remove(final):
            removed.append(name)
    return removed


def _read_own_file(path: Path, limit: int) -> bytes:
    """Read a small file of the engine's own, never through a link or a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError("journal too long")
    return data


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


def _remove(path: Path) -> bool:
    """Unlink ``path`` if it can be; True if it was.  Never raises: a failure
    path that cannot clean up (a read-only disk) must still report its cause."""
    with contextlib.suppress(OSError):
        path.unlink()
        return True
    return False
