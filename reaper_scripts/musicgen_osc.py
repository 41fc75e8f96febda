"""Just enough OSC 1.0 for the REAPER Python variant, with the standard library alone.

REAPER's embedded Python sees no virtualenv, and PEP 668 refuses ``pip install`` into
Homebrew's and Debian's Pythons, so the variant cannot count on python-osc.  This module
encodes one message (string ``s``, int32 ``i``, int64 ``h``, float32 ``f``, true/false ``T``/``F``)
and decodes messages and bundles (also ``d``, ``S``, ``b``, ``N``, ``I``), as the OSC 1.0
specification lays them out: a null-padded address, a ``,``-type tag string, big-endian
arguments, every part a multiple of 4 bytes.
"""

from __future__ import annotations

import struct
from typing import Any

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class ParseError(ValueError):
    """A datagram that is not OSC 1.0."""


def _padded(data: bytes) -> bytes:
    """``data`` with its terminating null, padded to a multiple of 4 bytes."""
    return data + b"\0" * (4 - len(data) % 4)


def encode_message(address: str, args: list[Any]) -> bytes:
    """One OSC message datagram: ``address`` and ``args`` (str, int, float, bool)."""
    tags, payload = [","], []
    for arg in args:
        if isinstance(arg, bool):
            tags.append("T" if arg else "F")
        elif isinstance(arg, int):
            if INT32_MIN <= arg <= INT32_MAX:
                tags.append("i")
                payload.append(struct.pack(">i", arg))
            else:
                tags.append("h")
                payload.append(struct.pack(">q", arg))
        elif isinstance(arg, float):
            tags.append("f")
            payload.append(struct.pack(">f", arg))
        elif isinstance(arg, str):
            tags.append("s")
            payload.append(_padded(arg.encode("utf-8")))
        else:
            raise TypeError(f"OSC cannot carry {type(arg).__name__}")
    head = _padded(address.encode("utf-8")) + _padded("".join(tags).encode("ascii"))
    return head + b"".join(payload)


def _string(data: bytes, at: int) -> tuple[str, int]:
    end = data.find(b"\0", at)
    if end < 0:
        raise ParseError("unterminated string")
    text = data[at:end].decode("utf-8", errors="replace")
    return text, at + (end - at + 4) // 4 * 4  # the null included, padded to 4 bytes


def _message(data: bytes) -> tuple[str, list[Any]]:
    address, at = _string(data, 0)
    if not address.startswith("/"):
        raise ParseError("not an OSC address")
    if at >= len(data):
        return address, []
    tags, at = _string(data, at)
    if not tags.startswith(","):
        raise ParseError("no type tags")
    args: list[Any] = []
    try:
        for tag in tags[1:]:
            if tag == "i":
                args.append(struct.unpack_from(">i", data, at)[0])
                at += 4
            elif tag == "h":
                args.append(struct.unpack_from(">q", data, at)[0])
                at += 8
            elif tag == "f":
                args.append(struct.unpack_from(">f", data, at)[0])
                at += 4
            elif tag == "d":
                args.append(struct.unpack_from(">d", data, at)[0])
                at += 8
            elif tag in "sS":
                text, at = _string(data, at)
                args.append(text)
            elif tag == "b":
                size = struct.unpack_from(">i", data, at)[0]
                args.append(data[at + 4 : at + 4 + size])
                at += 4 + size + (4 - size % 4) % 4
            elif tag in "TFNI":
                args.append({"T": True, "F": False, "N": None, "I": float("inf")}[tag])
            else:
                raise ParseError(f"unknown type tag {tag!r}")
    except struct.error as exc:
        raise ParseError("truncated argument") from exc
    return address, args


def decode(data: bytes, depth: int = 0) -> list[tuple[str, list[Any]]]:
    """The messages in a datagram (a message, or a bundle of them): [(address, args)...]."""
    if not data.startswith(b"#bundle\0"):
        return [_message(data)]
    if depth > 8:
        raise ParseError("bundles nested too deep")
    out, at = [], 16  # "#bundle\0" and the time tag
    while at < len(data):
        if at + 4 > len(data):
            raise ParseError("truncated bundle")
        size = struct.unpack_from(">i", data, at)[0]
        if size <= 0 or at + 4 + size > len(data):
            raise ParseError("bad bundle element size")
        out += decode(data[at + 4 : at + 4 + size], depth + 1)
        at += 4 + size
    return out
