"""What is on this machine: every checkpoint a request could name, and its state.

Five kinds, in this order:

- ``debug``: the built-in random-weight checkpoints (built on first use).
- ``cache``: MusicGen checkpoints in the Hugging Face cache, one entry per
  snapshot (``models--org--name/snapshots/<commit>``), with the commit as its
  revision and the bytes its files take on disk.
- ``folder``: checkpoints in Hugging Face format under ``serve --models-dir``
  (each subfolder whose config.json names a MusicGen model), named by path.
- ``adapter``: LoRA adapters under ``serve --adapters-dir`` (each subfolder
  with an adapter_config.json, engine.adapters), named ``BASE+NAME`` after the
  base their config names (just ``NAME`` when it names none), with that base.
- ``release``: Meta's released checkpoints not in the cache, with their
  approximate download size (None where no figure is known) and the command
  that fetches one.

A checkpoint counts as MusicGen when its config.json's ``model_type`` is
``musicgen`` or ``musicgen_melody``.  Torch-free: the bridge answers
``/musicgen/models`` from its receiving thread, so a scan is cached and only
redone when a folder it read has changed (one ``stat`` per snapshot to check;
folders changed in the last two seconds are always rescanned).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from engine import adapters
from engine.debug_checkpoint import DEBUG_CHECKPOINT_VERSION, DEBUG_MODELS

RELEASED = (
    "facebook/musicgen-small",
    "facebook/musicgen-medium",
    "facebook/musicgen-large",
    "facebook/musicgen-melody",
    "facebook/musicgen-melody-large",
    "facebook/musicgen-stereo-small",
    "facebook/musicgen-stereo-medium",
    "facebook/musicgen-stereo-large",
    "facebook/musicgen-stereo-melody",
    "facebook/musicgen-stereo-melody-large",
)
# Approximate download sizes in bytes, from the one published table we have
# (a MusicGen port's model table: /work/shared/seeds/003, "~1.2 GB" etc.).
# No figure is known for the melody checkpoints: they say unknown (None).
DOWNLOAD_BYTES: dict[str, int | None] = {
    "facebook/musicgen-small": 1_200_000_000,
    "facebook/musicgen-medium": 3_200_000_000,
    "facebook/musicgen-large": 6_500_000_000,
    "facebook/musicgen-stereo-small": 1_200_000_000,
    "facebook/musicgen-stereo-medium": 3_200_000_000,
    "facebook/musicgen-stereo-large": 6_500_000_000,
}
MODEL_TYPES = ("musicgen", "musicgen_melody")
KINDS = ("debug", "cache", "folder", "adapter", "release")
STATES = ("resident", "ready", "not_downloaded")
_SETTLED_NS = 2_000_000_000  # folders older than this are trusted unchanged by their mtime


@dataclass(frozen=True)
class CatalogEntry:
    """One checkpoint a request could name.

    Attributes:
        name: what a request's ``model`` says to use it (a Hub id, debug name, or path).
        kind: one of KINDS.
        state: "resident" (loaded now), "ready" (on disk) or "not_downloaded".
        revision: the cache snapshot's commit ("" for the other kinds).
        size_bytes: bytes on disk; for "release" the approximate download; None: unknown.
        melody: True for melody checkpoints (False where not known); an
            adapter: its base's.
        source: the folder it loads from, or for "release" the command that fetches it.
        base: kind "adapter": the checkpoint it adapts ("" when its config names
            none); "" for the other kinds.
    """

    name: str
    kind: str
    state: str
    revision: str
    size_bytes: int | None
    melody: bool
    source: str
    base: str = ""


@dataclass(frozen=True)
class _Found:
    name: str
    revision: str
    folder: Path
    size_bytes: int
    melody: bool


class Catalog:
    """Scans the Hugging Face cache and a models folder, remembering the last scan.

    Safe to call from any thread.  ``hub_cache`` is passed at each call so
    HF_HUB_CACHE set after start-up is honoured.
    """

    def __init__(
        self,
        debug_root: Path | None,
        models_dir: Path | None = None,
        adapters_dir: Path | None = None,
    ) -> None:
        self.debug_root = debug_root
        self.models_dir = models_dir
        self.adapters_dir = adapters_dir
        self._lock = threading.Lock()
        self._memo: dict[tuple[Path, object], tuple[tuple, list]] = {}

    def entries(
        self, hub_cache: Path, resident: frozenset[str] = frozenset()
    ) -> list[CatalogEntry]:
        """Every checkpoint, debug first, then cache, folders, adapters, not downloaded.

        ``resident`` names what is loaded: model ids, ``repo@commit`` for a
        cache snapshot (a repo may hold several), resolved folder paths, and
        ``BASE+FOLDER`` (resolved adapter folder) for an adapter.
        """
        cached = self._scan(hub_cache, _cache_snapshots)
        folders = self._scan(self.models_dir, _model_folders) if self.models_dir else []
        found_adapters = self._scan(self.adapters_dir, adapters.list_adapters)

        def state(name: str) -> str:
            return "resident" if name in resident else "ready"

        out = [
            CatalogEntry(
                name,
                "debug",
                state(name),
                "",
                _debug_size(self.debug_root, name),
                name == "debug-melody",
                "built in",
            )
            for name in DEBUG_MODELS
        ]
        out += [
            CatalogEntry(
                f.name,
                "cache",
                state(f"{f.name}@{f.revision}"),
                f.revision,
                f.size_bytes,
                f.melody,
                str(f.folder),
            )
            for f in cached
        ]
        out += [
            CatalogEntry(f.name, "folder", state(f.name), "", f.size_bytes, f.melody, f.name)
            for f in folders
        ]
        out += [
            CatalogEntry(
                adapters.join(a.base, a.name) if a.base else a.name,
                "adapter",
                "resident"
                if a.base
                and (
                    adapters.join(a.base, a.name) in resident
                    or adapters.join(a.base, str(a.folder)) in resident
                )
                else "ready",
                "",
                a.size_bytes,
                _adapts_melody(a),
                str(a.folder),
                a.base or "",
            )
            for a in found_adapters
        ]
        have = {f.name for f in cached}
        out += [
            CatalogEntry(
                name,
                "release",
                "not_downloaded",
                "",
                DOWNLOAD_BYTES.get(name),
                "melody" in name,
                f"musicgen-bridge download {name}",
            )
            for name in RELEASED
            if name not in have
        ]
        return out

    def _scan(self, root: Path | None, walk) -> list:
        if root is None:
            return []
        root = Path(root)
        signature = _signature(root)
        with self._lock:
            memo = self._memo.get((root, walk))
            if memo is not None and memo[0] == signature:
                return memo[1]
        found = walk(root)
        # A folder changed within the last seconds may change again within the
        # same mtime tick unseen: remember only scans of settled folders.
        recent = time.time_ns() - _SETTLED_NS
        if all(mtime < recent for _, mtime in signature):
            with self._lock:
                self._memo[(root, walk)] = (signature, found)
        return found


def _signature(root: Path) -> tuple:
    """The mtimes of every folder a scan reads: a change in any means rescan.

    Adding a file to a snapshot changes the snapshot folder's mtime; a new
    revision changes ``snapshots/``; a new repo changes the root.
    """
    stamps: list[tuple[str, int]] = []
    try:
        stamps.append((str(root), root.stat().st_mtime_ns))
        children = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return ()
    for child in sorted(children):
        for folder in (child, child / "snapshots"):
            try:
                stamps.append((str(folder), folder.stat().st_mtime_ns))
            except OSError:
                continue
        snapshots = child / "snapshots"
        if snapshots.is_dir():
            for snap in sorted(snapshots.iterdir()):
                try:
                    stamps.append((str(snap), snap.stat().st_mtime_ns))
                except OSError:
                    continue
    return tuple(stamps)


def _cache_snapshots(hub: Path) -> list[_Found]:
    """Each MusicGen snapshot in a Hugging Face hub cache, by repo id then commit."""
    found = []
    for repo in sorted(hub.glob("models--*")):
        repo_id = repo.name[len("models--") :].replace("--", "/")
        for snap in sorted((repo / "snapshots").glob("*")):
            model_type = read_model_type(snap)
            if model_type in MODEL_TYPES and not (snap / adapters.CONFIG_NAME).is_file():
                found.append(
                    _Found(
                        repo_id, snap.name, snap, _disk_bytes(snap), model_type == "musicgen_melody"
                    )
                )
    return found


def _model_folders(root: Path) -> list[_Found]:
    """Each subfolder of ``root`` holding a MusicGen checkpoint, named by its absolute path."""
    found = []
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    for folder in children:
        model_type = read_model_type(folder)
        if model_type in MODEL_TYPES and not (folder / adapters.CONFIG_NAME).is_file():
            path = folder.resolve()
            found.append(
                _Found(str(path), "", path, _disk_bytes(folder), model_type == "musicgen_melody")
            )
    return found


def _adapts_melody(found: adapters.Found) -> bool:
    """Whether an adapter's base is a melody checkpoint: the config.json saved beside
    it (musicgen-dreamboothing saves one), else the base's name."""
    model_type = read_model_type(found.folder)
    if model_type is not None:
        return model_type == "musicgen_melody"
    return bool(found.base) and "melody" in str(found.base).rsplit("/", 1)[-1]


def read_model_type(folder: Path) -> str | None:
    """The ``model_type`` of ``folder``'s config.json; None without a readable one."""
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("model_type") if isinstance(data, dict) else None


def _disk_bytes(folder: Path) -> int:
    """Bytes the files of ``folder`` take, links followed, each blob counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue  # a dangling link: an interrupted download
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def _debug_size(debug_root: Path | None, name: str) -> int | None:
    """Bytes of a built debug checkpoint; None until it is first built."""
    if debug_root is None:
        return None
    folder = debug_root / f"{name}-v{DEBUG_CHECKPOINT_VERSION}"  # as ensure_debug_checkpoint
    return _disk_bytes(folder) if (folder / "config.json").is_file() else None
