"""Input files are read under the read rules where they are read (issue 27, probes 1-2):
a file swapped for a FIFO or a device after the request was accepted fails the take in
words instead of holding the worker for good, and a .mid is bounded like melody_notes."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from bridge import requests
from engine import audio, melody, midi_file
from engine.errors import BadFile, BadPath, Cancelled, OutOfRange

BOUND_S = 5.0  # a read that blocks would never end; these end in milliseconds


def _ends_within(fn, seconds: float = BOUND_S) -> BaseException | object:
    """Run ``fn`` in a thread; what it returned or raised, or fail if it hangs."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the read was still blocked after {seconds:g} s"
    return outcome[0]


@pytest.fixture
def swapped_for_a_fifo(tmp_path):
    """A path that passed the arrival check as a file, now a FIFO (released at the end)."""

    def make(name: str) -> Path:
        path = tmp_path / name
        path.write_bytes(b"x")
        audio.check_input_file(str(path), what="melody_audio", suffixes=(path.suffix,))
        path.unlink()
        os.mkfifo(path)
        made.append(path)
        return path

    made: list[Path] = []
    yield make
    for path in made:  # a reader still blocked (old code) is let go
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def test_audio_swapped_for_a_fifo_fails_in_words_at_once(swapped_for_a_fifo):
    fifo = swapped_for_a_fifo("melody.wav")
    result = _ends_within(lambda: audio.read_audio(fifo, what="melody_audio"))
    assert isinstance(result, BadPath), result
    assert "melody_audio" in result.message and "regular file" in result.message


def test_midi_swapped_for_a_fifo_fails_in_words_at_once(swapped_for_a_fifo):
    fifo = swapped_for_a_fifo("melody.mid")
    result = _ends_within(lambda: midi_file.read_midi(fifo))
    assert isinstance(result, BadPath), result


def test_audio_swapped_for_a_link_to_a_device_fails_in_words(tmp_path):
    path = tmp_path / "take.wav"
    sf.write(path, np.zeros(3200, dtype=np.float32), 32000)
    audio.check_input_file(str(path), what="continue_from", suffixes=(".wav",))
    path.unlink()
    path.symlink_to("/dev/zero")  # endless: an unbounded read would fill the memory
    result = _ends_within(lambda: audio.read_audio(path, what="continue_from"))
    assert isinstance(result, BadPath), result


def test_a_read_stops_at_the_limit(tmp_path):
    path = tmp_path / "big.wav"
    path.write_bytes(b"\0" * 4096)
    with pytest.raises(BadFile, match="limit"):
        audio.read_input_bytes(path, what="melody_audio", max_bytes=1024)


# -- melody_midi: the cap of melody_notes -------------------------------------------


def _midi_bytes(events: bytes, tracks: int = 1) -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big")
    header += tracks.to_bytes(2, "big") + (480).to_bytes(2, "big")
    track = events + b"\x00\xff\x2f\x00"
    return header + (b"MTrk" + len(track).to_bytes(4, "big") + track) * tracks


def _notes(count: int) -> bytes:
    """``count`` notes of one tick each, in running status (6 bytes a note)."""
    return b"\x00\x90\x3c\x64\x01\x3c\x00" + b"\x00\x3c\x64\x01\x3c\x00" * (count - 1)


def test_a_midi_file_over_the_note_cap_is_refused_in_words_at_once(tmp_path):
    path = tmp_path / "busy.mid"
    path.write_bytes(_midi_bytes(_notes(melody.MAX_NOTES + 1)))
    started = time.perf_counter()
    with pytest.raises(OutOfRange) as refused:
        midi_file.read_midi(path)
    assert time.perf_counter() - started < 2.0
    assert str(melody.MAX_NOTES) in refused.value.message and "busy.mid" in refused.value.message
    path.write_bytes(_midi_bytes(_notes(melody.MAX_NOTES)))
    assert len(midi_file.read_midi(path)) == melody.MAX_NOTES


def test_a_huge_midi_file_is_refused_before_the_job_runs(tmp_path):
    path = tmp_path / "huge.mid"
    path.write_bytes(_midi_bytes(_notes(200_000)))  # 1.4 MB: 10 s of parsing before
    limits = requests.Limits(default_out_dir=tmp_path)
    args = ["id", "m", "reply_port", 9, "prompt", "p", "melody_midi", str(path)]
    with pytest.raises(requests.RequestRejected) as refused:
        requests.parse("/musicgen/generate", args, limits)
    assert refused.value.code == "bad_file" and "limit" in refused.value.message


def test_parsing_a_midi_file_can_be_cancelled(tmp_path):
    path = tmp_path / "controllers.mid"
    path.write_bytes(_midi_bytes(b"\x00\xb0" + b"\x07\x40\x00" * 100_000))  # CCs, no notes
    with pytest.raises(Cancelled):
        midi_file.read_midi(path, is_cancelled=lambda: True)


def test_the_parser_reads_what_mido_reads(tmp_path):
    """A file with several tracks, running status, controllers, pitch bends, program
    changes, sysex, tempo changes and the drum channel: notes as mido's merge gives."""
    rng = random.Random(7)
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    for _ in range(3):
        track = mido.MidiTrack()
        for _ in range(300):
            kind = rng.choice(["note_on", "note_off", "control_change", "pitchwheel", "tempo"])
            time_ = rng.choice([0, 0, 1, 7, 200, 5000])
            channel = rng.choice([0, 3, 9])
            if kind in ("note_on", "note_off"):
                note, vel = rng.randrange(50, 60), rng.choice([0, 1, 64, 127])
                track.append(
                    mido.Message(kind, channel=channel, note=note, velocity=vel, time=time_)
                )
            elif kind == "control_change":
                track.append(mido.Message(kind, channel=channel, control=7, value=3, time=time_))
            elif kind == "pitchwheel":
                track.append(mido.Message(kind, channel=channel, pitch=-100, time=time_))
            else:
                tempo = rng.randrange(300_000, 900_000)
                track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=time_))
        track.insert(1, mido.Message("sysex", data=[1, 2, 3]))
        track.insert(2, mido.Message("program_change", program=5))
        mid.tracks.append(track)
    path = tmp_path / "mixed.mid"
    mid.save(path)
    got, want = midi_file.read_midi(path), _mido_notes(path)
    assert [(n.pitch, n.velocity) for n in got] == [(n.pitch, n.velocity) for n in want]
    times = [t for n in got for t in (n.start_s, n.end_s)]
    assert times == pytest.approx([t for n in want for t in (n.start_s, n.end_s)], abs=1e-9)


def _mido_notes(path: Path) -> tuple[melody.TimedNote, ...]:
    """The reading before the engine's own parser, with mido (the reference)."""
    midi = mido.MidiFile(path)
    tempo, now, tpb = 500_000, 0.0, midi.ticks_per_beat
    sounding: dict[tuple[int, int], list[tuple[float, int]]] = {}
    notes = []
    for msg in mido.merge_tracks(midi.tracks):
        if msg.time:
            now += msg.time * tempo / (1_000_000 * tpb)
        if msg.type == "set_tempo":
            tempo = msg.tempo
        elif msg.type in ("note_on", "note_off") and msg.channel != midi_file.DRUM_CHANNEL:
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault(key, []).append((now, msg.velocity))
            elif sounding.get(key):
                start, velocity = sounding[key].pop(0)
                notes.append(melody.TimedNote(msg.note, start, now, velocity))
    for (_, pitch), started in sounding.items():
        notes.extend(melody.TimedNote(pitch, s, now, v) for s, v in started)
    notes = sorted((n for n in notes if n.end_s > n.start_s), key=lambda n: (n.start_s, n.pitch))
    return tuple(notes)
