"""A fake ``reaper_python`` module for the REAPER Python variant's tests (standard library only,
so it also serves the run under ``python3 -I -S``, where python-osc cannot be imported).

RPR_* functions record their calls and return tuples as REAPER does.  Pointers are objects
(projects, tracks, items, takes); ValidatePtr2 knows which are still there, and what a
producer does while a take renders (switch tabs, delete a track, close the project) is done
with the helpers at the end.

Host rules kept (docs/reaper.md, "Host rules"):
- REAPER's reaper_python.py packs every pointer argument with ``rpr_packp``, which returns 0
  (NULL) unless ``RPR_ValidatePtr(p, type)`` accepts it, and ValidatePtr checks against the
  CURRENT project: a track, item or take of another tab reaches REAPER as NULL (a project
  pointer is valid for any open tab).  REAPER answers NULL arguments with 0, False or NULL.
- A script that ends its run without RPR_defer and without an undo block of its own gets the
  automatic "ReaScript: Run" undo point (``auto_undo_point``).
"""

from __future__ import annotations

import types
from pathlib import Path

PPQ = 960


class FakeItem:
    """An item the script inserted: its takes (file paths) and which one is active."""

    def __init__(self) -> None:
        self.position = 0.0
        self.length = 0.0
        self.takes: list[dict] = []
        self.active = 0


class FakeProject:
    """A project tab: its .rpp path and its tracks ({"name", "items"} dicts)."""

    def __init__(self, file: str, names: list[str]) -> None:
        self.file = file
        self.tracks: list[dict] = [{"name": n, "items": []} for n in names]


class FakeReaper(types.ModuleType):
    """reaper_python: RPR_* functions recording calls; tuples returned as REAPER does.

    The selected item ("item0", at 6 s on track 1) is described by `item`: {"midi": True,
    "notes": [(ppq_start, ppq_end, pitch, velocity, muted)], "offset" (s), "length" (s),
    "loop", "source_len"} or {"file": "/x.wav", "offset", "rate", "type"}; the default is an
    audio item.  Tempo is `tempo` (qn/min, constant); `srate` is the project's sample rate
    (None: not set), `device_srate` the audio device's (None: closed).
    """

    def __init__(
        self,
        project_file: str,
        inputs: str,
        ext: dict[str, str],
        selected: bool = True,
        item: dict | None = None,
        tempo: float = 140.0,
        srate: int | None = None,
        device_srate: int | None = None,
    ):
        super().__init__("reaper_python")
        self.inputs, self.ext, self.selected = inputs, dict(ext), selected
        self.script_path = ""  # what RPR_get_action_context names as the script
        self.deferred: list[str] = []  # code strings given to RPR_defer
        self.item = item or {"file": "/loops/beat.wav"}
        self.tempo, self.srate, self.device_srate = tempo, srate, device_srate
        self.calls: list[tuple] = []
        self.tempo_map: list[tuple[float, float]] = [(0.0, tempo)]  # (from time s, qn/min)
        self.mb_answers: list[int] = []  # answers to MB questions (type != 0); default 1 (OK)
        self.item_position = 6.0  # where the selected item is (the producer may move it)
        self.undo_points: list[str] = []
        self.atexit: list[str] = []  # code strings given to RPR_atexit
        self.console: list[str] = []
        self.projects = [FakeProject(project_file, ["drums", "bass"])]
        self.current = self.projects[0]
        self.cursor = 1.5
        self.insert_in_project = True  # REAPER 7.18+

    @property
    def tracks(self) -> list[dict]:
        """The first project's tracks."""
        return self.projects[0].tracks

    def _project(self, proj):
        if proj in (0, None):
            return self.current
        assert proj in self.projects, "a closed project's pointer: REAPER would crash"
        return proj

    def __getattr__(self, name):
        impl = getattr(type(self), "_" + name[4:], None)
        if not name.startswith("RPR_") or impl is None:
            raise AttributeError(name)

        def call(*args):
            self.calls.append((name[4:], *args))
            return impl(self, *(self._packp(arg) for arg in args))

        return call

    def _owner(self, pointer):
        """The project a track, item or take pointer belongs to (None: not project-bound)."""
        if isinstance(pointer, str) and pointer in ("item0", "take0"):
            return self.projects[0] if self.projects else None
        if isinstance(pointer, tuple) and pointer and isinstance(pointer[0], FakeItem):
            pointer = pointer[0]
        for project in self.projects:
            for track in project.tracks:
                if track is pointer or any(item is pointer for item in track["items"]):
                    return project
        return None

    def _packp(self, arg):
        """rpr_packp: a pointer of a project other than the current one becomes NULL."""
        if isinstance(arg, (dict, FakeItem, tuple, str)) and not isinstance(arg, FakeProject):
            owner = self._owner(arg)
            if owner is not None and owner is not self.current:
                return None
        return arg

    def auto_undo_point(self) -> bool:
        """Whether REAPER would add "ReaScript: Run" for a run that ended now: it deferred
        nothing and made no undo point of its own."""
        return not self.deferred and not self.undo_points

    # -- the selection ----------------------------------------------------------------------

    def _CountSelectedMediaItems(self, proj):
        return 1 if self.selected else 0

    def _GetSelectedMediaItem(self, proj, i):
        return "item0"

    def _GetMediaItemInfo_Value(self, item, key):
        if item is None:
            return 0.0
        assert item == "item0", item
        return {
            "D_POSITION": self.item_position,
            "D_LENGTH": self.item.get("length", 2.0),
            "B_LOOPSRC": 1.0 if self.item.get("loop") else 0.0,
        }[key]

    def _GetMediaItem_Track(self, item):
        return self.tracks[0]

    def _GetMediaTrackInfo_Value(self, track, key):
        assert key == "IP_TRACKNUMBER"
        if track is None:
            return 0.0
        for project in self.projects:
            for i, t in enumerate(project.tracks):
                if t is track:
                    return float(i + 1)
        raise AssertionError("a deleted track's pointer: REAPER would crash")

    def _GetActiveTake(self, item):
        if isinstance(item, FakeItem):
            return (item, item.active)
        return "take0" if self.item is not None else "(MediaItem_Take*)0x0000000000000000"

    def _TakeIsMIDI(self, take):
        return bool(self.item.get("midi"))

    def _GetMediaItemTakeInfo_Value(self, take, key):
        return {
            "D_STARTOFFS": self.item.get("offset", 0.0),
            "D_PLAYRATE": self.item.get("rate", 1.0),
            "D_PITCH": self.item.get("pitch", 0.0),
        }[key]

    def _GetMediaItemTake_Source(self, take):
        return "source0"

    def _GetMediaSourceLength(self, source, is_qn):
        if isinstance(source, tuple):  # a take's file: its length from the WAV header
            import wave

            with wave.open(source[1]) as w:
                return (w.getnframes() / w.getframerate(), source, False)
        if self.item.get("midi"):
            return (self.item["source_len"], source, True)
        return (self.item.get("source_len", 10.0), source, False)

    def _GetMediaSourceFileName(self, source, buf, size):
        return (source, self.item.get("file", ""), size)

    def _GetMediaSourceType(self, source, buf, size):
        return (source, self.item.get("type", "MIDI" if self.item.get("midi") else "WAVE"), size)

    def _GetMediaSourceParent(self, source):
        return "(PCM_source*)0x0000000000000000"

    def _TimeMap2_timeToQN(self, proj, t):
        qn = 0.0
        for i, (start, bpm) in enumerate(self.tempo_map):
            end = self.tempo_map[i + 1][0] if i + 1 < len(self.tempo_map) else float("inf")
            if t <= end:
                return qn + (t - start) * bpm / 60
            qn += (end - start) * bpm / 60
        return qn

    def _TimeMap2_QNToTime(self, proj, target):
        qn = 0.0
        for i, (start, bpm) in enumerate(self.tempo_map):
            end = self.tempo_map[i + 1][0] if i + 1 < len(self.tempo_map) else float("inf")
            span = (end - start) * bpm / 60
            if target <= qn + span:
                return start + (target - qn) * 60 / bpm
            qn += span
        return float("inf")

    def _MIDI_CountEvts(self, take, a, b, c):
        return (1, take, len(self.item["notes"]), 0, 0)

    def _MIDI_GetNote(self, take, i, *outs):
        start, end, pitch, velocity, *muted = self.item["notes"][i]
        return (True, take, i, False, bool(muted and muted[0]), start, end, 0, pitch, velocity)

    def _MIDI_GetProjQNFromPPQPos(self, take, ppq):
        return (6.0 - self.item.get("offset", 0.0)) * self.tempo / 60 + ppq / PPQ

    def _GetSetProjectInfo(self, proj, desc, value, is_set):
        assert not is_set
        if desc == "PROJECT_SRATE_USE":
            return 1.0 if self.srate else 0.0
        return float(self.srate or 0)

    def _GetAudioDeviceInfo(self, attribute, buf, size):
        if self.device_srate:
            return (True, attribute, str(self.device_srate), size)
        return (False, attribute, "", size)

    # -- the project ------------------------------------------------------------------------

    def _GetCursorPosition(self):
        return self.cursor

    def _CountTracks(self, proj):
        return len(self._project(proj).tracks)

    def _TimeMap_GetTimeSigAtTime(self, proj, t, a, b, c):
        return (proj, t, 6, 8, self.tempo)

    def _GetExtState(self, section, key):
        return self.ext.get(key, "")

    def _SetExtState(self, section, key, value, persist):
        self.ext[key] = value

    def _DeleteExtState(self, section, key, persist):
        self.ext.pop(key, None)

    def _GetUserInputs(self, title, n, captions, values, size):
        if self.inputs is None:  # the user pressed Cancel
            return (0, title, n, captions, values, size)
        return (1, title, n, captions, self.inputs, size)

    def _EnumProjects(self, idx, buf, size):
        project = self.current if idx == -1 else (self.projects[idx:] or [None])[0]
        return (project, idx, project.file if project else "", size)

    def _GetProjectPathEx(self, proj, buf, size):
        project = self._project(proj)
        return (proj, str(Path(project.file).parent) if project.file else "", size)

    def _get_action_context(self):
        return (False, self.script_path, 0, 0, -1, -1, -1)

    def _APIExists(self, name):
        return name != "InsertTrackInProject" or self.insert_in_project

    def _SelectProjectInstance(self, proj):
        self.current = self._project(proj)

    def _ValidatePtr2(self, proj, pointer, kind):
        if kind == "ReaProject*":
            return pointer in self.projects
        project = self._project(proj)
        if pointer is None:
            return False
        if kind == "MediaTrack*":
            return any(t is pointer for t in project.tracks)
        if kind == "MediaItem*":
            return pointer == "item0" and project is self.projects[0]
        raise AssertionError(kind)

    def _defer(self, code):
        self.deferred.append(code)

    def _atexit(self, code):
        self.atexit.append(code)

    def _MB(self, text, title, kind):
        return self.mb_answers.pop(0) if kind and self.mb_answers else 1

    def _ShowConsoleMsg(self, text):
        self.console.append(text)

    def _PreventUIRefresh(self, n):
        return None

    def _Undo_BeginBlock2(self, proj):
        self._project(proj)

    def _Undo_EndBlock2(self, proj, label, flags):
        self._project(proj)
        self.undo_points.append(label)

    def _UpdateArrange(self):
        return None

    def _UpdateItemInProject(self, item):
        return None

    def _SetEditCurPos(self, t, a, b):
        self.cursor = t

    def _InsertTrackAtIndex(self, i, defaults):
        self.current.tracks.insert(i, {"name": "", "items": []})

    def _InsertTrackInProject(self, proj, i, flags):
        assert self.insert_in_project, "REAPER before 7.18 has no InsertTrackInProject"
        self._project(proj).tracks.insert(i, {"name": "", "items": []})

    def _GetTrack(self, proj, i):
        return self._project(proj).tracks[i]

    def _GetSetMediaTrackInfo_String(self, track, key, value, setit):
        if track is None:
            return (False, track, key, value, setit)
        track["name"] = value

    def _AddMediaItemToTrack(self, track):
        if track is None:
            return None
        item = FakeItem()
        track["items"].append(item)
        return item

    def _AddTakeToMediaItem(self, item):
        if item is None:
            return None
        item.takes.append({"file": "", "name": ""})
        item.active = len(item.takes) - 1  # the worst case: the new empty take is active
        return (item, item.active)

    def _PCM_Source_CreateFromFile(self, path):
        return ("source", path)

    def _PCM_Source_BuildPeaks(self, source, mode):
        return 0

    def _SetMediaItemInfo_Value(self, item, key, value):
        if item is None:
            return False
        setattr(item, {"D_POSITION": "position", "D_LENGTH": "length"}[key], value)
        return True

    def _SetMediaItemTake_Source(self, take, source):
        if take is None:
            return False
        item, k = take
        item.takes[k]["file"] = source[1]
        return True

    def _SetActiveTake(self, take):
        if take is None:
            return None
        item, k = take
        item.active = k

    def _GetSetMediaItemTakeInfo_String(self, take, key, value, setit):
        if take is None:
            return (False, take, key, value, setit)
        item, k = take
        item.takes[k]["name"] = value

    def named(self, *names):
        return [c for c in self.calls if c[0] in names]

    def items(self, track: int) -> list[tuple[float, list[tuple[str, str]], int]]:
        """The inserted items of a track: (position, [(file, take name)...], active take)."""
        return [
            (it.position, [(t["file"], t["name"]) for t in it.takes], it.active)
            for it in self.tracks[track]["items"]
        ]
