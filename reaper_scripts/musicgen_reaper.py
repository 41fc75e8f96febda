"""MusicGen: Generate from selection, Python ReaScript variant (talks OSC directly).

Same behaviour as the Lua action: same dialog (prompt, bars, seed, model, key, variations;
remembered in ExtState section "MusicGen_Bridge"), same options from "MusicGen: Settings"
(melody from MIDI / audio items, loop), tempo and time signature at the selected item (or the
edit cursor); a selected MIDI item's notes are sent as ``melody_notes`` (beats from the item
start, clipped to the item, muted notes left out) with ``melody_length``; an audio item's file
as ``melody_audio`` when that option is on, with ``audio_start`` / ``audio_end`` (the part of
the file the item plays, when it is trimmed); ``sample_rate`` is the project's (else the audio
device's) rate.  Takes are written to <project folder>/MusicGen (the engine's default folder
when the project is unsaved); the WAVs of one request become the takes of one new item on a
new track under the selection, inside one undo block.  The job id goes into ExtState
"current_job", so "MusicGen: Cancel" works for it.

Instead of shelling out it sends /musicgen/generate from a non-blocking UDP socket (OSC with
the standard library alone: musicgen_osc.py) and reads the replies on each defer tick, so
REAPER never freezes.  Takes go to <the project's media path (GetProjectPathEx)>/MusicGen.
The project, the selected item's track and the item are kept as pointers and checked with
ValidatePtr2 when the take arrives (the producer may switch tabs or delete tracks meanwhile);
the item is built directly (AddMediaItemToTrack, AddTakeToMediaItem, PCM_Source_CreateFromFile)
in that project's undo block, without moving the edit cursor.

`api` is REAPER's reaper_python module (RPR_* functions, which return a tuple of all
parameters when a function has output parameters).
"""

from __future__ import annotations

import math
import os
import re
import socket
import time
import uuid
from typing import Any

from musicgen_insert import Problem, Target, insert_takes
from musicgen_osc import ParseError, decode, encode_message

__all__ = ["Generator", "Problem", "insert_takes", "safe_default", "validate"]

SECTION = "MusicGen_Bridge"
FIELDS = ("prompt", "bars", "seed", "model", "key", "variations")
# REAPER splits the captions on every comma whatever separator= says: none may hold one.
CAPTIONS = (
    "Prompt,Length (bars),Seed (blank = random),Model (blank = engine's),"
    "Key (e.g. A minor; blank = none),Variations (1-4 as takes),separator=\n,extrawidth=300"
)
DEFAULTS = {"prompt": "", "bars": "4", "seed": "", "model": "", "key": "", "variations": "1"}
OPTION_DEFAULTS = {"melody_midi": "y", "melody_audio": "n", "loop": "n", "loudness": "off"}
MAX_VARIATIONS = 4
START_ENGINE = "Is the engine running? Start it with `musicgen-bridge serve` in a terminal."
MELODY_MODEL = (
    "To follow the selected item's melody, type facebook/musicgen-melody in the Model field of "
    "the dialog (download it once first: `musicgen-bridge download facebook/musicgen-melody`). "
    'To generate without the melody, select no item, or turn off "Melody from MIDI items" (and '
    '"Melody from audio items") in "MusicGen: Settings".'
)
MELODY_SETTINGS = 'turn off "Melody from MIDI items" in "MusicGen: Settings" to generate without it'
GLUE = (
    "Glue the item first (Item > Glue items: its audio becomes a WAV file that ends where the "
    "item does), then run this again."
)
FIRST_REPLY_S = 3.0
# While a take is followed, the engine is pinged this often (s); its pong names the engine run
# (docs/protocol.md).  A different run means the engine restarted and the take is gone; no pong
# for ENGINE_SILENT_S means it stopped.
PING_EVERY_S = 2.0
ENGINE_SILENT_S = 30.0
ENGINE_RESTARTED = "The engine restarted; the take was lost. Press Generate again to make it anew."
TEMPO_TOLERANCE_S = 0.005  # how far the tempo map may stretch the bars before it is said
MAX_NOTES = 4096  # the engine's limit for one melody
MAX_NOTES_CHARS = 60000
SAMPLE_RATES = (22050, 32000, 44100, 48000, 88200, 96000)
AUDIO_EXTENSIONS = (".wav", ".wave", ".aif", ".aiff", ".flac")
END_TOLERANCE = 0.005  # how far (s) an item edge may sit from its file's start/end and count as it


def safe_default(value: str) -> str:
    """A remembered value made safe to prefill a GetUserInputs field: REAPER ignores the
    separator (every default lands in the first field) when a default holds an odd number of
    " or ' or leaves a "(" open; such a value gets typographic quotes and its "(" closed (the
    Lua action's dialog.safe_default)."""
    if value.count('"') % 2:
        value = value.replace('"', "\u201d")
    if value.count("'") % 2:
        value = value.replace("'", "\u2019")
    depth = 0
    for c in value:
        if c in "()":
            depth = depth + 1 if c == "(" else max(0, depth - 1)
    return value + ")" * depth


def validate(raw: dict[str, str]) -> dict[str, Any]:
    v = {k: (raw.get(k) or "").strip() for k in FIELDS}
    if not v["prompt"]:
        raise Problem('Type a prompt, e.g. "dusty lo-fi drums with warm Rhodes".')
    if len(v["prompt"]) > 1000:
        raise Problem(f"The prompt is {len(v['prompt'])} characters; the most is 1000.")
    try:
        bars = float(v["bars"])
    except ValueError:
        bars = -1.0
    if not 0.25 <= bars <= 256:
        raise Problem(f'Length must be a number of bars between 0.25 and 256, got "{v["bars"]}".')
    seed = None
    if v["seed"]:
        if not v["seed"].isdigit() or int(v["seed"]) > 2147483647:
            raise Problem(
                "Seed must be a whole number from 0 to 2147483647, or blank for a random one."
            )
        seed = int(v["seed"])
    if len(v["key"]) > 16:
        raise Problem(
            f'The key is a short name like "A minor", "F#m" or "Eb major", got "{v["key"]}".'
        )
    variations = v["variations"] or "1"
    if not variations.isdigit() or not 1 <= int(variations) <= MAX_VARIATIONS:
        raise Problem(
            f"Variations must be a whole number from 1 to {MAX_VARIATIONS}, "
            f'got "{v["variations"]}".'
        )
    return {
        "prompt": v["prompt"],
        "bars": bars,
        "seed": seed,
        "model": v["model"] or None,
        "key": v["key"] or None,
        "variations": int(variations),
    }


def _null(pointer: Any) -> bool:
    """REAPER's Python API gives pointers as strings; a null one ends in 0x000..."""
    return not pointer or re.search(r"0x0+\)?$", str(pointer)) is not None


def _beats(x: float) -> str:
    """A beat position with at most 4 decimals, as the Lua action writes it."""
    return f"{x:.4f}".rstrip("0").rstrip(".")


def melody_string(notes: list[dict[str, Any]]) -> str:
    """Notes as the engine's melody_notes: "pitch start length velocity" groups."""
    words = []
    for n in notes:
        length = _beats(n["length"])
        if float(length) > 0:
            velocity = max(1, min(127, n["velocity"]))
            words.append(f"{n['pitch']} {_beats(n['start'])} {length} {velocity}")
    return " ".join(words)


def midi_notes(a: Any, item: Any, take: Any) -> list[dict[str, Any]]:
    """The take's unmuted notes in beats from the item start, cut at the item edges, a looped
    source unrolled over the item (the Lua action's selection.midi_notes, line for line)."""
    item_pos = a.RPR_GetMediaItemInfo_Value(item, "D_POSITION")
    item_len = a.RPR_GetMediaItemInfo_Value(item, "D_LENGTH")
    start_qn = a.RPR_TimeMap2_timeToQN(0, item_pos)
    length_qn = a.RPR_TimeMap2_timeToQN(0, item_pos + item_len) - start_qn
    period = None
    if a.RPR_GetMediaItemInfo_Value(item, "B_LOOPSRC") == 1:
        source = a.RPR_GetMediaItemTake_Source(take)
        length, _, is_qn = a.RPR_GetMediaSourceLength(source, False)
        rate = a.RPR_GetMediaItemTakeInfo_Value(take, "D_PLAYRATE") or 1.0
        rate = rate if rate > 0 else 1.0
        if is_qn:
            period = length / rate
        else:
            period = a.RPR_TimeMap2_timeToQN(0, item_pos + length / rate) - start_qn
        period = period if period and period > 0 else None
    pass_start = a.RPR_MIDI_GetProjQNFromPPQPos(take, 0) - start_qn
    count = a.RPR_MIDI_CountEvts(take, 0, 0, 0)[2]
    notes: list[dict[str, Any]] = []
    for i in range(count):
        got = a.RPR_MIDI_GetNote(take, i, 0, 0, 0, 0, 0, 0, 0)
        ok, muted, ppq_start, ppq_end, channel, pitch, velocity = (got[0], *got[4:10])
        if not ok or muted:
            continue
        s = a.RPR_MIDI_GetProjQNFromPPQPos(take, ppq_start) - start_qn
        e = a.RPR_MIDI_GetProjQNFromPPQPos(take, ppq_end) - start_qn
        k, k_last = 0, 0
        if period and s - pass_start >= period:
            k_last = -1  # starts after the source's end: never heard when looping
        elif period:
            k = math.ceil(-e / period)
            if e + k * period <= 0:
                k += 1
            k_last = math.inf
        while k <= k_last and len(notes) <= MAX_NOTES:
            ns, ne = s + (period or 0) * k, e + (period or 0) * k
            if ns >= length_qn:
                break
            if period:
                ne = min(ne, pass_start + (k + 1) * period)
            ns, ne = max(ns, 0.0), min(ne, length_qn)
            if ne > ns:
                notes.append(
                    {
                        "pitch": int(pitch),
                        "start": round(ns, 6),
                        "length": round(ne - ns, 6),
                        "velocity": int(velocity),
                        "channel": int(channel),
                    }
                )
            k += 1
    notes.sort(key=lambda n: (n["start"], n["pitch"]))
    return notes


def source_path(a: Any, source: Any) -> str:
    path = a.RPR_GetMediaSourceFileName(source, "", 4096)[1]
    if not path:
        parent = a.RPR_GetMediaSourceParent(source)
        if not _null(parent):
            path = a.RPR_GetMediaSourceFileName(parent, "", 4096)[1]
    return path


def audio_melody_problem(
    a: Any, item: Any, take: Any, source: Any
) -> tuple[str | None, dict[str, float]]:
    """Why the audio item cannot be the melody as heard (the engine reads its file at its own
    speed and pitch), or None and the part of the file the item plays: ``audio_start`` /
    ``audio_end`` in seconds (4 decimals), each left out when it is the file's start / end.
    Refused besides: an item starting before its audio, one starting at or past its file's
    end, and a looped item running past its file's end without starting at the file's start
    (the engine repeats the melody from the part's start).  An item running on past the end of
    its file is read to the file's end."""
    if a.RPR_GetMediaSourceType(source, "", 64)[1] == "SECTION":
        return (
            "The selected item plays a section or a reversed copy of its file, but the engine "
            "reads the file itself. " + GLUE
        ), {}
    path = source_path(a, source)
    if not path:
        return "The selected item's audio is not a file on disk. " + GLUE, {}
    if not path.lower().endswith(AUDIO_EXTENSIONS):
        return (
            "The engine reads WAV, AIFF and FLAC files; the selected item plays "
            f'"{os.path.basename(path)}". ' + GLUE
        ), {}
    rate = a.RPR_GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
    if abs(rate - 1) > 1e-9:
        return (
            f"The selected item plays at rate {rate:g}, but the engine hears its file at the "
            "original speed, so the take would not match. " + GLUE
        ), {}
    pitch = a.RPR_GetMediaItemTakeInfo_Value(take, "D_PITCH")
    if abs(pitch) > 1e-9:
        return (
            f"The selected item is pitch-shifted by {pitch:g} semitones, but the engine hears its "
            "file as recorded, so the take would not match. " + GLUE
        ), {}
    file_len = a.RPR_GetMediaSourceLength(source, False)[0] or 0.0
    start = a.RPR_GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
    looped = a.RPR_GetMediaItemInfo_Value(item, "B_LOOPSRC") == 1 and file_len > 0
    if looped:
        start %= file_len
        if file_len - start < END_TOLERANCE:
            start = 0.0
    stop = start + a.RPR_GetMediaItemInfo_Value(item, "D_LENGTH")
    if start < -END_TOLERANCE:
        return (
            f"The selected item starts {-start:.2f} s before its audio does, but the engine reads "
            "the melody from where the audio starts, so the take would come early. Trim the "
            "item's start to the start of its audio, or glue it (Item > Glue items), then run "
            "this again."
        ), {}
    if looped and stop > file_len + END_TOLERANCE:
        if start > END_TOLERANCE:
            return (
                f"The selected item loops its file starting {start:.2f} s into it, but the "
                "engine repeats a melody from the start of the file. " + GLUE
            ), {}
        return None, {}
    if start >= file_len - END_TOLERANCE:
        return (
            f"The selected item starts {start:.2f} s into its file, past its end (the file lasts "
            f"{file_len:.2f} s), so it plays no audio to read a melody from. Select another item."
        ), {}
    part: dict[str, float] = {}
    if start > END_TOLERANCE:
        part["audio_start"] = round(start, 4)
    if stop < file_len - END_TOLERANCE:
        part["audio_end"] = round(stop, 4)
    return None, part


class Generator:
    """One take: prepare() (dialog), start() (send), poll() on each defer tick."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.state = "new"
        self.sock: socket.socket | None = None
        self.paths: list[str] = []
        self.message = ""
        self.run: str | None = None  # the engine run seen first (pong), None for an old engine
        self.item: Any = None

    def ext(self, key: str, default: str = "") -> str:
        return self.api.RPR_GetExtState(SECTION, key) or default

    def enabled(self, option: str) -> bool:
        return self.ext(option, OPTION_DEFAULTS[option]).lower().startswith("y")

    def melody(self, item: Any) -> dict[str, Any]:
        """The melody fields for the selected item ({} for none); Problem when unusable."""
        a = self.api
        take = a.RPR_GetActiveTake(item)
        if _null(take):
            return {}
        if a.RPR_TakeIsMIDI(take):
            if not self.enabled("melody_midi"):
                return {}
            notes = midi_notes(a, item, take)
            if not notes:
                raise Problem(
                    "The selected MIDI item has no notes to use as a melody (muted notes and notes "
                    "outside the item's visible part do not count). Add notes, select another "
                    f"item, or {MELODY_SETTINGS}."
                )
            if len(notes) > MAX_NOTES:
                raise Problem(
                    f"The selected MIDI item has more than {MAX_NOTES} notes (loop repeats count), "
                    f"the most the engine takes. Select a shorter item, or {MELODY_SETTINGS}."
                )
            pos = a.RPR_GetMediaItemInfo_Value(item, "D_POSITION")
            end = pos + a.RPR_GetMediaItemInfo_Value(item, "D_LENGTH")
            beats = round(a.RPR_TimeMap2_timeToQN(0, end) - a.RPR_TimeMap2_timeToQN(0, pos), 6)
            if not 0.25 <= beats <= 4096:
                raise Problem(
                    f"The selected MIDI item is {beats:g} beats long; a melody clip must be "
                    "0.25 to 4096 beats."
                )
            text = melody_string(notes)
            if len(text) > MAX_NOTES_CHARS:
                raise Problem(
                    f"The selected MIDI item's melody is {len(text)} characters as text; the "
                    f"engine takes {MAX_NOTES_CHARS}. Select a shorter item, or {MELODY_SETTINGS}."
                )
            return {"melody_notes": text, "melody_length": float(beats)}
        if not self.enabled("melody_audio"):
            return {}
        source = a.RPR_GetMediaItemTake_Source(take)
        problem, part = audio_melody_problem(a, item, take, source)
        if problem:
            raise Problem(
                problem + '\n\nOr turn off "Melody from audio items" in "MusicGen: Settings".'
            )
        return {"melody_audio": source_path(a, source), **part}

    def loudness(self) -> float | None:
        """The Loudness setting in LUFS (-14, -23), or None when it is off."""
        try:
            return float(self.ext("loudness", "off"))
        except ValueError:
            return None

    def sample_rate(self) -> int | None:
        """The project's sample rate if it sets one, else the audio device's; None (the
        model's 32 kHz) when neither is known or the engine cannot write that rate."""
        a = self.api
        rate, origin = 0.0, "project"
        if a.RPR_GetSetProjectInfo(self.project, "PROJECT_SRATE_USE", 0, False) > 0:
            rate = a.RPR_GetSetProjectInfo(self.project, "PROJECT_SRATE", 0, False)
        if not rate or rate <= 0:
            got = a.RPR_GetAudioDeviceInfo("SRATE", "", 64)
            origin = "audio device"
            try:
                rate = float(got[2]) if got[0] else 0.0
            except ValueError:
                rate = 0.0
        rate = round(rate)
        if rate <= 0:
            return None
        if rate not in SAMPLE_RATES:
            a.RPR_ShowConsoleMsg(
                f"MusicGen: the {origin} runs at {rate} Hz, a rate the engine cannot write, so "
                "the take comes at the model's 32000 Hz (REAPER resamples it as it plays).\n"
            )
            return None
        return rate

    def prepare(self) -> bool:
        """Returns False when the user cancelled the dialog."""
        a = self.api
        melody: dict[str, Any] = {}
        got = a.RPR_EnumProjects(-1, "", 4096)
        self.project, self.project_file = got[0], got[2]
        self.track: Any = None
        if a.RPR_CountSelectedMediaItems(self.project) > 0:
            item = a.RPR_GetSelectedMediaItem(self.project, 0)
            self.position = a.RPR_GetMediaItemInfo_Value(item, "D_POSITION")
            self.track = a.RPR_GetMediaItem_Track(item)
            self.item = item
            melody = self.melody(item)
        else:
            self.position = a.RPR_GetCursorPosition()
        _, _, num, denom, bpm = a.RPR_TimeMap_GetTimeSigAtTime(self.project, self.position, 0, 0, 0)
        shown = "\n".join(
            safe_default(self.ext("last_" + k, DEFAULTS[k]).replace("\n", " ")) for k in FIELDS
        )
        answer = a.RPR_GetUserInputs("MusicGen: Generate", len(FIELDS), CAPTIONS, shown, 4096)
        if not answer[0]:
            return False
        typed = (answer[4].split("\n") + [""] * len(FIELDS))[: len(FIELDS)]
        raw = dict(zip(FIELDS, typed, strict=True))
        for k in FIELDS:
            a.RPR_SetExtState(SECTION, "last_" + k, raw[k], True)
        values = validate(raw)
        if not self._tempo_holds(values["bars"], float(bpm), int(num), int(denom)):
            return False
        self.prompt = values["prompt"]
        fields: dict[str, Any] = {
            "prompt": values["prompt"],
            "bars": float(values["bars"]),
            "bpm": float(bpm),
            "timesig": f"{int(num)}/{int(denom)}",
            "seed": values["seed"],
            "model": values["model"],
            "key": values["key"],
            "variations": values["variations"] if values["variations"] > 1 else None,
            **melody,
            "loop": 1 if self.enabled("loop") else None,
            "sample_rate": self.sample_rate(),
            "loudness": self.loudness(),
        }
        media = a.RPR_GetProjectPathEx(self.project, "", 4096)[1]
        if media and os.path.isabs(media):
            out = os.path.join(media, "MusicGen")
            try:
                os.makedirs(out, exist_ok=True)
            except OSError as exc:
                raise Problem(f"Could not create the folder {out}: {exc.strerror}.") from None
            fields["out_dir"] = out
        self.fields = {k: v for k, v in fields.items() if v is not None}
        return True

    def _tempo_holds(self, bars: float, bpm: float, num: int, denom: int) -> bool:
        """False when the tempo changes inside the take's bars and the producer cancels when
        told (the Lua action's generate.tempo_words says why it warns rather than stretches)."""
        a = self.api
        span_qn = bars * num * 4 / denom
        start_qn = a.RPR_TimeMap2_timeToQN(self.project, self.position)
        map_s = a.RPR_TimeMap2_QNToTime(self.project, start_qn + span_qn) - self.position
        take_s = span_qn * 60 / bpm
        if abs(map_s - take_s) <= TEMPO_TOLERANCE_S:
            return True
        words = (
            f"The tempo changes inside these {bars:g} bars: on the project's tempo map they last "
            f"{map_s:.2f} s, but the take is made at {bpm:g} bpm (the tempo where it starts), so "
            f"it lasts {take_s:.2f} s and drifts off the grid after the change.\n\nOK: make it "
            "anyway. Cancel: make nothing (put the take where the tempo holds, or ask for fewer "
            "bars)."
        )
        return a.RPR_MB(words, "MusicGen: Generate", 1) == 1

    def start(self) -> None:
        host = self.ext("host", "127.0.0.1")
        port = int(self.ext("port", "9000"))
        self.id = f"reaper-py-{uuid.uuid4().hex[:10]}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        args: list[Any] = ["id", self.id, "reply_port", self.sock.getsockname()[1]]
        for key, value in self.fields.items():
            if value is not None:
                args += [key, value]
        self.sock.sendto(encode_message("/musicgen/generate", args), (host, port))
        self.engine = f"{host}:{port}"
        self.address = (host, port)
        self.sent_at = time.monotonic()
        self.pinged_at = 0.0
        self.pong_at = self.sent_at
        self._ping()
        self.accepted = False
        self.state = "running"
        self.api.RPR_SetExtState(SECTION, "current_job", self.id, False)

    def _ping(self) -> None:
        """Ask the engine for its run (a pong); replies come with the take's own."""
        assert self.sock is not None
        reply_port = self.sock.getsockname()[1]
        args = ["id", self.id + "-ping", "reply_port", reply_port]
        message = encode_message("/musicgen/ping", args)
        self.sock.sendto(message, self.address)
        self.pinged_at = time.monotonic()

    def poll(self) -> bool:
        """Read the replies that arrived.  Returns True while the take is still running."""
        assert self.sock is not None
        while self.state == "running":
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # e.g. Windows reports an earlier datagram to a closed port
            try:
                messages = decode(data)
            except ParseError:
                continue
            for address, params in messages:
                if address == "/musicgen/pong" and params and params[0] == self.id + "-ping":
                    self._pong(params[1:])
                elif params and (params[0] == self.id or self._refused(address, params[0])):
                    self._reply(address, params[1:])
        if self.state == "running":
            if self.ext("abandon_job") == self.id:
                self.api.RPR_DeleteExtState(SECTION, "abandon_job", True)
                self._end("cancelled", "Stopped waiting (MusicGen: Cancel).")
            elif not self.accepted and time.monotonic() - self.sent_at > FIRST_REPLY_S:
                self._end(
                    "failed",
                    f"No answer from the engine at {self.engine} within "
                    f"{FIRST_REPLY_S:g} s.\n\n{START_ENGINE}",
                )
            elif time.monotonic() - self.pong_at > ENGINE_SILENT_S:
                self._end(
                    "failed",
                    f"The engine at {self.engine} stopped answering for {ENGINE_SILENT_S:g} s; "
                    f"the take was lost.\n\n{START_ENGINE}",
                )
            elif time.monotonic() - self.pinged_at >= PING_EVERY_S:
                self._ping()
        return self.state == "running"

    def _pong(self, args: list[Any]) -> None:
        """/musicgen/pong id version state model reason run: `run` names the engine run (absent
        from engines before it); a new one while the take is followed means it was lost."""
        self.pong_at = time.monotonic()
        run = str(args[4]) if len(args) > 4 and args[4] != "" else None
        if run is None:
            return
        if self.run is None:
            self.run = run
        elif run != self.run and self.state == "running":
            self._end("failed", ENGINE_RESTARTED)

    def _refused(self, address: str, reply_id: Any) -> bool:
        """An error with an empty id before the take was accepted: the engine could not
        use this request's id (invalid, or in use) and refused it (docs/protocol.md)."""
        return address == "/musicgen/error" and reply_id == "" and not self.accepted

    def _reply(self, address: str, args: list[Any]) -> None:
        if address in ("/musicgen/queued", "/musicgen/progress"):
            self.accepted = True
        elif address == "/musicgen/done":
            self.paths = [str(p) for p in args]
            self._end("done", "")
        elif address == "/musicgen/error":
            code, message = [*list(args), "", ""][:2]
            if code == "unsupported":
                message = f"{message}\n\n{MELODY_MODEL}"
            self._end("cancelled" if code == "cancelled" else "failed", str(message))

    def left_behind(self) -> str:
        """Words for a take still rendering when the script is ended (REAPER's "Terminate
        instances", or REAPER quitting): its replies went to this script's socket, so no other
        instance can take it over; the engine still finishes it into its folder."""
        folder = self.fields.get("out_dir") or "the engine's folder (~/Music/MusicGen Bridge)"
        return (
            f'MusicGen: the script was ended while the take "{self.prompt}" ({self.id}) '
            f"rendered. The engine still makes it, into {folder}: drag it in from there.\n"
        )

    def _end(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        if self.ext("current_job") == self.id:
            self.api.RPR_DeleteExtState(SECTION, "current_job", True)
        if self.sock is not None:
            self.sock.close()

    def finish(self) -> None:
        a = self.api
        if self.state == "done":
            target = Target(self.project, self.project_file, self.track, self.position, self.item)
            try:
                notes = insert_takes(a, self.paths, target, self.prompt)
            except Problem as exc:
                a.RPR_MB(str(exc), "MusicGen", 0)
                return
            if notes:
                a.RPR_MB("\n\n".join(notes), "MusicGen", 0)
        elif self.state == "cancelled":
            a.RPR_ShowConsoleMsg(f"MusicGen: generation cancelled: {self.message}\n")
        else:
            a.RPR_MB(f"MusicGen could not make the take.\n\n{self.message}", "MusicGen", 0)
