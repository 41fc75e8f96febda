"""Conflicts said out loud: a prompt that states another tempo, key or time signature.

Unit tests of what a prompt is read as stating, then the warning over real
UDP on loopback (a python-osc peer and the CLI against a real engine
process), and in the sidecar.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from bridge import protocol, replies
from engine.prompting import (
    WARNING_CODES,
    conditioning_text,
    conflicts,
    stated_key,
    stated_tempo,
    stated_timesig,
)
from engine.timing import TimeSignature
from tests.conftest import cli_executable
from tests.test_e2e import REPLY_TIMEOUT_S, OscPeer

FOUR_FOUR = TimeSignature(4, 4)


@pytest.mark.parametrize(
    ("prompt", "key"),
    [
        ("techno in G major", "G major"),
        ("house at 124 BPM in F minor", "F minor"),
        ("lofi, Eb major", "Eb major"),
        ("dark synths in F#m", "F# minor"),
        ("key of Bb", "Bb major"),
        ("ballad in a minor", "A minor"),
        ("pads in C", "C major"),
        ("jazz in a smoky bar", None),  # a lower-case letter alone is a word, not a key
        ("drums in every bar", None),
        ("warm rhodes", None),
    ],
)
def test_the_key_a_prompt_states(prompt, key):
    assert stated_key(prompt) == key


def test_the_tempo_and_time_signature_a_prompt_states():
    assert stated_tempo("house at 124 BPM") == 124.0
    assert stated_tempo("92.5 bpm boom bap") == 92.5
    assert stated_tempo("house from 1995") is None
    assert stated_timesig("waltz in 3/4") == TimeSignature(3, 4)
    assert stated_timesig("7/8 time, odd groove") == TimeSignature(7, 8)
    assert stated_timesig("24/7 grind") is None  # no such denominator
    assert stated_timesig("released 12/03/2021") is None
    assert stated_timesig("pads") is None


def test_a_lower_case_word_after_in_no_longer_hides_the_requested_key():
    assert conditioning_text("jazz in a smoky bar", None, "A minor") == (
        "jazz in a smoky bar, in A minor"
    )


def test_conflicts_name_both_values_and_what_the_model_and_the_length_follow():
    found = conflicts("120 bpm house in G major, 3/4", 100.0, "A minor", FOUR_FOUR, bars=8)
    assert [c.code for c in found] == ["tempo_conflict", "key_conflict", "timesig_conflict"]
    tempo, key, sig = (c.message for c in found)
    assert "120 bpm" in tempo and "100 bpm" in tempo and "8 bars at 100 bpm" in tempo
    assert "G major" in key and "A minor" in key and "model was told G major" in key
    assert "3/4" in sig and "8 bars of 4/4" in sig
    assert set(WARNING_CODES) == {c.code for c in found} | {"silent_melody"}  # and the input's


def test_agreeing_or_absent_values_are_no_conflict():
    assert conflicts("120 bpm house in A minor", 120.3, "A minor", FOUR_FOUR, bars=4) == []
    assert conflicts("120 bpm house", None, None, FOUR_FOUR) == []  # nothing asked
    assert conflicts("warm rhodes", 100.0, "A minor", FOUR_FOUR, bars=4) == []  # nothing stated
    # In seconds the time signature shapes nothing.
    assert conflicts("waltz in 3/4", None, None, FOUR_FOUR, bars=None) == []
    assert [c.code for c in conflicts("waltz in 3/4", 90.0, None, FOUR_FOUR, bars=2)] == [
        "timesig_conflict"
    ]


def test_the_protocol_doc_covers_warnings():
    doc = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
    assert "`/musicgen/warning`" in doc and f"{protocol.PREFIX}/warning" in replies.REPLIES
    for code in WARNING_CODES:
        assert f"`{code}`" in doc, code
    assert replies.warning("a1", "key_conflict", "words") == (
        "/musicgen/warning",
        ["a1", "key_conflict", "words"],
    )


# -- end to end ------------------------------------------------------------------


@pytest.fixture
def peer(engine_process):
    p = OscPeer(engine_process.port)
    yield p
    p.close()


@pytest.mark.e2e
def test_a_conflicting_prompt_yields_warnings_over_osc_before_done(peer, tmp_path):
    peer.send(
        "/musicgen/generate",
        *("id", "w1", "reply_port", peer.port, "prompt", "120 bpm house in G major"),
        *("bars", 1, "bpm", 100, "key", "Am", "seed", 3, "out_dir", str(tmp_path)),
    )
    replies = peer.until("w1", {"/musicgen/done", "/musicgen/error"})
    addresses = [address for address, _ in replies]
    assert addresses[-1] == "/musicgen/done", replies
    warnings = [args for address, args in replies if address == "/musicgen/warning"]
    assert [args[1] for args in warnings] == ["tempo_conflict", "key_conflict"]
    assert all(len(args) == 3 and args[0] == "w1" for args in warnings)
    assert "the take is 1 bar at 100 bpm" in warnings[0][2]
    # done still carries only paths, for clients that know no warnings
    [wav] = replies[-1][1][1:]
    assert sf.info(wav).frames == round(2.4 * 32000)  # the length follows the request's bpm
    meta = json.loads(Path(wav).with_suffix(".json").read_text())
    assert meta["conditioning_text"] == "120 bpm house in G major"  # what the model was told
    assert [w["code"] for w in meta["warnings"]] == ["tempo_conflict", "key_conflict"]
    assert meta["warnings"][0]["message"] == warnings[0][2]
    assert meta["params"]["key"] == "A minor"


@pytest.mark.e2e
def test_a_prompt_without_conflicts_gets_no_warning(peer, tmp_path):
    peer.send(
        "/musicgen/generate",
        *("id", "w2", "reply_port", peer.port, "prompt", "house in A minor"),
        *("bars", 1, "bpm", 100, "key", "Am", "seed", 3, "out_dir", str(tmp_path)),
    )
    replies = peer.until("w2", {"/musicgen/done", "/musicgen/error"})
    assert replies[-1][0] == "/musicgen/done"
    assert "/musicgen/warning" not in [address for address, _ in replies]
    [wav] = replies[-1][1][1:]
    assert json.loads(Path(wav).with_suffix(".json").read_text())["warnings"] == []


@pytest.mark.e2e
def test_the_cli_prints_warnings_and_writes_them_into_the_result_file(engine_process, tmp_path):
    result = tmp_path / "result.json"
    run = subprocess.run(
        [
            cli_executable(),
            "generate",
            "waltz in 3/4 at 90 bpm",
            *("--bars", "1", "--bpm", "120", "--loudness", "-23"),
            *("--out", str(tmp_path), "--port", str(engine_process.port)),
            *("--result-file", str(result), "--quiet"),
        ],
        capture_output=True,
        text=True,
        timeout=REPLY_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr
    [wav] = run.stdout.split()
    assert "warning (tempo_conflict): The prompt says 90 bpm" in run.stderr
    assert "warning (timesig_conflict): The prompt says 3/4" in run.stderr
    outcome = json.loads(result.read_text())
    assert outcome["ok"] is True and outcome["paths"] == [wav]
    assert [w["code"] for w in outcome["warnings"]] == ["tempo_conflict", "timesig_conflict"]
    assert all(w["message"] for w in outcome["warnings"])
    meta = json.loads(Path(wav).with_suffix(".json").read_text())
    assert meta["loudness"]["target_lufs"] == -23.0
    assert meta["loudness"]["integrated_lufs"] == pytest.approx(-23.0, abs=0.5)
