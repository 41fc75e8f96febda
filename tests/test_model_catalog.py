"""`models`: what is on this machine (engine.catalog, /musicgen/model, the CLI table).

Tiny random checkpoints saved in the real format, laid out as huggingface_hub
caches them (tests.test_provenance._hub_layout: blobs, links, refs) and as
plain folders under ``--models-dir``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.client import EngineClient
from engine.api import Engine, EngineSettings
from engine.catalog import RELEASED, Catalog
from engine.debug_checkpoint import DEBUG_MODELS, build_debug_checkpoint
from tests.conftest import start_engine, stop_engine
from tests.test_provenance import _hub_layout

COMMIT = "3f1c0e9b7d2a4c6e8f0a1b2c3d4e5f60718293a4"
OTHER = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_debug_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt", seed=3)


@pytest.fixture
def hub(tiny, tmp_path, monkeypatch) -> Path:
    """A Hugging Face cache holding one MusicGen repo (two snapshots) and one other model."""
    from huggingface_hub import constants

    root = tmp_path / "hub"
    _hub_layout(root, "facebook/musicgen-small", COMMIT, tiny)
    snap = root / "models--facebook--musicgen-small" / "snapshots" / OTHER
    shutil.copytree(
        root / "models--facebook--musicgen-small" / "snapshots" / COMMIT, snap, symlinks=True
    )
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    _hub_layout(root, "acme/not-musicgen", COMMIT, bert)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


def _models_dir(tmp_path: Path, tiny: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(tiny, root / "my-finetune")
    (root / "notes").mkdir()  # not a checkpoint: no config.json
    (root / "notes" / "readme.txt").write_text("x")
    return root


def _by_name(entries):
    return {(e.name, e.revision): e for e in entries}


def test_the_listing_names_debug_cache_folders_and_releases(hub, tiny, tmp_path):
    models = _models_dir(tmp_path, tiny)
    engine = Engine(
        EngineSettings(cache_dir=tmp_path / "cache", device="cpu", warmup=False, models_dir=models)
    )
    entries = engine.catalog()
    kinds = [e.kind for e in entries]
    assert kinds == sorted(kinds, key=["debug", "cache", "folder", "release"].index)
    assert [e.name for e in entries if e.kind == "debug"] == list(DEBUG_MODELS)

    cached = [e for e in entries if e.kind == "cache"]
    assert [(e.name, e.revision) for e in cached] == [
        ("facebook/musicgen-small", OTHER),  # snapshots by commit
        ("facebook/musicgen-small", COMMIT),
    ]  # acme/not-musicgen (model_type bert) is not listed
    weights = sum(p.stat().st_size for p in tiny.iterdir())
    assert all(e.size_bytes == weights and e.state == "ready" for e in cached)
    assert cached[1].source == str(hub / "models--facebook--musicgen-small" / "snapshots" / COMMIT)

    [folder] = [e for e in entries if e.kind == "folder"]
    assert folder.name == str((models / "my-finetune").resolve())
    assert folder.size_bytes == weights and folder.state == "ready" and not folder.melody

    releases = {e.name: e for e in entries if e.kind == "release"}
    assert set(releases) == set(RELEASED) - {"facebook/musicgen-small"}  # that one is cached
    assert all(e.state == "not_downloaded" for e in releases.values())
    medium = releases["facebook/musicgen-medium"]
    assert medium.size_bytes == 3_200_000_000
    assert medium.source == "musicgen-bridge download facebook/musicgen-medium"
    assert releases["facebook/musicgen-melody"].size_bytes is None  # no figure known: unknown
    assert releases["facebook/musicgen-melody"].melody


def test_resident_flags_follow_the_resident_set(hub, tiny, tmp_path):
    models = _models_dir(tmp_path, tiny)
    folder = str((models / "my-finetune").resolve())
    engine = Engine(
        EngineSettings(
            cache_dir=tmp_path / "cache",
            device="cpu",
            warmup=False,
            models_dir=models,
            keep_models=3,
        )
    )
    engine.load("debug")
    engine.load("facebook/musicgen-small")  # refs/main names COMMIT
    engine.load(folder)
    states = {key: e.state for key, e in _by_name(engine.catalog()).items()}
    assert states[("debug", "")] == "resident"
    assert states[("debug-stereo", "")] == "ready"
    assert states[("facebook/musicgen-small", COMMIT)] == "resident"
    assert states[("facebook/musicgen-small", OTHER)] == "ready"  # same repo, not loaded
    assert states[(folder, "")] == "resident"
    engine.unload("debug")
    assert _by_name(engine.catalog())[("debug", "")].state == "ready"
    built = _by_name(engine.catalog())[("debug", "")].size_bytes
    assert built is not None and built > 0  # built on first load, so it has a size now


def test_a_scan_is_remembered_until_a_folder_it_read_changes(hub, tiny, tmp_path, monkeypatch):
    from engine import catalog as module

    _age(hub)  # settled folders: a scan of them is remembered
    calls = []
    real = module._cache_snapshots
    monkeypatch.setattr(module, "_cache_snapshots", lambda root: calls.append(root) or real(root))
    listing = Catalog(None)
    first = listing.entries(hub)
    assert listing.entries(hub) == first and len(calls) == 1  # nothing changed: no rescan
    _hub_layout(hub, "acme/musicgen-new", COMMIT, tiny)
    _age(hub)
    names = [e.name for e in listing.entries(hub) if e.kind == "cache"]
    assert "acme/musicgen-new" in names and len(calls) == 2
    new_snap = hub / "models--acme--musicgen-new" / "snapshots" / COMMIT
    (new_snap / "extra.json").write_text("{}")  # a file added to a snapshot: its size changes
    [new] = [e for e in listing.entries(hub) if e.name == "acme/musicgen-new"]
    assert len(calls) == 3 and new.size_bytes == sum(p.stat().st_size for p in new_snap.iterdir())
    listing.entries(hub)
    assert len(calls) == 4  # that snapshot changed just now: not trusted yet, scanned again


def _age(root: Path) -> None:
    """Set every folder's mtime a minute back, as a cache untouched for a while."""
    import os
    import time

    then = time.time() - 60
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        os.utime(folder, (then, then))


def test_a_missing_cache_lists_debug_and_every_release(tmp_path):
    entries = Catalog(tmp_path / "cache").entries(tmp_path / "no-such-hub")
    assert [e.name for e in entries] == [*DEBUG_MODELS, *RELEASED]
    assert all(e.size_bytes is None for e in entries if e.kind == "debug")  # not built yet


def test_models_over_osc_and_the_cli(hub, tiny, tmp_path, cache_dir, capsys):
    """A real engine on loopback: details before the unchanged list, and the CLI's table."""
    models = _models_dir(tmp_path, tiny)
    engine = start_engine(
        cache_dir,
        tmp_path,
        "--no-warmup",
        "--models-dir",
        str(models),
        env={"HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"},
    )
    try:
        with EngineClient("127.0.0.1", engine.port, timeout=5.0) as client:
            client.send("/musicgen/models", "old")  # a client from before the details
            [(address, old)] = list(client.replies("old", timeout=1.0))
            client.send("/musicgen/models", "raw", details=1)
            replies = list(client.replies("raw", timeout=1.0))
            loaded, names, entries, missing = client.catalog()
        addresses = [address for address, _ in replies]
        count = len(addresses) - 1
        assert addresses == ["/musicgen/model"] * count + ["/musicgen/models"]  # list last
        assert [args[:2] for _, args in replies[:-1]] == [[i, count] for i in range(count)]
        # The list old clients parse is as before: loaded, then the loadable names.
        assert replies[-1][1] == [
            "debug",
            "debug",
            "facebook/musicgen-small",
            *list(DEBUG_MODELS)[1:],
        ]
        assert loaded == "debug" and names == replies[-1][1][1:]
        assert (address, old) == ("/musicgen/models", replies[-1][1])  # old clients: as before
        assert len(entries) == count and missing == 0
        by_name = {(e["name"], e["revision"]): e for e in entries}
        assert by_name[("debug", "")]["state"] == "resident"
        small = by_name[("facebook/musicgen-small", COMMIT)]
        assert small["kind"] == "cache" and small["state"] == "ready"
        mib = sum(p.stat().st_size for p in tiny.iterdir()) / 2**20
        assert small["size_mb"] == pytest.approx(mib, abs=0.06)  # OSC floats are float32
        folder = by_name[(str((models / "my-finetune").resolve()), "")]
        assert folder["kind"] == "folder"
        large = by_name[("facebook/musicgen-large", "")]
        assert (large["state"], large["source"]) == (
            "not_downloaded",
            "musicgen-bridge download facebook/musicgen-large",
        )
        assert by_name[("facebook/musicgen-melody", "")]["size_mb"] == -1.0

        assert main(["models", "--port", str(engine.port)]) == 0
        out = capsys.readouterr().out
    finally:
        stop_engine(engine)
    assert "Built in (random weights" in out
    assert f"revision {COMMIT}" in out and f"revision {OTHER}" in out
    assert "Under --models-dir:" in out and "my-finetune" in out
    lines = out.splitlines()
    [debug] = [line for line in lines if line.split()[:1] == ["debug"]]
    assert "resident" in debug
    [large_line] = [line for line in lines if "facebook/musicgen-large" in line]
    assert "about 6.5 GB" in large_line  # as published
    assert large_line.endswith("musicgen-bridge download facebook/musicgen-large")
    [melody_line] = [line for line in lines if line.split()[:1] == ["facebook/musicgen-melody"]]
    assert "size unknown" in melody_line


def test_serve_refuses_a_models_dir_that_is_not_a_folder(tmp_path, capsys):
    assert main(["serve", "--model", "debug", "--models-dir", str(tmp_path / "nope")]) == 2
    assert "--models-dir" in capsys.readouterr().err


def test_a_lost_detail_datagram_is_counted_and_said(capsys):
    """An engine's /musicgen/model entry that never arrives leaves a gap in the indices: the
    client counts it and the CLI says the list is partial rather than showing it as whole."""
    import socket
    import threading

    from bridge.osc import decode
    from bridge.server import encode

    engine = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    engine.bind(("127.0.0.1", 0))
    engine.settimeout(5.0)

    def answer_once() -> None:
        data, sender = engine.recvfrom(65535)
        [(_, args)] = decode(data)
        request_id, reply_to = args[1], (sender[0], int(args[args.index("reply_port") + 1]))
        entry = ["kind", "ready", "", 1.0, 0, "built in"]
        for index in (0, 2):  # entry 1 of 3 is "lost"
            engine.sendto(
                encode(("/musicgen/model", [request_id, index, 3, f"m{index}", *entry])), reply_to
            )
        engine.sendto(encode(("/musicgen/models", [request_id, "m0", "m0", "m2"])), reply_to)

    try:
        server = threading.Thread(target=answer_once)
        server.start()
        with EngineClient("127.0.0.1", engine.getsockname()[1], timeout=2.0) as client:
            loaded, names, entries, missing = client.catalog()
        server.join(5.0)
        assert (loaded, names, missing) == ("m0", ["m0", "m2"], 1)
        assert [e["name"] for e in entries] == ["m0", "m2"]

        server = threading.Thread(target=answer_once)
        server.start()
        assert main(["models", "--port", str(engine.getsockname()[1])]) == 0
        server.join(5.0)
    finally:
        engine.close()
    assert "1 model entry did not arrive" in capsys.readouterr().err
