// The .amxd carries every module the device's script needs.  The device is not
// frozen: build_amxd.py writes the patch behind the .amxd header, and the
// patch's dependency_cache names the files that travel with it (Max's Freeze
// embeds exactly those).  A module the script require()s but the cache leaves
// out works here, beside the sources, and fails in a frozen or moved device.
// Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { makeSet, ready, PATCH_PATH } = require("./mock_live.js");

const DIR = path.join(__dirname, "..");
const AMXD = path.join(DIR, "MusicGen Bridge.amxd");
const NODE_SCRIPT = "musicgen_mkdir.js";   // [node.script]: Node for Max, not the js object

// build_amxd.py's layout: "ampf" u32 kind "meta" u32 u32 "ptch" u32(size), then
// the patch's JSON text and one NUL byte.  -> {kind, text}.
function readAmxd(file) {
  const data = fs.readFileSync(file);
  assert.equal(data.toString("latin1", 0, 4), "ampf", "not an .amxd");
  assert.equal(data.toString("latin1", 24, 28), "ptch", "no ptch chunk where build_amxd.py puts it");
  const size = data.readUInt32LE(28);
  const payload = data.subarray(32);
  assert.equal(payload.length, size, "ptch size does not match the bytes after it");
  assert.equal(payload[size - 1], 0, "the patch text does not end with a NUL");
  return { kind: data.toString("latin1", 8, 12), text: payload.subarray(0, size - 1).toString("utf8") };
}

// Every bare name `source` require()s, and theirs, from the files in DIR.
function requiredFrom(file, found = new Set()) {
  const source = fs.readFileSync(path.join(DIR, file), "utf8");
  for (const [, name] of source.matchAll(/require\("([^"]+)"\)/g)) {
    if (!found.has(name)) {
      found.add(name);
      requiredFrom(`${name}.js`, found);
    }
  }
  return found;
}

test("the .amxd holds the patch as it is now (python max4live/build_amxd.py rebuilds it)", () => {
  const { kind, text } = readAmxd(AMXD);
  assert.equal(kind, "aaaa");
  assert.equal(text, fs.readFileSync(PATCH_PATH, "utf8"),
    "MusicGen Bridge.amxd is stale: run python max4live/build_amxd.py");
});

test("every module the device loads is named in the .amxd's dependency_cache, beside it", () => {
  const device = ready(makeSet({ tempo: 120, filePath: "", tracks: [{ type: "audio", name: "Drums" }] }));
  const loaded = device.modules();
  const declared = requiredFrom("musicgen_bridge.js");
  assert.deepEqual([...loaded].sort(), [...declared].sort(),
    "a module is required in one place and not loaded, or loaded without a require the scan sees");
  assert.ok(loaded.length >= 8, `only ${loaded.length} modules loaded: ${loaded}`);

  const cache = JSON.parse(readAmxd(AMXD).text).patcher.dependency_cache;
  const cached = new Map(cache.map((d) => [d.name, d]));
  for (const file of ["musicgen_bridge.js", NODE_SCRIPT].concat(loaded.map((name) => `${name}.js`))) {
    assert.ok(cached.has(file), `${file} is not in the .amxd's dependency_cache: Freeze would leave it out`);
    assert.equal(cached.get(file).patcherrelativepath, ".", file);
    assert.equal(cached.get(file).type, "TEXT", file);
    assert.ok(fs.statSync(path.join(DIR, file)).isFile(), `${file} is not beside the device`);
  }
  // And nothing stale: every script the cache names is one the device uses.
  const used = new Set(["musicgen_bridge.js", NODE_SCRIPT].concat(loaded.map((name) => `${name}.js`)));
  for (const name of cached.keys()) {
    if (name.endsWith(".js")) assert.ok(used.has(name), `${name} is in the dependency_cache but no script needs it`);
  }
});
