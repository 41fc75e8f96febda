-- Request ids: printable ASCII without spaces, at most 64 characters (the protocol's rule).
local M = {}

local seeded = false

function M.new()
  if not seeded then
    math.randomseed(os.time(), math.floor((reaper.time_precise() % 1) * 1e6))
    seeded = true
  end
  return string.format("reaper-%d-%06x", os.time(), math.random(0, 0xFFFFFF))
end

return M
