// The node.script folder helper, loaded outside Max (no max-api there).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { makeFolder } = require("../musicgen_mkdir.js");

test("creates Samples/Generated/MusicGen with its parents, twice without error", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "m4l-mkdir-"));
  const target = path.join(root, "My Set Project", "Samples", "Generated", "MusicGen");
  try {
    assert.equal(makeFolder(target), null);
    assert.ok(fs.statSync(target).isDirectory());
    assert.equal(makeFolder(target), null);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("refuses a relative path and reports a file in the way", () => {
  assert.match(makeFolder("Samples/Generated"), /not an absolute path/);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "m4l-mkdir-"));
  try {
    const file = path.join(root, "file");
    fs.writeFileSync(file, "x");
    assert.ok(makeFolder(path.join(file, "sub")));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
