-- Command lines for REAPER's ExecProcess, by operating system.
--
-- POSIX (macOS, Linux): ExecProcess runs NO shell.  It splits the line with WDL's LineParser
-- and starts the words as they are (see lineparser_token).  So the actions write the real
-- command into a script file, every argument in single quotes (a quote inside becomes '\''
-- and nothing else is special, so prompts with spaces, quotes, $, `, ; and unicode reach the
-- program unchanged), and ExecProcess runs `/bin/sh "FILE"`.
-- Windows: ExecProcess starts the program directly (CreateProcess, no cmd.exe), so the
-- rules are those of CommandLineToArgvW / the MSVC runtime, which Python follows.  A take
-- never goes through cmd.exe, whose %VAR% expansion cannot be escaped inside quotes on its
-- command line; a query (no producer's text in it) runs from a batch file (cmd_script).
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

--- `s` as ONE token of the command line REAPER's ExecProcess splits on macOS and Linux.
-- There REAPER runs no shell: WDL's LineParser (WDL/lineparse.h, parseDestroyBuffer) splits the
-- line at spaces and tabs, a token opened by " ' or ` runs to the next same quote, and there are
-- no backslash escapes; the argv is then started as it is (SWELL's process code: execvp).  So a
-- path with spaces is quoted with a quote character it does not hold; nil when it holds all
-- three (no LineParser token can carry it).
function M.lineparser_token(s)
  if s ~= "" and not s:find("[%s\"'`]") then
    return s
  end
  for _, q in ipairs({ '"', "'", "`" }) do
    if not s:find(q, 1, true) then
      return q .. s .. q
    end
  end
  return nil
end

--- Split `line` as REAPER's ExecProcess does on macOS and Linux (LineParser rules, above).
-- Returns the argv, or nil when a quote is left open (LineParser refuses the line).
function M.lineparser_split(line)
  local argv, i, n = {}, 1, #line
  local closing = { ['"'] = '"', ["'"] = "'", ["`"] = "`" }
  while true do
    i = line:find("[^ \t]", i)
    if not i then
      return argv
    end
    local q = closing[line:sub(i, i)]
    if q then
      local j = line:find(q, i + 1, true)
      if not j then
        return nil
      end
      argv[#argv + 1] = line:sub(i + 1, j - 1)
      i = j + 1
    else
      local j = line:find("[ \t]", i) or n + 1
      argv[#argv + 1] = line:sub(i, j - 1)
      i = j
    end
  end
end

--- The shell script (POSIX) that runs `argv` with its output in `log_file` and its exit status
-- in `exit_file`: if the program dies before writing its result file (not found, crashed), the
-- poller can still say why.  ExecProcess runs no shell (see lineparser_token), so the actions
-- write this into a file and run `/bin/sh FILE` (the way ReaSpeech's ExecProcess.via_tempfile
-- does): the shell reads the quoting from the file, where it means what it says.
function M.background_script(argv, log_file, exit_file)
  return M.join(argv, "Linux") .. " >" .. M.quote_posix(log_file) .. " 2>&1; echo $? >"
    .. M.quote_posix(exit_file) .. "\n"
end

--- The command line ExecProcess gets to run the script file `path` (POSIX), or nil and why.
function M.sh_command(path)
  local token = M.lineparser_token(path)
  if not token then
    return nil, "REAPER cannot start a command from the folder " .. path .. ": its name holds all of \", ' and `."
  end
  return "/bin/sh " .. token
end

--- The batch file (Windows) that runs `argv` with its output in `out_file` and its exit status
-- in `exit_file`, for a query run in the background (`cmd.exe` runs it: cmd_command), the way
-- ReaSpeech's ExecProcess.via_tempfile runs commands on Windows.  Inside a batch file "%%" is a
-- plain %, and & | < > ^ ( ) are plain inside double quotes; an argument holding a double quote
-- or a line break cannot be written safely, so then it answers nil (the caller waits instead).
-- Never used for a take: its prompt is the producer's text.
function M.cmd_script(argv, out_file, exit_file)
  local words = {}
  for i, arg in ipairs(argv) do
    arg = tostring(arg)
    if arg:find('["\r\n]') then
      return nil
    end
    words[i] = '"' .. arg:gsub("%%", "%%%%") .. '"'
  end
  for _, path in ipairs({ out_file, exit_file }) do
    if path:find('["\r\n]') then
      return nil
    end
  end
  local function q(path)
    return '"' .. path:gsub("%%", "%%%%") .. '"'
  end
  return "@echo off\r\n" .. table.concat(words, " ") .. " >" .. q(out_file) .. " 2>&1\r\n>" .. q(exit_file)
    .. " echo %ERRORLEVEL%\r\n"
end

--- The command line ExecProcess gets to run the batch file `path` (Windows): /s makes cmd.exe
-- strip only the outer pair of quotes, whatever the path holds (spaces, parentheses).
function M.cmd_command(path)
  return 'cmd.exe /s /c ""' .. path .. '""'
end

return M
