-- Host rules the first mock did not keep (issue 26; mock_reaper.lua, "Host rules"): ExecProcess
-- runs no shell on macOS/Linux, relaunching a running action, the automatic undo point, the
-- item moved and the tempo changed while a take renders, and queries that never hold the UI.
-- Each test here failed on the scripts before these fixes.
local T = require("harness")
local F = require("fixtures")

local GEN = "MusicGen_Generate_from_selection.lua"
local CONT = "MusicGen_Continue_selected_item.lua"

local function ext(more)
  local e = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/melody_midi"] = "n" }
  for k, v in pairs(more or {}) do
    e["MusicGen_Bridge/" .. k] = v
  end
  return e
end

local function midi_item(position)
  return { position = position or 2, length = 2, track = 1,
    take = { midi = true, source_len_qn = 4, notes = { { 0, 960, 60, 100 } } } }
end

local function write_result(state, id, wav)
  F.write(state.result_file:gsub("[^/]+%.json$", id .. ".json"), '{"ok": true, "id": "' .. id .. '", "paths": ["'
    .. wav .. '"]}\n')
end

-- 1. ExecProcess (macOS, Linux) ----------------------------------------------------------------

T.test("host 26.1: on macOS every action's command reaches the program (no shell: LineParser split)", function()
  local ran = {}
  local function program(script, timeout)
    local argv = F.shell_words(script)
    ran[#ran + 1] = argv[2]
    T.eq(argv[1], F.CLI)
    if timeout >= 0 then return "0\n" end
    return argv[2] == "generate" and "" or "0\nok\n"
  end
  -- The resource folder of a Mac: spaces in it, which LineParser must keep in one token.
  local _, state = F.mock("osx-exec", { os = "OSX64", exec = program, inputs = { F.answer("pad", "1") }, menus = { 0 },
    resource_path = F.folder("osx-exec") .. "/Library/Application Support/REAPER" })
  F.run(GEN)
  F.run("MusicGen_Cancel.lua")
  F.run("MusicGen_Engine_status.lua")
  F.run("MusicGen_Settings.lua")
  state.pump(5)
  T.eq(ran, { "generate", "cancel", "status", "models" }, "what the program was run for")
  for _, process in ipairs(state.processes) do
    T.eq(#process.argv, 2, "/bin/sh and the script file: " .. process.cmd)
    T.eq(process.argv[1], "/bin/sh")
  end
  T.eq(state.messages[1], "Cancelled the take reaper-test-1.")
  T.eq(state.messages[2], "Engine status\n\nok\n")
end)

-- 4. Relaunching Generate while a take renders ---------------------------------------------------

T.test("host 26.4: Generate pressed again during a render -> no dialog, both takes land", function()
  local _, state = F.mock("relaunch", { items = { midi_item(2) }, selected = { 1 }, tracks = 2, ext = ext(),
    inputs = { F.answer("first", "1"), F.answer("second", "1") } })
  local n = 0
  package.loaded["musicgen.ids"] = { new = function() n = n + 1 return "reaper-test-r" .. n end }
  F.run(GEN)
  state.pump(3)
  -- A producer who once answered "Terminate instances" (and "remember"): the scripts before
  -- this fix set no action options, so that answer applies.
  F.relaunch(GEN, "terminate")
  T.eq(state.asked or 0, 0, "REAPER asks nothing: the script said what a relaunch does")
  T.eq(#state.dialogs, 2, "the relaunched action asked for its take")
  write_result(state, "reaper-test-r1", "/o/first.wav")
  write_result(state, "reaper-test-r2", "/o/second.wav")
  state.pump()
  local names = {}
  for _, track in ipairs(state.tracks) do
    for _, item in ipairs(track.items) do names[#names + 1] = item.take.name end
  end
  table.sort(names)
  T.eq(names, { "first", "second" }, "the first take was handed over, not lost")
  T.eq(state.ext["MusicGen_Bridge/handover"], nil, "nothing left to hand over")
end)

T.test("host 26.4: job files of takes that can no longer arrive are removed; live ones kept", function()
  local _, state = F.mock("stale", { ext = ext(), inputs = { F.answer("pad", "1") } })
  local folder = state.folder .. "/res/Data/musicgen-bridge"
  os.execute("mkdir -p '" .. folder .. "'")
  local fresh = string.format("reaper-%d-00abcd", os.time() - 60)
  for _, name in ipairs({ "reaper-1000-0a0b0c.json", "reaper-1000-0a0b0c.log", "reaper-1000-0a0b0c.exit",
    "reaper-1000-0a0b0c.sh", "query-1000-1-00beef.out", fresh .. ".log", "notes.txt" }) do
    F.write(folder .. "/" .. name, "x")
  end
  F.run(GEN)
  local left = {}
  for _, name in ipairs(F.job_files(state)) do
    if not name:match("^reaper%-test") then left[#left + 1] = name end
  end
  T.eq(left, { "notes.txt", fresh .. ".log" })
end)

-- 5. The automatic undo point ----------------------------------------------------------------------

T.test("host 26.5: actions that change nothing leave no \"ReaScript: Run\" undo point", function()
  local _, state = F.mock("undo-none", { ext = ext(), menus = { 0 }, inputs = { { false, "" }, F.answer("pad", "lots") },
    exec = function(script) return script:find("'models'") and "3\n" or "0\nstate: ready\n" end })
  F.run("MusicGen_Cancel.lua")        -- nothing to cancel
  F.run("MusicGen_Engine_status.lua")
  F.run("MusicGen_Settings.lua")      -- menu dismissed
  F.run(GEN)                          -- dialog cancelled
  F.run(GEN)                          -- refused in words
  state.pump()
  T.eq(state.undo, {}, "the undo history is as it was")
  _, state = F.mock("undo-take", { ext = ext(), inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(state.undo, { "MusicGen: insert generated audio" }, "one undo point: the take")
end)

-- 6. The item moved while the take renders -----------------------------------------------------------

T.test("host 26.6: the source item moved during the render -> the take lands under it where it is now", function()
  local _, state = F.mock("moved", { items = { midi_item(2) }, selected = { 1 }, ext = ext(),
    inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  state.move_item(state.projects[1].items[1], 8)
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(state.tracks[2].items[1].position, 8)
end)

T.test("host 26.6: the continued item trimmed and moved during the render -> the continuation follows its end", function()
  local item = { position = 2, length = 4, track = 2, take = { audio = true, file = "/loops/drums.wav", source_len = 4 } }
  local _, state = F.mock("trimmed", { tracks = 2, items = { item }, selected = { 1 }, ext = ext(),
    inputs = { F.answer("more", "1") } })
  F.run(CONT)
  state.move_item(state.projects[1].items[1], 3, 2.5)
  F.result(state, { "/o/a.wav" })
  state.pump()
  T.eq(state.tracks[2].items[1].position, 5.5)
end)

-- 7. A tempo change inside the take's bars --------------------------------------------------------

T.test("host 26.7: a tempo change inside the bars -> asked before the take; Cancel runs nothing", function()
  -- 120 bpm, then 90 bpm from 4 s (bar 3 of 4/4): 4 bars from 0 s last 4 + 8 * 60/90 = 9.33 s, not 8 s.
  local map = { { 0, 120 }, { 4, 90 } }
  local _, state = F.mock("tempo-cancel", { tempo_map = map, cursor = 0, ext = ext(), mb = { 2 },
    inputs = { F.answer("pad", "4") } })
  F.run(GEN)
  T.eq(state.count("ExecProcess"), 0, "cancelled: nothing asked of the engine")
  T.contains(state.messages[1], "The tempo changes inside these 4 bars")
  T.contains(state.messages[1], "9.33 s")
  T.contains(state.messages[1], "120 bpm")
  _, state = F.mock("tempo-ok", { tempo_map = map, cursor = 0, ext = ext(), mb = { 1 },
    inputs = { F.answer("pad", "4") } })
  F.run(GEN)
  T.eq(F.options(state), { "--bars", "4", "--bpm", "120", "--timesig", "4/4" }, "OK: the take at the start's tempo")
  -- Two bars before the change: nothing to say.
  _, state = F.mock("tempo-before", { tempo_map = map, cursor = 0, ext = ext(), inputs = { F.answer("pad", "2") } })
  F.run(GEN)
  T.eq(#state.messages, 0)
  T.eq(state.count("ExecProcess"), 1)
end)

-- 8. Queries never hold REAPER's UI -----------------------------------------------------------------

T.test("host 26.8: Status, Cancel and the model menu never wait for the CLI (macOS/Linux)", function()
  local _, state = F.mock("nowait", { ext = ext({ current_job = "reaper-test-9" }), menus = { 0 } })
  F.run("MusicGen_Engine_status.lua")
  F.run("MusicGen_Cancel.lua")
  F.run("MusicGen_Settings.lua")
  T.eq(#state.processes, 3)
  for _, process in ipairs(state.processes) do
    T.eq(process.mode, -2, "in the background: " .. process.cmd)
  end
  -- The engine never answers: the queries end in words after QUERY_SECONDS, polled meanwhile.
  state.pump(5000)
  T.contains(state.messages[1], "did not finish within")
  T.eq(#state.menus, 1, "the menu still opens, its reason greyed")
end)

T.test("host 26.8: on Windows a query runs in the background too (a batch file run by cmd.exe)", function()
  local seen
  local _, state = F.mock("win-query", { os = "Win64", ext = ext({ port = "9100" }), exec = function(script, timeout)
    seen = { script, timeout }
    return "0\nstate: ready\n"
  end })
  F.run("MusicGen_Engine_status.lua")
  T.eq(seen[2], -2, "no wait")
  T.contains(state.processes[1].cmd, 'cmd.exe /s /c ""')
  T.contains(seen[1], '"' .. F.CLI .. '" "status" "--port" "9100" >"')
  state.pump()
  T.eq(state.messages, { "Engine status\n\nstate: ready\n" })
  -- A host setting with a double quote cannot go into a batch file: then the query waits,
  -- at most the CLI's start and half a second for the engine.
  F.mock("win-query-quote", { os = "Win64", ext = ext({ host = 'my"host' }), exec = function(cmd, timeout)
    seen = { cmd, timeout }
    return "3\nmusicgen-bridge: No answer\n"
  end })
  F.run("MusicGen_Engine_status.lua")
  T.eq(seen, { F.CLI .. ' status --host my\\"host --timeout 0.5', 15000 })
end)

T.test("shell: batch files for Windows queries: %% for %, every word quoted", function()
  local shell = require("musicgen.shell")
  T.eq(shell.cmd_script({ "C:\\Users\\50% off\\mgb.exe", "status", "--host", "a&b" }, "C:\\q\\o.out",
    "C:\\q\\o.exit"), '@echo off\r\n"C:\\Users\\50%% off\\mgb.exe" "status" "--host" "a&b" >"C:\\q\\o.out" 2>&1\r\n'
    .. '>"C:\\q\\o.exit" echo %ERRORLEVEL%\r\n')
  T.eq(shell.cmd_script({ "x", 'a"b' }, "o", "e"), nil)
  T.eq(shell.cmd_command("C:\\Program Files (x86)\\q.cmd"), 'cmd.exe /s /c ""C:\\Program Files (x86)\\q.cmd""')
end)

T.test("host 26.4: before REAPER 7.03 (no set_action_options) REAPER asks; both answers keep the take", function()
  local function setup(name)
    local _, state = F.mock(name, { items = { midi_item(2) }, selected = { 1 }, tracks = 2, ext = ext(),
      older = { set_action_options = true },
      inputs = { F.answer("first", "1"), F.answer("second", "1"), F.answer("third", "1") } })
    local n = 0
    package.loaded["musicgen.ids"] = { new = function() n = n + 1 return "reaper-test-r" .. n end }
    F.run(GEN)
    state.pump(3)
    return state
  end
  local function landed(state)
    local names = {}
    for _, track in ipairs(state.tracks) do
      for _, item in ipairs(track.items) do names[#names + 1] = item.take.name end
    end
    table.sort(names)
    return names
  end
  -- New instance: a second copy runs alongside; both takes land.
  local state = setup("relaunch-new")
  F.relaunch(GEN, "new")
  T.eq(state.asked, 1, "REAPER asked")
  write_result(state, "reaper-test-r1", "/o/first.wav")
  write_result(state, "reaper-test-r2", "/o/second.wav")
  state.pump()
  T.eq(landed(state), { "first", "second" })
  -- Terminate instances: the first copy hands its take over; it lands with the next run.
  state = setup("relaunch-terminate")
  F.relaunch(GEN, "terminate")
  T.eq(#state.dialogs, 1, "nothing new started")
  T.truthy(state.ext["MusicGen_Bridge/handover"], "the take was handed over")
  write_result(state, "reaper-test-r1", "/o/first.wav")
  F.run(GEN)
  write_result(state, "reaper-test-r2", "/o/second.wav")
  state.pump()
  T.eq(landed(state), { "first", "second" })
end)

T.test("host 26.3: a take lost to an engine restart (the CLI's engine_restarted) says what to do", function()
  local _, state = F.mock("restarted", { ext = ext(), inputs = { F.answer("pad", "1") } })
  F.run(GEN)
  F.write(state.result_file, '{"ok": false, "id": "' .. F.ID .. '", "code": "engine_restarted", '
    .. '"message": "the engine restarted; the take was lost"}')
  state.pump()
  T.eq(state.messages, { "MusicGen could not make the take.\n\nthe engine restarted; the take was lost\n\n"
    .. "Press Generate again to make the take anew." })
end)
