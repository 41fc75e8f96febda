-- The project: the one the action runs in (its ReaProject pointer, kept for when the take
-- arrives), where takes go, and the tempo and time signature at a time.
local paths = require("musicgen.paths")

local M = {}

M.TAKES_SUBFOLDER = "MusicGen"

--- The current project: its ReaProject pointer and its .rpp path ("" when never saved).
function M.current()
  local proj, project_file = reaper.EnumProjects(-1, "")
  return proj, project_file or ""
end

--- A project's name for messages: its file name, or "the unsaved project".
function M.name(project_file)
  local name = paths.basename(project_file or "")
  if name == "" then
    return "the unsaved project"
  end
  return "\"" .. name .. "\""
end

--- Whether `proj` (a ReaProject pointer) is still open in a tab.
function M.is_open(proj)
  return proj ~= nil and reaper.ValidatePtr2(0, proj, "ReaProject*")
end

local function is_absolute(path)
  return path:match("^/") ~= nil or path:match("^%a:[/\\]") ~= nil or path:match("^\\\\") ~= nil
end

--- Where takes go: <the project's media path>/MusicGen (created).  The media path is
-- GetProjectPathEx's answer ("Get the project recording path"): the project folder (or its
-- media subfolder, Project settings > Media) for a saved project, REAPER's default recording
-- path for an unsaved one.  When REAPER gives no absolute path, this returns nil: the CLI is
-- then run without --out and the engine writes to its own default folder (docs/reaper.md).
-- Returns folder (or nil), error message (or nil).
function M.output_folder(proj)
  local base = reaper.GetProjectPathEx(proj, "") or ""
  if base == "" or not is_absolute(base) then
    return nil
  end
  local out = paths.join(base, M.TAKES_SUBFOLDER)
  if not paths.ensure_folder(out) then
    return nil, "Could not create the folder " .. out .. " for the generated audio. "
      .. "Check that the project's media folder is writable (Project settings > Media)."
  end
  return out
end

--- Where the job's result, log and exit-status files go: REAPER's resource folder, so an
-- unsaved project works too.
function M.job_folder()
  local folder = paths.join(reaper.GetResourcePath(), "Data", "musicgen-bridge")
  paths.ensure_folder(folder)
  return folder
end

-- Output rates the engine can write (`--sample-rate`).
M.SAMPLE_RATES = { [22050] = true, [32000] = true, [44100] = true, [48000] = true, [88200] = true,
  [96000] = true }

--- The rate takes should be written at: the project's sample rate when the project sets one
-- (Project settings > "Project sample rate"), else the audio device's.  Returns the rate, or
-- nil (the model's own 32 kHz) and, when there is something to tell, why in words.
function M.sample_rate(proj)
  local rate, from = 0, "project"
  if reaper.GetSetProjectInfo(proj, "PROJECT_SRATE_USE", 0, false) > 0 then
    rate = reaper.GetSetProjectInfo(proj, "PROJECT_SRATE", 0, false)
  end
  if not rate or rate <= 0 then
    local ok, text = reaper.GetAudioDeviceInfo("SRATE", "")
    rate, from = ok and tonumber(text) or 0, "audio device"
  end
  rate = math.floor(rate + 0.5)
  if rate <= 0 then
    return nil
  end
  if not M.SAMPLE_RATES[rate] then
    return nil, "the " .. from .. " runs at " .. rate .. " Hz, a rate the engine cannot write, so the take "
      .. "comes at the model's 32000 Hz (REAPER resamples it as it plays)."
  end
  return rate
end

-- How far (seconds) the tempo map may stretch the take's bars from one tempo before it counts.
M.TEMPO_TOLERANCE = 0.005

--- Whether the tempo changes inside `bars` bars of num/denom from `time` (seconds) in `proj`:
-- nil when the bars last what they last at `bpm`, else {map_seconds (what they last on the
-- tempo map: markers and ramps alike), take_seconds (at bpm, the take's length)}.
function M.tempo_drift(proj, time, bars, bpm, num, denom)
  local span_qn = bars * num * 4 / denom
  local start_qn = reaper.TimeMap2_timeToQN(proj, time)
  local map_seconds = reaper.TimeMap2_QNToTime(proj, start_qn + span_qn) - time
  local take_seconds = span_qn * 60 / bpm
  if math.abs(map_seconds - take_seconds) > M.TEMPO_TOLERANCE then
    return { map_seconds = map_seconds, take_seconds = take_seconds }
  end
  return nil
end

--- Tempo (quarter notes per minute) and time signature at `time` (seconds) in `proj`.
function M.tempo_at(proj, time)
  local num, denom, bpm = reaper.TimeMap_GetTimeSigAtTime(proj, time)
  return bpm, math.floor(num), math.floor(denom)
end

return M
