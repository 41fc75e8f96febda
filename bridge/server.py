"""The OSC-over-UDP server: datagrams in, requests dispatched, replies out.

The receiving thread only parses, validates and queues; it never waits on
the model, so ping and status are answered while a take is being generated.
:meth:`OscServer.handle_message` is the one error boundary: whatever goes
wrong with a request becomes an ``/musicgen/error`` reply and a log line.
"""

from __future__ import annotations

import logging
import secrets
import select
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import osc, protocol, replies, requests, version
from bridge.config import ServeConfig
from bridge.engine_like import EngineLike
from bridge.job_record import Job
from bridge.jobs import JobQueue
from bridge.replies import Reply
from bridge.requests import (
    CancelRequest,
    GenerateRequest,
    QueryRequest,
    Request,
    RequestRejected,
)
from engine.errors import BridgeError, DuplicateId

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65535
GENERATE = f"{protocol.PREFIX}/generate".encode()
POLL_S = 0.25  # how often the receive loop checks for shutdown


def encode(reply: Reply) -> bytes:
    """An (address, args) reply as an OSC 1.0 message datagram."""
    address, args = reply
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


MAX_BUNDLE_DEPTH = 8


def bundle_problem(data: bytes, depth: int = 0) -> str | None:
    """Why ``data`` is not a sound OSC bundle, or None (also for a plain message).

    python-osc trusts a bundle's element sizes: a negative one makes it loop
    forever, and deep nesting overflows the stack.  Both are checked here first.
    """
    if not data.startswith(b"#bundle\x00"):
        return None
    if depth >= MAX_BUNDLE_DEPTH:
        return f"bundles nested deeper than {MAX_BUNDLE_DEPTH}"
    offset = 16  # "#bundle\0" + 8-byte time tag
    if len(data) < offset:
        return "truncated bundle header"
    while offset < len(data):
        if offset + 4 > len(data):
            return "truncated bundle element size"
        size = int.from_bytes(data[offset : offset + 4], "big", signed=True)
        offset += 4
        if size <= 0 or size % 4 or offset + size > len(data):
            return f"bundle element size {size} does not fit the packet"
        inner = bundle_problem(data[offset : offset + size], depth + 1)
        if inner is not None:
            return inner
        offset += size
    return None


class OscServer:
    """Receives requests on ``config.host:config.port`` and answers them.

    Args:
        config: listening address and limits.
        engine: handed to the job queue's worker.
        sock: an already-bound socket (tests); bound from ``config`` if None.
        before_startup: the job queue's step before its startup load
            (:class:`~bridge.jobs.JobQueue`): the start-up download.
    """

    def __init__(
        self,
        config: ServeConfig,
        engine: EngineLike,
        sock: socket.socket | None = None,
        before_startup: Callable[[Callable[[str], None]], None] | None = None,
    ) -> None:
        self.config = config
        self.limits = requests.Limits(
            config.max_seconds,
            config.out_dir,
            config.token,
            config.max_variations,
            config.adapters_dir,
        )
        self._engine = engine
        # This run's identity (docs/protocol.md, ping): a client following a
        # take that sees it change knows the engine restarted and the take is lost.
        self.run = secrets.token_hex(6)
        self._sock = sock
        # Replies leave from their own socket: on Linux an ICMP "port
        # unreachable" for a closed reply port would otherwise surface as an
        # error on the receiving socket's next recvfrom.
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._stop = threading.Event()
        self.jobs = JobQueue(
            engine,
            self,
            config.max_queue,
            startup_model=config.model,
            max_batch=config.max_batch,
            before_startup=before_startup,
            gather_ms=config.gather_ms,
            arriving=self._generate_waiting,
        )

    @property
    def address(self) -> tuple[str, int]:
        assert self._sock is not None, "bind() first"
        return self._sock.getsockname()[:2]

    def bind(self) -> None:
        """Open the listening socket.  Raises OSError (e.g. port in use)."""
        if self._sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.config.host, self.config.port))
            except OSError:
                sock.close()
                raise
            self._sock = sock
        self._sock.settimeout(POLL_S)

    def serve_forever(self) -> None:
        """Receive until :meth:`stop`; then shut the job queue down."""
        self.bind()
        assert self._sock is not None
        self.jobs.start()
        try:
            while not self._stop.is_set():
                try:
                    data, source = self._sock.recvfrom(MAX_DATAGRAM)
                except TimeoutError:
                    continue
                except (ConnectionResetError, ConnectionRefusedError):
                    continue  # Windows reports a closed peer port here; not our fault
                self.handle_datagram(data, source)
        finally:
            self.jobs.shutdown()
            self._sock.close()
            self._out.close()

    def stop(self) -> None:
        """Ask :meth:`serve_forever` to return (safe from a signal handler)."""
        self._stop.set()

    # -- requests ---------------------------------------------------------------

    def handle_datagram(self, data: bytes, source: tuple[str, int]) -> None:
        """Parse one datagram (a message or a bundle) and handle each message.

        A packet that is not well-formed OSC cannot be answered (it has no
        readable id or reply port): it is logged and dropped.
        """
        problem = bundle_problem(data)
        if problem is None:
            try:
                messages = osc.decode(data)
            except osc.OscError as exc:
                problem = str(exc)
        if problem is not None:
            log.warning(
                "dropped a malformed packet (%d bytes) from %s:%d: %s",
                len(data),
                source[0],
                source[1],
                problem[:200],
            )
            return
        token = self.limits.token
        refused = False
        for address, args in messages:
            if token is not None and not requests.authenticated(args, token):
                # One unauthorized per datagram at most: a bundle of a hundred
                # messages without the token must not draw a hundred replies.
                if refused:
                    continue
                refused = True
            self.handle_message(address, args, source)

    def handle_message(self, address: str, args: list[Any], source: tuple[str, int]) -> None:
        """Validate and dispatch one message; every failure becomes an error reply.

        In token mode a message without the token gets at most a short
        ``unauthorized``, and only if it has a usable id (else nothing).
        """
        try:
            request = requests.parse(address, args, self.limits)
        except RequestRejected as exc:
            if exc.code == "unauthorized" and not exc.request_id:
                log.info("dropped %s from %s: no token and no usable id", address[:64], source[0])
                return
            port = exc.reply_port or source[1]
            log.info("refused %s from %s: %s (%s)", address, source[0], exc.code, exc.message)
            self.send((source[0], port), replies.error(exc.request_id, exc.code, exc.message))
            return
        except Exception as exc:  # a validation bug: answer the sender, keep serving
            log.exception("internal error validating %s", address)
            self.send(source, replies.error("", "internal_error", str(exc)))
            return
        reply_to = (source[0], request.reply_port)
        try:
            self._dispatch(request, reply_to)
        except BridgeError as exc:
            log.info("refused %s %s: %s (%s)", address, request.id, exc.code, exc.message)
            # A duplicate's id names another request's job: an error under it
            # would read as that job's end, so it goes out without one.
            reply_id = "" if isinstance(exc, DuplicateId) else request.id
            self.send(reply_to, replies.error(reply_id, exc.code, exc.message))
        except Exception as exc:  # the one boundary: log it, answer it, keep serving
            log.exception("internal error handling %s %s", address, request.id)
            self.send(reply_to, replies.error(request.id, "internal_error", str(exc)))

    def _dispatch(self, request: Request, reply_to: tuple[str, int]) -> None:
        if isinstance(request, GenerateRequest):
            job = Job(request.id, request.spec, reply_to, preview=request.preview)
            job.followed = self._generate_waiting()  # a burst: the gather window may wait

            def say_queued(position: int) -> None:  # before the worker can see the job
                self.send(reply_to, replies.queued(request.id, position))

            position = self.jobs.submit(job, say_queued)
            log.info(
                "queued %s (%d ahead): %.2f s of %r",
                request.id,
                position,
                request.spec.duration_seconds,
                request.spec.prompt,
            )
        elif isinstance(request, CancelRequest):
            was = self.jobs.cancel(request.job)
            self.send(reply_to, replies.cancelled(request.id, request.job, was))
        elif isinstance(request, QueryRequest):
            for reply in self._query(request):
                self.send(reply_to, reply)

    def _generate_waiting(self) -> bool:
        """Whether a generate request is waiting to be read: a peek that reads nothing,
        for the job queue's gather window (from the receiving and the worker thread)."""
        sock = self._sock
        try:
            if sock is None or not select.select([sock], [], [], 0)[0]:
                return False
            if not hasattr(socket, "MSG_DONTWAIT"):  # Windows: any datagram says so
                return True
            return GENERATE in sock.recv(MAX_DATAGRAM, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (OSError, ValueError):  # read meanwhile, or the socket closed: no hint
            return False

    def _query(self, request: QueryRequest) -> list[Reply]:
        """The answer to ping, status or models, after its details when asked for
        (``details 1``: one entry per job or checkpoint, then the reply that ends them)."""
        now = self.jobs.snapshot()
        if request.kind == "ping":
            return [replies.pong(request.id, version(), now.state, now.model, now.reason, self.run)]
        if request.kind == "status":
            resident = [
                (m.model_id, m.device, m.dtype, m.load_seconds, m.memory_bytes)
                for m in now.resident
            ]
            memory = (
                now.memory.rss_bytes,
                now.memory.gpu_allocated_bytes,
                now.memory.gpu_free_bytes,
            )
            details = replies.job_entries(request.id, now.jobs) if request.details else []
            reply = replies.status(
                request.id,
                now.state,
                now.model,
                now.device,
                now.running,
                now.waiting,
                now.reason,
                resident,
                memory,
                self.run,
            )
            return [*details, reply]
        details = replies.model_entries(request.id, self._catalog()) if request.details else []
        return [*details, replies.models(request.id, now.loaded, self._available_models())]

    def _available_models(self) -> list[str]:
        lister = getattr(self._engine, "available_models", None)
        return list(lister()) if lister else []

    def _catalog(self) -> list[replies.ModelRow]:
        lister = getattr(self._engine, "catalog", None)
        if lister is None:
            return []
        try:
            entries = lister()
        except Exception:  # a scan must never take the receiving thread down
            log.exception("could not list the checkpoints on this machine")
            return []
        return [
            (e.name, e.kind, e.state, e.revision, e.size_bytes, e.melody, e.source, e.base)
            for e in entries
        ]

    # -- replies (JobListener) --------------------------------------------------

    def send(self, to: tuple[str, int], reply: Reply) -> None:
        try:
            self._out.sendto(encode(reply), to)
        except OSError as exc:
            log.warning("could not send %s to %s:%d: %s", reply[0], to[0], to[1], exc)

    def progress(self, job: Job, fraction: float, stage: str) -> None:
        self.send(job.reply_to, replies.progress(job.id, fraction, stage))

    def done(self, job: Job, paths: list[str], warnings: Sequence[tuple[str, str]] = ()) -> None:
        # Warnings travel on their own address, before done: clients written
        # before they existed read every argument of done as a path.
        for code, message in warnings:
            self.send(job.reply_to, replies.warning(job.id, code, message))
        self.send(job.reply_to, replies.done(job.id, paths))

    def failed(self, job: Job, error: BridgeError) -> None:
        self.send(job.reply_to, replies.error(job.id, error.code, error.message))

    def preview(self, job: Job, path: str, seconds: float, take: int, count: int) -> None:
        self.send(job.reply_to, replies.preview(job.id, path, seconds, take, count))
