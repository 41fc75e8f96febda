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

T.test("shell: background command line wraps in /bin/sh and records the exit status", function()
  local shell = require("musicgen.shell")
  local dir = "/tmp/musicgen-reaper-tests/shell"
  os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
  local cmd = shell.background({ "sh", "-c", "echo \"it's\"; exit 3" }, "OSX64", dir .. "/l og", dir .. "/exit")
  T.eq(cmd, "/bin/sh -c ''\\''sh'\\'' '\\''-c'\\'' '\\''echo \"it'\\''\\'\\'''\\''s\"; exit 3'\\'' "
    .. ">'\\''/tmp/musicgen-reaper-tests/shell/l og'\\'' 2>&1; echo $? >'\\''/tmp/musicgen-reaper-tests/shell/exit'\\'''")
  os.execute(cmd)
  local f = assert(io.open(dir .. "/exit"))
  T.eq(f:read("l"), "3")
  f:close()
  f = assert(io.open(dir .. "/l og"))
  T.eq(f:read("l"), "it's")
  f:close()
end)

T.test("shell: Windows quoting follows the MSVC argv rules", function()
  local shell = require("musicgen.shell")
  T.eq(shell.quote_windows("plain"), "plain")
  T.eq(shell.quote_windows("two words"), '"two words"')
  T.eq(shell.quote_windows('say "hi"'), '"say \\"hi\\""')
  T.eq(shell.quote_windows('C:\\Program Files\\x\\'), '"C:\\Program Files\\x\\\\"')
  T.eq(shell.quote_windows('a\\\\"b'), 'a\\\\\\\\\\"b')
  T.eq(shell.quote_windows(""), '""')
  T.eq(shell.background({ "C:\\mgb\\musicgen-bridge.exe", "generate", "lo fi" }, "Win64", "l", "e"),
    'C:\\mgb\\musicgen-bridge.exe generate "lo fi"')
end)
