-- "MusicGen: Generate from selection": ask, start the take in the background, poll, insert.
-- A selected MIDI item is sent as the melody (its notes); a selected audio item too when
-- "Melody from audio items" is on in Settings.  Continue (continuation.lua) shares start/finish.
local cli = require("musicgen.cli")
local command = require("musicgen.command")
local dialog = require("musicgen.dialog")
local handover = require("musicgen.handover")
local ids = require("musicgen.ids")
local insert = require("musicgen.insert")
local Job = require("musicgen.job")
local loop = require("musicgen.loop")
local project = require("musicgen.project")
local selection = require("musicgen.selection")
local settings = require("musicgen.settings")
local shell = require("musicgen.shell")
local ui = require("musicgen.ui")

local M = {}

-- The engine's limits for melody_notes (bridge/protocol.py) and melody_length.
M.MAX_NOTES_CHARS = 60000
M.MIN_MELODY_BEATS, M.MAX_MELODY_BEATS = 0.25, 4096
-- CreateProcess refuses a longer command line (Windows runs the CLI directly).
M.MAX_WINDOWS_COMMAND = 32000
M.MELODY_SETTINGS = "turn off \"Melody from MIDI items\" in \"MusicGen: Settings\" to generate without it"

--- The melody fields for the selection: {} when none is sent, or nil and a message in words.
function M.melody(sel)
  if sel.kind == "midi" and settings.enabled("melody_midi") then
    if #sel.notes == 0 then
      return nil, "The selected MIDI item has no notes to use as a melody (muted notes and notes outside the "
        .. "item's visible part do not count). Add notes, select another item, or " .. M.MELODY_SETTINGS .. "."
    end
    if #sel.notes > selection.MAX_NOTES then
      return nil, "The selected MIDI item has more than " .. selection.MAX_NOTES .. " notes (loop repeats "
        .. "count), the most the engine takes. Select a shorter item, or " .. M.MELODY_SETTINGS .. "."
    end
    if sel.length_qn < M.MIN_MELODY_BEATS or sel.length_qn > M.MAX_MELODY_BEATS then
      return nil, "The selected MIDI item is " .. command.number(sel.length_qn) .. " beats long; a melody clip "
        .. "must be " .. M.MIN_MELODY_BEATS .. " to " .. M.MAX_MELODY_BEATS .. " beats."
    end
    local notes = command.melody_notes(sel.notes)
    if #notes > M.MAX_NOTES_CHARS then
      return nil, "The selected MIDI item's melody is " .. #notes .. " characters as text; the engine takes "
        .. M.MAX_NOTES_CHARS .. ". Select a shorter item, or " .. M.MELODY_SETTINGS .. "."
    end
    return { melody_notes = notes, melody_length = sel.length_qn }
  end
  if sel.kind == "audio" and settings.enabled("melody_audio") then
    local problem, part = selection.melody_audio_problem(sel)
    if problem then
      return nil, problem .. "\n\nOr turn off \"Melody from audio items\" in \"MusicGen: Settings\"."
    end
    return { melody_audio = sel.source_path, audio_start = part.audio_start, audio_end = part.audio_end }
  end
  return {}
end

--- Ask the dialog and build the request shared by Generate and Continue.
-- `fields` are added to the request (melody, continuation...).  Returns the prepared job,
-- or nil and a message in words (nil, nil when the user cancelled).
function M.build(cli_path, sel, at, title, fields)
  local proj, project_file = project.current()
  local bpm, num, denom = project.tempo_at(proj, at)
  local raw = dialog.ask(settings.dialog_values(), title)
  if not raw then
    return nil, nil
  end
  settings.save_dialog_values(raw)
  local values, problem = dialog.validate(raw)
  if not values then
    return nil, problem
  end
  local drift = project.tempo_drift(proj, at, values.bars, bpm, num, denom)
  if drift and reaper.MB(M.tempo_words(drift, values.bars, bpm), title, 1) ~= 1 then
    return nil, nil
  end
  local out_dir, out_err = project.output_folder(proj)
  if out_err then
    return nil, out_err
  end
  local sample_rate, rate_note = project.sample_rate(proj)
  local id = ids.new()
  local files = Job.files(project.job_folder(), id)
  local req = {
    prompt = values.prompt,
    bars = values.bars,
    bpm = bpm,
    timesig = num .. "/" .. denom,
    seed = values.seed,
    model = values.model,
    key = values.key,
    variations = values.variations,
    sample_rate = sample_rate,
    loudness = settings.loudness(),
    out_dir = out_dir,
    id = id,
    result_file = files.result,
  }
  for k, v in pairs(fields or {}) do
    req[k] = v
  end
  local argv = command.generate(cli_path, req, settings.engine_flags())
  if shell.is_windows(reaper.GetOS()) and #shell.join(argv, reaper.GetOS()) > M.MAX_WINDOWS_COMMAND then
    return nil, "This request is too long for a Windows command line (the melody has too many notes). "
      .. "Select a shorter MIDI item."
  end
  return {
    cli = cli_path,
    selection = sel,
    request = req,
    files = files,
    argv = argv,
    notes = { rate_note },
    -- Where the take goes, as pointers (numbers change while it renders): see insert.resolve.
    target = { project = proj, project_file = project_file, track = sel.track, item = sel.item },
  }
end

--- The warning for a tempo change inside the take's bars (project.tempo_drift).
--
-- The take is made at ONE tempo (MusicGen is told "at N bpm"; the engine cuts the file to
-- bars x beats x 60 / bpm seconds) and lands at its own length.  REAPER's beat timebase
-- (C_BEATATTACHMODE 1, C_AUTOSTRETCH) makes an item follow tempo changes made AFTER it is
-- placed, not a change already inside it; following that would take stretch markers of our own,
-- and bending a take made at one tempo along a changing map changes its groove where the map
-- changes.  So the action says so before the take is asked for, and the producer chooses.
function M.tempo_words(drift, bars, bpm)
  return string.format("The tempo changes inside these %s bars: on the project's tempo map they last %.2f s, "
    .. "but the take is made at %s bpm (the tempo where it starts), so it lasts %.2f s and drifts off the grid "
    .. "after the change.\n\nOK: make it anyway. Cancel: make nothing (put the take where the tempo holds, "
    .. "or ask for fewer bars).", command.number(bars), drift.map_seconds, command.number(bpm), drift.take_seconds)
end

--- Gather everything the take needs.  Returns a prepared job, or nil (and a message in
-- words, or nil when the user cancelled).
function M.prepare()
  local cli_path, err = cli.locate()
  if not cli_path then
    return nil, err
  end
  local sel = selection.read()
  local fields, problem = M.melody(sel)
  if not fields then
    return nil, problem
  end
  fields.loop = settings.enabled("loop") or nil
  local prepared, build_problem = M.build(cli_path, sel, sel.position, dialog.TITLE, fields)
  if not prepared then
    return nil, build_problem
  end
  prepared.target.mode, prepared.target.position = "below", sel.position
  return prepared
end

-- The takes this instance of the action still waits for: {job, prepared}.
M.following = {}
local atexit_set = false

-- When this instance ends (it finished, or it was terminated: relaunched, or REAPER quits),
-- hand what it still waits for to the next instance (handover.lua).
local function hand_over()
  local records = {}
  for _, entry in ipairs(M.following) do
    if entry.job.state == "running" then
      records[#records + 1] = handover.record(entry.job, entry.prepared)
    end
  end
  if #records > 0 then
    local earlier = handover.decode(settings.get(handover.KEY, ""))
    for _, r in ipairs(records) do
      earlier[#earlier + 1] = r
    end
    settings.set(handover.KEY, handover.encode(earlier), false)
  end
end

--- Poll `job` from reaper.defer until it ends, then insert it.
function M.follow(job, prepared)
  local entry = { job = job, prepared = prepared }
  M.following[#M.following + 1] = entry
  if not atexit_set and reaper.atexit then
    reaper.atexit(hand_over)
    atexit_set = true
  end
  loop.run(function()
    if job.state == "running" then
      if job:poll() then
        return true
      end
      for i, e in ipairs(M.following) do
        if e == entry then
          table.remove(M.following, i)
          break
        end
      end
      M.finish(job, prepared)
    end
    return job:tidy()
  end, function(traceback)
    ui.internal_error(traceback)
  end)
end

--- Take over the takes an earlier, terminated instance handed over (handover.lua).
function M.adopt()
  local records = handover.decode(settings.get(handover.KEY, ""))
  settings.clear(handover.KEY)
  for _, r in ipairs(records) do
    local job = Job.new(r.id, { r.cli }, Job.files(r.folder, r.id))
    job.state = "running"
    job.exit_expected = not shell.is_windows(reaper.GetOS())
    local proj, track, item = handover.pointers(r)
    M.follow(job, { request = { prompt = r.prompt }, target = { project = proj, project_file = r.project_file,
      track = track, item = item, mode = r.mode, position = tonumber(r.position) } })
  end
  return records
end

--- Start the take and poll it from reaper.defer until it ends.  Returns the job.
function M.start(prepared)
  local job = Job.new(prepared.request.id, prepared.argv, prepared.files)
  if not prepared.request.out_dir then
    ui.console("REAPER gives no media folder for this project, so the take goes to the engine's default "
      .. "folder (~/Music/MusicGen Bridge unless `serve --out-dir` says otherwise).")
  end
  for _, note in ipairs(prepared.notes or {}) do
    ui.console(note)
  end
  if not job:start() then
    M.finish(job, prepared)
    return job
  end
  M.follow(job, prepared)
  return job
end

function M.finish(job, prepared)
  if job.state == "done" then
    if #job.paths == 0 then
      ui.error("The engine finished but reported no audio files.")
      return
    end
    local placed, problem = insert.place(prepared.target, job.paths, prepared.request.prompt)
    if not placed then
      ui.error(problem)
    elseif #placed.notes > 0 then
      ui.info(table.concat(placed.notes, "\n\n"))
    end
    -- The engine's warnings (result file "warnings": [{code, message}], absent from older
    -- engines), shown once the take is in.
    for _, warning in ipairs(job.warnings or {}) do
      if type(warning) == "table" and type(warning.message) == "string" then
        ui.console("warning: " .. warning.message)
      end
    end
  elseif job.state == "cancelled" then
    ui.console("generation cancelled" .. (job.message and (": " .. job.message) or "."))
  else
    ui.error("MusicGen could not make the take.\n\n" .. (job.message or "No reason was given."))
  end
end

--- Run `prepare` and start what it prepared, reporting problems in words.  Relaunching the
-- action while a take renders terminates this instance and starts a new one, which takes over
-- (handover.lua); stale job files are removed first.  The action never leaves the automatic
-- "ReaScript: Run" undo point (ui.no_undo_point): the insert makes its own.
function M.run(prepare)
  if reaper.set_action_options then
    reaper.set_action_options(1 | 2) -- 1: terminate the running instance on relaunch; 2: then relaunch
  end
  local ok, err = xpcall(function()
    local keep = {}
    for _, r in ipairs(M.adopt()) do
      keep[r.id] = true
    end
    Job.clean_stale(project.job_folder(), keep)
    local prepared, problem = prepare()
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
  ui.no_undo_point()
end

function M.main()
  M.run(M.prepare)
end

return M
