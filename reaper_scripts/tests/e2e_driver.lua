-- End-to-end driver (used by tests/test_reaper.py): runs "MusicGen: Generate from
-- selection" under the mock with a MIDI item at 140 bpm 6/8, but ExecProcess really runs
-- the command line through /bin/sh (as REAPER does on macOS and Linux), against the engine
-- on 127.0.0.1:PORT.  Prints what happened, one tab-separated line per fact.
-- Usage: lua5.4 e2e_driver.lua WORKDIR CLI PORT
local here = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = here .. "../lib/?.lua;" .. here .. "?.lua;" .. package.path
local Mock = require("mock_reaper")

local workdir, cli, port = arg[1], arg[2], arg[3]
local prompt = 'dusty "lo-fi" drums, it\'s ☕ warm'
local reaper, state = Mock.new({
  project_file = workdir .. "/song.rpp",
  resource_path = workdir .. "/res",
  tempo = 140, timesig = { 6, 8 }, tracks = 2,
  items = { { position = 6, length = 2, track = 1, take = { midi = true, notes = { { 0, 960, 60, 100 } }, source_len_qn = 4 } } },
  selected = { 1 },
  ext = { ["MusicGen_Bridge/cli_path"] = cli, ["MusicGen_Bridge/port"] = port },
  inputs = { { true, prompt .. "\n2\n7\n" } },
  exec = function(cmd, timeout)
    print("COMMAND\t" .. cmd .. "\t" .. timeout)
    os.execute(cmd) -- waits here; REAPER would return at once and the poller would wait
    return ""
  end,
})
_G.reaper = reaper
dofile(here .. "../MusicGen_Generate_from_selection.lua")
local rounds = state.pump(100)
print("ROUNDS\t" .. rounds .. "\t" .. #state.deferred)
for _, row in ipairs(state.calls_named({ Undo_BeginBlock = true, Undo_EndBlock = true, InsertTrackAtIndex = true,
  InsertMedia = true, SetEditCurPos = true })) do
  local parts = {}
  for i, v in ipairs(row) do parts[i] = tostring(v) end
  print("CALL\t" .. table.concat(parts, "\t"))
end
for i, track in ipairs(state.tracks) do
  for _, item in ipairs(track.items) do
    print("ITEM\t" .. i .. "\t" .. track.name .. "\t" .. item.path .. "\t" .. item.position .. "\t" .. item.take.name)
  end
end
for _, text in ipairs(state.messages) do
  print("MB\t" .. text:gsub("\n", " "))
end
