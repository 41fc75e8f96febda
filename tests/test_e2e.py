"""End to end over real UDP on loopback: a real engine process, real clients.

The engine is ``musicgen-bridge serve --model debug`` started as a subprocess
(see conftest.py).  The first test drives it with python-osc's own client and
server, as any third-party OSC 1.0 application would.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from tests.conftest import cli_executable, start_engine, stop_engine

pytestmark = pytest.mark.e2e
REPLY_TIMEOUT_S = 60


class OscPeer:
    """A python-osc client plus a python-osc server collecting every reply."""

    def __init__(self, engine_port: int) -> None:
        self.replies: queue.Queue[tuple[str, list]] = queue.Queue()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args: self.replies.put((address, args)))
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.client = SimpleUDPClient("127.0.0.1", engine_port)
        self._held: dict[str, list[tuple[str, list]]] = {}

    def send(self, address: str, *args) -> None:
        self.client.send_message(address, list(args))

    def until(self, request_id: str, addresses: set[str]) -> list[tuple[str, list]]:
        """Replies for ``request_id`` up to and including one at ``addresses``.

        Replies for other ids stay buffered for their own ``until``.
        """
        seen = []
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while time.monotonic() < deadline:
            mine = self._held.pop(request_id, [])
            while mine:
                address, args = mine.pop(0)
                seen.append((address, args))
                if address in addresses:
                    self._held[request_id] = mine
                    return seen
            try:
                address, args = self.replies.get(timeout=1)
            except queue.Empty:
                continue
            if args:
                self._held.setdefault(args[0], []).append((address, list(args)))
        raise AssertionError(f"no {addresses} for {request_id}; saw {seen}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer(engine_process):
    p = OscPeer(engine_process.port)
    yield p
    p.close()


def test_third_party_osc_client_generates_a_take(peer, tmp_path):
    peer.send(
        "/musicgen/generate",
        "id",
        "take1",
        "reply_port",
        peer.port,
        "prompt",
        "test",
        "bars",
        8,
        "bpm",
        120.0,
        "timesig",
        "4/4",
        "seed",
        7,
        "out_dir",
        str(tmp_path),
    )
    replies = peer.until("take1", {"/musicgen/done", "/musicgen/error"})
    addresses = [a for a, _ in replies]
    assert addresses[0] == "/musicgen/queued"
    assert "/musicgen/progress" in addresses
    assert addresses[-1] == "/musicgen/done", replies
    fractions = [args[1] for a, args in replies if a == "/musicgen/progress"]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)

    [wav] = replies[-1][1][1:]
    info = sf.info(wav)
    assert (info.frames, info.samplerate, info.channels) == (512000, 32000, 1)  # 16.000 s
    meta = json.loads(Path(wav).with_suffix(".json").read_text())
    assert meta["prompt"] == "test" and meta["seed"] == 7 and meta["params"]["bars"] == 8
    assert wav.startswith(str(tmp_path))


def test_status_and_ping_are_answered_while_a_take_runs(peer, tmp_path):
    peer.send(
        "/musicgen/generate",
        "id",
        "long",
        "reply_port",
        peer.port,
        "prompt",
        "long one",
        "seconds",
        30.0,
        "out_dir",
        str(tmp_path),
    )
    peer.until("long", {"/musicgen/progress"})  # it is running now
    peer.send("/musicgen/status", "id", "st", "reply_port", peer.port)
    peer.send("/musicgen/ping", "id", "pi", "reply_port", peer.port)
    [(_, status)] = peer.until("st", {"/musicgen/status"})
    [(_, pong)] = peer.until("pi", {"/musicgen/pong"})
    assert status[1:5] == ["busy", "debug", "cpu", "long"]
    assert pong[2] == "busy"
    peer.send("/musicgen/cancel", "id", "c", "reply_port", peer.port, "job", "long")
    [(_, cancel)] = peer.until("c", {"/musicgen/cancel"})
    assert cancel == ["c", "long", "running"]
    end = peer.until("long", {"/musicgen/done", "/musicgen/error"})[-1]
    assert end == ("/musicgen/error", ["long", "cancelled", "Cancelled."])
    assert not list(tmp_path.iterdir())  # a cancelled take leaves nothing behind


def test_requests_waiting_together_share_one_decoder_run(peer, tmp_path):
    """Two requests queued behind a running one are decoded together, each answered alone."""
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    def generate(request_id: str, **fields) -> OscMessageBuilder:
        message = OscMessageBuilder("/musicgen/generate")
        fields = {"id": request_id, "reply_port": peer.port, **fields, "out_dir": str(tmp_path)}
        for key, value in fields.items():
            message.add_arg(key)
            message.add_arg(value)
        return message

    peer.client.send(generate("blocker", prompt="blocker", seconds=30.0).build())
    peer.until("blocker", {"/musicgen/progress"})  # running: the next two wait together
    bundle = OscBundleBuilder(IMMEDIATELY)
    # The second is shorter: it may join the first (a longer one would wait its turn).
    bundle.add_content(generate("one", prompt="first", seconds=2.0, seed=1).build())
    bundle.add_content(generate("two", prompt="second", seconds=1.0, seed=2).build())
    peer.client.send(bundle.build())
    peer.until("two", {"/musicgen/queued"})
    peer.send("/musicgen/cancel", "id", "c", "reply_port", peer.port, "job", "blocker")
    assert peer.until("blocker", {"/musicgen/error"})[-1][1][1] == "cancelled"
    lengths = {"one": 64000, "two": 32000}
    for request_id, frames in lengths.items():
        replies = peer.until(request_id, {"/musicgen/done", "/musicgen/error"})
        address, args = replies[-1]
        assert address == "/musicgen/done", replies
        assert any(a == "/musicgen/progress" for a, _ in replies)
        [path] = args[1:]
        assert sf.info(path).frames == frames
        meta = json.loads(Path(path).with_suffix(".json").read_text())
        assert meta["shared_run"] == {"requests": 2, "takes": 2}


def test_bad_input_gets_errors_and_the_engine_keeps_serving(peer, engine_process, tmp_path):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(b"\x00\x01 not osc at all", ("127.0.0.1", engine_process.port))
    sock.close()
    cases = {
        "b1": ("/musicgen/generate", ["prompt", "x", "bars", "eight", "bpm", 120]),
        "b2": ("/musicgen/generate", ["prompt", ""]),
        "b3": ("/musicgen/generate", ["prompt", "x", "out_dir", "relative"]),
        "b4": ("/musicgen/nope", []),
    }
    for request_id, (address, args) in cases.items():
        peer.send(address, "id", request_id, "reply_port", peer.port, *args)
    codes = {rid: peer.until(rid, {"/musicgen/error"})[-1][1][1] for rid in cases}
    assert codes == {
        "b1": "wrong_type",
        "b2": "invalid_value",
        "b3": "bad_path",
        "b4": "unknown_address",
    }
    peer.send("/musicgen/ping", "id", "alive", "reply_port", peer.port)
    assert peer.until("alive", {"/musicgen/pong"})
    assert "malformed packet" in engine_process.log()


def test_cli_generate_writes_sixteen_seconds_and_a_sidecar(engine_process, tmp_path):
    result = tmp_path / "result.json"
    run = subprocess.run(
        [
            cli_executable(),
            "generate",
            "test",
            "--bars",
            "8",
            "--bpm",
            "120",
            "--out",
            str(tmp_path),
            "--port",
            str(engine_process.port),
            "--result-file",
            str(result),
        ],
        capture_output=True,
        text=True,
        timeout=REPLY_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr
    [wav] = run.stdout.split()
    assert sf.info(wav).duration == 16.0 and sf.info(wav).frames == 512000
    assert json.loads(Path(wav).with_suffix(".json").read_text())["params"]["bpm"] == 120
    assert json.loads(result.read_text()) == {
        "ok": True,
        "id": json.loads(result.read_text())["id"],
        "paths": [wav],
        "warnings": [],
    }


def test_cli_reports_engine_errors_in_words(engine_process, tmp_path):
    result = tmp_path / "result.json"
    run = subprocess.run(
        [
            cli_executable(),
            "generate",
            "x",
            "--seconds",
            "999",
            "--port",
            str(engine_process.port),
            "--result-file",
            str(result),
        ],
        capture_output=True,
        text=True,
        timeout=REPLY_TIMEOUT_S,
    )
    assert run.returncode == 1
    assert "the most this engine makes in one take is 120 s" in run.stderr
    assert json.loads(result.read_text())["code"] == "out_of_range"


def test_cli_status_models_ping(engine_process):
    port = ["--port", str(engine_process.port)]
    status = subprocess.run(
        [cli_executable(), "status", *port], capture_output=True, text=True, timeout=30
    )
    assert status.returncode == 0 and "model: debug" in status.stdout
    models = subprocess.run(
        [cli_executable(), "models", *port], capture_output=True, text=True, timeout=30
    )
    [debug] = [line for line in models.stdout.splitlines() if line.split()[:1] == ["debug"]]
    assert "resident" in debug
    cancel = subprocess.run(
        [cli_executable(), "cancel", "no-such-job", *port],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cancel.returncode == 1 and "No queued or running job" in cancel.stderr


def test_sigint_stops_the_engine_cleanly_and_fails_queued_jobs(cache_dir, tmp_path):
    # One request a run: otherwise j1 and j2, sent at once, may share j0's run
    # and be cancelled as running ones.
    engine = start_engine(cache_dir, tmp_path, "--no-warmup", "--max-batch", "1")
    p = OscPeer(engine.port)
    try:
        for i in range(3):
            p.send(
                "/musicgen/generate",
                "id",
                f"j{i}",
                "reply_port",
                p.port,
                "prompt",
                "x",
                "seconds",
                20.0,
                "out_dir",
                str(tmp_path),
            )
        p.until("j0", {"/musicgen/progress"})
        assert stop_engine(engine) == 0
        ends = {
            f"j{i}": p.until(f"j{i}", {"/musicgen/error", "/musicgen/done"})[-1][1][1]
            for i in range(3)
        }
    finally:
        p.close()
    assert ends == {"j0": "cancelled", "j1": "shutting_down", "j2": "shutting_down"}
    assert not [f for f in tmp_path.iterdir() if f.suffix in (".wav", ".json")]


def test_engine_without_its_model_serves_and_explains(cache_dir, tmp_path):
    """Fresh machine, no weights: the engine still answers, and says how to get them."""
    hub = tmp_path / "hf"
    engine = start_engine(
        cache_dir,
        tmp_path,
        model="facebook/musicgen-small",
        until_state="no_model",
        env={"HF_HOME": str(hub)},
    )
    p = OscPeer(engine.port)
    try:
        p.send(
            "/musicgen/generate",
            "id",
            "g",
            "reply_port",
            p.port,
            "prompt",
            "x",
            "seconds",
            1.0,
            "out_dir",
            str(tmp_path),
        )
        _, args = p.until("g", {"/musicgen/error", "/musicgen/done"})[-1]
    finally:
        p.close()
        assert stop_engine(engine) == 0
    assert args[1] == "model_not_available"
    assert "musicgen-bridge download facebook/musicgen-small" in args[2]
    assert str(hub) in args[2]
    log = engine.log()
    assert "musicgen-bridge download facebook/musicgen-small" in log
    assert "Traceback" not in log


def test_play_without_the_playback_extra_explains(engine_process, tmp_path, monkeypatch, capsys):
    """--play without its extra is refused before the request: it used to fail only after
    the take, and exit 0."""
    import sys

    from bridge.cli import main

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as if not installed
    code = main(
        [
            "generate",
            "x",
            "--seconds",
            "0.5",
            "--out",
            str(tmp_path),
            "--play",
            "--port",
            str(engine_process.port),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "pip install 'musicgen-bridge[playback]'" in err and "Nothing was sent" in err
    assert list(tmp_path.iterdir()) == []  # no take was made
