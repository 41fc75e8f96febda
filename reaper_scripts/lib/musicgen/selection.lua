-- What is selected: the first selected item's position, length and track, and what it
-- holds.  A MIDI take gives its notes in beats (quarter notes, as bpm counts them) relative
-- to the item start, honouring the take's start offset, playrate and source looping; an
-- audio take gives its source file.  (Issue 3, melody and continuation, will send these to
-- the engine; today they decide where the take goes and are shown to the user.)
local M = {}

local MAX_NOTES = 10000

local function round(x)
  return math.floor(x * 1e6 + 0.5) / 1e6
end

--- Loop period of a looped take in quarter notes, or nil when it does not loop.
local function loop_period_qn(item, take, item_pos)
  if reaper.GetMediaItemInfo_Value(item, "B_LOOPSRC") ~= 1 then
    return nil
  end
  local source = reaper.GetMediaItemTake_Source(take)
  local length, is_qn = reaper.GetMediaSourceLength(source)
  local rate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
  if rate == nil or rate <= 0 then
    rate = 1
  end
  local period
  if is_qn then
    period = length / rate
  else
    period = reaper.TimeMap2_timeToQN(0, item_pos + length / rate) - reaper.TimeMap2_timeToQN(0, item_pos)
  end
  if period and period > 0 then
    return period
  end
  return nil
end

--- Notes of a MIDI take as {pitch, start, length, velocity, channel}, start and length in
-- beats from the item start, sorted by start then pitch; notes cut at the item edges.
function M.midi_notes(item, take)
  local item_pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
  local item_len = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  local start_qn = reaper.TimeMap2_timeToQN(0, item_pos)
  local length_qn = reaper.TimeMap2_timeToQN(0, item_pos + item_len) - start_qn
  local period = loop_period_qn(item, take, item_pos)
  -- Where the source's first pass starts, in beats from the item start (<= 0 with an offset).
  local pass_start = reaper.MIDI_GetProjQNFromPPQPos(take, 0) - start_qn
  local _, note_count = reaper.MIDI_CountEvts(take)
  local notes = {}
  for i = 0, note_count - 1 do
    local ok, _, muted, ppq_start, ppq_end, channel, pitch, velocity = reaper.MIDI_GetNote(take, i)
    if ok and not muted then
      -- The note's place in the source's first pass, which starts at item start - offset.
      local s = reaper.MIDI_GetProjQNFromPPQPos(take, ppq_start) - start_qn
      local e = reaper.MIDI_GetProjQNFromPPQPos(take, ppq_end) - start_qn
      local k, k_last = 0, 0
      if period and s - pass_start >= period then
        k_last = -1 -- starts after the source's end: never heard when looping
      elseif period then
        k = math.ceil(-e / period) -- first pass in which the note ends after the item start
        if e + k * period <= 0 then
          k = k + 1
        end
        k_last = math.huge
      end
      while k <= k_last and #notes < MAX_NOTES do
        local ns, ne = s + (period or 0) * k, e + (period or 0) * k
        if ns >= length_qn then
          break
        end
        if period then
          -- A looped source is cut at its end: a note past it does not ring into the next pass.
          ne = math.min(ne, pass_start + (k + 1) * period)
        end
        ns, ne = math.max(ns, 0), math.min(ne, length_qn)
        if ne > ns then
          notes[#notes + 1] = {
            pitch = pitch,
            start = round(ns),
            length = round(ne - ns),
            velocity = velocity,
            channel = channel,
          }
        end
        k = k + 1
      end
    end
  end
  table.sort(notes, function(a, b)
    if a.start ~= b.start then
      return a.start < b.start
    end
    return a.pitch < b.pitch
  end)
  return notes
end

--- The audio file behind a take (following sections/reversed sources to their parent).
function M.source_path(take)
  local source = reaper.GetMediaItemTake_Source(take)
  local path = reaper.GetMediaSourceFileName(source, "")
  if (path == nil or path == "") and reaper.GetMediaSourceParent then
    local parent = reaper.GetMediaSourceParent(source)
    if parent then
      path = reaper.GetMediaSourceFileName(parent, "")
    end
  end
  return path ~= "" and path or nil
end

--- What to generate against.  Returns a table:
--   kind: "midi", "audio", "empty" (item without a take) or "none" (nothing selected)
--   position: seconds where the take goes (the item start, or the edit cursor)
--   length: seconds (the item's, or nil)
--   track_index: 1-based number of the selected item's track (nil without selection)
--   notes (midi), source_path and source_offset (audio, seconds), item_count
function M.read()
  local count = reaper.CountSelectedMediaItems(0)
  if count == 0 then
    return { kind = "none", position = reaper.GetCursorPosition(), item_count = 0 }
  end
  local item = reaper.GetSelectedMediaItem(0, 0)
  local track = reaper.GetMediaItem_Track(item)
  local sel = {
    kind = "empty",
    item_count = count,
    position = reaper.GetMediaItemInfo_Value(item, "D_POSITION"),
    length = reaper.GetMediaItemInfo_Value(item, "D_LENGTH"),
    track_index = math.floor(reaper.GetMediaTrackInfo_Value(track, "IP_TRACKNUMBER")),
  }
  local take = reaper.GetActiveTake(item)
  if not take then
    return sel
  end
  if reaper.TakeIsMIDI(take) then
    sel.kind = "midi"
    sel.notes = M.midi_notes(item, take)
  else
    sel.kind = "audio"
    sel.source_path = M.source_path(take)
    sel.source_offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  end
  return sel
end

return M
