"""REAPER client tests: the Lua suite, the Lua action end to end, the Python variant.

- The Lua unit tests (reaper_scripts/tests/run_tests.lua) run under lua5.4 with a mock
  ``reaper`` table; here they are run once more so pytest reports them too.
- End to end: the Lua Generate action runs under the mock, but the command line it builds is
  run for real through /bin/sh against a real engine (debug checkpoint); the WAV it writes is
  what the action then inserts.
- The Python ReaScript variant runs with a mocked ``reaper_python`` module against the same
  real engine, and against a port where nothing listens.
"""

from __future__ import annotations

import importlib
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tests.conftest import cli_executable

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "reaper_scripts"
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


@needs_lua
@pytest.mark.e2e
def test_lua_generate_end_to_end(engine_process, tmp_path):
    cli = cli_executable()
    run = subprocess.run(
        [
            LUA,
            str(SCRIPTS / "tests" / "e2e_driver.lua"),
            str(tmp_path),
            cli,
            str(engine_process.port),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    commands = [line for line in lines if line[0] == "COMMAND"]
    assert len(commands) == 1 and commands[0][2] == "-1"
    shell, dash_c, inner = shlex.split(commands[0][1])
    assert (shell, dash_c) == ("/bin/sh", "-c")
    words = shlex.split(inner)
    res = tmp_path / "res" / "Data" / "musicgen-bridge" / "reaper-"
    argv = words[: words.index("--quiet") + 1]
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

    messages = [line for line in lines if line[0] == "MB"]
    assert not messages, messages
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert len(wavs) == 1 and wavs[0].stat().st_size > 1000
    calls = [line[1:] for line in lines if line[0] == "CALL"]
    assert calls == [
        ["Undo_BeginBlock"],
        ["InsertTrackAtIndex", "1", "true"],
        ["SetEditCurPos", "6", "false", "false"],
        ["InsertMedia", str(wavs[0]), str(512 | (1 << 16))],
        ["SetEditCurPos", "0", "false", "false"],
        ["Undo_EndBlock", "MusicGen: insert generated audio", "-1"],
    ]
    items = [line[1:] for line in lines if line[0] == "ITEM"]
    assert items == [["2", PROMPT, str(wavs[0]), "6", PROMPT]]
    assert not Path(result_file).exists(), "the action removes the result file it consumed"


# -- the Python variant ----------------------------------------------------------------------


class FakeReaper(types.ModuleType):
    """reaper_python: RPR_* functions recording calls; tuples returned as REAPER does."""

    def __init__(self, project_file: str, inputs: str, ext: dict[str, str], selected: bool = True):
        super().__init__("reaper_python")
        self.project_file, self.inputs, self.ext, self.selected = (
            project_file,
            inputs,
            dict(ext),
            selected,
        )
        self.calls: list[tuple] = []
        self.tracks: list[dict] = [{"name": "drums", "items": []}, {"name": "bass", "items": []}]
        self.cursor = 1.5

    def __getattr__(self, name):
        impl = getattr(type(self), "_" + name[4:], None)
        if not name.startswith("RPR_") or impl is None:
            raise AttributeError(name)

        def call(*args):
            self.calls.append((name[4:], *args))
            return impl(self, *args)

        return call

    def _CountSelectedMediaItems(self, proj):
        return 1 if self.selected else 0

    def _GetSelectedMediaItem(self, proj, i):
        return "item0"

    def _GetMediaItemInfo_Value(self, item, key):
        return {"D_POSITION": 6.0}[key]

    def _GetMediaItem_Track(self, item):
        return "track0"

    def _GetMediaTrackInfo_Value(self, track, key):
        return 1.0

    def _GetCursorPosition(self):
        return self.cursor

    def _CountTracks(self, proj):
        return len(self.tracks)

    def _TimeMap_GetTimeSigAtTime(self, proj, t, a, b, c):
        return (proj, t, 6, 8, 140.0)

    def _GetExtState(self, section, key):
        return self.ext.get(key, "")

    def _SetExtState(self, section, key, value, persist):
        self.ext[key] = value

    def _DeleteExtState(self, section, key, persist):
        self.ext.pop(key, None)

    def _GetUserInputs(self, title, n, captions, values, size):
        return (1, title, n, captions, self.inputs, size)

    def _EnumProjects(self, idx, buf, size):
        return ("proj", idx, self.project_file, size)

    def _MB(self, text, title, kind):
        return 1

    def _ShowConsoleMsg(self, text):
        return None

    def _PreventUIRefresh(self, n):
        return None

    def _Undo_BeginBlock(self):
        return None

    def _Undo_EndBlock(self, label, flags):
        return None

    def _UpdateArrange(self):
        return None

    def _SetEditCurPos(self, t, a, b):
        self.cursor = t

    def _InsertTrackAtIndex(self, i, defaults):
        self.tracks.insert(i, {"name": "", "items": []})

    def _GetTrack(self, proj, i):
        return i

    def _GetSetMediaTrackInfo_String(self, track, key, value, setit):
        self.tracks[track]["name"] = value

    def _InsertMedia(self, path, mode):
        self.tracks[mode >> 16]["items"].append((self.cursor, path))

    def _CountTrackMediaItems(self, track):
        return len(self.tracks[track]["items"])

    def _GetTrackMediaItem(self, track, i):
        return (track, i)

    def _GetActiveTake(self, item):
        return item

    def _GetSetMediaItemTakeInfo_String(self, take, key, value, setit):
        return None

    def named(self, *names):
        return [c for c in self.calls if c[0] in names]


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
        "model": None,
        "out_dir": str(tmp_path / "MusicGen"),
    }
    wavs = sorted((tmp_path / "MusicGen").glob("*.wav"))
    assert [Path(p) for p in job.paths] == wavs and len(wavs) == 1
    assert api.named("Undo_BeginBlock", "InsertTrackAtIndex", "InsertMedia", "Undo_EndBlock") == [
        ("Undo_BeginBlock",),
        ("InsertTrackAtIndex", 1, True),
        ("InsertMedia", str(wavs[0]), 512 | (1 << 16)),
        ("Undo_EndBlock", "MusicGen: insert generated audio", -1),
    ]
    assert api.tracks[1] == {"name": PROMPT, "items": [(6.0, str(wavs[0]))]}
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
    assert not api.named("InsertMedia", "Undo_BeginBlock")


def test_python_variant_unreachable_engine_gives_advice(tmp_path, variant, monkeypatch):
    from tests.conftest import free_udp_port

    monkeypatch.setattr(variant, "FIRST_REPLY_S", 0.3)
    api = FakeReaper("", "pad\n1\n\n", {"port": str(free_udp_port())}, selected=False)
    job = _run(variant, api, timeout_s=10)
    assert job.state == "failed"
    assert "out_dir" not in job.fields, "unsaved project: the engine's default folder"
    (mb,) = api.named("MB")
    assert "No answer from the engine" in mb[1] and "musicgen-bridge serve" in mb[1]


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
