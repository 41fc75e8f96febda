-- Where the musicgen-bridge command lives (remembered in ExtState "cli_path"), and running
-- it synchronously for short queries.
local paths = require("musicgen.paths")
local settings = require("musicgen.settings")
local shell = require("musicgen.shell")

local M = {}

M.QUERY_TIMEOUT_MS = 15000

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

--- Run a short query and wait for it.  Returns exit code (number, nil if it could not
-- run) and its output.
function M.run(argv)
  local answer = reaper.ExecProcess(shell.capture(argv, reaper.GetOS()), M.QUERY_TIMEOUT_MS)
  if not answer then
    return nil, ""
  end
  local code, output = answer:match("^(%-?%d+)\n?(.*)$")
  return tonumber(code), output or answer
end

return M
