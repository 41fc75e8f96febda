"""Standard MIDI files read as melody notes: the ``melody_midi`` input.

A file is read under the engine's input rules (a regular file, at most
``MAX_MIDI_BYTES``), parsed here rather than by a library so that a file of
more than :data:`engine.melody.MAX_NOTES` notes is refused as soon as the one
past the cap is read, and a cancel stops the parse.  Ticks become seconds by
the file's tempo map; the notes then go to :func:`engine.melody.notes_to_chroma`
like notes sent over the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.errors import BadFile, InvalidValue, OutOfRange
from engine.melody import MAX_NOTES, TimedNote

# A .mid that holds MAX_NOTES notes takes some 50 KB (with controller data, a few
# times that); a bigger one is refused on arrival.
MAX_MIDI_BYTES = 1024 * 1024
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


def read_midi(path: Path, is_cancelled: Callable[[], bool] | None = None) -> tuple[TimedNote, ...]:
    """Read the notes of a standard MIDI file, following its tempo map.

    Tracks are merged; ticks become seconds with the tempo in force at each
    point (``set_tempo`` events on any track).  A note-on with velocity 0 ends a
    note, the drum channel (10) is skipped, and notes never ended stop at the
    end of the file.  The caller checks the path first (``check_input_file``);
    the file is read here under the read rules (:func:`engine.audio.read_input_bytes`,
    at most ``MAX_MIDI_BYTES``), and a file of more than ``MAX_NOTES`` notes is
    refused as soon as the one past the cap is read, so it costs no more than
    a clip at the cap.

    Args:
        path: a type 0 or type 1 ``.mid`` file.
        is_cancelled: polled while the file is parsed; True stops it (Cancelled).

    Returns:
        The notes, sorted by start time then pitch.

    Raises:
        BadPath: the file was swapped for something that is not a regular file.
        BadFile: not a MIDI file, unreadable, too big, or type 2 (independent patterns).
        InvalidValue: the file has no notes outside the drum channel.
        OutOfRange: more than ``MAX_NOTES`` notes.
        Cancelled: ``is_cancelled`` said so.
    """
    from engine.audio import read_input_bytes

    data = read_input_bytes(path, what="melody_midi", max_bytes=MAX_MIDI_BYTES)
    try:
        kind, tpb, tracks = _smf_tracks(data)
        events = _merged_events(tracks, path.name, is_cancelled)
    except (_SmfError, IndexError) as exc:
        raise BadFile(
            f"{path.name} is not a MIDI file that can be read (its contents are damaged or "
            "of another kind). Export the clip again as a standard MIDI file (.mid)."
        ) from exc
    if kind == 2:
        raise BadFile(
            f"{path.name} is a type 2 MIDI file (separate patterns), which has no single "
            "timeline. Export it as a type 0 or type 1 MIDI file."
        )
    if tpb <= 0:
        raise BadFile(f"{path.name} has no usable timing (ticks per beat is {tpb}).")

    tempo = 500_000  # microseconds per quarter note: 120 bpm until told otherwise
    now, last_tick = 0.0, 0
    sounding: dict[tuple[int, int], list[tuple[float, int]]] = {}
    notes: list[TimedNote] = []
    for tick, event in events:
        if tick > last_tick:
            now += (tick - last_tick) * tempo / (1_000_000 * tpb)
            last_tick = tick
        if event[0] == "tempo":
            tempo = event[1]
        if event[0] != "note":
            continue
        _, channel, pitch, velocity, on = event
        key = (channel, pitch)
        if on:
            sounding.setdefault(key, []).append((now, velocity))
        elif sounding.get(key):
            start, held = sounding[key].pop(0)  # the oldest of that pitch ends first
            notes.append(TimedNote(pitch, start, now, held))
    for (_, pitch), started in sounding.items():
        notes.extend(TimedNote(pitch, start, now, velocity) for start, velocity in started)
    notes = [n for n in notes if n.end_s > n.start_s]
    if not notes:
        raise InvalidValue(
            f"The MIDI file has no notes (outside the drum channel): {path.name}. "
            "Choose a clip with a melody in it."
        )
    notes.sort(key=lambda n: (n.start_s, n.pitch))
    return tuple(notes)


class _SmfError(ValueError):
    """The bytes are not a standard MIDI file."""


# Data bytes after a status byte, for channel and system common messages.
_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1}


def _smf_tracks(data: bytes) -> tuple[int, int, list[bytes]]:
    """(format, ticks per beat, each MTrk chunk's bytes) of a standard MIDI file."""
    if data[:4] != b"MThd":
        raise _SmfError("no MThd header")
    size = int.from_bytes(data[4:8], "big")
    if size < 6 or 8 + size > len(data):
        raise _SmfError("short header")
    kind = int.from_bytes(data[8:10], "big")
    tpb = int.from_bytes(data[12:14], "big", signed=True)  # negative: SMPTE timing
    tracks, offset = [], 8 + size
    while offset + 8 <= len(data):
        name, length = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "big"),
        )
        offset += 8
        if offset + length > len(data):
            raise _SmfError("a chunk runs past the end of the file")
        if name == b"MTrk":
            tracks.append(data[offset : offset + length])
        offset += length
    if offset != len(data) and not tracks:
        raise _SmfError("no track")
    return kind, tpb, tracks


def _merged_events(
    tracks: list[bytes], name: str, is_cancelled: Callable[[], bool] | None
) -> list[tuple[int, tuple]]:
    """Every tempo change and melodic note on/off of all tracks, by absolute tick
    (ties in track order, as mido merges tracks).  Stops with OutOfRange once more
    than ``MAX_NOTES`` notes have started, and polls ``is_cancelled``."""
    from engine.errors import Cancelled

    events: list[tuple[int, int, tuple]] = []
    started = 0
    for track_index, track in enumerate(tracks):
        offset, tick, running = 0, 0, 0
        while offset < len(track):
            if len(events) % 4096 == 0 and is_cancelled is not None and is_cancelled():
                raise Cancelled("Cancelled.")
            delta, offset = _vlq(track, offset)
            tick += delta
            status = track[offset]
            if status < 0x80:
                if not running:
                    raise _SmfError("running status without a status")
                status = running
            else:
                offset += 1
                if status != 0xFF:
                    running = status  # meta events leave running status alone (as mido)
            if status == 0xFF:
                meta = track[offset]
                length, offset = _vlq(track, offset + 1)
                body = track[offset : offset + length]
                if len(body) != length:
                    raise _SmfError("a meta event runs past its track")
                offset += length
                if meta == 0x51 and length == 3:
                    events.append((tick, track_index, ("tempo", int.from_bytes(body, "big"))))
                continue
            if status in (0xF0, 0xF7):
                length, offset = _vlq(track, offset)
                offset += length
                if offset > len(track):
                    raise _SmfError("a sysex runs past its track")
                continue
            size = _DATA_BYTES.get(status >> 4, _SYSTEM_DATA_BYTES.get(status, 0))
            body = track[offset : offset + size]
            if len(body) != size or any(b > 0x7F for b in body):
                raise _SmfError("a message's data is cut short or not data")
            offset += size
            kind, channel = status >> 4, status & 0x0F
            if kind in (0x8, 0x9) and channel != DRUM_CHANNEL:
                on = kind == 0x9 and body[1] > 0
                if on:
                    started += 1
                    if started > MAX_NOTES:
                        raise OutOfRange(
                            f"The MIDI file {name} has more than {MAX_NOTES} notes; at most "
                            f"{MAX_NOTES} can be used. Use a shorter or simpler clip."
                        )
                events.append((tick, track_index, ("note", channel, body[0], body[1], on)))
        events.append((tick, track_index, ("end",)))  # where the track ends: the file's length
    events.sort(key=lambda e: (e[0], e[1]))  # stable: each track's own order kept
    return [(tick, event) for tick, _, event in events]


def _vlq(data: bytes, offset: int) -> tuple[int, int]:
    """A MIDI variable-length quantity at ``offset``: (value, next offset)."""
    value = 0
    for i in range(4):
        byte = data[offset + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, offset + i + 1
    raise _SmfError("a variable-length number longer than 4 bytes")
