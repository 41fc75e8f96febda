local T = require("harness")
local F = require("fixtures")

local GEN = "MusicGen_Generate_from_selection.lua"
local PROMPT = 'dusty "lo-fi" drums, it\'s ☕ warm'

-- Tempo 140, 6/8: a bar is 3 quarter notes = 9/7 s.  The item starts at 6 s (14 QN), is two
-- bars long (6 QN), and its take starts 0.5 QN into the MIDI source.
local function midi_item()
  return {
    position = 6, length = 6 * 60 / 140, track = 1,
    take = {
      midi = true, offset = 0.5 * 60 / 140, source_len_qn = 8,
      notes = {
        { 0, 480, 60, 100 },            -- 0..0.5 QN: before the item start, dropped
        { 240, 1440, 62, 80 },          -- starts before, cut to 0..1
        { 1440, 1920, 64, 90 },         -- 1..1.5
        { 2400, 2880, 65, 70, true },   -- muted, dropped
        { 5760, 7680, 67, 110 },        -- 5.5..7.5, cut at the item end (6)
        { 6720, 7200, 69, 100 },        -- 6.5: after the item end, dropped
      },
    },
  }
end

local function inner_command(state, extra)
  local res = state.result_file:gsub("%.json$", "")
  return "'" .. F.CLI .. "' 'generate' 'dusty \"lo-fi\" drums, it'\\''s ☕ warm' '--bars' '2' '--bpm' '140' "
    .. "'--timesig' '6/8' '--seed' '7' " .. (extra or "") .. "'--id' 'reaper-test-1' '--result-file' '"
    .. res .. ".json' '--quiet' >'" .. res .. ".log' 2>&1; echo $? >'" .. res .. ".exit'"
end

T.test("generate: MIDI item at 140 bpm 6/8 with a take offset -> notes, command, insert", function()
  local _, state = F.mock("midi", {
    tempo = 140, timesig = { 6, 8 }, items = { midi_item() }, selected = { 1 }, tracks = 3,
    inputs = { F.answer(PROMPT, "2", "7") },
  })
  local selection = require("musicgen.selection")
  T.eq(selection.read().notes, {
    { pitch = 62, start = 0, length = 1, velocity = 80, channel = 0 },
    { pitch = 64, start = 1, length = 0.5, velocity = 90, channel = 0 },
    { pitch = 67, start = 5.5, length = 0.5, velocity = 110, channel = 0 },
  }, "notes in beats from the item start")

  F.run(GEN)
  local shell = require("musicgen.shell")
  local out = state.folder .. "/MusicGen"
  T.eq(state.exec_commands(), {
    "/bin/sh -c " .. shell.quote_posix(inner_command(state, "'--out' '" .. out .. "' ")),
  }, "the command line")
  T.eq(state.calls_named({ ExecProcess = true })[1][3], -1, "ExecProcess must not wait")
  T.eq(state.ext["MusicGen_Bridge/current_job"], F.ID)
  T.eq(state.ext["MusicGen_Bridge/last_prompt"], PROMPT, "dialog values remembered")
  T.eq(state.ext["MusicGen_Bridge/last_bars"], "2")

  state.pump(3) -- no result yet: still polling, nothing inserted
  T.eq(#state.deferred, 1, "still polling")
  T.eq(state.count("InsertMedia"), 0)

  local wav = out .. "/take 1.wav"
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["' .. wav .. '"]}\n')
  state.pump()
  T.eq(#state.deferred, 0, "stopped polling")
  local name = PROMPT
  T.eq(state.calls_named(F.PROJECT_CALLS), {
    { "Undo_BeginBlock" },
    { "InsertTrackAtIndex", 1, true },
    { "GetSetMediaTrackInfo_String", state.tracks[2], "P_NAME", name, true },
    { "SetEditCurPos", 6, false, false },
    { "InsertMedia", wav, 512 | (1 << 16) },
    { "GetSetMediaItemTakeInfo_String", state.tracks[2].items[1].take, "P_NAME", name, true },
    { "SetEditCurPos", 0, false, false },
    { "Undo_EndBlock", "MusicGen: insert generated audio", -1 },
  }, "project changes")
  T.eq(state.tracks[2].name, name, "new track right under the item's track")
  T.eq(state.tracks[2].items[1].position, 6, "take at the item position")
  T.eq(#state.messages, 0, "no message box on success")
  T.eq(state.ext["MusicGen_Bridge/current_job"], nil, "job cleared")
  local f = io.open(state.result_file)
  T.eq(f, nil, "result file removed")
end)

T.test("generate: looped MIDI item repeats its notes every source length", function()
  local item = { position = 0, length = 4, track = 1, loop = true, take = { midi = true, source_len_qn = 2,
    notes = { { 0, 480, 60, 100 }, { 1440, 2400, 62, 100 } } } }
  F.mock("loop", { tempo = 120, items = { item }, selected = { 1 } })
  local notes = require("musicgen.selection").read().notes
  local got = {}
  for _, n in ipairs(notes) do
    got[#got + 1] = { n.pitch, n.start, n.length }
  end
  -- 4 s at 120 bpm = 8 QN = four passes of 2 QN; the 62 crossing each loop end is cut.
  T.eq(got, { { 60, 0, 0.5 }, { 62, 1.5, 0.5 }, { 60, 2, 0.5 }, { 62, 3.5, 0.5 }, { 60, 4, 0.5 },
    { 62, 5.5, 0.5 }, { 60, 6, 0.5 }, { 62, 7.5, 0.5 } })
end)

T.test("generate: audio item on Windows -> source path read, Windows command line", function()
  local item = { position = 2.5, length = 4, track = 2, take = { audio = true, file = "C:\\loops\\bass.wav", offset = 1 } }
  local _, state = F.mock("audio", { os = "Win64", tempo = 92, items = { item }, selected = { 1 },
    inputs = { F.answer('say "hi" ☕', "4", "", "facebook/musicgen-small") } })
  local sel = require("musicgen.selection").read()
  T.eq({ sel.kind, sel.source_path, sel.source_offset, sel.position, sel.track_index },
    { "audio", "C:\\loops\\bass.wav", 1, 2.5, 2 })
  F.run(GEN)
  local out = state.folder .. "\\MusicGen"
  local res = state.folder .. "/res\\Data\\musicgen-bridge\\reaper-test-1.json"
  T.eq(state.exec_commands(), { F.CLI .. ' generate "say \\"hi\\" ☕" --bars 4 --bpm 92 --timesig 4/4 '
    .. "--model facebook/musicgen-small --out " .. out .. " --id reaper-test-1 --result-file " .. res .. " --quiet" })
end)

T.test("generate: no selection -> tempo at the edit cursor, new track at the end", function()
  local _, state = F.mock("none", { cursor = 12.5, tempo = 100, tracks = 2, inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  local cmd = state.exec_commands()[1]
  T.contains(cmd, "'\\''--bars'\\'' '\\''1'\\'' '\\''--bpm'\\'' '\\''100'\\''")
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["/x/a.wav"]}')
  state.pump()
  T.eq(state.calls_named({ InsertTrackAtIndex = true, InsertMedia = true }),
    { { "InsertTrackAtIndex", 2, true }, { "InsertMedia", "/x/a.wav", 512 | (2 << 16) } })
  T.eq(state.tracks[3].items[1].position, 12.5)
end)

T.test("generate: unsaved project -> no --out (engine default folder), user told", function()
  local _, state = F.mock("unsaved", { project_file = "", inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  local cmd = state.exec_commands()[1]
  T.truthy(not cmd:find("--out", 1, true), "no --out for an unsaved project: " .. cmd)
  T.contains(table.concat(state.console), "not saved yet")
end)

T.test("generate: engine unreachable -> message box with advice, nothing inserted", function()
  local _, state = F.mock("unreachable", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.write(state.result_file, '{"ok": false, "id": "reaper-test-1", "code": "engine_unreachable", '
    .. '"message": "No answer from the engine at 127.0.0.1:9000 within 3 s."}')
  state.pump()
  T.eq(state.count("InsertMedia") + state.count("Undo_BeginBlock"), 0, "nothing inserted")
  T.eq(#state.messages, 1)
  T.contains(state.messages[1], "No answer from the engine at 127.0.0.1:9000")
  T.contains(state.messages[1], "Start it with `musicgen-bridge serve`")
end)

T.test("generate: engine error (bad_path) -> its words in a message box", function()
  local _, state = F.mock("enginerr", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.write(state.result_file, '{"ok": false, "id": "reaper-test-1", "code": "out_of_range", '
    .. '"message": "That is 64.00 s; the most this engine makes in one take is 30 s."}')
  state.pump()
  T.eq(state.count("InsertMedia"), 0)
  T.eq(state.messages, { "MusicGen could not make the take.\n\nThat is 64.00 s; the most this engine makes in one take is 30 s." })
end)

T.test("generate: cancelled job -> no insert, no message box, a console line", function()
  local _, state = F.mock("cancelled", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.write(state.result_file, '{"ok": false, "id": "reaper-test-1", "code": "cancelled", "message": "Cancelled while generating."}')
  state.pump()
  T.eq(state.count("InsertMedia") + #state.messages, 0)
  T.contains(table.concat(state.console), "generation cancelled: Cancelled while generating.")
  T.eq(#state.deferred, 0)
end)

T.test("generate: CLI that dies without a result -> exit status turned into advice", function()
  local _, state = F.mock("died", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.write(state.exit_file, "127\n")
  state.pump()
  T.eq(state.count("InsertMedia"), 0)
  T.contains(state.messages[1], "Could not run " .. F.CLI .. " (exit 127)")
  T.contains(state.messages[1], "MusicGen: Settings")
end)

T.test("generate: dialog cancelled -> nothing runs; bad bars -> words, nothing runs", function()
  local _, state = F.mock("dialog", { inputs = { { false, "" } } })
  F.run(GEN)
  T.eq(state.count("ExecProcess") + #state.messages, 0)
  _, state = F.mock("dialog2", { inputs = { F.answer("pad", "lots") } })
  F.run(GEN)
  T.eq(state.count("ExecProcess"), 0)
  T.eq(state.messages, { 'Length must be a number of bars between 0.25 and 256, got "lots".' })
end)

T.test("generate: first run asks where the CLI is and remembers it", function()
  local _, state = F.mock("firstrun", { ext = {}, files = { ["/home/u/mgb"] = true },
    inputs = { { true, "/home/u/mgb" }, F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(state.ext["MusicGen_Bridge/cli_path"], "/home/u/mgb")
  T.contains(state.exec_commands()[1], "'\\''/home/u/mgb'\\'' '\\''generate'\\''")
end)

T.test("generate: an error inside a poll is caught and reported, polling stops", function()
  local _, state = F.mock("boom", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["/x/a.wav"]}')
  package.loaded["musicgen.insert"].takes = function() error("kaboom") end
  state.pump()
  T.contains(state.messages[1], "Something went wrong inside the MusicGen script")
  T.contains(state.messages[1], "kaboom")
  T.eq(#state.deferred, 0)
end)
