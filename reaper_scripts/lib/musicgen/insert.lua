-- Putting takes into the project.  The files of one request become the takes of ONE new item
-- (REAPER's take lanes: the producer flips through variations with the take switcher), the
-- first one active, all in one undo block.  Generate puts that item on a new track under the
-- selection; Continue puts it right after the continued item, on the same track.
local M = {}

M.UNDO_LABEL = "MusicGen: insert generated audio"
M.UNDO_LABEL_CONTINUE = "MusicGen: insert continuation"
local INSERT_ON_TRACK_INDEX = 512 -- InsertMedia mode: the high word is a 0-based track index
local BUILD_MISSING_PEAKS = 40047 -- action "Peaks: Build any missing peaks"

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

local function source_file(take)
  return take and reaper.GetMediaSourceFileName(reaper.GetMediaItemTake_Source(take), "") or nil
end

--- The item InsertMedia just made on `track`: at `position`, playing `path`.  (Items are kept
-- in time order, so the last one on the track need not be the new one.)
local function find_item(track, position, path)
  for i = reaper.CountTrackMediaItems(track) - 1, 0, -1 do
    local item = reaper.GetTrackMediaItem(track, i)
    if math.abs(reaper.GetMediaItemInfo_Value(item, "D_POSITION") - position) < 1e-6
      and source_file(reaper.GetActiveTake(item)) == path then
      return item
    end
  end
  return nil
end

--- One item at `position` on the track with 0-based index `track_index`, one take per file.
local function add_item(wav_paths, position, track_index, name)
  local track = reaper.GetTrack(0, track_index)
  reaper.SetEditCurPos(position, false, false)
  reaper.InsertMedia(wav_paths[1], INSERT_ON_TRACK_INDEX | (track_index << 16))
  local item = find_item(track, position, wav_paths[1])
  if not item then
    return nil
  end
  local takes = { reaper.GetActiveTake(item) }
  for i = 2, #wav_paths do
    local take = reaper.AddTakeToMediaItem(item)
    reaper.SetMediaItemTake_Source(take, reaper.PCM_Source_CreateFromFile(wav_paths[i]))
    takes[i] = take
  end
  for i, take in ipairs(takes) do
    reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", M.take_name(name, wav_paths[i], i, #wav_paths), true)
  end
  if #takes > 1 then
    reaper.SetActiveTake(takes[1])
    reaper.UpdateItemInProject(item)
    reaper.Main_OnCommand(BUILD_MISSING_PEAKS, 0)
  end
  return item
end

local function in_undo_block(label, fn)
  local cursor = reaper.GetCursorPosition()
  reaper.PreventUIRefresh(1)
  reaper.Undo_BeginBlock()
  local ok, result = pcall(fn)
  reaper.SetEditCurPos(cursor, false, false)
  reaper.Undo_EndBlock(label, -1)
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  if not ok then
    error(result, 0)
  end
  return result
end

--- Insert `wav_paths` as the takes of one item at `position` on a new track placed after
-- track number `after_track` (1-based; 0 or nil = at the end).  Returns the track and item.
function M.takes(wav_paths, position, after_track, prompt)
  local name = M.name_for(prompt)
  return in_undo_block(M.UNDO_LABEL, function()
    local index = after_track and after_track > 0 and after_track or reaper.CountTracks(0)
    reaper.InsertTrackAtIndex(index, true)
    local track = reaper.GetTrack(0, index)
    reaper.GetSetMediaTrackInfo_String(track, "P_NAME", name, true)
    return { track = track, item = add_item(wav_paths, position, index, name) }
  end)
end

--- Insert `wav_paths` as the takes of one item at `position` on the existing track number
-- `track_number` (1-based): a continuation, right after the item it continues.
function M.continuation(wav_paths, position, track_number, prompt)
  local name = M.name_for(prompt)
  return in_undo_block(M.UNDO_LABEL_CONTINUE, function()
    local index = track_number - 1
    return { track = reaper.GetTrack(0, index), item = add_item(wav_paths, position, index, name) }
  end)
end

return M
