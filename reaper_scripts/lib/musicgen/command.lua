-- The musicgen-bridge command lines the actions run (see `musicgen-bridge generate --help`).
local M = {}

-- Append every item of `items` (may be nil) to `argv`; returns `argv`.
local function append(argv, items)
  for _, item in ipairs(items or {}) do
    argv[#argv + 1] = item
  end
  return argv
end

--- A number as the CLI should read it: 140 -> "140", 0.5 -> "0.5", 92.123456 -> "92.123456".
function M.number(x)
  if x == math.floor(x) and math.abs(x) < 1e15 then
    return string.format("%d", x)
  end
  return (string.format("%.6f", x):gsub("0+$", ""):gsub("%.$", ""))
end

--- A beat position for a melody note: at most 4 decimals (a ten-thousandth of a beat is far
-- finer than the engine's 7.8 chroma frames a second, and keeps the note string short).
function M.beats(x)
  return (string.format("%.4f", x):gsub("0+$", ""):gsub("%.$", ""))
end

--- Seconds into an audio file (audio_start/audio_end): 4 decimals, a tenth of a millisecond.
function M.seconds(x)
  return (string.format("%.4f", x):gsub("0+$", ""):gsub("%.$", ""))
end

--- Notes ({pitch, start, length, velocity}, beats) as the engine's melody_notes string:
-- "pitch start length velocity" groups.  A note shorter than the precision is left out;
-- velocity 0 (a note the engine would refuse) is sent as 1.
function M.melody_notes(notes)
  local words = {}
  for _, n in ipairs(notes) do
    local length = M.beats(n.length)
    if tonumber(length) > 0 then
      words[#words + 1] = string.format("%d %s %s %d", n.pitch, M.beats(n.start), length,
        math.max(1, math.min(127, n.velocity)))
    end
  end
  return table.concat(words, " ")
end

local function add(argv, flag, value)
  if value ~= nil then
    argv[#argv + 1] = flag
    argv[#argv + 1] = type(value) == "number" and M.number(value) or value
  end
end

--- argv for one take.
-- req: prompt, bars, bpm, timesig ("6/8"), id, result_file, and, each optional (nil = not
-- sent): seed, model, key, variations (sent when > 1), melody_notes, melody_length (beats),
-- melody_audio, continue_from, prompt_seconds, audio_start and audio_end (seconds into the
-- melody_audio/continue_from file, sent with 4 decimals), loop (true = --loop), sample_rate,
-- loudness (LUFS, e.g. -14), out_dir
-- (nil = the engine's default folder).  engine_flags: {"--port", "9100"}...
function M.generate(cli, req, engine_flags)
  local argv = { cli, "generate", req.prompt, "--bars", M.number(req.bars), "--bpm", M.number(req.bpm),
    "--timesig", req.timesig }
  add(argv, "--seed", req.seed)
  add(argv, "--model", req.model)
  add(argv, "--key", req.key)
  if req.variations and req.variations > 1 then
    add(argv, "--variations", req.variations)
  end
  add(argv, "--melody-notes", req.melody_notes)
  add(argv, "--melody-length", req.melody_length)
  add(argv, "--melody-audio", req.melody_audio)
  add(argv, "--continue-from", req.continue_from)
  add(argv, "--prompt-seconds", req.prompt_seconds)
  add(argv, "--audio-start", req.audio_start and M.seconds(req.audio_start))
  add(argv, "--audio-end", req.audio_end and M.seconds(req.audio_end))
  if req.loop then
    argv[#argv + 1] = "--loop"
  end
  add(argv, "--sample-rate", req.sample_rate)
  add(argv, "--loudness", req.loudness)
  add(argv, "--out", req.out_dir)
  append(argv, { "--id", req.id, "--result-file", req.result_file, "--quiet" })
  return append(argv, engine_flags)
end

--- argv for a query: status, ping, or cancel (with the job id).
function M.query(cli, what, job_id, engine_flags)
  local argv = { cli, what }
  if job_id then
    argv[#argv + 1] = job_id
  end
  return append(argv, engine_flags)
end

return M
