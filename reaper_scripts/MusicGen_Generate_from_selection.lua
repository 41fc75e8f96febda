-- @description MusicGen Bridge: generate music from the selection with a local MusicGen engine
-- @author musicgen-bridge
-- @version 0.4.0
-- @changelog
--   Queries run in the background on every OS (ExecProcess runs /bin/sh on a script file on
--   macOS and Linux, a batch file through cmd.exe on Windows), so REAPER never freezes while the
--   engine answers. Relaunching an action hands a take over instead of starting a second one;
--   a take follows its item when the item is moved; a tempo change inside the bars is asked
--   about; no automatic undo point is left; stale job files are removed. A take whose engine
--   restarted mid-way says so and what to do. The Settings model menu equals the engine's
--   `models` list. The Python variant inserts into the project the take was made for and fails
--   the take when the engine restarts.
-- @provides
--   [main] MusicGen_Continue_selected_item.lua
--   [main] MusicGen_Cancel.lua
--   [main] MusicGen_Engine_status.lua
--   [main] MusicGen_Settings.lua
--   [nomain] lib/musicgen/*.lua
-- @about
--   # MusicGen: Generate from selection
--   Asks for a prompt and a length in bars, reads the tempo and time signature at the
--   selected item (or the edit cursor), runs `musicgen-bridge generate` in the background
--   and puts the WAV on a new track under the selection, named after the prompt. A selected
--   MIDI item's notes are sent as the melody (melody checkpoints); variations become the
--   takes of one item. "Continue selected item" extends an audio item on its own track.
--   Needs the engine running on this machine: `musicgen-bridge serve`. See docs/reaper.md.
local script_dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = script_dir .. "lib/?.lua;" .. package.path
require("musicgen.generate").main()
