-- The Generate / Continue dialog: prompt, bars, seed, model, key, variations.
local M = {}

M.TITLE = "MusicGen: Generate"
-- A newline separates the fields, so prompts may contain commas.
M.SEPARATOR = "\n"
M.FIELDS = { "prompt", "bars", "seed", "model", "key", "variations" }
-- REAPER splits the captions on every comma whatever `separator=` says, so no caption may hold
-- one (a test checks).
M.CAPTIONS = { "Prompt", "Length (bars)", "Seed (blank = random)", "Model (blank = engine's)",
  "Key (e.g. A minor; blank = none)", "Variations (1-4 as takes)" }
M.MAX_PROMPT_CHARS = 1000
M.MAX_KEY_CHARS = 16
-- The engine makes at most 4 takes per request unless started with --max-variations.
M.MAX_VARIATIONS = 4

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

--- Check the typed values.  Returns a clean table, or nil and a message in words.
function M.validate(raw)
  local values = {}
  for _, key in ipairs(M.FIELDS) do
    values[key] = trim(raw[key] or "")
  end
  if values.prompt == "" then
    return nil, "Type a prompt, e.g. \"dusty lo-fi drums with warm Rhodes\"."
  end
  if utf8.len(values.prompt) == nil then
    return nil, "The prompt is not valid UTF-8 text."
  end
  if utf8.len(values.prompt) > M.MAX_PROMPT_CHARS then
    return nil, "The prompt is " .. utf8.len(values.prompt) .. " characters; the most is "
      .. M.MAX_PROMPT_CHARS .. "."
  end
  local bars = tonumber(values.bars)
  if not bars or bars < 0.25 or bars > 256 then
    return nil, "Length must be a number of bars between 0.25 and 256, got \"" .. values.bars .. "\"."
  end
  values.bars = bars
  if values.seed ~= "" then
    local seed = tonumber(values.seed)
    if not seed or seed ~= math.floor(seed) or seed < 0 or seed > 2147483647 then
      return nil, "Seed must be a whole number from 0 to 2147483647, or blank for a random one."
    end
    values.seed = math.floor(seed)
  else
    values.seed = nil
  end
  if values.model == "" then
    values.model = nil
  end
  if values.key == "" then
    values.key = nil
  elseif (utf8.len(values.key) or math.huge) > M.MAX_KEY_CHARS then
    return nil, "The key is a short name like \"A minor\", \"F#m\" or \"Eb major\", got \"" .. values.key .. "\"."
  end
  local variations = tonumber(values.variations == "" and "1" or values.variations)
  if not variations or variations ~= math.floor(variations) or variations < 1 or variations > M.MAX_VARIATIONS then
    return nil, "Variations must be a whole number from 1 to " .. M.MAX_VARIATIONS .. ", got \""
      .. values.variations .. "\"."
  end
  values.variations = math.floor(variations)
  return values
end

--- A remembered value made safe to show in a GetUserInputs field.  REAPER ignores the separator
-- (and puts every default in the first field) when one default holds an odd number of " or '
-- or leaves a "(" open; such a value is shown with typographic quotes (” ’) and its "(" closed
-- at the end.  A value without those is shown as it is.
function M.safe_default(value)
  local s = tostring(value or "")
  local _, dq = s:gsub('"', "")
  if dq % 2 == 1 then
    s = s:gsub('"', "\u{201D}")
  end
  local _, sq = s:gsub("'", "")
  if sq % 2 == 1 then
    s = s:gsub("'", "\u{2019}")
  end
  local depth = 0
  for c in s:gmatch("[()]") do
    depth = c == "(" and depth + 1 or math.max(0, depth - 1)
  end
  return s .. string.rep(")", depth)
end

--- Whether GetUserInputs shows `value` as it is (see safe_default).
function M.is_safe(value)
  return M.safe_default(value) == tostring(value or "")
end

--- Show the dialog filled with `defaults` (strings).  Returns the raw strings typed, or nil
-- when the user pressed Cancel.
function M.ask(defaults, title)
  local shown = {}
  for i, key in ipairs(M.FIELDS) do
    shown[i] = M.safe_default((tostring(defaults[key] or ""):gsub(M.SEPARATOR, " ")))
  end
  local captions = table.concat(M.CAPTIONS, ",") .. ",separator=" .. M.SEPARATOR .. ",extrawidth=300"
  local ok, csv = reaper.GetUserInputs(title or M.TITLE, #M.FIELDS, captions, table.concat(shown, M.SEPARATOR))
  if not ok then
    return nil
  end
  local raw, i = {}, 1
  for field in (csv .. M.SEPARATOR):gmatch("(.-)" .. M.SEPARATOR) do
    if M.FIELDS[i] then
      raw[M.FIELDS[i]] = field
    end
    i = i + 1
  end
  return raw
end

return M
