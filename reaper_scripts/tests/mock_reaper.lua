-- A mock `reaper` table that records every call.  Unknown API names raise an error, so a
-- script calling something the mock lacks fails loudly instead of passing by accident.
--
-- Mock.new(opts) returns reaper, state.  opts (all optional):
--   os ("Linux"), project_file (""), resource_path, cursor (0), tempo (120),
--   timesig ({4, 4}), tracks (number of existing tracks, 2), items (list, see below),
--   selected (list of item numbers), inputs (queue of {ok, csv} for GetUserInputs),
--   ext (preset ExtState "section/key" -> value), exec (function(cmd, timeout) -> string),
--   files (set of extra paths file_exists says exist), srate_use (project sample rate set),
--   srate (PROJECT_SRATE, 0), device_srate (the audio device's rate; nil = device closed).
-- An item: {position, length, track (1-based), loop, take = {midi = true, notes =
--   {{ppq_start, ppq_end, pitch, velocity, muted}}, offset (s), source_len_qn} or
--   {audio = true, file = "/x.wav", offset, source_len (s, 10), rate (1), pitch (0), source_type ("WAVE")}}.
-- Inserted items: track.items[i] = {position, path, take (active), takes = {...}}, a take
--   being {name, file, item}.
local Mock = {}

local PPQ = 960

function Mock.new(opts)
  opts = opts or {}
  local state = { calls = {}, deferred = {}, ext = {}, tracks = {}, messages = {}, console = {} }
  for k, v in pairs(opts.ext or {}) do
    state.ext[k] = v
  end
  for i = 1, opts.tracks or 2 do
    state.tracks[i] = { name = "Track " .. i, items = {} }
  end
  local tempo = opts.tempo or 120
  local timesig = opts.timesig or { 4, 4 }
  local cursor = opts.cursor or 0
  local inputs = opts.inputs or {}
  local items = opts.items or {}
  for _, item in ipairs(items) do
    if item.take then
      item.take.item = item
    end
  end
  local selected = opts.selected or {}
  local function qn(t)
    return t * tempo / 60
  end

  local api = {}
  function api.GetOS() return opts.os or "Linux" end
  function api.GetResourcePath() return opts.resource_path or "/tmp/reaper-resource" end
  function api.time_precise() return os.clock() end
  function api.EnumProjects(idx) return idx == -1 and "proj0" or nil, opts.project_file or "" end
  function api.GetExtState(section, key) return state.ext[section .. "/" .. key] or "" end
  function api.SetExtState(section, key, value) state.ext[section .. "/" .. key] = value end
  function api.DeleteExtState(section, key) state.ext[section .. "/" .. key] = nil end
  function api.GetUserInputs(title)
    local answer = table.remove(inputs, 1)
    if not answer then
      error("GetUserInputs called (" .. title .. ") but the test gave no answer")
    end
    return answer[1], answer[2]
  end
  function api.MB(text) state.messages[#state.messages + 1] = text return 1 end
  function api.ShowConsoleMsg(text) state.console[#state.console + 1] = text end
  function api.defer(fn) state.deferred[#state.deferred + 1] = fn end
  function api.ExecProcess(cmd, timeout)
    if opts.exec then
      return opts.exec(cmd, timeout)
    end
    return timeout == -1 and "" or "0\n"
  end
  function api.file_exists(path)
    if (opts.files or {})[path] then return true end
    local f = io.open(path, "rb")
    if f then f:close() return true end
    return false
  end
  function api.RecursiveCreateDirectory(path)
    os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
    return 1
  end
  function api.GetCursorPosition() return cursor end
  function api.SetEditCurPos(t) cursor = t end
  function api.GetSetProjectInfo(_, desc, _, is_set)
    assert(not is_set, "the scripts only read project info")
    if desc == "PROJECT_SRATE_USE" then return opts.srate_use and 1 or 0 end
    if desc == "PROJECT_SRATE" then return opts.srate or 0 end
    error("unmocked project info " .. desc)
  end
  function api.GetAudioDeviceInfo(attribute)
    assert(attribute == "SRATE", attribute)
    if opts.device_srate then return true, tostring(opts.device_srate) end
    return false, ""
  end
  function api.TimeMap_GetTimeSigAtTime() return timesig[1], timesig[2], tempo end
  function api.TimeMap2_timeToQN(_, t) return qn(t) end
  function api.CountSelectedMediaItems() return #selected end
  function api.GetSelectedMediaItem(_, i) return items[selected[i + 1]] end
  function api.GetMediaItem_Track(item) return state.tracks[item.track] end
  function api.GetMediaTrackInfo_Value(track, key)
    assert(key == "IP_TRACKNUMBER", key)
    for i, t in ipairs(state.tracks) do
      if t == track then return i end
    end
    return 0
  end
  function api.GetMediaItemInfo_Value(item, key)
    if key == "D_POSITION" then return item.position end
    if key == "D_LENGTH" then return item.length end
    if key == "B_LOOPSRC" then return item.loop and 1 or 0 end
    error("unmocked item key " .. key)
  end
  function api.GetActiveTake(item) return item.take end
  function api.TakeIsMIDI(take) return take.midi == true end
  function api.GetMediaItemTakeInfo_Value(take, key)
    if key == "D_STARTOFFS" then return take.offset or 0 end
    if key == "D_PLAYRATE" then return take.rate or 1 end
    if key == "D_PITCH" then return take.pitch or 0 end
    error("unmocked take key " .. key)
  end
  function api.GetMediaItemTake_Source(take) return { take = take } end
  function api.GetMediaSourceLength(source)
    if source.take.midi then return source.take.source_len_qn, true end
    return source.take.source_len or 10, false
  end
  function api.GetMediaSourceFileName(source) return source.file or source.take.file or "" end
  function api.GetMediaSourceType(source)
    return source.take.source_type or (source.take.midi and "MIDI" or "WAVE")
  end
  function api.PCM_Source_CreateFromFile(path) return { file = path } end
  function api.AddTakeToMediaItem(item)
    local take = { name = "", item = item }
    item.takes[#item.takes + 1] = take
    item.take = take -- the worst case: the new (empty) take becomes the active one
    return take
  end
  function api.SetMediaItemTake_Source(take, source)
    take.file = source.file
    take.name = source.file:match("[^/\\]+$")
    return true
  end
  function api.SetActiveTake(take) take.item.take = take end
  function api.GetMediaSourceParent() return nil end
  function api.MIDI_CountEvts(take) return 1, #take.notes, 0, 0 end
  function api.MIDI_GetNote(take, i)
    local n = take.notes[i + 1]
    if not n then return false end
    return true, false, n[5] or false, n[1], n[2], 0, n[3], n[4]
  end
  function api.MIDI_GetProjQNFromPPQPos(take, ppq)
    -- REAPER: the source starts at item start minus the take's start offset.
    return qn(take.item.position) + ppq / PPQ - qn(take.offset or 0)
  end
  function api.CountTracks() return #state.tracks end
  function api.InsertTrackAtIndex(idx) table.insert(state.tracks, idx + 1, { name = "", items = {} }) end
  function api.GetTrack(_, idx) return state.tracks[idx + 1] end
  function api.GetSetMediaTrackInfo_String(track, key, value, set)
    if set and key == "P_NAME" then track.name = value end
    return true, track.name
  end
  function api.InsertMedia(path, mode)
    assert(mode & 512 ~= 0, "test expects InsertMedia with a track index")
    local track = state.tracks[(mode >> 16) + 1]
    local item = { position = cursor, path = path }
    item.take = { name = path:match("[^/\\]+$"), file = path, item = item }
    item.takes = { item.take }
    -- REAPER keeps a track's items in time order.
    local at = #track.items + 1
    for i, other in ipairs(track.items) do
      if other.position > cursor then at = i break end
    end
    table.insert(track.items, at, item)
    return 1
  end
  function api.CountTrackMediaItems(track) return #track.items end
  function api.GetTrackMediaItem(track, i) return track.items[i + 1] end
  function api.GetSetMediaItemTakeInfo_String(take, key, value, set)
    if set and key == "P_NAME" then take.name = value end
    return true, take.name
  end
  for _, name in ipairs({ "Undo_BeginBlock", "Undo_EndBlock", "PreventUIRefresh", "UpdateArrange",
    "UpdateItemInProject", "Main_OnCommand" }) do
    api[name] = function() end
  end

  local reaper = setmetatable({}, {
    __index = function(_, name)
      local fn = api[name]
      if not fn then
        error("the script called reaper." .. tostring(name) .. ", which the mock does not have", 2)
      end
      return function(...)
        state.calls[#state.calls + 1] = { name = name, args = table.pack(...) }
        return fn(...)
      end
    end,
  })

  --- Run deferred functions, up to `max` rounds.  Returns the number of rounds run.
  function state.pump(max)
    local rounds = 0
    while #state.deferred > 0 and rounds < (max or 1000) do
      local batch = state.deferred
      state.deferred = {}
      for _, fn in ipairs(batch) do
        fn()
      end
      rounds = rounds + 1
    end
    return rounds
  end

  --- Calls named in `names` (a set), as {name, arg1, arg2...}, in order.
  function state.calls_named(names)
    local out = {}
    for _, call in ipairs(state.calls) do
      if names[call.name] then
        local row = { call.name }
        for i = 1, call.args.n do
          row[#row + 1] = call.args[i]
        end
        out[#out + 1] = row
      end
    end
    return out
  end

  function state.count(name)
    local n = 0
    for _, call in ipairs(state.calls) do
      if call.name == name then n = n + 1 end
    end
    return n
  end

  function state.exec_commands()
    local out = {}
    for _, call in ipairs(state.calls) do
      if call.name == "ExecProcess" then out[#out + 1] = call.args[1] end
    end
    return out
  end

  return reaper, state
end

Mock.PPQ = PPQ
return Mock
