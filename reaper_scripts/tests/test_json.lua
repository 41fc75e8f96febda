local T = require("harness")

T.test("json: decodes the CLI's result files, unicode escapes included", function()
  local json = require("musicgen.json")
  local v = json.decode('{\n  "ok": true,\n  "id": "r-1",\n  "paths": [\n    "/a/caf\\u00e9 \\ud83c\\udfb5.wav",\n    "/b/\\"q\\".wav"\n  ]\n}\n')
  T.eq(v, { ok = true, id = "r-1", paths = { "/a/café 🎵.wav", '/b/"q".wav' } })
  v = json.decode('{"ok": false, "id": "x", "code": "bad_path", "message": "No.\\nReally", "n": -1.5e2, "z": null}')
  T.eq(v, { ok = false, id = "x", code = "bad_path", message = "No.\nReally", n = -150 })
end)

T.test("json: refuses broken text with a reason", function()
  local json = require("musicgen.json")
  for _, bad in ipairs({ '{"ok": tru', '{"a" 1}', '["x"', '{"a": 1} x', '' }) do
    local v, err = json.decode(bad)
    T.eq(v, nil, "decoded " .. bad)
    T.truthy(type(err) == "string" and err ~= "", "no reason for " .. bad)
  end
end)
