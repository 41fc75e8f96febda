"""The `models` command's table: the engine's ``/musicgen/model`` entries, grouped by kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_HEADINGS = {
    "debug": "Built in (random weights, make noise; for testing):",
    "cache": "In the Hugging Face cache:",
    "folder": "Under --models-dir:",
    "adapter": "LoRA adapters (under --adapters-dir; a request names one as BASE+NAME):",
    "release": "Released, not downloaded (the command fetches one):",
}


def format_size(size_mb: float, approx: bool = False) -> str:
    """MiB as a producer reads it: '812.0 MiB', '2.3 GiB', 'size unknown'.

    ``approx`` (a download size): decimal GB as the published figures give
    them, 'about 1.2 GB'.
    """
    if size_mb < 0:
        return "size unknown"
    if approx:
        return f"about {size_mb * 2**20 / 1e9:.1f} GB"
    return f"{size_mb / 1024:.1f} GiB" if size_mb >= 1024 else f"{size_mb:.1f} MiB"


def format_catalog(entries: Sequence[dict[str, Any]]) -> str:
    """One section per kind, one line per checkpoint; resident ones say so."""
    lines: list[str] = []
    width = max((len(str(e["name"])) for e in entries), default=0)
    for kind, heading in _HEADINGS.items():
        group = [e for e in entries if e["kind"] == kind]
        if not group:
            continue
        if lines:
            lines.append("")
        lines.append(heading)
        for e in group:
            size = format_size(float(e["size_mb"]), approx=kind == "release")
            parts = [f"  {e['name']!s:<{width}}"]
            if kind == "release":
                parts += [f"{size:<16}", str(e["source"])]
            else:
                if kind == "debug" and float(e["size_mb"]) < 0:
                    size = "built on first use"
                parts += [f"{e['state']!s:<9}", f"{size:<18}"]
                if e["revision"]:
                    parts.append(f"revision {e['revision']}")
                if kind == "adapter":
                    parts.append(
                        f"on {e['base']}" if e.get("base") else "names no base: send --model too"
                    )
                if e["melody"]:
                    parts.append("melody")
            lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
