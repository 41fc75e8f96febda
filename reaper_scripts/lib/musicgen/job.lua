-- One background take: started with ExecProcess (no wait, minimized), then polled until its
-- result file appears.  States: "running" -> "done" | "failed" | "cancelled".
--
-- On macOS and Linux the command is written into <id>.sh and ExecProcess runs `/bin/sh <id>.sh`
-- (ExecProcess itself runs no shell: shell.lua).  The shell writes the exit status file AFTER
-- the CLI has written its result and exited.  So the job files are removed only once that
-- exit file is there too (Job:tidy), else one .exit file per take would be left behind in
-- REAPER's resource folder.
local json = require("musicgen.json")
local paths = require("musicgen.paths")
local shell = require("musicgen.shell")
local settings = require("musicgen.settings")
local advice = require("musicgen.advice")

local Job = {}
Job.__index = Job

-- After the exit-status file appears, wait this many polls for the result file (it is
-- written before the process exits, so one poll is normally enough).
local GRACE_POLLS = 3
-- ExecProcess timeouts (reascripthelp): -1 "no wait/terminate" shows a console window on
-- Windows for the whole take (closing it kills the take); -2 "no wait and minimize".
Job.BACKGROUND = -2
-- How long (seconds) to wait for the exit file after the result, before leaving it be.
Job.TIDY_SECONDS = 30

--- Files for job `id` inside `folder`.
function Job.files(folder, id)
  return {
    result = paths.join(folder, id .. ".json"),
    log = paths.join(folder, id .. ".log"),
    exit = paths.join(folder, id .. ".exit"),
    script = paths.join(folder, id .. ".sh"),
  }
end

function Job.new(id, argv, files)
  return setmetatable({ id = id, argv = argv, files = files, state = "new", polls_after_exit = 0 }, Job)
end

--- The command line for ExecProcess; on POSIX it writes the script file first.  Returns the
-- line, or nil and why in words.
function Job:command_line()
  if shell.is_windows(reaper.GetOS()) then
    return shell.join(self.argv, reaper.GetOS())
  end
  local f = io.open(self.files.script, "wb")
  if not f then
    return nil, "Could not write " .. self.files.script .. ". Check that REAPER's resource folder is writable."
  end
  f:write(shell.background_script(self.argv, self.files.log, self.files.exit))
  f:close()
  return shell.sh_command(self.files.script)
end

--- Start the process.  Returns true when it runs; false when REAPER could not start it (the
-- job is then "failed", with the reason in words).
function Job:start()
  for _, path in pairs(self.files) do
    os.remove(path)
  end
  settings.set("current_job", self.id, false)
  settings.clear("abandon_job")
  self.state = "running"
  local line, problem = self:command_line()
  if not line then
    self:finish("failed", { message = problem })
    return false
  end
  -- ExecProcess "returns NULL on total failure": the process did not start.
  if reaper.ExecProcess(line, Job.BACKGROUND) == nil then
    self:finish("failed", { message = advice.not_started(self.argv[1]) })
    return false
  end
  -- Only the /bin/sh wrapper (macOS, Linux) writes an exit file.
  self.exit_expected = not shell.is_windows(reaper.GetOS())
  return true
end

function Job:finish(state, fields)
  self.state = state
  for key, value in pairs(fields or {}) do
    self[key] = value
  end
  if settings.get("current_job", "") == self.id then
    settings.clear("current_job")
  end
  os.remove(self.files.result)
  os.remove(self.files.log)
  self.finished_at = reaper.time_precise()
end

--- After the job ended: remove its exit file once /bin/sh has written it.  Returns true while
-- it is still to come (call again on a later defer tick), for at most TIDY_SECONDS.
function Job:tidy()
  if self.exit_expected and not paths.read(self.files.exit)
    and reaper.time_precise() - (self.finished_at or 0) < Job.TIDY_SECONDS then
    return true
  end
  for _, path in pairs(self.files) do
    os.remove(path)
  end
  return false
end

-- Job files older than this (seconds, from the time in their name) belong to no take that can
-- still arrive: REAPER quit, or the script was ended, while it rendered.
Job.STALE_SECONDS = 24 * 3600

--- Remove the stale files in the job folder: takes' (reaper-<time>-<hex>.*) and queries'
-- (query-<time>-*) older than STALE_SECONDS, except the takes whose ids are in `keep` (a set).
function Job.clean_stale(folder, keep)
  local now, names, i = os.time(), {}, 0
  while true do
    local name = reaper.EnumerateFiles(folder, i)
    if not name then
      break
    end
    names[#names + 1] = name
    i = i + 1
  end
  for _, name in ipairs(names) do
    local id, time = name:match("^(reaper%-(%d+)%-%x+)%.%a+$")
    if not id then
      time = name:match("^query%-(%d+)%-")
    end
    if time and now - tonumber(time) > Job.STALE_SECONDS and not (id and keep[id]) then
      os.remove(paths.join(folder, name))
    end
  end
end

--- Look once.  Returns true while the job is still running.
function Job:poll()
  if self.state ~= "running" then
    return false
  end
  local text = paths.read(self.files.result)
  if text then
    local result, err = json.decode(text)
    if type(result) ~= "table" then
      self:finish("failed", { message = "The result file " .. self.files.result .. " could not be read: "
        .. tostring(err) .. "." })
    elseif result.ok then
      self:finish("done", { paths = result.paths or {}, warnings = result.warnings or {} })
    elseif result.code == "cancelled" then
      self:finish("cancelled", { message = result.message })
    else
      self:finish("failed", { code = result.code, message = advice.for_result(result) })
    end
    return false
  end
  if settings.get("abandon_job", "") == self.id then
    settings.clear("abandon_job")
    self:finish("cancelled", { message = "Stopped waiting (MusicGen: Cancel)." })
    return false
  end
  local exit_text = paths.read(self.files.exit)
  if exit_text then
    self.polls_after_exit = self.polls_after_exit + 1
    if self.polls_after_exit > GRACE_POLLS then
      local code = tonumber(exit_text:match("%d+"))
      self:finish("failed", { message = advice.for_exit(code, paths.read(self.files.log), self.argv[1]) })
      return false
    end
  end
  return true
end

return Job
