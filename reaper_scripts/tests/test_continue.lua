local T = require("harness")
local F = require("fixtures")

local CONT = "MusicGen_Continue_selected_item.lua"

-- An audio item at 2 s on track 2 playing all of /loops/drums.wav (4 s).
local function drums(extra)
  local item = { position = 2, length = 4, track = 2,
    take = { audio = true, file = "/loops/drums.wav", source_len = 4, offset = 0 } }
  for k, v in pairs(extra or {}) do
    if k == "take" then
      for tk, tv in pairs(v) do item.take[tk] = tv end
    else
      item[k] = v
    end
  end
  return item
end

local function ext(more)
  local e = { ["MusicGen_Bridge/cli_path"] = F.CLI }
  for k, v in pairs(more or {}) do
    e["MusicGen_Bridge/" .. k] = v
  end
  return e
end

T.test("continue: audio item -> --continue-from its file, prompt seconds, take right after it on its track", function()
  local _, state = F.mock("cont", { tracks = 3, tempo = 96, timesig = { 3, 4 }, items = { drums() }, selected = { 1 },
    srate_use = true, srate = 44100, ext = ext({ prompt_seconds = "12", loop = "y" }),
    inputs = { F.answer("same groove, add strings", "8", "7") } })
  -- Another item later on the same track: the new one must still be found and named.
  state.tracks[2].items[1] = { position = 30, path = "/later.wav", take = { name = "later", file = "/later.wav" } }
  F.run(CONT)
  local argv = F.argv(state)
  T.eq(argv, { F.CLI, "generate", "same groove, add strings", "--bars", "8", "--bpm", "96", "--timesig", "3/4",
    "--seed", "7", "--continue-from", "/loops/drums.wav", "--prompt-seconds", "12", "--sample-rate", "44100",
    "--out", state.folder .. "/MusicGen", "--id", F.ID, "--result-file", state.result_file, "--quiet" },
    "no --loop for a continuation, no melody")
  T.eq(state.calls_named({ GetUserInputs = true })[1][2], "MusicGen: Continue", "the dialog's title")
  local wav = state.folder .. "/MusicGen/cont.wav"
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["' .. wav .. '"]}')
  state.pump()
  T.eq(#state.messages, 0)
  T.eq(#state.tracks, 3, "no new track")
  T.eq(F.project_call_names(state), { "Undo_BeginBlock2", "AddMediaItemToTrack", "AddTakeToMediaItem",
    "SetMediaItemTake_Source", "GetSetMediaItemTakeInfo_String", "SetActiveTake", "SetMediaItemInfo_Value",
    "SetMediaItemInfo_Value", "UpdateItemInProject", "PCM_Source_BuildPeaks", "PCM_Source_BuildPeaks",
    "PCM_Source_BuildPeaks", "PCM_Source_BuildPeaks", "Undo_EndBlock2" })
  T.eq(state.calls_named({ Undo_EndBlock2 = true })[1][3], "MusicGen: insert continuation")
  T.eq(state.calls_named({ AddMediaItemToTrack = true })[1][2], state.tracks[2], "on the continued item's track")
  T.eq(state.tracks[2].items[1].take.name, "same groove, add strings")
  T.eq(state.tracks[2].items[1].position, 6, "at the item's end (2 s + 4 s)")
  T.eq(state.tracks[2].items[2].take.name, "later", "the later item is left alone")
end)

T.test("continue: variations -> takes of one item after the continued one", function()
  local _, state = F.mock("contvar", { items = { drums() }, selected = { 1 },
    inputs = { F.answer("more", "2", "5", "", "", "2") } })
  F.run(CONT)
  T.eq(F.options(state), { "--bars", "2", "--bpm", "120", "--timesig", "4/4", "--seed", "5", "--variations", "2",
    "--continue-from", "/loops/drums.wav", "--prompt-seconds", "10" }, "default prompt seconds 10")
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["/o/more_s5.wav", "/o/more_s6.wav"]}')
  state.pump()
  local item = state.tracks[2].items[1]
  T.eq({ item.position, #item.takes, item.takes[1].name, item.takes[2].name, item.takes[2].file },
    { 6, 2, "more (seed 5)", "more (seed 6)", "/o/more_s6.wav" })
  T.eq(state.count("Undo_BeginBlock2"), 1)
end)

T.test("continue: trimmed item -> the part it plays as --audio-start/--audio-end, take after the item", function()
  -- drums.wav is 4 s; each case: the item, then the flags after --prompt-seconds 10.
  local cases = {
    whole = { drums(), {} },
    endtrim = { drums({ length = 3 }), { "--audio-end", "3" } },
    starttrim = { drums({ length = 3, take = { offset = 1 } }), { "--audio-start", "1" } },
    both = { drums({ length = 2.25, take = { offset = 0.5 } }), { "--audio-start", "0.5", "--audio-end", "2.75" } },
    decimals = { drums({ length = 1, take = { offset = 1 / 3 } }), { "--audio-start", "0.3333", "--audio-end", "1.3333" } },
    tolerance = { drums({ length = 3.994, take = { offset = 0.003 } }), {} },
    before = { drums({ length = 5, take = { offset = -1 } }), {} },
    looped = { drums({ length = 8, loop = true }), {} },
    loopedwrap = { drums({ length = 7, loop = true, take = { offset = 1 } }), {} },
    loopedinside = { drums({ length = 2, loop = true, take = { offset = 5 } }), { "--audio-start", "1", "--audio-end", "3" } },
  }
  for name, case in pairs(cases) do
    local _, state = F.mock("contpart-" .. name, { items = { case[1] }, selected = { 1 }, inputs = { F.answer("x", "1") } })
    F.run(CONT)
    T.eq(#state.messages, 0, name)
    local want = { "--bars", "1", "--bpm", "120", "--timesig", "4/4", "--continue-from", "/loops/drums.wav",
      "--prompt-seconds", "10" }
    for _, word in ipairs(case[2]) do
      want[#want + 1] = word
    end
    T.eq(F.options(state), want, name)
  end
  -- The end-trimmed item's continuation goes where the item ends (2 s + 3 s), not the file.
  local _, state = F.mock("contend", { items = { drums({ length = 3 }) }, selected = { 1 },
    inputs = { F.answer("x", "1") } })
  F.run(CONT)
  F.write(state.result_file, '{"ok": true, "id": "reaper-test-1", "paths": ["/o/x.wav"]}')
  state.pump()
  T.eq(#state.messages, 0)
  T.eq(state.tracks[2].items[1].position, 5)
end)

T.test("continue: items the engine cannot continue as heard -> words, nothing run", function()
  local cases = {
    { drums({ length = 6, loop = true }), "The selected item loops its file, and its last pass stops at 2.00 s of "
      .. "its file, which goes on to 4.00 s." },
    { drums({ length = 5 }), "runs on past the end of its audio (its file lasts 4.00 s)" },
    { drums({ length = 2, take = { offset = 3 } }), "runs on past the end of its audio" },
    { drums({ length = 1, take = { offset = -2 } }), "ends before its audio begins" },
    { drums({ take = { rate = 2 }, length = 2 }), "plays at rate 2" },
    { drums({ take = { pitch = -12 } }), "is pitch-shifted by -12 semitones" },
    { drums({ take = { source_type = "SECTION" } }), "plays a section or a reversed copy" },
    { drums({ take = { file = "/loops/drums.ogg" } }), "the selected item plays \"drums.ogg\"" },
    { { position = 0, length = 1, track = 1, take = { midi = true, notes = {}, source_len_qn = 2 } }, "The selected item is MIDI" },
    { { position = 0, length = 1, track = 1 }, "The selected item has no take to continue." },
  }
  for i, case in ipairs(cases) do
    local _, state = F.mock("contbad" .. i, { items = { case[1] }, selected = { 1 } })
    F.run(CONT)
    T.eq(state.count("ExecProcess") + state.count("GetUserInputs"), 0, case[2])
    T.eq(#state.messages, 1, case[2])
    T.contains(state.messages[1], case[2])
  end
  local _, state = F.mock("contnone", {})
  F.run(CONT)
  T.eq(state.messages, { "Select the audio item to continue, then run \"MusicGen: Continue selected item\" again." })
  _, state = F.mock("contsecs", { items = { drums() }, selected = { 1 }, ext = ext({ prompt_seconds = "40" }) })
  F.run(CONT)
  T.eq(state.messages, { "The prompt length in \"MusicGen: Settings\" must be 0.5 to 29 seconds, got \"40\"." })
end)

T.test("continue: engine error -> words; nothing inserted", function()
  local _, state = F.mock("conterr", { items = { drums() }, selected = { 1 }, inputs = { F.answer("x", "1") } })
  F.run(CONT)
  F.write(state.result_file, '{"ok": false, "id": "reaper-test-1", "code": "bad_file", '
    .. '"message": "drums.wav is too short to continue (under one frame)."}')
  state.pump()
  T.eq(state.count("InsertMedia"), 0)
  T.eq(state.messages, { "MusicGen could not make the take.\n\ndrums.wav is too short to continue (under one frame)." })
end)
