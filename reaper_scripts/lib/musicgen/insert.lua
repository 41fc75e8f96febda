-- Putting takes into the project.  The files of one request become the takes of ONE new item
-- (REAPER's take lanes: the producer flips through variations with the take switcher), the
-- first one active, all in one undo block of the project the take was asked in.  Generate puts
-- that item on a new track under the selected item's track; Continue puts it right after the
-- continued item, on the same track.
--
-- The take arrives minutes after the action ran: the producer may have switched project tabs,
-- added or deleted tracks, or closed the project.  So the target is kept as pointers
-- (ReaProject, MediaTrack, MediaItem), checked with ValidatePtr2 when the take arrives, and
-- everything is done in that project, never the current tab.  The item is built directly
-- (AddMediaItemToTrack, AddTakeToMediaItem, PCM_Source_CreateFromFile) rather than with
-- InsertMedia, which works on the current tab, moves the edit cursor, and plays a copy of the
-- file (not the file) when "Copy imported media to project media directory" is on.
local paths = require("musicgen.paths")
local project = require("musicgen.project")

local M = {}

M.UNDO_LABEL = "MusicGen: insert generated audio"
M.UNDO_LABEL_CONTINUE = "MusicGen: insert continuation"
M.MAX_PEAK_STEPS = 10000

--- Short name for tracks and takes: the prompt, cut to 60 characters.
function M.name_for(prompt)
  local name = prompt:gsub("%s+", " ")
  if utf8.len(name) and utf8.len(name) > 60 then
    name = name:sub(1, utf8.offset(name, 58) - 1) .. "..."
  end
  return name
end

--- Name of take `i` of `count`: the prompt, and for variations the seed the engine put in
-- the file name (`..._s<seed>.wav`, so asking for that seed alone remakes the take).
function M.take_name(name, path, i, count)
  if count == 1 then
    return name
  end
  local seed = path:match("_s(%d+)%.%w+$") or path:match("_s(%d+)%-%d+%.%w+$")
  return name .. (seed and (" (seed " .. seed .. ")") or (" #" .. i))
end

--- Build the peaks of `source` now (PCM_Source_BuildPeaks: begin, run until 0, finish).
local function build_peaks(source)
  if reaper.PCM_Source_BuildPeaks(source, 0) ~= 0 then
    local steps = 0
    while reaper.PCM_Source_BuildPeaks(source, 1) ~= 0 and steps < M.MAX_PEAK_STEPS do
      steps = steps + 1
    end
    reaper.PCM_Source_BuildPeaks(source, 2)
  end
end

--- One item at `position` (seconds) on `track`, one take per file, the first active, as long
-- as the first file.  Returns the item, or nil and the reason.
local function add_item(track, wav_paths, position, name)
  for _, path in ipairs(wav_paths) do
    if not paths.exists(path) then
      return nil, "The file " .. path .. " is not there."
    end
  end
  local item = reaper.AddMediaItemToTrack(track)
  local takes, sources = {}, {}
  for i, path in ipairs(wav_paths) do
    local source = reaper.PCM_Source_CreateFromFile(path)
    if not source then
      reaper.DeleteTrackMediaItem(track, item)
      return nil, "REAPER could not read " .. path .. "."
    end
    local take = reaper.AddTakeToMediaItem(item)
    reaper.SetMediaItemTake_Source(take, source)
    reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", M.take_name(name, path, i, #wav_paths), true)
    takes[i], sources[i] = take, source
  end
  reaper.SetActiveTake(takes[1])
  local length = reaper.GetMediaSourceLength(sources[1])
  reaper.SetMediaItemInfo_Value(item, "D_POSITION", position)
  reaper.SetMediaItemInfo_Value(item, "D_LENGTH", length)
  reaper.UpdateItemInProject(item)
  for _, source in ipairs(sources) do
    build_peaks(source)
  end
  return item
end

--- A new track at 0-based `index` of `proj`, named `name`.  InsertTrackInProject (REAPER
-- 7.18+) takes the project; before it, InsertTrackAtIndex works on the current tab only, so
-- the tab is switched to `proj` for that call and back.
local function new_track(proj, index, name)
  if reaper.APIExists("InsertTrackInProject") then
    reaper.InsertTrackInProject(proj, index, 1) -- 1: default envelopes and FX, as a new track gets
  else
    local current = reaper.EnumProjects(-1, "")
    if current ~= proj then
      reaper.SelectProjectInstance(proj)
    end
    reaper.InsertTrackAtIndex(index, true)
    if current ~= proj then
      reaper.SelectProjectInstance(current)
    end
  end
  local track = reaper.GetTrack(proj, index)
  reaper.GetSetMediaTrackInfo_String(track, "P_NAME", name, true)
  return track
end

local function in_undo_block(proj, label, fn)
  reaper.PreventUIRefresh(1)
  reaper.Undo_BeginBlock2(proj)
  local ok, result, problem = pcall(fn)
  reaper.Undo_EndBlock2(proj, label, -1)
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  if not ok then
    error(result, 0)
  end
  return result, problem
end

local function alive(proj, pointer, kind)
  return pointer ~= nil and reaper.ValidatePtr2(proj, pointer, kind)
end

--- Where the take goes now, checked against what is still there.  `target`: project (pointer),
-- project_file, track (pointer or nil), item (pointer or nil), position (s, where the item was
-- when the action ran), mode ("below" a track on a new one, or "on" the track itself).
-- Returns {track (pointer or nil), index (where a new track goes, 0-based), position (s: read
-- again from the item when it is still there, since the producer may have moved or trimmed it,
-- or changed the tempo before it, while the take rendered), notes (words for the user)}, or nil
-- and the reason.
function M.resolve(target, folder)
  local proj = target.project
  if not project.is_open(proj) then
    return nil, "The take was made for " .. project.name(target.project_file) .. ", which has been closed, so it "
      .. "was not inserted. Its files are in " .. folder .. ": open the project and drag them in."
  end
  local notes = {}
  local current = reaper.EnumProjects(-1, "")
  if current ~= proj then
    notes[#notes + 1] = "The take went into " .. project.name(target.project_file) .. ", the project it was made "
      .. "for (not the tab shown now)."
  end
  local track_ok = alive(proj, target.track, "MediaTrack*")
  local position = target.position
  local item_ok = alive(proj, target.item, "MediaItem*")
  if item_ok then
    position = reaper.GetMediaItemInfo_Value(target.item, "D_POSITION")
    if target.mode == "on" then
      position = position + reaper.GetMediaItemInfo_Value(target.item, "D_LENGTH")
    end
  end
  if target.mode == "on" then
    if track_ok then
      if target.item and not item_ok then
        notes[#notes + 1] = "The item it continues was deleted while the take rendered; the continuation is "
          .. "where that item ended."
      end
      return { track = target.track, position = position, notes = notes }
    end
    notes[#notes + 1] = "The track of the item it continues was deleted while the take rendered, so the "
      .. "continuation is on a new track at the end of the project."
    return { index = reaper.CountTracks(proj), position = position, notes = notes }
  end
  if track_ok then
    return { index = math.floor(reaper.GetMediaTrackInfo_Value(target.track, "IP_TRACKNUMBER")), position = position,
      notes = notes }
  end
  if target.track then
    notes[#notes + 1] = "The track under which the take was to go was deleted while it rendered, so the take "
      .. "is on a new track at the end of the project."
  end
  return { index = reaper.CountTracks(proj), position = position, notes = notes }
end

--- Insert `wav_paths` for `target` (see resolve) named after `prompt`.  Returns {track, item,
-- notes}, or nil and the reason in words (nothing is left half-made).
function M.place(target, wav_paths, prompt)
  local folder = paths.dirname(wav_paths[1])
  local where, problem = M.resolve(target, folder)
  if not where then
    return nil, problem
  end
  local name = M.name_for(prompt)
  local label = target.mode == "on" and M.UNDO_LABEL_CONTINUE or M.UNDO_LABEL
  return in_undo_block(target.project, label, function()
    local track, made = where.track, false
    if not track then
      track, made = new_track(target.project, where.index, name), true
    end
    local item, why = add_item(track, wav_paths, where.position, name)
    if not item then
      if made then
        reaper.DeleteTrack(track)
      end
      return nil, "REAPER could not insert the take " .. paths.basename(wav_paths[1]) .. ": " .. why
        .. "\n\nThe files are in " .. folder .. "."
    end
    return { track = track, item = item, notes = where.notes }
  end)
end

return M
