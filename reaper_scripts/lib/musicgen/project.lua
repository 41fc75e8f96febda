-- The project: its folder, where takes go, and the tempo and time signature at a time.
local paths = require("musicgen.paths")

local M = {}

M.TAKES_SUBFOLDER = "MusicGen"

--- The folder of the current project's .rpp, or nil when the project was never saved.
function M.folder()
  local _, project_file = reaper.EnumProjects(-1, "")
  if project_file == nil or project_file == "" then
    return nil
  end
  return paths.dirname(project_file)
end

--- Where takes go: <project folder>/MusicGen (created).  For an unsaved project this
-- returns nil: the CLI is then run without --out and the engine writes to its own default
-- folder (~/Music/MusicGen Bridge, or `serve --out-dir`), as docs/reaper.md says.
-- Returns folder (or nil), error message (or nil).
function M.output_folder()
  local folder = M.folder()
  if not folder then
    return nil
  end
  local out = paths.join(folder, M.TAKES_SUBFOLDER)
  if not paths.ensure_folder(out) then
    return nil, "Could not create the folder " .. out .. " for the generated audio. "
      .. "Check that the project folder is writable."
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
function M.sample_rate()
  local rate, from = 0, "project"
  if reaper.GetSetProjectInfo(0, "PROJECT_SRATE_USE", 0, false) > 0 then
    rate = reaper.GetSetProjectInfo(0, "PROJECT_SRATE", 0, false)
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

--- Tempo (quarter notes per minute) and time signature at `time` (seconds).
function M.tempo_at(time)
  local num, denom, bpm = reaper.TimeMap_GetTimeSigAtTime(0, time)
  return bpm, math.floor(num), math.floor(denom)
end

return M
