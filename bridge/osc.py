"""OSC 1.0 datagrams decoded into messages, every type tag accounted for.

python-osc (which builds our replies) skips the type tags it does not know,
``S`` (symbol), ``c`` (char) and ``I`` (infinitum) among them, without
reading their bytes, so a symbol vanished from the arguments ("an odd count
was sent") and a char's four bytes were read as the next argument.  Here
each tag of OSC 1.0 and its common extensions is read at its true size:

=========  ====================  =========================================
tag        OSC type              decoded as
=========  ====================  =========================================
``i``      int32                 ``int``
``h``      int64                 ``int``
``f``      float32               ``float``
``d``      float64               ``float``
``s``      string                ``str``
``S``      symbol                ``str`` (Max and Pd send words as symbols)
``c``      ASCII char (int32)    ``str`` of one character
``T F``    true, false           ``bool``
``N``      nil                   ``None``
``b``      blob                  :class:`Unusable` (no request key takes bytes)
``t``      time tag              :class:`Unusable`
``r``      RGBA colour           :class:`Unusable`
``m``      MIDI message          :class:`Unusable`
``I``      infinitum             :class:`Unusable`
``[ ]``    array                 ``list``
=========  ====================  =========================================

An :class:`Unusable` value still fills its place, so the key/value pairs
stay aligned and validation answers ``wrong_type`` naming the key and the
type.  A tag outside this table makes the packet unreadable (its size is
unknown): :class:`OscError`, and the server logs the packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

BUNDLE = b"#bundle\x00"


class OscError(ValueError):
    """The datagram is not well-formed OSC."""


@dataclass(frozen=True)
class Unusable:
    """An argument of an OSC type that no request key accepts.

    Attributes:
        tag: its OSC type tag, e.g. "t".
        name: what to call it in an error, e.g. "an OSC time tag".
    """

    tag: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.tag})"


# Tag -> (bytes it occupies, how to name it) for the types decoded as Unusable.
_UNUSABLE = {
    "t": (8, "an OSC time tag"),
    "r": (4, "an OSC colour"),
    "m": (4, "an OSC MIDI message"),
    "I": (0, "OSC infinitum"),
}


def decode(data: bytes) -> list[tuple[str, list[Any]]]:
    """Every message in ``data`` (a message, or a bundle of them) as (address, args).

    Raises:
        OscError: ``data`` is not well-formed OSC.
    """
    if data.startswith(BUNDLE):
        return _bundle(data)
    return [_message(data)]


def _bundle(data: bytes) -> list[tuple[str, list[Any]]]:
    messages = []
    offset = len(BUNDLE) + 8  # the time tag: every message is handled on arrival
    if len(data) < offset:
        raise OscError("truncated bundle header")
    while offset < len(data):
        (size,) = _unpack(">i", data, offset)
        offset += 4
        if size <= 0 or offset + size > len(data):
            raise OscError(f"bundle element size {size} does not fit the packet")
        messages += decode(data[offset : offset + size])
        offset += size
    return messages


def _message(data: bytes) -> tuple[str, list[Any]]:
    address, offset = _string(data, 0)
    if not address.startswith("/"):
        raise OscError(f"an OSC address starts with '/', got {address[:40]!r}")
    if offset >= len(data):
        return address, []  # no type tag string: no arguments (OSC 1.0 allows it)
    tags, offset = _string(data, offset)
    if not tags.startswith(","):
        raise OscError("the type tag string must start with ','")
    args: list[Any] = []
    stack = [args]
    for tag in tags[1:]:
        value: Any
        if tag == "[":
            stack.append([])
            continue
        if tag == "]":
            if len(stack) < 2:
                raise OscError("']' without '[' in the type tags")
            value = stack.pop()
        else:
            value, offset = _value(tag, data, offset)
        stack[-1].append(value)
    if len(stack) != 1:
        raise OscError("'[' without ']' in the type tags")
    return address, args


def _value(tag: str, data: bytes, offset: int) -> tuple[Any, int]:
    """One argument of type ``tag`` at ``offset``; returns it and the next offset."""
    if tag == "i":
        return _unpack(">i", data, offset)[0], offset + 4
    if tag == "h":
        return _unpack(">q", data, offset)[0], offset + 8
    if tag == "f":
        return _unpack(">f", data, offset)[0], offset + 4
    if tag == "d":
        return _unpack(">d", data, offset)[0], offset + 8
    if tag in "sS":
        return _string(data, offset)
    if tag == "c":
        (code,) = _unpack(">I", data, offset)
        if code > 0x10FFFF:
            raise OscError(f"char argument {code} is not a character")
        return chr(code), offset + 4
    if tag in "TFN":
        return {"T": True, "F": False, "N": None}[tag], offset
    if tag == "b":
        (size,) = _unpack(">i", data, offset)
        end = offset + 4 + size
        if size < 0 or end > len(data):
            raise OscError(f"blob size {size} does not fit the packet")
        return Unusable("b", "an OSC blob"), end + (-size % 4)
    if tag in _UNUSABLE:
        size, name = _UNUSABLE[tag]
        if offset + size > len(data):
            raise OscError(f"truncated {name}")
        return Unusable(tag, name), offset + size
    raise OscError(f"unknown OSC type tag {tag!r}")


def _string(data: bytes, offset: int) -> tuple[str, int]:
    """A NUL-terminated string padded to 4 bytes."""
    end = data.find(b"\x00", offset)
    padded = end + 4 - (end % 4)
    if end < 0 or padded > len(data):
        raise OscError("an OSC string is not terminated and padded")
    try:
        text = data[offset:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OscError(f"an OSC string is not UTF-8: {exc}") from None
    return text, padded


def _unpack(fmt: str, data: bytes, offset: int) -> tuple[Any, ...]:
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise OscError("the packet ends inside an argument") from None
