"""Run the Python ReaScript as REAPER does, in an interpreter started with ``-I -S`` (no
site-packages, so python-osc cannot be imported): the script is executed from its source
without ``__file__``, ``reaper_python`` is the fake, RPR_defer'd code runs every 50 ms.
Prints one JSON object: whether python-osc was importable, the tracks, the message boxes.

Usage: python3 -I -S py_isolated_driver.py WORKDIR PORT
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # -I leaves the script's folder off sys.path (3.11+)

from fake_reaper_python import FakeReaper  # noqa: E402


def main() -> None:
    workdir, port = sys.argv[1], sys.argv[2]
    try:
        import pythonosc  # noqa: F401

        osc_importable = True
    except ImportError:
        osc_importable = False
    api = FakeReaper(
        os.path.join(workdir, "song.rpp"), "pad\n1\n7\n", {"port": port}, selected=False
    )
    script = os.path.join(os.path.dirname(HERE), "MusicGen_Generate_from_selection.py")
    api.script_path = script
    sys.modules["reaper_python"] = api
    scope = {"__name__": "__main__"}  # REAPER's Python: no __file__
    with open(script, encoding="utf-8") as f:
        exec(compile(f.read(), "<ReaScript>", "exec"), scope)
    deadline = time.monotonic() + 120
    while api.deferred and time.monotonic() < deadline:
        time.sleep(0.05)
        exec(api.deferred.pop(0), scope)
    print(
        json.dumps(
            {
                "osc_importable": osc_importable,
                "modules": sorted(m for m in sys.modules if m.startswith("musicgen")),
                "tracks": [(t["name"], api.items(i)) for i, t in enumerate(api.tracks)],
                "messages": [c[1] for c in api.named("MB")],
                "pending": len(api.deferred),
            }
        )
    )


main()
