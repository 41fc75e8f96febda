"""The `models` command's output: the engine's ``/musicgen/model`` entries as a table
(`format_catalog`), and the model menu the DAW clients show (`menu_items`, `catalog_json`).

The menu is what the Max device's Model menu and the REAPER Settings menu list, item for item:
``musicgen-bridge models --json`` gives it under ``"menu"`` (the REAPER scripts read it from
there), and max4live/musicgen_bridge.js builds the same labels from the same entries (an
end-to-end test keeps the two equal).
"""

from __future__ import annotations

import json
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


def menu_label(entry: dict[str, Any]) -> str:
    """What a menu shows for one checkpoint: its name (a folder by its last part) and, in
    brackets, what the producer needs to know before choosing it.

    'facebook/musicgen-small (resident)', 'debug-melody (test noise, ready, melody)',
    'my-finetune (folder, ready)', 'facebook/musicgen-small+my-lora (finetune, ready)',
    'facebook/musicgen-large (download first, about 6.5 GB)'.
    """
    name = str(entry["name"])
    kind, state = entry["kind"], entry["state"]
    shown, tags = name, []
    if kind == "folder":
        shown = name.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or name
        tags.append("folder")
    elif kind == "debug":
        tags.append("test noise")
    elif kind == "adapter":
        tags.append("finetune")
    if state == "resident":
        tags.append("resident")
    elif state == "not_downloaded":
        tags.append("download first, " + format_size(float(entry["size_mb"]), approx=True))
    else:
        tags.append("ready")
    if entry["melody"]:
        tags.append("melody")
    return f"{shown} ({', '.join(tags)})"


def menu_items(
    loaded: str, available: Sequence[str], entries: Sequence[dict[str, Any]]
) -> list[dict[str, str]]:
    """The model menu, first item "engine default (LOADED)" (name "": send no model).

    Each item is {"label", "name", "download", "size"}: ``name`` is what a request's ``model``
    says (labels are not names), ``download`` the command that fetches a checkpoint not on
    this machine and ``size`` its approximate download ("" for the others; choosing such an
    item shows the command instead of sending a request that would fail).  With entries:
    one item per name in the engine's order (a repo with several cache snapshots is one
    item, resident if any of them is).  Without (an engine that predates them): the plain
    list's names but the loaded one, labelled by name.
    """
    items = [{"label": f"engine default ({loaded})", "name": "", "download": "", "size": ""}]
    if not entries:
        items += [
            {"label": n, "name": n, "download": "", "size": ""} for n in available if n != loaded
        ]
        return items
    by_name: dict[str, dict[str, Any]] = {}
    for entry in entries:
        first = by_name.setdefault(str(entry["name"]), dict(entry))
        if entry["state"] == "resident":
            first["state"] = "resident"
    for name, entry in by_name.items():
        missing = entry["state"] == "not_downloaded"
        items.append(
            {
                "label": menu_label(entry),
                "name": name,
                "download": str(entry["source"]) if missing else "",
                "size": format_size(float(entry["size_mb"]), approx=True) if missing else "",
            }
        )
    return items


def catalog_json(loaded: str, available: Sequence[str], entries: Sequence[dict[str, Any]]) -> str:
    """``models --json``: {"loaded", "models" (the plain list), "entries" (the details, [] from
    an engine that predates them), "menu" (`menu_items`)}."""
    return json.dumps(
        {
            "loaded": loaded,
            "models": list(available),
            "entries": list(entries),
            "menu": menu_items(loaded, available, entries),
        },
        indent=2,
        ensure_ascii=False,
    )
