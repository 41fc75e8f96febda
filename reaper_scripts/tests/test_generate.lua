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

T.test("generate: MIDI item at 140 bpm 6/8 with a take offset -> melody notes, command, insert", function()
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
  local out = state.folder .. "/MusicGen"
  -- The melody: offset, trim at both edges, muted note left out; the clip is 6 beats long.
  T.eq(state.scripts(), {
    inner_command(state, "'--melody-notes' '62 0 1 80 64 1 0.5 90 67 5.5 0.5 110' "
      .. "'--melody-length' '6' '--out' '" .. out .. "' ") .. "\n",
  }, "the script /bin/sh runs")
  T.eq(state.processes[1].argv, { "/bin/sh", (state.result_file:gsub("%.json$", ".sh")) },
    "ExecProcess starts /bin/sh on the script file (LineParser split)")
  T.eq(state.calls_named({ ExecProcess = true })[1][3], -2, "ExecProcess must not wait, minimized")
  T.eq(state.ext["MusicGen_Bridge/current_job"], F.ID)
  T.eq(state.ext["MusicGen_Bridge/last_prompt"], PROMPT, "dialog values remembered")
  T.eq(state.ext["MusicGen_Bridge/last_bars"], "2")

  state.pump(3) -- no result yet: still polling, nothing inserted
  T.eq(#state.deferred, 1, "still polling")
  T.eq(state.count("InsertMedia"), 0)

  local wav = out .. "/take 1.wav"
  F.result(state, { wav })
  state.pump(1)
  local name = PROMPT
  local track = state.tracks[2]
  local item = track.items[1]
  T.eq(state.calls_named(F.PROJECT_CALLS), {
    { "Undo_BeginBlock2", state.projects[1] },
    { "InsertTrackInProject", state.projects[1], 1, 1 },
    { "GetSetMediaTrackInfo_String", track, "P_NAME", name, true },
    { "AddMediaItemToTrack", track },
    { "AddTakeToMediaItem", item },
    { "SetMediaItemTake_Source", item.takes[1], item.takes[1].source },
    { "GetSetMediaItemTakeInfo_String", item.takes[1], "P_NAME", name, true },
    { "SetActiveTake", item.takes[1] },
    { "SetMediaItemInfo_Value", item, "D_POSITION", 6 },
    { "SetMediaItemInfo_Value", item, "D_LENGTH", 2 },
    { "UpdateItemInProject", item },
    { "PCM_Source_BuildPeaks", item.takes[1].source, 0 },
    { "PCM_Source_BuildPeaks", item.takes[1].source, 1 },
    { "PCM_Source_BuildPeaks", item.takes[1].source, 1 },
    { "PCM_Source_BuildPeaks", item.takes[1].source, 2 },
    { "Undo_EndBlock2", state.projects[1], "MusicGen: insert generated audio", -1 },
  }, "project changes: the item built directly, in the project's undo block, the cursor untouched")
  T.truthy(item.takes[1].source.peaks, "peaks built")
  T.eq(track.name, name, "new track right under the item's track")
  T.eq({ item.position, item.take.file }, { 6, wav }, "take at the item position, playing the engine's file")
  T.eq(state.projects[1].cursor, 0, "the edit cursor did not move")
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
  local cmd = state.scripts()[1]
  T.contains(cmd, "'--bars' '1' '--bpm' '100'")
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["/x/a.wav"]}')
  state.pump()
  T.eq(state.calls_named({ InsertTrackInProject = true, InsertTrackAtIndex = true, InsertMedia = true }),
    { { "InsertTrackInProject", state.projects[1], 2, 1 } })
  T.eq({ state.tracks[3].items[1].position, state.projects[1].cursor }, { 12.5, 12.5 }, "at the cursor, left there")
end)

T.test("generate: takes go to the project's media path (GetProjectPathEx), unsaved projects too", function()
  -- A saved project whose media go to its "Audio" subfolder (Project settings > Media).
  local _, state = F.mock("mediapath", { inputs = { F.answer("pad", "1") } })
  local media = state.folder .. "/Audio"
  _, state = F.mock("mediapath", { media_path = media, inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  local argv = F.argv(state)
  T.eq(argv[#argv - 5], media .. "/MusicGen", "--out is the media path's MusicGen folder: " .. table.concat(argv, " "))
  -- Unsaved: REAPER answers its default recording path.
  local default = F.folder("mediapath-default") .. "/REAPER Media"
  _, state = F.mock("unsaved", { project_file = "", default_media_path = default, inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  argv = F.argv(state)
  T.eq(argv[#argv - 5], default .. "/MusicGen", "an unsaved project's takes go to REAPER's media path")
  T.eq(#state.console, 0, "nothing to tell")
  -- No usable path at all: no --out (the engine's default folder), and the user is told.
  _, state = F.mock("unsaved-none", { project_file = "", inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  local cmd = state.scripts()[1]
  T.truthy(not cmd:find("--out", 1, true), "no --out without a media path: " .. cmd)
  T.contains(table.concat(state.console), "REAPER gives no media folder for this project")
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
  T.contains(state.scripts()[1], "'/home/u/mgb' 'generate'")
end)

T.test("generate: an error inside a poll is caught and reported, polling stops", function()
  local _, state = F.mock("boom", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["/x/a.wav"]}')
  package.loaded["musicgen.insert"].place = function() error("kaboom") end
  state.pump()
  T.contains(state.messages[1], "Something went wrong inside the MusicGen script")
  T.contains(state.messages[1], "kaboom")
  T.eq(#state.deferred, 0)
end)

-- Melody, variations, key, loop and sample rate -------------------------------------------

local function midi_at_120(notes, extra)
  local item = { position = 2, length = 2, track = 1, take = { midi = true, source_len_qn = 4, notes = notes } }
  for k, v in pairs(extra or {}) do
    item[k] = v
  end
  return item
end

T.test("generate: variations, key, loop and the project's 48 kHz -> exact options", function()
  local _, state = F.mock("options", { items = { midi_at_120({ { 0, 960, 69, 100 }, { 960, 1920, 72, 0 } }) },
    selected = { 1 }, srate_use = true, srate = 48000, device_srate = 44100,
    ext = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/loop"] = "y" },
    inputs = { F.answer("synthwave lead", "4", "100", "facebook/musicgen-melody", "A minor", "4") } })
  F.run(GEN)
  -- The item is 2 s at 120 bpm = 4 beats; velocity 0 is sent as 1.
  T.eq(F.options(state), { "--bars", "4", "--bpm", "120", "--timesig", "4/4", "--seed", "100",
    "--model", "facebook/musicgen-melody", "--key", "A minor", "--variations", "4",
    "--melody-notes", "69 0 1 100 72 1 1 1", "--melody-length", "4", "--loop", "--sample-rate", "48000" })
  T.eq(state.ext["MusicGen_Bridge/last_variations"], "4", "the dialog remembers variations")
  T.eq(state.ext["MusicGen_Bridge/last_key"], "A minor")
end)

T.test("generate: sample rate: device's when the project sets none; none when closed; odd rate -> told", function()
  -- PROJECT_SRATE holds a value but "Project sample rate" is off: REAPER ignores it, so do we.
  local _, state = F.mock("rate-device", { srate_use = false, srate = 22050, device_srate = 96000,
    inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "1", "--bpm", "120", "--timesig", "4/4", "--sample-rate", "96000" })
  _, state = F.mock("rate-none", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "1", "--bpm", "120", "--timesig", "4/4" }, "the model's rate")
  _, state = F.mock("rate-odd", { srate_use = true, srate = 192000, inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "1", "--bpm", "120", "--timesig", "4/4" })
  T.contains(table.concat(state.console), "the project runs at 192000 Hz, a rate the engine cannot write")
end)

T.test("generate: MIDI item without usable notes -> words, nothing sent", function()
  for name, notes in pairs({ empty = {}, muted = { { 0, 960, 60, 100, true } }, outside = { { 3840, 4800, 60, 100 } } }) do
    local _, state = F.mock("nonotes-" .. name, { items = { midi_at_120(notes) }, selected = { 1 } })
    F.run(GEN)
    T.eq(state.count("ExecProcess") + state.count("GetUserInputs"), 0, name .. ": nothing asked, nothing run")
    T.eq(#state.messages, 1, name)
    T.contains(state.messages[1], "The selected MIDI item has no notes to use as a melody", name)
    T.contains(state.messages[1], "Melody from MIDI items", name)
  end
end)

T.test("generate: more notes than the engine takes -> words, nothing sent", function()
  local notes = {}
  for i = 0, 4096 do
    notes[#notes + 1] = { i * 10, i * 10 + 5, 60, 100 }
  end
  local _, state = F.mock("toomany", { items = { midi_at_120(notes, { length = 30 }) }, selected = { 1 } })
  F.run(GEN)
  T.eq(state.count("ExecProcess"), 0)
  T.contains(state.messages[1], "more than 4096 notes")
end)

T.test("generate: melody from MIDI items turned off -> the MIDI item only places the take", function()
  local _, state = F.mock("nomelody", { items = { midi_at_120({ { 0, 960, 60, 100 } }) }, selected = { 1 },
    ext = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/melody_midi"] = "n" },
    inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "1", "--bpm", "120", "--timesig", "4/4" })
end)

T.test("generate: audio item with melody from audio on -> --melody-audio, the part it plays; unusable -> words", function()
  local function audio(take, length, loop)
    take.audio = true
    return { position = 1, length = length or 4, track = 1, loop = loop, take = take }
  end
  local ext = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/melody_audio"] = "y" }
  -- hum.wav is 8 s; each case: the item, then the flags after --melody-audio.
  local parts = {
    whole = { audio({ file = "/loops/hum.wav", source_len = 8 }, 8), {} },
    endtrim = { audio({ file = "/loops/hum.wav", source_len = 8 }), { "--audio-end", "4" } },
    both = { audio({ file = "/loops/hum.wav", source_len = 8, offset = 1.5 }),
      { "--audio-start", "1.5", "--audio-end", "5.5" } },
    decimals = { audio({ file = "/loops/hum.wav", source_len = 8, offset = 2 / 3 }, 1 / 3),
      { "--audio-start", "0.6667", "--audio-end", "1" } },
    pastend = { audio({ file = "/loops/hum.wav", source_len = 8, offset = 6 }), { "--audio-start", "6" } },
    looped = { audio({ file = "/loops/hum.wav", source_len = 8 }, 20, true), {} },
  }
  for name, case in pairs(parts) do
    local _, state = F.mock("audiomelody-" .. name, { items = { case[1] }, selected = { 1 }, ext = ext,
      inputs = { F.answer("strings", "2") } })
    F.run(GEN)
    T.eq(#state.messages, 0, name)
    local want = { "--bars", "2", "--bpm", "120", "--timesig", "4/4", "--melody-audio", "/loops/hum.wav" }
    for _, word in ipairs(case[2]) do
      want[#want + 1] = word
    end
    T.eq(F.options(state), want, name)
  end
  local cases = {
    { { file = "/loops/hum.wav", offset = -1 }, "starts 1.00 s before its audio does" },
    { { file = "/loops/hum.wav", source_len = 8, offset = 9 }, "past its end (the file lasts 8.00 s)" },
    { { file = "/loops/hum.mp3" }, "The engine reads WAV, AIFF and FLAC files; the selected item plays \"hum.mp3\"" },
    { { file = "/loops/hum.wav", rate = 1.5 }, "plays at rate 1.5" },
    { { file = "", source_type = "SECTION" }, "plays a section or a reversed copy" },
    { { file = "" }, "is not a file on disk" },
    { { file = "/loops/hum.wav", source_len = 8, offset = 2 }, "loops its file starting 2.00 s into it", 20, true },
  }
  for i, case in ipairs(cases) do
    local _, state = F.mock("audiomelody" .. i, { items = { audio(case[1], case[3], case[4]) }, selected = { 1 },
      ext = ext })
    F.run(GEN)
    T.eq(state.count("ExecProcess"), 0, case[2])
    T.contains(state.messages[1], case[2])
    T.contains(state.messages[1], "Melody from audio items", case[2])
  end
  -- Off (the default): the audio item only places the take, whatever its file.
  local _, state = F.mock("audionomelody", { items = { audio({ file = "/loops/hum.mp3", offset = 3 }) }, selected = { 1 },
    inputs = { F.answer("strings", "2") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "2", "--bpm", "120", "--timesig", "4/4" })
end)

T.test("generate: engine without melody conditioning (unsupported) -> the fix in words", function()
  local _, state = F.mock("unsupported", { items = { midi_at_120({ { 0, 960, 60, 100 } }) }, selected = { 1 },
    inputs = { F.answer("lead", "1") } })
  F.run(GEN)
  F.write(state.result_file, '{"ok": false, "id": "reaper-test-1", "code": "unsupported", "message": '
    .. '"\'facebook/musicgen-small\' has no melody conditioning."}')
  state.pump()
  T.eq(state.count("InsertMedia"), 0)
  T.eq(#state.messages, 1)
  T.contains(state.messages[1], "'facebook/musicgen-small' has no melody conditioning.")
  T.contains(state.messages[1], "type facebook/musicgen-melody in the Model field")
  T.contains(state.messages[1], "Melody from MIDI items")
end)

T.test("generate: N variations -> N takes of one new item, seeds in the names, one undo block", function()
  local _, state = F.mock("takes", { tracks = 2, items = { { position = 3, length = 1, track = 1 } }, selected = { 1 },
    inputs = { F.answer("pad", "1", "100", "", "", "3") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "1", "--bpm", "120", "--timesig", "4/4", "--seed", "100", "--variations", "3" })
  local wavs = { "/o/20260101-000000_pad_s100.wav", "/o/20260101-000000_pad_s101.wav", "/o/20260101-000000_pad_s102.wav" }
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["' .. table.concat(wavs, '", "') .. '"]}')
  state.pump()
  T.eq(#state.messages, 0, "no message")
  T.eq(#state.tracks, 3, "one new track")
  local track = state.tracks[2]
  T.eq(#track.items, 1, "one new item")
  local item = track.items[1]
  local got = {}
  for i, take in ipairs(item.takes) do
    got[i] = { take.file, take.name }
  end
  T.eq(got, { { wavs[1], "pad (seed 100)" }, { wavs[2], "pad (seed 101)" }, { wavs[3], "pad (seed 102)" } })
  T.truthy(item.take == item.takes[1], "the first variation is the active take")
  local calls = state.calls_named(F.PROJECT_CALLS)
  T.eq(calls[1], { "Undo_BeginBlock2", state.projects[1] })
  T.eq(calls[#calls], { "Undo_EndBlock2", state.projects[1], "MusicGen: insert generated audio", -1 })
  T.eq(state.count("Undo_BeginBlock2") + state.count("Undo_EndBlock2"), 2, "one undo block")
  local take = { "AddTakeToMediaItem", "SetMediaItemTake_Source", "GetSetMediaItemTakeInfo_String" }
  local peaks = { "PCM_Source_BuildPeaks", "PCM_Source_BuildPeaks", "PCM_Source_BuildPeaks", "PCM_Source_BuildPeaks" }
  local want = { "Undo_BeginBlock2", "InsertTrackInProject", "GetSetMediaTrackInfo_String", "AddMediaItemToTrack" }
  for _, list in ipairs({ take, take, take, { "SetActiveTake", "SetMediaItemInfo_Value", "SetMediaItemInfo_Value",
    "UpdateItemInProject" }, peaks, peaks, peaks, { "Undo_EndBlock2" } }) do
    table.move(list, 1, #list, #want + 1, want)
  end
  T.eq(F.project_call_names(state), want, "everything inside the undo block")
  for i = 1, 3 do
    T.truthy(item.takes[i].source.peaks, "peaks built for take " .. i)
  end
end)

T.test("generate: dialog refuses 5 variations and a long key in words", function()
  local _, state = F.mock("badvar", { inputs = { F.answer("pad", "1", "", "", "", "5") } })
  F.run(GEN)
  T.eq(state.count("ExecProcess"), 0)
  T.eq(state.messages, { 'Variations must be a whole number from 1 to 4, got "5".' })
  _, state = F.mock("badkey", { inputs = { F.answer("pad", "1", "", "", "A minor with a twist", "1") } })
  F.run(GEN)
  T.eq(state.count("ExecProcess"), 0)
  T.contains(state.messages[1], 'The key is a short name like "A minor"')
end)

T.test("generate: a melody too long for a Windows command line -> words, nothing run", function()
  local notes = {}
  for i = 0, 1999 do
    notes[#notes + 1] = { i * 480 + 7, i * 480 + 400, 60 + i % 12, 100 }
  end
  local _, state = F.mock("wincmd", { os = "Win64", items = { midi_at_120(notes, { length = 600 }) }, selected = { 1 },
    inputs = { F.answer("lead", "1") } })
  F.run(GEN)
  T.eq(state.count("ExecProcess"), 0)
  T.contains(state.messages[1], "too long for a Windows command line")
end)

T.test("generate: a take file REAPER cannot read -> words, the folder named, nothing half-made", function()
  local _, state = F.mock("noinsert", { inputs = { F.answer("pad", "1") }, missing = { ["/o/a.wav"] = true } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(state.messages, { "REAPER could not insert the take a.wav: The file /o/a.wav is not there.\n\nThe files are in /o." })
  T.eq(state.count("Undo_EndBlock2"), 1, "the undo block is closed")
  T.eq(#state.tracks, 2, "no track left behind")
end)
