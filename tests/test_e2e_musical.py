"""Melody, continuation and variations end to end over real UDP on loopback.

A real ``musicgen-bridge serve --model debug-melody`` process, driven by
python-osc as any OSC application would drive it; the text-only engine of
conftest answers the requests it cannot serve.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import start_engine, stop_engine
from tests.test_e2e import OscPeer

pytestmark = pytest.mark.e2e
TERMINAL = {"/musicgen/done", "/musicgen/error"}


@pytest.fixture(scope="module")
def melody_engine(cache_dir, tmp_path_factory):
    engine = start_engine(cache_dir, tmp_path_factory.mktemp("melody"), model="debug-melody")
    yield engine
    stop_engine(engine)


def _generate(peer: OscPeer, request_id: str, **fields) -> list:
    args = ["id", request_id, "reply_port", peer.port]
    for key, value in fields.items():
        args += [key, value]
    peer.send("/musicgen/generate", *args)
    return peer.until(request_id, TERMINAL)


def _done_paths(replies) -> list[Path]:
    address, args = replies[-1]
    assert address == "/musicgen/done", replies
    return [Path(p) for p in args[1:]]


def test_melody_notes_with_variations_over_osc(melody_engine, tmp_path):
    peer = OscPeer(melody_engine.port)
    replies = _generate(
        peer,
        "mel1",
        prompt="synth lead",
        bars=2,
        bpm=120,
        key="Am",
        variations=2,
        seed=10,
        sample_rate=44100,
        melody_notes="69 0 1 100 72 1 1 100 76 2 2 100",
        melody_length=4.0,
        loop=1,
        out_dir=str(tmp_path),
    )
    paths = _done_paths(replies)
    assert len(paths) == 2
    for seed, path in zip((10, 11), paths, strict=True):
        info = sf.info(str(path))
        assert (info.frames, info.samplerate, info.channels) == (176400, 44100, 1)  # 4.000 s
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["seed"] == seed and meta["model"] == "debug-melody"
        assert meta["conditioning_text"] == "synth lead, 120 bpm, in A minor"
        assert meta["params"]["melody_notes"][0] == {
            "pitch": 69,
            "start": 0.0,
            "length": 1.0,
            "velocity": 100,
        }
    assert [a for a, _ in replies].count("/musicgen/queued") == 1


def test_melody_from_a_midi_file_over_osc(melody_engine, tmp_path):
    import mido

    mid = mido.MidiFile(ticks_per_beat=96)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)))
    track.append(mido.Message("note_on", note=64, velocity=100, time=0))
    track.append(mido.Message("note_off", note=64, velocity=0, time=192))
    mid.save(tmp_path / "line.mid")
    replies = _generate(
        peer := OscPeer(melody_engine.port),
        "mel2",
        prompt="strings",
        seconds=1.0,
        melody_midi=str(tmp_path / "line.mid"),
        out_dir=str(tmp_path),
    )
    [path] = _done_paths(replies)
    assert sf.info(str(path)).frames == 32000
    peer.server.shutdown()


def test_stereo_variations_over_osc(melody_engine, tmp_path):
    peer = OscPeer(melody_engine.port)
    replies = _generate(
        peer,
        "st1",
        prompt="pads",
        seconds=1.0,
        variations=3,
        model="debug-stereo",
        sample_rate=48000,
        sample_format="pcm16",
        out_dir=str(tmp_path),
    )
    paths = _done_paths(replies)
    assert len(paths) == 3 and len(set(paths)) == 3
    for path in paths:
        info = sf.info(str(path))
        assert (info.frames, info.samplerate, info.channels, info.subtype) == (
            48000,
            48000,
            2,
            "PCM_16",
        )
        assert path.with_suffix(".json").is_file()


def test_continuation_over_osc(engine_process, tmp_path):
    rng = np.random.default_rng(1)
    prompt = tmp_path / "groove.aiff"
    sf.write(prompt, 0.2 * rng.standard_normal((3 * 48000, 2)), 48000)
    peer = OscPeer(engine_process.port)
    replies = _generate(
        peer,
        "cont1",
        prompt="keep going",
        bars=1,
        bpm=120,
        continue_from=str(prompt),
        prompt_seconds=2.0,
        out_dir=str(tmp_path),
    )
    [path] = _done_paths(replies)
    assert sf.info(str(path)).frames == 64000
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["params"]["continue_from"] == str(prompt)
    replies = _generate(
        peer,
        "cont2",
        prompt="keep going",
        bars=1,
        bpm=120,
        continue_from=str(prompt),
        prompt_seconds=2.0,
        include_prompt=1,
        out_dir=str(tmp_path),
    )
    [path] = _done_paths(replies)
    assert sf.info(str(path)).frames == 64000 + 64000  # 2 s of prompt, then 2 s


def test_what_a_checkpoint_or_a_file_cannot_do_is_an_error_in_words(engine_process, tmp_path):
    peer = OscPeer(engine_process.port)
    replies = _generate(
        peer, "m1", prompt="x", bpm=120, melody_notes="60 0 1 100", out_dir=str(tmp_path)
    )
    assert replies[-1][0] == "/musicgen/error"
    assert replies[-1][1][1] == "unsupported" and "melody" in replies[-1][1][2]
    fake = tmp_path / "fake.wav"
    fake.write_text("this is not audio")
    replies = _generate(peer, "f1", prompt="x", continue_from=str(fake), out_dir=str(tmp_path))
    assert replies[-1][0] == "/musicgen/error" and replies[-1][1][1] == "bad_file"
    replies = _generate(peer, "v1", prompt="x", variations=5, out_dir=str(tmp_path))
    assert replies[-1][1][1] == "out_of_range"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.wav"]  # nothing written
