"""Load and cancel over real UDP on loopback: many clients, one terminal reply each.

Two kinds of engine answer here: an in-process :class:`OscServer` bound to
127.0.0.1:0 with a fake engine whose takes are short (the many-clients round and
the queue limit), and the real debug engine (``engine_process``, or the
in-process ``debug_engine`` where a test needs to count decode steps).

Every network wait is bounded in count and time; timing bounds are generous on
purpose (the exact figures come from ``benchmarks/load.py``).
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import soundfile as sf
from pythonosc.osc_packet import OscPacket, ParseError

from bridge.config import ServeConfig
from bridge.server import OscServer, encode
from tests.fakes import FakeEngine

P = "/musicgen"
TERMINAL = {f"{P}/done", f"{P}/error"}
REPLY_TIMEOUT_S = 30.0  # per awaited reply; a healthy engine answers in milliseconds
LATENCY_BOUND_S = 1.0  # generous: the 50 ms figure is measured by benchmarks/load.py


# -- helpers shared with test_faults.py and benchmarks/load.py ------------------


class Peer:
    """One client socket on loopback: sends requests, files every reply under its id.

    ``replies[id]`` is a list of ``(monotonic time, address, args after the id)``.
    """

    def __init__(self, engine: tuple[str, int]) -> None:
        self.engine = engine
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.replies: dict[str, list[tuple[float, str, list[Any]]]] = {}
        self.sent: dict[str, float] = {}

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self, address: str, request_id: str, reply_port: int | None = None, **fields: Any
    ) -> float:
        """Send one request (``reply_port`` defaults to this peer's); returns the send time."""
        args: list[Any] = ["id", request_id, "reply_port", reply_port or self.port]
        for key, value in fields.items():
            args += [key, value]
        self.sent[request_id] = time.monotonic()
        self.sock.sendto(encode((f"{P}/{address}", args)), self.engine)
        return self.sent[request_id]

    def pump(self, seconds: float, first_only: bool = False) -> int:
        """Receive for up to ``seconds`` (or until one datagram, if ``first_only``); count."""
        deadline = time.monotonic() + seconds
        count = 0
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                break
            except (ConnectionResetError, ConnectionRefusedError):
                continue
            count += self._file(data, time.monotonic())
            if first_only:
                break
        return count

    def _file(self, data: bytes, now: float) -> int:
        try:
            messages = [m.message for m in OscPacket(data).messages]
        except ParseError:
            return 0
        count = 0
        for msg in messages:
            params = list(msg.params)
            if params and isinstance(params[0], str):
                self.replies.setdefault(params[0], []).append((now, msg.address, params[1:]))
                count += 1
        return count

    def seen(self, request_id: str, addresses: set[str] | None = None) -> list[tuple]:
        return [
            r for r in self.replies.get(request_id, []) if addresses is None or r[1] in addresses
        ]

    def until(
        self, request_id: str, addresses: set[str], timeout: float = REPLY_TIMEOUT_S
    ) -> tuple[float, str, list[Any]]:
        """The first reply for ``request_id`` at one of ``addresses`` (waits up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.seen(request_id, addresses)
            if found:
                return found[0]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {sorted(addresses)} for {request_id!r} in {timeout:g} s; "
                    f"saw {self.replies.get(request_id, [])}"
                )
            self.pump(left, first_only=True)

    def terminals(self, request_id: str) -> list[tuple]:
        return self.seen(request_id, TERMINAL)

    def ping_ok(self, request_id: str = "alive") -> None:
        """Assert the engine still answers a ping."""
        self.send("ping", request_id)
        assert self.until(request_id, {f"{P}/pong"}, timeout=10)[2][0]


@contextlib.contextmanager
def in_process_server(engine: Any, **config: Any) -> Iterator[OscServer]:
    """An OscServer on 127.0.0.1:<free port> serving in a thread; stopped on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    server = OscServer(ServeConfig(**config), engine, sock=sock)
    thread = threading.Thread(target=server.serve_forever, name="osc-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(30)
        assert not thread.is_alive(), "the server did not stop"


class StepCounter:
    """Wraps a real Engine; counts decode steps, and those taken once cancel was asked."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.steps = 0
        self.total = 0
        self.after_cancel = 0

    @property
    def info(self) -> Any:
        return self.inner.info

    def load(self, model_id: str) -> Any:
        return self.inner.load(model_id)

    def sharing(self, spec: Any) -> Any:
        return self.inner.sharing(spec)

    def generate_many(self, orders: Any) -> Any:
        self.steps = self.after_cancel = 0
        [order] = orders  # one request at a time here

        def counting(done: int, total: int) -> None:
            self.steps, self.total = self.steps + 1, total
            if order.is_cancelled is not None and order.is_cancelled():
                self.after_cancel += 1
            if order.on_progress is not None:
                order.on_progress(done, total)

        return self.inner.generate_many([replace(order, on_progress=counting)])


def visible_files(folder: Path) -> list[str]:
    """Files under ``folder`` whose names are not hidden (i.e. final names)."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


# -- many clients, one terminal reply each --------------------------------------


def run_clients(
    engine: tuple[str, int],
    clients: int,
    requests: int,
    fields: Callable[[int, int], dict[str, Any]],
    timeout: float = REPLY_TIMEOUT_S,
    start: threading.Barrier | None = None,
) -> dict[str, list[tuple]]:
    """``clients`` threads, each sending ``requests`` generates at once, then collecting.

    Returns every reply by request id.  Each client listens until all its
    requests have a terminal reply (or ``timeout``), then 0.3 s more so a
    duplicate terminal would be seen.
    """
    results: dict[str, list[tuple]] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(c: int) -> None:
        try:
            with Peer(engine) as peer:
                ids = [f"c{c}-r{r}" for r in range(requests)]
                if start is not None:
                    start.wait(10)
                for r, rid in enumerate(ids):
                    peer.send("generate", rid, **fields(c, r))
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and not all(peer.terminals(i) for i in ids):
                    peer.pump(deadline - time.monotonic(), first_only=True)
                peer.pump(0.3)
                with lock:
                    for rid in ids:
                        results[rid] = peer.replies.get(rid, [])
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 15)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return results


def terminal_kinds(results: dict[str, list[tuple]]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for replies in results.values():
        for _, address, args in replies:
            if address in TERMINAL:
                kinds["done" if address.endswith("done") else args[0]] += 1
    return kinds


def test_eight_clients_times_five_each_get_exactly_one_terminal_reply(tmp_path):
    engine = FakeEngine(steps=3, step_s=0.002)
    with in_process_server(engine, model="fake", out_dir=tmp_path, max_queue=64) as server:
        results = run_clients(
            server.address, 8, 5, lambda c, r: {"prompt": f"p{c}-{r}", "out_dir": str(tmp_path)}
        )
        with Peer(server.address) as peer:
            peer.ping_ok()
    assert len(results) == 40
    for rid, replies in results.items():
        addresses = [a for _, a, _ in replies]
        assert addresses.count(f"{P}/queued") == 1, (rid, replies)
        [(_, end, args)] = [r for r in replies if r[1] in TERMINAL]  # none lost, none doubled
        assert end == f"{P}/done", (rid, replies)
        c, r = rid[1:].split("-r")
        assert args == [str(tmp_path / f"p{c}-{r}.wav")]
        assert addresses[-1] == end  # nothing for a job after its terminal reply
    assert sorted(engine.ran) == sorted(f"p{c}-{r}" for c in range(8) for r in range(5))


def test_small_queue_answers_busy_beyond_it_and_every_request_still_ends_once(tmp_path):
    engine = FakeEngine(steps=2)
    engine.gate = threading.Event()  # holds the running take until released
    with (
        in_process_server(engine, model="fake", out_dir=tmp_path, max_queue=3) as server,
        Peer(server.address) as holder,
    ):
        holder.send("generate", "hold", prompt="hold", out_dir=str(tmp_path))
        holder.until("hold", {f"{P}/queued"})
        assert engine.started.wait(10)  # running: the queue behind it is empty
        answered = threading.Semaphore(0)  # one release per first answer to a burst request
        send = server.send

        def counting_send(to, reply):
            send(to, reply)
            if reply[0] in (f"{P}/queued", f"{P}/error") and reply[1][0].startswith("c"):
                answered.release()

        server.send = counting_send  # type: ignore[method-assign]
        burst: dict[str, list[tuple]] = {}

        def release_when_all_answered() -> None:
            for _ in range(12):  # the gate opens only once every burst request was answered
                if not answered.acquire(timeout=20):
                    break
            engine.gate.set()

        releaser = threading.Thread(target=release_when_all_answered, daemon=True)
        releaser.start()
        try:
            burst = run_clients(
                server.address,
                6,
                2,
                lambda c, r: {"prompt": f"b{c}-{r}", "out_dir": str(tmp_path)},
                start=threading.Barrier(6),
            )
        finally:
            engine.gate.set()
            releaser.join(30)
        assert holder.until("hold", TERMINAL)[1] == f"{P}/done"
        holder.pump(0.3)
        assert len(holder.terminals("hold")) == 1
        holder.ping_ok()
    kinds = terminal_kinds(burst)
    assert kinds == Counter({"busy": 9, "done": 3}), burst
    for rid, replies in burst.items():
        ends = [r for r in replies if r[1] in TERMINAL]
        assert len(ends) == 1, (rid, replies)
        if ends[0][2][0] == "busy":
            assert [a for _, a, _ in replies] == [f"{P}/error"]  # refused: never queued
            assert "queue is full" in ends[0][2][1]


# -- the real debug engine ------------------------------------------------------


def test_real_engine_four_clients_times_two_short_takes(engine_process, tmp_path):
    folders = [tmp_path / f"client{c}" for c in range(4)]
    for f in folders:
        f.mkdir()
    results = run_clients(
        (engine_process.host, engine_process.port),
        4,
        2,
        lambda c, r: {
            "prompt": f"load {c} {r}",
            "seconds": 0.5,
            "seed": 100 + r,
            "out_dir": str(folders[c]),
        },
        timeout=60,
    )
    assert terminal_kinds(results) == Counter({"done": 8}), results
    for rid, replies in results.items():
        [(_, _, args)] = [r for r in replies if r[1] in TERMINAL]
        [wav] = args
        c = int(rid[1:].split("-")[0])
        assert Path(wav).parent == folders[c]
        assert sf.info(wav).frames == 16000  # 0.5 s at 32 kHz, complete
    for f in folders:
        names = sorted(p.name for p in f.iterdir())
        assert len(names) == 4 and all(not n.startswith(".") for n in names), names


def test_ping_and_status_are_answered_promptly_while_a_take_runs(engine_process, tmp_path):
    with Peer((engine_process.host, engine_process.port)) as peer:
        peer.send("generate", "long", prompt="long take", seconds=30.0, out_dir=str(tmp_path))
        peer.until("long", {f"{P}/progress"})
        latencies: list[float] = []
        busy = 0
        for i in range(20):
            kind = "ping" if i % 2 else "status"
            sent = peer.send(kind, f"q{i}")
            at, _, args = peer.until(f"q{i}", {f"{P}/pong", f"{P}/status"}, timeout=5)
            latencies.append(at - sent)
            state = args[1] if kind == "ping" else args[0]
            if not peer.terminals("long"):
                assert state == "busy", args
                busy += 1
        peer.send("cancel", "stop-long", job="long")
        peer.until("long", TERMINAL)
    print(
        f"\nping/status while generating ({len(latencies)} samples, {busy} while busy): "
        f"median {statistics.median(latencies) * 1e3:.1f} ms, max {max(latencies) * 1e3:.1f} ms"
    )
    assert busy >= 5  # the samples were taken while the take ran
    assert max(latencies) < LATENCY_BOUND_S


def test_cancel_stops_within_one_decode_step_leaves_nothing_and_next_runs(debug_engine, tmp_path):
    counter = StepCounter(debug_engine)
    out = tmp_path / "takes"
    out.mkdir()
    with (
        in_process_server(counter, model="debug", out_dir=out) as server,
        Peer(server.address) as peer,
    ):
        peer.send("generate", "victim", prompt="cancel me", seconds=30.0, out_dir=str(out))
        peer.until("victim", {f"{P}/progress"})
        sent = peer.send("cancel", "c1", job="victim")
        assert peer.until("c1", {f"{P}/cancel"})[2] == ["victim", "running"]
        at, end, args = peer.until("victim", TERMINAL)
        assert (end, args[0]) == (f"{P}/error", "cancelled")
        stopped_after, total, after = counter.steps, counter.total, counter.after_cancel
        assert 0 < stopped_after < total  # it really stopped early
        assert after <= 1, after  # within one decode step of the request
        assert list(out.iterdir()) == []  # no temporary, no final file
        peer.send("generate", "next", prompt="next", seconds=0.5, out_dir=str(out))
        _, end, args = peer.until("next", TERMINAL)
        assert end == f"{P}/done", args
        peer.pump(0.2)
        assert len(peer.terminals("victim")) == 1
    print(
        f"\ncancel: {(at - sent) * 1e3:.1f} ms to the error reply, stopped at step "
        f"{stopped_after}/{total}, {after} step(s) after the request"
    )
    wav = Path(args[0])
    assert visible_files(out) == sorted([wav.name, wav.with_suffix(".json").name])


def test_real_engine_cancel_leaves_no_files_and_the_next_job_runs(engine_process, tmp_path):
    with Peer((engine_process.host, engine_process.port)) as peer:
        peer.send("generate", "doomed", prompt="doomed", seconds=30.0, out_dir=str(tmp_path))
        peer.until("doomed", {f"{P}/progress"})
        sent = peer.send("cancel", "kill-doomed", job="doomed")
        at, end, args = peer.until("doomed", TERMINAL)
        assert (end, args[0]) == (f"{P}/error", "cancelled")
        assert at - sent < LATENCY_BOUND_S
        assert list(tmp_path.iterdir()) == []
        peer.send("generate", "after", prompt="after", seconds=0.5, out_dir=str(tmp_path))
        _, end, args = peer.until("after", TERMINAL)
        assert end == f"{P}/done", args
    assert len(visible_files(tmp_path)) == 2 and not [
        p for p in tmp_path.iterdir() if p.name.startswith(".")
    ]


def test_zero_queue_runs_one_and_refuses_the_rest(tmp_path):
    """max_queue counts takes waiting behind the running one: with 0, one runs, the rest busy.

    ServeConfig documents max_queue as "takes allowed to wait behind the running
    one", so an idle engine with max_queue=0 must still accept one take.
    """
    engine = FakeEngine(steps=2)
    engine.gate = threading.Event()
    with (
        in_process_server(engine, model="fake", out_dir=tmp_path, max_queue=0) as server,
        Peer(server.address) as peer,
    ):
        peer.send("generate", "first", prompt="first", out_dir=str(tmp_path))
        first = peer.until("first", {f"{P}/queued"} | TERMINAL, timeout=10)
        assert first[1] == f"{P}/queued", f"an idle engine refused a take: {first}"
        assert engine.started.wait(10)
        for i in range(3):
            peer.send("generate", f"extra{i}", prompt=f"x{i}", out_dir=str(tmp_path))
            assert peer.until(f"extra{i}", TERMINAL)[2][0] == "busy"
        engine.gate.set()
        assert peer.until("first", TERMINAL)[1] == f"{P}/done"
