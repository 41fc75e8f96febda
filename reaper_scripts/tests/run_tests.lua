-- Runs every reaper_scripts/tests/test_*.lua; exits non-zero on any failure.
-- Usage: lua5.4 reaper_scripts/tests/run_tests.lua [name-filter]
local here = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
local root = here .. "../"
package.path = root .. "lib/?.lua;" .. here .. "?.lua;" .. package.path

local T = require("harness")
local filter = arg and arg[1]

local listing = io.popen('ls "' .. here .. '"')
local files = {}
for name in listing:lines() do
  if name:match("^test_.*%.lua$") then
    files[#files + 1] = name
  end
end
listing:close()
table.sort(files)
for _, name in ipairs(files) do
  dofile(here .. name)
end

local passed, failed = 0, 0
for _, case in ipairs(T.tests) do
  if not filter or case.name:find(filter, 1, true) then
    for name in pairs(package.loaded) do
      if name:match("^musicgen%.") then
        package.loaded[name] = nil
      end
    end
    _G.reaper = nil
    local ok, err = xpcall(case.fn, debug.traceback)
    if ok then
      passed = passed + 1
      print("ok   " .. case.name)
    else
      failed = failed + 1
      print("FAIL " .. case.name .. "\n" .. tostring(err))
    end
  end
end
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
