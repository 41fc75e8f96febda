-- "MusicGen: Settings": the model menu from `musicgen-bridge models --json`.
local T = require("harness")
local F = require("fixtures")

local OPTIONS = "Engine address and options..."
local TYPE = "Type a model name..."
local HEADER = "Model for new takes (the Generate dialog's Model field):"

-- What `models --json` prints (its "menu" part; bridge/model_list.py menu_items).
local MODELS_JSON = [[{
  "loaded": "debug",
  "models": ["debug", "debug-melody", "facebook/musicgen-small"],
  "entries": [],
  "menu": [
    {"label": "engine default (debug)", "name": "", "download": "", "size": ""},
    {"label": "debug (test noise, resident)", "name": "debug", "download": "", "size": ""},
    {"label": "debug-melody (test noise, ready, melody)", "name": "debug-melody", "download": "", "size": ""},
    {"label": "night-drive (folder, ready)", "name": "/srv/models/night-drive", "download": "", "size": ""},
    {"label": "#1 | hits (folder, ready)", "name": "/srv/models/#1 | hits", "download": "", "size": ""},
    {"label": "facebook/musicgen-large (download first, about 6.5 GB)", "name": "facebook/musicgen-large",
     "download": "musicgen-bridge download facebook/musicgen-large", "size": "about 6.5 GB"}
  ]
}]]

local function engine(output, code)
  return function(script, timeout)
    T.eq(timeout, -2, "a query in the background: REAPER never waits for it")
    local argv = F.shell_words(script)
    T.eq({ argv[2], argv[3] }, { "models", "--json" })
    return (code or "0") .. "\n" .. output
  end
end

local function texts(menu)
  local out = {}
  for i, item in ipairs(menu) do
    out[i] = (item.greyed and "#" or "") .. (item.checked and "!" or "") .. item.text
  end
  return out
end

T.test("settings menu: the engine's models as labels, the engine default checked", function()
  local _, state = F.mock("menu-list", { exec = engine(MODELS_JSON), menus = { 0 } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(texts(state.menus[1]), { "#" .. HEADER, "!engine default (debug)", "debug (test noise, resident)",
    "debug-melody (test noise, ready, melody)", "night-drive (folder, ready)", " #1 / hits (folder, ready)",
    "facebook/musicgen-large (download first, about 6.5 GB)", TYPE, OPTIONS })
  T.eq(state.ext["MusicGen_Bridge/last_model"], nil, "dismissed: nothing stored")
  T.eq(#state.dialogs, 0)
end)

T.test("settings menu: the item chosen stores its exact name (not its label) for the Generate dialog", function()
  for index, name in pairs({ [3] = "debug", [5] = "/srv/models/night-drive", [6] = "/srv/models/#1 | hits", [2] = "" }) do
    local _, state = F.mock("menu-pick", { exec = engine(MODELS_JSON), menus = { index },
      ext = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/last_model"] = "debug-melody" } })
    F.run("MusicGen_Settings.lua")
    F.state.pump()
    T.truthy(state.menus[1][4].checked, "the current choice is checked")
    T.eq(state.ext["MusicGen_Bridge/last_model"], name)
    T.eq(state.messages, {})
  end
  -- The Generate dialog then shows it in its Model field.
  local _, state = F.mock("menu-then-generate", { exec = engine(MODELS_JSON), menus = { 5 },
    inputs = { { false } } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  F.run("MusicGen_Generate_from_selection.lua")
  T.eq(state.dialogs[1].shown[4], "/srv/models/night-drive")
end)

T.test("settings menu: a checkpoint not downloaded gives the download command and is not chosen", function()
  local _, state = F.mock("menu-release", { exec = engine(MODELS_JSON),
    menus = { "facebook/musicgen-large (download first, about 6.5 GB)" } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(state.messages, { "facebook/musicgen-large is not on this machine (about 6.5 GB). Download it first: "
    .. "`musicgen-bridge download facebook/musicgen-large`, then choose it again." })
  T.eq(state.ext["MusicGen_Bridge/last_model"], nil)
end)

T.test("settings menu: typing a name by hand; a typed name the list lacks is shown checked", function()
  local _, state = F.mock("menu-type", { exec = engine(MODELS_JSON), menus = { TYPE },
    inputs = { { true, "  /Users/pat/my-finetune " } } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(state.ext["MusicGen_Bridge/last_model"], "/Users/pat/my-finetune")
  T.eq(state.dialogs[1].labels, { "Model (blank = engine's)" })
  _, state = F.mock("menu-typed", { exec = engine(MODELS_JSON), menus = { 0 },
    ext = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/last_model"] = "/Users/pat/my-finetune" } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  local menu = texts(state.menus[1])
  T.eq(menu[2], "engine default (debug)", "not checked: the typed name is not the default")
  T.eq(menu[#menu - 1], "!" .. TYPE .. " (now: /Users/pat/my-finetune)")
end)

T.test("settings menu: engine down, old CLI, or no CLI: a greyed reason, typing and options still there", function()
  for name, case in pairs({
    down = { exec = engine("musicgen-bridge: No answer from the engine at 127.0.0.1:9000 within 3 s.\n", "3"),
      want = "#No model list: the engine is not running (start it with `musicgen-bridge serve`)" },
    old = { exec = engine("usage: musicgen-bridge [-h]\nmusicgen-bridge: error: unrecognized arguments: --json\n", "2"),
      want = "#No model list: error: unrecognized arguments: --json" },
    plain = { exec = engine("debug  (loaded)\n"),
      want = "#No model list: the engine's answer has no model menu (is musicgen-bridge older than the scripts?)" },
  }) do
    local _, state = F.mock("menu-" .. name, { exec = case.exec, menus = { OPTIONS }, inputs = { { false } } })
    F.run("MusicGen_Settings.lua")
    F.state.pump()
    T.eq(texts(state.menus[1]), { case.want, TYPE, OPTIONS }, name)
    T.eq(state.dialogs[1].title, "MusicGen: Settings", name .. ": the options dialog opens")
  end
  local _, state = F.mock("menu-nocli", { ext = {}, files = {}, menus = { 0 } })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(texts(state.menus[1])[1], "#No model list: musicgen-bridge not found (set its path under " .. OPTIONS .. ")")
  T.eq(state.count("ExecProcess"), 0)
  T.eq(#state.dialogs, 0, "nothing asked: the path goes in the options dialog")
end)

T.test("settings menu: the engine address from Settings reaches the models query", function()
  local seen
  local _, state = F.mock("menu-port", { menus = { 0 },
    ext = { ["MusicGen_Bridge/cli_path"] = F.CLI, ["MusicGen_Bridge/port"] = "9100" },
    exec = function(script) seen = F.shell_words(script) return "0\n" .. MODELS_JSON end })
  F.run("MusicGen_Settings.lua")
  F.state.pump()
  T.eq(seen, { F.CLI, "models", "--json", "--port", "9100" })
  T.eq(#state.menus, 1)
end)
