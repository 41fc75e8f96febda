-- @description MusicGen Bridge: generate music from the selection with a local MusicGen engine
-- @author musicgen-bridge
-- @version 0.1.0
-- @changelog First release: Generate from selection, Cancel, Engine status, Settings.
-- @provides
--   [main] MusicGen_Cancel.lua
--   [main] MusicGen_Engine_status.lua
--   [main] MusicGen_Settings.lua
--   [nomain] lib/musicgen/*.lua
-- @about
--   # MusicGen: Generate from selection
--   Asks for a prompt and a length in bars, reads the tempo and time signature at the
--   selected item (or the edit cursor), runs `musicgen-bridge generate` in the background
--   and puts the WAV on a new track under the selection, named after the prompt.
--   Needs the engine running on this machine: `musicgen-bridge serve`. See docs/reaper.md.
local script_dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = script_dir .. "lib/?.lua;" .. package.path
require("musicgen.generate").main()
