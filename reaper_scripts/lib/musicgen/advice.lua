-- Turning failures into words a REAPER user can act on.
local M = {}

M.START_ENGINE = "Is the engine running? Start it with `musicgen-bridge serve` in a terminal."
M.MELODY_MODEL = "To follow the selected item's melody, type facebook/musicgen-melody in the Model field "
  .. "of the dialog (download it once first: `musicgen-bridge download facebook/musicgen-melody`). To generate "
  .. "without the melody, select no item, or turn off \"Melody from MIDI items\" (and \"Melody from "
  .. "audio items\") in \"MusicGen: Settings\"."
M.SET_CLI = "Run the action \"MusicGen: Settings\" to tell REAPER where musicgen-bridge is."

local by_code = {
  engine_unreachable = function(message)
    if message:find("musicgen%-bridge serve") then
      return message
    end
    return message .. "\n\n" .. M.START_ENGINE
  end,
  bad_path = function(message)
    return message .. "\n\nSave the project, or check that its folder is writable."
  end,
  unsupported = function(message)
    return message .. "\n\n" .. M.MELODY_MODEL
  end,
  engine_restarted = function(message)
    return message .. "\n\nPress Generate again to make the take anew."
  end,
  model_not_available = function(message)
    return message .. "\n\nLeave the Model field blank to use the model the engine has loaded."
  end,
}

--- Words for a failed result file ({ok=false, code=..., message=...}).
function M.for_result(result)
  local message = result.message or "The engine reported an error without a message."
  local extra = by_code[result.code or ""]
  if extra then
    return extra(message)
  end
  return message
end

--- Words for a CLI that ended without writing its result file.
function M.for_exit(exit_code, log_text, cli)
  local log = (log_text or ""):gsub("%s+$", "")
  if #log > 600 then
    log = "..." .. log:sub(-600)
  end
  if exit_code == 127 or exit_code == 126 then
    return "Could not run " .. cli .. " (exit " .. exit_code .. ").\n\n" .. M.SET_CLI
      .. (log ~= "" and ("\n\n" .. log) or "")
  end
  if exit_code == 3 then
    return (log ~= "" and (log .. "\n\n") or "") .. M.START_ENGINE
  end
  return "musicgen-bridge stopped (exit " .. tostring(exit_code) .. ") without a result."
    .. (log ~= "" and ("\n\nIts output:\n" .. log) or "")
end

--- Words for a CLI that REAPER could not start at all (ExecProcess returned nothing).
function M.not_started(cli)
  return "REAPER could not start " .. cli .. ".\n\n" .. M.SET_CLI
end

--- Words for the output of a synchronous query (status, cancel) that failed.
function M.for_query(exit_code, output, cli)
  return M.for_exit(exit_code, output, cli)
end

return M
