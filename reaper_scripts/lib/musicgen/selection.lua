-- What is selected: the first selected item's position, length and track, and what it
-- holds.  A MIDI take gives its notes in beats (quarter notes, as bpm counts them) relative
-- to the item start, honouring the take's start offset, playrate and source looping (sent
-- as the melody); an audio take gives its source file and how the item plays it (sent as
-- the melody or the audio to continue, when the item plays that file as it is).
local M = {}

-- The most notes the engine takes in one melody; reading stops one past it.
M.MAX_NOTES = 4096
-- The engine reads these files (engine/audio.py AUDIO_SUFFIXES).
M.AUDIO_EXTENSIONS = { wav = true, wave = true, aif = true, aiff = true, flac = true }
-- How far (seconds) the item end may sit from the file end and still count as "the end".
M.END_TOLERANCE = 0.005
M.GLUE = "Glue the item first (Item > Glue items: its audio becomes a WAV file that ends where the item "
  .. "does), then run this again."

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
-- beats from the item start, sorted by start then pitch; notes cut at the item edges, muted
-- notes left out.  Stops after MAX_NOTES + 1 notes (more than the engine takes).
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
      while k <= k_last and #notes <= M.MAX_NOTES do
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

--- Item length in beats (quarter notes), following tempo changes inside it.
local function length_qn(item)
  local pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
  local len = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  return round(reaper.TimeMap2_timeToQN(0, pos + len) - reaper.TimeMap2_timeToQN(0, pos))
end

--- What to generate against.  Returns a table:
--   kind: "midi", "audio", "empty" (item without a take) or "none" (nothing selected)
--   position: seconds where the take goes (the item start, or the edit cursor)
--   length: seconds (the item's, or nil); length_qn: beats (the item's, or nil)
--   track_index: 1-based number of the selected item's track (nil without selection)
--   item, track: the selected item's MediaItem and MediaTrack pointers (nil without selection;
--   kept to find them again when the take arrives, since numbers change meanwhile)
--   item_count; midi: notes; audio: source_path, source_type ("WAVE", "SECTION"...),
--   source_length (s), source_offset (s into the file where the item starts), playrate,
--   pitch (semitones), loop
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
    length_qn = length_qn(item),
    track_index = math.floor(reaper.GetMediaTrackInfo_Value(track, "IP_TRACKNUMBER")),
    item = item,
    track = track,
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
    local source = reaper.GetMediaItemTake_Source(take)
    sel.source_path = M.source_path(take)
    sel.source_type = reaper.GetMediaSourceType(source, "")
    sel.source_length = reaper.GetMediaSourceLength(source)
    sel.source_offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
    sel.playrate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
    sel.pitch = reaper.GetMediaItemTakeInfo_Value(take, "D_PITCH")
    sel.loop = reaper.GetMediaItemInfo_Value(item, "B_LOOPSRC") == 1
  end
  return sel
end

local function seconds(x)
  return string.format("%.2f s", x)
end

--- Why the engine cannot read the audio item's file as the item plays it (nil when it can):
-- the file must exist, be WAV/AIFF/FLAC, and be played as it is (no section or reverse, rate 1,
-- no pitch shift).
function M.audio_file_problem(sel)
  if sel.source_type == "SECTION" then
    return "The selected item plays a section or a reversed copy of its file, but the engine reads the file "
      .. "itself. " .. M.GLUE
  end
  local path = sel.source_path
  if not path or path == "" then
    return "The selected item's audio is not a file on disk. " .. M.GLUE
  end
  local ext = (path:match("%.([^./\\]+)$") or ""):lower()
  if not M.AUDIO_EXTENSIONS[ext] then
    return "The engine reads WAV, AIFF and FLAC files; the selected item plays \"" .. path:match("[^/\\]*$")
      .. "\". " .. M.GLUE
  end
  if sel.playrate and math.abs(sel.playrate - 1) > 1e-9 then
    return "The selected item plays at rate " .. sel.playrate .. ", but the engine hears its file at the "
      .. "original speed, so the take would not match. " .. M.GLUE
  end
  if sel.pitch and math.abs(sel.pitch) > 1e-9 then
    return "The selected item is pitch-shifted by " .. sel.pitch .. " semitones, but the engine hears its file "
      .. "as recorded, so the take would not match. " .. M.GLUE
  end
  return nil
end

--- Where an audio item's audio lies in its file, in seconds: start, stop (start + length),
-- and whether it wraps (a looped item that runs past the end of its file and starts over).
-- A looped item's offset is taken within the file's first pass.  Rate 1 is assumed:
-- audio_file_problem refuses other rates.
local function heard_span(sel)
  local file_len = sel.source_length or 0
  local start = sel.source_offset or 0
  if sel.loop and file_len > 0 then
    start = start % file_len
    if file_len - start < M.END_TOLERANCE then
      start = 0
    end
  end
  local stop = start + sel.length
  return start, stop, sel.loop and file_len > 0 and stop > file_len + M.END_TOLERANCE
end

--- The `audio_start`/`audio_end` fields for the part [start, stop] of the file: each nil
-- (not sent) when it is the file's start or end, within END_TOLERANCE.
local function part(start, stop, file_len)
  return {
    audio_start = start > M.END_TOLERANCE and start or nil,
    audio_end = stop < file_len - M.END_TOLERANCE and stop or nil,
  }
end

--- Why the item cannot be continued (nil when it can), and else, as the second value, the
-- part of the file it plays: {audio_start, audio_end} (seconds into the file, each nil when it
-- is the file's start/end).  The engine continues from `audio_end` (else the file's end), so
-- an item trimmed at either edge is sent as that part.  Refused: an item running on past its
-- file's end (the continuation would follow a silence), and a looped item whose last pass
-- stops short of the file's end (what is heard last is not one stretch of the file).
function M.continuation_problem(sel)
  local problem = M.audio_file_problem(sel)
  if problem then
    return problem
  end
  local file_len = sel.source_length or 0
  local start, stop, wraps = heard_span(sel)
  if wraps then
    local into = math.fmod(stop, file_len) -- where in the file the last pass stops
    if into > M.END_TOLERANCE and into < file_len - M.END_TOLERANCE then
      return "The selected item loops its file, and its last pass stops at " .. seconds(into) .. " of its file, "
        .. "which goes on to " .. seconds(file_len) .. ". The engine continues one stretch of the file, so "
        .. "the take would not follow what you hear. Make the item end where a pass ends, or glue it "
        .. "(Item > Glue items) so the file ends where the item does, then run this again."
    end
    return nil, {} -- the last pass ends at the file's end: the file's end prompts
  end
  if stop > file_len + M.END_TOLERANCE then
    return "The selected item runs on past the end of its audio (its file lasts " .. seconds(file_len)
      .. "), so the continuation would start after a silence. Trim the item's end to the end of its audio, "
      .. "then run this again."
  end
  if stop <= M.END_TOLERANCE then
    return "The selected item ends before its audio begins (it plays only silence), so there is nothing to "
      .. "continue. Move the item's audio into it, or select another item."
  end
  return nil, part(start, stop, file_len)
end

--- Why the audio item cannot be sent as the melody (nil when it can), and else, as the second
-- value, the part of the file it plays ({audio_start, audio_end}, as continuation_problem):
-- the engine reads the melody from that part.  Refused: an item starting before its audio
-- (the melody would come early), one starting at or past its file's end, and a looped item
-- that runs past its file's end without starting at the file's start.  An item running on past
-- the file's end is read to the file's end.
function M.melody_audio_problem(sel)
  local problem = M.audio_file_problem(sel)
  if problem then
    return problem
  end
  local file_len = sel.source_length or 0
  local start, stop, wraps = heard_span(sel)
  if start < -M.END_TOLERANCE then
    return "The selected item starts " .. seconds(-start) .. " before its audio does, but the engine reads the "
      .. "melody from where the audio starts, so the take would come early. Trim the item's start to the start "
      .. "of its audio, or glue it (Item > Glue items), then run this again."
  end
  if wraps then
    if start > M.END_TOLERANCE then
      return "The selected item loops its file starting " .. seconds(start) .. " into it, but the engine "
        .. "repeats a melody from the start of the file. " .. M.GLUE
    end
    return nil, {}
  end
  if start >= file_len - M.END_TOLERANCE then
    return "The selected item starts " .. seconds(start) .. " into its file, past its end (the file lasts "
      .. seconds(file_len) .. "), so it plays no audio to read a melody from. Select another item."
  end
  return nil, part(start, stop, file_len)
end

return M
