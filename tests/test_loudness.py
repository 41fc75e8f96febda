"""Loudness: BS.1770 integrated loudness, true peak, normalising under a ceiling.

Figures are checked with the library itself (pyloudnorm) on the written
file, and true peak with a second, independent oversampler (scipy's
polyphase resampler) so the engine's own soxr-based meter is not judging
itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt

from bridge import requests
from engine.loudness import integrated_lufs, measure, normalise, oversampling, true_peak_dbtp
from engine.spec import GenerationSpec
from tests.test_audio import seam_and_largest_step

SR = 48000


def _independent_true_peak(audio: np.ndarray, rate: int) -> float:
    """dBTP of ``[T, C]`` or ``[T]`` audio, oversampled as the engine does, but with scipy."""
    audio = np.asarray(audio, dtype=np.float64).reshape(len(audio), -1)
    up = resample_poly(audio, oversampling(rate), 1, axis=0)
    return 20 * math.log10(max(np.abs(up).max(), np.abs(audio).max()))


def _sine(freq: float, amplitude: float, seconds: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * math.pi * freq * t + phase)).astype(np.float32)[None]


def _meta(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


# -- the meter ------------------------------------------------------------------


def test_a_997_hz_sine_measures_as_bs1770_says():
    # BS.1770: a 0 dBFS 997 Hz sine on one channel reads -3.01 LKFS.
    assert integrated_lufs(_sine(997, 0.1, 5.0), SR) == pytest.approx(-23.01, abs=0.1)
    assert integrated_lufs(_sine(997, 1.0, 5.0), SR) == pytest.approx(-3.01, abs=0.1)


def test_true_peak_finds_the_peak_between_samples():
    # A quarter-sample-rate sine 45 degrees off: every sample sits at 0.707 of the peak.
    sine = _sine(SR / 4, 0.5, 1.0, phase=math.pi / 4)
    sample_peak = 20 * math.log10(float(np.abs(sine).max()))
    assert sample_peak == pytest.approx(-9.03, abs=0.05)
    # Measured as a loop (it is periodic), so no edge transient adds to it.
    assert true_peak_dbtp(sine, SR, loop=True) == pytest.approx(-6.02, abs=0.1)


def test_silence_and_very_short_audio_have_no_loudness():
    assert integrated_lufs(np.zeros((1, SR), np.float32), SR) is None
    assert true_peak_dbtp(np.zeros((1, SR), np.float32), SR) is None
    assert integrated_lufs(_sine(997, 0.1, 0.3), SR) is None  # under one 400 ms block
    _, facts = normalise(_sine(997, 0.1, 0.3), SR, -14.0)
    assert facts["target_reached"] is False and "0.4 s" in facts["why_not"]
    assert facts["gain_db"] == 0.0


def test_normalising_reaches_the_target_when_the_ceiling_allows():
    quiet = _sine(997, 0.05, 3.0)
    out, facts = normalise(quiet, SR, -14.0, -1.0)
    assert facts["target_reached"] is True and facts["why_not"] is None
    meter = pyloudnorm.Meter(SR)
    assert meter.integrated_loudness(out[0].astype(np.float64)) == pytest.approx(-14.0, abs=0.1)
    assert np.allclose(out, quiet * 10 ** (facts["gain_db"] / 20), rtol=1e-4, atol=1e-7)  # one gain


def test_a_louder_target_stops_at_the_true_peak_ceiling():
    rng = np.random.default_rng(3)
    noise = 0.05 * rng.standard_normal((2, 3 * SR))
    # Band-limited to 20 kHz, as music is: right under Nyquist every 4x meter reads
    # differently (BS.1770-4's own caveat), and none is the one to check against.
    noise = sosfilt(butter(8, 20_000 / (SR / 2), output="sos"), noise, axis=1).astype(np.float32)
    assert oversampling(SR) == 4
    for ceiling in (-1.0, -3.0, 0.0):
        out, facts = normalise(noise, SR, -5.0, ceiling)
        assert facts["target_reached"] is False
        assert "ceiling" in facts["why_not"] and "-5 LUFS" in facts["why_not"]
        assert _independent_true_peak(out.T, SR) <= ceiling + 0.05
        assert true_peak_dbtp(out, SR) == pytest.approx(ceiling, abs=0.01)


# -- takes ----------------------------------------------------------------------


def test_a_take_asked_for_minus_14_lufs_measures_minus_14(debug_engine, tmp_path):
    spec = GenerationSpec(
        prompt="lufs", out_dir=tmp_path, bars=2, bpm=120, seed=5, loudness=-14.0, sample_rate=SR
    )
    [path] = debug_engine.generate(spec).paths
    audio, rate = sf.read(str(path), dtype="float64")
    assert rate == SR
    assert pyloudnorm.Meter(rate).integrated_loudness(audio) == pytest.approx(-14.0, abs=0.5)
    loudness = _meta(path)["loudness"]
    assert loudness["target_lufs"] == -14.0 and loudness["target_reached"] is True
    assert loudness["integrated_lufs"] == pytest.approx(-14.0, abs=0.05)
    assert loudness["true_peak_dbtp"] <= -1.0
    assert _meta(path)["params"]["loudness"] == -14.0


def test_a_louder_take_never_exceeds_the_true_peak_ceiling(debug_engine, tmp_path):
    spec = GenerationSpec(prompt="loud", out_dir=tmp_path, bars=2, bpm=120, seed=6, loudness=-5.0)
    [path] = debug_engine.generate(spec).paths
    audio, rate = sf.read(str(path), dtype="float64")
    assert _independent_true_peak(audio, rate) <= -1.0 + 0.05  # PCM24, the two oversamplers
    loudness = _meta(path)["loudness"]
    assert loudness["target_reached"] is False and "ceiling" in loudness["why_not"]
    assert loudness["true_peak_dbtp"] == pytest.approx(-1.0, abs=0.02)
    assert loudness["integrated_lufs"] > -14.0  # as loud as the ceiling allows
    assert _meta(path)["peak_limit_gain_db"] == 0.0  # nothing clipped, nothing limited


def test_a_normalised_loop_is_one_gain_of_the_loop_and_keeps_its_seam(debug_engine, tmp_path):
    fields = {"prompt": "loop", "bars": 1, "bpm": 120, "seed": 8, "loop": True}
    fields["sample_format"] = "float"
    [plain] = debug_engine.generate(GenerationSpec(out_dir=tmp_path, **fields)).paths
    [loud] = debug_engine.generate(GenerationSpec(out_dir=tmp_path, loudness=-14, **fields)).paths
    a, rate = sf.read(str(plain), dtype="float32", always_2d=True)
    b, _ = sf.read(str(loud), dtype="float32", always_2d=True)
    gain = 10 ** (_meta(loud)["loudness"]["gain_db"] / 20)
    assert gain > 1.25  # the debug checkpoint is quiet: the loop really was scaled (> 2 dB)
    assert np.allclose(b, a * gain, rtol=1e-4, atol=1e-6)  # gain_db has 3 decimals
    seam, inside = seam_and_largest_step(b.T)
    assert seam <= inside
    assert _meta(loud)["loop_crossfade_samples"] == round(0.05 * rate)


def test_every_sidecar_records_loudness_and_true_peak(debug_engine, tmp_path):
    [path] = debug_engine.generate(
        GenerationSpec(prompt="plain", out_dir=tmp_path, seconds=1.0, seed=9)
    ).paths
    audio, rate = sf.read(str(path), dtype="float64")
    loudness = _meta(path)["loudness"]
    assert set(loudness) == {"integrated_lufs", "true_peak_dbtp", "standard"}  # nothing asked
    expected = pyloudnorm.Meter(rate).integrated_loudness(audio)
    assert loudness["integrated_lufs"] == pytest.approx(expected, abs=0.05)
    assert loudness["true_peak_dbtp"] == pytest.approx(_independent_true_peak(audio, rate), abs=0.1)
    assert measure(audio[None].astype(np.float32), rate)["integrated_lufs"] == pytest.approx(
        expected, abs=0.05
    )


# -- the request key -------------------------------------------------------------


def _generate(tmp_path: Path, *extra) -> requests.Request:
    args = ["id", "l1", "reply_port", 9001, "prompt", "x", "out_dir", str(tmp_path), *extra]
    return requests.parse("/musicgen/generate", args, requests.Limits())


def test_loudness_key_is_a_float_in_range(tmp_path):
    request = _generate(tmp_path, "loudness", -14)  # Max sends an int
    assert isinstance(request, requests.GenerateRequest)
    assert request.spec.loudness == -14.0 and isinstance(request.spec.loudness, float)
    absent = _generate(tmp_path)
    assert isinstance(absent, requests.GenerateRequest) and absent.spec.loudness is None
    for value in (-41, -4.5, 0):
        with pytest.raises(requests.RequestRejected) as caught:
            _generate(tmp_path, "loudness", value)
        assert caught.value.code == "out_of_range"
        assert "loudness must be between -40 and -5" in caught.value.message
    with pytest.raises(requests.RequestRejected) as caught:
        _generate(tmp_path, "loudness", "-14")
    assert caught.value.code == "wrong_type"


def test_the_engine_true_peak_setting_is_the_ceiling(cache_dir, tmp_path):
    from engine.api import Engine, EngineSettings

    engine = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, true_peak=-6.0))
    spec = GenerationSpec(
        prompt="ceiling", out_dir=tmp_path, bars=1, bpm=120, seed=2, loudness=-8, model="debug"
    )
    [path] = engine.generate(spec).paths
    audio, rate = sf.read(str(path), dtype="float64")
    assert _independent_true_peak(audio, rate) <= -6.0 + 0.05
    loudness = _meta(path)["loudness"]
    assert loudness["true_peak_ceiling_dbtp"] == -6.0 and loudness["target_reached"] is False


def test_serve_true_peak_is_checked_in_words():
    from bridge.config import ServeConfig

    assert ServeConfig().true_peak == -1.0
    assert ServeConfig.from_sources({}, {"MUSICGEN_BRIDGE_TRUE_PEAK": "-2"}).true_peak == -2.0
    with pytest.raises(ValueError, match="true_peak must be -20 to 0 dBTP"):
        ServeConfig(true_peak=0.5)


def test_the_sidecar_measures_the_take_as_written_after_peak_limiting(debug_engine, tmp_path):
    from datetime import datetime

    from engine.post_process import Rendered

    hot = _sine(997, 2.0, 1.0)  # twice full scale: peak limiting scales it down
    details = {
        "windows": 1,
        "decode_steps": 53,
        "shared_run": {"requests": 1, "takes": 1},
        "per_take": [{}],
        "timings": {},
    }
    spec = GenerationSpec(prompt="hot", out_dir=tmp_path, seconds=1.0, sample_rate=SR)
    take = debug_engine._write(spec, [1], Rendered([hot], SR, "hot", details), datetime.now(), 0.1)
    meta = _meta(take.paths[0])
    assert meta["peak_limit_gain_db"] < -6.0
    assert -0.1 < meta["loudness"]["true_peak_dbtp"] <= 0.0
    assert meta["loudness"]["integrated_lufs"] == pytest.approx(-3.01, abs=0.1)
