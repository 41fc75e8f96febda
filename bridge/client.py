"""A Python client for a running engine: send a request, follow its replies.

Used by the CLI (and so by the REAPER actions) and by the tests.  It listens
for replies on the same socket it sends from, so its ``reply_port`` is simply
that socket's port.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterator
from typing import Any

from pythonosc.osc_packet import OscPacket, ParseError

from bridge import command, protocol
from bridge.config import is_loopback
from bridge.server import encode
from engine.errors import BridgeError

P = protocol.PREFIX
ALIVE_CHECK_S = 5.0  # silence during a job after which the client pings the engine


JOB_KEYS = (
    "job",
    "state",
    "position",
    "progress",
    "elapsed_s",
    "eta_s",
    "waited_s",
    "model",
    "prompt",
)
MEMORY_KEYS = ("rss_mb", "gpu_allocated_mb", "gpu_free_mb")


class EngineUnreachable(BridgeError):
    code = "engine_unreachable"


class EngineRestarted(BridgeError):
    """The engine answering is a new run (it restarted): the take it had accepted is lost."""

    code = "engine_restarted"


class EngineReplyError(BridgeError):
    """The engine answered with ``/musicgen/error``; ``code`` is its stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_id(prefix: str = "cli") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class EngineClient:
    """Talks to one engine at ``host:port`` over UDP.

    Args:
        host: the engine's address.
        port: the engine's request port.
        timeout: seconds to wait for the first answer to a request.
        token: the engine's shared token, when it listens beyond loopback.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = protocol.DEFAULT_PORT,
        timeout: float = 3.0,
        token: str | None = None,
    ) -> None:
        self.engine = (host, port)
        self.timeout = timeout
        self.token = token
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1" if is_loopback(host) else "0.0.0.0", 0))
        self._unread: deque[tuple[str, list[Any]]] = deque()  # a bundle's other messages

    @property
    def reply_port(self) -> int:
        return self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, address: str, request_id: str, **fields: Any) -> None:
        """Send one request: ``id`` and ``reply_port`` first, then ``fields``."""
        args: list[Any] = ["id", request_id, "reply_port", self.reply_port]
        if self.token is not None:
            args += ["token", self.token]
        for key, value in fields.items():
            if value is not None:
                args += [key, value]
        self._sock.sendto(encode((address, args)), self.engine)

    def replies(self, request_id: str, timeout: float) -> Iterator[tuple[str, list[Any]]]:
        """Yield replies naming ``request_id`` until ``timeout`` seconds pass without one.

        An error with an empty id (the answer to a request whose id the engine
        could not use: invalid, or already taken by a running job) is yielded
        too: this client has one request in flight on its socket.
        """
        while (got := self._receive({request_id}, timeout)) is not None:
            yield got[1], got[2]

    def _receive(
        self, request_ids: Collection[str], timeout: float
    ) -> tuple[str, str, list[Any]] | None:
        """The next reply naming one of ``request_ids`` (or an error with an empty
        id) as (id, address, args after the id); None after ``timeout`` seconds
        without one.  Replies naming other ids are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            while self._unread:
                address, params = self._unread.popleft()
                if params and (
                    params[0] in request_ids or (params[0] == "" and address == f"{P}/error")
                ):
                    return str(params[0]), address, params[1:]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._sock.settimeout(remaining)
            try:
                data, _ = self._sock.recvfrom(65535)
            except TimeoutError:
                return None
            except (ConnectionResetError, ConnectionRefusedError):
                continue  # an earlier datagram hit a closed port; keep listening
            try:
                messages = [m.message for m in OscPacket(data).messages]
            except ParseError:
                continue
            self._unread.extend((msg.address, list(msg.params)) for msg in messages)

    def call(self, address: str, expect: str, **fields: Any) -> list[Any]:
        """Send a query and return its reply's arguments (after the id).

        Raises:
            EngineUnreachable: no answer within ``timeout``.
            EngineReplyError: the engine answered with an error.
        """
        request_id = new_id()
        self.send(address, request_id, **fields)
        for reply, args in self.replies(request_id, self.timeout):
            if reply == f"{P}/error":
                raise EngineReplyError(args[0], args[1])
            if reply == expect:
                return args
        raise self._unreachable()

    def ping(self) -> dict[str, str]:
        """version, state, model, reason (why no_model; "" from older engines) and run
        (the engine run's id; "" from older engines)."""
        args = self.call(f"{P}/ping", f"{P}/pong")
        version, state, model = args[:3]
        reason = str(args[3]) if len(args) > 3 else ""
        return {
            "version": version,
            "state": state,
            "model": model,
            "reason": reason,
            "run": _run(args, 4),
        }

    def status(self) -> dict[str, Any]:
        """The status reply by name, with its ``/musicgen/job`` details.

        ``resident`` is a list of dicts (model, device, dtype, load_seconds,
        memory_mb), least recently used first; ``jobs`` a list of dicts (job,
        state, position, progress, elapsed_s, eta_s, waited_s, model, prompt),
        the running ones first; ``rss_mb``, ``gpu_allocated_mb`` and
        ``gpu_free_mb`` are floats, -1 where the engine cannot say.  Older
        engines' replies give an empty resident list and -1 for the memory.

        Raises:
            EngineUnreachable: no status within ``timeout``.
            EngineReplyError: the engine answered with an error.
        """
        args, rows, missing = self._with_details(f"{P}/status", f"{P}/job", len(JOB_KEYS))
        width = len(JOB_KEYS)
        jobs = [dict(zip(JOB_KEYS, map(_decimal, row[:width]), strict=True)) for row in rows]
        return {**_status_fields(args), "jobs": jobs, "missing_details": missing}

    def models(self) -> tuple[str, list[str]]:
        args = self.call(f"{P}/models", f"{P}/models")
        return args[0], list(args[1:])

    def catalog(self) -> tuple[str, list[str], list[dict[str, Any]], int]:
        """(loaded, names, entries, missing): the models list and its ``/musicgen/model``
        details.

        Each entry is a dict (name, kind, state, revision, size_mb, melody,
        source, base), in the engine's order; empty from engines that predate
        them (``base`` is "" from engines that predate adapters).
        ``missing``: how many entries were lost on the way (0 normally).

        Raises:
            EngineUnreachable: no list within ``timeout``.
            EngineReplyError: the engine answered with an error.
        """
        keys = ("name", "kind", "state", "revision", "size_mb", "melody", "source")
        args, rows, missing = self._with_details(f"{P}/models", f"{P}/model", len(keys))
        entries = []
        for row in rows:
            entry = dict(zip(keys, row[: len(keys)], strict=True))
            entry["melody"] = bool(entry["melody"])
            entry["base"] = str(row[len(keys)]) if len(row) > len(keys) else ""
            entries.append(entry)
        return args[0], list(args[1:]), entries, missing

    def _with_details(
        self, address: str, detail: str, width: int
    ) -> tuple[list[Any], list[list[Any]], int]:
        """Send ``address`` with ``details 1``; return its reply's arguments, the
        ``detail`` entries before it and how many of their ``count`` did not arrive (a
        lost datagram: the list is partial, and the caller says so).

        An entry is its arguments after ``id index count``: at least ``width`` of them
        (more from a newer engine), entries in index order.

        Raises:
            EngineUnreachable: no reply within ``timeout``.
            EngineReplyError: the engine answered with an error.
        """
        request_id = new_id()
        self.send(address, request_id, details=1)
        rows: dict[int, list[Any]] = {}
        count = 0
        for reply, args in self.replies(request_id, self.timeout):
            if reply == f"{P}/error":
                raise EngineReplyError(args[0], args[1])
            if reply == detail and len(args) >= 2 + width:
                rows[int(args[0])] = list(args[2:])
                count = max(count, int(args[1]))
            elif reply == address:
                return args, [rows[i] for i in sorted(rows)], count - len(rows)
        raise self._unreachable()

    def cancel(self, job: str) -> str:
        return self.call(f"{P}/cancel", f"{P}/cancel", job=job)[1]

    def generate(
        self,
        fields: dict[str, Any],
        request_id: str | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_queued: Callable[[int], None] | None = None,
        on_warning: Callable[[str, str], None] | None = None,
        on_preview: Callable[[str, float, int, int], None] | None = None,
    ) -> list[str]:
        """Ask for a take and wait for it.

        Args:
            fields: generate arguments by wire name (None values are left out).
            request_id: the id to use (a fresh one if None).
            on_progress: called with (fraction 0..1, stage).
            on_queued: called with the number of jobs ahead.
            on_warning: called with (code, message) for each ``/musicgen/warning``
                (they arrive before done).
            on_preview: called with (path, seconds_ready, take, count) for each
                ``/musicgen/preview``; only arrives when ``fields`` asks with
                ``preview`` 1 (docs/protocol.md: open the file anew each time).

        Returns:
            Absolute paths of the WAVs written.

        Raises:
            EngineUnreachable: no answer, or the engine stopped answering mid-job.
            EngineReplyError: the engine refused or failed the take.
        """
        request_id = request_id or new_id()
        self.send(f"{P}/generate", request_id, **fields)
        accepted = False
        run = ""  # the engine run that accepted the take, from its first pong ("": unknown)
        ping_id = ""  # the ping in flight, if any
        ping_deadline = heard = 0.0  # when its pong is overdue; the take's latest reply
        while True:
            wait = self.timeout if not accepted else ALIVE_CHECK_S
            if ping_id:
                wait = max(0.0, ping_deadline - time.monotonic())
            got = self._receive({request_id, ping_id} - {""}, wait)
            if got is None:
                if not accepted:
                    raise self._unreachable()
                if ping_id and heard < ping_deadline - self.timeout:
                    raise self._stopped_answering()  # no pong, and the take silent too
                # Silence mid-job (loading a big model, or a dead or restarted
                # engine), or a pong lost while the take still spoke: ask again.
                ping_id, ping_deadline = self._send_ping()
                continue
            rid, reply, args = got
            if rid == request_id:
                heard = time.monotonic()
            if ping_id and rid == ping_id:
                if reply == f"{P}/pong":
                    ping_id = ""
                    seen = _run(args, 4)
                    if run and seen and seen != run:
                        raise self._restarted()
                    run = run or seen
                continue
            if reply == f"{P}/queued":
                if on_queued:
                    on_queued(int(args[0]))
            elif reply == f"{P}/progress":
                if on_progress:
                    on_progress(float(args[0]), str(args[1]))
            elif reply == f"{P}/warning":
                if on_warning:
                    on_warning(str(args[0]), str(args[1]))
            elif reply == f"{P}/preview":
                if on_preview:
                    on_preview(str(args[0]), float(args[1]), int(args[2]), int(args[3]))
            elif reply == f"{P}/done":
                return [str(a) for a in args]
            elif reply == f"{P}/error":
                raise EngineReplyError(args[0], args[1])
            if reply in (f"{P}/queued", f"{P}/progress") and not accepted:
                accepted = True
                # Which run accepted it: a later pong from another run means a restart.
                ping_id, ping_deadline = self._send_ping()

    def _send_ping(self) -> tuple[str, float]:
        """Send a ping; (its id, when its pong is overdue)."""
        ping_id = new_id("alive")
        self.send(f"{P}/ping", ping_id)
        return ping_id, time.monotonic() + self.timeout

    def _stopped_answering(self) -> EngineUnreachable:
        return EngineUnreachable(
            f"The engine at {self.engine[0]}:{self.engine[1]} stopped answering during "
            f"the take. Check its log; restart it with `{command()} serve`."
        )

    def _restarted(self) -> EngineRestarted:
        return EngineRestarted(
            f"the engine restarted; the take was lost (the engine at {self.engine[0]}:"
            f"{self.engine[1]} is a new run, which never heard of it). Ask for the take again."
        )

    def _unreachable(self) -> EngineUnreachable:
        host, port = self.engine
        return EngineUnreachable(
            f"No answer from the engine at {host}:{port} within {self.timeout:g} s. Is it "
            f"running? Start it with `{command()} serve` (or, in a checkout, `make serve`) in "
            "a terminal of its own: it runs until Ctrl-C."
        )


def _status_fields(args: list[Any]) -> dict[str, Any]:
    """A ``/musicgen/status`` reply's arguments (after the id) by name."""
    state, model, device, running, waiting = args[:5]
    reason = str(args[5]) if len(args) > 5 else ""
    count = int(args[6]) if len(args) > 6 else 0
    flat = args[7 : 7 + 5 * count]
    keys = ("model", "device", "dtype", "load_seconds", "memory_mb")
    flat = [_decimal(a) for a in flat]
    resident = [dict(zip(keys, flat[i : i + 5], strict=True)) for i in range(0, len(flat), 5)]
    memory = args[7 + 5 * count : 7 + 5 * count + len(MEMORY_KEYS)]
    memory += [-1.0] * (len(MEMORY_KEYS) - len(memory))
    return {
        "state": state,
        "model": model,
        "device": device,
        "running_job": running,
        "queued_jobs": waiting,
        "reason": reason,
        "resident": resident,
        **dict(zip(MEMORY_KEYS, (_decimal(float(m)) for m in memory), strict=True)),
        "run": _run(args, 7 + 5 * count + len(MEMORY_KEYS)),
    }


def _run(args: list[Any], index: int) -> str:
    """The engine run's id at ``args[index]`` ("" from engines that predate it)."""
    return str(args[index]) if len(args) > index else ""


def _decimal(value: Any) -> Any:
    """A float as the engine wrote it (an OSC float32 reads 0.9 as 0.8999999761581421)."""
    return float(f"{value:.7g}") if isinstance(value, float) else value
