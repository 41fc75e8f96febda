-- Putting takes into the project: each WAV on its own new track under the selection, at
-- the selection's position, all in one undo block.
local M = {}

M.UNDO_LABEL = "MusicGen: insert generated audio"
local INSERT_ON_TRACK_INDEX = 512 -- InsertMedia mode: the high word is a 0-based track index

--- Short name for tracks and takes: the prompt, cut to 60 characters.
function M.name_for(prompt)
  local name = prompt:gsub("%s+", " ")
  if utf8.len(name) and utf8.len(name) > 60 then
    name = name:sub(1, utf8.offset(name, 58) - 1) .. "..."
  end
  return name
end

--- Insert `wav_paths` at `position` (seconds) on new tracks placed after track number
-- `after_track` (1-based; 0 or nil = at the end).  Returns the new tracks.
function M.takes(wav_paths, position, after_track, prompt)
  local name = M.name_for(prompt)
  local cursor = reaper.GetCursorPosition()
  local index = after_track and after_track > 0 and after_track or reaper.CountTracks(0)
  local tracks = {}
  reaper.PreventUIRefresh(1)
  reaper.Undo_BeginBlock()
  for i, path in ipairs(wav_paths) do
    local track_index = index + i - 1 -- 0-based index of the new track
    reaper.InsertTrackAtIndex(track_index, true)
    local track = reaper.GetTrack(0, track_index)
    reaper.GetSetMediaTrackInfo_String(track, "P_NAME", #wav_paths > 1 and (name .. " " .. i) or name, true)
    reaper.SetEditCurPos(position, false, false)
    reaper.InsertMedia(path, INSERT_ON_TRACK_INDEX | (track_index << 16))
    local item = reaper.GetTrackMediaItem(track, reaper.CountTrackMediaItems(track) - 1)
    if item then
      local take = reaper.GetActiveTake(item)
      if take then
        reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", name, true)
      end
    end
    tracks[#tracks + 1] = track
  end
  reaper.SetEditCurPos(cursor, false, false)
  reaper.Undo_EndBlock(M.UNDO_LABEL, -1)
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  return tracks
end

return M
