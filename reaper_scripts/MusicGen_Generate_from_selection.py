# @description MusicGen: Generate from selection (Python variant, OSC with the standard library)
# @author musicgen-bridge
# @version 0.4.0
# @noindex
# Needs Python enabled in REAPER (Preferences > Plug-ins > ReaScript); nothing to install:
# it uses the standard library alone.  See docs/reaper.md.
import os
import sys
import traceback

import reaper_python as api


def _script_folder():
    """The folder of this script.  REAPER's Python defines no __file__, so it is looked for in
    turn: __file__ (other hosts), the action context's file name (RPR_get_action_context, as
    ReaScripts do), this code's own file name, and sys.path[0]; the first folder that holds
    musicgen_reaper.py wins."""
    candidates = []
    if "__file__" in globals():
        candidates.append(os.path.dirname(os.path.abspath(__file__)))
    try:
        context = api.RPR_get_action_context()
        if len(context) > 1 and context[1]:
            candidates.append(os.path.dirname(context[1]))
    except Exception:  # an older REAPER without it for Python
        pass
    candidates.append(os.path.dirname(os.path.abspath(sys._getframe().f_code.co_filename)))
    candidates.append(sys.path[0] if sys.path else "")
    for folder in candidates:
        if folder and os.path.isfile(os.path.join(folder, "musicgen_reaper.py")):
            return folder
    return None


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


def musicgen_atexit():
    """REAPER ended the script (Terminate instances, or quitting) while a take renders."""
    if _job is not None and _job.state == "running":
        api.RPR_ShowConsoleMsg(_job.left_behind())


def main():
    """Run the action.  It always ends with a deferred no-op: a ReaScript that ends without
    deferring gets REAPER's automatic "ReaScript: Run" undo point (docs/reaper.md), which a
    cancelled or refused dialog must not leave (the take makes its own undo point)."""
    try:
        _main()
    finally:
        api.RPR_defer("pass")


def _main():
    global _job
    folder = _script_folder()
    if folder is None:
        api.RPR_MB(
            "Could not find musicgen_reaper.py next to this script. Keep the files of "
            "reaper_scripts/ together (see docs/reaper.md), or use the Lua action.",
            "MusicGen",
            0,
        )
        return
    if folder not in sys.path:
        sys.path.insert(0, folder)
    from musicgen_reaper import Generator, Problem

    _job = Generator(api)
    try:
        if not _job.prepare():
            return
        _job.start()
        api.RPR_atexit("musicgen_atexit()")
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
