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
  local reaper, state = Mock.new(opts)
  _G.reaper = reaper
  package.loaded["musicgen.ids"] = { new = function() return F.ID end }
  state.folder = folder
  state.result_file = opts.resource_path .. "/Data/musicgen-bridge/" .. F.ID .. ".json"
  state.exit_file = opts.resource_path .. "/Data/musicgen-bridge/" .. F.ID .. ".exit"
  return reaper, state
end

function F.run(script)
  dofile(F.root .. script)
end

function F.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- The inputs answer for the Generate dialog.
function F.answer(prompt, bars, seed, model)
  return { true, table.concat({ prompt, bars, seed or "", model or "" }, F.SEP) }
end

--- The calls that change the project, in order.
F.PROJECT_CALLS = {
  Undo_BeginBlock = true, Undo_EndBlock = true, InsertTrackAtIndex = true, InsertMedia = true,
  GetSetMediaTrackInfo_String = true, GetSetMediaItemTakeInfo_String = true, SetEditCurPos = true,
}

return F
