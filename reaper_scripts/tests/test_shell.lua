local T = require("harness")

local WEIRD = { "plain", "two words", "it's", 'say "hi"', "café ☕ 日本", "$HOME `x` ; rm -rf /", "", "back\\slash\\" }

T.test("shell: POSIX quoting survives a real /bin/sh unchanged", function()
  local shell = require("musicgen.shell")
  local argv = { "printf", "%s\\n" }
  for _, w in ipairs(WEIRD) do
    argv[#argv + 1] = w
  end
  local p = io.popen(shell.join(argv, "Linux"))
  local out = p:read("a")
  p:close()
  T.eq(out, table.concat(WEIRD, "\n") .. "\n", "printf saw other arguments")
end)

-- Run `argv` as REAPER's SWELL does after splitting: exec, no shell (each word is quoted for
-- os.execute's shell, which then only hands them over).
local function exec_argv(argv)
  local shell = require("musicgen.shell")
  return os.execute("exec " .. shell.join(argv, "Linux"))
end

T.test("shell: the background script, run as `/bin/sh FILE` split by LineParser, records output and status", function()
  local shell = require("musicgen.shell")
  local dir = "/tmp/musicgen-reaper-tests/shell dir 'q'"
  os.execute("rm -rf \"" .. dir .. "\" && mkdir -p \"" .. dir .. "\"")
  local script = shell.background_script({ "sh", "-c", "echo \"it's\"; exit 3" }, dir .. "/l og", dir .. "/exit")
  T.eq(script, "'sh' '-c' 'echo \"it'\\''s\"; exit 3' >'" .. "/tmp/musicgen-reaper-tests/shell dir '\\''q'\\''/l og' 2>&1; "
    .. "echo $? >'/tmp/musicgen-reaper-tests/shell dir '\\''q'\\''/exit'\n")
  local f = assert(io.open(dir .. "/job.sh", "wb"))
  f:write(script)
  f:close()
  local line = shell.sh_command(dir .. "/job.sh")
  T.eq(line, '/bin/sh "' .. dir .. '/job.sh"', "the path quoted for LineParser with a quote it lacks")
  local argv = shell.lineparser_split(line)
  T.eq(argv, { "/bin/sh", dir .. "/job.sh" })
  exec_argv(argv)
  f = assert(io.open(dir .. "/exit"))
  T.eq(f:read("l"), "3")
  f:close()
  f = assert(io.open(dir .. "/l og"))
  T.eq(f:read("l"), "it's")
  f:close()
end)

T.test("shell: LineParser tokens (WDL/lineparse.h): quotes open only a token, no escapes", function()
  local shell = require("musicgen.shell")
  local Mock = require("mock_reaper")
  local cases = {
    { [[/bin/sh -c 'a b']], { "/bin/sh", "-c", "a b" } },
    -- The old way: the quoting meant for a shell falls apart (the script becomes "").
    { [[/bin/sh -c ''\''x'\'' y']], { "/bin/sh", "-c", "", [[\''x'\'']], "y'" } },
    { [["a b"c d]], { "a b", "c", "d" } },
    { "`it's` \"say 'hi'\"\t'x\"y'", { "it's", "say 'hi'", 'x"y' } },
    { [[a\ b]], { "a\\", "b" } },
    { "  ", {} },
  }
  for _, case in ipairs(cases) do
    T.eq(shell.lineparser_split(case[1]), case[2], case[1])
    T.eq(Mock.lineparser_split(case[1]), case[2], "mock: " .. case[1])
  end
  T.eq(shell.lineparser_split([["open]]), nil, "an open quote: LineParser refuses the line")
  for _, path in ipairs({ "/plain/x.sh", "/Users/a b/Library/Application Support/REAPER/x.sh", [[/it's "q"/x.sh]],
    "/all\"three'`/x" }) do
    local token = shell.lineparser_token(path)
    if path:find('"', 1, true) and path:find("'", 1, true) and path:find("`", 1, true) then
      T.eq(token, nil, "no token holds all three quotes")
    else
      T.eq(shell.lineparser_split("/bin/sh " .. token), { "/bin/sh", path }, path)
    end
  end
end)

T.test("shell: Windows quoting follows the MSVC argv rules", function()
  local shell = require("musicgen.shell")
  T.eq(shell.quote_windows("plain"), "plain")
  T.eq(shell.quote_windows("two words"), '"two words"')
  T.eq(shell.quote_windows('say "hi"'), '"say \\"hi\\""')
  T.eq(shell.quote_windows('C:\\Program Files\\x\\'), '"C:\\Program Files\\x\\\\"')
  T.eq(shell.quote_windows('a\\\\"b'), 'a\\\\\\\\\\"b')
  T.eq(shell.quote_windows(""), '""')
  T.eq(shell.join({ "C:\\mgb\\musicgen-bridge.exe", "generate", "lo fi" }, "Win64"),
    'C:\\mgb\\musicgen-bridge.exe generate "lo fi"')
end)
