"""Requests sharing one decoder run (engine.generate.sharing and Engine.generate_many).

Each request in a shared run keeps its own seeds, length, progress, cancel and
files, and its takes are the takes it makes alone: bit for bit with a decoder
whose takes do not depend on the batch (tests.agreement.row_decoder), which
checks everything the engine does around the decoder; up to float rounding
with the real decoders (tests/test_fast_decode.py).  Tiny random checkpoints
loaded through the real loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.api import Engine, EngineSettings
from engine.errors import BadFile, Cancelled, GenerationFailed
from engine.spec import GenerationSpec, Order
from tests.agreement import row_decoder


@pytest.fixture(scope="module")
def engine(cache_dir: Path) -> Engine:
    engine = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False))
    engine.load("debug")
    return engine


def _spec(out_dir: Path, **fields) -> GenerationSpec:
    fields.setdefault("prompt", "test")
    if "bars" not in fields:
        fields.setdefault("seconds", 0.5)
    return GenerationSpec(out_dir=out_dir, **fields)


def _audio(paths) -> list[np.ndarray]:
    return [sf.read(str(p), dtype="float32")[0] for p in paths]


def test_shared_takes_are_the_takes_each_request_makes_alone(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "_decoder", lambda graphs: row_decoder)
    specs = [
        _spec(tmp_path / "a", prompt="driving techno with a rolling bassline", seed=3, seconds=1.0),
        _spec(tmp_path / "b", prompt="slow jazz", seed=9, seconds=0.4, variations=2),
        _spec(tmp_path / "c", prompt="ambient pads", seed=20, bars=1, bpm=150),
    ]
    for spec in specs:
        spec.out_dir.mkdir()
    keys = {engine.sharing(spec).key for spec in specs}
    assert len(keys) == 1  # they may share

    progress: dict[int, list] = {i: [] for i in range(3)}
    orders = [
        Order(spec, on_progress=lambda d, t, i=i: progress[i].append((d, t)))
        for i, spec in enumerate(specs)
    ]
    shared = engine.generate_many(orders)

    for i, (spec, take) in enumerate(zip(specs, shared, strict=True)):
        alone_dir = tmp_path / f"alone{i}"
        alone_dir.mkdir()
        alone = engine.generate(_spec(alone_dir, **_fields(spec)))
        assert len(take.paths) == len(alone.paths) == spec.variations
        for got, want in zip(_audio(take.paths), _audio(alone.paths), strict=True):
            assert got.shape == want.shape
            assert np.abs(want).max() > 0.01
            np.testing.assert_array_equal(got, want)
        meta = json.loads(take.paths[0].with_suffix(".json").read_text())
        assert meta["shared_run"] == {"requests": 3, "takes": 4}
        assert meta["reproducible"] == "shared"
        assert json.loads(alone.paths[0].with_suffix(".json").read_text())["reproducible"] == (
            "solo" if spec.variations == 1 else "shared"
        )
        assert meta["seed"] == spec.seed
        # Progress counts the request's own steps, to the end.
        steps = meta["decode_steps"]
        assert progress[i][-1] == (steps, steps)
        assert all(t == steps for _, t in progress[i])
    assert len({meta_steps(t) for t in shared}) == 3  # three lengths, three step counts


def test_a_shared_run_with_the_real_decoder_says_so_in_the_sidecar(engine, tmp_path):
    """The engine's own loop in a shared run: each take as long as asked, marked shared."""
    specs = [
        _spec(tmp_path / "a", prompt="driving techno", seed=3, seconds=0.6),
        _spec(tmp_path / "b", prompt="slow jazz", seed=9, seconds=0.3),
    ]
    for spec in specs:
        spec.out_dir.mkdir()
    takes = engine.generate_many([Order(spec) for spec in specs])
    for spec, take in zip(specs, takes, strict=True):
        [audio] = _audio(take.paths)
        assert len(audio) == round(spec.seconds * 32000)
        assert np.abs(audio).max() > 0.01
        meta = json.loads(take.paths[0].with_suffix(".json").read_text())
        assert meta["reproducible"] == "shared"


def _fields(spec: GenerationSpec) -> dict:
    names = ("prompt", "seed", "seconds", "bars", "bpm", "variations")
    return {name: getattr(spec, name) for name in names}


def meta_steps(take) -> int:
    return json.loads(take.paths[0].with_suffix(".json").read_text())["decode_steps"]


def test_what_cannot_share_a_run(engine, tmp_path):
    base = engine.sharing(_spec(tmp_path))
    assert base is not None
    assert engine.sharing(_spec(tmp_path, continue_from=tmp_path / "take.wav")) is None
    assert engine.sharing(_spec(tmp_path, seconds=31.0)) is None  # two windows
    assert engine.sharing(_spec(tmp_path, model="debug-stereo")) is None  # another checkpoint
    for other in ({"guidance": 5.0}, {"temperature": 0.7}, {"top_k": 50}, {"top_p": 0.9}):
        assert engine.sharing(_spec(tmp_path, **other)).key != base.key, other
    assert engine.sharing(_spec(tmp_path, seconds=2.0)).steps > base.steps


def test_melody_checkpoints_share_only_texts_of_one_token_length(cache_dir, tmp_path):
    engine = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False))
    engine.load("debug-melody")
    notes = "60 0 1 100 64 1 1 100"
    from engine.melody import parse_notes

    melody = {"bpm": 120.0, "melody_notes": parse_notes(notes)}
    short = engine.sharing(_spec(tmp_path, prompt="warm funk", **melody))
    same = engine.sharing(_spec(tmp_path, prompt="slow jazz", **melody))
    longer = engine.sharing(_spec(tmp_path, prompt="a much longer text prompt here", **melody))
    no_melody = engine.sharing(_spec(tmp_path, prompt="warm funk", bpm=120.0))
    assert short.key == same.key
    assert longer.key != short.key
    assert no_melody.key != short.key


def test_the_reference_decoder_runs_requests_alone(cache_dir, tmp_path):
    engine = Engine(
        EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, decoder="reference")
    )
    engine.load("debug")
    assert engine.sharing(_spec(tmp_path)) is None


def test_a_failing_request_leaves_the_others_of_its_run(engine, tmp_path, cache_dir):
    melody_engine = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False))
    melody_engine.load("debug-melody")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_bytes(b"this is not audio" * 100)
    from engine.melody import parse_notes

    good = _spec(
        tmp_path, prompt="warm funk", seed=1, bpm=120.0, melody_notes=parse_notes("60 0 1 100")
    )
    bad = _spec(tmp_path, prompt="slow jazz", seed=2, bpm=120.0, melody_audio=not_audio)
    assert melody_engine.sharing(good).key == melody_engine.sharing(bad).key
    results = melody_engine.generate_many([Order(good), Order(bad)])
    assert len(results[0].paths) == 1
    assert isinstance(results[1], BadFile)


def test_a_request_whose_post_processing_fails_leaves_the_others(engine, tmp_path, monkeypatch):
    from engine import post_process

    finish = post_process.finish_take

    def breaks_on_one(audio, spec, *args):
        if spec.prompt == "breaks":
            raise RuntimeError("resampler exploded")
        return finish(audio, spec, *args)

    monkeypatch.setattr(post_process, "finish_take", breaks_on_one)
    specs = [_spec(tmp_path, prompt=p, seed=1) for p in ("fine", "breaks", "also fine")]
    results = engine.generate_many([Order(spec) for spec in specs])
    assert isinstance(results[1], GenerationFailed)
    assert "resampler exploded" in results[1].message
    assert len(results[0].paths) == len(results[2].paths) == 1


def test_requests_that_cannot_share_are_not_run_together(engine, tmp_path):
    orders = [Order(_spec(tmp_path)), Order(_spec(tmp_path, guidance=5.0))]
    with pytest.raises(ValueError, match="cannot share"):
        engine.generate_many(orders)


def test_a_cancelled_request_drops_out_and_the_others_finish(engine, tmp_path):
    polled = []

    def cancel_at_third_step() -> bool:
        polled.append(1)
        return len(polled) >= 3

    stays = _spec(tmp_path, prompt="stays", seed=1, seconds=1.0)
    goes = _spec(tmp_path, prompt="goes", seed=2, seconds=1.0)
    results = engine.generate_many([Order(stays), Order(goes, is_cancelled=cancel_at_third_step)])
    assert isinstance(results[1], Cancelled)
    assert len(polled) == 3  # not asked again once it dropped out
    [path] = results[0].paths
    assert sf.info(str(path)).frames == 32000
    assert not list(tmp_path.glob("*goes*"))


def test_a_run_stops_when_every_request_is_cancelled(engine, tmp_path):
    steps = []

    def on_progress(done: int, total: int) -> None:
        steps.append(done)

    orders = [
        Order(_spec(tmp_path, prompt=p, seconds=5.0), on_progress, lambda: len(steps) >= 4)
        for p in ("a", "b")
    ]
    results = engine.generate_many(orders)
    assert all(isinstance(r, Cancelled) for r in results)
    assert len(steps) <= 6  # stopped within a step, not after 250
    assert list(tmp_path.iterdir()) == []


# -- serve --cpu-precision ------------------------------------------------------


def test_cpu_precision_converts_the_loaded_model_and_the_sidecar_says_so(cache_dir, tmp_path):
    engine = Engine(
        EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, cpu_precision="int8")
    )
    info = engine.load("debug")
    assert info.dtype == "int8"
    [path] = engine.generate(_spec(tmp_path, seed=1)).paths
    assert json.loads(path.with_suffix(".json").read_text())["dtype"] == "int8"
    assert sf.info(str(path)).frames == 16000


def test_cpu_precision_leaves_a_model_not_in_float32_alone(cache_dir, caplog):
    engine = Engine(
        EngineSettings(
            cache_dir=cache_dir, device="cpu", dtype="bfloat16", warmup=False, cpu_precision="int8"
        )
    )
    assert engine.load("debug").dtype == "bfloat16"
    assert "applies to float32 models on the CPU" in caplog.text
