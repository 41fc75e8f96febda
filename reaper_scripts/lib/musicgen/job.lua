-- One background take: started with ExecProcess (no wait), then polled until its result
-- file appears.  States: "running" -> "done" | "failed" | "cancelled".
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

--- Files for job `id` inside `folder`.
function Job.files(folder, id)
  return {
    result = paths.join(folder, id .. ".json"),
    log = paths.join(folder, id .. ".log"),
    exit = paths.join(folder, id .. ".exit"),
  }
end

function Job.new(id, argv, files)
  return setmetatable({ id = id, argv = argv, files = files, state = "new", polls_after_exit = 0 }, Job)
end

function Job:command_line()
  return shell.background(self.argv, reaper.GetOS(), self.files.log, self.files.exit)
end

function Job:start()
  for _, path in pairs(self.files) do
    os.remove(path)
  end
  settings.set("current_job", self.id, false)
  settings.clear("abandon_job")
  reaper.ExecProcess(self:command_line(), -1)
  self.state = "running"
end

function Job:finish(state, fields)
  self.state = state
  for key, value in pairs(fields or {}) do
    self[key] = value
  end
  if settings.get("current_job", "") == self.id then
    settings.clear("current_job")
  end
  for _, path in pairs(self.files) do
    os.remove(path)
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
      self:finish("done", { paths = result.paths or {} })
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
