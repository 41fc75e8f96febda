"""Requests: the typed form of each OSC request, and :func:`parse`, which makes one.

:func:`parse` turns an ``(address, args)`` pair into a frozen request by the
tables in :mod:`bridge.protocol`, or raises :class:`RequestRejected` around an
:class:`~engine.errors.InvalidRequest` child whose ``code`` goes on the wire.
A generate request's arguments become a spec in :mod:`bridge.generate_spec`.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from bridge.arg_check import check, osc_type
from bridge.generate_spec import build_spec
from bridge.protocol import ADDRESSES, MAX_ID_CHARS, MAX_VARIATIONS, PREFIX
from engine.errors import (
    BridgeError,
    InvalidRequest,
    InvalidValue,
    MissingArgument,
    ModelNotAvailable,
    OutOfRange,
    Unauthorized,
    UnknownAddress,
    UnknownArgument,
    WrongType,
)
from engine.spec import GenerationSpec

# Used with fullmatch: "$" alone would also match before a trailing newline.
_ID = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


@dataclass(frozen=True)
class Limits:
    """Server-side policy that validation needs (from the engine's config).

    Attributes:
        max_seconds: longest take accepted.
        default_out_dir: folder for takes whose request names none (None: out_dir required).
        token: shared secret every request must carry (None: not required).
        max_variations: most takes one request may ask for.
        adapters_dir: where a bare adapter name is looked up (serve --adapters-dir);
            None: bare names are refused.
    """

    max_seconds: float = 120.0
    default_out_dir: Path | None = None
    token: str | None = None
    max_variations: int = 4
    adapters_dir: Path | None = None


@dataclass(frozen=True)
class GenerateRequest:
    id: str
    reply_port: int
    spec: GenerationSpec
    preview: bool = False  # the client asked for /musicgen/preview replies


@dataclass(frozen=True)
class CancelRequest:
    id: str
    reply_port: int
    job: str


@dataclass(frozen=True)
class QueryRequest:
    """ping, status or models: answered at once, never queued."""

    kind: Literal["ping", "status", "models"]
    id: str
    reply_port: int
    details: bool = False  # models, status: send the /musicgen/model or /job replies first


Request = GenerateRequest | CancelRequest | QueryRequest


class RequestRejected(BridgeError):
    """An invalid request, with whatever of its envelope could be read.

    Attributes:
        error: the InvalidRequest child that says what is wrong, or
            ModelNotAvailable for an adapter that is not on this machine.
        request_id: the request's id if it had a usable one, else "".
        reply_port: its reply_port if usable, else None (reply to the source port).
    """

    def __init__(
        self,
        error: InvalidRequest | ModelNotAvailable,
        request_id: str,
        reply_port: int | None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.code = error.code
        self.request_id = request_id
        self.reply_port = reply_port


def parse(address: str, args: list[Any], limits: Limits) -> Request:
    """Validate one OSC message into a typed request.

    Args:
        address: the OSC address, e.g. "/musicgen/generate".
        args: the OSC arguments (str, int, float, bytes, bool, None...).
        limits: the server's limits.

    Raises:
        RequestRejected: wrapping the InvalidRequest child that says why.
    """
    pairs = _pairs_leniently(args)
    raw_id = pairs.get("id")
    # Stripped as check strips it, so an error names the id a success would.
    request_id = raw_id.strip() if isinstance(raw_id, str) else ""
    port = pairs.get("reply_port")
    reply_port = port if type(port) is int and 1 <= port <= 65535 else None
    # An id that is not valid as sent (too long, spaces, given twice) is not
    # echoed, cut or guessed at: a reply under it could name another request.
    given = [key for key in args[: len(args) // 2 * 2 : 2] if key == "id"]
    if len(given) > 1 or len(request_id) > MAX_ID_CHARS or not _ID.fullmatch(request_id):
        request_id = ""
    if limits.token is not None and not authenticated(args, limits.token):
        # Checked before anything else, and said in as few words: a sender
        # without the token learns nothing of the addresses or keys, and its
        # reply is no bigger than its request.  Only a known address with a
        # usable id gets one (the server drops the rest).
        known = address in ADDRESSES
        raise RequestRejected(
            Unauthorized(UNAUTHORIZED_MESSAGE),
            request_id if known else "",
            reply_port if known else None,
        )
    try:
        return _parse(address, args, limits)
    except (InvalidRequest, ModelNotAvailable) as exc:
        raise RequestRejected(exc, request_id, reply_port) from exc


UNAUTHORIZED_MESSAGE = "This engine needs its token (serve --token)."


def authenticated(args: list[Any], token: str) -> bool:
    """Whether the key/value ``args`` carry ``token``, compared as values are read:
    trimmed (``serve`` refuses a token with surrounding spaces), in constant time."""
    keys = args[: len(args) // 2 * 2 : 2]
    sent = [value for key, value in zip(keys, args[1::2], strict=False) if key == "token"]
    if len(sent) != 1 or not isinstance(sent[0], str):
        return False
    return hmac.compare_digest(sent[0].strip().encode(), token.encode())


def _parse(address: str, args: list[Any], limits: Limits) -> Request:
    table = ADDRESSES.get(address)
    if table is None:
        known = ", ".join(sorted(ADDRESSES))
        raise UnknownAddress(f"Unknown address {address!r}. Known: {known}.")
    if len(args) % 2:
        raise InvalidRequest("Arguments must come in key value pairs (an odd count was sent).")
    values: dict[str, Any] = {}
    by_name = {a.name: a for a in table}
    for key, value in zip(args[::2], args[1::2], strict=False):
        if not isinstance(key, str):
            raise WrongType(f"Expected a key (a string) but got {osc_type(key)}.")
        arg = by_name.get(key)
        if arg is None:
            raise UnknownArgument(
                f"Unknown argument {key!r} for {address}. Known: {', '.join(by_name)}."
            )
        if key in values:
            raise InvalidRequest(f"Argument {key!r} was given twice.")
        if key == "variations":  # one limit, said one way: this engine's own
            arg = replace(arg, maximum=min(MAX_VARIATIONS, limits.max_variations))
            try:
                values[key] = check(arg, value)
            except OutOfRange as exc:
                said = exc.message.removesuffix(".")
                raise OutOfRange(f"{said} (engine flag --max-variations).") from None
            continue
        values[key] = check(arg, value)
    for arg in table:
        if arg.required and arg.name not in values:
            raise MissingArgument(f"{address} needs {arg.name!r} ({arg.help}).")
    if not _ID.fullmatch(values["id"]):
        raise InvalidValue("id must be printable ASCII without spaces.")
    kind = address[len(PREFIX) + 1 :]
    if kind == "generate":
        spec = build_spec(values, limits)
        return GenerateRequest(
            values["id"], values["reply_port"], spec, bool(values.get("preview", False))
        )
    if kind == "cancel":
        return CancelRequest(values["id"], values["reply_port"], values["job"])
    return QueryRequest(
        kind,  # type: ignore[arg-type]
        values["id"],
        values["reply_port"],
        bool(values.get("details", False)),
    )


def _pairs_leniently(args: list[Any]) -> dict[str, Any]:
    """Best-effort key/value view of a possibly invalid argument list."""
    return {k: v for k, v in zip(args[::2], args[1::2], strict=False) if isinstance(k, str)}
