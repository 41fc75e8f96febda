"""Input audio rules and musical post-processing: tempo, loops, resampling, files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio import (
    AUDIO_SUFFIXES,
    MIDI_SUFFIXES,
    SAMPLE_FORMATS,
    SAMPLE_RATES,
    check_input_file,
    estimate_tempo,
    fit_length,
    loop_crossfade,
    loop_fade_samples,
    match_channels,
    read_audio,
    resample,
    stretch_to_tempo,
)
from engine.errors import BadFile, BadPath, InvalidValue, OutOfRange

SR = 32000


def click_track(bpm: float, seconds: float = 12.0, rate: int = SR) -> np.ndarray:
    """Short decaying 1 kHz clicks on every beat, accented every 4 beats; ``[1, T]``."""
    out = np.zeros(round(seconds * rate), dtype=np.float32)
    t = np.arange(round(0.03 * rate)) / rate
    click = (np.sin(2 * math.pi * 1000 * t) * np.exp(-t / 0.005)).astype(np.float32)
    beat = 0
    while (start := round(beat * 60 / bpm * rate)) + click.size <= out.size:
        out[start : start + click.size] += click * (1.0 if beat % 4 == 0 else 0.6)
        beat += 1
    return out[None]


def seam_and_largest_step(loop: np.ndarray) -> tuple[float, float]:
    """(|last -> first| jump, the largest jump between neighbours inside the file)."""
    seam = float(np.max(np.abs(loop[:, 0] - loop[:, -1])))
    inside = float(np.max(np.abs(np.diff(loop, axis=1))))
    return seam, inside


# -- tempo ------------------------------------------------------------------------


def test_click_track_tempo_and_correction() -> None:
    clicks = click_track(97.0)
    assert abs(estimate_tempo(clicks, SR) - 97.0) < 0.5
    stretched = stretch_to_tempo(clicks, SR, 97.0, 120.0)
    assert stretched.dtype == np.float32 and stretched.shape[0] == 1
    assert abs(stretched.shape[1] - clicks.shape[1] * 97 / 120) <= 2
    assert abs(estimate_tempo(stretched, SR) - 120.0) < 1.0


def test_tempo_hint_resolves_octave_errors() -> None:
    fast = np.repeat(click_track(200.0, seconds=8.0), 2, axis=0)  # stereo at 200 bpm
    assert abs(estimate_tempo(fast, SR, hint_bpm=190) - 200.0) < 0.5
    # the same clicks heard as half time when the session runs at 100
    assert abs(estimate_tempo(fast, SR, hint_bpm=100) - 100.0) < 0.5
    clicks = click_track(97.0, seconds=8.0)
    assert abs(estimate_tempo(clicks, SR, hint_bpm=50) - 48.5) < 0.5
    assert abs(estimate_tempo(clicks, SR, hint_bpm=150) - 145.5) < 0.75
    with pytest.raises(OutOfRange):
        estimate_tempo(clicks, SR, hint_bpm=0)


def test_no_beat_no_tempo() -> None:
    with pytest.raises(InvalidValue, match="steady beat"):
        estimate_tempo(np.zeros((1, 4 * SR), dtype=np.float32), SR)
    with pytest.raises(InvalidValue, match="steady beat"):
        estimate_tempo(click_track(120.0)[:, : SR // 2], SR)


def test_stretch_keeps_channels_and_refuses_bad_tempos() -> None:
    rng = np.random.default_rng(3)
    stereo = rng.standard_normal((2, SR)).astype(np.float32) * 0.1
    out = stretch_to_tempo(stereo, SR, 100.0, 50.0)
    assert out.shape[0] == 2 and abs(out.shape[1] - 2 * SR) <= 2
    assert np.array_equal(stretch_to_tempo(stereo, SR, 90.0, 90.0), stereo)
    with pytest.raises(OutOfRange):
        stretch_to_tempo(stereo, SR, 0.0, 120.0)


# -- loops ---------------------------------------------------------------------------


def test_crossfaded_loop_has_no_jump_at_the_seam() -> None:
    rng = np.random.default_rng(11)
    samples, fade = 48_000, loop_fade_samples(SR)
    assert fade == 1600
    t = np.arange(samples + fade + 500) / SR
    take = np.stack(
        [
            sum(
                0.2 * np.sin(2 * math.pi * f * t + rng.uniform(0, 2 * math.pi))
                for f in rng.uniform(60, 900, size=6)
            )
            for _ in range(2)
        ]
    ).astype(np.float32)
    take += 0.01 * rng.standard_normal(take.shape).astype(np.float32)
    loop = loop_crossfade(take, samples, fade)
    assert loop.shape == (2, samples) and loop.dtype == np.float32
    seam, inside = seam_and_largest_step(loop)
    assert seam <= inside
    # the loop starts on the overhang, so the seam continues the take exactly
    assert np.array_equal(loop[:, 0], take[:, samples])
    assert np.array_equal(loop[:, fade:], take[:, fade:samples])


def test_naive_cut_fails_the_seam_check() -> None:
    samples = 32_017  # not a whole number of 440 Hz cycles
    take = np.sin(2 * math.pi * 440 * np.arange(samples + 1600) / SR).astype(np.float32)[None]
    seam, inside = seam_and_largest_step(take[:, :samples])
    assert seam > inside  # the criterion catches a click
    seam, inside = seam_and_largest_step(loop_crossfade(take, samples, 1600))
    assert seam <= inside


def test_loop_crossfade_needs_the_overhang() -> None:
    take = np.zeros((1, 1000), dtype=np.float32)
    with pytest.raises(OutOfRange):
        loop_crossfade(take, 900, 200)
    with pytest.raises(OutOfRange):
        loop_crossfade(take, 900, 0)


# -- resampling and shape -----------------------------------------------------------------


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("to_rate", [44100, 48000])
def test_resample_keeps_pitch_length_and_channels(to_rate: int) -> None:
    frames = 3 * SR + 123
    t = np.arange(frames) / SR
    stereo = np.stack([np.sin(2 * math.pi * 1000 * t), 0.5 * np.sin(2 * math.pi * 250 * t)])
    out = resample(stereo.astype(np.float32), SR, to_rate)
    assert out.dtype == np.float32 and out.shape[0] == 2
    assert abs(out.shape[1] - round(frames * to_rate / SR)) <= 1
    assert _peak_hz(out[0], to_rate) == pytest.approx(1000, abs=1)
    assert _peak_hz(out[1], to_rate) == pytest.approx(250, abs=1)
    assert np.max(np.abs(out[1])) == pytest.approx(0.5, abs=0.02)
    same = resample(stereo.astype(np.float32), SR, SR)
    assert np.array_equal(same, stereo.astype(np.float32))


def test_channels_and_length() -> None:
    stereo = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]], dtype=np.float32)
    assert np.array_equal(match_channels(stereo, 1), [[0.5, 0.5, 0.5]])
    assert np.array_equal(match_channels(stereo[:1], 2), [[1.0, 0.0, 0.5], [1.0, 0.0, 0.5]])
    assert match_channels(stereo, 2) is stereo
    with pytest.raises(OutOfRange):
        match_channels(stereo, 6)
    assert np.array_equal(fit_length(stereo, 2), stereo[:, :2])
    padded = fit_length(stereo, 5)
    assert padded.shape == (2, 5) and np.array_equal(padded[:, 3:], np.zeros((2, 2)))


def test_wire_constants() -> None:
    assert SAMPLE_FORMATS == {"pcm16": "PCM_16", "pcm24": "PCM_24", "float": "FLOAT"}
    assert all(sf.check_format("WAV", subtype) for subtype in SAMPLE_FORMATS.values())
    assert 32000 in SAMPLE_RATES and 44100 in SAMPLE_RATES


# -- input files -------------------------------------------------------------------------


def _wav(path: Path, frames: int = 3200, channels: int = 2) -> Path:
    data = np.random.default_rng(5).uniform(-0.5, 0.5, (frames, channels)).astype(np.float32)
    sf.write(path, data, SR, subtype="PCM_24")
    return path


def test_check_input_file_accepts_a_good_file_and_a_symlink(tmp_path: Path) -> None:
    wav = _wav(tmp_path / "Melody.WAV")
    assert check_input_file(str(wav), what="melody_audio", suffixes=AUDIO_SUFFIXES) == wav
    link = tmp_path / "link.wav"
    link.symlink_to(wav)
    assert check_input_file(str(link), what="melody_audio", suffixes=AUDIO_SUFFIXES) == link


def test_check_input_file_refuses_what_it_must(tmp_path: Path) -> None:
    wav = _wav(tmp_path / "take.wav")
    (tmp_path / "folder.wav").mkdir()
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    midi = tmp_path / "clip.mid"
    midi.write_bytes(b"MThd")
    dangling = tmp_path / "dangling.wav"
    dangling.symlink_to(tmp_path / "gone.wav")

    def check(value: str, **kw: object) -> Path:
        return check_input_file(value, what="melody_audio", suffixes=AUDIO_SUFFIXES, **kw)

    cases: list[tuple[str, type[Exception], str]] = [
        ("take.wav", BadPath, "absolute"),
        ("", BadPath, "absolute"),
        (f"{tmp_path}/../{tmp_path.name}/take.wav", BadPath, r"\.\."),
        (str(tmp_path / "missing.wav"), BadPath, "does not exist"),
        (str(dangling), BadPath, "does not exist"),
        (str(tmp_path / "folder.wav"), BadPath, "folder"),
        (str(fifo), BadPath, "not a regular file"),
        ("/dev/null", BadPath, "not a regular file"),
        (str(midi), BadFile, r"\.wav, \.wave, \.aif, \.aiff, \.flac"),
        (str(tmp_path / "bad\x00name.wav"), BadPath, "melody_audio"),
    ]
    for value, error, words in cases:
        with pytest.raises(error, match=words):
            check(value)
    with pytest.raises(BadFile, match=r"MB, over the 0\.0 MB limit"):
        check(str(wav), max_bytes=1000)
    assert check(str(wav), max_bytes=wav.stat().st_size) == wav
    assert check_input_file(str(midi), what="melody_midi", suffixes=MIDI_SUFFIXES) == midi


@pytest.mark.parametrize(
    ("name", "subtype"), [("a.wav", "PCM_24"), ("a.flac", "PCM_16"), ("a.aiff", "FLOAT")]
)
def test_read_audio_round_trips(tmp_path: Path, name: str, subtype: str) -> None:
    data = np.random.default_rng(2).uniform(-0.5, 0.5, (4410, 2)).astype(np.float32)
    sf.write(tmp_path / name, data, 44100, subtype=subtype)
    audio, rate = read_audio(tmp_path / name)
    assert rate == 44100 and audio.shape == (2, 4410) and audio.dtype == np.float32
    np.testing.assert_allclose(audio, data.T, atol=1e-4)


def test_read_audio_refuses_non_audio_and_empty_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 50)
    with pytest.raises(BadFile, match="not a WAV, AIFF or FLAC file that can be read") as err:
        read_audio(text)
    assert "soundfile" not in err.value.message  # a producer does not know the library
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2), dtype=np.float32), SR)
    with pytest.raises(BadFile, match="empty"):
        read_audio(empty)
