-- File-system helpers: separators, folders, small file reads.
local M = {}

function M.sep()
  return reaper.GetOS():match("^Win") and "\\" or "/"
end

function M.join(...)
  local sep = M.sep()
  local out = {}
  for i, part in ipairs({ ... }) do
    if i > 1 then
      part = part:gsub("^[/\\]+", "")
    end
    if i < select("#", ...) then
      part = part:gsub("[/\\]+$", "")
    end
    out[#out + 1] = part
  end
  return table.concat(out, sep)
end

function M.dirname(path)
  return path:match("^(.*)[/\\][^/\\]*$") or ""
end

function M.basename(path)
  return path:match("([^/\\]*)$")
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

function M.exists(path)
  return path ~= nil and path ~= "" and reaper.file_exists(path)
end

--- Create `path` and its parents; true if we can write there afterwards.
-- (file_exists is for files and RecursiveCreateDirectory's return value does not tell
-- "created" from "already there", so we check by writing a probe file.)
function M.ensure_folder(path)
  reaper.RecursiveCreateDirectory(path, 0)
  local probe = M.join(path, ".musicgen-bridge-probe")
  local f = io.open(probe, "wb")
  if not f then
    return false
  end
  f:close()
  os.remove(probe)
  return true
end

return M
