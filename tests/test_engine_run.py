"""The engine run's identity (docs/protocol.md, ping): a client following a take
notices a restarted engine and fails the take in words, not by waiting forever."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pythonosc.osc_packet import OscPacket

import bridge.client
from bridge import cli, cli_common
from bridge.client import EngineClient, EngineRestarted
from bridge.server import encode
from tests.fakes import FakeEngine
from tests.test_load import P, Peer, in_process_server


def test_pong_and_status_end_with_this_runs_id_and_a_new_run_has_another(tmp_path):
    runs = []
    for _ in range(2):
        with (
            in_process_server(FakeEngine(), out_dir=tmp_path) as server,
            Peer(server.address) as peer,
        ):
            peer.send("ping", "p")
            pong = peer.until("p", {f"{P}/pong"})[2]
            peer.send("status", "s")
            status = peer.until("s", {f"{P}/status"})[2]
            assert re.fullmatch(r"[0-9a-f]{12}", pong[-1]), pong
            assert status[-1] == pong[-1] == server.run
            runs.append(pong[-1])
            with EngineClient(*server.address) as client:
                assert client.ping()["run"] == server.run
                assert client.status()["run"] == server.run
    assert runs[0] != runs[1]


class ScriptedEngine:
    """A UDP peer on loopback that accepts every generate and never finishes it;
    its pongs carry ``runs[0]``, then ``runs[1]``... (the last one repeats)."""

    def __init__(self, runs: list[str | None]) -> None:
        self.runs = runs
        self.pings = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            for packet in OscPacket(data).messages:
                msg = packet.message
                fields = dict(zip(msg.params[::2], msg.params[1::2], strict=False))
                to = (source[0], fields["reply_port"])
                if msg.address == f"{P}/generate":
                    self.sock.sendto(encode((f"{P}/queued", [fields["id"], 0])), to)
                elif msg.address == f"{P}/ping":
                    run = self.runs[min(self.pings, len(self.runs) - 1)]
                    self.pings += 1
                    args: list[Any] = [fields["id"], "0.1.0", "busy", "debug", ""]
                    self.sock.sendto(encode((f"{P}/pong", args + ([run] if run else []))), to)


@pytest.fixture
def quick_checks(monkeypatch) -> Iterator[None]:
    monkeypatch.setattr(bridge.client, "ALIVE_CHECK_S", 0.2)
    yield


def test_a_run_that_changes_mid_take_fails_the_take_in_words(quick_checks):
    with (
        ScriptedEngine(["aaaaaaaaaaaa", "bbbbbbbbbbbb"]) as engine,
        EngineClient(*engine.address, timeout=2.0) as client,
        pytest.raises(EngineRestarted) as caught,
    ):
        client.generate({"prompt": "x"})
    assert caught.value.code == "engine_restarted"
    assert "the engine restarted; the take was lost" in caught.value.message


def test_the_cli_and_its_result_file_say_the_engine_restarted(quick_checks, tmp_path, capsys):
    result = tmp_path / "result.json"
    with ScriptedEngine(["aaaaaaaaaaaa", "cccccccccccc"]) as engine:
        port = str(engine.address[1])
        code = cli.main(
            [
                "generate",
                "x",
                "--quiet",
                "--port",
                port,
                "--timeout",
                "2",
                "--result-file",
                str(result),
            ]
        )
    assert code == cli_common.EXIT_ENGINE_ERROR
    assert "the engine restarted; the take was lost" in capsys.readouterr().err
    outcome = json.loads(result.read_text())
    assert (outcome["ok"], outcome["code"]) == (False, "engine_restarted")


def test_an_engine_without_a_run_keeps_the_old_wait(quick_checks):
    """An older engine's pongs carry no run: the client keeps waiting while it answers."""
    with ScriptedEngine([None]) as engine, EngineClient(*engine.address, timeout=2.0) as client:
        outcome: list[Any] = []
        thread = threading.Thread(
            target=lambda: outcome.append(_ends(client)), daemon=True, name="waiting-client"
        )
        thread.start()
        thread.join(1.5)
        assert thread.is_alive(), outcome  # still following the take after several pings
        assert engine.pings >= 3
        client.close()  # ends the wait (the socket goes)
        thread.join(5)


def _ends(client: EngineClient) -> object:
    try:
        return client.generate({"prompt": "x"})
    except Exception as exc:
        return exc
