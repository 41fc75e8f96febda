-- "MusicGen: Continue selected item": the selected audio item's file is sent as
-- `continue_from` (its last `prompt_seconds`, a Settings option, prompt the model) and the
-- take goes right after the item, on the same track.  An item trimmed at either edge sends
-- the part it plays (`audio_start`/`audio_end`), and the engine continues from its end; an
-- item the engine cannot continue as heard is refused (selection.lua says why, in words).
local cli = require("musicgen.cli")
local generate = require("musicgen.generate")
local selection = require("musicgen.selection")
local settings = require("musicgen.settings")

local M = {}

M.TITLE = "MusicGen: Continue"
M.MIN_PROMPT_SECONDS, M.MAX_PROMPT_SECONDS = 0.5, 29

--- The prompt_seconds option as a number, or nil and a message in words.
function M.prompt_seconds()
  local value = tonumber(settings.option("prompt_seconds"))
  if not value or value < M.MIN_PROMPT_SECONDS or value > M.MAX_PROMPT_SECONDS then
    return nil, "The prompt length in \"MusicGen: Settings\" must be " .. M.MIN_PROMPT_SECONDS .. " to "
      .. M.MAX_PROMPT_SECONDS .. " seconds, got \"" .. settings.option("prompt_seconds") .. "\"."
  end
  return value
end

function M.prepare()
  local cli_path, err = cli.locate()
  if not cli_path then
    return nil, err
  end
  local sel = selection.read()
  if sel.kind == "none" then
    return nil, "Select the audio item to continue, then run \"MusicGen: Continue selected item\" again."
  elseif sel.kind == "midi" then
    return nil, "The selected item is MIDI; this action continues audio. To follow a MIDI item's melody, use "
      .. "\"MusicGen: Generate from selection\"."
  elseif sel.kind == "empty" then
    return nil, "The selected item has no take to continue."
  end
  local problem, part = selection.continuation_problem(sel)
  if problem then
    return nil, problem
  end
  local prompt_seconds, seconds_problem = M.prompt_seconds()
  if not prompt_seconds then
    return nil, seconds_problem
  end
  local item_end = sel.position + sel.length
  local prepared, build_problem = generate.build(cli_path, sel, item_end, M.TITLE,
    { continue_from = sel.source_path, prompt_seconds = prompt_seconds, audio_start = part.audio_start,
      audio_end = part.audio_end })
  if not prepared then
    return nil, build_problem
  end
  prepared.target.mode, prepared.target.position = "on", item_end
  return prepared
end

function M.main()
  generate.run(M.prepare)
end

return M
