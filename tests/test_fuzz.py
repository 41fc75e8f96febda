"""Fuzzing the OSC front door (issue 7, "Hardening"): parse() and handle_datagram().

Property-based, with hypothesis, derandomized and database-free so CI sees the
same cases every run.  What is proved:

1. ``requests.parse`` on random addresses and argument lists (every value type
   python-osc can hand over) returns a request or raises ``RequestRejected``
   with a documented validation code; never any other exception.
2. ``OscServer.handle_datagram`` on random bytes, every prefix of real
   requests, bit-flipped requests, packets up to 64 KiB and bundles never
   raises and never hangs.  A datagram python-osc cannot parse is dropped with
   a log line and no reply; every message it can parse gets exactly one reply,
   and an invalid one gets ``/musicgen/error`` with the request's id and a
   documented code.
3. Requests generated from ``protocol.ADDRESSES`` are accepted with exactly the
   fields sent, and single mutations of them (a wrong type, a value out of
   range, a missing or unknown or repeated key...) get exactly the code that
   mutation calls for.

Like test_protocol.py, no socket is used: ``server.send`` is replaced by a
recorder (which still encodes every reply, as the real send does).  The number
of cases run is printed at the end of the module (terminal reporter).
"""

from __future__ import annotations

import logging
import random
import re
import signal
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from bridge import osc, protocol, replies, requests, version
from bridge.config import ServeConfig
from bridge.server import OscServer, bundle_problem, encode
from engine.spec import (
    DEFAULT_GUIDANCE,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    GenerationSpec,
)
from engine.timing import ALLOWED_DENOMINATORS, TimeSignature, bars_to_seconds
from tests.fakes import FakeEngine

SOURCE = ("127.0.0.1", 50123)
MAX_SECONDS = 30.0
MAX_DATAGRAM = 65535
HANG_S = 2.0  # a datagram takes milliseconds; this long means it never returns

ERROR = "/musicgen/error"
REPLY_FOR = {
    "/musicgen/generate": "/musicgen/queued",
    "/musicgen/cancel": "/musicgen/cancel",
    "/musicgen/status": "/musicgen/status",
    "/musicgen/ping": "/musicgen/pong",
    "/musicgen/models": "/musicgen/models",
}


def documented_codes() -> set[str]:
    """The codes in docs/protocol.md's "Error codes" table."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text("utf-8")
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


DOCUMENTED = documented_codes()
# What validation may answer (InvalidRequest and its children)...
PARSE_CODES = {
    "unknown_address",
    "invalid_request",
    "missing_argument",
    "unknown_argument",
    "wrong_type",
    "out_of_range",
    "invalid_value",
    "bad_path",
}
# ...and what the dispatch after it may add.  internal_error is never expected.
DISPATCH_CODES = {"duplicate_id", "busy", "unknown_job", "shutting_down"}

# How many cases each property ran (hypothesis examples, or datagrams fed).
RAN: Counter[str] = Counter()

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


def test_the_code_tables_agree():
    assert len(DOCUMENTED) >= 18, DOCUMENTED
    assert PARSE_CODES | DISPATCH_CODES <= DOCUMENTED


# -- harness --------------------------------------------------------------------


class Hang(BaseException):
    """Raised into the main thread when a call runs past HANG_S (BaseException:
    no ``except Exception`` on the way can swallow it)."""


@contextmanager
def no_hang(seconds: float = HANG_S) -> Iterator[None]:
    """Interrupt the block with :class:`Hang` after ``seconds`` (POSIX main thread only)."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


Sent = tuple[tuple[str, int], str, list]


class Harness:
    """An OscServer with a fake engine whose replies are recorded, not sent."""

    def __init__(self, out_dir: Path) -> None:
        config = ServeConfig(max_seconds=MAX_SECONDS, out_dir=out_dir, max_queue=4, model="fake")
        self.server = OscServer(config, FakeEngine())
        self.sent: list[Sent] = []
        self.server.send = self._record  # type: ignore[method-assign]

    def _record(self, to: tuple[str, int], reply: replies.Reply) -> None:
        address, args = reply
        decoded = OscMessage(encode(reply))  # the real send encodes; it must not fail
        assert (decoded.address, decoded.params) == (address, list(args))
        self.sent.append((to, address, list(args)))

    def feed(self, data: bytes) -> list[Sent]:
        self.sent.clear()
        try:
            with no_hang():
                self.server.handle_datagram(data, SOURCE)
        except Hang:
            pytest.fail(f"handle_datagram never returned for {data[:64]!r}... ({len(data)} B)")
        return list(self.sent)

    def close(self) -> None:
        self.server.jobs.shutdown(1)
        self.server._out.close()


@contextmanager
def harness(out_dir: Path) -> Iterator[Harness]:
    h = Harness(out_dir)
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-out")
    (folder / "afile.wav").write_bytes(b"")
    return folder


def _not_python_osc(record: logging.LogRecord) -> bool:
    return "pythonosc" not in record.pathname


@pytest.fixture(scope="module", autouse=True)
def report_case_counts(request):
    # python-osc warns on the root logger about every odd byte it skips; that
    # noise is not the server's log and would swamp caplog.
    root = logging.getLogger()
    root.addFilter(_not_python_osc)
    yield
    root.removeFilter(_not_python_osc)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  {name}: {count}" for name, count in sorted(RAN.items())]
    text = f"fuzz cases run: {sum(RAN.values())}\n" + "\n".join(lines)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(text)


def osc_types_of(value: Any) -> Any:
    """The OSC type tag(s) for a value, keeping floats and large ints exact."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return "i" if -(2**31) <= value < 2**31 else "h"
    if isinstance(value, float):
        return "d"
    if isinstance(value, str):
        return "s"
    if isinstance(value, bytes):
        return "b"
    if value is None:
        return "N"
    if isinstance(value, tuple):
        return "m"
    if isinstance(value, list):
        return [osc_types_of(v) for v in value]
    raise TypeError(value)


def osc_message(address: str, args: list[Any]) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg, osc_types_of(arg))
    return builder.build().dgram


def osc_bundle(timetag: bytes, contents: list[bytes]) -> bytes:
    return b"#bundle\x00" + timetag + b"".join(struct.pack(">i", len(c)) + c for c in contents)


def flatten(pairs: list[tuple[Any, Any]]) -> list[Any]:
    return [item for pair in pairs for item in pair]


# -- the oracle: what the reply to one parsed message must look like -------------

_USABLE_ID = re.compile(r"[\x21-\x7e]{1,64}")


def allowed_echoes(params: list[Any]) -> set[str]:
    """The ids an error reply may carry: the (trimmed) id if usable, else "".

    An id given twice, or not valid as sent (an over-long one too), is never
    echoed: a reply under it, or under a part of it, could name another request.
    """
    ids = [v for k, v in zip(params[::2], params[1::2], strict=False) if k == "id"]
    if len(ids) != 1 or not isinstance(ids[0], str):
        return {""}
    text = ids[0].strip()
    return {text} if _USABLE_ID.fullmatch(text) else {""}


def reply_ports(params: list[Any]) -> set[int]:
    """Where an error reply may go: a valid reply_port, else the source port.

    (With reply_port given twice, one valid and one not, either is fair.)
    """
    given = [v for k, v in zip(params[::2], params[1::2], strict=False) if k == "reply_port"]
    ports = {v for v in given if type(v) is int and 1 <= v <= 65535}
    if not ports or len(ports) < len(given):
        ports.add(SOURCE[1])
    return ports


def check_reply(address: str, params: list[Any], sent: Sent) -> None:
    """One message's one reply: a documented error with the right id, or its answer."""
    to, reply_address, reply_args = sent
    assert to[0] == SOURCE[0]
    if reply_address == ERROR:
        assert len(reply_args) == 3, reply_args
        request_id, code, message = reply_args
        assert code in (PARSE_CODES | DISPATCH_CODES) & DOCUMENTED, (code, message)
        assert isinstance(message, str) and message.endswith(".") and len(message) > 5
        if code == "duplicate_id":  # its id names another request's job
            assert request_id == "", reply_args
        else:
            assert request_id in allowed_echoes(params), (request_id, params)
        assert to[1] in reply_ports(params), (to, params)
        if address not in protocol.ADDRESSES:
            assert code == "unknown_address"
        elif len(params) % 2:
            assert code == "invalid_request"
        return
    # Accepted: it must have been a complete, well-typed envelope.
    assert reply_address == REPLY_FOR.get(address), (address, reply_address)
    assert len(params) % 2 == 0
    keys = params[::2]
    assert all(isinstance(k, str) for k in keys) and len(set(keys)) == len(keys)
    envelope = dict(zip(keys, params[1::2], strict=True))
    assert reply_args[0] == envelope["id"].strip()
    assert to == (SOURCE[0], envelope["reply_port"])


def malformed_lines(records: list[logging.LogRecord]) -> int:
    return sum(
        r.name == "bridge.server"
        and r.levelno >= logging.WARNING
        and "malformed packet" in r.getMessage()
        for r in records
    )


def check_datagram(h: Harness, data: bytes, caplog, built: bool = False) -> int:
    """Feed one datagram and hold the server to the contract; returns replies seen.

    What python-osc cannot parse must be dropped with one log line and no reply.
    What it can parse is answered message by message; for damaged bytes
    (``built=False``) the server may instead be stricter than python-osc (which
    accepts, say, a bundle element whose size overruns the datagram) and drop
    the whole datagram, with its log line.  Datagrams ``built`` by python-osc's
    own builder must be answered.
    """
    try:
        with no_hang():
            messages = [
                (m.message.address, list(m.message.params)) for m in OscPacket(data).messages
            ]
    except (Exception, Hang):
        messages = None  # not OSC, as far as python-osc can tell
    # The server reads every type tag at its size (bridge/osc.py); python-osc
    # skips S, c and I without reading them, so where the two differ, the
    # server's reading is the one its replies answer.
    try:
        ours = osc.decode(data) if bundle_problem(data) is None else None
    except osc.OscError:
        ours = None
    if ours is not None:
        messages = ours
    seen = len(caplog.records)
    replies = h.feed(data)
    if messages is None:
        assert replies == []
        assert malformed_lines(caplog.records[seen:]) == 1
        return 0
    if not built and not replies and malformed_lines(caplog.records[seen:]) == 1:
        return 0
    pending = list(replies)
    for address, params in messages:
        assert pending, f"no reply to {address} {params!r}"
        first = pending.pop(0)
        if (
            address == "/musicgen/cancel"
            and first[1] == ERROR
            and first[2][1] == "cancelled"
            and pending
            and pending[0][1] == "/musicgen/cancel"
        ):
            first = pending.pop(0)  # the cancelled job's own terminal error came first
        check_reply(address, params, first)
    assert pending == [], f"extra replies: {pending!r}"
    return len(replies)


# -- strategies -------------------------------------------------------------------

NO_NUL = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
wire_text = st.text(NO_NUL, max_size=40) | st.sampled_from(
    ["", " ", "id", "reply_port", "4/4", "debug", "/", "..", "a b", "é", "\t\n", "x" * 65]
)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
osc_int = int32 | int64 | st.sampled_from([0, -1, 1, 65535, 65536, 2**31 - 1, -(2**63)])
osc_float = st.floats() | st.sampled_from(
    [float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1e308, 5e-324]
)
midi = st.tuples(*[st.integers(0, 255)] * 4)
timetag = st.tuples(st.datetimes(min_value=datetime(1900, 1, 1)), st.integers(0, 2**32 - 1))
scalar = st.one_of(
    wire_text,
    osc_int,
    osc_float,
    st.binary(min_size=1, max_size=40),
    st.booleans(),
    st.none(),
)
# What python-osc's parser can hand to handle_message: scalars, midi / timetag
# tuples, and arrays nested in arrays.
parsed_value = st.recursive(
    scalar | midi | timetag, lambda v: st.lists(v, max_size=4), max_leaves=8
)
# What we can encode into a datagram (explicit types keep values exact).
wire_value = st.recursive(scalar | midi, lambda v: st.lists(v, max_size=4), max_leaves=8)

ARG_NAMES = sorted({a.name for table in protocol.ADDRESSES.values() for a in table})
addresses = st.one_of(
    st.sampled_from(sorted(protocol.ADDRESSES)),
    st.sampled_from(["/musicgen", "/musicgen/", "/musicgen/PING", "/musicgen/ping/", "/", "//"]),
    st.builds(lambda s: "/" + s, wire_text),
    st.builds(lambda s: "/musicgen/" + s, wire_text),
)

valid_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)


def near(arg: protocol.Arg, value: Any) -> st.SearchStrategy:
    """A value for ``arg``: maybe right, maybe the wrong type, maybe out of range."""
    if arg.kind == "str":
        high = int(arg.maximum or 100)
        edge = st.sampled_from(["", " ", "x" * high, "x" * (high + 1)])
        return st.sampled_from([value]) | edge | wire_text | parsed_value
    low_n, high_n = arg.minimum, arg.maximum
    edges = [v for v in (low_n, high_n) if v is not None]
    numbers = [x for v in edges for x in (v, v - 1, v + 1, v - 1e-9, v + 1e-9)]
    return st.sampled_from([value, *numbers, *[int(n) for n in numbers]]) | parsed_value


@st.composite
def length_fields(draw) -> dict[str, Any]:
    """seconds, or bars with bpm (and maybe timesig), or nothing: always <= MAX_SECONDS."""
    choice = draw(st.sampled_from(["none", "seconds", "bars"]))
    if choice == "none":
        return {}
    if choice == "seconds":
        return {"seconds": draw(st.floats(0.1, MAX_SECONDS) | st.integers(1, int(MAX_SECONDS)))}
    timesig = TimeSignature(draw(st.integers(1, 64)), draw(st.sampled_from(ALLOWED_DENOMINATORS)))
    bpm = draw(st.floats(20, 400) | st.integers(20, 400))
    most = min(256.0, MAX_SECONDS * bpm / (60 * float(timesig.quarter_notes_per_bar)))
    assume(most >= 0.25)
    bars = draw(st.floats(0.25, most) | st.integers(1, max(1, int(most))))
    assume(bars_to_seconds(bars, bpm, timesig) <= MAX_SECONDS + 1e-9)
    fields: dict[str, Any] = {"bars": bars, "bpm": bpm}
    if timesig != TimeSignature() or draw(st.booleans()):
        fields["timesig"] = str(timesig)
    return fields


hub_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}/[A-Za-z0-9_.-]{1,20}\Z")
prompts = st.text(NO_NUL, min_size=1, max_size=1000).filter(lambda s: s.strip())


@st.composite
def valid_requests(draw, out_dir: Path, padded_ids: bool = True) -> tuple[str, dict[str, Any]]:
    """An (address, fields) that the table says is valid."""
    address = draw(st.sampled_from(sorted(protocol.ADDRESSES)))
    pad = st.sampled_from(["", " ", "\t", "  "]) if padded_ids else st.just("")
    fields: dict[str, Any] = {
        "id": draw(pad) + draw(valid_ids) + draw(pad),
        "reply_port": draw(st.integers(1, 65535)),
    }
    if address == "/musicgen/cancel":
        any_text = st.text(NO_NUL, min_size=1, max_size=64).filter(lambda s: s.strip())
        fields["job"] = draw(valid_ids | any_text)
    if address == "/musicgen/generate":
        fields["prompt"] = draw(prompts)
        fields.update(draw(length_fields()))
        optional = {
            "seed": st.integers(0, 2**31 - 1),
            "temperature": st.floats(0.05, 5) | st.integers(1, 5),
            "top_k": st.integers(0, 2048),
            "top_p": st.floats(0, 1) | st.sampled_from([0, 1]),
            "guidance": st.floats(1, 20) | st.integers(1, 20),
            "model": st.just("debug") | hub_ids | st.just("/opt/models/musicgen-small"),
            "out_dir": st.just(str(out_dir)),
        }
        for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
            fields[key] = draw(optional[key])
    return address, fields


def as_args(fields: dict[str, Any], draw) -> list[Any]:
    """The fields as key/value arguments, in a drawn order."""
    keys = draw(st.permutations(sorted(fields)))
    return flatten([(k, fields[k]) for k in keys])


def expected_request(address: str, fields: dict[str, Any], out_dir: Path) -> requests.Request:
    """What parse must return for a valid request: built from the table, not from parse."""
    request_id, port = fields["id"].strip(), fields["reply_port"]
    kind = address.rsplit("/", 1)[1]
    if kind == "cancel":
        return requests.CancelRequest(request_id, port, fields["job"].strip())
    if kind != "generate":
        return requests.QueryRequest(kind, request_id, port)  # type: ignore[arg-type]

    def num(key: str, default: Any = None) -> Any:
        return float(fields[key]) if key in fields else default

    bars = num("bars")
    spec = GenerationSpec(
        prompt=fields["prompt"].strip(),
        out_dir=Path(fields.get("out_dir", out_dir)),
        seconds=num("seconds", None if bars is not None else protocol.DEFAULT_SECONDS),
        bars=bars,
        bpm=num("bpm"),
        timesig=TimeSignature.parse(fields.get("timesig", "4/4")),
        seed=fields.get("seed"),
        temperature=num("temperature", DEFAULT_TEMPERATURE),
        top_k=fields.get("top_k", DEFAULT_TOP_K),
        top_p=num("top_p", DEFAULT_TOP_P),
        guidance=num("guidance", DEFAULT_GUIDANCE),
        model=fields.get("model"),
    )
    return requests.GenerateRequest(request_id, port, spec)


# -- 1. parse() on anything ----------------------------------------------------------


@st.composite
def any_arguments(draw, out_dir: Path) -> list[Any]:
    shape = draw(st.sampled_from(["flat", "pairs", "near"]))
    if shape == "flat":
        return draw(st.lists(parsed_value, max_size=12))
    keys = st.sampled_from(ARG_NAMES) | wire_text | parsed_value
    if shape == "pairs":
        args = flatten(draw(st.lists(st.tuples(keys, parsed_value), max_size=10)))
    else:  # a valid request with some values swapped for near misses
        address, fields = draw(valid_requests(out_dir))
        table = {a.name: a for a in protocol.ADDRESSES[address]}
        for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
            fields[key] = draw(near(table[key], fields[key]))
        args = as_args(fields, draw)
        extra = draw(st.lists(st.tuples(keys, parsed_value), max_size=2))
        args = args + flatten(extra)
    if draw(st.booleans()) and draw(st.booleans()):
        args.append(draw(keys))  # an odd count
    return args


@settings(FUZZ, max_examples=1000)
@given(data=st.data())
def test_parse_returns_a_request_or_a_documented_code(out_dir, data):
    address = data.draw(addresses)
    args = data.draw(any_arguments(out_dir))
    RAN["parse: random addresses and arguments"] += 1
    limits = requests.Limits(MAX_SECONDS, out_dir)
    try:
        request = requests.parse(address, list(args), limits)
    except requests.RequestRejected as exc:
        assert exc.code in PARSE_CODES & DOCUMENTED, (exc.code, exc.message)
        assert exc.code == exc.error.code and isinstance(exc.message, str) and exc.message
        assert isinstance(exc.request_id, str) and len(exc.request_id) <= protocol.MAX_ID_CHARS
        assert exc.reply_port is None or 1 <= exc.reply_port <= 65535
        return
    # Accepted: only a complete, well-typed request gets here.
    assert address in protocol.ADDRESSES
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert request.id == pairs["id"].strip() and _USABLE_ID.fullmatch(request.id)
    assert request.reply_port == pairs["reply_port"]
    if isinstance(request, requests.GenerateRequest):
        assert 0 < request.spec.duration_seconds <= MAX_SECONDS + 1e-9
        assert request.spec.out_dir.is_dir()


# -- 2. handle_datagram() on anything --------------------------------------------------


@st.composite
def encoded_messages(draw, out_dir: Path) -> bytes:
    """A real, parseable OSC message: valid, near-valid, or nonsense arguments."""
    kind = draw(st.sampled_from(["valid", "near", "random"]))
    if kind == "random":
        address = draw(addresses)
        args = draw(st.lists(wire_value, max_size=10))
    else:
        address, fields = draw(valid_requests(out_dir, padded_ids=False))
        if kind == "near":
            table = {a.name: a for a in protocol.ADDRESSES[address]}
            for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
                fields[key] = draw(near(table[key], fields[key]).filter(_encodable))
        args = as_args(fields, draw)
    assume(all(_encodable(a) for a in args) and "\x00" not in address)
    return osc_message(address, args)


def _encodable(value: Any) -> bool:
    """python-osc can carry it (no datetimes, no NUL in strings, no empty blobs)."""
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    if isinstance(value, tuple):
        return len(value) == 4 and all(type(v) is int for v in value)
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, bytes):
        return len(value) > 0
    return True


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_well_formed_messages_get_exactly_one_reply(out_dir, caplog, data):
    caplog.set_level(logging.INFO, logger="bridge.server")
    dgram = data.draw(encoded_messages(out_dir))
    RAN["datagram: well-formed messages"] += 1
    with harness(out_dir) as h:
        assert check_datagram(h, dgram, caplog, built=True) == 1


random_bytes = st.one_of(
    st.binary(max_size=256),
    st.builds(lambda b: b"/" + b, st.binary(max_size=256)),
    st.builds(lambda b: b"/musicgen/ping\x00\x00" + b, st.binary(max_size=64)),
    st.builds(lambda b: b"#bundle\x00" + b, st.binary(max_size=64)),
    # up to 64 KiB of noise
    st.builds(
        lambda seed, n, prefix: prefix + random.Random(seed).randbytes(n),
        st.integers(0, 2**32),
        st.integers(0, MAX_DATAGRAM - 8),
        st.sampled_from([b"", b"/", b"#bundle\x00"]),
    ),
)


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_random_bytes_never_break_the_server(out_dir, caplog, data):
    caplog.set_level(logging.INFO, logger="bridge.server")
    dgram = data.draw(random_bytes)
    RAN["datagram: random bytes"] += 1
    with harness(out_dir) as h:
        check_datagram(h, dgram, caplog)


@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_every_prefix_of_a_real_request(out_dir, caplog, data):
    caplog.set_level(logging.INFO, logger="bridge.server")
    dgram = data.draw(encoded_messages(out_dir) | bundles(out_dir))
    assume(len(dgram) <= 1024)
    for size in range(len(dgram) + 1):
        RAN["datagram: prefixes of real requests"] += 1
        with harness(out_dir) as h:
            check_datagram(h, dgram[:size], caplog)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_bit_flipped_requests(out_dir, caplog, data):
    caplog.set_level(logging.INFO, logger="bridge.server")
    dgram = bytearray(data.draw(encoded_messages(out_dir) | bundles(out_dir)))
    for bit in data.draw(st.lists(st.integers(0, len(dgram) * 8 - 1), min_size=1, max_size=4)):
        dgram[bit // 8] ^= 1 << (bit % 8)
    RAN["datagram: bit flips"] += 1
    with harness(out_dir) as h:
        check_datagram(h, bytes(dgram), caplog)


@settings(FUZZ, max_examples=30)
@given(
    size=st.integers(1001, MAX_DATAGRAM - 200),
    where=st.sampled_from(["prompt", "blob", "unknown"]),
    request_id=valid_ids,
)
def test_oversized_requests_are_refused_with_their_id(out_dir, caplog, size, where, request_id):
    caplog.set_level(logging.INFO, logger="bridge.server")
    args: list[Any] = ["id", request_id, "reply_port", 9001, "prompt", "p", "out_dir", str(out_dir)]
    if where == "prompt":
        args[5] = "x" * size
    elif where == "blob":
        args += ["seed", b"\x01" * size]
    else:
        args += ["k" * size, 1]
    dgram = osc_message("/musicgen/generate", args)
    assume(len(dgram) <= MAX_DATAGRAM)
    RAN["datagram: oversized (up to 64 KiB)"] += 1
    with harness(out_dir) as h:
        [(to, address, reply)] = h.feed(dgram)
    code = {"prompt": "out_of_range", "blob": "wrong_type", "unknown": "unknown_argument"}[where]
    assert (to, address, reply[:2]) == (("127.0.0.1", 9001), ERROR, [request_id, code])


TIMETAGS = [b"\x00" * 7 + b"\x01", b"\x00" * 8, struct.pack(">Q", 1 << 62), b"\xff" * 8]


@st.composite
def bundles(draw, out_dir: Path, depth: int = 0) -> bytes:
    element = encoded_messages(out_dir)
    if depth < 2:
        element = element | bundles(out_dir, depth + 1)
    contents = draw(st.lists(element, min_size=0, max_size=4))
    return osc_bundle(draw(st.sampled_from(TIMETAGS)), contents)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_bundles_answer_every_message_inside(out_dir, caplog, data):
    caplog.set_level(logging.INFO, logger="bridge.server")
    dgram = data.draw(bundles(out_dir))
    RAN["datagram: bundles"] += 1
    with harness(out_dir) as h:
        check_datagram(h, dgram, caplog, built=True)


# -- 3. valid requests, and exact codes for single mutations -----------------------


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_valid_requests_from_the_table_are_accepted(out_dir, data):
    address, fields = data.draw(valid_requests(out_dir))
    args = as_args(fields, data.draw)
    RAN["valid: requests from the table"] += 1
    expected = expected_request(address, fields, out_dir)
    assert requests.parse(address, args, requests.Limits(MAX_SECONDS, out_dir)) == expected

    request_id, to = expected.id, ("127.0.0.1", expected.reply_port)
    job = getattr(expected, "job", "")
    queue_first = address == "/musicgen/cancel" and bool(_USABLE_ID.fullmatch(job))
    with harness(out_dir) as h:
        if queue_first:  # a job to cancel (a job id must itself be a usable id)
            queue = ["id", job, "reply_port", 7000, "prompt", "p", "out_dir", str(out_dir)]
            assert h.feed(osc_message("/musicgen/generate", queue))[0][1] == "/musicgen/queued"
        replies = h.feed(osc_message(address, args))
        run = h.server.run
    state = ["loading", "fake"]  # the fake's startup model: the worker is never started
    answers = {
        "/musicgen/generate": [(to, "/musicgen/queued", [request_id, 1])],
        "/musicgen/ping": [(to, "/musicgen/pong", [request_id, version(), *state, "", run])],
        "/musicgen/status": [
            (
                to,
                "/musicgen/status",
                [request_id, *state, "", "", 0, "", 0, 64.0, -1.0, -1.0, run],
            )
        ],
        "/musicgen/models": [(to, "/musicgen/models", [request_id, "", "fake", "debug"])],
    }
    if address == "/musicgen/cancel" and not queue_first:
        [(reply_to, reply_address, reply)] = replies
        assert (reply_to, reply_address, reply[:2]) == (to, ERROR, [request_id, "unknown_job"])
    elif address == "/musicgen/cancel":
        [(job_to, job_address, job_reply), answer] = replies
        assert (job_to, job_address, job_reply[:2]) == (
            ("127.0.0.1", 7000),
            ERROR,
            [job, "cancelled"],
        )
        assert answer == (to, "/musicgen/cancel", [request_id, job, "queued"])
    else:
        assert replies == answers[address]


NOT_STR = st.one_of(
    osc_int,
    st.floats(),
    st.binary(min_size=1, max_size=8),
    st.booleans(),
    st.none(),
    st.lists(int32, min_size=1, max_size=2),
    midi,
)
NOT_INT = st.one_of(
    wire_text,
    st.floats(),
    st.binary(min_size=1, max_size=8),
    st.booleans(),
    st.none(),
    st.lists(int32, min_size=1, max_size=2),
    midi,
    st.sampled_from(["8", "9001"]),
)
NOT_NUMBER = st.one_of(
    wire_text,
    st.binary(min_size=1, max_size=8),
    st.booleans(),
    st.none(),
    st.lists(int32, min_size=1, max_size=2),
    midi,
    st.sampled_from(["8", "8.0"]),
)


def out_of_range(arg: protocol.Arg) -> st.SearchStrategy:
    low, high = arg.minimum, arg.maximum
    if arg.name == "seconds":
        high = MAX_SECONDS  # the engine's limit, not the table's
    if arg.kind == "int":
        below = st.integers(-(2**63), int(low) - 1) if low is not None else st.nothing()
        above = st.integers(int(high) + 1, 2**63 - 1) if high is not None else st.nothing()
        return below | above
    bad = st.sampled_from([float("nan"), float("inf"), float("-inf")])
    if low is not None:
        bad |= st.floats(max_value=low, exclude_max=True)
        bad |= st.integers(-(2**63), int(low) - 1)
    if high is not None:
        bad |= st.floats(min_value=high + 1e-6) | st.integers(int(high) + 1, 2**63 - 1)
    return bad


@st.composite
def mutated_requests(draw, out_dir: Path) -> tuple[str, list[Any], str]:
    """A valid request with exactly one thing wrong, and the code that thing calls for."""
    address, fields = draw(valid_requests(out_dir, padded_ids=False))
    table = {a.name: a for a in protocol.ADDRESSES[address]}
    generate = address == "/musicgen/generate"
    kinds = [
        "wrong_type",
        "too_long",
        "empty",
        "missing",
        "unknown_key",
        "duplicate",
        "odd",
        "key_not_str",
        "address",
        "bad_id",
    ]
    if any(table[k].kind != "str" for k in fields):
        kinds.append("out_of_range")
    if generate:
        kinds += ["bad_path", "bad_model", "bad_timesig", "bars_and_seconds", "bars_no_bpm"]
    kind = draw(st.sampled_from(kinds))
    key = draw(st.sampled_from(sorted(fields)))
    code = {
        "wrong_type": "wrong_type",
        "too_long": "out_of_range",
        "empty": "invalid_value",
        "missing": "missing_argument",
        "unknown_key": "unknown_argument",
        "duplicate": "invalid_request",
        "odd": "invalid_request",
        "key_not_str": "wrong_type",
        "address": "unknown_address",
        "bad_id": "invalid_value",
        "out_of_range": "out_of_range",
        "bad_path": "bad_path",
        "bad_model": "invalid_value",
        "bad_timesig": "invalid_value",
        "bars_and_seconds": "invalid_request",
        "bars_no_bpm": "missing_argument",
    }[kind]
    extra: list[Any] = []
    if kind == "wrong_type":
        kind_of = table[key].kind
        fields[key] = draw({"str": NOT_STR, "int": NOT_INT, "float": NOT_NUMBER}[kind_of])
    elif kind == "too_long":
        key = draw(st.sampled_from(sorted(k for k in fields if table[k].kind == "str")))
        size = int(table[key].maximum or 0) + draw(st.integers(0, 50))
        fields[key] = "x" + draw(st.text(NO_NUL, max_size=20)) + "x" * size
    elif kind == "empty":
        key = draw(st.sampled_from(sorted(k for k in fields if table[k].kind == "str")))
        fields[key] = draw(st.sampled_from(["", " ", "\t \n"]))
        if key == "timesig":
            fields[key] = draw(st.sampled_from(["", "4/", "12"]))  # under 3 characters
    elif kind == "out_of_range":
        key = draw(st.sampled_from(sorted(k for k in fields if table[k].kind != "str")))
        fields[key] = draw(out_of_range(table[key]))
        if key == "bars":  # in the table's range, but longer than the engine makes
            fields[key] = draw(out_of_range(table[key]) | st.just(256))
            fields["bpm"] = 20
    elif kind == "missing":
        key = draw(st.sampled_from(sorted(k for k in fields if table[k].required)))
        del fields[key]
    elif kind == "unknown_key":
        unknown = draw(wire_text.filter(lambda s: s not in table))
        extra = [unknown, draw(wire_value.filter(_encodable))]
    elif kind == "duplicate":
        extra = [key, draw(st.sampled_from([fields[key]]) | wire_value.filter(_encodable))]
    elif kind == "odd":
        extra = [draw(st.sampled_from(ARG_NAMES) | wire_text)]
    elif kind == "address":
        address = draw(addresses.filter(lambda a: a not in protocol.ADDRESSES and "\x00" not in a))
    elif kind == "bad_id":
        core = draw(valid_ids.filter(lambda s: len(s) < 60))
        fields["id"] = core + draw(st.sampled_from([" x", "é", "\x7f", "\x01", "\u00a0x"]))
    elif kind == "bad_path":
        fields["out_dir"] = draw(
            st.sampled_from(
                [
                    "relative/folder",
                    "x",
                    ".",
                    str(out_dir / "missing"),
                    str(out_dir / "afile.wav"),
                    str(out_dir / "afile.wav" / "below"),
                ]
            )
        )
    elif kind == "bad_model":
        fields["model"] = draw(
            st.text(NO_NUL, min_size=1, max_size=30).filter(
                lambda s: s.strip() and "/" not in s and s.strip() != "debug"
            )
        )
    elif kind == "bad_timesig":
        fields["timesig"] = draw(
            st.sampled_from(
                ["4-4", "0/4", "4/3", "65/4", "a/b", "4/4/", "4 4", "-4/4", "4/0", "x/4"]
            )
        )
    elif kind == "bars_and_seconds":
        fields.update({"bars": 1, "bpm": 120, "seconds": 2.0})
    elif kind == "bars_no_bpm":
        fields.pop("seconds", None)
        fields.pop("bpm", None)
        fields["bars"] = 1
    args = as_args(fields, draw)
    if kind == "key_not_str":
        index = 2 * draw(st.integers(0, len(args) // 2 - 1))
        args[index] = draw(NOT_STR.filter(_encodable))
    return address, args + extra, code


@settings(FUZZ, max_examples=800)
@given(data=st.data())
def test_one_thing_wrong_gets_exactly_its_code(out_dir, caplog, data):
    caplog.set_level(logging.INFO, logger="bridge.server")
    address, args, code = data.draw(mutated_requests(out_dir))
    RAN["invalid: single mutations, exact code"] += 1
    [(_, received)] = osc.decode(osc_message(address, args))  # the arguments as they arrive
    with pytest.raises(requests.RequestRejected) as caught:
        requests.parse(address, received, requests.Limits(MAX_SECONDS, out_dir))
    assert caught.value.code == code, caught.value.message
    assert caught.value.request_id in allowed_echoes(args)
    with harness(out_dir) as h:
        [(to, reply_address, reply)] = h.feed(osc_message(address, args))
    assert (reply_address, reply[1], reply[2]) == (ERROR, code, caught.value.message)
    assert reply[0] in allowed_echoes(args) and to[1] in reply_ports(args)


# -- regressions: bugs the properties above found (each fails until fixed) --------------


BAD_UTF8 = {
    "address": b"/\xff\x00\x00",
    "argument": b"/musicgen/ping\x00\x00,ss\x00id\x00\x00\xff\xfe\x00\x00",
}


@pytest.mark.parametrize("where", sorted(BAD_UTF8))
def test_invalid_utf8_is_dropped_and_logged(out_dir, caplog, where):
    caplog.set_level(logging.INFO, logger="bridge.server")
    with harness(out_dir) as h:
        assert h.feed(BAD_UTF8[where]) == []
        assert malformed_lines(caplog.records) == 1
        ping = osc_message("/musicgen/ping", ["id", "p", "reply_port", 9001])
        assert h.feed(ping)[0][1] == "/musicgen/pong"  # still serving


def nested_bundle(depth: int) -> bytes:
    dgram = osc_message("/musicgen/ping", ["id", "p", "reply_port", 9001])
    for _ in range(depth):
        dgram = osc_bundle(b"\x00" * 7 + b"\x01", [dgram])
    return dgram


def test_deeply_nested_bundle_does_not_raise(out_dir, caplog):
    caplog.set_level(logging.INFO, logger="bridge.server")
    dgram = nested_bundle(1500)  # 30 KiB: fits one datagram
    assert len(dgram) <= MAX_DATAGRAM
    with harness(out_dir) as h:
        replies = h.feed(dgram)
    # Either answered, or dropped as malformed with a log line; never an exception.
    if replies:
        [(_, address, args)] = replies
        assert (address, args[0]) == ("/musicgen/pong", "p")
    else:
        assert malformed_lines(caplog.records) == 1


@pytest.mark.parametrize("after", ["nothing", "a message"])
def test_bundle_with_a_negative_element_size_does_not_hang(out_dir, caplog, after):
    # An element size of -4 sends python-osc's bundle parser back to read the
    # same size again, forever (20 bytes are enough).
    caplog.set_level(logging.INFO, logger="bridge.server")
    ping = osc_message("/musicgen/ping", ["id", "p", "reply_port", 9001])
    contents = [ping] if after == "a message" else []
    dgram = osc_bundle(b"\x00" * 7 + b"\x01", contents) + struct.pack(">i", -4)
    with harness(out_dir) as h:
        replies = h.feed(dgram)  # fails (does not hang) after HANG_S
    if replies:  # answering the good part is fine; dropping the whole bundle is too
        assert [(a, r[0]) for _, a, r in replies] == [("/musicgen/pong", "p")]
    else:
        assert malformed_lines(caplog.records) == 1


LONG_PATHS = {
    "component over NAME_MAX": "/" + "a" * 300,
    "path over PATH_MAX": "/" + "a/" * 2047 + "a",
}


@pytest.mark.parametrize("name", sorted(LONG_PATHS))
def test_overlong_out_dir_is_a_bad_path(out_dir, name):
    path = LONG_PATHS[name]
    assert len(path) <= 4096  # within the table's limit for out_dir
    args = ["id", "g", "reply_port", 9001, "prompt", "p", "out_dir", path]
    with pytest.raises(requests.RequestRejected) as caught:
        requests.parse("/musicgen/generate", args, requests.Limits(MAX_SECONDS, out_dir))
    assert caught.value.code == "bad_path"
    with harness(out_dir) as h:
        [(to, address, reply)] = h.feed(osc_message("/musicgen/generate", args))
    assert (to, address, reply[:2]) == (("127.0.0.1", 9001), ERROR, ["g", "bad_path"])


@settings(FUZZ, max_examples=60)
@given(
    core=valid_ids,
    pad=st.sampled_from(
        [(" ", ""), ("", " "), ("\t", "\t"), ("", "\n"), ("\n", ""), (" ", "\r\n")]
    ),
)
def test_an_error_reply_carries_the_id_a_valid_reply_would(out_dir, core, pad):
    RAN["regression: padded ids"] += 1
    raw = pad[0] + core + pad[1]
    limits = requests.Limits(MAX_SECONDS, out_dir)
    good = ["id", raw, "reply_port", 9001]
    assert requests.parse("/musicgen/ping", good, limits).id == core  # strings are trimmed
    with pytest.raises(requests.RequestRejected) as caught:
        requests.parse("/musicgen/ping", [*good, "colour", "blue"], limits)
    assert caught.value.request_id == core


def test_a_key_that_is_not_a_string_is_named_in_the_message(out_dir):
    args = ["id", "p", "reply_port", 9001, 7, "seven"]
    with pytest.raises(requests.RequestRejected) as caught:
        requests.parse("/musicgen/ping", args, requests.Limits(MAX_SECONDS, out_dir))
    assert caught.value.code == "wrong_type"
    assert "7" in caught.value.message and "seven" not in caught.value.message
