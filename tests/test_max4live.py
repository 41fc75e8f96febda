"""The Max for Live device: patch validity, the built .amxd, and a real round trip.

The device's JavaScript is tested in Node (``node --test max4live/tests/``);
here we check the patch and the .amxd from Python and drive the real device
script (max4live/tests/drive_device.js, mocked Live Set, real timers) against
a real engine over loopback UDP.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import protocol, replies, requests
from tests.conftest import models_json_menu

ROOT = Path(__file__).resolve().parents[1]
M4L = ROOT / "max4live"
sys.path.insert(0, str(M4L))
import build_amxd  # noqa: E402

PATCH = json.loads((M4L / "musicgen_bridge.maxpat").read_text(encoding="utf-8"))["patcher"]
BOXES = {b["box"]["id"]: b["box"] for b in PATCH["boxes"]}
DEVICE_JS = (M4L / "musicgen_bridge.js").read_text(encoding="utf-8")
# The js object's script and its modules (musicgen_mkdir.js runs in node.script instead).
DEVICE_SOURCES = "\n".join(
    p.read_text(encoding="utf-8")
    for p in sorted(M4L.glob("musicgen_*.js"))
    if p.name != "musicgen_mkdir.js"
)
E2E_TIMEOUT_S = 120
GENERATE = {arg.name: arg for arg in protocol.ADDRESSES[f"{protocol.PREFIX}/generate"]}


def boxes_named(name: str) -> list[dict]:
    return [b for b in BOXES.values() if b.get("text", "").split(" ")[0] == name]


# -- the patch -----------------------------------------------------------------


def test_every_box_is_well_formed_and_ids_are_unique():
    assert len(BOXES) == len(PATCH["boxes"]), "duplicate box ids"
    for box_id, box in BOXES.items():
        assert isinstance(box["maxclass"], str) and box["maxclass"], box_id
        assert isinstance(box["numinlets"], int) and box["numinlets"] >= 0, box_id
        assert isinstance(box["numoutlets"], int) and box["numoutlets"] >= 0, box_id
        assert len(box["patching_rect"]) == 4, box_id
        if box["numoutlets"]:
            assert len(box["outlettype"]) == box["numoutlets"], box_id
        if box["maxclass"] in ("newobj", "message", "comment"):
            assert box.get("text", "").strip(), f"{box_id} has no text"
        if box.get("presentation"):
            assert len(box["presentation_rect"]) == 4, box_id


def test_every_connection_joins_existing_inlets_and_outlets():
    assert PATCH["lines"]
    for line in PATCH["lines"]:
        (src, outlet), (dst, inlet) = (
            line["patchline"]["source"],
            line["patchline"]["destination"],
        )
        assert src in BOXES and dst in BOXES, line
        assert 0 <= outlet < BOXES[src]["numoutlets"], f"{src} has no outlet {outlet}"
        assert 0 <= inlet < BOXES[dst]["numinlets"], f"{dst} has no inlet {inlet}"


def test_scripts_named_by_the_patch_exist():
    scripts = [b["text"].split(" ")[1] for b in boxes_named("js") + boxes_named("node.script")]
    assert sorted(scripts) == ["musicgen_bridge.js", "musicgen_mkdir.js"]
    for name in scripts:
        assert (M4L / name).is_file(), name
    for dependency in PATCH["dependency_cache"]:
        assert (M4L / dependency["name"]).is_file(), dependency["name"]


def test_required_modules_are_beside_the_device_and_frozen_with_it():
    """musicgen_bridge.js is split into CommonJS modules (Max 8+ require(): a bare name found
    in the search path, exports added to `exports`).  Each one required is a file here, listed
    in the patch's dependency_cache (so Max's Freeze takes it along), written for Max's
    require (no module.exports), and only musicgen_live.js constructs LiveAPI."""
    cached = {d["name"] for d in PATCH["dependency_cache"]}
    sources = {p.name: p.read_text(encoding="utf-8") for p in M4L.glob("musicgen_*.js")}
    required = set()
    for name, source in sources.items():
        for module in re.findall(r'require\("([^"]+)"\)', source):
            if name == "musicgen_mkdir.js":
                continue  # node.script (Node for Max), not the js object
            required.add(module)
    assert required == {
        "musicgen_text",
        "musicgen_files",
        "musicgen_live",
        "musicgen_place",
        "musicgen_menu",
        "musicgen_preview",
        "musicgen_engine",
        "musicgen_handlers",
        "musicgen_request",
        "musicgen_take",
        "musicgen_ui",
    }
    for module in required:
        assert f"{module}.js" in sources, module
        assert f"{module}.js" in cached, f"{module}.js is not in the patch's dependency_cache"
        assert "module.exports" not in sources[f"{module}.js"], module
    assert [n for n, s in sources.items() if "new LiveAPI(" in s] == ["musicgen_live.js"]


def test_ports_match_the_engine_defaults():
    (udpsend,) = boxes_named("udpsend")
    assert udpsend["text"].split(" ")[1:] == ["127.0.0.1", str(protocol.DEFAULT_PORT)]
    settings = dict(re.findall(r"^\s+(\w+): (\d+|\"[^\"]*\")", DEVICE_JS, re.M))
    assert settings["enginePort"] == str(protocol.DEFAULT_PORT)
    assert settings["engineHost"] == '"127.0.0.1"'
    (udpreceive,) = boxes_named("udpreceive")
    port = int(udpreceive["text"].split(" ")[1])
    assert int(settings["replyPortLow"]) <= port <= int(settings["replyPortHigh"])
    assert port != protocol.DEFAULT_PORT


def test_live_api_is_only_started_by_live_thisdevice_through_deferlow():
    """init is the one message that unlocks LiveAPI; it must come from live.thisdevice."""
    (device,) = boxes_named("live.thisdevice")
    sources = {
        (line["patchline"]["source"][0], line["patchline"]["destination"][0])
        for line in PATCH["lines"]
    }
    chain = [device["id"]]
    while len(chain) < 4:
        nxt = [d for s, d in sources if s == chain[-1]]
        assert len(nxt) == 1, f"{chain[-1]} should feed exactly one box"
        chain.append(nxt[0])
    assert [BOXES[i].get("text") for i in chain[1:]] == [
        "deferlow",
        "init",
        "js musicgen_bridge.js",
    ]
    (receive,) = boxes_named("udpreceive")
    after_receive = [d for s, d in sources if s == receive["id"]]
    assert [BOXES[i]["text"] for i in after_receive] == ["deferlow"]


def _feeds(source: str, outlet: int = 0) -> list[str]:
    return [
        line["patchline"]["destination"][0]
        for line in PATCH["lines"]
        if line["patchline"]["source"] == [source, outlet]
    ]


def _by_varname(name: str) -> dict:
    (box,) = [b for b in BOXES.values() if b.get("varname") == name]
    return box


def test_every_message_the_patch_sends_the_script_has_a_function():
    (js,) = boxes_named("js")
    senders = [
        s
        for s, d in (
            (ln["patchline"]["source"][0], ln["patchline"]["destination"][0])
            for ln in PATCH["lines"]
        )
        if d == js["id"]
    ]
    names = set()
    for sender in senders:
        words = BOXES[sender].get("text", "").split(" ")
        if words[0] in ("prepend", "t"):  # [prepend melody], [t generate b b]
            names.add(words[1])
    assert {
        "melody",
        "key",
        "loop",
        "variations",
        "promptseconds",
        "samplerate",
        "continueclip",
        "generate",
    } <= names
    for name in names:
        assert re.search(rf"^function {name}\(", DEVICE_JS, re.M), name


def test_controls_for_melody_key_loop_takes_and_prompt_seconds_reach_the_script():
    (js,) = boxes_named("js")
    for varname, message in [
        ("Melody", "melody"),
        ("Key", "key"),
        ("Loop", "loop"),
        ("Variations", "variations"),
        ("Prompt seconds", "promptseconds"),
    ]:
        control = _by_varname(varname)
        (prepend,) = _feeds(control["id"])
        assert BOXES[prepend]["text"] == f"prepend {message}", varname
        assert _feeds(prepend) == [js["id"]], varname
    takes = _by_varname("Variations")["saved_attribute_attributes"]["valueof"]
    assert (takes["parameter_mmin"], takes["parameter_mmax"]) == (1, 4)
    seconds = _by_varname("Prompt seconds")["saved_attribute_attributes"]["valueof"]
    assert (seconds["parameter_mmin"], seconds["parameter_mmax"]) == (
        GENERATE["prompt_seconds"].minimum,
        GENERATE["prompt_seconds"].maximum,
    )
    assert seconds["parameter_initial"] == [GENERATE["prompt_seconds"].default]


def test_continue_and_generate_read_the_prompt_and_live_sample_rate_first():
    """Max fires a trigger's outlets right to left: sample rate, prompt text, then the verb."""
    (js,) = boxes_named("js")
    (dspstate,) = boxes_named("dspstate~")
    (prompt,) = [b for b in BOXES.values() if b["maxclass"] == "textedit"]
    for button, verb in [("Continue", "continueclip"), ("Generate", "generate")]:
        (trigger,) = _feeds(_by_varname(button)["id"])
        assert BOXES[trigger]["text"] == f"t {verb} b b"
        assert _feeds(trigger, 0) == [js["id"]]
        assert _feeds(trigger, 1) == [prompt["id"]]
        assert _feeds(trigger, 2) == [dspstate["id"]]
    (rate,) = _feeds(dspstate["id"], 1)  # dspstate~'s second outlet: the sampling rate
    assert BOXES[rate]["text"] == "prepend samplerate" and _feeds(rate) == [js["id"]]
    (loadbang,) = boxes_named("loadbang")
    assert _feeds(loadbang["id"]) == [dspstate["id"]]


def test_device_limits_match_the_protocol():
    settings = re.search(r"^var SETTINGS = \{(.*?)^\};", DEVICE_JS, re.M | re.S).group(1)
    value = dict(re.findall(r"^\s+(\w+): (\[[^\]]*\]|[^,\n]+)", settings, re.M))
    assert json.loads(value["sampleRates"]) == list(protocol.SAMPLE_RATES)
    assert int(value["maxVariations"]) == requests.Limits().max_variations
    assert int(value["maxNotesChars"]) == protocol.MAX_NOTES_CHARS
    assert float(value["promptSecondsLow"]) == GENERATE["prompt_seconds"].minimum
    assert float(value["promptSecondsHigh"]) == GENERATE["prompt_seconds"].maximum
    assert float(value["defaultPromptSeconds"]) == GENERATE["prompt_seconds"].default


def test_device_handles_every_reply_address_of_the_protocol():
    handled = set(re.findall(r'^\s+"(/musicgen/\w+)": function', DEVICE_SOURCES, re.M))
    # An address sent only when a request asks for it by a key: the device must
    # handle it once it sends that key on that request.
    # A generate key goes into the request's fields
    # (musicgen_request.js takeFields: fields.push("preview", 1)).
    asked = {
        address
        for address, (request, key) in replies.ASKED_REPLIES.items()
        if re.search(rf'request\("{request}", \{{[^}}]*\b{key}\b', DEVICE_SOURCES)
        or (request == "generate" and re.search(rf'fields\.push\("{key}", 1\)', DEVICE_SOURCES))
    }
    assert handled == set(replies.REPLIES) - set(replies.ASKED_REPLIES) | asked


# -- what Live and Max do with the patch's controls -------------------------------


def test_internally_driven_controls_are_hidden_parameters():
    """Ableton's production guidelines (Undo History): a stored live.* parameter the
    patch drives floods Live's undo history, so Cmd-Z no longer undoes the take."""
    hidden = {"Generate", "Cancel", "Continue", "Seed"}
    for name in hidden:
        valueof = _by_varname(name)["saved_attribute_attributes"]["valueof"]
        assert valueof.get("parameter_invisible") == 2, name
    for box in BOXES.values():
        valueof = box.get("saved_attribute_attributes", {}).get("valueof", {})
        if box.get("parameter_enable") and box.get("varname") not in hidden:
            assert valueof.get("parameter_invisible", 0) in (0, 1), box["varname"]


def test_loudness_menu_is_stored_with_the_set_and_reaches_the_script():
    (js,) = boxes_named("js")
    menu = _by_varname("Loudness")
    valueof = menu["saved_attribute_attributes"]["valueof"]
    assert valueof["parameter_enum"] == ["Off", "-14 LUFS", "-23 LUFS"]
    assert valueof["parameter_invisible"] == 1 and valueof["parameter_initial"] == [0]
    (prepend,) = _feeds(menu["id"])
    assert BOXES[prepend]["text"] == "prepend loudness" and _feeds(prepend) == [js["id"]]


def test_preview_toggle_and_level_are_stored_with_the_set_and_reach_the_script():
    """Issue 25: "Hear while it renders" (off by default) and its level, stored with the
    set like Loudness (parameter_invisible 1: stored, not automated)."""
    (js,) = boxes_named("js")
    for varname, message, initial in [
        ("Hear while it renders", "preview", [0]),
        ("Preview level", "previewlevel", [-6.0]),
    ]:
        control = _by_varname(varname)
        valueof = control["saved_attribute_attributes"]["valueof"]
        assert control["parameter_enable"] == 1, varname
        assert valueof["parameter_invisible"] == 1 and valueof["parameter_initial"] == initial
        (prepend,) = _feeds(control["id"])
        assert BOXES[prepend]["text"] == f"prepend {message}" and _feeds(prepend) == [js["id"]]
    level = _by_varname("Preview level")["saved_attribute_attributes"]["valueof"]
    settings = re.search(r"^var SETTINGS = \{(.*?)^\};", DEVICE_JS, re.M | re.S).group(1)
    assert f"previewLevelDb: {level['parameter_initial'][0]:g}," in settings
    assert f"previewLevelFloorDb: {level['parameter_mmin']:g}" in settings


def test_preview_player_mixes_into_the_device_output():
    """js outlet 3 drives the player; both play~s read the buffers it loads; the device's
    input still reaches plugout~, now summed with the preview."""
    (js,) = boxes_named("js")
    (route,) = _feeds(js["id"], 3)
    words = BOXES[route]["text"].split(" ")
    assert words == ["route", "bufa", "bufb", "mono", "pos", "xfade", "gain"]
    buffers = [BOXES[_feeds(route, i)[0]]["text"] for i in (0, 1)]
    assert buffers == ["buffer~ ---mgpvA", "buffer~ ---mgpvB"]
    (position,) = _feeds(route, 3)
    players = sorted(BOXES[b]["text"] for b in _feeds(position))
    assert players == ["play~ ---mgpvA 2", "play~ ---mgpvB 2"]
    (plugin,) = boxes_named("plugin~")
    (plugout,) = boxes_named("plugout~")
    for channel in (0, 1):
        (mix,) = _feeds(plugin["id"], channel)
        assert BOXES[mix]["text"] == "+~"
        assert _feeds(mix) == [plugout["id"]]
        assert _reaches(route, mix), f"the preview does not reach output {channel + 1}"


def _reaches(source: str, target: str) -> bool:
    """Whether any wire path leads from box `source` to box `target`."""
    seen, todo = set(), [source]
    while todo:
        box = todo.pop()
        if box == target:
            return True
        if box not in seen:
            seen.add(box)
            todo.extend(
                ln["patchline"]["destination"][0]
                for ln in PATCH["lines"]
                if ln["patchline"]["source"][0] == box
            )
    return False


def test_prompt_box_sends_its_text_as_one_symbol():
    """textedit in list mode splits the text at commas and semicolons and reads 007 as 7."""
    (js,) = boxes_named("js")
    (prompt,) = [b for b in BOXES.values() if b["maxclass"] == "textedit"]
    assert prompt["outputmode"] == 1
    (prepend,) = _feeds(prompt["id"])
    assert BOXES[prepend]["text"] == "prepend prompt" and _feeds(prepend) == [js["id"]]


# -- the .amxd -----------------------------------------------------------------


def test_amxd_is_up_to_date_with_its_sources():
    assert build_amxd.TARGET.read_bytes() == build_amxd.build(), (
        "max4live/MusicGen Bridge.amxd is out of date: run python max4live/build_amxd.py"
    )


def test_amxd_header_is_well_formed_and_holds_the_source_patch():
    kind, doc = build_amxd.read(build_amxd.TARGET.read_bytes())
    assert kind == b"aaaa"
    assert doc == json.loads((M4L / "musicgen_bridge.maxpat").read_text(encoding="utf-8"))


def test_amxd_reader_rejects_damaged_files():
    good = build_amxd.build()
    with pytest.raises(ValueError, match="header"):
        build_amxd.read(b"RIFF" + good[4:])
    with pytest.raises(ValueError, match="size"):
        build_amxd.read(good[:-10])
    with pytest.raises(ValueError, match="shorter"):
        build_amxd.read(good[:20])


def test_check_mode_reports_a_stale_device(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "stale.amxd"
    stale.write_bytes(build_amxd.build()[:-2] + b"}\x00")
    monkeypatch.setattr(build_amxd, "TARGET", stale)
    assert build_amxd.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err


# -- end to end: the real device script against a real engine -----------------


def _osc(atoms: list[list]) -> bytes:
    """Encode the device's typed atoms the way udpsend does: address first."""
    (kind, address), rest = atoms[0], atoms[1:]
    assert kind == "s"
    builder = OscMessageBuilder(address)
    for kind, value in rest:
        builder.add_arg(value, kind)
    return builder.build().dgram


MACOS_UDP_MAX = 9216  # macOS drops UDP datagrams over this many bytes, without a word
DEVICE_DATAGRAM_MAX = 8192  # what the device promises to stay under


def _drive(
    engine_process,
    set_folder: Path,
    *scenario: str,
    intercept: Callable[[list, Callable[[dict], None]], bool] | None = None,
    react: Callable[[dict, Callable[[dict], None]], None] | None = None,
) -> tuple[dict, dict]:
    """Run drive_device.js against the engine until done (or error).

    Every datagram the device sends is encoded as udpsend would, checked to be
    at most 8 KB, and forwarded to the engine unless it is over macOS's 9216
    bytes (dropped, as macOS does). ``intercept(osc, tell)`` may keep a message
    from the engine (returning True) and ``tell({...})`` the driver something
    instead; ``react(event, tell)`` sees every event the driver reports.

    Returns the last generate message as {key: [type, value]} and the last
    event the driver handled (its status line and every Live API call and set).
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (needed to run the device script)")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    reply_port = sock.getsockname()[1]
    driver = subprocess.Popen(
        [
            node,
            str(M4L / "tests" / "drive_device.js"),
            str(reply_port),
            str(set_folder),
            *scenario,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in driver.stdout], daemon=True).start()

    def tell(message: dict) -> None:
        driver.stdin.write(json.dumps(message) + "\n")
        driver.stdin.flush()

    sent, handled, dropped = [], [], []
    try:
        deadline = time.monotonic() + E2E_TIMEOUT_S
        while time.monotonic() < deadline and not any(
            h.get("handled") == "/musicgen/done" for h in handled
        ):
            while not lines.empty():
                event = json.loads(lines.get())
                if "osc" in event:
                    dgram = _osc(event["osc"])
                    assert len(dgram) <= DEVICE_DATAGRAM_MAX, (len(dgram), event["osc"][0])
                    sent.append(event["osc"])
                    if len(dgram) > MACOS_UDP_MAX:
                        dropped.append(event["osc"][0][1])
                    elif not (intercept and intercept(event["osc"], tell)):
                        sock.sendto(dgram, ("127.0.0.1", engine_process.port))
                elif "dropped" in event:
                    dropped.append(event["dropped"])
                else:
                    handled.append(event)
                    if react:
                        react(event, tell)
            if handled and handled[-1].get("handled") == "/musicgen/error" and not react:
                break
            try:
                data, _ = sock.recvfrom(65536)
            except TimeoutError:
                continue
            reply = OscMessage(data)
            tell({"address": reply.address, "args": list(reply.params)})
            time.sleep(0.05)  # let the driver answer before reading on
    finally:
        driver.stdin.close()
        driver.wait(10)
        sock.close()
    done = [h for h in handled if h.get("handled") == "/musicgen/done"]
    final = done[-1] if done else (handled[-1] if handled else {})
    assert not dropped, f"datagrams lost on the way (over {MACOS_UDP_MAX} bytes): {dropped}"
    assert final.get("handled") == "/musicgen/done", (
        f"no done within {E2E_TIMEOUT_S} s; device said {final.get('status')!r}; "
        f"driver stderr: {driver.stderr.read()}\nengine log:\n{engine_process.log()}"
    )
    generate = [m for m in sent if m[0] == ["s", "/musicgen/generate"]][-1]
    args = dict(zip([v for _, v in generate[1::2]], generate[2::2], strict=True))
    return args, final


def _set_folder(tmp_path: Path) -> tuple[Path, Path]:
    set_folder = tmp_path / "E2E Project"
    set_folder.mkdir()
    return set_folder, set_folder / "Samples" / "Generated" / "MusicGen"


def _seconds(wav: Path) -> tuple[float, int]:
    info = soundfile.info(str(wav))
    return info.frames / info.samplerate, info.samplerate


@pytest.mark.e2e
def test_device_messages_reach_a_real_engine_and_the_take_is_placed(engine_process, tmp_path):
    set_folder, out_dir = _set_folder(tmp_path)
    args, final = _drive(engine_process, set_folder)
    assert args["out_dir"] == ["s", str(out_dir)]
    assert args["bpm"] == ["i", 92] and args["timesig"] == ["s", "7/8"]
    assert args["seed"] == ["i", 7] and args["bars"] == ["i", 2]

    (create,) = [c for c in final["calls"] if c["fn"] == "create_audio_clip"]
    wav = Path(create["args"][0])
    assert create == {
        "path": "live_set tracks 1",
        "fn": "create_audio_clip",
        "args": [str(wav), 14],
    }
    assert wav.parent == out_dir and wav.suffix == ".wav" and wav.is_file()
    seconds, rate = _seconds(wav)
    expected_s = 2 * 3.5 * 60 / 92  # 2 bars of 7/8 at 92 bpm
    assert abs(seconds - expected_s) < 2 / rate
    assert final["status"].startswith('Placed "dusty lo-fi drums" at beat 14')
    assert {
        "path": "live_set tracks 1 arrangement_clips 0",
        "prop": "name",
        "value": "dusty lo-fi drums",
    } in final["sets"]
    # Live's guessed warping replaced: warp markers pin beat 0 to the file's
    # start and beat 7 (2 bars of 7/8) to its end, and the clip ends there.
    (clip,) = final["clips"]
    assert clip["warping"] == 1 and clip["looping"] == 0
    assert clip["loop_end"] == 7 and clip["end_marker"] == 7
    (start, end) = clip["markers"]
    assert (start["beat_time"], start["sample_time"]) == (0, 0)
    assert end["beat_time"] == 7 and abs(end["sample_time"] - seconds) < 1e-9


@pytest.mark.e2e
def test_device_preview_loads_each_growing_file_from_a_real_engine(engine_process, tmp_path):
    """Issue 25, "Hear while it renders": the request carries preview 1; each preview reply
    the device handles while the file is there makes it tell a buffer~ (alternately A and B)
    to re-read the file, which at that moment is a valid 16-bit WAV (header sizes = file
    size); the take is placed as usual.  (The relay here is slower than Max, so the replies
    read after the engine removed the file are skipped, as the device does.)  What it
    sounds like in Live is on the checklist in docs/ableton.md."""
    set_folder, _ = _set_folder(tmp_path)
    audio: list[dict] = []

    def react(event: dict, tell: Callable[[dict], None]) -> None:
        if "audio" in event:
            audio.append(event)

    args, final = _drive(engine_process, set_folder, "preview", react=react)
    assert args["preview"] == ["i", 1]
    assert final["status"].startswith('Placed "dusty lo-fi drums" at beat 14')
    loads = [e for e in audio if e["audio"][1:2] == ["replace"]]
    assert loads, "no preview reply reached the player"
    buffers = [e["audio"][0] for e in loads]
    assert buffers == ["bufa", "bufb"] * (len(buffers) // 2) + ["bufa"] * (len(buffers) % 2)
    for i, event in enumerate(loads):
        wav = event["file"]
        if wav.get("missing") and i == len(loads) - 1:
            continue  # removed by the engine in the microseconds after the device's own check
        assert not wav.get("missing"), "the device loaded a preview file that was gone"
        assert wav["riff"] == "RIFF" and wav["bits"] == 16 and wav["channels"] == 1
        # Samples are appended before the header's sizes are rewritten: the file may be
        # ahead of its header, never behind it.
        assert wav["fileBytes"] >= 44 + wav["dataBytes"] and wav["dataBytes"] > 0
    assert audio[0]["audio"] == ["mono", 1]  # debug is a mono checkpoint


@pytest.mark.e2e
def test_device_variations_land_three_takes_stacked_at_the_project_rate(engine_process, tmp_path):
    set_folder, out_dir = _set_folder(tmp_path)
    args, final = _drive(engine_process, set_folder, "variations")
    assert args["variations"] == ["i", 3] and args["sample_rate"] == ["i", 44100]
    assert args["bars"] == ["i", 1] and args["seed"] == ["i", 7]

    creates = [c for c in final["calls"] if c["fn"] == "create_audio_clip"]
    assert [(c["path"], c["args"][1]) for c in creates] == [
        ("live_set tracks 1", 14),
        ("live_set tracks 2", 14),
        ("live_set tracks 3", 14),
    ]
    wavs = [Path(c["args"][0]) for c in creates]
    assert len(set(wavs)) == 3
    for wav in wavs:
        assert wav.parent == out_dir and wav.is_file()
        seconds, rate = _seconds(wav)
        assert rate == 44100
        assert abs(seconds - 3.5 * 60 / 92) < 2 / rate  # 1 bar of 7/8 at 92 bpm
    seeds = [json.loads(w.with_suffix(".json").read_text())["seed"] for w in wavs]
    assert seeds == [7, 8, 9]
    mutes = [s["path"] for s in final["sets"] if s["prop"] == "mute"]
    assert mutes == ["live_set tracks 2", "live_set tracks 3"]
    assert final["status"].startswith(
        'Placed 3 takes of "dusty lo-fi drums" at beat 14 on tracks 2-4'
    )


@pytest.mark.e2e
def test_device_continues_the_selected_audio_clip_after_its_end(engine_process, tmp_path):
    set_folder, out_dir = _set_folder(tmp_path)
    source = tmp_path / "drums.wav"
    t = np.arange(int(32000 * 3.0)) / 32000
    soundfile.write(str(source), 0.3 * np.sin(2 * np.pi * 220 * t), 32000, subtype="PCM_16")
    args, final = _drive(engine_process, set_folder, "continue", str(source))
    assert args["continue_from"] == ["s", str(source)]
    assert args["prompt_seconds"] == ["f", 1.5]
    assert "melody_notes" not in args and "include_prompt" not in args

    (create,) = [c for c in final["calls"] if c["fn"] == "create_audio_clip"]
    wav = Path(create["args"][0])
    assert create == {"path": "live_set tracks 0", "fn": "create_audio_clip", "args": [str(wav), 7]}
    assert wav.parent == out_dir and wav.is_file()
    seconds, rate = _seconds(wav)
    assert abs(seconds - 2 * 3.5 * 60 / 92) < 2 / rate  # the continuation alone: 2 bars
    params = json.loads(wav.with_suffix(".json").read_text())["params"]
    assert params["continue_from"] == str(source) and params["prompt_seconds"] == 1.5
    assert final["status"].startswith('Placed "dusty lo-fi drums" at beat 7 on track 1')


@pytest.mark.e2e
def test_device_sends_a_dense_clip_as_a_midi_file_and_the_prompt_verbatim(engine_process, tmp_path):
    """1400 notes would be ~20 KB inline: macOS would drop it. It goes as melody_midi."""
    set_folder, out_dir = _set_folder(tmp_path)
    args, final = _drive(engine_process, set_folder, "melody")
    assert "melody_notes" not in args and args["model"] == ["s", "debug-melody"]
    midi = Path(args["melody_midi"][1])
    assert midi.parent == out_dir and midi.suffix == ".mid" and midi.is_file()
    import mido

    notes = [m for m in mido.MidiFile(midi) if m.type == "note_on" and m.velocity > 0]
    assert len(notes) == 1400  # the 7-beat clip fills the 7-beat take once

    (create,) = [c for c in final["calls"] if c["fn"] == "create_audio_clip"]
    sidecar = json.loads(Path(create["args"][0]).with_suffix(".json").read_text())
    assert sidecar["prompt"] == "lo-fi, 007 beats; 0.50 swing, children's choir"
    assert sidecar["params"]["melody_midi"] == str(midi)


@pytest.mark.e2e
def test_device_ends_a_take_the_engine_lost_and_generates_again(engine_process, tmp_path):
    """An engine restart mid-take: the first take's generate reaches an engine that
    then dies (played here: it answers queued and progress, then nothing); the
    real engine, which never heard of it, answers Cancel with unknown_job."""
    set_folder, _ = _set_folder(tmp_path)
    lost: list[str] = []

    def intercept(osc: list, tell: Callable[[dict], None]) -> bool:
        if osc[0][1] != "/musicgen/generate" or lost:
            return False
        job = osc[2][1]
        lost.append(job)
        tell({"address": "/musicgen/queued", "args": [job, 0]})
        tell({"address": "/musicgen/progress", "args": [job, 0.3, "generating"]})
        tell({"click": "Cancel"})
        return True

    statuses: list[str] = []

    def react(event: dict, tell: Callable[[dict], None]) -> None:
        statuses.append(event.get("status") or "")
        if event.get("handled") == "/musicgen/error" and "no longer knows" in event["status"]:
            tell({"click": "Generate"})

    args, final = _drive(engine_process, set_folder, intercept=intercept, react=react)
    assert lost and args["id"][1] != lost[0]
    assert any(s.startswith("The engine no longer knows this take") for s in statuses)
    assert final["status"].startswith('Placed "dusty lo-fi drums" at beat 14')


@pytest.mark.e2e
def test_device_loudness_and_a_conflicting_tempo_reach_a_real_engine(engine_process, tmp_path):
    """The Loudness menu's -14 LUFS is what the take measures, and the engine's
    tempo_conflict warning (the prompt says 120 bpm, the set plays 92) stays on the
    device's status line after the take is placed."""
    import pyloudnorm

    set_folder, _ = _set_folder(tmp_path)
    args, final = _drive(engine_process, set_folder, "loudness")
    assert args["loudness"][1] == -14 and args["bpm"] == ["i", 92]
    (create,) = [c for c in final["calls"] if c["fn"] == "create_audio_clip"]
    audio, rate = soundfile.read(create["args"][0])
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio) + 14) <= 0.5
    sidecar = json.loads(Path(create["args"][0]).with_suffix(".json").read_text())
    assert [w["code"] for w in sidecar["warnings"]] == ["tempo_conflict"]
    assert final["status"].startswith("Placed") and "tempo_conflict" in final["status"]


@pytest.mark.e2e
def test_device_model_menu_is_the_models_json_menu_and_a_choice_reaches_the_engine(
    engine_process, tmp_path
):
    """The Model menu the device fills from `models details 1` equals, item for item,
    the "menu" of `musicgen-bridge models --json` against the same engine; choosing an
    item by its place sends its exact name, which the engine serves."""
    menu = models_json_menu(engine_process.port)
    assert menu[0]["name"] == "" and len(menu) > 4
    set_folder, _ = _set_folder(tmp_path)
    events: list[dict] = []
    args, final = _drive(engine_process, set_folder, "menu", react=lambda e, _t: events.append(e))
    first = next(e for e in events if e.get("handled") == "/musicgen/models")
    assert first["menu"] == menu
    assert first["umenu"] == [item["label"] for item in menu]
    assert any(item["download"] for item in menu), "released checkpoints not downloaded are listed"
    assert args["model"] == ["s", "debug-stereo"]
    assert final["status"].startswith("Placed")
