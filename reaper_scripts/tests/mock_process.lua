-- The mock's process rules (mock_reaper.lua installs them): REAPER's ExecProcess on each OS,
-- with the shell (POSIX) or cmd.exe (Windows) that runs the actions' script files.
--
-- ExecProcess on macOS/Linux runs no shell: the line is split with WDL's LineParser
-- (lineparse.h: a token opened by " ' or ` runs to the same quote, no backslash escapes) and the
-- argv started as it is.  `/bin/sh -c SCRIPT` runs SCRIPT; `/bin/sh FILE` runs the file; the
-- mock's "program" behind a script is opts.exec(script_text, timeout, argv), whose answer
-- "code\noutput" goes where the script's last `>FILE 2>&1; echo $? >EXIT` says (background),
-- or is returned (waiting).  An empty script does nothing and exits 0.  opts.spawn(argv,
-- timeout), when given, gets the argv instead (e2e_driver.lua execs it).
local P = {}

--- Split an ExecProcess line as REAPER does on macOS and Linux (WDL/lineparse.h,
-- parseDestroyBuffer): tokens split at spaces and tabs; a token whose first character is " ' or `
-- runs to the next same character (which ends it, whatever follows); no backslash escapes.
-- Returns the argv, or nil for a quote left open.  (Written from lineparse.h, apart from
-- shell.lua's copy, so a test can hold one against the other.)
function P.lineparser_split(line)
  local argv, i = {}, 1
  while true do
    while line:sub(i, i) == " " or line:sub(i, i) == "\t" do i = i + 1 end
    if i > #line then return argv end
    local c = line:sub(i, i)
    if c == '"' or c == "'" or c == "`" then
      local j = line:find(c, i + 1, true)
      if not j then return nil end
      argv[#argv + 1] = line:sub(i + 1, j - 1)
      i = j + 1
    else
      local j = i
      while j <= #line and line:sub(j, j) ~= " " and line:sub(j, j) ~= "\t" do j = j + 1 end
      argv[#argv + 1] = line:sub(i, j - 1)
      i = j
    end
  end
end

--- Add ExecProcess and its helpers to the mock's `api` and `state`.
function P.install(api, state, opts)
  -- ExecProcess: "returns NULL on total failure, otherwise the return value, a newline, and
  -- then the output of the command ... timeoutmsec is -1 for no wait/terminate, -2 for no wait
  -- and minimize".  On Windows a -1 start shows a console window for as long as the process
  -- runs, and closing it kills the process (no result, no exit file).
  function api.ExecProcess(cmd, timeout)
    local windows = (opts.os or "Linux"):match("^Win") ~= nil
    local process = { cmd = cmd, mode = timeout,
      window = windows and timeout == -1 and "console" or (windows and timeout == -2 and "minimized" or nil) }
    state.processes[#state.processes + 1] = process
    if opts.exec_fails then return nil end
    if windows then
      -- Windows: CreateProcess with the line as it is (no shell either).  `cmd.exe /s /c
      -- ""FILE""` runs the batch file FILE (cmd strips the outer quotes); the program's answer
      -- goes where its `>"OUT" 2>&1` and `>"EXIT" echo %ERRORLEVEL%` lines say.
      local batch = cmd:match('^cmd%.exe /s /c ""(.*)""$')
      if not batch then
        process.script = cmd
        if opts.exec then return opts.exec(cmd, timeout) end
        return timeout < 0 and "" or "0\n"
      end
      local f = assert(io.open(batch, "rb"), "no batch file " .. batch)
      local script = f:read("a")
      f:close()
      process.script = script
      local answer = opts.exec and opts.exec(script, timeout) or (timeout < 0 and "" or "0\n")
      local code, output = answer:match("^(%-?%d+)\n(.*)$")
      local out_file = script:match('>"([^"]*)" 2>&1\r\n')
      local exit_file = script:match('\r\n>"([^"]*)" echo %%ERRORLEVEL%%\r\n$')
      if code and out_file and exit_file then
        local o = assert(io.open((out_file:gsub("%%%%", "%%")), "wb"))
        o:write(output)
        o:close()
        o = assert(io.open((exit_file:gsub("%%%%", "%%")), "wb"))
        o:write(code .. " \r\n")
        o:close()
      end
      return ""
    end
    local argv = P.lineparser_split(cmd)
    if not argv then return nil end -- an open quote: LineParser refuses the line
    process.argv = argv
    if opts.spawn then return opts.spawn(argv, timeout) end
    if argv[1] ~= "/bin/sh" then
      error("ExecProcess would exec " .. tostring(argv[1]) .. " directly (no shell): " .. cmd, 2)
    end
    local script
    if argv[2] == "-c" then
      script = argv[3] or ""
    else
      local f = io.open(argv[2] or "", "rb")
      if not f then
        process.script = ""
        return timeout < 0 and "" or "127\n/bin/sh: can't open " .. tostring(argv[2]) .. "\n"
      end
      script = f:read("a")
      f:close()
    end
    process.script = script
    if script:match("^%s*$") then return timeout < 0 and "" or "0\n" end
    local answer = opts.exec and opts.exec(script, timeout, argv)
    if answer == nil then answer = timeout < 0 and "" or "0\n" end
    if timeout < 0 then
      -- What the script's redirections do with the program's answer (if it has ended).
      local code, output = answer:match("^(%-?%d+)\n(.*)$")
      local out_file, exit_file = script:match(">'([^']*)' 2>&1; echo %$%? >'([^']*)'%s*$")
      if code and out_file then
        local f = assert(io.open(out_file, "wb"))
        f:write(output)
        f:close()
        f = assert(io.open(exit_file, "wb"))
        f:write(code .. "\n")
        f:close()
      end
      return ""
    end
    return answer
  end
  --- The user closes every console window a background process showed.  Returns how many
  -- processes that killed.
  function state.user_closes_consoles()
    local killed = 0
    for _, process in ipairs(state.processes) do
      if process.window == "console" and not process.killed then
        process.killed = true
        killed = killed + 1
      end
    end
    return killed
  end

  --- What each ExecProcess ran: the script /bin/sh read (the file's text, or the -c argument;
  -- "" when it ran none), or on Windows the command line itself.
  function state.scripts()
    local out = {}
    for i, process in ipairs(state.processes) do out[i] = process.script or "" end
    return out
  end

  function state.exec_commands()
    local out = {}
    for _, call in ipairs(state.calls) do
      if call.name == "ExecProcess" then out[#out + 1] = call.args[1] end
    end
    return out
  end

end

return P
