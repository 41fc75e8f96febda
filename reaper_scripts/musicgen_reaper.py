"""MusicGen: Generate from selection, Python ReaScript variant (talks OSC directly).

Same behaviour as the Lua action: same dialog (prompt, bars, seed, model; remembered in
ExtState section "MusicGen_Bridge"), tempo and time signature at the selected item (or the
edit cursor), takes written to <project folder>/MusicGen (the engine's default folder when
the project is unsaved), each WAV inserted on a new track under the selection inside one
undo block.  The job id goes into ExtState "current_job", so "MusicGen: Cancel" works for it.

Instead of shelling out it sends /musicgen/generate with python-osc from a non-blocking UDP
socket and reads the replies on each defer tick, so REAPER never freezes.

`api` is REAPER's reaper_python module (RPR_* functions, which return a tuple of all
parameters when a function has output parameters).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

SECTION = "MusicGen_Bridge"
FIELDS = ("prompt", "bars", "seed", "model")
CAPTIONS = (
    "Prompt,Length (bars),Seed (blank = random),Model (blank = engine's),"
    "separator=\n,extrawidth=300"
)
DEFAULTS = {"prompt": "", "bars": "4", "seed": "", "model": ""}
UNDO_LABEL = "MusicGen: insert generated audio"
START_ENGINE = "Is the engine running? Start it with `musicgen-bridge serve` in a terminal."
FIRST_REPLY_S = 3.0


class Problem(Exception):
    """Something to tell the user, in words."""


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
    return {"prompt": v["prompt"], "bars": bars, "seed": seed, "model": v["model"] or None}


class Generator:
    """One take: prepare() (dialog), start() (send), poll() on each defer tick."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.state = "new"
        self.sock: socket.socket | None = None
        self.paths: list[str] = []
        self.message = ""

    def ext(self, key: str, default: str = "") -> str:
        return self.api.RPR_GetExtState(SECTION, key) or default

    def prepare(self) -> bool:
        """Returns False when the user cancelled the dialog."""
        a = self.api
        if a.RPR_CountSelectedMediaItems(0) > 0:
            item = a.RPR_GetSelectedMediaItem(0, 0)
            self.position = a.RPR_GetMediaItemInfo_Value(item, "D_POSITION")
            track = a.RPR_GetMediaItem_Track(item)
            self.after_track = int(a.RPR_GetMediaTrackInfo_Value(track, "IP_TRACKNUMBER"))
        else:
            self.position = a.RPR_GetCursorPosition()
            self.after_track = a.RPR_CountTracks(0)
        _, _, num, denom, bpm = a.RPR_TimeMap_GetTimeSigAtTime(0, self.position, 0, 0, 0)
        shown = "\n".join(self.ext("last_" + k, DEFAULTS[k]).replace("\n", " ") for k in FIELDS)
        answer = a.RPR_GetUserInputs("MusicGen: Generate", len(FIELDS), CAPTIONS, shown, 4096)
        if not answer[0]:
            return False
        typed = (answer[4].split("\n") + [""] * len(FIELDS))[: len(FIELDS)]
        raw = dict(zip(FIELDS, typed, strict=True))
        for k in FIELDS:
            a.RPR_SetExtState(SECTION, "last_" + k, raw[k], True)
        values = validate(raw)
        self.prompt = values["prompt"]
        fields: dict[str, Any] = {
            "prompt": values["prompt"],
            "bars": float(values["bars"]),
            "bpm": float(bpm),
            "timesig": f"{int(num)}/{int(denom)}",
            "seed": values["seed"],
            "model": values["model"],
        }
        project_file = a.RPR_EnumProjects(-1, "", 4096)[2]
        if project_file:
            out = os.path.join(os.path.dirname(project_file), "MusicGen")
            try:
                os.makedirs(out, exist_ok=True)
            except OSError as exc:
                raise Problem(f"Could not create the folder {out}: {exc.strerror}.") from None
            fields["out_dir"] = out
        self.fields = fields
        return True

    def start(self) -> None:
        host = self.ext("host", "127.0.0.1")
        port = int(self.ext("port", "9000"))
        self.id = f"reaper-py-{uuid.uuid4().hex[:10]}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        msg = OscMessageBuilder("/musicgen/generate")
        args: list[Any] = ["id", self.id, "reply_port", self.sock.getsockname()[1]]
        for key, value in self.fields.items():
            if value is not None:
                args += [key, value]
        for arg in args:
            msg.add_arg(arg)
        self.sock.sendto(msg.build().dgram, (host, port))
        self.engine = f"{host}:{port}"
        self.sent_at = time.monotonic()
        self.accepted = False
        self.state = "running"
        self.api.RPR_SetExtState(SECTION, "current_job", self.id, False)

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
                messages = [m.message for m in OscPacket(data).messages]
            except ParseError:
                continue
            for m in messages:
                params = list(m.params)
                if not params or params[0] != self.id:
                    continue
                self._reply(m.address, params[1:])
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
        return self.state == "running"

    def _reply(self, address: str, args: list[Any]) -> None:
        if address in ("/musicgen/queued", "/musicgen/progress"):
            self.accepted = True
        elif address == "/musicgen/done":
            self.paths = [str(p) for p in args]
            self._end("done", "")
        elif address == "/musicgen/error":
            code, message = [*list(args), "", ""][:2]
            self._end("cancelled" if code == "cancelled" else "failed", str(message))

    def _end(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        if self.ext("current_job") == self.id:
            self.api.RPR_DeleteExtState(SECTION, "current_job", True)
        if self.sock is not None:
            self.sock.close()

    def finish(self) -> None:
        a = self.api
        if self.state == "done":
            insert_takes(a, self.paths, self.position, self.after_track, self.prompt)
        elif self.state == "cancelled":
            a.RPR_ShowConsoleMsg(f"MusicGen: generation cancelled: {self.message}\n")
        else:
            a.RPR_MB(f"MusicGen could not make the take.\n\n{self.message}", "MusicGen", 0)


def insert_takes(a: Any, paths: list[str], position: float, after_track: int, prompt: str) -> None:
    """Each WAV on its own new track after track number `after_track`, in one undo block."""
    name = " ".join(prompt.split())
    name = name if len(name) <= 60 else name[:57] + "..."
    cursor = a.RPR_GetCursorPosition()
    a.RPR_PreventUIRefresh(1)
    a.RPR_Undo_BeginBlock()
    for i, path in enumerate(paths):
        index = after_track + i
        a.RPR_InsertTrackAtIndex(index, True)
        track = a.RPR_GetTrack(0, index)
        a.RPR_GetSetMediaTrackInfo_String(
            track, "P_NAME", name if len(paths) == 1 else f"{name} {i + 1}", True
        )
        a.RPR_SetEditCurPos(position, False, False)
        a.RPR_InsertMedia(path, 512 | (index << 16))
        item = a.RPR_GetTrackMediaItem(track, a.RPR_CountTrackMediaItems(track) - 1)
        take = a.RPR_GetActiveTake(item)
        a.RPR_GetSetMediaItemTakeInfo_String(take, "P_NAME", name, True)
    a.RPR_SetEditCurPos(cursor, False, False)
    a.RPR_Undo_EndBlock(UNDO_LABEL, -1)
    a.RPR_PreventUIRefresh(-1)
    a.RPR_UpdateArrange()
