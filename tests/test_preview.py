"""The preview on the engine's side: the growing WAV, its life cycle, its faithfulness.

Takes come from the debug checkpoints (random weights); the preview is read
with soundfile from inside the preview callback, while the take runs.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import preview as pv
from engine.errors import Cancelled, GenerationFailed
from engine.spec import GenerationSpec, Order


@pytest.fixture(scope="module")
def engine(cache_dir: Path):
    """An engine of its own (the stereo test switches its model)."""
    from engine.api import Engine, EngineSettings

    made = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False))
    made.load("debug")
    return made


class Listener:
    """Reads the preview file at every reply, as a client would."""

    def __init__(self) -> None:
        self.replies: list[pv.PreviewReady] = []
        self.reads: list[tuple[int, int, int, int]] = []  # (take, frames, rate, channels)
        self.last: dict[int, np.ndarray] = {}  # take -> its final preview [C, T]

    def __call__(self, ready: pv.PreviewReady) -> None:
        self.replies.append(ready)
        audio, rate = sf.read(ready.path, dtype="float32", always_2d=True)
        self.reads.append((ready.take, audio.shape[0], rate, audio.shape[1]))
        if ready.final:
            self.last[ready.take] = audio.T

    def paths(self) -> set[Path]:
        return {r.path for r in self.replies}


def _spec(tmp_path: Path, **kwargs) -> GenerationSpec:
    return GenerationSpec(**{"prompt": "preview", "out_dir": tmp_path, "seed": 11, **kwargs})


def test_the_preview_is_a_valid_growing_wav_read_while_the_take_runs(engine, tmp_path):
    heard = Listener()
    spec = _spec(tmp_path, seconds=4.0, sample_rate=44100)
    [take] = engine.generate_many([Order(spec, on_preview=heard, label="a/b c")])
    assert not isinstance(take, Exception)
    frames = [frames for _, frames, _, _ in heard.reads]
    assert len(frames) >= 4 and frames == sorted(frames) and frames[0] > 0
    assert {(rate, channels) for _, _, rate, channels in heard.reads} == {(44100, 1)}
    for ready, (_, got, rate, _) in zip(heard.replies, heard.reads, strict=True):
        assert got == round(ready.seconds * rate)  # what the reply says is what is there
    assert heard.replies[-1].final and frames[-1] == 4 * 44100  # the take's length, exactly
    [path] = heard.paths()
    assert path.is_absolute() and path.parent == pv.preview_dir(engine.settings.cache_dir)
    assert path.parent != tmp_path and "a_b_c" in path.name


def test_the_files_go_when_the_take_is_done_and_the_sidecar_times_first_audio(engine, tmp_path):
    heard = Listener()
    [take] = engine.generate_many(
        [Order(_spec(tmp_path, seconds=2.0), on_preview=heard, label="done")]
    )
    assert heard.paths() and not any(path.exists() for path in heard.paths())
    timings = json.loads(take.paths[0].with_suffix(".json").read_text())["timings"]
    assert 0 < timings["first_audio_s"] < timings["generate_s"]
    [plain] = engine.generate_many([Order(_spec(tmp_path, seconds=1.0))])
    assert (
        "first_audio_s"
        not in json.loads(plain.paths[0].with_suffix(".json").read_text())["timings"]
    )


def test_cancel_removes_the_files(engine, tmp_path):
    heard = Listener()
    cancel = {"now": False}

    def on_preview(ready: pv.PreviewReady) -> None:
        heard(ready)
        cancel["now"] = True  # cancel once the first piece is heard

    spec = _spec(tmp_path, seconds=4.0)
    [result] = engine.generate_many(
        [Order(spec, is_cancelled=lambda: cancel["now"], on_preview=on_preview, label="c")]
    )
    assert isinstance(result, Cancelled)
    assert len(heard.replies) == 1 and not heard.replies[0].path.exists()


def test_a_failure_removes_the_files(engine, tmp_path):
    heard = Listener()

    def on_progress(done: int, total: int) -> None:
        if heard.replies and done > total // 2:
            raise RuntimeError("the device fell over")

    spec = _spec(tmp_path, seconds=3.0)
    [result] = engine.generate_many([Order(spec, on_progress, on_preview=heard, label="f")])
    assert isinstance(result, GenerationFailed) and "fell over" in result.message
    assert heard.paths() and not any(path.exists() for path in heard.paths())
    assert list(tmp_path.iterdir()) == []


def test_each_variation_has_its_own_file(engine, tmp_path):
    heard = Listener()
    [take] = engine.generate_many(
        [Order(_spec(tmp_path, seconds=2.0, variations=3), on_preview=heard, label="v")]
    )
    by_take = {r.take: r.path for r in heard.replies}
    assert sorted(by_take) == [1, 2, 3] and len(set(by_take.values())) == 3
    assert {r.count for r in heard.replies} == {3}
    assert all(r.path.name.endswith(f"take{r.take}of3.wav") for r in heard.replies)
    # Each file is its own take's: the previews differ as the takes do.
    assert not np.allclose(heard.last[1], heard.last[2])
    for i, path in enumerate(take.paths):
        final, _ = sf.read(path, dtype="float32", always_2d=True)
        assert _faithful(heard.last[i + 1], final.T, 32000, []).snr_db > 30


def test_no_preview_is_made_unless_asked(engine, tmp_path):
    folder = pv.preview_dir(engine.settings.cache_dir)
    seen: list[list[str]] = []

    def on_progress(done: int, total: int) -> None:
        seen.append(os.listdir(folder) if folder.exists() else [])

    [take] = engine.generate_many([Order(_spec(tmp_path, seconds=1.0), on_progress)])
    assert not isinstance(take, Exception)
    assert seen and all(not [n for n in names if f"{os.getpid()}-" in n] for names in seen)


def _faithful(preview, final, rate, joins) -> pv.Faithfulness:
    return pv.faithfulness(preview, final, rate, joins)


@pytest.mark.parametrize(("model", "rate"), [("debug", None), ("debug-stereo", 48000)])
def test_the_preview_matches_the_final_take_and_its_joins_do_not_jump(
    engine, tmp_path, monkeypatch, model, rate
):
    """The floor holds on any CPU: measured 63-69 dB here; the preview is the whole decode to
    float rounding, then 16-bit (docs/performance.md, Preview)."""
    joins: list[int] = []
    close = pv.TakePreviews.close

    def keep_joins(self) -> None:
        joins[:] = self.joins
        close(self)

    monkeypatch.setattr(pv.TakePreviews, "close", keep_joins)
    heard = Listener()
    spec = _spec(tmp_path, seconds=6.0, sample_rate=rate, model=model)
    [take] = engine.generate_many([Order(spec, on_preview=heard)])
    final, out_rate = sf.read(take.paths[0], dtype="float32", always_2d=True)
    found = _faithful(heard.last[1], final.T, out_rate, joins)
    assert heard.last[1].shape == final.T.shape
    assert len(joins) >= 4
    assert found.snr_db > 40, found
    assert found.join_jump < 1.5 * found.within_jump, found


def test_a_continuation_over_two_windows_is_previewed_whole(engine, tmp_path, monkeypatch):
    """A later window is prompted by the end of the one before: the preview follows the
    take's timeline across it, and leaves the continuation's prompt out."""
    joins: list[int] = []
    close = pv.TakePreviews.close
    monkeypatch.setattr(
        pv.TakePreviews, "close", lambda self: (joins.extend(self.joins), close(self))
    )
    prompt = tmp_path / "prompt.wav"
    sf.write(prompt, np.random.default_rng(0).normal(0, 0.1, 64000).astype(np.float32), 32000)
    out = tmp_path / "out"
    out.mkdir()
    heard = Listener()
    spec = GenerationSpec(
        prompt="on", out_dir=out, seed=3, seconds=30.0, continue_from=prompt, prompt_seconds=2.0
    )
    [take] = engine.generate_many([Order(spec, on_preview=heard)])
    final, _ = sf.read(take.paths[0], dtype="float32", always_2d=True)
    assert heard.last[1].shape == final.T.shape  # 30 s, the prompt left out
    assert _faithful(heard.last[1], final.T, 32000, joins).snr_db > 40


def test_growing_wav_header_says_what_is_written(tmp_path):
    wav = pv.GrowingWav(tmp_path / "1-x-1-take1of1.wav", 48000, 2)
    for n in (0, 480, 1000):
        wav.append(np.full((2, n), 0.5, dtype=np.float32))
        data = wav.path.read_bytes()
        riff, size = struct.unpack("<4sI", data[:8])
        assert riff == b"RIFF" and size == len(data) - 8
        assert struct.unpack("<I", data[40:44])[0] == len(data) - 44
        audio, rate = sf.read(wav.path, dtype="float32", always_2d=True)
        assert rate == 48000 and audio.shape == (wav.frames, 2)
    assert abs(float(audio.max()) - 0.5) < 1e-4
    wav.remove()
    assert not wav.path.exists()


def test_orphans_of_a_dead_engine_are_removed_at_start(cache_dir, tmp_path):
    from engine.api import Engine, EngineSettings

    folder = pv.preview_dir(tmp_path)
    folder.mkdir()
    dead = folder / "999999999-job-1-take1of1.wav"  # no process has this pid
    live = folder / f"{os.getpid()}-job-1-take1of1.wav"
    other = folder / "notes.txt"
    for path in (dead, live, other):
        path.write_bytes(b"x")
    Engine(EngineSettings(cache_dir=tmp_path, device="cpu", warmup=False))
    assert not dead.exists() and live.exists() and other.exists()


def test_a_request_cancelled_in_a_shared_run_loses_its_files_at_once(engine, tmp_path):
    """Requests sharing a decoder run: the cancelled one's files go at once, the other's
    preview goes on to the end."""
    gone = Listener()
    stays = Listener()
    cancel = {"now": False}
    checked: list[bool] = []

    def on_gone(ready: pv.PreviewReady) -> None:
        gone(ready)
        cancel["now"] = True

    def on_stays(ready: pv.PreviewReady) -> None:
        stays(ready)
        if gone.replies:
            checked.append(gone.replies[0].path.exists())

    a, b = _spec(tmp_path, seconds=3.0), _spec(tmp_path, seconds=3.0, seed=12)
    assert engine.sharing(a) is not None and engine.sharing(a).key == engine.sharing(b).key
    first, second = engine.generate_many(
        [
            Order(a, is_cancelled=lambda: cancel["now"], on_preview=on_gone, label="a"),
            Order(b, on_preview=on_stays, label="b"),
        ]
    )
    assert isinstance(first, Cancelled) and not isinstance(second, Exception)
    # Its first piece came at the step B's did; from the next step on its file is gone.
    assert len(gone.replies) == 1 and len(checked) > 1 and not any(checked[1:])
    assert stays.replies[-1].final and stays.replies[-1].seconds == pytest.approx(3.0)
