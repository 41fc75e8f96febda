"""The fault probes' smaller findings (issue 27, probe 9): numbers in messages as a
producer reads them, melody notes bounded on arrival, one variations limit."""

from __future__ import annotations

import pytest

from bridge import requests
from engine import melody
from engine.errors import OutOfRange


def _refusal(tmp_path, **fields) -> requests.RequestRejected:
    args = ["id", "e", "reply_port", 9, "prompt", "p"]
    for key, value in fields.items():
        args += [key, value]
    limits = requests.Limits(max_seconds=120.0, default_out_dir=tmp_path, max_variations=4)
    with pytest.raises(requests.RequestRejected) as refused:
        requests.parse("/musicgen/generate", args, limits)
    return refused.value


def test_a_huge_length_is_written_short(tmp_path):
    refused = _refusal(tmp_path, seconds=1e308)
    assert refused.code == "out_of_range"
    assert len(refused.message) < 200, refused.message
    assert "1e+308" in refused.message


def test_a_length_just_over_the_most_says_by_how_much(tmp_path):
    refused = _refusal(tmp_path, seconds=120.0001)
    assert "120.0001" in refused.message, refused.message
    assert "120.00 s" not in refused.message


def test_melody_notes_with_a_huge_length_or_start_are_refused_on_arrival(tmp_path):
    for notes in ("60 0 1e308 100", "60 1e308 1 100", "60 4000 200 100"):
        with pytest.raises(OutOfRange) as refused:
            melody.parse_notes(notes)
        assert "beats" in refused.value.message, refused.value.message
        assert _refusal(tmp_path, bpm=120.0, melody_notes=notes).code == "out_of_range"
    assert melody.parse_notes("60 4000 96 100")[0].length == 96  # ends at 4096 beats: fine


def test_the_variations_limit_is_said_one_way(tmp_path):
    over_engine = _refusal(tmp_path, variations=5).message
    over_protocol = _refusal(tmp_path, variations=9).message
    for message in (over_engine, over_protocol):
        assert "between 1 and 4" in message and "--max-variations" in message, message
    assert "8" not in over_engine + over_protocol.replace("got 9", "")
