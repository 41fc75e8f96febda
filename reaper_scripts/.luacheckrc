-- luacheck configuration for the REAPER actions (Lua 5.4, REAPER 7).
-- Works from the repository root (`luacheck --config reaper_scripts/.luacheckrc reaper_scripts`)
-- and from this folder (`luacheck .`).
std = "lua54"
max_line_length = 120
-- The only global the scripts read is REAPER's API table; the tests set it.
read_globals = { "reaper" }
for _, tests in ipairs({ "tests/", "reaper_scripts/tests/" }) do
  files[tests] = { globals = { "reaper" }, max_line_length = false }
end
