"""Build ``MusicGen Bridge.amxd`` from ``musicgen_bridge.maxpat`` (Python stdlib only).

An unfrozen Max for Live device is the patcher JSON behind a small chunk header
(little-endian sizes)::

    b"ampf" u32(4) b"aaaa"      -- device kind: aaaa audio effect, mmmm MIDI effect, iiii instrument
    b"meta" u32(4) u32(0)       -- meta chunk, 4 bytes
    b"ptch" u32(n) <n bytes>    -- the patcher JSON, then one NUL byte

The JavaScript files are not embedded: the patch names them in its
``dependency_cache`` (relative path "."), so the .amxd must stay in the same
folder as ``musicgen_bridge.js``, the modules it require()s and ``musicgen_mkdir.js``
(see docs/ableton.md; Max's Freeze button makes a self-contained copy of what the
cache lists, which max4live/tests/amxd_modules.test.js checks).

Usage:
    python max4live/build_amxd.py           # write the .amxd
    python max4live/build_amxd.py --check   # exit 1 if the committed .amxd is stale
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "musicgen_bridge.maxpat"
TARGET = HERE / "MusicGen Bridge.amxd"
DEVICE_KIND = b"aaaa"  # audio effect: sits on any track, the Master included
HEADER = struct.Struct("<4sI4s4sII4sI")  # ampf 4 kind meta 4 0 ptch size


def build(source: Path = SOURCE) -> bytes:
    """The .amxd bytes for a .maxpat file.

    Raises:
        ValueError: the source is not a patcher JSON document.
    """
    text = source.read_text(encoding="utf-8")
    doc = json.loads(text)
    if "patcher" not in doc:
        raise ValueError(f"{source} has no top-level 'patcher' object")
    payload = text.encode("utf-8") + b"\x00"
    return HEADER.pack(b"ampf", 4, DEVICE_KIND, b"meta", 4, 0, b"ptch", len(payload)) + payload


def read(data: bytes) -> tuple[bytes, dict]:
    """Split .amxd bytes into (device kind, patcher JSON document).

    Raises:
        ValueError: the header or the payload is malformed.
    """
    if len(data) < HEADER.size:
        raise ValueError("file shorter than the 32-byte .amxd header")
    magic, version, kind, meta, meta_size, _, ptch, size = HEADER.unpack_from(data)
    if (magic, version, meta, meta_size, ptch) != (b"ampf", 4, b"meta", 4, b"ptch"):
        raise ValueError(f"not an unfrozen .amxd header: {data[: HEADER.size]!r}")
    if kind not in (b"aaaa", b"mmmm", b"iiii"):
        raise ValueError(f"unknown device kind {kind!r}")
    payload = data[HEADER.size :]
    if len(payload) != size or not payload.endswith(b"\x00"):
        raise ValueError(f"ptch size {size} does not match the {len(payload)} bytes after it")
    return kind, json.loads(payload[:-1].decode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the .amxd is out of date")
    args = parser.parse_args(argv)
    wanted = build()
    if args.check:
        if not TARGET.exists() or TARGET.read_bytes() != wanted:
            print(f"{TARGET.name} is stale: run python max4live/build_amxd.py", file=sys.stderr)
            return 1
        print(f"{TARGET.name} is up to date")
        return 0
    TARGET.write_bytes(wanted)
    print(f"wrote {TARGET} ({len(wanted)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
