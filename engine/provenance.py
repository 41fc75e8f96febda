"""Which weights made a take: the Hub revision, or a hash of a folder's weights.

A checkpoint from the Hugging Face cache sits in
``models--<org>--<name>/snapshots/<commit>/``: the folder's name is the Hub
commit it was downloaded at, which names its files exactly.  A local folder
has no such name, so its weights files (``*.safetensors``) are hashed with
SHA-256.  Hashing gigabytes takes seconds (about 2.4 s for a small-size
checkpoint on the H200 machine of issue 28), so hashes are kept in a small JSON
file in the bridge's cache, keyed by the file's identity: its resolved path,
size, modification time in nanoseconds, inode and device.  A reload, or the
next engine start, does not hash the same file again; a file replaced by
another (a copy that kept the time stamp, an edit in place that kept the size)
has another identity and is hashed again.

No torch here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HASH_CACHE_NAME = "weights-sha256.json"
_COMMIT = re.compile(r"[0-9a-f]{40}")
_CHUNK = 8 * 1024 * 1024


def hub_revision(folder: Path) -> tuple[str, str] | None:
    """(repo id, commit) when ``folder`` is a Hugging Face cache snapshot, else None.

    ``.../models--facebook--musicgen-small/snapshots/<40 hex>`` ->
    ``("facebook/musicgen-small", "<40 hex>")``.
    """
    folder = Path(folder)
    repo = folder.parent.parent.name
    if (
        folder.parent.name == "snapshots"
        and _COMMIT.fullmatch(folder.name)
        and repo.startswith("models--")
    ):
        return repo[len("models--") :].replace("--", "/"), folder.name
    return None


def weights_files(folder: Path) -> list[Path]:
    """The weights files the loader reads: every ``*.safetensors`` in ``folder``, sorted."""
    return sorted(Path(folder).glob("*.safetensors"))


def sha256_file(path: Path, cache_dir: Path | None = None) -> str:
    """SHA-256 of a file, hex; remembered in ``cache_dir`` by the file's identity.

    The identity (:func:`identity`) is the resolved path's size, mtime in
    nanoseconds, inode and device; any change to one of them hashes the file again.

    Raises:
        OSError: the file cannot be read.
    """
    path = Path(path).resolve()  # a snapshot's files are links into blobs/
    key = str(path)
    stamp = identity(path)
    cache_file = cache_dir / HASH_CACHE_NAME if cache_dir is not None else None
    cache = _read_cache(cache_file)
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and "sha256" in entry:
        return str(entry["sha256"])
    t0 = time.perf_counter()
    value = _sha256(path)
    log.info(
        "hashed %s (%.2f GB) in %.2f s for the sidecars%s",
        path.name,
        stamp[0] / 1e9,
        time.perf_counter() - t0,
        "" if cache_file is None else f"; remembered in {cache_file}",
    )
    if cache_file is not None:
        cache[key] = {"stamp": stamp, "sha256": value}
        _write_cache(cache_file, cache)
    return value


def identity(path: Path) -> list[int]:
    """What names one version of a file: ``[size, mtime_ns, inode, device]``.

    Why the inode and device as well as size and time: a checkpoint copied
    over another with ``cp -p`` or ``rsync -t`` keeps the time stamp, and can
    keep the size (the same shapes, other values); it never keeps the inode.

    Raises:
        OSError: the file cannot be read.
    """
    info = Path(path).stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev]


def describe(
    model_id: str, folder: Path, *, is_debug: bool, cache_dir: Path | None = None
) -> dict[str, Any]:
    """What names a checkpoint's weights exactly, for the sidecar.

    Args:
        model_id: the name it was asked for by.
        folder: where its files were read from.
        is_debug: the built-in random checkpoint (its weights are hashed: they
            are whatever this machine's torch built).
        cache_dir: where hashes are remembered (None: not remembered).

    Returns:
        ``{"source": "hub"|"folder"|"debug", "repo", "revision", "folder",
        "weights_sha256": {file name: hex} or None}``: a Hub snapshot names its
        revision (no hashing); a folder or the debug checkpoint hashes its weights.
    """
    hub = hub_revision(folder)
    if hub is not None and not is_debug:
        return {
            "source": "hub",
            "repo": hub[0],
            "revision": hub[1],
            "folder": str(folder),
            "weights_sha256": None,
        }
    hashes = {}
    for path in weights_files(folder):
        try:
            hashes[path.name] = sha256_file(path, cache_dir)
        except OSError as exc:
            log.warning("could not hash %s for the sidecar: %s", path, exc)
            hashes[path.name] = None
    return {
        "source": "debug" if is_debug else "folder",
        "repo": None,
        "revision": None,
        "folder": str(folder),
        "weights_sha256": hashes,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_cache(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written only costs a hash next time."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not remember a weights hash in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
