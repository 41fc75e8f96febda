-- The small actions: Cancel, Engine status, Settings (the model menu, then the options dialog).
local advice = require("musicgen.advice")
local cli = require("musicgen.cli")
local command = require("musicgen.command")
local dialog = require("musicgen.dialog")
local model_menu = require("musicgen.model_menu")
local project = require("musicgen.project")
local settings = require("musicgen.settings")
local ui = require("musicgen.ui")

local M = {}

-- Run `fn` with errors reported in words.  Then end the action with a deferred no-op: a
-- ReaScript that ends without deferring gets an automatic "ReaScript: Run" undo point, which
-- these actions (they change nothing in the project) must not leave behind.
local function guarded(fn)
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then
    ui.internal_error(err)
  end
  ui.no_undo_point()
end

-- Where musicgen-bridge lives, or nil after telling the user why not.
local function located_cli()
  local cli_path, err = cli.locate()
  if not cli_path and err then
    ui.error(err)
  end
  return cli_path
end

function M.cancel()
  guarded(function()
    local job = settings.get("current_job", "")
    if job == "" then
      ui.info("No MusicGen take is being made right now.")
      return
    end
    -- Stop waiting whatever the engine says: if it is gone, the poller would wait forever.
    settings.set("abandon_job", job, false)
    local cli_path = located_cli()
    if not cli_path then
      return
    end
    cli.query(command.query(cli_path, "cancel", job, settings.engine_flags()), project.job_folder(),
      function(code, output)
        if code == 0 then
          ui.info("Cancelled the take " .. job .. ".")
        elseif code == 1 then
          ui.info("The engine had nothing to cancel for " .. job .. " (it may have just finished).\n\n" .. output)
        else
          ui.error("Could not reach the engine to cancel " .. job .. ".\n\n"
            .. advice.for_query(code, output, cli_path))
        end
      end)
  end)
end

function M.status()
  guarded(function()
    local cli_path = located_cli()
    if not cli_path then
      return
    end
    cli.query(command.query(cli_path, "status", nil, settings.engine_flags()), project.job_folder(),
      function(code, output)
        if code == 0 then
          ui.info("Engine status\n\n" .. output)
        else
          ui.error(advice.for_query(code, output, cli_path))
        end
      end)
  end)
end

-- The Settings dialog: where the CLI is, the engine address, and the options.
-- No caption may hold a comma: REAPER splits captions on every comma (see dialog.lua).
M.SETTINGS_FIELDS = { "cli_path", "host", "port", "prompt_seconds", "melody_midi", "melody_audio", "loop",
  "loudness" }
M.SETTINGS_CAPTIONS = { "Path to musicgen-bridge", "Engine host (blank = 127.0.0.1)", "Engine port (blank = 9000)",
  "Continue: seconds of prompt (0.5-29)", "Melody from MIDI items (y/n)", "Melody from audio items (y/n)",
  "Loop takes seamlessly (y/n)", "Loudness (off / -14 / -23 LUFS)" }
-- What the Loudness field accepts, and what is stored ("off" sends no --loudness).
local LOUDNESS = { [""] = "off", off = "off", ["-14"] = "-14", ["-23"] = "-23" }
local YES_NO = { y = "y", yes = "y", n = "n", no = "n" }
local YES_NO_LABELS = { melody_midi = "Melody from MIDI items", melody_audio = "Melody from audio items",
  loop = "Loop takes seamlessly" }

-- The values the dialog shows.  A CLI path REAPER cannot show as it is (an odd quote, an open
-- "(": see dialog.safe_default) is shown blank, and a blank answer then keeps it.
local function settings_shown()
  local shown, withheld = {}, false
  for i, key in ipairs(M.SETTINGS_FIELDS) do
    shown[i] = settings.OPTION_DEFAULTS[key] and settings.option(key) or settings.get(key, "")
    if not dialog.is_safe(shown[i]) then
      if key == "cli_path" then
        shown[i], withheld = "", true
      else
        shown[i] = dialog.safe_default(shown[i])
      end
    end
  end
  return table.concat(shown, "\n"), withheld
end

--- Check the typed settings.  Returns the values to store, or nil and a message in words.
function M.validate_settings(csv)
  local v, i = {}, 1
  for field in (csv .. "\n"):gmatch("(.-)\n") do
    if M.SETTINGS_FIELDS[i] then
      v[M.SETTINGS_FIELDS[i]] = field:gsub("^%s+", ""):gsub("%s+$", "")
    end
    i = i + 1
  end
  for _, key in ipairs(M.SETTINGS_FIELDS) do
    v[key] = v[key] or ""
  end
  local port = tonumber(v.port)
  if v.port ~= "" and not (port and port >= 1 and port <= 65535 and port == math.floor(port)) then
    return nil, "The port must be a number from 1 to 65535, got \"" .. v.port .. "\"."
  end
  if v.cli_path ~= "" and not reaper.file_exists(v.cli_path) then
    return nil, "There is no file at \"" .. v.cli_path .. "\"."
  end
  if v.prompt_seconds == "" then
    v.prompt_seconds = settings.OPTION_DEFAULTS.prompt_seconds
  end
  local seconds = tonumber(v.prompt_seconds)
  if not seconds or seconds < 0.5 or seconds > 29 then
    return nil, "The prompt for Continue must be 0.5 to 29 seconds, got \"" .. v.prompt_seconds .. "\"."
  end
  local loudness = LOUDNESS[v.loudness:lower():gsub("%s*lufs$", "")]
  if not loudness then
    return nil, "Loudness is off, -14 or -23 (LUFS), got \"" .. v.loudness .. "\"."
  end
  v.loudness = loudness
  for _, key in ipairs({ "melody_midi", "melody_audio", "loop" }) do
    local answer = v[key] == "" and settings.OPTION_DEFAULTS[key] or YES_NO[v[key]:lower()]
    if not answer then
      return nil, "Answer y or n for \"" .. YES_NO_LABELS[key] .. "\", got \"" .. v[key] .. "\"."
    end
    v[key] = answer
  end
  return v
end

-- The engine's model menu items, or nil and a short problem (shown greyed in the menu), given
-- to `on_items` (at once, or on a later defer tick when the query runs in the background).
local function model_items(on_items)
  local cli_path = cli.find()
  if not cli_path then
    on_items(nil, "musicgen-bridge not found (set its path under " .. model_menu.OPTIONS .. ")")
    return
  end
  local flags = { "--json" }
  for _, flag in ipairs(settings.engine_flags()) do
    flags[#flags + 1] = flag
  end
  cli.query(command.query(cli_path, "models", nil, flags), project.job_folder(), function(code, output)
    if code == nil then
      on_items(nil, "REAPER could not start musicgen-bridge")
    elseif code == 3 then
      on_items(nil, "the engine is not running (start it with `musicgen-bridge serve`)")
    elseif code ~= 0 then
      on_items(nil, (output:match("musicgen%-bridge: ([^\n]+)") or "the engine answered with an error"))
    else
      on_items(model_menu.parse(output))
    end
  end)
end

-- Type the Model field's value by hand (blank = the engine's).
local function type_model(current)
  local ok, answer = reaper.GetUserInputs("MusicGen: model", 1, "Model (blank = engine's),extrawidth=300",
    dialog.safe_default(current))
  if ok then
    settings.set("last_model", (answer:gsub("^%s+", ""):gsub("%s+$", "")))
  end
end

-- The Settings menu: the engine's models (the one chosen fills the Generate dialog's Model
-- field), typing a name by hand, and the engine address and options dialog.
function M.settings()
  guarded(function()
    model_items(function(items, problem)
      guarded(function()
        M.show_menu(items, problem)
      end)
    end)
  end)
end

-- The menu, once the items are there.
function M.show_menu(items, problem)
  local current = settings.get("last_model", "")
  local menu, actions = model_menu.build(items, current, problem)
  local action = actions[model_menu.show(menu)]
  if not action then
    return
  elseif action.model and action.model.download ~= "" then
    ui.info(model_menu.download_words(action.model))
  elseif action.model then
    settings.set("last_model", action.model.name)
  elseif action.type then
    type_model(current)
  else
    M.options()
  end
end

-- The dialog: where the CLI is, the engine address, and the options.
function M.options()
  guarded(function()
    local shown, withheld = settings_shown()
    local ok, csv = reaper.GetUserInputs("MusicGen: Settings", #M.SETTINGS_FIELDS,
      table.concat(M.SETTINGS_CAPTIONS, ",") .. ",separator=\n,extrawidth=400", shown)
    if not ok then
      return
    end
    local values, problem = M.validate_settings(csv)
    if not values then
      ui.error(problem)
      return
    end
    if withheld and values.cli_path == "" then
      values.cli_path = settings.get("cli_path", "")
    end
    for _, key in ipairs(M.SETTINGS_FIELDS) do
      settings.set(key, values[key])
    end
  end)
end

return M
