"""The DAW model menu built from the engine's models list (bridge/model_list.py)."""

from __future__ import annotations

import json

from bridge.model_list import catalog_json, menu_items


def _entry(name, kind="cache", state="ready", size_mb=100.0, melody=False, source="/hub/x"):
    return {
        "name": name,
        "kind": kind,
        "state": state,
        "revision": "",
        "size_mb": size_mb,
        "melody": melody,
        "source": source,
    }


ENTRIES = [
    _entry("debug", "debug", "resident", 0.9, source="built in"),
    _entry("debug-melody", "debug", "ready", -1, True, "built in"),
    _entry("facebook/musicgen-small", state="ready"),
    _entry("facebook/musicgen-small", state="resident"),
    _entry("/srv/models/night-drive/", "folder", source="/srv/models/night-drive"),
    _entry("C:\\models\\lofi", "folder", source="C:\\models\\lofi"),
    _entry("facebook/musicgen-small+night-lora", "adapter", source="/cache/adapters/night-lora"),
    _entry(
        "facebook/musicgen-large",
        "release",
        "not_downloaded",
        6_500_000_000 / 2**20,
        source="musicgen-bridge download facebook/musicgen-large",
    ),
    _entry(
        "facebook/musicgen-melody",
        "release",
        "not_downloaded",
        -1,
        True,
        "musicgen-bridge download facebook/musicgen-melody",
    ),
]


def test_menu_labels_names_and_download_commands():
    menu = menu_items("debug", ["debug", "facebook/musicgen-small"], ENTRIES)
    assert [(i["label"], i["name"], i["download"]) for i in menu] == [
        ("engine default (debug)", "", ""),
        ("debug (test noise, resident)", "debug", ""),
        ("debug-melody (test noise, ready, melody)", "debug-melody", ""),
        ("facebook/musicgen-small (resident)", "facebook/musicgen-small", ""),
        ("night-drive (folder, ready)", "/srv/models/night-drive/", ""),
        ("lofi (folder, ready)", "C:\\models\\lofi", ""),
        (
            "facebook/musicgen-small+night-lora (finetune, ready)",
            "facebook/musicgen-small+night-lora",
            "",
        ),
        (
            "facebook/musicgen-large (download first, about 6.5 GB)",
            "facebook/musicgen-large",
            "musicgen-bridge download facebook/musicgen-large",
        ),
        (
            "facebook/musicgen-melody (download first, size unknown, melody)",
            "facebook/musicgen-melody",
            "musicgen-bridge download facebook/musicgen-melody",
        ),
    ]


def test_a_download_item_carries_its_size():
    menu = menu_items("debug", [], ENTRIES)
    assert [i["size"] for i in menu if i["download"]] == ["about 6.5 GB", "size unknown"]
    assert {i["size"] for i in menu if not i["download"]} == {""}


def test_an_engine_without_details_gives_names_but_the_loaded_one():
    menu = menu_items("debug", ["debug", "facebook/musicgen-small"], [])
    assert [(i["label"], i["name"], i["download"]) for i in menu] == [
        ("engine default (debug)", "", ""),
        ("facebook/musicgen-small", "facebook/musicgen-small", ""),
    ]


def test_models_json_carries_list_entries_and_menu():
    data = json.loads(catalog_json("debug", ["debug"], ENTRIES[:1]))
    assert data["loaded"] == "debug"
    assert data["models"] == ["debug"]
    assert data["entries"] == ENTRIES[:1]
    assert [i["label"] for i in data["menu"]] == [
        "engine default (debug)",
        "debug (test noise, resident)",
    ]
