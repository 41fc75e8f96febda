-- A tiny test harness: T.test(name, fn); assertions raise errors with a message.
local T = { tests = {} }

function T.test(name, fn)
  T.tests[#T.tests + 1] = { name = name, fn = fn }
end

local function show(v, indent)
  indent = indent or ""
  if type(v) == "string" then
    return string.format("%q", v)
  elseif type(v) ~= "table" then
    return tostring(v)
  elseif #indent > 16 then
    return "{...}" -- deep, or a cycle
  end
  local keys = {}
  for k in pairs(v) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = indent .. "  [" .. show(k) .. "] = " .. show(v[k], indent .. "  ")
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end
T.show = show

local function deep_equal(a, b)
  if rawequal(a, b) then return true end -- also ends cycles (a take and its item point at each other)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

function T.eq(actual, expected, what)
  if not deep_equal(actual, expected) then
    error((what or "values differ") .. "\nexpected: " .. show(expected) .. "\nactual:   " .. show(actual), 2)
  end
end

function T.truthy(value, what)
  if not value then
    error(what or "expected a true value", 2)
  end
end

function T.contains(text, fragment, what)
  if type(text) ~= "string" or not text:find(fragment, 1, true) then
    error((what or "text lacks a fragment") .. "\nwanted: " .. show(fragment) .. "\nin:     " .. show(text), 2)
  end
end

return T
