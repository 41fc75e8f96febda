-- Shared set-up for the action tests: a fresh folder per case, the mock, running a script.
local Mock = require("mock_reaper")

local F = {}

F.here = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
F.root = F.here .. "../"
F.BASE = "/tmp/musicgen-reaper-tests"
F.CLI = "/opt/mgb/bin/musicgen-bridge"
F.ID = "reaper-test-1"
F.SEP = "\n"

function F.folder(name)
  local path = F.BASE .. "/" .. name
  os.execute("rm -rf '" .. path .. "' && mkdir -p '" .. path .. "'")
  return path
end

--- A mock for case `name`: project saved in a fresh folder unless opts.project_file == "".
function F.mock(name, opts)
  opts = opts or {}
  local folder = F.folder(name)
  if opts.project_file == nil then
    opts.project_file = folder .. "/song.rpp"
  end
  opts.resource_path = opts.resource_path or (folder .. "/res")
  opts.files = opts.files or { [F.CLI] = true }
  opts.ext = opts.ext or { ["MusicGen_Bridge/cli_path"] = F.CLI }
  if opts.wavs_exist == nil then
    opts.wavs_exist = true -- the takes the tests "receive" (paths like /o/a.wav) are there
  end
  local reaper, state = Mock.new(opts)
  F.state = state
  _G.reaper = reaper
  _G.gfx = state.gfx
  package.loaded["musicgen.ids"] = { new = function() return F.ID end }
  state.folder = folder
  local sep = (opts.os or ""):match("^Win") and "\\" or "/"
  local jobs = opts.resource_path .. sep .. "Data" .. sep .. "musicgen-bridge" .. sep
  state.result_file = jobs .. F.ID .. ".json"
  state.exit_file = jobs .. F.ID .. ".exit"
  return reaper, state
end

-- Each run of a ReaScript is its own Lua state in REAPER: its modules start afresh (the
-- test's stand-in for musicgen.ids stays).
local function body(script)
  return function()
    for name in pairs(package.loaded) do
      if name:match("^musicgen%.") and name ~= "musicgen.ids" then
        package.loaded[name] = nil
      end
    end
    dofile(F.root .. script)
  end
end

--- Run action `script` (a file name) as REAPER does: a new instance (see Mock, "Instances").
function F.run(script)
  return F.state.launch(script, body(script))
end

--- The user runs `script` again while it runs; `answer` is what they answer REAPER's dialog.
function F.relaunch(script, answer)
  return F.state.relaunch(script, body(script), answer)
end

function F.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- The inputs answer for the Generate / Continue dialog.
function F.answer(prompt, bars, seed, model, key, variations)
  return { true, table.concat({ prompt, bars, seed or "", model or "", key or "", variations or "1" }, F.SEP) }
end

--- Split a POSIX shell line into words (single quotes, backslash escapes; no expansion).
-- A word that starts with an unquoted ">" ends the list (the redirections).
function F.shell_words(line)
  local words, i, n = {}, 1, #line
  while i <= n do
    i = line:find("%S", i) or n + 1
    if i > n or line:sub(i, i) == ">" then
      break
    end
    local word = {}
    while i <= n and not line:sub(i, i):match("%s") do
      local c = line:sub(i, i)
      if c == "'" then
        local j = assert(line:find("'", i + 1, true), "unclosed quote")
        word[#word + 1] = line:sub(i + 1, j - 1)
        i = j + 1
      elseif c == "\\" then
        word[#word + 1] = line:sub(i + 1, i + 1)
        i = i + 2
      else
        word[#word + 1] = c
        i = i + 1
      end
    end
    words[#words + 1] = table.concat(word)
  end
  return words
end

--- The argv of the one background command run (in the script /bin/sh ran).
function F.argv(state)
  local scripts = state.scripts()
  assert(#scripts == 1, "expected one command, got " .. #scripts)
  return F.shell_words(scripts[1])
end

--- The argv words after "generate PROMPT" up to (not including) "--out" or "--id".
function F.options(state)
  local argv, out = F.argv(state), {}
  for i = 4, #argv do
    if argv[i] == "--out" or argv[i] == "--id" then
      break
    end
    out[#out + 1] = argv[i]
  end
  return out
end

--- The calls that change the project, in order.
F.PROJECT_CALLS = {
  Undo_BeginBlock = true, Undo_EndBlock = true, Undo_BeginBlock2 = true, Undo_EndBlock2 = true,
  InsertTrackAtIndex = true, InsertTrackInProject = true, InsertMedia = true, AddMediaItemToTrack = true,
  GetSetMediaTrackInfo_String = true, GetSetMediaItemTakeInfo_String = true, SetEditCurPos = true,
  AddTakeToMediaItem = true, SetMediaItemTake_Source = true, SetActiveTake = true, Main_OnCommand = true,
  SetMediaItemInfo_Value = true, UpdateItemInProject = true, PCM_Source_BuildPeaks = true,
  SelectProjectInstance = true, DeleteTrack = true, DeleteTrackMediaItem = true,
}

--- The names of the project calls, in order.
function F.project_call_names(state)
  local names = {}
  for _, call in ipairs(state.calls_named(F.PROJECT_CALLS)) do
    names[#names + 1] = call[1]
  end
  return names
end

--- Files left in the job folder (result, log, exit files), sorted.
function F.job_files(state)
  local folder = state.folder .. "/res/Data/musicgen-bridge"
  local listing = io.popen("ls -A '" .. folder .. "' 2>/dev/null")
  local names = {}
  for name in listing:lines() do
    names[#names + 1] = name
  end
  listing:close()
  table.sort(names)
  return names
end

--- Write the result file of a take that made `wavs` (a list of paths), with `extra` JSON
-- members (a string such as ', "warnings": [...]') after the paths.
function F.result(state, wavs, extra)
  F.write(state.result_file, '{"ok": true, "id": "' .. F.ID .. '", "paths": ["' .. table.concat(wavs, '", "')
    .. '"]' .. (extra or "") .. "}\n")
end

return F
