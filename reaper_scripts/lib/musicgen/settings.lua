-- Remembered values (REAPER ExtState, section "MusicGen_Bridge"): the CLI location, the
-- engine address, the options of "MusicGen: Settings", the last dialog values, and the job
-- in flight.  The Python variant uses the same section and keys.
local M = {}

M.SECTION = "MusicGen_Bridge"

M.DIALOG_DEFAULTS = { prompt = "", bars = "4", seed = "", model = "", key = "", variations = "1" }

-- Options set in "MusicGen: Settings" (y/n options are stored as "y" or "n").
-- loudness: "off", "-14" or "-23" (LUFS, sent as --loudness).
M.OPTION_DEFAULTS = { prompt_seconds = "10", melody_midi = "y", melody_audio = "n", loop = "n", loudness = "off" }

--- The loudness target in LUFS (a number), or nil when it is off.
function M.loudness()
  return tonumber(M.option("loudness"))
end

function M.get(key, default)
  local value = reaper.GetExtState(M.SECTION, key)
  if value == nil or value == "" then
    return default
  end
  return value
end

--- Store `value`; `persist` false keeps it only until REAPER quits.
function M.set(key, value, persist)
  reaper.SetExtState(M.SECTION, key, tostring(value or ""), persist ~= false)
end

function M.clear(key)
  reaper.DeleteExtState(M.SECTION, key, true)
end

--- An option's stored value, or its default.
function M.option(key)
  return M.get(key, M.OPTION_DEFAULTS[key])
end

--- Whether a y/n option is on.
function M.enabled(key)
  return M.option(key):lower():sub(1, 1) == "y"
end

function M.dialog_values()
  local values = {}
  for key, default in pairs(M.DIALOG_DEFAULTS) do
    values[key] = M.get("last_" .. key, default)
  end
  return values
end

function M.save_dialog_values(values)
  for key in pairs(M.DIALOG_DEFAULTS) do
    M.set("last_" .. key, values[key] or "")
  end
end

--- Extra CLI flags for a non-default engine address (empty when the defaults apply).
function M.engine_flags()
  local flags = {}
  local host, port = M.get("host", ""), M.get("port", "")
  if host ~= "" then
    flags[#flags + 1] = "--host"
    flags[#flags + 1] = host
  end
  if port ~= "" then
    flags[#flags + 1] = "--port"
    flags[#flags + 1] = port
  end
  return flags
end

return M
