local T = require("harness")
local F = require("fixtures")

T.test("cancel: no job running -> says so, runs nothing", function()
  local _, state = F.mock("cancel-none")
  F.run("MusicGen_Cancel.lua")
  T.eq(state.count("ExecProcess"), 0)
  T.eq(state.messages, { "No MusicGen take is being made right now." })
end)

T.test("cancel: running job -> `cancel ID`, and the poller stops waiting", function()
  local seen
  local _, state = F.mock("cancel-job", { inputs = { F.answer("pad", "1") }, exec = function(script, timeout)
    local argv = F.shell_words(script)
    if argv[2] == "cancel" then
      seen = { argv, timeout }
      return "0\ncancel reaper-test-1: was running\n"
    end
    return ""
  end })
  F.run("MusicGen_Generate_from_selection.lua")
  F.run("MusicGen_Cancel.lua")
  T.eq(seen, { { F.CLI, "cancel", "reaper-test-1" }, -2 }, "the query runs in the background")
  T.eq(state.messages, { "Cancelled the take reaper-test-1." })
  state.pump() -- no result file (engine gone?): the abandon flag still ends the loop
  T.eq(#state.deferred, 0)
  T.eq(state.count("InsertMedia"), 0)
  T.contains(table.concat(state.console), "generation cancelled")
end)

T.test("status: engine answers -> its text; engine down -> advice in words", function()
  local _, state = F.mock("status-ok", { ext = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/port"] = "9100" },
    exec = function(script)
      T.eq(F.shell_words(script), { F.CLI, "status", "--port", "9100" })
      return "0\nstate: ready\nmodel: debug\n"
    end })
  F.run("MusicGen_Engine_status.lua")
  state.pump()
  T.eq(state.messages, { "Engine status\n\nstate: ready\nmodel: debug\n" })
  _, state = F.mock("status-down", { exec = function()
    return "3\nmusicgen-bridge: No answer from the engine at 127.0.0.1:9000 within 3 s.\n"
  end })
  F.run("MusicGen_Engine_status.lua")
  state.pump()
  T.contains(state.messages[1], "No answer from the engine at 127.0.0.1:9000 within 3 s.")
  T.contains(state.messages[1], "Start it with `musicgen-bridge serve`")
end)

T.test("settings: stores the CLI path and port; refuses a bad port in words", function()
  local _, state = F.mock("settings", { menus = { "Engine address and options..." }, files = { ["/u/mgb"] = true }, inputs = { { true, "/u/mgb\n\n9100" } } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq({ state.ext["MusicGen_Bridge/cli_path"], state.ext["MusicGen_Bridge/port"] }, { "/u/mgb", "9100" })
  _, state = F.mock("settings2", { menus = { "Engine address and options..." }, inputs = { { true, "\n\nabc" } } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(state.messages, { 'The port must be a number from 1 to 65535, got "abc".' })
end)

T.test("settings: options shown with their defaults, stored, and checked in words", function()
  local _, state = F.mock("settings-opts", { menus = { "Engine address and options..." }, inputs = { { true, "\n\n\n12.5\nno\nYes\ny\n-14 LUFS" } } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(state.dialogs[1].labels, { "Path to musicgen-bridge", "Engine host (blank = 127.0.0.1)",
    "Engine port (blank = 9000)", "Continue: seconds of prompt (0.5-29)", "Melody from MIDI items (y/n)",
    "Melody from audio items (y/n)", "Loop takes seamlessly (y/n)", "Loudness (off / -14 / -23 LUFS)" },
    "one caption per field, as REAPER splits them")
  T.eq(state.dialogs[1].shown, { F.CLI, "", "", "10", "y", "n", "n", "off" }, "the defaults shown, one per field")
  T.eq(#state.messages, 0)
  local e = state.ext
  T.eq({ e["MusicGen_Bridge/prompt_seconds"], e["MusicGen_Bridge/melody_midi"], e["MusicGen_Bridge/melody_audio"],
    e["MusicGen_Bridge/loop"], e["MusicGen_Bridge/cli_path"], e["MusicGen_Bridge/loudness"] },
    { "12.5", "n", "y", "y", "", "-14" })
  for answer, words in pairs({
    ["\n\n\n30\ny\nn\nn"] = 'The prompt for Continue must be 0.5 to 29 seconds, got "30".',
    ["\n\n\n10\nmaybe\nn\nn"] = 'Answer y or n for "Melody from MIDI items", got "maybe".',
    ["\n\n\n10\ny\nn\nsure"] = 'Answer y or n for "Loop takes seamlessly", got "sure".',
    ["\n\n\n10\ny\nn\nn\nloud"] = 'Loudness is off, -14 or -23 (LUFS), got "loud".',
  }) do
    _, state = F.mock("settings-bad", { menus = { "Engine address and options..." }, inputs = { { true, answer } } })
    F.run("MusicGen_Settings.lua")
    F.state.pump()
  F.state.pump()
    T.eq(state.messages, { words })
    T.eq(state.ext["MusicGen_Bridge/loop"], nil, "nothing stored")
  end
end)

T.test("packaging: each action has a ReaPack header of one version; @provides lists the actions", function()
  -- index.xml itself is written by make_index.py (tests/test_reaper.py checks what it writes).
  local listing = io.popen("cd '" .. F.root .. "' && ls MusicGen_*.lua")
  local main_action = assert(io.open(F.root .. "MusicGen_Generate_from_selection.lua")):read("a")
  local version = assert(main_action:match("\n%-%- @version ([%d%.]+)\n"), "the main action has a @version")
  local actions = {}
  for path in listing:lines() do
    local s = assert(io.open(F.root .. path)):read("a")
    T.contains(s, "-- @description MusicGen", path)
    T.contains(s, "-- @version " .. version, path)
    actions[#actions + 1] = path
  end
  listing:close()
  T.eq(#actions, 5, "the five actions")
  local main = assert(io.open(F.root .. "MusicGen_Generate_from_selection.lua")):read("a")
  for _, path in ipairs(actions) do
    if path ~= "MusicGen_Generate_from_selection.lua" then
      T.contains(main, "--   [main] " .. path, "the @provides header lists " .. path)
    end
  end
  T.contains(assert(io.open(F.root .. "MusicGen_Generate_from_selection.py")):read("a"), "# @version " .. version)
end)
