"""Melody conditioning: the wire format, MIDI files, and chroma from notes and from audio."""

from __future__ import annotations

import math
from pathlib import Path

import mido
import numpy as np
import pytest

from engine.errors import BadFile, InvalidValue, OutOfRange
from engine.melody import (
    MAX_NOTES,
    ChromaParams,
    Note,
    TimedNote,
    audio_to_chroma,
    chroma_energy,
    format_notes,
    notes_to_chroma,
    notes_to_seconds,
    parse_notes,
)
from engine.midi_file import read_midi

P = ChromaParams()
SR = P.sampling_rate
HOP_S = P.hop_length / SR  # 0.128 s between frame centres
HALF_WINDOW_S = P.n_fft / 2 / SR  # 0.256 s either side of a frame centre

SCALE = (60, 62, 64, 65, 67, 69, 71, 72)  # C4 D4 E4 F4 G4 A4 B4 C5


def _sines(notes: list[TimedNote], seconds: float, rate: int = SR) -> np.ndarray:
    """A plain sine rendering of ``notes`` (no harmonics), float32 ``[T]``."""
    out = np.zeros(round(seconds * rate), dtype=np.float64)
    t = np.arange(out.size) / rate
    for n in notes:
        on = (t >= n.start_s) & (t < n.end_s)
        hz = 440.0 * 2 ** ((n.pitch - 69) / 12)
        out[on] += 0.5 * np.sin(2 * math.pi * hz * t[on])
    return out.astype(np.float32)


def _inside(notes: list[TimedNote], times: np.ndarray, margin: float) -> list[tuple[int, int]]:
    """(frame, pitch) for frames centred at least ``margin`` inside a note."""
    out = []
    for i, t in enumerate(times):
        for n in notes:
            if n.start_s + margin <= t <= n.end_s - margin:
                out.append((i, n.pitch))
    return out


# -- ChromaParams ---------------------------------------------------------------


def test_params_match_the_checkpoint_config() -> None:
    config = {"sampling_rate": 32000, "n_fft": 16384, "hop_length": 4096, "num_chroma": 12}
    params = ChromaParams.from_preprocessor_config({**config, "feature_size": 12})
    assert params == P
    assert params.frame_rate == 7.8125
    assert ChromaParams.from_preprocessor_config({"hop_length": 2048}).hop_length == 2048
    with pytest.raises(InvalidValue):
        ChromaParams.from_preprocessor_config({"n_fft": "big"})
    with pytest.raises(OutOfRange):
        P.frames_for_seconds(-1.0)


@pytest.mark.parametrize("seconds", [0.1, 0.5, 0.512, 1.0, 2.0, 3.3, 4.0, 5.25])
def test_frames_for_seconds_matches_the_extractor(seconds: float) -> None:
    audio = np.random.default_rng(1).standard_normal(round(seconds * SR)).astype(np.float32)
    assert audio_to_chroma(audio, SR, P).shape == (P.frames_for_seconds(seconds), 12)


def test_frames_for_seconds_counts_centred_frames() -> None:
    assert P.frames_for_seconds(4.0) == 1 + 128000 // 4096 == 32
    assert P.frames_for_seconds(0.1) == 1 + 16384 // 4096 == 5  # padded to one window
    assert P.frame_times(4.0)[3] == pytest.approx(3 * HOP_S)


# -- chroma from notes ------------------------------------------------------------


def test_c_major_scale_walks_the_chroma_bins() -> None:
    clip = [Note(p, float(k), 1.0) for k, p in enumerate(SCALE)]
    timed = notes_to_seconds(clip, 120)  # 0.5 s per note, 4 s in all
    assert timed[1] == TimedNote(62, 0.5, 1.0, 100)
    chroma = notes_to_chroma(timed, 5.0, P)
    assert chroma.dtype == np.float32
    assert chroma.shape == (P.frames_for_seconds(5.0), 12) == (40, 12)
    assert np.all(chroma.sum(axis=1) == 1.0)
    bins = chroma.argmax(axis=1)
    expected_walk = [0, 2, 4, 5, 7, 9, 11, 0]
    for i in range(len(bins)):
        # frame i is centred on sample i * 4096; note k covers [0.5 k, 0.5 k + 0.5) s
        k = (i * P.hop_length) // (SR // 2)
        assert bins[i] == (expected_walk[k] if k < 8 else 0), f"frame {i}"
    # spot-check the boundaries: frame 4 (0.512 s) is already D, frame 3 (0.384 s) still C
    assert (bins[3], bins[4]) == (0, 2)
    assert (bins[27], bins[28]) == (11, 0)  # 3.456 s: B; 3.584 s: the top C
    assert list(bins[32:]) == [0] * 8  # frame 31 is at 3.968 s (the top C); after 4 s, silence


def test_highest_note_of_a_chord_is_the_melody() -> None:
    chord = [TimedNote(60, 0.0, 1.0, 90), TimedNote(67, 0.0, 1.0, 90), TimedNote(64, 0.0, 1.0, 90)]
    lead = [TimedNote(48, 0.0, 2.0, 127)]  # a loud low note does not win either
    bins = notes_to_chroma(chord + lead, 2.0, P).argmax(axis=1)
    times = P.frame_times(2.0)
    assert all(b == 7 for b, t in zip(bins, times, strict=True) if t < 1.0)  # G is on top
    assert all(b == 0 for b, t in zip(bins, times, strict=True) if t >= 1.0)  # C3 alone (bin 0)
    high = notes_to_chroma([TimedNote(71, 0.0, 2.0, 1), *lead], 2.0, P).argmax(axis=1)
    assert set(high) == {11}


def test_loop_repeats_the_clip() -> None:
    clip = notes_to_seconds([Note(62, 0, 1), Note(69, 1, 1)], 120)  # D then A, 1 s clip
    looped = notes_to_chroma(clip, 4.0, P, loop_s=1.0).argmax(axis=1)
    once = notes_to_chroma(clip, 4.0, P).argmax(axis=1)
    times = P.frame_times(4.0)
    for i, t in enumerate(times):
        assert looped[i] == (2 if (t % 1.0) < 0.5 else 9), f"frame {i}"
        assert once[i] == (0 if t >= 1.0 else looped[i])
    with pytest.raises(OutOfRange):
        notes_to_chroma(clip, 4.0, P, loop_s=0.0)


def test_short_clip_reads_the_padded_frames_from_its_edges() -> None:
    clip = [TimedNote(64, 0.0, 0.2, 100), TimedNote(67, 0.2, 0.3, 100)]
    bins = notes_to_chroma(clip, 0.3, P).argmax(axis=1)
    assert len(bins) == 5
    # centres at -0.106, 0.022, 0.150, 0.278, 0.406 s; outside [0, 0.3) they read the edges
    assert list(bins) == [4, 4, 4, 7, 7]


# -- chroma from audio -------------------------------------------------------------


@pytest.mark.parametrize("rate", [32000, 44100])
def test_sine_melody_gives_its_pitch_classes(rate: int) -> None:
    melody = [(69, 9), (72, 0), (76, 4), (67, 7)]  # A4, C5, E5, G4, 1 s each
    notes = [TimedNote(p, float(k), float(k + 1), 100) for k, (p, _) in enumerate(melody)]
    audio = _sines(notes, 4.0, rate)
    chroma = audio_to_chroma(audio, rate, P)
    assert chroma.shape == (P.frames_for_seconds(4.0), 12)
    assert np.all(chroma.sum(axis=1) == 1.0)
    bins = chroma.argmax(axis=1)
    checked = _inside(notes, P.frame_times(4.0), HALF_WINDOW_S)
    assert len(checked) >= 8
    pitch_class = dict(melody)
    for frame, pitch in checked:
        assert bins[frame] == pitch_class[pitch], f"frame {frame}"


def test_stereo_is_mixed_down() -> None:
    tone = _sines([TimedNote(62, 0.0, 2.0, 100)], 2.0)
    stereo = np.stack([tone, np.zeros_like(tone)])
    assert np.array_equal(audio_to_chroma(stereo, SR, P), audio_to_chroma(tone * 0.5, SR, P))
    assert set(audio_to_chroma(stereo, SR, P).argmax(axis=1)) == {2}


def test_silence_is_bin_zero_on_both_paths() -> None:
    quiet = audio_to_chroma(np.zeros(3 * SR, dtype=np.float32), SR, P)
    assert np.all(quiet[:, 0] == 1.0) and quiet.sum() == len(quiet)
    gap = notes_to_chroma([TimedNote(69, 10.0, 11.0, 100)], 3.0, P)  # a note after the end
    assert np.array_equal(quiet, gap)


def test_midi_path_agrees_with_the_audio_path() -> None:
    clip = [Note(64, 0, 2), Note(67, 2, 2), Note(71, 4, 1), Note(69, 5, 1), Note(62, 6, 2)]
    notes = list(notes_to_seconds(clip, 90))  # 8 beats, no gaps
    seconds = notes[-1].end_s
    from_notes = notes_to_chroma(notes, seconds, P).argmax(axis=1)
    from_audio = audio_to_chroma(_sines(notes, seconds), SR, P).argmax(axis=1)
    times = P.frame_times(seconds)
    edges = sorted({n.start_s for n in notes} | {n.end_s for n in notes})
    away = [i for i, t in enumerate(times) if min(abs(t - e) for e in edges) >= HOP_S]
    assert len(away) >= 15
    assert list(from_audio[away]) == list(from_notes[away])
    assert set(from_notes[away]) == {4, 7, 11, 9, 2}


# -- the wire format ---------------------------------------------------------------


def test_parse_and_format_round_trip() -> None:
    text = "60 0 1 100\n62 1.5 0.25 90  64 2.125 0.1 1 127 3 1e-3 127"
    notes = parse_notes(text)
    assert notes == (
        Note(60, 0.0, 1.0, 100),
        Note(62, 1.5, 0.25, 90),
        Note(64, 2.125, 0.1, 1),
        Note(127, 3.0, 0.001, 127),
    )
    assert parse_notes(format_notes(notes)) == notes
    assert format_notes(notes[:2]) == "60 0 1 100 62 1.5 0.25 90"
    assert parse_notes("0 0 1 1.0") == (Note(0, 0.0, 1.0, 1),)


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("", InvalidValue, "no notes"),
        ("   \n ", InvalidValue, "no notes"),
        ("60 0 1", InvalidValue, "groups of 4"),
        ("60 0 1 100 62", InvalidValue, "groups of 4"),
        ("60 0 1 100 C4 1 1 100", InvalidValue, "Note 2: pitch"),
        ("60 0 one 100", InvalidValue, "Note 1: length"),
        ("60 nan 1 100", InvalidValue, "Note 1: start"),
        ("60 0 inf 100", InvalidValue, "Note 1: length"),
        ("60.5 0 1 100", InvalidValue, "whole number"),
        ("60 0 1 100 128 1 1 100", OutOfRange, "Note 2: pitch 128"),
        ("-1 0 1 100", OutOfRange, "Note 1: pitch -1"),
        ("60 0 1 100 60 1 1 100 60 -0.5 1 100", OutOfRange, "Note 3: start"),
        ("60 0 0 100", OutOfRange, "Note 1: length"),
        ("60 0 -1 100", OutOfRange, "Note 1: length"),
        ("60 0 1 0", OutOfRange, "Note 1: velocity 0"),
        ("60 0 1 128", OutOfRange, "Note 1: velocity 128"),
    ],
)
def test_parse_refuses_bad_clips(text: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        parse_notes(text)


def test_parse_refuses_too_many_notes() -> None:
    assert len(parse_notes("60 0 1 100 " * MAX_NOTES)) == MAX_NOTES
    with pytest.raises(OutOfRange, match=str(MAX_NOTES)):
        parse_notes("60 0 1 100 " * (MAX_NOTES + 1))


def test_notes_to_seconds_needs_a_tempo() -> None:
    with pytest.raises(OutOfRange):
        notes_to_seconds([Note(60, 0, 1)], 0)


# -- MIDI files -----------------------------------------------------------------------

TPB = 480


def _save(tmp_path: Path, tracks: list[list[mido.Message | mido.MetaMessage]], kind: int) -> Path:
    mid = mido.MidiFile(type=kind, ticks_per_beat=TPB)
    for events in tracks:
        mid.tracks.append(mido.MidiTrack(events))
    path = tmp_path / "clip.mid"
    mid.save(path)
    return path


def _tempo_change_events() -> list[mido.Message | mido.MetaMessage]:
    """120 bpm for beats 0-4, then 60 bpm; notes at beats 0, 2, 4, 5 (abs ticks below)."""
    on, off = "note_on", "note_off"
    absolute = [
        (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120))),
        (0, mido.Message(on, note=60, velocity=100)),
        (0, mido.Message(on, channel=9, note=36, velocity=110)),  # kick: skipped
        (TPB, mido.Message(off, note=60, velocity=0)),  # beat 1 -> 0.5 s
        (2 * TPB, mido.Message(on, note=64, velocity=80)),
        (3 * TPB, mido.Message(on, note=64, velocity=0)),  # velocity-0 note_on ends it: 1.5 s
        (4 * TPB, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60))),
        (4 * TPB, mido.Message(on, note=67, velocity=90)),  # 2.0 s
        (5 * TPB, mido.Message(off, note=67)),  # 3.0 s (one beat at 60 bpm)
        (5 * TPB, mido.Message(on, channel=2, note=72, velocity=70)),  # never ended
        (7 * TPB, mido.Message(off, channel=9, note=36)),
    ]
    events, now = [], 0
    for tick, msg in absolute:
        events.append(msg.copy(time=tick - now))
        now = tick
    events.append(mido.MetaMessage("end_of_track", time=TPB))  # file ends at beat 8 = 6 s
    return events


EXPECTED = (
    TimedNote(60, 0.0, 0.5, 100),
    TimedNote(64, 1.0, 1.5, 80),
    TimedNote(67, 2.0, 3.0, 90),
    TimedNote(72, 3.0, 6.0, 70),
)


def _assert_notes(got: tuple[TimedNote, ...]) -> None:
    assert len(got) == len(EXPECTED)
    for g, e in zip(got, EXPECTED, strict=True):
        assert (g.pitch, g.velocity) == (e.pitch, e.velocity)
        assert g.start_s == pytest.approx(e.start_s, abs=1e-9)
        assert g.end_s == pytest.approx(e.end_s, abs=1e-9)


def test_type0_midi_follows_the_tempo_map(tmp_path: Path) -> None:
    notes = read_midi(_save(tmp_path, [_tempo_change_events()], kind=0))
    _assert_notes(notes)
    bins = notes_to_chroma(notes, 6.0, P).argmax(axis=1)
    times = P.frame_times(6.0)
    # frame 3 (0.384 s): C; 5 (0.64 s): gap; 8 (1.024 s): E; 16 (2.048 s): G; 24 (3.072 s): C5
    assert [bins[i] for i in (3, 5, 8, 16, 24)] == [0, 0, 4, 7, 0]
    assert times[16] == pytest.approx(2.048) and bins[15] == 0  # 1.92 s: between E and G
    assert all(bins[i] == 0 for i in range(24, len(bins)))  # the hanging C5 runs to 6 s
    pitched = notes_to_chroma([TimedNote(73, n.start_s, n.end_s, 1) for n in notes], 6.0, P)
    assert pitched.argmax(axis=1)[24] == 1  # so bin 0 above is the C5, not silence


def test_type1_midi_with_tempo_on_its_own_track(tmp_path: Path) -> None:
    events = _tempo_change_events()
    # split: tempo (meta) events on track 0, everything else on track 1, absolute times kept
    absolute, now = [], 0
    for msg in events:
        now += msg.time
        absolute.append((now, msg))
    tracks: list[list[mido.Message | mido.MetaMessage]] = [[], []]
    clocks = [0, 0]
    for tick, msg in absolute:
        if msg.type == "end_of_track":
            continue
        k = 0 if msg.type == "set_tempo" else 1
        tracks[k].append(msg.copy(time=tick - clocks[k]))
        clocks[k] = tick
    tracks[1].append(mido.MetaMessage("end_of_track", time=now - clocks[1]))
    _assert_notes(read_midi(_save(tmp_path, tracks, kind=1)))


def test_midi_without_melody_is_refused(tmp_path: Path) -> None:
    drums = [
        mido.Message("note_on", channel=9, note=36, velocity=100),
        mido.Message("note_off", channel=9, note=36, time=TPB),
    ]
    with pytest.raises(InvalidValue, match="no notes"):
        read_midi(_save(tmp_path, [drums], kind=0))
    with pytest.raises(InvalidValue, match="no notes"):
        read_midi(_save(tmp_path, [[mido.MetaMessage("set_tempo", tempo=400000)]], kind=0))


def test_not_a_midi_file(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mid"
    fake.write_text("this is a text file, not MIDI\n")
    with pytest.raises(BadFile, match=r"fake\.mid"):
        read_midi(fake)
    truncated = tmp_path / "cut.mid"
    good = _save(tmp_path, [_tempo_change_events()], kind=0).read_bytes()
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(BadFile) as err:
        read_midi(truncated)
    # mido's EOFError has no text: the message read "... can be read ()."
    assert "()" not in err.value.message and "Export the clip again" in err.value.message


def test_audio_chroma_matches_an_independent_numpy_computation() -> None:
    """The torch pipeline equals a plain numpy STFT (reflect-padded, periodic Hann)."""
    from transformers.audio_utils import chroma_filter_bank

    rng = np.random.default_rng(7)
    notes = [TimedNote(int(p), 0.3 * k, 0.3 * k + 0.3, 100) for k, p in enumerate([57, 64, 70])]
    filters = chroma_filter_bank(
        sampling_rate=SR, num_frequency_bins=P.n_fft, tuning=0, num_chroma=12
    )
    n = np.arange(P.n_fft)
    window = 0.5 - 0.5 * np.cos(2 * math.pi * n / P.n_fft)  # periodic Hann
    for samples in (5000, 40000, 70001):  # shorter than one window, and longer
        noise = 0.05 * rng.standard_normal(samples)
        audio = (_sines(notes, samples / SR) + noise).astype(np.float32)
        padded = audio.astype(np.float64)
        if samples < P.n_fft:
            pad = P.n_fft - samples
            padded = np.pad(padded, (pad // 2, pad // 2 + pad % 2))
        centred = np.pad(padded, P.n_fft // 2, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(centred, P.n_fft)[:: P.hop_length]
        spectrum = np.fft.rfft(frames * window, axis=1).T  # [freq, frames]
        raw = filters @ (np.abs(spectrum) ** 2 / np.sum(window**2))
        expected = (raw / np.maximum(raw.max(axis=0), 1e-6)).T
        energy = chroma_energy(audio, SR, P)
        assert energy.shape == expected.shape == (P.frames_for_seconds(samples / SR), 12)
        np.testing.assert_allclose(energy, expected, rtol=1e-4, atol=1e-6)
        one_hot = audio_to_chroma(audio, SR, P)
        assert list(one_hot.argmax(axis=1)) == list(expected.argmax(axis=1))
