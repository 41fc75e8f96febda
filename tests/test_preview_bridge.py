"""The preview on the bridge's side: the key, the reply, the queue's forwarding, the
CLI's player (with a fake output stream), and a loopback round trip."""

from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge import protocol, replies, requests
from bridge.job_record import Job
from bridge.jobs import JobQueue
from bridge.preview_player import PreviewPlayer, audio_needed, take_seconds
from engine.errors import BridgeError
from engine.preview import GrowingWav, PreviewReady
from engine.spec import GenerationSpec
from tests.fakes import FakeEngine, Recorder

GENERATE = f"{protocol.PREFIX}/generate"


def _parse(tmp_path: Path, *extra):
    args = ["id", "a1", "reply_port", 9001, "prompt", "x", "out_dir", str(tmp_path), *extra]
    return requests.parse(GENERATE, args, requests.Limits())


# -- the key and the reply ------------------------------------------------------


def test_the_preview_key_is_read_and_defaults_to_off(tmp_path):
    assert _parse(tmp_path).preview is False
    assert _parse(tmp_path, "preview", 1).preview is True
    assert _parse(tmp_path, "preview", 0).preview is False
    with pytest.raises(BridgeError):
        _parse(tmp_path, "preview", 2)


def test_the_preview_reply_is_asked_for_and_documented():
    address, args = replies.preview("a1", "/c/p.wav", 1.23456, 2, 3)
    assert address == "/musicgen/preview" and args == ["a1", "/c/p.wav", 1.2346, 2, 3]
    assert replies.ASKED_REPLIES[address] == ("generate", "preview")
    doc = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    assert "`/musicgen/preview`" in doc and "first_audio_s" in doc


# -- the queue --------------------------------------------------------------------


class PreviewEngine(FakeEngine):
    """A fake engine that grows a preview of 10 pieces per take, as fast as it can."""

    def __init__(self, takes: int = 2) -> None:
        super().__init__(steps=10)
        self.takes = takes
        self.hooks: list = []

    def generate_many(self, orders):
        self.hooks = [order.on_preview for order in orders]
        for order in orders:
            for piece in range(1, 11):
                for take in range(1, self.takes + 1):
                    if order.on_preview:
                        ready = PreviewReady(Path(f"/p{take}"), piece * 0.5, take, self.takes)
                        order.on_preview(ready if piece < 10 else _final(ready))
        return super().generate_many(orders)


def _final(ready: PreviewReady) -> PreviewReady:
    return PreviewReady(ready.path, ready.seconds, ready.take, ready.count, final=True)


class PreviewRecorder(Recorder):
    def preview(self, job, path, seconds, take, count):
        self._add(("preview", job.id, path, seconds, take, count))


def _run(engine: PreviewEngine, job: Job) -> list[tuple]:
    recorder = PreviewRecorder()
    queue = JobQueue(engine, recorder, startup_model="fake")
    queue.submit(job)
    queue.start()
    try:
        recorder.wait_terminals(1)
    finally:
        queue.shutdown(5)
    return recorder.events


def test_the_queue_forwards_previews_rate_limited_with_each_takes_last(tmp_path):
    spec = GenerationSpec(prompt="p", out_dir=tmp_path, seconds=5.0)
    events = _run(PreviewEngine(), Job("j", spec, ("127.0.0.1", 9), preview=True))
    previews = [e for e in events if e[0] == "preview"]
    # Twenty pieces in a burst: the first and the last of each take go out, not the rest.
    assert [(e[4], e[3]) for e in previews] == [(1, 0.5), (2, 0.5), (1, 5.0), (2, 5.0)]
    assert {e[5] for e in previews} == {2}
    assert events.index(previews[-1]) < events.index(("done", "j", [str(tmp_path / "p.wav")]))


def test_a_request_that_does_not_ask_gets_no_preview(tmp_path):
    engine = PreviewEngine()
    spec = GenerationSpec(prompt="p", out_dir=tmp_path, seconds=5.0)
    events = _run(engine, Job("j", spec, ("127.0.0.1", 9)))
    assert engine.hooks == [None]  # the engine is not even asked to make one
    assert not [e for e in events if e[0] == "preview"]


# -- the player -----------------------------------------------------------------------


def test_audio_needed_projects_no_underrun():
    # Faster than real time: the first piece (and the margin) is enough.
    assert audio_needed(3.0, 30.0, 1.0, 0.5) == pytest.approx(1.5)
    # Two thirds of real time over 30 s: 10 s behind by the end, plus a piece and margin.
    assert audio_needed(2 / 3, 30.0, 1.0, 0.5) == pytest.approx(11.5)
    # Very slow: the whole take.
    assert audio_needed(0.01, 8.0, 1.0) == 8.0
    # The projection holds: from the start point, made audio stays ahead of playback.
    rate, total, piece = 0.6, 20.0, 1.0
    start = audio_needed(rate, total, piece, 0.0)
    for x in np.linspace(0, total - start, 200):
        made = min(total, start + rate * x) - piece  # at worst a piece behind
        assert made + 1e-9 >= min(x, total - piece)


def test_take_seconds_from_bars_or_seconds():
    assert take_seconds({"seconds": 4.0}, 10.0) == 4.0
    assert take_seconds({"bars": 2, "bpm": 120.0, "timesig": "3/4"}, 10.0) == 3.0
    assert take_seconds({}, 10.0) == 10.0


class FakeStream:
    """An output stream whose callback the test drives (block by block)."""

    def __init__(self, rate: int, channels: int, fill) -> None:
        self.rate, self.channels, self.fill = rate, channels, fill
        self.played: list[np.ndarray] = []
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def pull(self, frames: int) -> None:
        out = np.full((frames, self.channels), np.nan, dtype=np.float32)
        self.fill(out, frames)
        self.played.append(out)

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _player(total_s: float):
    streams: list[FakeStream] = []
    lines: list[str] = []

    def open_stream(rate, channels, fill):
        streams.append(FakeStream(rate, channels, fill))
        return streams[-1]

    clock = Clock()
    return PreviewPlayer(total_s, open_stream, lines.append, clock), streams, lines, clock


def test_the_player_waits_on_a_slow_engine_and_says_so(tmp_path):
    rate, total = 1000, 10.0
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (1, int(total * rate))).astype(np.float32)
    wav = GrowingWav(tmp_path / "1-a-1-take1of1.wav", rate, 1)
    player, streams, lines, clock = _player(total)
    for piece in range(10):  # one second of audio every two seconds: half real time
        wav.append(audio[:, piece * rate : (piece + 1) * rate])
        clock.now = 2.0 * piece
        player.on_preview(str(wav.path), wav.seconds, 1, 1)
        # Half real time over 10 s: start with 5 s + a piece + the margin in hand.
        assert bool(streams) == (wav.seconds >= 6.5), wav.seconds
    assert len(lines) == 1 and "0.50x real time" in lines[0] and "6.5 s" in lines[0]
    [stream] = streams
    final = tmp_path / "take.wav"
    sf.write(final, audio.T, rate, subtype="PCM_16")
    wav.remove()
    player.on_preview(str(wav.path), 10.0, 1, 1)  # the file is gone: nothing breaks
    drain = threading.Thread(target=player.finish, args=(str(final),))
    drain.start()
    while drain.is_alive():
        stream.pull(256)
        time.sleep(0.001)
    played = np.concatenate(stream.played)[: audio.shape[1], 0]
    assert stream.stopped and played.shape[0] == audio.shape[1]
    assert np.abs(played - audio[0]).max() < 1e-3  # the preview, then nothing missing
    assert player.underruns == 0


def test_the_player_starts_at_once_on_a_fast_engine_and_plays_take_one(tmp_path):
    rate = 1000
    wavs = [GrowingWav(tmp_path / f"1-a-1-take{i}of2.wav", rate, 2) for i in (1, 2)]
    player, streams, lines, clock = _player(8.0)
    for _ in range(2):
        for i, wav in enumerate(wavs):
            wav.append(np.full((2, 500), 0.1 * (i + 1), dtype=np.float32))
            player.on_preview(str(wav.path), wav.seconds, i + 1, 2)
        clock.now += 0.1  # five times real time
    assert streams and not lines
    streams[0].pull(1000)
    assert np.allclose(streams[0].played[0], 0.1, atol=1e-4)  # take 1, not take 2


def test_the_player_plays_the_whole_take_from_an_engine_without_preview(tmp_path):
    final = tmp_path / "take.wav"
    sf.write(final, np.full((300, 1), 0.25, dtype=np.float32), 1000)
    player, streams, _, _ = _player(0.3)
    drain = threading.Thread(target=player.finish, args=(str(final),))
    drain.start()
    while not streams:
        time.sleep(0.001)
    while drain.is_alive():
        streams[0].pull(100)
        time.sleep(0.001)
    played = np.concatenate(streams[0].played)
    assert np.allclose(played[:300], 0.25, atol=1e-4) and np.allclose(played[300:], 0)


# -- loopback, a real engine ------------------------------------------------------------


@pytest.mark.e2e
def test_a_client_hears_the_take_while_it_renders_and_an_old_one_sees_nothing_new(
    engine_process, tmp_path
):
    reads: list[tuple[str, float, int, int]] = []

    def on_preview(path: str, seconds: float, take: int, count: int) -> None:
        info = sf.info(path)  # opened anew at each reply, as the protocol says
        assert info.samplerate == 32000 and info.subtype == "PCM_16"
        reads.append((path, info.frames / info.samplerate, take, count))

    fields = {"prompt": "x", "seconds": 3.0, "variations": 2, "out_dir": str(tmp_path)}
    with engine_process.client(timeout=30) as client:
        paths = client.generate({**fields, "preview": 1}, "pv1", on_preview=on_preview)
        assert len(paths) == 2 and {r[2] for r in reads} == {1, 2}
        assert all(r[3] == 2 for r in reads) and max(r[1] for r in reads) == pytest.approx(3.0)
        assert not any(Path(r[0]).exists() for r in reads)  # removed when the take ended
        assert not any(Path(r[0]).is_relative_to(tmp_path) for r in reads)

        client.send(GENERATE, "old1", **fields)  # a client from before the preview
        addresses = set()
        for address, _ in client.replies("old1", 30):
            addresses.add(address)
            if address in ("/musicgen/done", "/musicgen/error"):
                break
    assert "/musicgen/done" in addresses and "/musicgen/preview" not in addresses


@pytest.mark.e2e
def test_generate_play_plays_the_preview_then_says_where_the_take_is(
    engine_process, tmp_path, monkeypatch, capsys
):
    from bridge.cli import main

    streams: list = []

    class OutputStream:
        """sounddevice's, pulled by a thread faster than real time."""

        def __init__(self, samplerate, channels, dtype, callback):
            self.rate, self.channels, self.callback = samplerate, channels, callback
            self.frames = 0
            self.running = False
            streams.append(self)

        def start(self):
            self.running = True
            threading.Thread(target=self._pull, daemon=True).start()

        def _pull(self):
            while self.running:
                out = np.zeros((512, self.channels), dtype=np.float32)
                self.callback(out, 512, None, None)
                self.frames += int(np.any(out != 0, axis=1).sum())
                time.sleep(0.001)

        def stop(self):
            self.running = False

        def close(self):
            pass

    started: list[bool] = []  # whether playing had begun when the take was done
    finish = PreviewPlayer.finish
    monkeypatch.setattr(
        PreviewPlayer,
        "finish",
        lambda self, path: (started.append(bool(streams)), finish(self, path))[1],
    )
    fake = types.ModuleType("sounddevice")
    fake.OutputStream = OutputStream  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    args = ["generate", "x", "--seconds", "2", "--out", str(tmp_path), "--play", "--quiet"]
    code = main([*args, "--port", str(engine_process.port)])
    out, err = capsys.readouterr()
    [path] = out.split()
    assert code == 0 and Path(path).is_file(), err
    [stream] = streams
    assert started == [True]  # from the preview, before the take was done
    assert stream.rate == 32000 and abs(stream.frames - 64000) < 1000  # all of it, once


@pytest.mark.e2e
def test_generate_preview_says_where_each_take_grows(engine_process, tmp_path, capsys):
    from bridge.cli import main

    args = ["generate", "x", "--seconds", "1", "--variations", "2", "--out", str(tmp_path)]
    code = main([*args, "--preview", "--quiet", "--port", str(engine_process.port)])
    out, err = capsys.readouterr()
    assert code == 0 and len(out.split()) == 2
    assert "take 1/2 grows at " in err and "take 2/2 grows at " in err
