-- Where the musicgen-bridge command lives (remembered in ExtState "cli_path"), and running
-- it for short queries (status, cancel, models).
--
-- A query never holds REAPER's UI thread while the engine is slow or down: it runs in the
-- background (a script file that writes the output and the exit status to files: run by
-- /bin/sh on macOS and Linux, by cmd.exe on Windows, as ReaSpeech does) and is polled from
-- reaper.defer.  Only on Windows, when an argument cannot be written into a batch file (a
-- double quote in the engine host setting), does the query wait for the CLI, which is then told
-- to give up on the engine after WINDOWS_ENGINE_TIMEOUT seconds.
local loop = require("musicgen.loop")
local paths = require("musicgen.paths")
local settings = require("musicgen.settings")
local shell = require("musicgen.shell")
local ui = require("musicgen.ui")

local M = {}

M.QUERY_TIMEOUT_MS = 15000
-- Seconds a background query may take before it counts as not answered (the CLI's own wait for
-- the engine is 3 s; its start-up can take a few more on a busy machine).
M.QUERY_SECONDS = 20
M.WINDOWS_ENGINE_TIMEOUT = "0.5"
local query_count = 0

--- Places a pip or pipx install usually puts the command, best first.
function M.candidates()
  local list = {}
  local env = os.getenv("MUSICGEN_BRIDGE_CLI")
  if env and env ~= "" then
    list[#list + 1] = env
  end
  if reaper.GetOS():match("^Win") then
    local profile = os.getenv("USERPROFILE") or ""
    local appdata = os.getenv("APPDATA") or ""
    list[#list + 1] = profile .. "\\musicgen-bridge\\.venv\\Scripts\\musicgen-bridge.exe"
    list[#list + 1] = profile .. "\\.local\\bin\\musicgen-bridge.exe"
    list[#list + 1] = appdata .. "\\Python\\Scripts\\musicgen-bridge.exe"
  else
    local home = os.getenv("HOME") or ""
    list[#list + 1] = home .. "/musicgen-bridge/.venv/bin/musicgen-bridge"
    list[#list + 1] = home .. "/.local/bin/musicgen-bridge"
    list[#list + 1] = "/opt/homebrew/bin/musicgen-bridge"
    list[#list + 1] = "/usr/local/bin/musicgen-bridge"
    list[#list + 1] = "/usr/bin/musicgen-bridge"
  end
  return list
end

--- Ask the user for the path (prefilled with `guess`).  Returns the path or nil.
function M.ask(guess)
  local ok, answer = reaper.GetUserInputs("MusicGen: where is musicgen-bridge?", 1,
    "Full path to musicgen-bridge,extrawidth=400", guess or "")
  if not ok then
    return nil
  end
  answer = answer:gsub("^%s+", ""):gsub("%s+$", ""):gsub('^"(.*)"$', "%1")
  return answer
end

--- The CLI path, remembered or found where installs put it; nil when neither (asks nothing).
function M.find()
  local stored = settings.get("cli_path", "")
  if paths.exists(stored) then
    return stored
  end
  for _, candidate in ipairs(M.candidates()) do
    if paths.exists(candidate) then
      settings.set("cli_path", candidate)
      return candidate
    end
  end
  return nil
end

--- The CLI path: remembered, else found, else asked for (first run).
-- Returns path, or nil and a message in words (nil, nil when the user cancelled).
function M.locate()
  local found = M.find()
  if found then
    return found
  end
  local stored = settings.get("cli_path", "")
  local answer = M.ask(stored)
  if answer == nil then
    return nil, nil
  end
  if not paths.exists(answer) then
    return nil, "There is no file at \"" .. answer .. "\". Install musicgen-bridge (see docs/reaper.md), "
      .. "then find it with `which musicgen-bridge` (macOS, Linux) or `where musicgen-bridge` (Windows)."
  end
  settings.set("cli_path", answer)
  return answer
end

--- Run a short query and wait for it (Windows: ExecProcess starts the program directly and
-- answers "exitcode\noutput").  Returns exit code (number, nil if it could not run) and its output.
function M.run(argv)
  local answer = reaper.ExecProcess(shell.join(argv, reaper.GetOS()), M.QUERY_TIMEOUT_MS)
  if not answer then
    return nil, ""
  end
  local code, output = answer:match("^(%-?%d+)\n?(.*)$")
  return tonumber(code), output or answer
end

--- Run a short query without freezing REAPER, then call `on_done(code, output)`: code is the
-- exit status (nil when it could not run or did not end in time).  In the background, polled
-- from reaper.defer (on_done runs on a later tick), or at once in the Windows case above.
-- `folder` is where the script and output files go (the job folder).
function M.query(argv, folder, on_done)
  local windows = shell.is_windows(reaper.GetOS())
  query_count = query_count + 1
  local base = paths.join(folder, string.format("query-%d-%d-%06x", os.time(), query_count,
    math.random(0, 0xFFFFFF)))
  local files = { script = base .. (windows and ".cmd" or ".sh"), out = base .. ".out", exit = base .. ".exit" }
  local text
  if windows then
    text = shell.cmd_script(argv, files.out, files.exit)
  else
    text = shell.background_script(argv, files.out, files.exit)
  end
  if not text then
    local flags = { "--timeout", M.WINDOWS_ENGINE_TIMEOUT }
    local full = {}
    for i, arg in ipairs(argv) do
      full[i] = arg
    end
    for _, flag in ipairs(flags) do
      full[#full + 1] = flag
    end
    on_done(M.run(full))
    return
  end
  local function tidy()
    for _, path in pairs(files) do
      os.remove(path)
    end
  end
  local f = io.open(files.script, "wb")
  local line, problem
  if f then
    f:write(text)
    f:close()
    if windows then
      line = shell.cmd_command(files.script)
    else
      line, problem = shell.sh_command(files.script)
    end
  else
    problem = "Could not write " .. files.script .. "."
  end
  if not line or reaper.ExecProcess(line, -2) == nil then
    tidy()
    on_done(nil, problem or "")
    return
  end
  local started = reaper.time_precise()
  loop.run(function()
    local exit_text = paths.read(files.exit)
    if exit_text and exit_text:find("\n") then
      local output = paths.read(files.out) or ""
      tidy()
      on_done(tonumber(exit_text:match("%-?%d+")), output)
      return false
    end
    if reaper.time_precise() - started > M.QUERY_SECONDS then
      tidy()
      on_done(nil, "musicgen-bridge did not finish within " .. M.QUERY_SECONDS .. " s.")
      return false
    end
    return true
  end, function(traceback)
    tidy()
    ui.internal_error(traceback)
  end)
end

return M
