"""REAPER client tests: the Lua suite, the Lua action end to end, the Python variant.

- The Lua unit tests (reaper_scripts/tests/run_tests.lua) run under lua5.4 with a mock
  ``reaper`` table; here they are run once more so pytest reports them too.
- End to end: the Lua actions run under the mock, but the command line they build is run for
  real through /bin/sh against a real engine (debug checkpoint); the WAVs it writes are what
  the action then inserts: a plain take, three variations as the takes of one item at the
  project's 48 kHz, a continuation of an audio item (right after it, on its track) and of a
  trimmed one (sent as the part it plays, ``audio_start``/``audio_end``), and a
  MIDI item's notes as the melody (refused in words by the text-only engine, followed by a
  ``debug-melody`` engine).
- The Python ReaScript variant runs with a mocked ``reaper_python`` module against the same
  real engine (one take; two variations as takes), and against a port where nothing listens.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import cli_executable, models_json_menu, start_engine, stop_engine

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "reaper_scripts"
sys.path.insert(0, str(SCRIPTS / "tests"))
from fake_reaper_python import FakeReaper  # noqa: E402  (stdlib-only fake reaper_python)

LUA = shutil.which("lua5.4")
PROMPT = 'dusty "lo-fi" drums, it\'s ☕ warm'

needs_lua = pytest.mark.skipif(
    LUA is None, reason="lua5.4 is not installed (apt-get install lua5.4)"
)


@needs_lua
def test_lua_suite_passes():
    run = subprocess.run(
        [LUA, str(SCRIPTS / "tests" / "run_tests.lua")], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].endswith(" passed, 0 failed")


def _drive(tmp_path: Path, port: int, *scenario: str) -> list[list[str]]:
    """Run e2e_driver.lua for `scenario`; its output lines, split at tabs."""
    run = subprocess.run(
        [
            LUA,
            str(SCRIPTS / "tests" / "e2e_driver.lua"),
            str(tmp_path),
            cli_executable(),
            str(port),
            *scenario,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return [line.split("\t") for line in run.stdout.splitlines()]


def _script_words(lines: list[list[str]]) -> list[str]:
    """The words of the script /bin/sh ran for the take.  ExecProcess got `/bin/sh FILE`: REAPER
    splits its line with LineParser rules and runs the argv with no shell (e2e_driver.lua)."""
    commands = [line for line in lines if line[0] == "COMMAND"]
    assert len(commands) == 1 and commands[0][2] == "-2", commands  # no wait, minimized
    argv = commands[0][1].split("\1")
    assert argv[0] == "/bin/sh" and len(argv) == 2 and argv[1].endswith(".sh"), argv
    return shlex.split(commands[0][3])


def _argv(lines: list[list[str]]) -> list[str]:
    """The generate argv the action ran (in the script /bin/sh ran), up to --quiet."""
    words = _script_words(lines)
    return words[: words.index("--quiet") + 1]


def _rows(lines: list[list[str]], kind: str) -> list[list[str]]:
    return [line[1:] for line in lines if line[0] == kind]


def _no_job_files_left(lines: list[list[str]]) -> None:
    """Nothing left in the job folder a second after the take (no .exit file recreated)."""
    assert _rows(lines, "ROUNDS")[0][1] == "0", "the defer loop ended"
    assert _rows(lines, "JOBFILES") == [["0", ""]]


def _seconds(wav: Path) -> str:
    info = sf.info(str(wav))
    return f"{info.frames / info.samplerate:.6f}"


@needs_lua
@pytest.mark.e2e
def test_lua_settings_model_menu_is_the_models_json_menu_and_feeds_generate(
    engine_process, tmp_path
):
    """Settings' model menu lists, item for item, the "menu" of `musicgen-bridge models
    --json` against the same engine (the Max device's labels too); choosing debug-stereo
    there puts it in the Generate dialog's Model field, and the take is made with it."""
    menu = models_json_menu(engine_process.port)
    lines = _drive(tmp_path, engine_process.port, "settings", "debug-stereo")
    queries = _rows(lines, "QUERY")
    assert [(q[1], q[3]) for q in queries] == [("-2", "models")], "in the background, no wait"
    header = "#Model for new takes (the Generate dialog's Model field):"
    expected = [header] + [("!" if not m["name"] else "") + m["label"] for m in menu]
    assert _rows(lines, "MENU") == [
        [x] for x in [*expected, "Type a model name...", "Engine address and options..."]
    ]
    assert _rows(lines, "MODEL") == [["debug-stereo"]]
    argv = _argv(lines)
    assert argv[argv.index("--model") + 1] == "debug-stereo"
    assert not _rows(lines, "MB")
    assert len(sorted((tmp_path / "MusicGen").glob("*.wav"))) == 1


@needs_lua
@pytest.mark.e2e
def test_lua_generate_end_to_end(engine_process, tmp_path):
    cli = cli_executable()
    lines = _drive(tmp_path, engine_process.port)
    words = _script_words(lines)
    res = tmp_path / "res" / "Data" / "musicgen-bridge" / "reaper-"
    argv = _argv(lines)
    result_file = argv[argv.index("--result-file") + 1]
    request_id = argv[argv.index("--id") + 1]
    assert result_file == f"{res}{request_id.removeprefix('reaper-')}.json"
    assert argv == [
        cli,
        "generate",
        PROMPT,
        "--bars",
        "2",
        "--bpm",
        "140",
        "--timesig",
        "6/8",
        "--seed",
        "7",
        "--out",
        str(tmp_path / "MusicGen"),
        "--id",
        request_id,
        "--result-file",
        result_file,
        "--quiet",
    ]
    assert words[words.index("--quiet") + 1 :][:2] == ["--port", str(engine_process.port)]

    assert not _rows(lines, "MB")
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert len(wavs) == 1 and wavs[0].stat().st_size > 1000
    assert _rows(lines, "CALL") == [
        ["Undo_BeginBlock2", "<object>"],
        ["InsertTrackInProject", "<object>", "1", "1"],
        ["AddMediaItemToTrack", "<object>"],
        ["AddTakeToMediaItem", "<object>"],
        ["SetMediaItemTake_Source", "<object>", "<object>"],
        ["SetActiveTake", "<object>"],
        ["SetMediaItemInfo_Value", "<object>", "D_POSITION", "6"],
        ["SetMediaItemInfo_Value", "<object>", "D_LENGTH", str(sf.info(str(wavs[0])).duration)],
        ["Undo_EndBlock2", "<object>", "MusicGen: insert generated audio", "-1"],
    ]
    assert _rows(lines, "ITEM") == [["2", PROMPT, str(wavs[0]), "6", PROMPT, _seconds(wavs[0])]]
    assert not Path(result_file).exists(), "the action removes the result file it consumed"
    _no_job_files_left(lines)


@needs_lua
@pytest.mark.e2e
def test_lua_loudness_and_a_conflicting_tempo_end_to_end(engine_process, tmp_path):
    """The Loudness setting's -14 LUFS is what the placed take measures, and the
    engine's tempo_conflict warning (the prompt says 100 bpm, the project plays 140)
    reaches the producer in REAPER's console."""
    import pyloudnorm

    lines = _drive(tmp_path, engine_process.port, "loudness")
    argv = _argv(lines)
    assert argv[argv.index("--loudness") + 1] == "-14"
    (wav,) = sorted((tmp_path / "MusicGen").glob("*.wav"))
    audio, rate = sf.read(str(wav))
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio) + 14) <= 0.5
    warnings = [row[0] for row in _rows(lines, "CONSOLE") if "warning" in row[0]]
    assert len(warnings) == 1 and "100" in warnings[0] and "140" in warnings[0], warnings
    assert len(_rows(lines, "ITEM")) == 1
    _no_job_files_left(lines)


@needs_lua
@pytest.mark.e2e
def test_lua_variations_end_to_end_become_takes_of_one_item(engine_process, tmp_path):
    lines = _drive(tmp_path, engine_process.port, "variations")
    argv = _argv(lines)
    options = argv[3 : argv.index("--out")]
    assert " ".join(options) == (
        "--bars 1 --bpm 120 --timesig 4/4 --seed 11 --variations 3 --sample-rate 48000"
    )
    assert not _rows(lines, "MB")
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert [w.name.rsplit("_s", 1)[1] for w in wavs] == ["11.wav", "12.wav", "13.wav"]
    for wav in wavs:
        info = sf.info(str(wav))
        assert (info.samplerate, info.frames) == (48000, 96000)  # 1 bar of 4/4 at 120 = 2 s
    # Nothing was selected: a new track at the end, at the edit cursor, one item, three takes.
    assert _rows(lines, "ITEM") == [["3", "pad", str(wavs[0]), "1.5", "pad (seed 11)", "2.000000"]]
    assert _rows(lines, "TAKE") == [
        ["3", "1", str(k + 1), f"pad (seed {11 + k})", str(wav), str(k == 0).lower()]
        for k, wav in enumerate(wavs)
    ]
    calls = _rows(lines, "CALL")
    assert [c[0] for c in calls] == [
        "Undo_BeginBlock2",
        "InsertTrackInProject",
        "AddMediaItemToTrack",
        *["AddTakeToMediaItem", "SetMediaItemTake_Source"] * 3,
        "SetActiveTake",
        "SetMediaItemInfo_Value",
        "SetMediaItemInfo_Value",
        "Undo_EndBlock2",
    ]
    assert calls[-1] == ["Undo_EndBlock2", "<object>", "MusicGen: insert generated audio", "-1"]
    _no_job_files_left(lines)


@needs_lua
@pytest.mark.e2e
def test_lua_continue_end_to_end_after_the_item_on_its_track(engine_process, tmp_path):
    source = tmp_path / "drums.wav"
    t = np.arange(64000) / 32000.0
    sf.write(str(source), (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), 32000)
    lines = _drive(tmp_path, engine_process.port, "continue", str(source), "2")
    argv = _argv(lines)
    assert argv[2:] == [
        "same groove",
        "--bars",
        "1",
        "--bpm",
        "120",
        "--timesig",
        "4/4",
        "--seed",
        "5",
        "--variations",
        "2",
        "--continue-from",
        str(source),
        "--prompt-seconds",
        "1.5",
        "--out",
        str(tmp_path / "MusicGen"),
        *argv[-5:],
    ]
    assert not _rows(lines, "MB")
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert len(wavs) == 2
    for wav in wavs:
        info = sf.info(str(wav))
        assert (info.samplerate, info.frames) == (32000, 64000)  # the continuation alone, 2 s
        meta = json.loads(wav.with_suffix(".json").read_text())
        assert meta["params"]["continue_from"] == str(source)
    # On the item's own track (1), at its end (4 s + 2 s); no new track.
    assert _rows(lines, "ITEM") == [
        ["1", "Track 1", str(wavs[0]), "6", "same groove (seed 5)", "2.000000"]
    ]
    assert [row[3:] for row in _rows(lines, "TAKE")] == [
        ["same groove (seed 5)", str(wavs[0]), "true"],
        ["same groove (seed 6)", str(wavs[1]), "false"],
    ]
    calls = _rows(lines, "CALL")
    assert "InsertTrackInProject" not in [c[0] for c in calls]
    assert ["SetMediaItemInfo_Value", "<object>", "D_POSITION", "6"] in calls
    assert calls[-1] == ["Undo_EndBlock2", "<object>", "MusicGen: insert continuation", "-1"]
    _no_job_files_left(lines)


@needs_lua
@pytest.mark.e2e
def test_lua_continue_end_to_end_a_trimmed_item_sends_the_part_it_plays(engine_process, tmp_path):
    # A 2 s file; the item plays 0.5-1.5 s of it: the continuation follows 1.5 s, not 2 s.
    source = tmp_path / "drums.wav"
    t = np.arange(64000) / 32000.0
    sf.write(str(source), (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), 32000)
    lines = _drive(tmp_path, engine_process.port, "continue", str(source), "2", "0.5", "1")
    argv = _argv(lines)
    flags = argv[argv.index("--continue-from") : argv.index("--out")]
    assert flags == [
        "--continue-from",
        str(source),
        "--prompt-seconds",
        "1.5",
        "--audio-start",
        "0.5",
        "--audio-end",
        "1.5",
    ]
    assert not _rows(lines, "MB")
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert len(wavs) == 2
    for wav in wavs:
        info = sf.info(str(wav))
        assert (info.samplerate, info.frames) == (32000, 64000)
        params = json.loads(wav.with_suffix(".json").read_text())["params"]
        assert params["continue_from"] == str(source)
        assert (params["audio_start"], params["audio_end"]) == (0.5, 1.5)
    # Right after the item's end (4 s + 1 s), on its track.
    assert _rows(lines, "ITEM") == [
        ["1", "Track 1", str(wavs[0]), "5", "same groove (seed 5)", "2.000000"]
    ]


@needs_lua
@pytest.mark.e2e
def test_lua_melody_refused_by_a_text_only_engine_in_words(engine_process, tmp_path):
    lines = _drive(tmp_path, engine_process.port, "melody")
    argv = _argv(lines)
    assert argv[argv.index("--melody-notes") + 1] == "60 0 1 100 62 1 1 90 65 4 1 100 67 5 1 100"
    assert argv[argv.index("--melody-length") + 1] == "6"
    messages = _rows(lines, "MB")
    assert len(messages) == 1, lines  # all the driver saw, should this ever fail again
    (message,) = messages
    assert message[0].startswith("MusicGen could not make the take.")
    assert "has no melody conditioning" in message[0]
    assert "type facebook/musicgen-melody in the Model field" in message[0]
    assert not _rows(lines, "ITEM")


@pytest.fixture(scope="module")
def melody_engine(cache_dir, tmp_path_factory):
    engine = start_engine(cache_dir, tmp_path_factory.mktemp("reaper-melody"), model="debug-melody")
    yield engine
    stop_engine(engine)


@needs_lua
@pytest.mark.e2e
def test_lua_midi_item_melody_end_to_end(melody_engine, tmp_path):
    lines = _drive(tmp_path, melody_engine.port, "melody")
    assert not _rows(lines, "MB")
    (wav,) = sorted((tmp_path / "MusicGen").glob("*.wav"))
    meta = json.loads(wav.with_suffix(".json").read_text())
    assert meta["model"] == "debug-melody"
    assert meta["conditioning_text"] == "synth lead, 140 bpm, in A minor"
    assert [(n["pitch"], n["start"], n["length"]) for n in meta["params"]["melody_notes"]] == [
        (60, 0.0, 1.0),
        (62, 1.0, 1.0),
        (65, 4.0, 1.0),
        (67, 5.0, 1.0),
    ]
    assert meta["params"]["melody_length"] == 6.0
    assert _rows(lines, "ITEM") == [["2", "synth lead", str(wav), "6", "synth lead", _seconds(wav)]]


# -- the Python variant ----------------------------------------------------------------------


@pytest.fixture
def variant(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    sys.modules.pop("musicgen_reaper", None)
    return importlib.import_module("musicgen_reaper")


def _run(variant, api, timeout_s=120.0):
    import time

    job = variant.Generator(api)
    assert job.prepare()
    job.start()
    deadline = time.monotonic() + timeout_s
    while job.poll():
        assert time.monotonic() < deadline, "the take did not finish"
        time.sleep(0.05)
    job.finish()
    return job


@pytest.mark.e2e
def test_python_variant_generates_and_inserts(engine_process, tmp_path, variant):
    api = FakeReaper(
        str(tmp_path / "song.rpp"), f"{PROMPT}\n2\n7\n", {"port": str(engine_process.port)}
    )
    job = _run(variant, api)
    assert job.state == "done", job.message
    assert job.fields == {
        "prompt": PROMPT,
        "bars": 2.0,
        "bpm": 140.0,
        "timesig": "6/8",
        "seed": 7,
        "out_dir": str(tmp_path / "MusicGen"),
    }
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert [Path(p) for p in job.paths] == wavs and len(wavs) == 1
    proj = api.projects[0]
    assert api.named("Undo_BeginBlock2", "InsertTrackInProject", "Undo_EndBlock2") == [
        ("Undo_BeginBlock2", proj),
        ("InsertTrackInProject", proj, 1, 1),
        ("Undo_EndBlock2", proj, "MusicGen: insert generated audio", -1),
    ]
    assert not api.named("InsertMedia", "SetEditCurPos"), "built directly, the cursor untouched"
    assert api.tracks[1]["name"] == PROMPT
    assert api.items(1) == [(6.0, [(str(wavs[0]), PROMPT)], 0)]
    assert api.ext["last_prompt"] == PROMPT and "current_job" not in api.ext
    assert not api.named("MB")


@pytest.mark.e2e
def test_python_variant_engine_error_in_words(engine_process, tmp_path, variant):
    # 100 bars of 6/8 at 140 bpm is 129 s: over the engine's 120 s limit.
    api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n100\n\n", {"port": str(engine_process.port)})
    job = _run(variant, api)
    assert job.state == "failed"
    (mb,) = api.named("MB")
    assert mb[1].startswith("MusicGen could not make the take.") and "120 s" in mb[1]
    assert not api.named("AddMediaItemToTrack", "Undo_BeginBlock2")


def test_python_variant_unreachable_engine_gives_advice(tmp_path, variant, monkeypatch):
    from tests.conftest import free_udp_port

    monkeypatch.setattr(variant, "FIRST_REPLY_S", 0.3)
    api = FakeReaper("", "pad\n1\n\n", {"port": str(free_udp_port())}, selected=False)
    job = _run(variant, api, timeout_s=10)
    assert job.state == "failed"
    assert "out_dir" not in job.fields, "unsaved project: the engine's default folder"
    (mb,) = api.named("MB")
    assert "No answer from the engine" in mb[1] and "musicgen-bridge serve" in mb[1]


def test_python_variant_ends_a_take_refused_with_an_empty_id(tmp_path, variant):
    """docs/protocol.md: a generate whose id the engine cannot use (invalid, or already
    in use) is answered /musicgen/error "" CODE MESSAGE; the action ends with its words
    at once instead of waiting for an answer that names its id."""
    import socket
    import threading

    from musicgen_osc import decode, encode_message

    engine = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    engine.bind(("127.0.0.1", 0))
    engine.settimeout(10)

    def refuse() -> None:
        ((_, args),) = decode(engine.recv(65535))
        reply_port = args[args.index("reply_port") + 1]
        refusal = ["", "duplicate_id", "A job with id 'x' is already queued or running."]
        engine.sendto(encode_message("/musicgen/error", refusal), ("127.0.0.1", reply_port))

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    api = FakeReaper("", "pad\n1\n\n", {"port": str(engine.getsockname()[1])}, selected=False)
    try:
        job = _run(variant, api, timeout_s=5)
    finally:
        thread.join(5)
        engine.close()
    assert job.state == "failed" and "already queued or running" in job.message
    (mb,) = api.named("MB")
    assert "already queued or running" in mb[1]


# Tempo 140, 6/8; the item starts at 6 s, is 2 bars (6 beats) long, and its take starts half a
# beat into the MIDI source (the Lua suite's midi_item, for the same notes string).
MIDI_ITEM = {
    "midi": True,
    "length": 6 * 60 / 140,
    "offset": 0.5 * 60 / 140,
    "source_len": 8,
    "notes": [
        (0, 480, 60, 100),  # before the item start, dropped
        (240, 1440, 62, 80),  # starts before, cut to 0..1
        (1440, 1920, 64, 90),
        (2400, 2880, 65, 70, True),  # muted, dropped
        (5760, 7680, 67, 110),  # cut at the item end
        (6720, 7200, 69, 100),  # after the item end, dropped
    ],
}


def test_python_variant_midi_melody_key_variations_loop_and_project_rate(tmp_path, variant):
    api = FakeReaper(
        str(tmp_path / "song.rpp"),
        "lead\n2\n7\nfacebook/musicgen-melody\nA minor\n3",
        {"loop": "y"},
        item=MIDI_ITEM,
        srate=48000,
        device_srate=44100,
    )
    job = variant.Generator(api)
    assert job.prepare()
    assert job.fields == {
        "prompt": "lead",
        "bars": 2.0,
        "bpm": 140.0,
        "timesig": "6/8",
        "seed": 7,
        "model": "facebook/musicgen-melody",
        "key": "A minor",
        "variations": 3,
        "melody_notes": "62 0 1 80 64 1 0.5 90 67 5.5 0.5 110",
        "melody_length": 6.0,
        "loop": 1,
        "sample_rate": 48000,
        "out_dir": str(tmp_path / "MusicGen"),
    }
    assert api.ext["last_variations"] == "3" and api.ext["last_key"] == "A minor"


def test_python_variant_sample_rate_from_the_device_or_none(tmp_path, variant):
    job = variant.Generator(FakeReaper("", "pad\n1", {}, selected=False, device_srate=96000))
    assert job.prepare() and job.fields["sample_rate"] == 96000
    job = variant.Generator(FakeReaper("", "pad\n1", {}, selected=False))
    assert job.prepare() and "sample_rate" not in job.fields
    api = FakeReaper("", "pad\n1", {}, selected=False, srate=192000)
    job = variant.Generator(api)
    assert job.prepare() and "sample_rate" not in job.fields
    (console,) = api.named("ShowConsoleMsg")
    assert "the project runs at 192000 Hz, a rate the engine cannot write" in console[1]


def test_python_variant_melody_errors_in_words(tmp_path, variant):
    for notes in ([], [(0, 960, 60, 100, True)]):
        item = dict(MIDI_ITEM, notes=notes)
        job = variant.Generator(FakeReaper("", "x\n1", {}, item=item))
        with pytest.raises(variant.Problem, match="has no notes to use as a melody"):
            job.prepare()
    off = FakeReaper("", "x\n1", {"melody_midi": "n"}, item=MIDI_ITEM)
    job = variant.Generator(off)
    assert job.prepare() and "melody_notes" not in job.fields
    early = {"file": "/loops/hum.wav", "offset": -1.0}
    job = variant.Generator(FakeReaper("", "x\n1", {"melody_audio": "y"}, item=early))
    with pytest.raises(variant.Problem, match=r"starts 1\.00 s before its audio does"):
        job.prepare()
    looped = {"file": "/loops/hum.wav", "offset": 2.0, "length": 30.0, "loop": True}
    job = variant.Generator(FakeReaper("", "x\n1", {"melody_audio": "y"}, item=looped))
    with pytest.raises(variant.Problem, match=r"loops its file starting 2\.00 s into it"):
        job.prepare()
    pitched = {"file": "/a.wav", "pitch": 2.0}
    job = variant.Generator(FakeReaper("", "x\n1", {"melody_audio": "y"}, item=pitched))
    with pytest.raises(variant.Problem, match="pitch-shifted by 2 semitones"):
        job.prepare()
    job = variant.Generator(FakeReaper("", "x\n1", {"melody_audio": "y"}, item={"file": "/a.wav"}))
    assert job.prepare() and job.fields["melody_audio"] == "/a.wav"
    assert "audio_start" not in job.fields and job.fields["audio_end"] == 2.0, "2 s of a 10 s file"
    job = variant.Generator(FakeReaper("", "x\n1", {}, item={"file": "/a.mp3", "offset": 3}))
    assert job.prepare() and "melody_audio" not in job.fields, "melody from audio is off by default"
    job.id = "r1"
    job._reply("/musicgen/error", ["unsupported", "'facebook/musicgen-small' has no melody."])
    assert job.state == "failed"
    assert "has no melody." in job.message and "facebook/musicgen-melody" in job.message


def test_python_variant_melody_audio_sends_the_part_the_item_plays(variant):
    def fields(item):
        job = variant.Generator(FakeReaper("", "x\n1", {"melody_audio": "y"}, item=item))
        assert job.prepare()
        return {k: v for k, v in job.fields.items() if k.startswith(("melody", "audio"))}

    hum = {"file": "/loops/hum.wav", "source_len": 8.0}
    assert fields(dict(hum, length=8.0)) == {"melody_audio": "/loops/hum.wav"}
    assert fields(dict(hum, offset=1.5)) == {
        "melody_audio": "/loops/hum.wav",
        "audio_start": 1.5,
        "audio_end": 3.5,
    }
    assert fields(dict(hum, offset=1 / 3, length=1.0)) == {
        "melody_audio": "/loops/hum.wav",
        "audio_start": 0.3333,
        "audio_end": 1.3333,
    }
    assert fields(dict(hum, offset=0.003, length=7.994)) == {"melody_audio": "/loops/hum.wav"}
    assert fields(dict(hum, offset=7.0)) == {"melody_audio": "/loops/hum.wav", "audio_start": 7.0}
    assert fields(dict(hum, length=20.0, loop=True)) == {"melody_audio": "/loops/hum.wav"}


@pytest.mark.e2e
def test_python_variant_variations_become_takes_of_one_item(engine_process, tmp_path, variant):
    api = FakeReaper(
        str(tmp_path / "song.rpp"),
        "pad\n1\n20\n\n\n2",
        {"port": str(engine_process.port)},
        selected=False,
        tempo=120.0,
        srate=48000,
    )
    job = _run(variant, api)
    assert job.state == "done", job.message
    assert job.fields["variations"] == 2 and job.fields["sample_rate"] == 48000
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert [Path(p) for p in job.paths] == wavs and len(wavs) == 2
    for wav in wavs:
        assert sf.info(str(wav)).samplerate == 48000
    # Nothing selected: a new track at the end, at the edit cursor; one item, two takes.
    assert api.tracks[2]["name"] == "pad"
    assert api.items(2) == [
        (1.5, [(str(wavs[0]), "pad (seed 20)"), (str(wavs[1]), "pad (seed 21)")], 0)
    ]
    names = [c[0] for c in api.calls]
    first, last = names.index("Undo_BeginBlock2"), names.index("Undo_EndBlock2")
    assert names.count("Undo_BeginBlock2") == 1
    assert first < names.index("AddTakeToMediaItem") < names.index("SetActiveTake") < last
    assert not api.named("MB")


def test_python_variant_refuses_bad_input_in_words(variant):
    with pytest.raises(variant.Problem, match=r"between 0\.25 and 256"):
        variant.validate({"prompt": "x", "bars": "lots"})
    with pytest.raises(variant.Problem, match="Type a prompt"):
        variant.validate({"prompt": "  ", "bars": "4"})


@needs_lua
def test_lua_windows_quoting_matches_list2cmdline():
    args = [
        "plain",
        "two words",
        'say "hi"',
        "C:\\Program Files\\x\\",
        'a\\\\"b',
        "",
        "café ☕",
        "tab\there",
    ]
    script = (
        f'package.path = "{SCRIPTS}/lib/?.lua;" .. package.path '
        'local s = require("musicgen.shell") '
        "for _, a in ipairs(arg) do io.write(s.quote_windows(a), '\\0') end"
    )
    out = subprocess.run([LUA, "-", *args], input=script.encode(), capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    quoted = out.stdout.decode("utf-8").split("\0")[:-1]
    assert quoted == [subprocess.list2cmdline([a]) for a in args]


# -- the Python variant as REAPER runs it, and what changes while a take renders ---------------


@pytest.mark.e2e
def test_python_variant_runs_with_the_standard_library_alone_and_without___file__(
    engine_process, tmp_path
):
    python = shutil.which("python3") or sys.executable
    run = subprocess.run(
        [
            python,
            "-I",
            "-S",
            str(SCRIPTS / "tests" / "py_isolated_driver.py"),
            str(tmp_path),
            str(engine_process.port),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["osc_importable"] is False, "the run must not see python-osc"
    assert out["messages"] == [] and out["pending"] == 0
    assert "musicgen_osc" in out["modules"]
    (wav,) = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert out["tracks"][2] == ["pad", [[1.5, [[str(wav), "pad"]], 0]]]


def test_python_variant_captions_have_no_commas_and_defaults_are_safe(variant):
    captions = [
        c for c in variant.CAPTIONS.split(",") if not c.startswith(("separator=", "extrawidth="))
    ]
    assert len(captions) == len(variant.FIELDS), captions
    assert variant.safe_default("children's choir") == "children\u2019s choir"
    assert variant.safe_default('a 12" remix') == "a 12\u201d remix"
    assert variant.safe_default("strings (warm") == "strings (warm)"
    assert variant.safe_default("say \"hi\" (a) 'b'") == "say \"hi\" (a) 'b'"
    api = FakeReaper("", "x\n1", {"last_prompt": "children's choir"}, selected=False)
    assert variant.Generator(api).prepare()
    (call,) = api.named("GetUserInputs")
    assert call[4].split("\n")[0] == "children\u2019s choir"


def test_python_variant_model_field_is_the_one_picked_in_lua_settings(variant):
    """The Python variant has no Settings: the model picked in the Lua Settings menu
    (ExtState last_model, see reaper_scripts/lib/musicgen/actions.lua) prefills its
    Model field too."""
    api = FakeReaper("", "x\n1", {"last_model": "debug-stereo"}, selected=False)
    assert variant.Generator(api).prepare()
    (call,) = api.named("GetUserInputs")
    assert call[4].split("\n")[variant.FIELDS.index("model")] == "debug-stereo"


def _take_arrives(variant, api, wav, change):
    """prepare() now; `change(api)` while it renders; then the take (the file `wav`) arrives."""
    job = variant.Generator(api)
    assert job.prepare()
    change(api)
    job.state, job.paths = "done", [str(wav)]
    job.finish()
    return job


def _wav(tmp_path):
    wav = tmp_path / "take.wav"
    sf.write(str(wav), np.zeros(32000, dtype=np.float32), 32000)
    return wav


def test_python_variant_take_goes_into_its_own_project_after_a_tab_switch(tmp_path, variant):
    for old_reaper in (False, True):
        api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n1", {})
        api.insert_in_project = not old_reaper
        other = type(api.projects[0])(str(tmp_path / "other.rpp"), ["x"])
        api.projects.append(other)

        def switch(api, other=other):
            api.current = other

        _take_arrives(variant, api, _wav(tmp_path), switch)
        assert [t["name"] for t in other.tracks] == ["x"], "the other tab is left alone"
        assert [t["name"] for t in api.tracks] == ["drums", "pad", "bass"]
        assert api.tracks[1]["items"][0].position == 6.0
        assert api.tracks[1]["items"][0].length == 1.0
        assert api.current is other, "the tab shown stays"
        (mb,) = api.named("MB")
        assert 'went into "song.rpp", the project it was made for' in mb[1]


def test_python_variant_track_deleted_or_project_closed_while_rendering(tmp_path, variant):
    api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n1", {})
    _take_arrives(variant, api, _wav(tmp_path), lambda api: api.tracks.pop(0))
    assert [t["name"] for t in api.tracks] == ["bass", "pad"], "a new track at the end"
    (mb,) = api.named("MB")
    assert "was deleted while it rendered, so the take is on a new track at the end" in mb[1]
    api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n1", {})
    _take_arrives(variant, api, _wav(tmp_path), lambda api: api.projects.pop(0))
    (mb,) = api.named("MB")
    assert 'made for "song.rpp", which has been closed, so it was not inserted' in mb[1]
    assert not api.named("AddMediaItemToTrack")


def test_python_variant_take_follows_its_moved_item(tmp_path, variant):
    """Issue 26 item 6: the take lands under the item where it is when the take arrives."""
    api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n1", {})

    def move(api):
        api.item_position = 9.5

    _take_arrives(variant, api, _wav(tmp_path), move)
    assert api.items(1)[0][0] == 9.5


def test_python_variant_asks_before_a_take_across_a_tempo_change(tmp_path, variant):
    """Issue 26 item 7: 2 bars of 6/8 from 6 s with the tempo 140 -> 70 at 7 s: asked first;
    Cancel makes nothing, OK makes the take at the start's tempo."""
    for answer, made in ((2, False), (1, True)):
        api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n2", {})
        api.tempo_map = [(0.0, 140.0), (7.0, 70.0)]
        api.mb_answers = [answer]
        job = variant.Generator(api)
        assert job.prepare() is made
        ((_, words, _, kind),) = api.named("MB")
        assert kind == 1 and "The tempo changes inside these 2 bars" in words
        if made:
            assert job.fields["bpm"] == 140.0
    api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n2", {})
    assert variant.Generator(api).prepare() and not api.named("MB"), "a steady tempo: no question"


def _run_script(api):
    """Run the Python action's file as REAPER does; its globals (for deferred and atexit code)."""
    source = (SCRIPTS / "MusicGen_Generate_from_selection.py").read_text(encoding="utf-8")
    saved = sys.modules.get("reaper_python")
    sys.modules["reaper_python"] = api
    api.script_path = str(SCRIPTS / "MusicGen_Generate_from_selection.py")
    scope = {"__name__": "__main__"}
    try:
        exec(compile(source, "MusicGen_Generate_from_selection.py", "exec"), scope)
    finally:
        if saved is None:
            sys.modules.pop("reaper_python", None)
        else:
            sys.modules["reaper_python"] = saved
    return scope


def test_python_variant_ended_mid_take_says_where_the_take_goes(tmp_path):
    """Issue 26 item 4, Python variant: "Terminate instances" (or quitting REAPER) ends the
    script while its take renders.  Its replies come to that script's socket, so no other
    instance can take it over; its atexit callback says where the engine puts it."""
    from tests.conftest import free_udp_port

    api = FakeReaper(str(tmp_path / "song.rpp"), "pad\n1", {"port": str(free_udp_port())})
    scope = _run_script(api)
    assert api.atexit == ["musicgen_atexit()"]
    exec(api.atexit[0], scope)  # REAPER terminates the instance
    assert api.console and "the script was ended while the take" in api.console[-1]
    assert str(tmp_path / "MusicGen") in api.console[-1]
    scope["_job"]._end("failed", "")  # tidy: close the socket


def test_python_variant_leaves_no_automatic_undo_point(tmp_path):
    """Issue 26 item 5: the action run as REAPER runs it, its dialog cancelled: it defers a
    no-op, so REAPER adds no "ReaScript: Run" undo point."""
    api = FakeReaper(str(tmp_path / "song.rpp"), None, {})
    _run_script(api)
    assert api.named("GetUserInputs"), "the dialog was shown"
    assert not api.auto_undo_point(), "REAPER would add a ReaScript: Run undo point"


class _Engine:
    """A fake engine on loopback: queues the take, answers pings with `runs` (one per pong,
    the last repeated; None: an old engine's pong without a run), then `done` after `done_after`
    pongs (never if None)."""

    def __init__(self, runs, done_after=None, wav=""):
        import socket
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.runs, self.done_after, self.pongs, self.wav = list(runs), done_after, 0, wav
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def _serve(self):
        from musicgen_osc import decode, encode_message

        while not self.stop:
            try:
                data, _ = self.sock.recvfrom(65535)
            except OSError:
                continue
            for address, args in decode(data):
                fields = dict(zip(args[::2], args[1::2], strict=False))
                to = ("127.0.0.1", fields["reply_port"])
                if address == "/musicgen/generate":
                    self.take = fields["id"]
                    self.sock.sendto(encode_message("/musicgen/queued", [fields["id"], 0]), to)
                elif address == "/musicgen/ping":
                    run = self.runs[min(self.pongs, len(self.runs) - 1)]
                    pong = [fields["id"], "0.9", "busy", "debug", ""] + ([run] if run else [])
                    self.sock.sendto(encode_message("/musicgen/pong", pong), to)
                    self.pongs += 1
                    if self.done_after is not None and self.pongs >= self.done_after:
                        done = [self.take, self.wav]
                        self.sock.sendto(encode_message("/musicgen/done", done), to)

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def test_python_variant_notices_an_engine_restart_mid_take(variant, monkeypatch):
    """Issue 26 item 3 (contract A): the pong's `run` changes while the take is followed ->
    the take fails in words at once, instead of waiting for ever."""
    monkeypatch.setattr(variant, "PING_EVERY_S", 0.05)
    engine = _Engine(["a1b2c3d4e5f6", "a1b2c3d4e5f6", "0f0f0f0f0f0f"])
    api = FakeReaper("", "pad\n1\n\n", {"port": str(engine.port)}, selected=False)
    try:
        job = _run(variant, api, timeout_s=5)
    finally:
        engine.close()
    assert job.state == "failed"
    assert job.message.startswith("The engine restarted; the take was lost.")
    assert "current_job" not in api.ext


def test_python_variant_old_engine_without_a_run_keeps_waiting(tmp_path, variant, monkeypatch):
    """An engine that sends no `run` (before contract A): today's behaviour, the take lands."""
    monkeypatch.setattr(variant, "PING_EVERY_S", 0.05)
    wav = str(_wav(tmp_path))
    engine = _Engine([None], done_after=4, wav=wav)
    api = FakeReaper("", "pad\n1\n\n", {"port": str(engine.port)}, selected=False)
    try:
        job = _run(variant, api, timeout_s=5)
    finally:
        engine.close()
    assert job.state == "done" and job.paths == [wav]


def test_python_variant_loudness_setting(variant):
    job = variant.Generator(FakeReaper("", "pad\n1", {"loudness": "-23"}, selected=False))
    assert job.prepare() and job.fields["loudness"] == -23.0
    job = variant.Generator(FakeReaper("", "pad\n1", {"loudness": "off"}, selected=False))
    assert job.prepare() and "loudness" not in job.fields


def test_python_variant_osc_matches_the_spec_byte_for_byte():
    sys.path.insert(0, str(SCRIPTS))
    import musicgen_osc

    data = musicgen_osc.encode_message("/musicgen/generate", ["id", "a1", "bars", 8, "bpm", 92.5])
    assert data == (
        b"/musicgen/generate\0\0,sssisf\0id\0\0a1\0\0bars\0\0\0\0\0\0\0\x08bpm\0B\xb9\0\0"
    )
    assert musicgen_osc.decode(data) == [
        ("/musicgen/generate", ["id", "a1", "bars", 8, "bpm", 92.5])
    ]
    bundle = b"#bundle\0" + b"\0" * 8 + len(data).to_bytes(4, "big") + data
    assert musicgen_osc.decode(bundle) == musicgen_osc.decode(data)
    with pytest.raises(musicgen_osc.ParseError):
        musicgen_osc.decode(b"/x\0\0,i\0\0\0")


# -- ReaPack ---------------------------------------------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _make_index(tmp_path, *args):
    out = tmp_path / "index.xml"
    run = subprocess.run(
        [sys.executable, str(SCRIPTS / "make_index.py"), *args, "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return run, out


def test_make_index_writes_pinned_sources_and_an_rtf_description(tmp_path):
    run, out = _make_index(
        tmp_path, "--repo", "https://github.com/someone/musicgen-bridge", "--ref", COMMIT
    )
    assert run.returncode == 0, run.stderr
    root = ET.parse(out).getroot()
    (pkg,) = root.iter("reapack")
    (version,) = pkg.iter("version")
    main = (SCRIPTS / "MusicGen_Generate_from_selection.lua").read_text()
    assert f"-- @version {version.get('name')}\n" in main
    sources = {s.get("file"): (s.get("main"), s.text) for s in version.iter("source")}
    on_disk = [p.name for p in SCRIPTS.glob("MusicGen_*.lua")]
    on_disk += [str(p.relative_to(SCRIPTS)) for p in (SCRIPTS / "lib" / "musicgen").glob("*.lua")]
    assert sorted(sources) == sorted(on_disk)
    base = f"https://github.com/someone/musicgen-bridge/raw/{COMMIT}/reaper_scripts/"
    for file, (main, url) in sources.items():
        assert url == base + file.replace(" ", "%20"), url
        assert (main == "main") == file.startswith("MusicGen_")
    (desc,) = pkg.iter("description")
    rtf = desc.text
    assert rtf.startswith("{\\rtf1\\ansi") and rtf.rstrip().endswith("}")
    assert rtf.count("{") - rtf.count("\\{") == rtf.count("}") - rtf.count("\\}"), "balanced groups"
    assert all(ord(c) < 128 for c in rtf), "non-ASCII written as \\uN?"
    assert "MusicGen: Generate from selection" in rtf


def test_make_index_refuses_a_moving_branch_and_other_hosts(tmp_path):
    run, out = _make_index(tmp_path, "--repo", "https://github.com/a/b", "--ref", "main")
    assert run.returncode == 2 and "is a branch, which moves" in run.stderr and not out.exists()
    run, out = _make_index(tmp_path, "--repo", "https://example.com/a/b", "--ref", COMMIT)
    assert run.returncode == 2 and "GitHub repository URL" in run.stderr
    run, out = _make_index(
        tmp_path, "--repo", "https://github.com/a/b", "--ref", "v99.0.0-not-a-tag"
    )
    assert run.returncode == 2 and "is not a tag of this repository" in run.stderr
