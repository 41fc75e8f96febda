-- The small actions: Cancel, Engine status, Settings.
local advice = require("musicgen.advice")
local cli = require("musicgen.cli")
local command = require("musicgen.command")
local settings = require("musicgen.settings")
local ui = require("musicgen.ui")

local M = {}

local function guarded(fn)
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then
    ui.internal_error(err)
  end
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
    local code, output = cli.run(command.query(cli_path, "cancel", job, settings.engine_flags()))
    if code == 0 then
      ui.info("Cancelled the take " .. job .. ".")
    elseif code == 1 then
      ui.info("The engine had nothing to cancel for " .. job .. " (it may have just finished).\n\n" .. output)
    else
      ui.error("Could not reach the engine to cancel " .. job .. ".\n\n" .. advice.for_query(code, output, cli_path))
    end
  end)
end

function M.status()
  guarded(function()
    local cli_path = located_cli()
    if not cli_path then
      return
    end
    local code, output = cli.run(command.query(cli_path, "status", nil, settings.engine_flags()))
    if code == 0 then
      ui.info("Engine status\n\n" .. output)
    else
      ui.error(advice.for_query(code, output, cli_path))
    end
  end)
end

function M.settings()
  guarded(function()
    local current = table.concat({ settings.get("cli_path", ""), settings.get("host", ""),
      settings.get("port", "") }, "\n")
    local ok, csv = reaper.GetUserInputs("MusicGen: Settings", 3,
      "Path to musicgen-bridge,Engine host (blank = 127.0.0.1),Engine port (blank = 9000),"
        .. "separator=\n,extrawidth=400", current)
    if not ok then
      return
    end
    local cli_path, host, port = csv:match("^(.-)\n(.-)\n(.-)$")
    if not cli_path then
      ui.error("Could not read the settings typed.")
      return
    end
    if port ~= "" and not (tonumber(port) and tonumber(port) >= 1 and tonumber(port) <= 65535) then
      ui.error("The port must be a number from 1 to 65535, got \"" .. port .. "\".")
      return
    end
    if cli_path ~= "" and not reaper.file_exists(cli_path) then
      ui.error("There is no file at \"" .. cli_path .. "\".")
      return
    end
    settings.set("cli_path", cli_path)
    settings.set("host", host)
    settings.set("port", port)
  end)
end

return M
