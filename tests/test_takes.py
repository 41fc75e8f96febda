"""``musicgen-bridge takes``: past takes listed from their sidecars, any format version.

The format 1 fixtures are written as engine/api.py ``_sidecar`` wrote them
(git history): the first engine (commit daa3f74) and the last format 1
(commit 4fac538, before loudness, provenance and warnings).  The current
format comes from the real engine on the debug checkpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.cli_common import EXIT_OK, EXIT_USAGE
from bridge.takes import list_takes
from engine.spec import GenerationSpec

VERSIONS = {"python": "3.11.2", "musicgen-bridge": "0.1.0", "torch": "2.13.0"}


def _params(**fields) -> dict:
    params = {
        "prompt": "",
        "out_dir": "/x",
        "seconds": None,
        "bars": None,
        "bpm": None,
        "timesig": "4/4",
        "seed": 0,
        "temperature": 1.0,
        "top_k": 250,
        "top_p": 0.0,
        "guidance": 3.0,
        "model": None,
        "key": None,
    }
    params.update(fields)
    return params


def first_format_1(folder: Path) -> Path:
    """A sidecar as the first engine wrote it (daa3f74): format 1, no conditioning text."""
    stem = "20261121-101500_dusty-lo-fi-drums_s7"
    data = {
        "format": "musicgen-bridge take",
        "format_version": 1,
        "prompt": "dusty lo-fi drums",
        "model": "facebook/musicgen-small",
        "model_is_debug_noise": False,
        "seed": 7,
        "params": _params(prompt="dusty lo-fi drums", bars=8.0, bpm=92.0, seed=7),
        "duration_seconds": 20.869565217391305,
        "samples": 667826,
        "sample_rate": 32000,
        "channels": 1,
        "peak_limit_gain_db": 0.0,
        "device": "cuda",
        "dtype": "float16",
        "created": "2026-11-21T10:15:00+01:00",
        "timings": {"generate_s": 6.2},
        "versions": VERSIONS,
        "file": f"{stem}.wav",
    }
    (folder / f"{stem}.json").write_text(json.dumps(data, indent=2))
    return folder / f"{stem}.wav"


def last_format_1(folder: Path) -> Path:
    """A sidecar as the last format 1 engine wrote it (4fac538)."""
    stem = "20261122-093000_synthwave-arp_s100"
    data = {
        "format": "musicgen-bridge take",
        "format_version": 1,
        "prompt": "synthwave arp",
        "conditioning_text": "synthwave arp, 120 bpm, in A minor",
        "model": "facebook/musicgen-stereo-small",
        "model_is_debug_noise": False,
        "seed": 100,
        "params": _params(
            prompt="synthwave arp", bars=4.0, bpm=120.0, timesig="7/8", seed=100, key="A minor"
        ),
        "duration_seconds": 7.0,
        "samples": 336000,
        "sample_rate": 48000,
        "model_sample_rate": 32000,
        "sample_format": "pcm24",
        "channels": 2,
        "windows": 1,
        "decode_steps": 353,
        "shared_run": {"requests": 1, "takes": 1},
        "peak_limit_gain_db": 0.0,
        "device": "cpu",
        "dtype": "float32",
        "created": "2026-11-22T09:30:00+00:00",
        "decoder": "fast",
        "cuda_graphs": False,
        "versions": VERSIONS,
        "variation": {"index": 1, "of": 1, "first_seed": 100},
        "timings": {"generate_s": 30.1, "decode_s": 29.0, "codec_s": 0.8, "post_s": 0.3},
        "file": f"{stem}.wav",
    }
    sub = folder / "Samples" / "Generated"
    sub.mkdir(parents=True)
    (sub / f"{stem}.json").write_text(json.dumps(data, indent=2))
    return sub / f"{stem}.wav"


@pytest.fixture
def folder(tmp_path: Path, debug_engine) -> tuple[Path, list[Path]]:
    """Takes of both format 1 shapes and of the current format, plus things that are not takes."""
    old = first_format_1(tmp_path)
    older = last_format_1(tmp_path)
    [current] = debug_engine.generate(
        GenerationSpec(
            prompt="glassy pads", out_dir=tmp_path, bars=1, bpm=120, seed=11, loudness=-14.0
        )
    ).paths
    (tmp_path / "project.json").write_text('{"tracks": 3}')  # some other JSON
    (tmp_path / "broken.json").write_text('{"format": "musicgen-bridge take", "pro')
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.json").write_text("not read")
    return tmp_path, [current, older, old]  # newest first


def test_takes_of_the_current_and_previous_formats_list_newest_first(folder):
    root, expected = folder
    listing = list_takes(root)
    assert [take.path for take in listing.takes] == [str(p.resolve()) for p in expected]
    assert listing.unreadable == 1  # broken.json; project.json is simply not a take
    current, older, old = listing.takes
    assert current.format_version == 2 and older.format_version == old.format_version == 1
    assert (current.prompt, current.model, current.seed) == ("glassy pads", "debug", 11)
    assert (current.bars, current.bpm, current.seconds) == (1.0, 120.0, 2.0)
    assert current.loudness_lufs == pytest.approx(-14.0, abs=0.05)
    assert current.true_peak_dbtp is not None and current.true_peak_dbtp <= -1.0
    assert (older.bars, older.bpm, older.timesig, older.seconds) == (4.0, 120.0, "7/8", 7.0)
    assert older.loudness_lufs is None and older.true_peak_dbtp is None  # not recorded then
    assert (old.prompt, old.model, old.seed, old.bars, old.bpm) == (
        "dusty lo-fi drums",
        "facebook/musicgen-small",
        7,
        8.0,
        92.0,
    )


def test_cli_takes_prints_a_table(folder, capsys):
    root, expected = folder
    assert main(["takes", str(root)]) == EXIT_OK
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == [
        "time",
        "prompt",
        "model",
        "seed",
        "bars",
        "@",
        "bpm",
        "length",
        "loudness",
        "path",
    ]
    assert [line.split()[-1] for line in lines[1:]] == [str(p.resolve()) for p in expected]
    assert "glassy pads" in lines[1] and "-14.0 LUFS" in lines[1] and "1 bar @ 120" in lines[1]
    assert "4 bars 7/8 @ 120" in lines[2] and "7.00 s" in lines[2]
    assert lines[3].startswith("2026-11-21 10:15:00") and "dusty lo-fi drums" in lines[3]
    assert "LUFS" not in lines[3]
    assert "skipped 1 JSON file(s)" in err


def test_cli_takes_json_for_scripts(folder, capsys):
    root, expected = folder
    assert main(["takes", str(root), "--json"]) == EXIT_OK
    takes = json.loads(capsys.readouterr().out)
    assert [t["path"] for t in takes] == [str(p.resolve()) for p in expected]
    assert takes[0]["format_version"] == 2 and takes[0]["loudness_lufs"] is not None
    assert takes[2]["loudness_lufs"] is None and takes[2]["created"] == "2026-11-21T10:15:00+01:00"
    assert set(takes[0]) >= {"created", "prompt", "model", "seed", "bars", "bpm", "seconds"}


def test_cli_takes_defaults_to_the_engine_folder(tmp_path, monkeypatch, capsys):
    first_format_1(tmp_path)
    monkeypatch.setenv("MUSICGEN_BRIDGE_OUT_DIR", str(tmp_path))
    assert main(["takes", "--json"]) == EXIT_OK
    assert [t["seed"] for t in json.loads(capsys.readouterr().out)] == [7]
    monkeypatch.delenv("MUSICGEN_BRIDGE_OUT_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # serve's default: ~/Music/MusicGen Bridge
    assert main(["takes"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(tmp_path / "home" / "Music" / "MusicGen Bridge") in err and "takes DIR" in err


def test_an_empty_folder_says_so(tmp_path, capsys):
    assert main(["takes", str(tmp_path)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == "" and f"No takes under {tmp_path}" in err


def test_listing_takes_needs_no_torch(tmp_path):
    first_format_1(tmp_path)
    code = (
        "import sys; from bridge.cli import main; rc = main(['takes', sys.argv[1], '--json']); "
        "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)[0]["seed"] == 7
