-- What the real REAPER does that a naive mock would not (mock_reaper.lua models each rule):
-- dialog captions and defaults, ExecProcess modes, pointers that go stale while a take
-- renders, InsertMedia's copy and cursor, the exit file written after the result, warnings.
local T = require("harness")
local F = require("fixtures")

local GEN = "MusicGen_Generate_from_selection.lua"
local CONT = "MusicGen_Continue_selected_item.lua"

local function midi_item(track)
  return { position = 2, length = 2, track = track or 1,
    take = { midi = true, source_len_qn = 4, notes = { { 0, 960, 60, 100 } } } }
end

local function ext(more)
  local e = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/melody_midi"] = "n" }
  for k, v in pairs(more or {}) do
    e["MusicGen_Bridge/" .. k] = v
  end
  return e
end

-- Dialogs ----------------------------------------------------------------------------------

T.test("host: every dialog has one caption per field (REAPER splits captions on commas)", function()
  local _, state = F.mock("captions", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(state.dialogs[1].labels, { "Prompt", "Length (bars)", "Seed (blank = random)", "Model (blank = engine's)",
    "Key (e.g. A minor; blank = none)", "Variations (1-4 as takes)" })
  local dialog = require("musicgen.dialog")
  for _, caption in ipairs(dialog.CAPTIONS) do
    T.truthy(not caption:find(",", 1, true), "a comma in " .. caption)
  end
end)

T.test("host: a remembered prompt with an odd quote or an open ( still fills every field", function()
  for name, prompt in pairs({ apostrophe = "children's choir", quote = 'a 12" remix', paren = "strings (warm" }) do
    local e = ext({ last_prompt = prompt, last_bars = "3", last_variations = "2", last_key = "A minor" })
    -- The producer types a new prompt and keeps the other remembered values.
    local _, state = F.mock("safe-" .. name, { ext = e, inputs = { { true, edit = { [1] = "new idea" } } } })
    F.run(GEN)
    T.eq(#state.dialogs[1].shown, 6, name .. ": REAPER used the separator")
    T.eq(#state.messages, 0, name .. ": " .. tostring(state.messages[1]))
    T.eq(F.options(state), { "--bars", "3", "--bpm", "120", "--timesig", "4/4", "--key", "A minor", "--variations", "2" },
      name)
  end
  local dialog = require("musicgen.dialog")
  T.eq(dialog.safe_default("children's choir"), "children’s choir")
  T.eq(dialog.safe_default('a 12" remix'), "a 12” remix")
  T.eq(dialog.safe_default("strings (warm"), "strings (warm)")
  T.eq(dialog.safe_default("say \"hi\" (a) 'b'"), "say \"hi\" (a) 'b'", "balanced: shown as it is")
end)

T.test("host: Settings shows a CLI path REAPER cannot prefill as blank, and keeps it", function()
  local path = "/Users/o'neil/bin/musicgen-bridge"
  local _, state = F.mock("settings-path", { menus = { "Engine address and options..." }, files = { [path] = true }, ext = { ["MusicGen_Bridge/cli_path"] = path },
    inputs = { { true, edit = { [3] = "9100" } } } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(#state.dialogs[1].shown, 8, "REAPER used the separator")
  T.eq(state.dialogs[1].shown[1], "")
  T.eq(state.messages, {})
  T.eq({ state.ext["MusicGen_Bridge/cli_path"], state.ext["MusicGen_Bridge/port"] }, { path, "9100" })
end)

-- ExecProcess --------------------------------------------------------------------------------

T.test("host: the take starts minimized (-2): no console window to close on Windows", function()
  local _, state = F.mock("win-console", { os = "Win64", inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(state.processes[1].mode, -2)
  T.eq(state.user_closes_consoles(), 0, "a console window the producer can close kills the take")
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(#state.tracks[3].items, 1, "the take arrived")
end)

T.test("host: ExecProcess returning nothing (did not start) ends the job in words", function()
  local _, state = F.mock("nostart", { exec_fails = true, inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(state.pump(), 1, "no poller waiting for ever (one round: the deferred no-op)")
  T.eq(#state.messages, 1)
  T.contains(state.messages[1], "REAPER could not start " .. F.CLI)
  T.contains(state.messages[1], "MusicGen: Settings")
  T.eq(state.ext["MusicGen_Bridge/current_job"], nil, "Cancel has nothing to cancel")
end)

-- Where the take lands -----------------------------------------------------------------------

T.test("host: switching project tabs while it renders -> the take goes into its own project", function()
  for _, old in ipairs({ false, true }) do
    local _, state = F.mock("tabs", { items = { midi_item(1) }, selected = { 1 }, ext = ext(),
      no_insert_in_project = old, extra_projects = { { project_file = "/tmp/other.rpp", tracks = 1 } },
      inputs = { F.answer("pad", "1") } })
    F.run(GEN)
    local mine, other = state.projects[1], state.projects[2]
    state.switch_to(2)
    F.result(state, { "/o/a.wav" })
    state.pump()
    T.eq(#other.tracks, 1, "the other tab is left alone")
    T.eq({ #mine.tracks, mine.tracks[2].name, #mine.tracks[2].items }, { 3, "pad", 1 }, "under the item's track")
    T.truthy(state.current == other, "the tab shown is still the other one")
    T.contains(state.messages[1] or "", "went into \"song.rpp\", the project it was made for")
    T.eq(state.count("SelectProjectInstance"), old and 2 or 0, "REAPER before 7.18: the tab is switched and back")
  end
end)

T.test("host: tracks added above while it renders -> still right under the item's track", function()
  local _, state = F.mock("added", { items = { midi_item(2) }, selected = { 1 }, tracks = 3, ext = ext(),
    inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  local source_track = state.tracks[2]
  state.add_track_at_top()
  state.add_track_at_top()
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.truthy(state.tracks[4] == source_track, "the item's track is now the 4th")
  T.eq(state.tracks[5].name, "pad", "the new track is right under it")
  T.eq(state.messages, {})
end)

T.test("host: the item's track deleted while it renders -> a new track at the end, said in words", function()
  local _, state = F.mock("deleted", { items = { midi_item(1) }, selected = { 1 }, tracks = 3, ext = ext(),
    inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  state.delete_track(state.tracks[1])
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq({ #state.tracks, state.tracks[3].name, #state.tracks[3].items }, { 3, "pad", 1 })
  T.eq(#state.messages, 1)
  T.contains(state.messages[1], "was deleted while it rendered, so the take is on a new track at the end")
end)

T.test("host: the project closed while it renders -> nothing inserted anywhere, the folder named", function()
  local _, state = F.mock("closed", { items = { midi_item(1) }, selected = { 1 }, ext = ext(),
    extra_projects = { { project_file = "/tmp/other.rpp", tracks = 1 } }, inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  state.close_project(state.projects[1])
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(#state.projects[1].tracks, 1, "nothing in the tab left open")
  T.eq(state.messages, { "The take was made for \"song.rpp\", which has been closed, so it was not inserted. Its files "
    .. "are in /o: open the project and drag them in." })
  T.eq(#state.deferred, 0)
end)

T.test("host: Continue after its item or its track was deleted -> placed, said in words", function()
  local function drums()
    return { position = 2, length = 4, track = 2, take = { audio = true, file = "/loops/drums.wav", source_len = 4 } }
  end
  local _, state = F.mock("cont-item", { items = { drums() }, selected = { 1 }, inputs = { F.answer("x", "1") } })
  F.run(CONT)
  state.projects[1].items[1].deleted = true
  F.result(state, { "/o/x.wav" })
  state.pump()
  T.eq({ #state.tracks, state.tracks[2].items[1].position }, { 2, 6 }, "on its track where the item ended")
  T.contains(state.messages[1], "The item it continues was deleted")
  _, state = F.mock("cont-track", { items = { drums() }, selected = { 1 }, inputs = { F.answer("x", "1") } })
  F.run(CONT)
  state.delete_track(state.tracks[2])
  F.result(state, { "/o/x.wav" })
  state.pump()
  T.eq({ #state.tracks, state.tracks[2].name, state.tracks[2].items[1].position }, { 2, "x", 6 })
  T.contains(state.messages[1], "continuation is on a new track at the end")
end)

-- Inserting ----------------------------------------------------------------------------------

T.test("host: 'copy imported media' on, cursor elsewhere -> the item plays the engine's file, cursor stays", function()
  local _, state = F.mock("copy", { copy_media = true, cursor = 40, items = { midi_item(1) }, selected = { 1 },
    ext = ext(), inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(state.messages, {})
  local item = state.tracks[2].items[1]
  T.eq({ item.position, item.take.file }, { 2, "/o/a.wav" })
  T.eq(state.projects[1].cursor, 40, "the edit cursor is where the producer left it")
  T.eq(state.count("SetEditCurPos") + state.count("InsertMedia"), 0)
end)

-- Files left behind --------------------------------------------------------------------------

T.test("host: the exit file /bin/sh writes after the result is removed too: nothing accumulates", function()
  local _, state = F.mock("exitfile", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" })
  state.pump(1)
  T.eq(#state.tracks[3].items, 1, "the take is in as soon as the result is there")
  -- The CLI exits after writing its result; then the shell writes the exit status.
  F.write(state.exit_file, "0\n")
  state.pump()
  T.eq(F.job_files(state), {}, "job folder empty")
  T.eq(#state.deferred, 0)
end)

T.test("host: an exit file that never comes (Windows has none) does not keep the loop alive", function()
  local _, state = F.mock("noexit", { os = "Win64", inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" })
  T.eq(state.pump(), 1, "Windows: done at once")
  _, state = F.mock("noexit-posix", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" })
  local rounds = state.pump(5000)
  T.truthy(rounds > 100 and #state.deferred == 0, "waits a while, then stops: " .. rounds)
end)

-- Loudness and warnings ----------------------------------------------------------------------

T.test("host: Loudness -14 passes --loudness -14; off passes nothing", function()
  local _, state = F.mock("loud", { ext = ext({ loudness = "-14" }), inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "1", "--bpm", "120", "--timesig", "4/4", "--loudness", "-14" })
  _, state = F.mock("loud-off", { ext = ext({ loudness = "off" }), inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "1", "--bpm", "120", "--timesig", "4/4" })
end)

T.test("host: the engine's warnings are shown once the take is in; none from an older engine", function()
  local _, state = F.mock("warn", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" }, ', "warnings": [{"code": "tempo_conflict", "message": "The prompt says 90 bpm; '
    .. 'the take follows the project\'s 120 bpm."}, {"code": "other", "message": "Second."}]')
  local before = #state.console
  state.pump(1)
  T.eq(#state.tracks[3].items, 1)
  T.eq({ table.unpack(state.console, before + 1) }, {
    "MusicGen: warning: The prompt says 90 bpm; the take follows the project's 120 bpm.\n",
    "MusicGen: warning: Second.\n" })
  _, state = F.mock("warn-none", { inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(state.console, {})
end)
