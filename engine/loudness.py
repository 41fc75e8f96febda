"""How loud a take is, and making it as loud as asked without clipping.

Integrated loudness is measured per ITU-R BS.1770-4 (K-weighting, 400 ms
blocks, absolute and relative gates) with pyloudnorm, in LUFS.  True peak is
BS.1770-4 annex 2's: the highest magnitude of the signal oversampled (soxr,
linear phase) 4x, as the annex has it for 44.1 and 48 kHz, and further at
lower rates to at least 176.4 kHz (6x at 32 kHz, 8x at 22.05 kHz), in dBTP, never below the
sample peak.  Like any such meter it can read a fraction of a dB under the
peak a DAC will make; hence a ceiling of -1 dBTP, not 0.

A target loudness is reached with one gain for the whole take, applied after
every other step (tempo, resampling, the loop crossfade), so a loop's seam
stays as seamless as it was.  If that gain would push the true peak over the
ceiling, the gain is lowered to meet the ceiling and the facts say the target
was not reached and why: the take is never clipped to be louder.

Audio arrays are float32 ``[channels, samples]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

OVERSAMPLE = 4  # BS.1770-4 annex 2: 4x at 44.1 / 48 kHz...
OVERSAMPLED_RATE = 176_400  # ...so lower rates are oversampled to at least this, in Hz
BLOCK_SECONDS = 0.4  # BS.1770 gating block: shorter audio has no integrated loudness
DEFAULT_TRUE_PEAK = -1.0  # dBTP; EBU R128 and the streaming services' ceiling
LOOP_CONTEXT = 2048  # samples of the other end around a loop when measuring its seam
STANDARD = "ITU-R BS.1770-4 (pyloudnorm); true peak 4x oversampled, >= 176.4 kHz (soxr)"


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float | None:
    """Integrated (gated) loudness in LUFS.

    Args:
        audio: ``[C, T]``, C at most 5 (mono and stereo here).
        sample_rate: Hz.

    Returns:
        LUFS, or None when there is none to measure: under 400 ms of audio,
        or silence (every block below the -70 LUFS gate).
    """
    import pyloudnorm

    audio = np.asarray(audio, dtype=np.float64)
    if audio.shape[-1] < math.ceil(BLOCK_SECONDS * sample_rate):
        return None
    value = float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T))
    return value if math.isfinite(value) else None


def true_peak_dbtp(audio: np.ndarray, sample_rate: int, *, loop: bool = False) -> float | None:
    """True peak in dBTP: the largest magnitude of the oversampled signal.

    Args:
        audio: ``[C, T]``.
        sample_rate: Hz.
        loop: the take plays in a loop: the seam (its end running into its
            start) is measured too, instead of silence before and after.

    Returns:
        dBTP (0 = full scale), or None for silence.
    """
    import soxr

    audio = np.asarray(audio, dtype=np.float32)
    if audio.size == 0:
        return None
    sample_peak = float(np.max(np.abs(audio)))
    if loop:
        context = min(LOOP_CONTEXT, audio.shape[-1])
        audio = np.concatenate([audio[:, -context:], audio, audio[:, :context]], axis=1)
    factor = oversampling(sample_rate)
    up = soxr.resample(
        np.ascontiguousarray(audio.T), sample_rate, sample_rate * factor, quality="VHQ"
    )
    peak = max(sample_peak, float(np.max(np.abs(up))) if up.size else 0.0)
    return 20 * math.log10(peak) if peak > 0 else None


def oversampling(sample_rate: int) -> int:
    """The oversampling factor for true peak at ``sample_rate`` Hz: 4 at 44.1 and 48 kHz."""
    return max(OVERSAMPLE, math.ceil(OVERSAMPLED_RATE / sample_rate))


def measure(audio: np.ndarray, sample_rate: int, *, loop: bool = False) -> dict[str, Any]:
    """The loudness facts every sidecar records: LUFS and dBTP, rounded (None: unmeasurable)."""
    lufs = integrated_lufs(audio, sample_rate)
    peak = true_peak_dbtp(audio, sample_rate, loop=loop)
    return {
        "integrated_lufs": None if lufs is None else round(lufs, 2),
        "true_peak_dbtp": None if peak is None else round(peak, 2),
        "standard": STANDARD,
    }


def normalise(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    ceiling_dbtp: float = DEFAULT_TRUE_PEAK,
    *,
    loop: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scale a take to ``target_lufs``, its true peak kept at or under ``ceiling_dbtp``.

    Args:
        audio: ``[C, T]``.
        sample_rate: Hz.
        target_lufs: the integrated loudness wanted, LUFS (e.g. -14).
        ceiling_dbtp: the highest true peak allowed, dBTP (e.g. -1).
        loop: the take is a loop (its seam counts for the true peak).

    Returns:
        (float32 ``[C, T]``, facts for the sidecar): the gain applied in dB,
        whether the target was reached and, if not, why.
    """
    audio = np.asarray(audio, dtype=np.float32)
    facts: dict[str, Any] = {
        "target_lufs": target_lufs,
        "true_peak_ceiling_dbtp": ceiling_dbtp,
        "gain_db": 0.0,
        "target_reached": False,
        "why_not": None,
    }
    lufs = integrated_lufs(audio, sample_rate)
    peak = true_peak_dbtp(audio, sample_rate, loop=loop)
    if lufs is None or peak is None:
        facts["why_not"] = (
            "silent: there is nothing to make louder"
            if peak is None or audio.shape[-1] >= BLOCK_SECONDS * sample_rate
            else f"shorter than {BLOCK_SECONDS:g} s: BS.1770 cannot measure its loudness"
        )
        return audio, facts
    gain_db = target_lufs - lufs
    if peak + gain_db > ceiling_dbtp:
        wanted_peak = peak + gain_db
        gain_db = ceiling_dbtp - peak
        facts["why_not"] = (
            f"reaching {target_lufs:g} LUFS would put the true peak at {wanted_peak:.1f}"
            f" dBTP, over the {ceiling_dbtp:g} dBTP ceiling: the take was made as loud as the"
            " ceiling allows (it is never clipped)"
        )
    out = (audio * np.float32(10 ** (gain_db / 20))).astype(np.float32, copy=False)
    facts["gain_db"] = round(gain_db, 3)
    facts["target_reached"] = facts["why_not"] is None
    return out, facts
