"""The weights' SHA-256, remembered by file identity (engine.provenance).

A second load of the same file must not read it again; a file that is not the
same file any more (touched, or replaced by a copy that kept size and time
stamp) must be hashed again.  The load hashes on a thread of its own while the
rest of the load runs.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from engine import provenance


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file actually read by the hasher."""
    hashed: list[Path] = []
    real = provenance._sha256
    monkeypatch.setattr(provenance, "_sha256", lambda path: hashed.append(path) or real(path))
    return hashed


def _weights(folder: Path, data: bytes) -> Path:
    path = folder / "model.safetensors"
    path.write_bytes(data)
    return path


def test_the_second_hash_of_a_file_reads_nothing(tmp_path: Path, counted: list[Path]) -> None:
    path = _weights(tmp_path, b"weights" * 1000)
    cache = tmp_path / "cache"
    first = provenance.sha256_file(path, cache)
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()
    assert provenance.sha256_file(path, cache) == first
    assert len(counted) == 1
    assert (cache / provenance.HASH_CACHE_NAME).is_file()


def test_without_a_cache_folder_every_call_hashes(tmp_path: Path, counted: list[Path]) -> None:
    path = _weights(tmp_path, b"abc")
    provenance.sha256_file(path)
    provenance.sha256_file(path)
    assert len(counted) == 2


def test_a_file_replaced_with_the_same_size_and_time_is_hashed_again(
    tmp_path: Path, counted: list[Path]
) -> None:
    """``cp -p`` of other weights of the same shapes: same size, same mtime, another inode."""
    path = _weights(tmp_path, b"A" * 4096)
    cache = tmp_path / "cache"
    before = path.stat()
    first = provenance.sha256_file(path, cache)
    replacement = tmp_path / "other.bin"
    replacement.write_bytes(b"B" * 4096)
    os.replace(replacement, path)  # a new inode under the old name
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ino != before.st_ino
    second = provenance.sha256_file(path, cache)
    assert len(counted) == 2
    assert second != first
    assert second == hashlib.sha256(b"B" * 4096).hexdigest()


def test_a_touched_file_is_hashed_again(tmp_path: Path, counted: list[Path]) -> None:
    path = _weights(tmp_path, b"C" * 100)
    cache = tmp_path / "cache"
    provenance.sha256_file(path, cache)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1))
    provenance.sha256_file(path, cache)
    assert len(counted) == 2


def test_an_entry_of_the_older_size_and_time_stamp_is_hashed_again(
    tmp_path: Path, counted: list[Path]
) -> None:
    """Caches written before the inode was part of the identity are not trusted."""
    path = _weights(tmp_path, b"D" * 100)
    cache = tmp_path / "cache"
    info = path.resolve().stat()
    stale = {str(path.resolve()): {"stamp": [info.st_size, info.st_mtime_ns], "sha256": "0" * 64}}
    provenance._write_cache(cache / provenance.HASH_CACHE_NAME, stale)
    assert provenance.sha256_file(path, cache) == hashlib.sha256(b"D" * 100).hexdigest()
    assert len(counted) == 1


def test_the_load_hashes_on_its_own_thread(tmp_path: Path, monkeypatch) -> None:
    """The first load's hash runs beside the rest of the load (graphs, warm-up)."""
    from engine.api import Engine, EngineSettings

    threads: list[str] = []
    real = provenance._sha256
    monkeypatch.setattr(
        provenance,
        "_sha256",
        lambda path: threads.append(threading.current_thread().name) or real(path),
    )
    engine = Engine(
        EngineSettings(
            cache_dir=tmp_path / "cache", device="cpu", warmup=False, cpu_kernel="module"
        )
    )
    info = engine.load("debug")
    assert threads and all(name.startswith("weights-sha256") for name in threads)
    [folder] = (tmp_path / "cache").glob("debug-v*")
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert info.checkpoint["weights_sha256"] == {"model.safetensors": digest}
