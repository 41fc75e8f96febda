"""What a newcomer hit in their first hour (issue 27): a pipe closed early, a blank
model name, help texts that did not say what the flags do, advice that did not work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge import cli, cli_common
from bridge.jobs import JobQueue
from tests.fakes import FakeEngine, Recorder

ROOT = Path(__file__).resolve().parents[1]


def _sidecars(folder: Path, count: int) -> None:
    """``count`` minimal take sidecars, as `takes` lists them."""
    for i in range(count):
        stem = f"20261121-1015{i % 60:02d}_take-{i}_s{i}"
        data = {
            "format": "musicgen-bridge take",
            "format_version": 2,
            "prompt": f"take {i}",
            "model": "debug",
            "seed": i,
            "params": {"prompt": f"take {i}", "seconds": 1.0},
            "duration_seconds": 1.0,
            "sample_rate": 32000,
            "created": "2026-11-21T10:15:00+01:00",
            "file": f"{stem}.wav",
        }
        (folder / f"{stem}.json").write_text(json.dumps(data))


@pytest.mark.parametrize("count", [2, 400])  # flushed at the end, or while printing
def test_a_pipe_closed_early_ends_the_cli_quietly(tmp_path, count):
    """`musicgen-bridge takes DIR | head -1`: no BrokenPipeError traceback."""
    _sidecars(tmp_path, count)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "takes", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as head -1 does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_ping_and_status_name_the_model_while_it_loads():
    engine = FakeEngine()
    queue = JobQueue(engine, Recorder(), startup_model="facebook/musicgen-small")
    now = queue.snapshot()  # not started: the startup model is loading
    assert (now.state, now.model) == ("loading", "facebook/musicgen-small")


def test_ping_and_status_name_the_model_that_is_missing():
    engine = FakeEngine()
    engine.missing = {"facebook/musicgen-small"}
    queue = JobQueue(engine, Recorder(), startup_model="facebook/musicgen-small")
    queue.start()
    try:
        for _ in range(200):
            if queue.snapshot().state != "loading":
                break
            time.sleep(0.01)
        now = queue.snapshot()
        assert (now.state, now.model) == ("no_model", "facebook/musicgen-small")
        assert "not on this machine" in now.reason
    finally:
        queue.shutdown(5)


def _help(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_generate_help_says_what_the_flags_take_and_their_defaults(capsys):
    text = _help("generate", capsys)
    for flag in ("--loop", "--include-prompt", "--tempo-correct"):
        assert f"{flag} 1:" not in text
    assert "1: crossfade" not in text and "crossfade the end" in text
    assert "absolute path of an existing folder" not in text  # --out takes a relative one
    for default in ("(default 1)", "(default 250)", "(default 0)", "(default 3)"):
        assert default in text, default  # temperature, top-k, top-p, guidance


def test_the_melody_error_of_debug_names_debug_melody(debug_engine, tmp_path):
    from engine.errors import Unsupported
    from engine.melody import Note
    from engine.spec import GenerationSpec

    spec = GenerationSpec(
        prompt="p", out_dir=tmp_path, seconds=1.0, bpm=120.0, melody_notes=(Note(60, 0, 1),)
    )
    with pytest.raises(Unsupported) as refused:
        debug_engine.generate(spec)
    assert "debug-melody" in refused.value.message, refused.value.message


@pytest.fixture(scope="module")
def melody_engine(cache_dir):
    from engine.api import Engine, EngineSettings

    engine = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False))
    engine.load("debug-melody")
    return engine


def _melody_take(engine, tmp_path: Path, signal) -> list[str]:
    tmp_path.mkdir()
    import soundfile as sf

    from engine.spec import GenerationSpec

    clip = tmp_path / "clip.wav"
    sf.write(clip, signal, 32000)
    out = tmp_path / "out"
    out.mkdir()
    spec = GenerationSpec(prompt="p", out_dir=out, seconds=1.0, melody_audio=clip, seed=1)
    take = engine.generate(spec)
    sidecar = json.loads(take.paths[0].with_suffix(".json").read_text())
    assert [w["code"] for w in sidecar["warnings"]] == [w.code for w in take.warnings]
    return [w.code for w in take.warnings]


def test_a_silent_melody_wav_warns_and_a_sounding_one_does_not(melody_engine, tmp_path):
    import numpy as np

    assert _melody_take(melody_engine, tmp_path / "a", np.zeros(32000, np.float32)) == [
        "silent_melody"
    ]
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 32000).astype(np.float32)
    assert _melody_take(melody_engine, tmp_path / "b", tone) == []


# -- the CLI from a fresh clone: ./musicgen-bridge ------------------------------------


def _checkout(tmp_path: Path, set_up: bool) -> Path:
    """A copy of the root wrapper in a folder that is (or is not yet) set up."""
    import shutil

    folder = tmp_path / "clone"
    folder.mkdir()
    shutil.copy2(ROOT / "musicgen-bridge", folder / "musicgen-bridge")
    if set_up:  # as `make setup` leaves it: .venv/bin/musicgen-bridge
        (folder / ".venv" / "bin").mkdir(parents=True)
        installed = Path(sys.executable).parent / "musicgen-bridge"
        (folder / ".venv" / "bin" / "musicgen-bridge").symlink_to(installed)
    return folder


def test_the_root_wrapper_runs_the_cli_and_its_advice_works_as_written(tmp_path):
    from tests.conftest import free_udp_port

    folder = _checkout(tmp_path, set_up=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MUSICGEN_BRIDGE_CLI", None)
    port = str(free_udp_port())  # nothing listens there
    done = subprocess.run(
        ["./musicgen-bridge", "ping", "--port", port, "--timeout", "0.5"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == cli_common.EXIT_UNREACHABLE, done.stderr
    assert "Start it with `./musicgen-bridge serve`" in done.stderr, done.stderr
    version = subprocess.run(
        ["./musicgen-bridge", "--version"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("musicgen-bridge ")


def test_the_root_wrapper_says_to_set_up_first(tmp_path):
    folder = _checkout(tmp_path, set_up=False)
    done = subprocess.run(
        ["./musicgen-bridge", "ping"], cwd=folder, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 3 and "make setup" in done.stderr, done.stderr


def test_the_advice_names_the_cli_by_its_path_when_it_is_not_on_path(tmp_path):
    """.venv/bin/musicgen-bridge run by path: the advice gives that path, absolute."""
    folder = _checkout(tmp_path, set_up=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    env.pop("MUSICGEN_BRIDGE_CLI", None)
    done = subprocess.run(
        [".venv/bin/musicgen-bridge", "ping", "--port", "9", "--timeout", "0.5"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    typed = folder / ".venv" / "bin" / "musicgen-bridge"
    assert f"Start it with `{typed} serve`" in done.stderr, done.stderr
