# @description MusicGen: Generate from selection (Python variant, OSC via python-osc)
# @author musicgen-bridge
# @version 0.2.0
# @noindex
# Needs Python enabled in REAPER (Preferences > Plug-ins > ReaScript) with python-osc
# installed for that Python (`pip install python-osc`).  See docs/reaper.md.
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import reaper_python as api

_job = None


def musicgen_tick():
    """One defer tick; errors are reported, never left to kill the script silently."""
    try:
        if _job.poll():
            api.RPR_defer("musicgen_tick()")
        else:
            _job.finish()
    except Exception:
        api.RPR_MB(
            "Something went wrong inside the MusicGen script:\n\n" + traceback.format_exc(),
            "MusicGen",
            0,
        )


def main():
    global _job
    try:
        from musicgen_reaper import Generator, Problem
    except ImportError as exc:
        api.RPR_MB(
            f"This action needs python-osc for REAPER's Python ({exc}). "
            "Install it with `pip install python-osc`, or use the Lua action.",
            "MusicGen",
            0,
        )
        return
    _job = Generator(api)
    try:
        if not _job.prepare():
            return
        _job.start()
    except Problem as exc:
        api.RPR_MB(str(exc), "MusicGen", 0)
        return
    except OSError as exc:
        api.RPR_MB(
            f"Could not talk to the engine: {exc}.\n\nIs the engine running? Start it with "
            "`musicgen-bridge serve` in a terminal.",
            "MusicGen",
            0,
        )
        return
    musicgen_tick()


main()
