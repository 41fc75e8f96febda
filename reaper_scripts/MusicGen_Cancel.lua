-- @description MusicGen: Cancel (stop the take being made)
-- @author musicgen-bridge
-- @version 0.4.0
-- @noindex
local script_dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = script_dir .. "lib/?.lua;" .. package.path
require("musicgen.actions").cancel()
