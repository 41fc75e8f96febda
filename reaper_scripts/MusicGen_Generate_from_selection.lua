-- @description MusicGen Bridge: generate music from the selection with a local MusicGen engine
-- @author musicgen-bridge
-- @version 0.3.0
-- @changelog
--   Takes land in the project they were made for, under the item's track found again by its
--   pointer (a new track at the end, said in words, when it was deleted; nothing when the project
--   was closed). Items are built directly: the edit cursor stays, "copy imported media" no longer
--   breaks inserting. Dialog captions and remembered values that REAPER misread are fixed. The
--   take starts minimized on Windows. Takes go to the project's media path. A Loudness setting
--   (-14 / -23 LUFS) and the engine's warnings. No .exit files left behind.
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
