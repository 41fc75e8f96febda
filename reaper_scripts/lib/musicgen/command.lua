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

--- argv for one take.
-- req: prompt, bars, bpm, timesig ("6/8"), seed (or nil), model (or nil), out_dir (or nil
-- for the engine's default folder), id, result_file; engine_flags: {"--port", "9100"}...
function M.generate(cli, req, engine_flags)
  local argv = { cli, "generate", req.prompt, "--bars", M.number(req.bars), "--bpm", M.number(req.bpm),
    "--timesig", req.timesig }
  if req.seed then
    argv[#argv + 1] = "--seed"
    argv[#argv + 1] = M.number(req.seed)
  end
  if req.model then
    argv[#argv + 1] = "--model"
    argv[#argv + 1] = req.model
  end
  if req.out_dir then
    argv[#argv + 1] = "--out"
    argv[#argv + 1] = req.out_dir
  end
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
