-- "MusicGen: Generate from selection": ask, start the take in the background, poll, insert.
local cli = require("musicgen.cli")
local command = require("musicgen.command")
local dialog = require("musicgen.dialog")
local ids = require("musicgen.ids")
local insert = require("musicgen.insert")
local Job = require("musicgen.job")
local loop = require("musicgen.loop")
local project = require("musicgen.project")
local selection = require("musicgen.selection")
local settings = require("musicgen.settings")
local ui = require("musicgen.ui")

local M = {}

--- Gather everything the take needs.  Returns a request table, or nil (and a message in
-- words, or nil when the user cancelled).
function M.prepare()
  local cli_path, err = cli.locate()
  if not cli_path then
    return nil, err
  end
  local sel = selection.read()
  local bpm, num, denom = project.tempo_at(sel.position)
  local raw = dialog.ask(settings.dialog_values())
  if not raw then
    return nil, nil
  end
  settings.save_dialog_values(raw)
  local values, problem = dialog.validate(raw)
  if not values then
    return nil, problem
  end
  local out_dir, out_err = project.output_folder()
  if out_err then
    return nil, out_err
  end
  local id = ids.new()
  local files = Job.files(project.job_folder(), id)
  local req = {
    prompt = values.prompt,
    bars = values.bars,
    bpm = bpm,
    timesig = num .. "/" .. denom,
    seed = values.seed,
    model = values.model,
    out_dir = out_dir,
    id = id,
    result_file = files.result,
  }
  return {
    cli = cli_path,
    selection = sel,
    request = req,
    files = files,
    argv = command.generate(cli_path, req, settings.engine_flags()),
  }
end

--- Start the take and poll it from reaper.defer until it ends.  Returns the job.
function M.start(prepared)
  local job = Job.new(prepared.request.id, prepared.argv, prepared.files)
  local sel = prepared.selection
  if not prepared.request.out_dir then
    ui.console("the project is not saved yet, so the take goes to the engine's default folder "
      .. "(~/Music/MusicGen Bridge unless `serve --out-dir` says otherwise).")
  end
  job:start()
  loop.run(function()
    if job:poll() then
      return true
    end
    M.finish(job, sel, prepared.request.prompt)
    return false
  end, function(traceback)
    ui.internal_error(traceback)
  end)
  return job
end

function M.finish(job, sel, prompt)
  if job.state == "done" then
    if #job.paths == 0 then
      ui.error("The engine finished but reported no audio files.")
      return
    end
    insert.takes(job.paths, sel.position, sel.track_index, prompt)
  elseif job.state == "cancelled" then
    ui.console("generation cancelled" .. (job.message and (": " .. job.message) or "."))
  else
    ui.error("MusicGen could not make the take.\n\n" .. (job.message or "No reason was given."))
  end
end

function M.main()
  local ok, err = xpcall(function()
    local prepared, problem = M.prepare()
    if not prepared then
      if problem then
        ui.error(problem)
      end
      return
    end
    M.start(prepared)
  end, debug.traceback)
  if not ok then
    ui.internal_error(err)
  end
end


return M
