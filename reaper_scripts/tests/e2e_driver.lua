-- End-to-end driver (used by tests/test_reaper.py): runs a MusicGen action under the mock,
-- but ExecProcess really starts what REAPER would on macOS and Linux: the line split with
-- LineParser rules and the argv run with no shell, in the background (it returns at once),
-- against the engine on 127.0.0.1:PORT; the defer loop is pumped in real time (50 ms a round).
-- COMMAND / QUERY lines: the argv (words joined by \1), the timeout, the script /bin/sh read,
-- and the CLI's subcommand.  Prints what happened, one tab-separated
-- line per fact; JOBFILES lists what is left in the job folder a second after the loop ends.
-- Usage: lua5.4 e2e_driver.lua WORKDIR CLI PORT [SCENARIO [ARG...]]
--   generate (default)  Generate from selection, MIDI item at 140 bpm 6/8 (melody off)
--   melody [MODEL]      Generate from selection, the MIDI item's notes as the melody
--   loudness            as generate, Loudness -14 LUFS and a prompt that states 100 bpm
--   variations          Generate, 3 variations at the project's 48 kHz, nothing selected
--   continue WAV SECS [OFFSET LENGTH]
--                       Continue selected item: an audio item playing all of WAV (SECS long),
--                       or LENGTH seconds of it from OFFSET (a trimmed item)
--   settings MODEL      MusicGen: Settings, MODEL chosen in its model menu (the item whose
--                       label starts with MODEL), then Generate with the dialog as it is
--                       prefilled (its Model field: the choice); prints MENU lines
local here = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = here .. "../lib/?.lua;" .. here .. "?.lua;" .. package.path
local Mock = require("mock_reaper")

local workdir, cli, port, scenario = arg[1], arg[2], arg[3], arg[4] or "generate"
local prompt = 'dusty "lo-fi" drums, it\'s ☕ warm'
local ext = { ["MusicGen_Bridge/cli_path"] = cli, ["MusicGen_Bridge/port"] = port }
local opts = {
  project_file = workdir .. "/song.rpp",
  resource_path = workdir .. "/res",
  tempo = 140, timesig = { 6, 8 }, tracks = 2,
  items = { { position = 6, length = 2, track = 1, take = { midi = true, notes = { { 0, 960, 60, 100 } }, source_len_qn = 4 } } },
  selected = { 1 },
  ext = ext,
  inputs = { { true, prompt .. "\n2\n7\n\n\n1" } },
  -- REAPER on macOS and Linux: the line is split with LineParser rules (the mock's copy of
  -- WDL/lineparse.h) and the argv started with no shell.  Lua can only start a process through
  -- a shell, so every word is single-quoted for it: that shell then only hands the words over.
  spawn = function(argv, timeout)
    local words = {}
    for i, word in ipairs(argv) do
      words[i] = "'" .. word:gsub("'", "'\\''") .. "'"
    end
    local f = argv[1] == "/bin/sh" and argv[2] and io.open(argv[2], "rb")
    local script = f and f:read("a") or ""
    if f then f:close() end
    local what = script:match("^'[^']*' '([^']*)'") or "?"
    local line = table.concat(words, " ")
    if timeout >= 0 then
      local pipe = io.popen("exec " .. line .. " </dev/null 2>&1; echo \"EXIT:$?\"")
      local output = pipe:read("a")
      pipe:close()
      local body, code = output:match("^(.*)EXIT:(%d+)%s*$")
      print("WAITED\t" .. table.concat(argv, " ") .. "\t" .. code)
      return code .. "\n" .. body
    end
    print((what == "generate" and "COMMAND" or "QUERY") .. "\t" .. table.concat(argv, "\1") .. "\t" .. timeout
      .. "\t" .. script:gsub("\n", " ") .. "\t" .. what)
    os.execute("exec " .. line .. " </dev/null >/dev/null 2>&1 &") -- returns at once, as ExecProcess(cmd, -2) does
    return ""
  end,
}
local script = "MusicGen_Generate_from_selection.lua"
if scenario == "generate" then
  ext["MusicGen_Bridge/melody_midi"] = "n"
elseif scenario == "loudness" then
  ext["MusicGen_Bridge/melody_midi"] = "n"
  ext["MusicGen_Bridge/loudness"] = "-14"
  opts.inputs = { { true, "techno at 100 bpm\n2\n7\n\n\n1" } }
elseif scenario == "melody" then
  -- 2 bars of 6/8 at 140 bpm; C D E F G A over the item, one muted, one past its end.
  opts.items[1].length = 6 * 60 / 140
  opts.items[1].take.source_len_qn = 8
  opts.items[1].take.notes = { { 0, 960, 60, 100 }, { 960, 1920, 62, 90 }, { 1920, 3840, 64, 80, true },
    { 3840, 4800, 65, 100 }, { 4800, 5760, 67, 100 }, { 5760, 7680, 69, 70 } }
  opts.inputs = { { true, "synth lead\n2\n3\n" .. (arg[5] or "") .. "\nA minor\n1" } }
elseif scenario == "variations" then
  opts.tempo, opts.timesig, opts.selected, opts.cursor = 120, { 4, 4 }, {}, 1.5
  opts.srate_use, opts.srate = true, 48000
  opts.inputs = { { true, "pad\n1\n11\n\n\n3" } }
elseif scenario == "settings" then
  ext["MusicGen_Bridge/melody_midi"] = "n"
  opts.menus = { function(items)
    for _, item in ipairs(items) do
      print("MENU\t" .. (item.greyed and "#" or "") .. (item.checked and "!" or "") .. item.text)
    end
    for i, item in ipairs(items) do
      if item.text:sub(1, #arg[5] + 2) == arg[5] .. " (" then return i end
    end
    error("no menu item for " .. arg[5])
  end }
  opts.inputs = { { true, edit = { [1] = "warm pad", [2] = "1", [3] = "5" } } }
elseif scenario == "continue" then
  local seconds = tonumber(arg[6])
  opts.tempo, opts.timesig = 120, { 4, 4 }
  opts.items = { { position = 4, length = tonumber(arg[8]) or seconds, track = 1,
    take = { audio = true, file = arg[5], source_len = seconds, offset = tonumber(arg[7]) or 0 } } }
  ext["MusicGen_Bridge/prompt_seconds"] = "1.5"
  opts.inputs = { { true, "same groove\n1\n5\n\n\n2" } }
  script = "MusicGen_Continue_selected_item.lua"
else
  error("unknown scenario " .. scenario)
end
local reaper, state = Mock.new(opts)
_G.reaper = reaper
_G.gfx = state.gfx
if scenario == "settings" then
  state.launch("MusicGen_Settings.lua", function() dofile(here .. "../MusicGen_Settings.lua") end)
  state.pump(400, 0.05, function() os.execute("sleep 0.05") end) -- the models query, in the background
  print("MODEL\t" .. tostring(state.ext["MusicGen_Bridge/last_model"]))
end
state.launch(script, function() dofile(here .. "../" .. script) end)
local rounds = state.pump(6000, 0.05, function() os.execute("sleep 0.05") end)
state.end_finished()
print("ROUNDS\t" .. rounds .. "\t" .. #state.deferred)
os.execute("sleep 1")
local jobs = io.popen("ls -A '" .. workdir .. "/res/Data/musicgen-bridge' 2>/dev/null")
local left = {}
for name in jobs:lines() do
  left[#left + 1] = name
end
jobs:close()
print("JOBFILES\t" .. #left .. "\t" .. table.concat(left, " "))
for _, row in ipairs(state.calls_named({ Undo_BeginBlock2 = true, Undo_EndBlock2 = true, InsertTrackInProject = true,
  InsertMedia = true, SetEditCurPos = true, AddMediaItemToTrack = true, AddTakeToMediaItem = true,
  SetMediaItemTake_Source = true, SetActiveTake = true, SetMediaItemInfo_Value = true })) do
  local parts = {}
  for i, v in ipairs(row) do parts[i] = type(v) == "table" and "<object>" or tostring(v) end
  print("CALL\t" .. table.concat(parts, "\t"))
end
for i, track in ipairs(state.tracks) do
  for j, item in ipairs(track.items) do
    print("ITEM\t" .. i .. "\t" .. track.name .. "\t" .. item.take.file .. "\t" .. item.position .. "\t"
      .. item.take.name .. "\t" .. string.format("%.6f", item.length))
    for k, take in ipairs(item.takes) do
      print("TAKE\t" .. i .. "\t" .. j .. "\t" .. k .. "\t" .. take.name .. "\t" .. take.file .. "\t"
        .. tostring(item.take == take))
    end
  end
end
for _, text in ipairs(state.messages) do
  print("MB\t" .. text:gsub("\n", " "))
end
for _, text in ipairs(state.console) do
  print("CONSOLE\t" .. text:gsub("\n", " "))
end
