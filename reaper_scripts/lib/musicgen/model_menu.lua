-- The model menu of "MusicGen: Settings": the engine's list, as `musicgen-bridge models --json`
-- gives it under "menu" (the labels the Max device's Model menu shows too, built by
-- bridge/model_list.py), shown with gfx.showmenu.  The model chosen becomes the Generate
-- dialog's Model field (ExtState last_model), where a name can still be typed by hand.
--
-- gfx.showmenu (reascripthelp): items separated by "|"; a leading "#" greys an item, "!"
-- checks it, ">" and "<" open and close a submenu; it returns the 1-based index of the item
-- chosen (greyed items count, as they are items) or 0 for none.  Before REAPER 6.82 it showed
-- nothing on Windows without a gfx window, so one is opened (0 x 0) around it.  This menu uses
-- no separators and no submenus, so an index is the item's place in the list.
local json = require("musicgen.json")

local M = {}

M.HEADER = "Model for new takes (the Generate dialog's Model field):"
M.TYPE_NAME = "Type a model name..."
M.OPTIONS = "Engine address and options..."

--- The menu items from `models --json` output: a list of {label, name, download, size}
-- (the first the engine default, name ""), or nil and a problem in words.
function M.parse(output)
  local data = json.decode(output or "")
  if type(data) ~= "table" or type(data.menu) ~= "table" or #data.menu == 0 then
    return nil, "the engine's answer has no model menu (is musicgen-bridge older than the scripts?)"
  end
  local items = {}
  for i, item in ipairs(data.menu) do
    if type(item) ~= "table" or type(item.label) ~= "string" or type(item.name) ~= "string" then
      return nil, "model menu item " .. i .. " is malformed"
    end
    items[i] = { label = item.label, name = item.name, download = item.download or "", size = item.size or "" }
  end
  return items
end

--- A label as gfx.showmenu shows it literally: "|" would end the item, and a leading
-- "#", "!", ">" or "<" would be read as a flag.
function M.safe(label)
  local s = label:gsub("|", "/")
  if s:match("^[#!<>]") then
    s = " " .. s
  end
  return s
end

--- The menu string and what each index does: {model = item}, {type = true} or
-- {options = true}; greyed lines have no action.  `items` nil: `problem` is shown greyed
-- instead of the list.  `current` is the Model field's value ("" = engine default): its item
-- is checked, or, when the list lacks it, the "type a name" item says it.
function M.build(items, current, problem)
  local fields, actions = {}, {}
  local function add(text, action, checked)
    fields[#fields + 1] = (action and "" or "#") .. (checked and "!" or "") .. M.safe(text)
    actions[#fields] = action
  end
  local listed = false
  if items then
    add(M.HEADER)
    for _, item in ipairs(items) do
      local checked = item.name == current
      listed = listed or checked
      add(item.label, { model = item }, checked)
    end
  else
    add("No model list: " .. (problem or "the engine did not answer"))
  end
  local typed = not listed and current ~= ""
  add(M.TYPE_NAME .. (typed and " (now: " .. current .. ")" or ""), { type = true }, typed)
  add(M.OPTIONS, { options = true })
  return table.concat(fields, "|"), actions
end

--- Words for a checkpoint that must be downloaded first (the Max device says the same).
function M.download_words(item)
  return item.name .. " is not on this machine (" .. item.size .. "). Download it first: `"
    .. item.download .. "`, then choose it again."
end

--- Show `menu` at the mouse; returns the 1-based index chosen, 0 for none.
function M.show(menu)
  gfx.init("MusicGen", 0, 0)
  gfx.x, gfx.y = gfx.mouse_x, gfx.mouse_y
  local choice = gfx.showmenu(menu)
  gfx.quit()
  return math.floor(choice or 0)
end

return M
