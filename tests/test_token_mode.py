"""Token mode (serve --token): nothing goes back before the token is checked, except
at most one short ``unauthorized`` to a well-formed request with an id (issue 27, 7-8).

Run against an in-process server on loopback with a fake engine; every wait is bounded.
"""

from __future__ import annotations

import struct

import pytest

from bridge import requests
from bridge.config import ServeConfig, listen_problem
from bridge.server import encode
from tests.fakes import FakeEngine
from tests.test_load import P, Peer, in_process_server

TOKEN = "s3cret-studio-token"
QUIET_S = 0.5  # how long a test listens for replies that must not come


@pytest.fixture
def peer(tmp_path):
    with (
        in_process_server(FakeEngine(), out_dir=tmp_path, token=TOKEN) as server,
        Peer(server.address) as peer,
    ):
        yield peer


def replies_to(peer: Peer, data: bytes) -> list[bytes]:
    """Every datagram that comes back within QUIET_S of sending ``data``."""
    peer.sock.sendto(data, peer.engine)
    got = []
    peer.sock.settimeout(QUIET_S)
    while True:
        try:
            got.append(peer.sock.recvfrom(65535)[0])
        except TimeoutError:
            return got


def bundle(*messages: bytes) -> bytes:
    body = b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return b"#bundle\x00" + b"\x00" * 7 + b"\x01" + body


def test_garbage_gets_no_reply_in_token_mode(peer):
    assert replies_to(peer, b"/x\x00\x00,\x00\x00\x00") == []  # 8 bytes: an unknown address
    assert replies_to(peer, encode((f"{P}/nothing", ["id", "a", "reply_port", peer.port]))) == []


def test_a_request_without_an_id_gets_no_reply(peer):
    assert replies_to(peer, encode((f"{P}/ping", ["reply_port", peer.port]))) == []


def test_an_unauthenticated_request_gets_one_short_unauthorized_naming_no_keys(peer):
    request = encode((f"{P}/generate", ["id", "g1", "reply_port", peer.port, "bogus", 1]))
    [reply] = replies_to(peer, request)
    assert len(reply) <= len(request) + 64, len(reply)
    assert b"unauthorized" in reply and b"g1" in reply
    for key in (b"prompt", b"bogus", b"melody", b"out_dir"):
        assert key not in reply, reply


def test_a_bundle_of_a_hundred_gets_at_most_one_reply(peer):
    ping = encode((f"{P}/ping", ["id", "b", "reply_port", peer.port]))
    assert len(replies_to(peer, bundle(*[ping] * 100))) <= 1


def test_with_the_token_everything_is_answered_as_before(peer):
    peer.send("ping", "ok", token=TOKEN)
    assert peer.until("ok", {f"{P}/pong"}, timeout=5)
    ping = encode((f"{P}/ping", ["id", "bb", "reply_port", peer.port, "token", TOKEN]))
    assert len(replies_to(peer, bundle(ping, ping))) == 2  # each answered, as without a token


def test_a_token_with_surrounding_spaces_is_refused_at_start_in_words():
    for token in (f" {TOKEN}", f"{TOKEN} ", f"\t{TOKEN}\n"):
        problem = listen_problem(ServeConfig(host="0.0.0.0", token=token))
        assert problem is not None and "space" in problem, problem
    assert listen_problem(ServeConfig(host="0.0.0.0", token=TOKEN)) is None


def test_the_token_is_compared_as_the_request_sends_it_trimmed():
    """Requests' strings are trimmed; the configured token never has spaces to trim."""
    limits = requests.Limits(token=TOKEN)
    args = ["id", "t", "reply_port", 9001, "token", f" {TOKEN} "]
    assert requests.parse(f"{P}/ping", args, limits).id == "t"
