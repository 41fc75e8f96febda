-- A mock `reaper` table that records every call and follows the host's documented rules,
-- quirks included (each rule below names where it comes from; docs/reaper.md lists them).
-- Unknown API names raise an error, so a script calling something the mock lacks fails loudly.
--
-- Mock.new(opts) returns reaper, state.  opts (all optional):
--   os ("Linux"), project_file (""), media_path (what GetProjectPathEx answers; default: the
--   saved project's folder, else default_media_path), default_media_path ("" = none),
--   resource_path, cursor (0), tempo (120), timesig ({4, 4}), tracks (number of existing
--   tracks, 2), items (list, see below), selected (list of item numbers), inputs (queue of
--   GetUserInputs answers, see below), ext (preset ExtState "section/key" -> value),
--   exec (function(script, timeout, argv) -> string: the program behind a script, see
--   mock_process.lua), exec_fails (ExecProcess returns nil: the process
--   did not start), files (set of extra paths file_exists says exist), srate_use, srate,
--   device_srate, menus (queue of gfx.showmenu answers: an index, or an item's text), copy_media (InsertMedia copies the file into the project's media path, as
--   the preference "Copy imported media to project media directory" does), wavs_exist (every
--   *.wav path exists for file_exists, except those in the set `missing`), no_insert_in_project
--   (a REAPER before 7.18: no InsertTrackInProject), source_length (seconds of a source whose
--   file is not a readable WAV, 2), extra_projects (list of {project_file, tracks}: other tabs),
--   tempo_map (list of {time (s), bpm}, sorted, the first at 0: the tempo from each time on;
--   replaces `tempo`), spawn (function(argv, timeout) -> ExecProcess's answer: gets the argv
--   REAPER starts on macOS/Linux, after its LineParser split; e2e_driver.lua execs it), mb
--   (queue of MB answers for questions: 1 OK/Yes... ; default 1), older (set of API names
--   this REAPER lacks: reaper.NAME is nil, as in a REAPER before the one that added it).
--
-- Host rules the mock keeps (docs/reaper.md, "Host rules"): below, and in mock_process.lua
-- (ExecProcess: LineParser, no shell; the script files /bin/sh and cmd.exe run) and
-- mock_instances.lua (defer, atexit, relaunching, the automatic undo point).
-- An item: {position, length, track (1-based), loop, take = {midi = true, notes =
--   {{ppq_start, ppq_end, pitch, velocity, muted}}, offset (s), source_len_qn} or
--   {audio = true, file = "/x.wav", offset, source_len (s, 10), rate (1), pitch (0), source_type ("WAVE")}}.
-- A GetUserInputs answer: {ok, csv} (what the user typed, every field), or {ok, edit = {[i] =
--   text}}: the user changed only those fields of what the dialog showed and pressed OK.
-- Inserted items: track.items[i] = {position, length, take (active), takes = {...}}, a take
--   being {name, file, item}.
-- Projects: state.projects (open tabs), state.current; state.tracks is the first project's.
local Mock = {}

local PPQ = 960

-- Seconds of audio in a WAV file (RIFF chunks: "fmt " for the byte rate, "data" for its size),
-- or nil when `path` is not a readable WAV.
local function wav_seconds(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  if data:sub(1, 4) ~= "RIFF" or data:sub(9, 12) ~= "WAVE" then return nil end
  local at, byte_rate, size = 13, nil, nil
  while at + 8 <= #data do
    local id, len = data:sub(at, at + 3), string.unpack("<I4", data, at + 4)
    if id == "fmt " then byte_rate = string.unpack("<I4", data, at + 16) end
    if id == "data" then size = len break end
    at = at + 8 + len + len % 2
  end
  if byte_rate and size and byte_rate > 0 then return size / byte_rate end
  return nil
end

-- REAPER's GetUserInputs rules (reascripthelp, and the Ultraschall API docs' notes on it):
-- the captions are split on EVERY comma, whatever `separator=` says ("separator=" and
-- "extrawidth=" are themselves caption fields); and a default value with an odd number of
-- quotes (" or ') or a "(" left open makes REAPER ignore the separator, so every default
-- lands in the first field.
function Mock.dialog_fields(captions_csv, defaults)
  local labels, separator = {}, ","
  for caption in (captions_csv .. ","):gmatch("(.-),") do
    if caption:match("^separator=") then
      separator = caption:sub(#"separator=" + 1, #"separator=" + 1)
    elseif not caption:match("^extrawidth=") then
      labels[#labels + 1] = caption
    end
  end
  local shown = {}
  for value in (defaults .. separator):gmatch("(.-)" .. separator:gsub("%p", "%%%0")) do
    shown[#shown + 1] = value
  end
  for _, value in ipairs(shown) do
    local _, dq = value:gsub('"', "")
    local _, sq = value:gsub("'", "")
    local _, open = value:gsub("%(", "")
    local _, close = value:gsub("%)", "")
    if dq % 2 == 1 or sq % 2 == 1 or open > close then
      -- One single-line edit field holds it all; it cannot hold a line break, so a "\n"
      -- separator shows as a space there.
      shown = { separator == "," and defaults or (defaults:gsub("[\r\n]", " ")) }
      break
    end
  end
  return labels, shown, separator
end

function Mock.new(opts)
  opts = opts or {}
  local state = { calls = {}, deferred = {}, ext = {}, messages = {}, console = {}, dialogs = {},
    processes = {}, now = 0, undo = {}, instances = {}, instance = nil }
  for k, v in pairs(opts.ext or {}) do
    state.ext[k] = v
  end
  local function new_project(file, ntracks, items, selected, cursor)
    local p = { is_project = true, file = file or "", tracks = {}, items = items or {}, selected = selected or {},
      cursor = cursor or 0 }
    for i = 1, ntracks or 2 do
      p.tracks[i] = { is_track = true, name = "Track " .. i, items = {}, project = p }
    end
    return p
  end
  local first = new_project(opts.project_file, opts.tracks, opts.items, opts.selected, opts.cursor)
  state.projects = { first }
  for _, extra in ipairs(opts.extra_projects or {}) do
    state.projects[#state.projects + 1] = new_project(extra.project_file, extra.tracks)
  end
  state.current = first
  state.tracks = first.tracks
  local tempo = opts.tempo or 120
  local timesig = opts.timesig or { 4, 4 }
  local inputs = opts.inputs or {}
  for _, item in ipairs(first.items) do
    item.is_item = true
    if item.take then
      item.take.item = item
    end
  end
  local tempo_map = opts.tempo_map or { { 0, tempo } }
  -- Quarter notes from 0 to time t (s) on the piecewise constant tempo map.
  local function qn(t)
    local q = 0
    for i, seg in ipairs(tempo_map) do
      local seg_end = tempo_map[i + 1] and tempo_map[i + 1][1] or math.huge
      if t <= seg_end then return q + (t - seg[1]) * seg[2] / 60 end
      q = q + (seg_end - seg[1]) * seg[2] / 60
    end
    return q
  end
  local function time_of_qn(target)
    local q = 0
    for i, seg in ipairs(tempo_map) do
      local seg_end = tempo_map[i + 1] and tempo_map[i + 1][1] or math.huge
      local seg_qn = (seg_end - seg[1]) * seg[2] / 60
      if target <= q + seg_qn then return seg[1] + (target - q) * 60 / seg[2] end
      q = q + seg_qn
    end
    return math.huge
  end
  local function bpm_at(t)
    local bpm = tempo_map[1][2]
    for _, seg in ipairs(tempo_map) do
      if t >= seg[1] then bpm = seg[2] end
    end
    return bpm
  end
  local function is_open(p)
    for _, open in ipairs(state.projects) do
      if open == p then return true end
    end
    return false
  end
  -- A project argument: 0/nil is the current tab.  A closed project's pointer is what REAPER
  -- answers with a crash or an internal error, so the mock raises.
  local function P(proj)
    if proj == nil or proj == 0 then return state.current end
    assert(type(proj) == "table" and proj.is_project, "not a ReaProject: " .. tostring(proj))
    if not is_open(proj) then error("stale ReaProject pointer (the project was closed): REAPER would crash", 3) end
    return proj
  end
  local function live_track(track)
    assert(type(track) == "table" and track.is_track, "not a MediaTrack")
    if track.deleted then error("stale MediaTrack pointer (the track was deleted): REAPER would crash", 3) end
    return track
  end
  local function dirname(path)
    return path:match("^(.*)[/\\][^/\\]*$") or ""
  end
  local function media_path(p)
    if p == first and opts.media_path then return opts.media_path end
    if p.file ~= "" then return dirname(p.file) end
    return opts.default_media_path or ""
  end
  local function sort_items(track)
    table.sort(track.items, function(a, b) return a.position < b.position end)
  end

  local api = {}
  function api.GetOS() return opts.os or "Linux" end
  function api.GetResourcePath() return opts.resource_path or "/tmp/reaper-resource" end
  function api.time_precise() return state.now end
  function api.APIExists(name)
    if name == "InsertTrackInProject" then return not opts.no_insert_in_project end
    return api[name] ~= nil
  end
  -- EnumProjects: idx -1 is the current tab, 0.. the open tabs in order.
  function api.EnumProjects(idx)
    local p = idx == -1 and state.current or state.projects[idx + 1]
    if not p then return nil, "" end
    return p, p.file
  end
  function api.SelectProjectInstance(proj) state.current = P(proj) end
  function api.GetProjectPathEx(proj) return media_path(P(proj)) end
  function api.GetProjectName(proj) return (P(proj).file:match("([^/\\]+)$") or "") end
  -- ValidatePtr2: "true if the pointer is a valid object of the right type in proj (proj is
  -- ignored if pointer is itself a project)".
  function api.ValidatePtr2(proj, ptr, ctype)
    if type(ptr) ~= "table" then return false end
    if ctype == "ReaProject*" then return ptr.is_project == true and is_open(ptr) end
    local p = (proj == nil or proj == 0) and state.current or proj
    if not is_open(p) then return false end
    if ctype == "MediaTrack*" then return ptr.is_track == true and not ptr.deleted and ptr.project == p end
    if ctype == "MediaItem*" then
      if not ptr.is_item or ptr.deleted then return false end
      for _, item in ipairs(p.items) do
        if item == ptr then return true end
      end
      for _, track in ipairs(p.tracks) do
        for _, item in ipairs(track.items) do
          if item == ptr then return true end
        end
      end
      return false
    end
    error("unmocked ValidatePtr2 type " .. tostring(ctype))
  end
  function api.GetExtState(section, key) return state.ext[section .. "/" .. key] or "" end
  function api.SetExtState(section, key, value) state.ext[section .. "/" .. key] = value end
  function api.DeleteExtState(section, key) state.ext[section .. "/" .. key] = nil end
  function api.GetUserInputs(title, n, captions_csv, defaults)
    local labels, shown, separator = Mock.dialog_fields(captions_csv, defaults)
    state.dialogs[#state.dialogs + 1] = { title = title, labels = labels, shown = shown }
    if #labels ~= n then
      error("GetUserInputs(" .. title .. "): " .. n .. " fields but REAPER reads " .. #labels
        .. " captions from the commas: " .. table.concat(labels, " | "), 2)
    end
    local answer = table.remove(inputs, 1)
    if not answer then
      error("GetUserInputs called (" .. title .. ") but the test gave no answer")
    end
    if answer.edit then
      local fields = {}
      for i = 1, n do
        fields[i] = answer.edit[i] or shown[i] or ""
      end
      return answer[1], table.concat(fields, separator)
    end
    return answer[1], answer[2]
  end
  local mb_answers = opts.mb or {}
  function api.MB(text, _, kind)
    state.messages[#state.messages + 1] = text
    if (kind or 0) ~= 0 then return table.remove(mb_answers, 1) or 1 end
    return 1
  end
  function api.ShowConsoleMsg(text) state.console[#state.console + 1] = text end
  function api.EnumerateFiles(folder, i)
    local listing = io.popen("ls -A '" .. folder:gsub("'", "'\\''") .. "' 2>/dev/null")
    local names = {}
    for name in listing:lines() do names[#names + 1] = name end
    listing:close()
    table.sort(names)
    return names[i + 1]
  end
  function api.CountMediaItems(proj)
    local p, n = P(proj), 0
    for _ in ipairs(p.items) do n = n + 1 end
    for _, track in ipairs(p.tracks) do n = n + #track.items end
    return n
  end
  function api.GetMediaItem(proj, i)
    local p, all = P(proj), {}
    for _, item in ipairs(p.items) do all[#all + 1] = item end
    for _, track in ipairs(p.tracks) do
      for _, item in ipairs(track.items) do all[#all + 1] = item end
    end
    return all[i + 1]
  end
  require("mock_process").install(api, state, opts)
  require("mock_instances").install(api, state)
  function api.file_exists(path)
    if (opts.files or {})[path] then return true end
    if opts.wavs_exist and path:match("%.wav$") and not (opts.missing or {})[path] then return true end
    local f = io.open(path, "rb")
    if f then f:close() return true end
    return false
  end
  function api.RecursiveCreateDirectory(path)
    os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
    return 1
  end
  function api.GetCursorPosition() return state.current.cursor end
  function api.SetEditCurPos(t) state.current.cursor = t end
  function api.GetSetProjectInfo(proj, desc, _, is_set)
    P(proj)
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
  function api.TimeMap_GetTimeSigAtTime(proj, t) P(proj) return timesig[1], timesig[2], bpm_at(t) end
  function api.TimeMap2_timeToQN(_, t) return qn(t) end
  function api.TimeMap2_QNToTime(_, q) return time_of_qn(q) end
  function api.CountSelectedMediaItems(proj) return #P(proj).selected end
  function api.GetSelectedMediaItem(proj, i) local p = P(proj) return p.items[p.selected[i + 1]] end
  function api.GetMediaItem_Track(item)
    if item.track_ptr then return item.track_ptr end
    return first.tracks[item.track]
  end
  function api.GetMediaTrackInfo_Value(track, key)
    live_track(track)
    assert(key == "IP_TRACKNUMBER", key)
    for i, t in ipairs(track.project.tracks) do
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
  function api.SetMediaItemInfo_Value(item, key, value)
    assert(item.is_item and not item.deleted, "stale MediaItem pointer")
    if key == "D_POSITION" then
      item.position = value
      if item.track_ptr then sort_items(item.track_ptr) end
    elseif key == "D_LENGTH" then
      item.length = value
    else
      error("unmocked item key " .. key)
    end
    return true
  end
  function api.GetActiveTake(item) return item.take end
  function api.TakeIsMIDI(take) return take.midi == true end
  function api.GetMediaItemTakeInfo_Value(take, key)
    if key == "D_STARTOFFS" then return take.offset or 0 end
    if key == "D_PLAYRATE" then return take.rate or 1 end
    if key == "D_PITCH" then return take.pitch or 0 end
    error("unmocked take key " .. key)
  end
  function api.GetMediaItemTake_Source(take) return take.source or { take = take } end
  function api.GetMediaSourceLength(source)
    if source.length then return source.length, false end
    if source.take.midi then return source.take.source_len_qn, true end
    return source.take.source_len or 10, false
  end
  function api.GetMediaSourceFileName(source) return source.file or source.take.file or "" end
  function api.GetMediaSourceType(source)
    return source.take.source_type or (source.take.midi and "MIDI" or "WAVE")
  end
  function api.PCM_Source_CreateFromFile(path)
    return { file = path, length = wav_seconds(path) or opts.source_length or 2 }
  end
  -- PCM_Source_BuildPeaks: mode 0 begins (nonzero: work to do), 1 runs (returns the percentage
  -- left), 2 finishes.
  function api.PCM_Source_BuildPeaks(source, mode)
    if mode == 0 then source.peaks_left = 100 return 1 end
    if mode == 1 then source.peaks_left = math.max(0, (source.peaks_left or 0) - 50) return source.peaks_left end
    if mode == 2 then source.peaks = (source.peaks_left == 0) return 0 end
    error("PCM_Source_BuildPeaks mode " .. tostring(mode))
  end
  function api.AddMediaItemToTrack(track)
    live_track(track)
    local item = { is_item = true, position = 0, length = 0, takes = {}, track_ptr = track }
    track.items[#track.items + 1] = item
    sort_items(track)
    return item
  end
  function api.DeleteTrackMediaItem(track, item)
    for i, it in ipairs(track.items) do
      if it == item then table.remove(track.items, i) item.deleted = true return true end
    end
    return false
  end
  function api.AddTakeToMediaItem(item)
    local take = { name = "", item = item }
    item.takes[#item.takes + 1] = take
    item.take = take -- the worst case: the new (empty) take becomes the active one
    return take
  end
  function api.SetMediaItemTake_Source(take, source)
    take.file = source.file
    take.source = source
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
  function api.CountTracks(proj) return #P(proj).tracks end
  local function insert_track(p, idx)
    idx = math.max(0, math.min(idx, #p.tracks))
    table.insert(p.tracks, idx + 1, { is_track = true, name = "", items = {}, project = p })
  end
  -- InsertTrackAtIndex has no project argument: it works on the current tab.
  function api.InsertTrackAtIndex(idx) insert_track(state.current, idx) end
  function api.InsertTrackInProject(proj, idx) insert_track(P(proj), idx) end
  function api.DeleteTrack(track)
    live_track(track)
    state.delete_track(track)
  end
  function api.GetTrack(proj, idx) return P(proj).tracks[idx + 1] end
  function api.GetSetMediaTrackInfo_String(track, key, value, set)
    live_track(track)
    if set and key == "P_NAME" then track.name = value end
    return true, track.name
  end
  -- InsertMedia(file, mode): &512 puts it on the track with the 0-based index in the high word
  -- of the CURRENT project, at the edit cursor, which then moves to the end of the new item;
  -- with "copy imported media" on, the item plays a copy in the project's media path.
  function api.InsertMedia(path, mode)
    assert(mode & 512 ~= 0, "test expects InsertMedia with a track index")
    local p = state.current
    local track = p.tracks[(mode >> 16) + 1]
    local file = path
    if opts.copy_media then
      file = media_path(p) .. "/" .. path:match("[^/\\]+$")
    end
    local length = wav_seconds(path) or opts.source_length or 2
    local item = { is_item = true, position = p.cursor, length = length, track_ptr = track }
    item.take = { name = file:match("[^/\\]+$"), file = file, item = item }
    item.takes = { item.take }
    track.items[#track.items + 1] = item
    sort_items(track)
    p.cursor = p.cursor + length
    return 1
  end
  function api.CountTrackMediaItems(track) return #live_track(track).items end
  function api.GetTrackMediaItem(track, i) return live_track(track).items[i + 1] end
  function api.GetSetMediaItemTakeInfo_String(take, key, value, set)
    if set and key == "P_NAME" then take.name = value end
    return true, take.name
  end
  function api.Undo_BeginBlock2(proj) P(proj) end
  function api.Undo_EndBlock2(proj, label)
    P(proj)
    state.undo[#state.undo + 1] = label
    if state.instance then state.instance.undo_points = (state.instance.undo_points or 0) + 1 end
  end
  for _, name in ipairs({ "Undo_BeginBlock", "Undo_EndBlock", "PreventUIRefresh", "UpdateArrange",
    "UpdateItemInProject", "Main_OnCommand" }) do
    api[name] = function() end
  end

  local reaper = setmetatable({}, {
    __index = function(_, name)
      if (opts.older or {})[name] then return nil end
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

  -- gfx, as far as a popup menu needs it (reascripthelp, gfx.showmenu): fields separated by
  -- "|", a leading "#" greys one (it cannot be chosen but keeps its index), "!" checks it, ">"
  -- and "<" open and close a submenu (not modelled: the mock refuses them), an empty field is a
  -- separator; the answer is the 1-based index of the item chosen, 0 for none.  Before REAPER
  -- 6.82 the menu showed nothing on Windows without a gfx window, so the mock refuses a
  -- showmenu outside gfx.init .. gfx.quit.  An answer in opts.menus is an index, 0, the
  -- text of the item (without its flags) the user clicks, or function(items) -> index.
  local menus = opts.menus or {}
  state.menus = {}
  local gfx = { x = 0, y = 0, mouse_x = 0, mouse_y = 0 }
  local window = false
  function gfx.init() window = true end
  function gfx.quit() window = false end
  function gfx.showmenu(str)
    if not window then error("gfx.showmenu without gfx.init: REAPER before 6.82 shows nothing on Windows", 2) end
    local items = {}
    for field in (str .. "|"):gmatch("(.-)|") do
      if field == "" then error("the mock does not model separators (empty fields)", 2) end
      local flags, text = field:match("^([#!]*)(.*)$")
      if text:match("^[<>]") then error("the mock does not model submenus", 2) end
      items[#items + 1] = { text = text, greyed = flags:find("#") ~= nil, checked = flags:find("!") ~= nil }
    end
    state.menus[#state.menus + 1] = items
    local answer = table.remove(menus, 1)
    if answer == nil then error("gfx.showmenu called but the test gave no answer", 2) end
    if type(answer) == "function" then answer = answer(items) end
    if type(answer) == "string" then
      for i, item in ipairs(items) do
        if item.text == answer then answer = i break end
      end
      if type(answer) == "string" then error("no menu item \"" .. answer .. "\"", 2) end
    end
    if answer > 0 and items[answer].greyed then error("a greyed item cannot be chosen", 2) end
    return answer
  end
  state.gfx = gfx

  --- What a producer does while a take renders ---------------------------------------------

  --- Delete `track` (a pointer): later calls with it are what REAPER would crash on.
  function state.delete_track(track)
    for i, t in ipairs(track.project.tracks) do
      if t == track then table.remove(track.project.tracks, i) break end
    end
    track.deleted = true
  end

  --- Insert a new track at the top of project `p` (default the first): track numbers shift.
  function state.add_track_at_top(p)
    insert_track(p or first, 0)
  end

  --- Switch to project tab `i`.
  function state.switch_to(i)
    state.current = state.projects[i]
  end

  --- Close project `p` (a pointer): its tab goes; the current tab becomes the first one left.
  function state.close_project(p)
    for i, open in ipairs(state.projects) do
      if open == p then table.remove(state.projects, i) break end
    end
    if state.current == p then state.current = state.projects[1] end
  end

  --- Move (and resize) item `item` (a pointer) as the producer drags it.
  function state.move_item(item, position, length)
    item.position = position
    if length then item.length = length end
    if item.track_ptr then sort_items(item.track_ptr) end
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

  return reaper, state
end

Mock.lineparser_split = require("mock_process").lineparser_split
Mock.PPQ = PPQ
Mock.wav_seconds = wav_seconds
return Mock
