-- luacheck configuration for the REAPER actions (Lua 5.4, REAPER 7).
-- Works from the repository root (`luacheck --config reaper_scripts/.luacheckrc reaper_scripts`)
-- and from this folder (`luacheck .`).
std = "lua54"
max_line_length = 120
-- The only globals the scripts read are REAPER's API table and its gfx table (the Settings
-- menu); the tests set them.
read_globals = { "reaper" }
globals = { "gfx" }  -- gfx.x and gfx.y are written before gfx.showmenu
for _, tests in ipairs({ "tests/", "reaper_scripts/tests/" }) do
  files[tests] = { globals = { "reaper", "gfx" }, max_line_length = false }
end
