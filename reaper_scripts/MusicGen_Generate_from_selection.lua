-- @description MusicGen Bridge: generate music from the selection with a local MusicGen engine
-- @author musicgen-bridge
-- @version 0.2.0
-- @changelog
--   New action Continue selected item. Generate from selection follows the selected MIDI
--   item's notes (and, if chosen in Settings, an audio item's melody); a key field; 1-4 variations
--   inserted as the takes of one item; takes at the project sample rate; a seamless-loop option.
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
