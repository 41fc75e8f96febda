"""Provenance: the sidecar names exactly which weights made a take.

Tiny random checkpoints saved in the real on-disk format, laid out as
huggingface_hub caches them (``models--org--name/snapshots/<commit>/`` with
links into ``blobs/``) or as a plain folder, and loaded through the same
code path as a real checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from engine import provenance
from engine.api import Engine, EngineSettings
from engine.debug_checkpoint import build_debug_checkpoint
from engine.spec import GenerationSpec

COMMIT = "3f1c0e9b7d2a4c6e8f0a1b2c3d4e5f60718293a4"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_debug_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt", seed=2)


def _hub_layout(hub: Path, repo_id: str, commit: str, files: Path) -> Path:
    """Lay ``files`` out as huggingface_hub's cache does: blobs, a snapshot of links, a ref."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for path in sorted(files.iterdir()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / path.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def _sidecar(engine: Engine, out: Path, model: str) -> dict:
    [path] = engine.generate(
        GenerationSpec(prompt="whose weights", out_dir=out, seconds=0.5, seed=1, model=model)
    ).paths
    return json.loads(path.with_suffix(".json").read_text())


def test_a_hub_checkpoint_records_its_snapshot_revision(tiny, tmp_path, monkeypatch):
    from huggingface_hub import constants

    snapshot = _hub_layout(tmp_path / "hub", "acme/musicgen-tiny", COMMIT, tiny)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine = Engine(EngineSettings(cache_dir=tmp_path / "cache", device="cpu", warmup=False))
    meta = _sidecar(engine, tmp_path, "acme/musicgen-tiny")
    assert meta["format_version"] == 2
    assert meta["model"] == "acme/musicgen-tiny"
    assert meta["checkpoint"] == {
        "source": "hub",
        "repo": "acme/musicgen-tiny",
        "revision": COMMIT,
        "folder": str(snapshot),
        "weights_sha256": None,  # the commit names the files; nothing to hash
    }
    assert meta["adapter_hash"] is None


def test_a_local_folder_records_the_sha256_of_its_weights(tiny, tmp_path):
    engine = Engine(EngineSettings(cache_dir=tmp_path / "cache", device="cpu", warmup=False))
    meta = _sidecar(engine, tmp_path, str(tiny))
    expected = hashlib.sha256((tiny / "model.safetensors").read_bytes()).hexdigest()
    assert meta["checkpoint"]["source"] == "folder"
    assert meta["checkpoint"]["revision"] is None
    assert meta["checkpoint"]["weights_sha256"] == {"model.safetensors": expected}
    assert meta["adapter_hash"] is None


def test_a_weights_hash_is_remembered_by_path_size_and_mtime(tiny, tmp_path, monkeypatch):
    hashed = []
    real = provenance._sha256
    monkeypatch.setattr(provenance, "_sha256", lambda path: hashed.append(path) or real(path))
    cache = tmp_path / "cache"
    first = Engine(EngineSettings(cache_dir=cache, device="cpu", warmup=False))
    first.load(str(tiny))
    assert len(hashed) == 1
    first.unload()
    first.load(str(tiny))  # a reload
    Engine(EngineSettings(cache_dir=cache, device="cpu", warmup=False)).load(str(tiny))  # a restart
    assert len(hashed) == 1
    weights = tiny / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched
    info = Engine(EngineSettings(cache_dir=cache, device="cpu", warmup=False)).load(str(tiny))
    assert len(hashed) == 2
    assert info.checkpoint["weights_sha256"]["model.safetensors"] == real(weights)


def test_the_debug_checkpoint_records_the_hash_of_the_weights_it_built(debug_engine, tmp_path):
    meta = _sidecar(debug_engine, tmp_path, "debug")
    [folder] = debug_engine.settings.cache_dir.glob("debug-v*")
    expected = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert meta["checkpoint"]["source"] == "debug"
    assert meta["checkpoint"]["weights_sha256"] == {"model.safetensors": expected}


def test_hub_revision_reads_only_real_snapshot_paths(tmp_path):
    snap = tmp_path / "models--facebook--musicgen-small" / "snapshots" / COMMIT
    assert provenance.hub_revision(snap) == ("facebook/musicgen-small", COMMIT)
    assert provenance.hub_revision(tmp_path / "snapshots" / COMMIT) is None
    assert provenance.hub_revision(snap.parent / "main") is None
