"""Musical control through the real engine: variations, melody, continuation,
long takes, loops, tempo, output formats.  Tiny random checkpoints (debug,
debug-melody, debug-stereo) loaded through the real loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import generate, melody, windows
from engine.api import Engine, EngineSettings
from engine.decoders import codec, contract, reference
from engine.errors import BadFile, Unsupported
from engine.prompting import conditioning_text, parse_key
from engine.sampling import Sampling, sample_tokens
from engine.spec import GenerationSpec
from engine.timing import TimeSignature


@pytest.fixture(scope="module")
def engine(cache_dir: Path) -> Engine:
    """An engine that switches between the debug checkpoints as tests ask."""
    return Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False))


def _spec(tmp_path: Path, **fields) -> GenerationSpec:
    fields.setdefault("prompt", "test")
    fields.setdefault("seconds", 0.5)
    fields.setdefault("model", "debug")
    return GenerationSpec(out_dir=tmp_path, **fields)


def _meta(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


class SpyDecoder:
    """Wraps the reference decoder and records what each run was given."""

    def __init__(self) -> None:
        self.runs: list[tuple[contract.DecodeInputs, int]] = []

    def __call__(self, loaded, inputs, new_frames, *args, **kwargs):
        self.runs.append((inputs, new_frames))
        return reference.reference_decode(loaded, inputs, new_frames, *args, **kwargs)


# -- variations ---------------------------------------------------------------


def test_variations_write_one_file_per_seed_and_each_can_be_made_again_alone(
    engine, tmp_path, monkeypatch
):
    """Bit for bit with a decoder whose takes do not depend on the batch (row_decoder).

    With the real decoders a variation made again alone is its take up to
    float rounding (tests/test_fast_decode.py, test_variation_equals_single_take).
    """
    from tests.agreement import row_decoder

    monkeypatch.setattr(engine, "_decoder", lambda graphs: row_decoder)
    take = engine.generate(_spec(tmp_path / "", seed=40, variations=3))
    assert len(take.paths) == 3
    seeds = [_meta(p)["seed"] for p in take.paths]
    assert seeds == [40, 41, 42]
    assert all(_meta(p)["params"]["variations"] == 1 for p in take.paths)
    audio = [sf.read(p, dtype="float32")[0] for p in take.paths]
    assert not np.array_equal(audio[0], audio[1])
    # The recipe in the sidecar makes take 3 again, alone.
    again = engine.generate(_spec(tmp_path, seed=42))
    assert np.array_equal(sf.read(again.paths[0], dtype="float32")[0], audio[2])


def test_variations_decode_as_one_batch(engine, tmp_path):
    spy = SpyDecoder()
    loaded = _loaded(engine, "debug")
    generate.render(loaded, _spec(tmp_path, variations=4), [1, 2, 3, 4], spy)
    [(inputs, _new)] = spy.runs
    assert inputs.batch == 4


# -- length, rate, format, channels --------------------------------------------


@pytest.mark.parametrize(
    ("timesig", "bars", "bpm", "seconds"),
    [("4/4", 2, 120, 4.0), ("3/4", 2, 90, 4.0), ("6/8", 2, 120, 3.0), ("7/8", 2, 140, 3.0)],
)
@pytest.mark.parametrize("rate", [32000, 44100, 48000])
def test_bars_give_an_exact_sample_count_at_every_rate(
    engine, tmp_path, timesig, bars, bpm, seconds, rate
):
    spec = _spec(tmp_path, seconds=None, bars=bars, bpm=bpm, timesig=TimeSignature.parse(timesig))
    spec = GenerationSpec(**{**spec.__dict__, "sample_rate": rate})
    [path] = engine.generate(spec).paths
    info = sf.info(str(path))
    assert info.samplerate == rate
    assert info.frames == round(seconds * rate)


@pytest.mark.parametrize(("fmt", "subtype"), [("pcm16", "PCM_16"), ("float", "FLOAT")])
def test_sample_format(engine, tmp_path, fmt, subtype):
    [path] = engine.generate(_spec(tmp_path, sample_format=fmt)).paths
    assert sf.info(str(path)).subtype == subtype
    assert _meta(path)["sample_format"] == fmt


def test_stereo_checkpoint_writes_two_channels(engine, tmp_path):
    [path] = engine.generate(_spec(tmp_path, model="debug-stereo", sample_rate=44100)).paths
    info = sf.info(str(path))
    assert (info.channels, info.samplerate, info.frames) == (2, 44100, 22050)


# -- long takes ----------------------------------------------------------------


def test_plan_windows_extends_with_twelve_seconds_of_context():
    # 50 frames a second: a 30 s window, stride 18 s.
    assert windows.plan_windows(0, 1000, 1500, 900) == [(0, 1000)]
    assert windows.plan_windows(0, 2000, 1500, 900) == [(0, 1500), (600, 500)]
    assert windows.plan_windows(0, 3000, 1500, 900) == [(0, 1500), (600, 900), (600, 600)]
    # A 10 s continuation prompt leaves 20 s for the first window.
    assert windows.plan_windows(500, 1200, 1500, 900) == [(500, 1000), (600, 200)]


def test_a_take_longer_than_the_window_is_extended_window_by_window(engine, tmp_path):
    spy = SpyDecoder()
    loaded = _loaded(engine, "debug")
    progress = []
    spec = _spec(tmp_path, seconds=40.0)
    out = generate.render(loaded, spec, [3], spy, on_progress=lambda d, t: progress.append((d, t)))
    assert out.takes[0].shape == (1, 40 * 32000)
    assert [(i.prompt_frames, new) for i, new in spy.runs] == [(0, 1500), (600, 500)]
    # The second window is prompted by the last 12 s of the first.
    assert progress[-1][0] == progress[-1][1] == windows.total_steps(loaded, spec)
    assert [d for d, _t in progress] == list(range(1, len(progress) + 1))


# -- continuation --------------------------------------------------------------


def _write_wav(path: Path, seconds: float, rate: int = 32000, channels: int = 1) -> Path:
    rng = np.random.default_rng(0)
    sf.write(path, 0.1 * rng.standard_normal((round(seconds * rate), channels)), rate)
    return path


def test_continuation_is_prompted_by_the_end_of_the_file(engine, tmp_path):
    prompt = _write_wav(tmp_path / "clip.wav", 6.0, rate=44100, channels=2)
    spy = SpyDecoder()
    loaded = _loaded(engine, "debug")
    spec = _spec(tmp_path, seconds=2.0, continue_from=prompt, prompt_seconds=4.0)
    out = generate.render(loaded, spec, [1], spy)
    [(inputs, new)] = spy.runs
    assert inputs.prompt_frames == 200 and new == 100  # 4 s prompt, 2 s new
    expected = codec.encode_audio(loaded, _tail_at_model_rate(prompt, 4.0))
    assert np.array_equal(inputs.prompt_codes.numpy(), expected.numpy())
    assert out.takes[0].shape == (1, 64000)
    assert out.details["prompt_seconds_used"] == 4.0


def _tail_at_model_rate(path: Path, seconds: float) -> np.ndarray:
    from engine import audio

    data, rate = audio.read_audio(path)
    data = audio.match_channels(audio.resample(data, rate, 32000), 1)
    return data[:, -round(seconds * 32000) :]


def test_a_trimmed_clip_is_continued_from_its_own_end(engine, tmp_path):
    prompt = _write_wav(tmp_path / "long.wav", 8.0)
    spy = SpyDecoder()
    loaded = _loaded(engine, "debug")
    spec = _spec(tmp_path, continue_from=prompt, prompt_seconds=2.0, audio_start=1.0, audio_end=5.0)
    generate.render(loaded, spec, [1], spy)
    data, _rate = sf.read(str(prompt), dtype="float32", always_2d=True)
    expected = codec.encode_audio(loaded, data.T[:, 3 * 32000 : 5 * 32000])
    assert np.array_equal(spy.runs[0][0].prompt_codes.numpy(), expected.numpy())
    with pytest.raises(BadFile):  # the clip lies past the file's end
        engine.generate(_spec(tmp_path, continue_from=prompt, audio_start=9.0, audio_end=10.0))


def test_include_prompt_puts_the_prompt_before_the_continuation(engine, tmp_path):
    prompt = _write_wav(tmp_path / "clip.wav", 3.0)
    [path] = engine.generate(
        _spec(tmp_path, seconds=1.0, continue_from=prompt, prompt_seconds=2.0, include_prompt=True)
    ).paths
    assert sf.info(str(path)).frames == 3 * 32000


def test_a_prompt_file_that_is_not_audio_fails_with_bad_file(engine, tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("not audio")
    with pytest.raises(BadFile):
        engine.generate(_spec(tmp_path, continue_from=fake))


# -- melody --------------------------------------------------------------------

SCALE = "60 0 1 100 62 1 1 100 64 2 1 100 65 3 1 100"


def test_melody_of_a_text_only_checkpoint_is_unsupported(engine, tmp_path):
    with pytest.raises(Unsupported):
        engine.generate(_spec(tmp_path, bpm=120, melody_notes=melody.parse_notes(SCALE)))
    assert list(tmp_path.iterdir()) == []


def test_melody_notes_condition_the_melody_checkpoint_with_their_chroma(engine, tmp_path):
    spy = SpyDecoder()
    loaded = _loaded(engine, "debug-melody")
    notes = melody.parse_notes(SCALE)
    spec = _spec(tmp_path, model="debug-melody", seconds=None, bars=2, bpm=120, melody_notes=notes)
    out = generate.render(loaded, spec, [1, 2], spy)
    [(inputs, _new)] = spy.runs
    params = melody.ChromaParams.from_preprocessor_config(loaded.features)
    # One 4/4 bar of notes, looping every bar over the 2-bar (4 s) take.
    frames = windows.frames_needed(loaded, spec) / loaded.frame_rate
    want = melody.notes_to_chroma(melody.notes_to_seconds(notes, 120), frames, params, loop_s=2.0)
    # Tiled to the checkpoint's chroma_length, as the model tiles a shorter melody.
    length = loaded.model.config.chroma_length
    assert inputs.melody.shape == (2, length, 12)
    # In the model's dtype (bf16 where --cpu-precision auto chose it): rounded alike.
    import torch

    expected = torch.from_numpy(np.resize(want, (length, 12))).to(inputs.melody.dtype)
    assert torch.equal(inputs.melody[0], expected)
    assert np.argmax(want[round(2.25 * params.frame_rate)]) == 0  # C again, looped
    assert np.argmax(want[round(1.75 * params.frame_rate)]) == 5  # F, beat 3.5
    assert len(out.takes) == 2


def test_melody_from_midi_and_audio_files(engine, tmp_path):
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for pitch in (67, 69):
        track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    mid.save(tmp_path / "tune.mid")
    for source in ({"melody_midi": tmp_path / "tune.mid"}, {"melody_audio": _sine(tmp_path)}):
        [path] = engine.generate(
            _spec(tmp_path, model="debug-melody", seconds=1.5, sample_rate=48000, **source)
        ).paths
        assert sf.info(str(path)).frames == 72000


def _sine(tmp_path: Path) -> Path:
    t = np.arange(32000 * 2) / 32000
    sf.write(tmp_path / "a440.flac", 0.5 * np.sin(2 * np.pi * 440 * t), 32000)
    return tmp_path / "a440.flac"


# -- loop and tempo ------------------------------------------------------------


def test_a_loop_has_no_jump_at_the_seam_larger_than_elsewhere(engine, tmp_path):
    [path] = engine.generate(_spec(tmp_path, seconds=None, bars=1, bpm=120, loop=True)).paths
    audio, rate = sf.read(str(path), dtype="float32")
    assert len(audio) == rate * 2
    jumps = np.abs(np.diff(audio))
    assert abs(float(audio[0]) - float(audio[-1])) <= jumps.max()
    assert _meta(path)["loop_crossfade_samples"] == round(0.05 * rate)


def test_tempo_correction_is_recorded_and_keeps_the_length(engine, tmp_path):
    spec = _spec(tmp_path, seconds=None, bars=2, bpm=100, tempo_correct=True)
    [path] = engine.generate(spec).paths
    assert sf.info(str(path)).frames == round(4.8 * 32000)
    tempo = _meta(path)["tempo"]
    assert tempo["target_bpm"] == 100 and tempo["estimated_bpm"] > 0
    assert isinstance(tempo["stretched"], bool)


# -- text conditioning and sampling --------------------------------------------


def test_tempo_and_key_join_the_text_unless_the_prompt_states_them():
    assert conditioning_text("warm rhodes", 92, "A minor") == "warm rhodes, 92 bpm, in A minor"
    assert conditioning_text("warm rhodes.", 92.5, None) == "warm rhodes, 92.5 bpm"
    assert conditioning_text("house at 124 BPM in F minor", 120, "C major") == (
        "house at 124 BPM in F minor"
    )
    assert conditioning_text("lofi, Eb major", None, "C minor") == "lofi, Eb major"
    assert conditioning_text("lofi", None, None) == "lofi"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Am", "A minor"),
        ("f#m", "F# minor"),
        ("Bb", "Bb major"),
        ("eb minor", "Eb minor"),
        ("C major", "C major"),
        ("Db min", "C# minor"),
        ("CM", "C major"),
    ],
)
def test_keys_are_normalised(text, key):
    assert parse_key(text) == key


def test_a_non_key_is_refused():
    from engine.errors import InvalidValue

    for text in ("H minor", "minor", "C dorian", "", "C##"):
        with pytest.raises(InvalidValue):
            parse_key(text)


def test_sampling_settings_narrow_as_documented():
    import torch

    torch.manual_seed(0)
    logits = torch.randn(8, 2048)
    best = logits.argmax(-1)
    seeds = [1, 2]
    assert torch.equal(sample_tokens(logits, Sampling(top_k=1), seeds, 1), best)
    assert torch.equal(sample_tokens(logits, Sampling(top_p=1e-6, top_k=0), seeds, 1), best)
    assert torch.equal(sample_tokens(logits, Sampling(greedy=True), seeds, 1), best)
    # Within top-k 5, never outside it.
    top5 = logits.topk(5).indices
    for column in range(20):
        picks = sample_tokens(logits, Sampling(top_k=5), seeds, column)
        assert all(int(p) in top5[i].tolist() for i, p in enumerate(picks))
    # Each take's rows draw with its own seed: row block 2 alone, seed 2.
    both = sample_tokens(logits, Sampling(), [1, 2], 7)
    alone = sample_tokens(logits[4:], Sampling(), [2], 7)
    assert torch.equal(both[4:], alone)


def _loaded(engine: Engine, model_id: str):
    engine.load(model_id)
    return engine._loaded


def test_the_fast_and_reference_decoders_make_the_same_take(cache_dir, tmp_path, monkeypatch):
    """The engine's default (fast) loop and the switch back (transformers) agree.

    Their tokens agree up to float rounding (tests/test_fast_decode.py); here,
    where the tokens are the same, so is every sample of the files.
    """
    import torch

    takes, tokens = [], []
    for decoder in ("fast", "reference"):
        engine = Engine(
            EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, decoder=decoder)
        )
        made = engine._decoder(None)

        def spy(*args, made=made, **kwargs):
            out = made(*args, **kwargs)
            tokens.append(out)
            return out

        monkeypatch.setattr(engine, "_decoder", lambda graphs, spy=spy: spy)
        spec = _spec(tmp_path / decoder, seconds=None, bars=1, bpm=120, seed=9, variations=2)
        spec.out_dir.mkdir()
        take = engine.generate(spec)
        takes.append([sf.read(p, dtype="float32")[0] for p in take.paths])
        assert _meta(take.paths[0])["decoder"] == decoder
    assert EngineSettings(cache_dir=cache_dir).decoder == "fast"
    fast_tokens, reference_tokens = tokens
    assert fast_tokens.shape == reference_tokens.shape
    for b, (fast, slow) in enumerate(zip(*takes, strict=True)):
        assert fast.shape == slow.shape
        if torch.equal(fast_tokens[b], reference_tokens[b]):
            assert np.array_equal(fast, slow)
