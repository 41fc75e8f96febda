-- Handing takes over from a terminated instance of an action to the next one.
--
-- Pressing Generate (or Continue) while its take renders relaunches the script.  REAPER then
-- asks "Terminate instances / New instance" unless the script set its answer with
-- set_action_options (REAPER 7.03+): the actions ask for "terminate, then relaunch" (flags 1|2),
-- and the running instance's atexit callback hands every take it still waits for to the new
-- one through ExtState "handover" (kept until REAPER quits).  The new instance polls them
-- alongside its own, so no take is lost.  Pointers cannot be stored, so the project, track and
-- item are kept as their text (tostring, the same for one object all session long) and found
-- again by comparing; what is gone by then is handled as for any take (insert.resolve).
local M = {}

M.KEY = "handover"
M.FIELDS = { "id", "folder", "cli", "prompt", "mode", "project", "project_file", "track", "item", "position" }

local function escape(s)
  return (tostring(s or ""):gsub("\\", "\\\\"):gsub("\t", "\\t"):gsub("\n", "\\n"))
end

local function unescape(s)
  return (s:gsub("\\(.)", { ["\\"] = "\\", t = "\t", n = "\n" }))
end

local function text_of(pointer)
  return pointer ~= nil and tostring(pointer) or ""
end

--- The record of a take still rendering: `job` (its id and files), `prepared` (generate.build).
function M.record(job, prepared)
  local t = prepared.target
  return { id = job.id, folder = job.files.result:match("^(.*)[/\\]"), cli = job.argv[1],
    prompt = prepared.request.prompt,
    mode = t.mode, project = text_of(t.project), project_file = t.project_file, track = text_of(t.track),
    item = text_of(t.item), position = tostring(t.position) }
end

function M.encode(records)
  local lines = {}
  for _, r in ipairs(records) do
    local fields = {}
    for i, key in ipairs(M.FIELDS) do
      fields[i] = escape(r[key])
    end
    lines[#lines + 1] = table.concat(fields, "\t")
  end
  return table.concat(lines, "\n")
end

function M.decode(text)
  local records = {}
  for line in (text or ""):gmatch("[^\n]+") do
    local r, i = {}, 1
    for field in (line .. "\t"):gmatch("(.-)\t") do
      if M.FIELDS[i] then
        r[M.FIELDS[i]] = unescape(field)
      end
      i = i + 1
    end
    if r.id and r.id ~= "" then
      records[#records + 1] = r
    end
  end
  return records
end

--- The object of `proj` whose pointer reads as `address` (tostring), among the `count(proj)`
-- that `get(proj, i)` gives; nil when none does (or `address` is "").
function M.find(count, get, proj, address)
  if address == "" then
    return nil
  end
  for i = 0, count(proj) - 1 do
    local candidate = get(proj, i)
    if tostring(candidate) == address then
      return candidate
    end
  end
  return nil
end

--- The project, track and item of a record as pointers again (nil for each one gone).
function M.pointers(r)
  local proj
  local i = 0
  while true do
    local p = reaper.EnumProjects(i, "")
    if not p then
      break
    end
    if tostring(p) == r.project then
      proj = p
      break
    end
    i = i + 1
  end
  local track = proj and M.find(reaper.CountTracks, reaper.GetTrack, proj, r.track)
  local item = proj and M.find(reaper.CountMediaItems, reaper.GetMediaItem, proj, r.item)
  return proj, track, item
end

return M
