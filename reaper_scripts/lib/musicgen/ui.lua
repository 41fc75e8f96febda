-- Messages to the user.
local M = {}

M.TITLE = "MusicGen"

function M.error(text)
  reaper.MB(text, M.TITLE, 0)
end

function M.info(text)
  reaper.MB(text, M.TITLE, 0)
end

function M.console(text)
  reaper.ShowConsoleMsg("MusicGen: " .. text .. "\n")
end

--- For an unexpected Lua error: the message plus where it happened.
function M.internal_error(traceback)
  M.error("Something went wrong inside the MusicGen script:\n\n" .. tostring(traceback)
    .. "\n\nPlease report this with the text above.")
end

--- End an action that changed nothing without the automatic undo point: REAPER adds
-- "ReaScript: Run" to the undo history when a script ends without deferring (docs/reaper.md,
-- "Host rules"); a deferred no-op, the published scripts' idiom, ends it without one.
function M.no_undo_point()
  reaper.defer(function() end)
end

return M
