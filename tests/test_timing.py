"""Bars, tempo and time signatures to seconds and samples."""

from __future__ import annotations

import pytest

from engine.timing import (
    TimeSignature,
    bars_to_seconds,
    frames_for_samples,
    seconds_to_samples,
)


@pytest.mark.parametrize(
    ("bars", "bpm", "timesig", "seconds"),
    [
        (8, 120, "4/4", 16.0),
        (1, 60, "4/4", 4.0),
        (4, 90, "3/4", 8.0),  # 3 quarter notes a bar
        (2, 120, "6/8", 3.0),  # 6 eighths = 3 quarter notes
        (2, 140, "7/8", 3.0),  # 7 eighths = 3.5 quarter notes; 7 x 60/140 = 3
        (8, 92, "4/4", 8 * 4 * 60 / 92),
    ],
)
def test_bars_to_seconds(bars, bpm, timesig, seconds):
    assert bars_to_seconds(bars, bpm, TimeSignature.parse(timesig)) == pytest.approx(seconds)


def test_sixteen_seconds_is_exact_at_32k():
    assert seconds_to_samples(bars_to_seconds(8, 120, TimeSignature()), 32000) == 512000


def test_frames_round_up_so_trimming_reaches_the_exact_length():
    # 8 bars at 92 bpm: 20.8695... s -> 667826 samples -> 1043.48 frames -> 1044
    samples = seconds_to_samples(bars_to_seconds(8, 92, TimeSignature()), 32000)
    frames = frames_for_samples(samples, 32000, 50)
    assert frames * 640 >= samples > (frames - 1) * 640


@pytest.mark.parametrize("text", ["4-4", "4/3", "0/4", "x/4", "4/4/4", ""])
def test_bad_time_signatures_are_refused_in_words(text):
    with pytest.raises(ValueError, match="time signature"):
        TimeSignature.parse(text)
