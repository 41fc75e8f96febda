-- Quoting command lines for the shell REAPER hands them to, by operating system.
--
-- POSIX (macOS, Linux): every argument in single quotes; a quote inside becomes '\''.
-- Nothing is special inside single quotes, so prompts with spaces, quotes, $, `, ; and
-- unicode reach the program unchanged.
-- Windows: ExecProcess starts the program directly (CreateProcess, no cmd.exe), so the
-- rules are those of CommandLineToArgvW / the MSVC runtime, which Python follows.  We never
-- go through cmd.exe, whose %VAR% expansion cannot be escaped inside quotes.
local M = {}

function M.is_windows(os_name)
  return (os_name or ""):match("^Win") ~= nil
end

function M.quote_posix(s)
  return "'" .. (s:gsub("'", "'\\''")) .. "'"
end

function M.quote_windows(s)
  -- The same rules as Python's subprocess.list2cmdline (a test compares the two).
  local needs_quotes = s == "" or s:find("[ \t]") ~= nil
  local out, backslashes = {}, 0
  for ch in s:gmatch(".") do
    if ch == "\\" then
      backslashes = backslashes + 1
    elseif ch == '"' then
      out[#out + 1] = string.rep("\\", backslashes * 2 + 1) .. '"'
      backslashes = 0
    else
      out[#out + 1] = string.rep("\\", backslashes) .. ch
      backslashes = 0
    end
  end
  out[#out + 1] = string.rep("\\", needs_quotes and backslashes * 2 or backslashes)
  if needs_quotes then
    return '"' .. table.concat(out) .. '"'
  end
  return table.concat(out)
end

--- Join an argument list into one command line for `os_name` (reaper.GetOS()).
function M.join(argv, os_name)
  local quote = M.is_windows(os_name) and M.quote_windows or M.quote_posix
  local parts = {}
  for i, arg in ipairs(argv) do
    parts[i] = quote(tostring(arg))
  end
  return table.concat(parts, " ")
end

--- The command line that runs `argv` in the background.
-- On POSIX it goes through /bin/sh so that output goes to `log_file` and the exit status to
-- `exit_file`: if the program dies before writing its result file (not found, crashed),
-- the poller can still say why.  On Windows the program runs directly; there the result
-- file (and the Cancel action) are the only ways to learn how it ended.
function M.background(argv, os_name, log_file, exit_file)
  if M.is_windows(os_name) then
    return M.join(argv, os_name)
  end
  local inner = M.join(argv, os_name) .. " >" .. M.quote_posix(log_file) .. " 2>&1; echo $? >"
    .. M.quote_posix(exit_file)
  return "/bin/sh -c " .. M.quote_posix(inner)
end

--- The command line that runs `argv` and captures stdout and stderr (for ExecProcess with a
-- timeout, which returns "exitcode\noutput").
function M.capture(argv, os_name)
  if M.is_windows(os_name) then
    return M.join(argv, os_name)
  end
  return "/bin/sh -c " .. M.quote_posix(M.join(argv, os_name) .. " 2>&1")
end

return M
