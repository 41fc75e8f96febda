"""OSC parsing and validation, from datagrams, with no socket.

Each case feeds bytes to ``OscServer.handle_datagram`` and asserts on the
replies it would send.  The engine is a fake; nothing touches the network.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import pytest

from bridge import osc, protocol, replies, requests
from bridge.client import _status_fields
from bridge.config import ServeConfig
from bridge.server import OscServer, encode
from tests.fakes import FakeEngine

SOURCE = ("127.0.0.1", 50123)


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        config = ServeConfig(max_seconds=30.0, out_dir=tmp_path, max_queue=4, model="fake")
        self.server = OscServer(config, FakeEngine())
        self.sent: list[tuple[tuple[str, int], str, list]] = []
        self.server.send = lambda to, reply: self.sent.append((to, reply[0], reply[1]))
        self.tmp = tmp_path

    def datagram(self, data: bytes) -> list[tuple[tuple[str, int], str, list]]:
        self.sent.clear()
        self.server.handle_datagram(data, SOURCE)
        return list(self.sent)

    def message(self, address: str, *args):
        return self.datagram(encode((address, list(args))))

    def generate(self, **fields):
        args = ["id", "g1", "reply_port", 9001]
        fields.setdefault("prompt", "dusty lo-fi drums")
        fields.setdefault("out_dir", str(self.tmp))
        for key, value in fields.items():
            if value is not None:
                args += [key, value]
        return self.message("/musicgen/generate", *args)


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    h.server.jobs.shutdown(1)


def test_ping_from_a_byte_literal_datagram(harness):
    # /musicgen/ping id "p1" reply_port 9001, encoded by hand (OSC 1.0: padded
    # strings, type tag string, big-endian int32).
    data = (
        b"/musicgen/ping\x00\x00"
        b",sssi\x00\x00\x00"
        b"id\x00\x00"
        b"p1\x00\x00"
        b"reply_port\x00\x00"
        b"\x00\x00\x23\x29"
    )
    [(to, address, args)] = harness.datagram(data)
    assert to == ("127.0.0.1", 9001)
    assert address == "/musicgen/pong"
    assert args[0] == "p1" and args[2] in ("loading", "no_model", "ready")


def test_generate_is_queued_with_its_position(harness):
    [(to, address, args)] = harness.generate(bars=8.0, bpm=120.0, timesig="4/4", seed=7)
    assert (to, address) == (("127.0.0.1", 9001), "/musicgen/queued")
    assert args[0] == "g1" and isinstance(args[1], int)


def test_bars_accept_an_int_as_max_sends_them(harness):
    [(_, address, _)] = harness.generate(bars=8, bpm=92)
    assert address == "/musicgen/queued"


def test_parsed_spec_has_exact_fields(tmp_path):
    request = requests.parse(
        "/musicgen/generate",
        [
            "id",
            "a",
            "reply_port",
            9001,
            "prompt",
            "  x  ",
            "bars",
            2,
            "bpm",
            140,
            "timesig",
            "7/8",
            "seed",
            3,
            "top_k",
            0,
            "out_dir",
            str(tmp_path),
        ],
        requests.Limits(),
    )
    spec = request.spec
    assert (spec.prompt, spec.bars, spec.bpm, str(spec.timesig), spec.seed) == (
        "x",
        2.0,
        140.0,
        "7/8",
        3,
    )
    assert spec.duration_seconds == pytest.approx(3.0)
    assert spec.top_k == 0 and spec.out_dir == tmp_path


def test_default_length_and_default_folder(harness):
    request = requests.parse(
        "/musicgen/generate",
        ["id", "a", "reply_port", 1, "prompt", "x"],
        requests.Limits(default_out_dir=harness.tmp),
    )
    assert request.spec.duration_seconds == protocol.DEFAULT_SECONDS
    assert request.spec.out_dir == harness.tmp


def error_of(replies):
    [(to, address, args)] = replies
    assert address == "/musicgen/error", (address, args)
    return to, args[0], args[1], args[2]


# Every bad input from the issue: (fields to send or a raw message, expected code).
BAD_GENERATES = [
    ({"bars": "8", "bpm": 120}, "wrong_type"),  # a string for bars
    ({"prompt": ""}, "invalid_value"),
    ({"prompt": "   "}, "invalid_value"),
    ({"prompt": "x" * 1001}, "out_of_range"),
    ({"seconds": 0.0}, "out_of_range"),
    ({"seconds": -4.0}, "out_of_range"),
    ({"seconds": 31.0}, "out_of_range"),  # over the configured maximum
    ({"bars": 64, "bpm": 60}, "out_of_range"),  # 256 s
    ({"bars": 8}, "missing_argument"),  # bars without bpm
    ({"bars": 8, "bpm": 120, "seconds": 4.0}, "invalid_request"),
    ({"timesig": "4-4"}, "invalid_value"),
    ({"seed": -1}, "out_of_range"),
    ({"seed": 1.5}, "wrong_type"),
    ({"temperature": float("nan")}, "out_of_range"),
    ({"colour": "blue"}, "unknown_argument"),
    ({"out_dir": "relative/folder"}, "bad_path"),
    ({"out_dir": "/definitely/not/here"}, "bad_path"),
    ({"model": "not a model id"}, "invalid_value"),
    ({"model": "/models/../etc"}, "invalid_value"),
    ({"model": "relative/../folder"}, "invalid_value"),
    # Musical control (issue 3).
    ({"bpm": 120, "melody_notes": "128 0 1 100"}, "out_of_range"),  # pitch outside 0-127
    ({"bpm": 120, "melody_notes": "60 0 -1 100"}, "out_of_range"),  # negative length
    ({"bpm": 120, "melody_notes": "60 0 0 100"}, "out_of_range"),  # zero length
    ({"bpm": 120, "melody_notes": "60 0 1"}, "invalid_value"),  # not groups of four
    ({"bpm": 120, "melody_notes": "sixty 0 1 100"}, "invalid_value"),
    ({"bpm": 120, "melody_notes": "   "}, "invalid_value"),  # an empty clip
    ({"melody_notes": "60 0 1 100"}, "missing_argument"),  # beats need bpm
    ({"variations": 5}, "out_of_range"),  # over the configured limit (4)
    ({"variations": 0}, "out_of_range"),
    ({"variations": 9}, "out_of_range"),  # over the protocol's ceiling
    ({"prompt_seconds": 30.0}, "out_of_range"),  # longer than the window allows
    ({"loop": 2}, "wrong_type"),
    ({"loop": "yes"}, "wrong_type"),
    ({"tempo_correct": 1}, "missing_argument"),  # needs bpm
    ({"sample_rate": 50000}, "invalid_value"),
    ({"sample_rate": 8000}, "out_of_range"),
    ({"sample_format": "mp3"}, "invalid_value"),
    ({"key": "H minor"}, "invalid_value"),
    ({"melody_audio": "relative.wav"}, "bad_path"),
    ({"melody_midi": "/no/such/file.mid"}, "bad_path"),
    ({"continue_from": "/tmp/../etc/x.wav"}, "bad_path"),
    ({"audio_end": 4.0}, "invalid_request"),  # no file to cut
]


@pytest.mark.parametrize(("fields", "code"), BAD_GENERATES)
def test_bad_generate_gets_an_error_with_a_stable_code(harness, fields, code):
    to, request_id, got, message = error_of(harness.generate(**fields))
    assert (to, request_id, got) == (("127.0.0.1", 9001), "g1", code)
    assert message.endswith(".") and len(message) > 10  # a sentence, not a stack trace


def test_musical_arguments_parse_into_the_spec(harness):
    midi = harness.tmp / "tune.mid"
    midi.write_bytes(b"MThd")
    request = requests.parse(
        "/musicgen/generate",
        [
            "id",
            "a",
            "reply_port",
            1,
            "prompt",
            "x",
            "bars",
            4,
            "bpm",
            120,
            "key",
            "f#m",
            "variations",
            3,
            "loop",
            1,
            "tempo_correct",
            True,
            "sample_rate",
            48000,
            "sample_format",
            "float",
            "melody_midi",
            str(midi),
        ],
        requests.Limits(default_out_dir=harness.tmp),
    )
    spec = request.spec
    assert (spec.key, spec.variations, spec.loop, spec.tempo_correct) == ("F# minor", 3, True, True)
    assert (spec.sample_rate, spec.sample_format, spec.melody_midi) == (48000, "float", midi)
    notes = requests.parse(
        "/musicgen/generate",
        [
            "id",
            "a",
            "reply_port",
            1,
            "prompt",
            "x",
            "bpm",
            90,
            "melody_notes",
            "60 0 1 100 64 1 0.5 80",
        ],
        requests.Limits(default_out_dir=harness.tmp),
    ).spec.melody_notes
    assert [(n.pitch, n.start, n.length, n.velocity) for n in notes] == [
        (60, 0, 1, 100),
        (64, 1, 0.5, 80),
    ]


def test_input_files_are_checked_at_the_edge(harness):
    (harness.tmp / "folder.wav").mkdir()
    (harness.tmp / "notes.txt").write_text("hello")
    big = harness.tmp / "big.wav"
    big.write_bytes(b"")
    os.truncate(big, 513 * 1024 * 1024)  # sparse: over the 512 MB limit, no disk used
    fifo = harness.tmp / "pipe.wav"
    os.mkfifo(fifo)
    cases = [
        ({"continue_from": str(harness.tmp / "folder.wav")}, "bad_path"),
        ({"continue_from": str(fifo)}, "bad_path"),  # never opened: it would block
        ({"melody_audio": str(harness.tmp / "notes.txt")}, "bad_file"),  # not an audio kind
        ({"continue_from": str(big)}, "bad_file"),
        ({"melody_midi": str(harness.tmp / "notes.txt")}, "bad_file"),
    ]
    for fields, code in cases:
        assert error_of(harness.generate(**fields))[2] == code, fields


def test_audio_start_must_come_before_audio_end(harness):
    wav = harness.tmp / "a.wav"
    wav.write_bytes(b"RIFF")
    fields = {"continue_from": str(wav), "audio_start": 4.0, "audio_end": 2.0}
    assert error_of(harness.generate(**fields))[2] == "invalid_value"


def test_two_melody_sources_or_melody_with_continuation_are_refused(harness):
    wav = harness.tmp / "a.wav"
    wav.write_bytes(b"RIFF")
    both = {"bpm": 120, "melody_notes": "60 0 1 100", "melody_audio": str(wav)}
    assert error_of(harness.generate(**both))[2] == "invalid_request"
    assert error_of(harness.generate(melody_audio=str(wav), continue_from=str(wav)))[2] == (
        "invalid_request"
    )


def test_out_dir_that_is_a_file(harness):
    afile = harness.tmp / "file.wav"
    afile.write_bytes(b"")
    assert error_of(harness.generate(out_dir=str(afile)))[2] == "bad_path"


def test_missing_id_still_answers_with_an_empty_id(harness):
    to, request_id, code, _ = error_of(harness.message("/musicgen/ping", "reply_port", 9001))
    assert (to, request_id, code) == (("127.0.0.1", 9001), "", "missing_argument")


def test_missing_reply_port_answers_the_source_port(harness):
    to, request_id, code, _ = error_of(harness.message("/musicgen/ping", "id", "p"))
    assert (to, request_id, code) == (SOURCE, "p", "missing_argument")


@pytest.mark.parametrize("port", [0, 65536, -5])
def test_reply_port_out_of_range(harness, port):
    to, _, code, _ = error_of(harness.message("/musicgen/ping", "id", "p", "reply_port", port))
    assert (to, code) == (SOURCE, "out_of_range")


def test_unknown_address(harness):
    _, request_id, code, message = error_of(
        harness.message("/musicgen/dance", "id", "d", "reply_port", 9001)
    )
    assert (request_id, code) == ("d", "unknown_address")
    assert "/musicgen/generate" in message  # tells the client what exists


def test_odd_argument_count(harness):
    assert error_of(harness.message("/musicgen/ping", "id", "p", "reply_port"))[2] == (
        "invalid_request"
    )


def test_unparseable_packet_is_logged_and_dropped(harness, caplog):
    with caplog.at_level(logging.WARNING, logger="bridge.server"):
        assert harness.datagram(b"/musicgen/ping\x00\x00,s\x00\x00") == []
        assert harness.datagram(b"\xff\xfe garbage") == []
    assert caplog.text.count("malformed packet") == 2
    # ...and the server still answers.
    assert harness.message("/musicgen/ping", "id", "p", "reply_port", 9001)[0][1] == (
        "/musicgen/pong"
    )


def test_a_bundle_is_unpacked(harness):
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    bundle = OscBundleBuilder(IMMEDIATELY)
    for i in range(2):
        msg = OscMessageBuilder("/musicgen/ping")
        for arg in ("id", f"p{i}", "reply_port", 9001):
            msg.add_arg(arg)
        bundle.add_content(msg.build())
    replies = harness.datagram(bundle.build().dgram)
    assert [r[2][0] for r in replies] == ["p0", "p1"]


def test_cancel_unknown_job_and_duplicate_ids(harness):
    _, _, code, _ = error_of(
        harness.message("/musicgen/cancel", "id", "c", "reply_port", 9001, "job", "nope")
    )
    assert code == "unknown_job"
    harness.generate()
    assert error_of(harness.generate())[2] == "duplicate_id"


def test_cancel_a_queued_job(harness):
    harness.generate()
    replies = harness.message("/musicgen/cancel", "id", "c", "reply_port", 9001, "job", "g1")
    assert ("/musicgen/error", ["g1", "cancelled"]) in [(a, r[:2]) for _, a, r in replies]
    assert ("/musicgen/cancel", ["c", "g1", "queued"]) in [(a, r) for _, a, r in replies]


def test_queue_limit_answers_busy(harness):
    # The fake engine's worker is never started, so nothing drains the queue:
    # one take to run next plus max_queue=4 waiting are accepted.
    for i in range(5):
        [(_, address, _)] = harness.message(
            "/musicgen/generate",
            "id",
            f"x{i}",
            "reply_port",
            9001,
            "prompt",
            "p",
            "out_dir",
            str(harness.tmp),
        )
        assert address == "/musicgen/queued"
    assert error_of(harness.generate())[2] == "busy"


def test_status_and_models_replies(harness):
    [(_, address, args)] = harness.message("/musicgen/status", "id", "s", "reply_port", 9001)
    assert address == "/musicgen/status" and args[0] == "s"
    # reason (only for no_model), no model resident yet, then the fake's memory:
    # 64 MiB resident, no GPU in use (-1: not known); last, the engine run's id.
    assert args[6:] == ["", 0, 64.0, -1.0, -1.0, harness.server.run]
    [(_, address, args)] = harness.message("/musicgen/models", "id", "m", "reply_port", 9001)
    assert address == "/musicgen/models" and args[0] == "m" and "debug" in args


def test_internal_errors_become_error_replies(harness):
    def explode(*_):
        raise RuntimeError("kaboom")

    harness.server.jobs.snapshot = explode
    _, request_id, code, _ = error_of(
        harness.message("/musicgen/status", "id", "s", "reply_port", 9001)
    )
    assert (request_id, code) == ("s", "internal_error")


# -- shared token (listening beyond loopback) ------------------------------------

TOKEN = "s3cret-studio-token"


def test_token_required_when_configured(tmp_path):
    limits = requests.Limits(default_out_dir=tmp_path, token=TOKEN)
    base = ["id", "t", "reply_port", 9001]
    for args in (base, [*base, "token", "wrong-token-of-any-length"], [*base, "token", ""]):
        with pytest.raises(requests.RequestRejected) as err:
            requests.parse("/musicgen/ping", args, limits)
        assert (err.value.code, err.value.request_id) in (
            ("unauthorized", "t"),
            ("invalid_value", "t"),  # an empty string is refused before the comparison
        )
        assert TOKEN not in err.value.message  # never echo the secret
    assert requests.parse("/musicgen/ping", [*base, "token", TOKEN], limits).id == "t"


def test_token_is_checked_before_anything_else_is_queued(tmp_path):
    limits = requests.Limits(default_out_dir=tmp_path, token=TOKEN)
    with pytest.raises(requests.RequestRejected) as err:
        requests.parse("/musicgen/generate", ["id", "g", "reply_port", 9001, "prompt", "x"], limits)
    assert err.value.code == "unauthorized"


def test_token_is_accepted_and_ignored_without_one_configured(tmp_path):
    limits = requests.Limits(default_out_dir=tmp_path)
    request = requests.parse("/musicgen/ping", ["id", "t", "reply_port", 1, "token", "x"], limits)
    assert request.id == "t"


# -- file safety at the edge --------------------------------------------------------


def test_out_dir_with_dot_dot_is_refused(harness):
    (harness.tmp / "inner").mkdir()
    sneaky = f"{harness.tmp}/inner/../inner"
    assert error_of(harness.generate(out_dir=sneaky))[2] == "bad_path"


def test_out_dir_that_is_a_special_file_is_refused(harness):
    import os

    fifo = harness.tmp / "fifo"
    os.mkfifo(fifo)
    assert error_of(harness.generate(out_dir=str(fifo)))[2] == "bad_path"
    assert error_of(harness.generate(out_dir="/dev/null"))[2] == "bad_path"


def test_out_dir_may_be_a_symlink_to_a_folder(harness):
    real = harness.tmp / "real"
    real.mkdir()
    (harness.tmp / "link").symlink_to(real)
    [(_, address, _)] = harness.generate(out_dir=str(harness.tmp / "link"))
    assert address == "/musicgen/queued"


# -- one terminal reply per request, under an id that is its own ------------------


def test_duplicate_id_is_answered_without_the_running_jobs_id(harness):
    """A client keyed on ids read an error under the running job's id as that job's end,
    then got its done: two terminal replies for one id."""
    harness.generate()
    to, request_id, code, message = error_of(harness.generate())
    assert (to, request_id, code) == (("127.0.0.1", 9001), "", "duplicate_id")
    assert "'g1'" in message and "fresh id" in message


@pytest.mark.parametrize(
    "bad_id",
    ["x" * 65, "x" * 64 + "y", "two words", "caf\u00e9"],
    ids=["65 chars", "64 chars and one more", "a space", "non-ASCII"],
)
def test_an_invalid_id_is_never_echoed_or_cut(harness, bad_id):
    """An over-long id came back cut to its first 64 characters: another request's id."""
    to, request_id, code, _ = error_of(
        harness.message("/musicgen/ping", "id", bad_id, "reply_port", 9001)
    )
    assert (to, request_id) == (("127.0.0.1", 9001), "")
    assert code in ("out_of_range", "invalid_value")


def test_an_id_given_twice_is_not_echoed(harness):
    replies = harness.message("/musicgen/ping", "id", "a", "reply_port", 9001, "id", "b")
    assert error_of(replies)[1:3] == ("", "invalid_request")


# -- every OSC type a client may send -------------------------------------------


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


def _datagram(address: str, args: list[tuple[str, bytes]]) -> bytes:
    """An OSC message built by hand from (type tag, encoded bytes) pairs."""
    tags = "," + "".join(tag for tag, _ in args)
    return _osc_string(address) + _osc_string(tags) + b"".join(data for _, data in args)


def _s(text: str) -> tuple[str, bytes]:
    return "s", _osc_string(text)


def _generate_with(harness, key: str, tag: str, data: bytes):
    args = [_s("id"), _s("g1"), _s("reply_port"), ("i", struct.pack(">i", 9001))]
    args += [_s("prompt"), _s("drums"), _s("out_dir"), _s(str(harness.tmp))]
    return harness.datagram(_datagram("/musicgen/generate", [*args, _s(key), (tag, data)]))


@pytest.mark.parametrize(
    ("key", "tag", "data", "value"),
    [
        ("timesig", "S", _osc_string("6/8"), ("timesig", "6/8")),  # Max/Pd send words as symbols
        ("key", "S", _osc_string("A minor"), ("key", "A minor")),
        ("key", "c", struct.pack(">I", ord("A")), ("key", "A major")),  # a char is a string
        ("bpm", "d", struct.pack(">d", 92.5), ("bpm", 92.5)),  # a double is a number
        ("seed", "h", struct.pack(">q", 7), ("seed", 7)),  # an int64 is an integer
        ("loop", "T", b"", ("loop", True)),
        ("loop", "F", b"", ("loop", False)),
    ],
    ids=["S timesig", "S key", "c", "d", "h", "T", "F"],
)
def test_osc_types_with_a_meaning(harness, key, tag, data, value):
    """S and c got "Arguments must come in key value pairs": python-osc skips them unread."""
    [(_, address, args)] = _generate_with(harness, key, tag, data)
    assert address == "/musicgen/queued", args
    [job] = list(harness.server.jobs._pending)
    name, want = value
    got = job.spec.key if name == "key" else getattr(job.spec, name)
    assert str(got) == str(want) if name in ("key", "timesig") else got == want


@pytest.mark.parametrize(
    ("key", "tag", "data", "named"),
    [
        ("bars", "t", b"\x00" * 7 + b"\x01", "an OSC time tag (t)"),
        ("bars", "r", b"\xff\x00\x00\xff", "an OSC colour (r)"),
        ("bars", "m", b"\x00\x90\x3c\x64", "an OSC MIDI message (m)"),
        ("bars", "I", b"", "OSC infinitum (I)"),
        ("bars", "N", b"", "OSC nil (N)"),
        ("bars", "b", struct.pack(">i", 3) + b"abc\x00", "an OSC blob (b)"),
        ("timesig", "i", struct.pack(">i", 8), "an integer (8)"),
        ("seed", "h", struct.pack(">q", 2**40), None),  # an integer, out of range
        ("seed", "d", struct.pack(">d", 7.0), "a float (7)"),
        ("loop", "c", struct.pack(">I", ord("1")), "a string ('1')"),
    ],
    ids=["t", "r", "m", "I", "N", "b", "i for a string", "h too big", "d for an int", "c for 0/1"],
)
def test_osc_types_without_a_meaning_name_the_key_and_the_type(harness, key, tag, data, named):
    to, request_id, code, message = error_of(_generate_with(harness, key, tag, data))
    assert (to, request_id) == (("127.0.0.1", 9001), "g1")
    if named is None:
        assert code == "out_of_range" and key in message, message
        return
    assert code == "wrong_type", message
    assert message.startswith(key) and named in message, message


def test_a_char_does_not_shift_the_arguments_after_it(harness):
    """python-osc left a char's 4 bytes unread, so the next argument read them instead."""
    args = [_s("id"), _s("g1"), _s("reply_port"), ("i", struct.pack(">i", 9001))]
    args += [_s("key"), ("c", struct.pack(">I", ord("D")))]
    args += [_s("prompt"), _s("drums"), _s("out_dir"), _s(str(harness.tmp))]
    [(_, address, _)] = harness.datagram(_datagram("/musicgen/generate", args))
    assert address == "/musicgen/queued"
    [job] = list(harness.server.jobs._pending)
    assert (job.spec.prompt, str(job.spec.key)) == ("drums", "D major")


def test_osc_decoder_agrees_with_python_osc_on_the_types_both_read():
    from pythonosc.osc_message import OscMessage

    from bridge import osc

    data = _datagram(
        "/musicgen/ping",
        [
            _s("a"),
            ("i", struct.pack(">i", -5)),
            ("h", struct.pack(">q", 2**40)),
            ("f", struct.pack(">f", 0.5)),
            ("d", struct.pack(">d", 1e-300)),
            ("T", b""),
            ("F", b""),
            ("N", b""),
            ("[", b""),
            _s("in"),
            ("]", b""),
        ],
    )
    assert osc.decode(data) == [("/musicgen/ping", list(OscMessage(data).params))]


def test_range_errors_print_whole_numbers_in_full(harness):
    """The seed's bound read "between 0 and 2.14748e+09"."""
    message = error_of(harness.generate(seed=-1))[3]
    assert message == "seed must be between 0 and 2147483647, got -1.", message
    assert error_of(harness.generate(temperature=0.01))[3] == (
        "temperature must be between 0.05 and 5, got 0.01."
    )


def test_status_and_pong_append_their_new_arguments_at_the_end():
    resident = [
        ("debug", "cpu", "float32", 0.4123, 3 * 2**20),
        ("debug-stereo", "cpu", "float32", 0.5, 2**19),
    ]
    address, args = replies.status("s", "ready", "debug", "cpu", "", 0, "", resident)
    assert address == "/musicgen/status"
    assert args[:6] == ["s", "ready", "debug", "cpu", "", 0]  # as before, for older clients
    assert args[6:8] == ["", 2]
    assert args[8:13] == ["debug", "cpu", "float32", 0.412, 3.0]
    assert args[13:18] == ["debug-stereo", "cpu", "float32", 0.5, 0.5]
    assert args[18:] == [-1.0, -1.0, -1.0, ""]  # memory: not given, so not known; run
    address, args = replies.pong(
        "p", "0.1.0", "no_model", "", "Model 'x' is not here.", "0123456789ab"
    )
    assert (address, args) == (
        "/musicgen/pong",
        ["p", "0.1.0", "no_model", "", "Model 'x' is not here.", "0123456789ab"],
    )


# -- status: memory after the resident list, jobs as /musicgen/job entries ------------

# The reply as engines before the memory figures sent it, for one resident model.
STATUS_BEFORE = ["s", "busy", "debug", "cpu", "a", 1, "", 1, "debug", "cpu", "float32", 0.412, 3.0]


def test_status_memory_comes_after_the_resident_list_and_the_first_arguments_stay():
    resident = [("debug", "cpu", "float32", 0.4123, 3 * 2**20)]
    memory = (812 * 2**20 + 2**19, 3 * 2**30, None)  # RSS, GPU allocated, GPU free unknown
    reply = replies.status("s", "busy", "debug", "cpu", "a", 1, "", resident, memory, "0123abcd")
    address, args = reply
    assert args[: len(STATUS_BEFORE)] == STATUS_BEFORE  # what older clients read
    assert args[len(STATUS_BEFORE) :] == [812.5, 3072.0, -1.0, "0123abcd"]  # then the run
    [(decoded_address, decoded)] = osc.decode(encode(reply))
    assert decoded_address == address
    assert decoded[:7] == args[:7] and decoded[7] == 1  # ints stay ints on the wire
    fields = _status_fields(decoded[1:])
    assert fields["resident"][0]["model"] == "debug"
    assert (fields["rss_mb"], fields["gpu_allocated_mb"], fields["gpu_free_mb"]) == (
        812.5,
        3072.0,
        -1.0,
    )
    assert fields["run"] == "0123abcd"


def test_a_client_reads_a_status_from_an_engine_without_memory_figures():
    fields = _status_fields(STATUS_BEFORE[1:])
    assert fields["resident"] == [
        {
            "model": "debug",
            "device": "cpu",
            "dtype": "float32",
            "load_seconds": 0.412,
            "memory_mb": 3.0,
        }
    ]
    assert (fields["rss_mb"], fields["gpu_allocated_mb"], fields["gpu_free_mb"]) == (-1, -1, -1)


def test_job_entries_carry_each_jobs_figures_in_one_datagram_each():
    rows = [
        ("a", "generating", 0, 0.424242, 3.14159, 4.2049, 0.5, "debug", "dusty drums"),
        ("b", "queued", 1, 0.0, 0.0, None, 2.0, "", "warm rhodes"),
    ]
    entries = replies.job_entries("s", rows)
    assert entries == [
        (
            "/musicgen/job",
            ["s", 0, 2, "a", "generating", 0, 0.4242, 3.14, 4.2, 0.5, "debug", "dusty drums"],
        ),
        ("/musicgen/job", ["s", 1, 2, "b", "queued", 1, 0.0, 0.0, -1.0, 2.0, "", "warm rhodes"]),
    ]
    [(_, decoded)] = osc.decode(encode(entries[1]))
    assert decoded[:6] == ["s", 1, 2, "b", "queued", 1]
    assert decoded[8] == -1.0 and decoded[-1] == "warm rhodes"


def test_the_longest_job_entry_fits_the_max_devices_datagram_limit():
    """A prompt may be 1000 characters of 4-byte UTF-8 and a model path 512 of 2-byte."""
    longest = "x" * protocol.MAX_ID_CHARS
    prompt = "\U0001d11e" * protocol.MAX_PROMPT_CHARS  # the G clef, 4 bytes in UTF-8
    model = "/" + "\u00e9" * 511
    [entry] = replies.job_entries(
        longest, [(longest, "generating", 0, 0.5, 1e5, 1e5, 1e5, model, prompt)]
    )
    assert len(encode(entry)) < 8192  # max4live's SETTINGS.maxDatagramBytes
    [(_, decoded)] = osc.decode(encode(entry))
    assert decoded[-1] == prompt  # whole, not cut


def test_status_with_details_sends_each_job_first_and_without_them_nothing_new(harness):
    long_prompt = "slow tape-saturated boom bap, " * 33  # 990 characters
    assert harness.generate(prompt=long_prompt)[0][1] == "/musicgen/queued"
    harness.message(
        "/musicgen/generate",
        "id",
        "g2",
        "reply_port",
        9001,
        "prompt",
        "b",
        "out_dir",
        str(harness.tmp),
        "model",
        "debug",
    )
    replies = harness.message("/musicgen/status", "id", "s", "reply_port", 9001, "details", 1)
    assert [address for _, address, _ in replies] == [
        "/musicgen/job",
        "/musicgen/job",
        "/musicgen/status",
    ]
    # The worker is not started: the startup model counts as ahead, as queued says.
    (_, _, first), (_, _, second), (_, _, status) = replies
    assert first[:6] == ["s", 0, 2, "g1", "queued", 1]
    assert first[6:9] == [0.0, 0.0, -1.0] and first[9] >= 0  # progress, elapsed, eta, waited
    assert first[10:] == ["fake", long_prompt.strip()]  # its model: the startup one
    assert second[:6] == ["s", 1, 2, "g2", "queued", 2] and second[10:] == ["debug", "b"]
    assert status[:6] == ["s", "loading", "fake", "", "", 2]  # the startup model, loading
    plain = harness.message("/musicgen/status", "id", "t", "reply_port", 9001)
    assert [address for _, address, _ in plain] == ["/musicgen/status"]
    assert plain[0][2][1:] == status[1:]
