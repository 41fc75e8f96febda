"""The engine on the debug checkpoint: the real loader, generation, writing."""

from __future__ import annotations

import json
import os
from datetime import datetime

import numpy as np
import pytest
import soundfile as sf

from engine import checkpoint
from engine.api import Engine, EngineSettings
from engine.catalog import Catalog
from engine.debug_checkpoint import build_debug_checkpoint
from engine.errors import Cancelled, ModelLoadFailed, ModelNotAvailable, WriteFailed
from engine.output import slugify, take_stem, write_take
from engine.spec import GenerationSpec


def test_saved_checkpoint_is_in_the_real_on_disk_format(cache_dir):
    folder = next(cache_dir.glob("debug-v*"))
    names = {p.name for p in folder.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    } <= names
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "musicgen"
    assert config["decoder"]["pad_token_id"] == config["decoder"]["vocab_size"] == 2048


def test_save_load_generate_round_trip_through_the_real_loader(tmp_path):
    folder = build_debug_checkpoint(tmp_path / "ckpt", seed=1)
    engine = Engine(EngineSettings(cache_dir=tmp_path, device="cpu", warmup=True))
    info = engine.load(str(folder))  # a local folder: the same path as a Hub snapshot
    from engine.decoders.precision import resolve_cpu_precision

    assert (info.sample_rate, info.channels, info.device, info.dtype) == (
        32000,
        1,
        "cpu",
        resolve_cpu_precision("auto")[0],  # the default: bf16 where the CPU has it natively
    )
    steps = []
    take = engine.generate(
        GenerationSpec(prompt="round trip", out_dir=tmp_path, seconds=0.5, seed=3),
        on_progress=lambda done, total: steps.append((done, total)),
    )
    audio, rate = sf.read(take.paths[0], dtype="float32")
    assert rate == 32000 and audio.shape == (16000,)
    assert np.abs(audio).max() > 0  # random weights still make sound, not silence
    # 25 frames + 3 delay steps, reported once per decode step
    assert steps[-1] == (28, 28) and len(steps) == 28


def test_exact_length_for_bars(debug_engine, tmp_path):
    take = debug_engine.generate(
        GenerationSpec(
            prompt="odd meter",
            out_dir=tmp_path,
            bars=2,
            bpm=140,
            timesig=__import__("engine.timing").timing.TimeSignature(7, 8),
        )
    )
    info = sf.info(str(take.paths[0]))
    assert info.frames == 96000  # 3.000 s at 32 kHz, to the sample
    assert info.samplerate == 32000 and info.channels == 1


def test_same_seed_same_samples(debug_engine, tmp_path):
    spec = GenerationSpec(prompt="seeded", out_dir=tmp_path, seconds=0.4, seed=1234)
    a = sf.read(debug_engine.generate(spec).paths[0])[0]
    b = sf.read(debug_engine.generate(spec).paths[0])[0]
    c = sf.read(
        debug_engine.generate(
            GenerationSpec(prompt="seeded", out_dir=tmp_path, seconds=0.4, seed=1235)
        ).paths[0]
    )[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sidecar_records_how_the_take_was_made(debug_engine, tmp_path):
    take = debug_engine.generate(
        GenerationSpec(prompt="Dusty lo-fi drums", out_dir=tmp_path, bars=1, bpm=120)
    )
    wav = take.paths[0]
    meta = json.loads(wav.with_suffix(".json").read_text())
    assert meta["file"] == wav.name
    assert meta["prompt"] == "Dusty lo-fi drums" and meta["model"] == "debug"
    assert meta["model_is_debug_noise"] is True
    assert meta["seed"] == take.seed == meta["params"]["seed"]  # regenerable as recorded
    assert meta["params"]["bars"] == 1 and meta["params"]["bpm"] == 120
    assert meta["params"]["top_k"] == 250 and meta["params"]["guidance"] == 3.0
    assert meta["samples"] == 64000 and meta["sample_rate"] == 32000
    assert {"torch", "transformers", "python", "musicgen-bridge"} <= set(meta["versions"])
    assert meta["timings"]["generate_s"] > 0
    assert f"_s{take.seed}" in wav.name and "dusty-lo-fi-drums" in wav.name


def test_cancel_is_checked_every_step(debug_engine, tmp_path):
    steps = []

    def cancelled_after_three():
        return len(steps) >= 3

    with pytest.raises(Cancelled):
        debug_engine.generate(
            GenerationSpec(prompt="stop", out_dir=tmp_path, seconds=5.0),
            on_progress=lambda d, t: steps.append(d),
            is_cancelled=cancelled_after_three,
        )
    assert len(steps) == 3
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing partial


def test_missing_hub_model_gives_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(ModelNotAvailable) as err:
        checkpoint.resolve("facebook/musicgen-small", tmp_path)
    message = str(err.value)
    assert "facebook/musicgen-small" in message
    assert str(tmp_path / "empty-hub") in message  # where it looked
    assert "musicgen-bridge download facebook/musicgen-small" in message  # how to get it


def test_missing_local_folder(tmp_path):
    with pytest.raises(ModelNotAvailable, match="No MusicGen checkpoint in folder"):
        checkpoint.resolve(str(tmp_path / "nothing"), tmp_path)


def test_hub_cache_snapshot_is_found_offline(tmp_path, monkeypatch, cache_dir):
    """A checkpoint laid out as huggingface_hub caches it loads with no network."""
    import shutil

    hub = tmp_path / "hub"
    snapshot = hub / "models--facebook--musicgen-small" / "snapshots" / ("0" * 40)
    shutil.copytree(next(cache_dir.glob("debug-v*")), snapshot)
    (hub / "models--facebook--musicgen-small" / "refs").mkdir()
    (hub / "models--facebook--musicgen-small" / "refs" / "main").write_text("0" * 40)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert checkpoint.resolve("facebook/musicgen-small", tmp_path) == snapshot
    listed = Catalog(None).entries(hub)
    assert [(e.name, e.revision) for e in listed if e.kind == "cache"] == [
        ("facebook/musicgen-small", "0" * 40)
    ]


def test_not_a_musicgen_folder(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadFailed, match="not MusicGen"):
        checkpoint.load(str(tmp_path), tmp_path, device="cpu")


def test_pickle_weights_are_refused(tmp_path, cache_dir):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(next(cache_dir.glob("debug-v*")), folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelLoadFailed):
        checkpoint.load(str(folder), tmp_path, device="cpu")


# -- writing ------------------------------------------------------------------


def test_slug_and_stem():
    assert slugify("Dusty lo-fi drums, 92 BPM!") == "dusty-lo-fi-drums-92-bpm"
    assert slugify("Café – naïve ♪") == "cafe-naive"
    assert slugify("♪♪") == "take"
    assert len(slugify("x" * 500)) == 40
    assert take_stem("a b", 7, datetime(2026, 1, 2, 3, 4, 5)) == "20260102-030405_a-b_s7"


def test_never_overwrites(tmp_path):
    audio = np.zeros((1, 100), dtype=np.float32)
    (tmp_path / "take.wav").write_bytes(b"precious")
    first = write_take(audio, 32000, tmp_path, "take", {})
    second = write_take(audio, 32000, tmp_path, "take", {})
    assert (tmp_path / "take.wav").read_bytes() == b"precious"
    assert [first.name, second.name] == ["take-2.wav", "take-3.wav"]
    assert (tmp_path / "take-2.json").is_file() and (tmp_path / "take-3.json").is_file()


def test_failed_write_leaves_no_file_under_a_final_name(tmp_path, monkeypatch):
    import engine.output

    class HalfTheDisk:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            self.fh.write(bytes(data)[:6])  # a partial header, then the disk fills up
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def opener(*args, **kwargs):
        return HalfTheDisk(open(*args, **kwargs))

    monkeypatch.setattr(engine.output, "open", opener, raising=False)
    with pytest.raises(WriteFailed, match="No space left"):
        write_take(np.zeros((1, 10), np.float32), 32000, tmp_path, "take", {})
    assert os.listdir(tmp_path) == []  # neither take.wav nor a temporary file


def test_folder_deleted_before_writing(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    gone.rmdir()
    with pytest.raises(WriteFailed):
        write_take(np.zeros((1, 10), np.float32), 32000, gone, "take", {})


def test_loud_audio_is_peak_limited_not_clipped(tmp_path):
    audio = np.array([[0.0, 2.0, -1.5]], dtype=np.float32)
    path = write_take(
        *__import__("engine.output").output.limit_peak(audio)[:1], 32000, tmp_path, "loud", {}
    )
    data, _ = sf.read(path)
    assert np.abs(data).max() == pytest.approx(0.999, abs=1e-4)
    assert data[2] / data[1] == pytest.approx(-0.75, abs=1e-4)  # shape kept


def test_a_planted_symlink_under_the_final_name_is_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "take.wav").symlink_to(victim)
    (out / "take-2.json").symlink_to(victim)
    path = write_take(np.zeros((1, 10), np.float32), 32000, out, "take", {"a": 1})
    assert victim.read_text() == "keep me"
    assert path.name == "take-3.wav" and not path.is_symlink()
    assert (out / "take.wav").is_symlink()  # left alone, not replaced


def test_a_planted_symlink_under_the_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / f".take.{os.getpid()}.partial.wav").symlink_to(victim)
    with pytest.raises(WriteFailed):
        write_take(np.zeros((1, 10), np.float32), 32000, out, "take", {})
    assert victim.read_text() == "keep me"
    assert not (out / "take.wav").exists()
