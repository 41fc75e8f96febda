"""Putting a take into REAPER for the Python variant: the WAVs as the takes of one new item,
built directly (AddMediaItemToTrack, AddTakeToMediaItem, PCM_Source_CreateFromFile) in the
project the take was made for, whose pointers are checked with ValidatePtr2 first (the Lua
action's insert.lua).  `a` is REAPER's reaper_python module.
"""

from __future__ import annotations

import os
import re
from typing import Any

UNDO_LABEL = "MusicGen: insert generated audio"


class Problem(Exception):
    """Something to tell the user, in words."""


def take_name(name: str, path: str, i: int, count: int) -> str:
    """The prompt, and for variations the seed from the engine's file name (..._s<seed>.wav)."""
    if count == 1:
        return name
    found = re.search(r"_s(\d+)(?:-\d+)?\.\w+$", path)
    return f"{name} (seed {found.group(1)})" if found else f"{name} #{i + 1}"


class Target:
    """Where a take goes: the project (pointer) and its file, the selected item's track
    (pointer, or None: a new track at the end), the position in seconds when the action ran,
    and the selected item (pointer or None), whose position is read again when the take
    arrives (the producer may have moved it meanwhile)."""

    def __init__(
        self, project: Any, project_file: str, track: Any, position: float, item: Any = None
    ) -> None:
        self.project, self.project_file = project, project_file
        self.track, self.position, self.item = track, position, item


def _project_name(project_file: str) -> str:
    return f'"{os.path.basename(project_file)}"' if project_file else "the unsaved project"


def _new_track(a: Any, proj: Any, index: int) -> Any:
    """A track at 0-based `index` of `proj` (InsertTrackInProject from REAPER 7.18; before it
    InsertTrackAtIndex, which works on the current tab only)."""
    if a.RPR_APIExists("InsertTrackInProject"):
        a.RPR_InsertTrackInProject(proj, index, 1)
    else:
        current = a.RPR_EnumProjects(-1, "", 4096)[0]
        if current != proj:
            a.RPR_SelectProjectInstance(proj)
        a.RPR_InsertTrackAtIndex(index, True)
        if current != proj:
            a.RPR_SelectProjectInstance(current)
    return a.RPR_GetTrack(proj, index)


def insert_takes(a: Any, paths: list[str], target: Target, prompt: str) -> list[str]:
    """The WAVs as the takes of one new item on a new track under the target's track (or at
    the end), the first take active, in the target project's undo block.  Returns what to tell
    the user; raises Problem when the take cannot go in."""
    proj = target.project
    folder = os.path.dirname(paths[0])
    if not a.RPR_ValidatePtr2(0, proj, "ReaProject*"):
        raise Problem(
            f"The take was made for {_project_name(target.project_file)}, which has been closed, "
            f"so it was not inserted. Its files are in {folder}: open the project and drag them in."
        )
    notes = []
    shown = a.RPR_EnumProjects(-1, "", 4096)[0]
    if shown != proj:
        notes.append(
            f"The take went into {_project_name(target.project_file)}, the project it was made "
            "for (not the tab shown now)."
        )
        # reaper_python.py packs every pointer with rpr_packp, which hands NULL to REAPER for
        # any pointer RPR_ValidatePtr finds outside the CURRENT project (reapy's
        # additional_api.py replaces it for that reason).  So the project's tab is shown for
        # the moment of the insert, inside PreventUIRefresh, and the one shown is put back.
        a.RPR_PreventUIRefresh(1)
        a.RPR_SelectProjectInstance(proj)
    try:
        return _insert_shown(a, paths, target, prompt, folder, notes)
    finally:
        if shown != proj:
            a.RPR_SelectProjectInstance(shown)
            a.RPR_PreventUIRefresh(-1)


def _insert_shown(
    a: Any, paths: list[str], target: Target, prompt: str, folder: str, notes: list[str]
) -> list[str]:
    """insert_takes once the target project is the current tab."""
    proj = target.project
    position = target.position
    if target.item is not None and a.RPR_ValidatePtr2(proj, target.item, "MediaItem*"):
        position = a.RPR_GetMediaItemInfo_Value(target.item, "D_POSITION")
    if target.track is not None and a.RPR_ValidatePtr2(proj, target.track, "MediaTrack*"):
        index = int(a.RPR_GetMediaTrackInfo_Value(target.track, "IP_TRACKNUMBER"))
    else:
        index = a.RPR_CountTracks(proj)
        if target.track is not None:
            notes.append(
                "The track under which the take was to go was deleted while it rendered, so the "
                "take is on a new track at the end of the project."
            )
    name = " ".join(prompt.split())
    name = name if len(name) <= 60 else name[:57] + "..."
    a.RPR_PreventUIRefresh(1)
    a.RPR_Undo_BeginBlock2(proj)
    try:
        track = _new_track(a, proj, index)
        a.RPR_GetSetMediaTrackInfo_String(track, "P_NAME", name, True)
        item = a.RPR_AddMediaItemToTrack(track)
        takes, sources = [], []
        for i, path in enumerate(paths):
            source = a.RPR_PCM_Source_CreateFromFile(path)
            take = a.RPR_AddTakeToMediaItem(item)
            a.RPR_SetMediaItemTake_Source(take, source)
            a.RPR_GetSetMediaItemTakeInfo_String(
                take, "P_NAME", take_name(name, path, i, len(paths)), True
            )
            takes.append(take)
            sources.append(source)
        a.RPR_SetActiveTake(takes[0])
        length = a.RPR_GetMediaSourceLength(sources[0], False)[0]
        a.RPR_SetMediaItemInfo_Value(item, "D_POSITION", position)
        a.RPR_SetMediaItemInfo_Value(item, "D_LENGTH", length)
        a.RPR_UpdateItemInProject(item)
        for source in sources:
            if a.RPR_PCM_Source_BuildPeaks(source, 0):
                for _ in range(10000):
                    if not a.RPR_PCM_Source_BuildPeaks(source, 1):
                        break
                a.RPR_PCM_Source_BuildPeaks(source, 2)
    finally:
        a.RPR_Undo_EndBlock2(proj, UNDO_LABEL, -1)
        a.RPR_PreventUIRefresh(-1)
        a.RPR_UpdateArrange()
    return notes
