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
from pathlib import Path

import pytest
import soundfile
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import protocol

ROOT = Path(__file__).resolve().parents[1]
M4L = ROOT / "max4live"
sys.path.insert(0, str(M4L))
import build_amxd  # noqa: E402

PATCH = json.loads((M4L / "musicgen_bridge.maxpat").read_text(encoding="utf-8"))["patcher"]
BOXES = {b["box"]["id"]: b["box"] for b in PATCH["boxes"]}
DEVICE_JS = (M4L / "musicgen_bridge.js").read_text(encoding="utf-8")
E2E_TIMEOUT_S = 120


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


def test_device_handles_every_reply_address_of_the_protocol():
    handled = set(re.findall(r'^\s+"(/musicgen/\w+)": function', DEVICE_JS, re.M))
    assert handled == set(protocol.REPLIES)


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


@pytest.mark.e2e
def test_device_messages_reach_a_real_engine_and_the_take_is_placed(engine_process, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (needed to run the device script)")
    set_folder = tmp_path / "E2E Project"
    set_folder.mkdir()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    reply_port = sock.getsockname()[1]
    driver = subprocess.Popen(
        [node, str(M4L / "tests" / "drive_device.js"), str(reply_port), str(set_folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in driver.stdout], daemon=True).start()
    sent, handled = [], []
    try:
        deadline = time.monotonic() + E2E_TIMEOUT_S
        while time.monotonic() < deadline and not any(
            h["handled"] in ("/musicgen/done", "/musicgen/error") for h in handled
        ):
            while not lines.empty():
                event = json.loads(lines.get())
                if "osc" in event:
                    sent.append(event["osc"])
                    sock.sendto(_osc(event["osc"]), ("127.0.0.1", engine_process.port))
                else:
                    handled.append(event)
            try:
                data, _ = sock.recvfrom(65536)
            except TimeoutError:
                continue
            reply = OscMessage(data)
            driver.stdin.write(
                json.dumps({"address": reply.address, "args": list(reply.params)}) + "\n"
            )
            driver.stdin.flush()
            time.sleep(0.05)  # let the driver answer before reading on
    finally:
        driver.stdin.close()
        driver.wait(10)
        sock.close()
    final = handled[-1] if handled else {}
    assert final.get("handled") == "/musicgen/done", (
        f"no done within {E2E_TIMEOUT_S} s; device said {final.get('status')!r}; "
        f"driver stderr: {driver.stderr.read()}\nengine log:\n{engine_process.log()}"
    )

    generate = next(m for m in sent if m[0] == ["s", "/musicgen/generate"])
    args = dict(zip([v for _, v in generate[1::2]], generate[2::2], strict=True))
    out_dir = set_folder / "Samples" / "Generated" / "MusicGen"
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
    info = soundfile.info(str(wav))
    expected_s = 2 * 3.5 * 60 / 92  # 2 bars of 7/8 at 92 bpm
    assert abs(info.frames / info.samplerate - expected_s) < 2 / info.samplerate
    assert final["status"].startswith('Placed "dusty lo-fi drums" at beat 14')
    assert {
        "path": "live_set tracks 1 arrangement_clips 0",
        "prop": "name",
        "value": "dusty lo-fi drums",
    } in final["sets"]
