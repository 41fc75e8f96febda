-- A reaper.defer loop whose every tick runs under xpcall, so one error is reported in
-- words and never kills REAPER's script silently half-way.
local M = {}

--- Call `tick()` on every defer cycle while it returns true.  On an error, `on_error` gets
-- the message and traceback, and the loop stops.
function M.run(tick, on_error)
  local function step()
    local ok, again = xpcall(tick, debug.traceback)
    if not ok then
      on_error(again)
      return
    end
    if again then
      reaper.defer(step)
    end
  end
  step()
end

return M
