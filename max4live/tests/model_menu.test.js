// The Model menu: musicgen_bridge.js asks `models details 1`, collects the
// /musicgen/model entries by index and fills the umenu with labels; the index
// chosen maps back to the exact name sent.  Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { makeSet, pairs, ready, lastOsc, oscBytes } = require("./mock_live.js");

function device() {
  return ready(makeSet({ tempo: 120, filePath: "", tracks: [{ type: "audio", name: "Drums" }] }));
}

// What an engine with details sends (bridge/replies.py model_entries), by row:
// [name, kind, state, revision, size_mb, melody, source].
const ROWS = [
  ["debug", "debug", "resident", "", 0.9, 0, "built in"],
  ["debug-melody", "debug", "ready", "", -1, 1, "built in"],
  ["facebook/musicgen-small", "cache", "ready", "aaaa1111", 2250.3, 0, "/hub/models--facebook--musicgen-small/snapshots/aaaa1111"],
  ["facebook/musicgen-small", "cache", "resident", "bbbb2222", 2250.3, 0, "/hub/models--facebook--musicgen-small/snapshots/bbbb2222"],
  ["/Users/pat/models/night-drive-finetune", "folder", "ready", "", 812.0, 0, "/Users/pat/models/night-drive-finetune"],
  ["facebook/musicgen-small+night-lora", "adapter", "ready", "", 12.5, 0, "/cache/adapters/night-lora", "facebook/musicgen-small"],
  ["facebook/musicgen-large", "release", "not_downloaded", "", 6198.9, 0, "musicgen-bridge download facebook/musicgen-large"],
  ["facebook/musicgen-melody", "release", "not_downloaded", "", -1, 1, "musicgen-bridge download facebook/musicgen-melody"],
];
const NAMES = ["debug", "debug-melody", "facebook/musicgen-small"];  // the plain list's models

function answer(d, { rows = ROWS, skip = [], loaded = "debug" } = {}) {
  const request = lastOsc(d, "/musicgen/models");
  rows.forEach((row, index) => {
    if (!skip.includes(index)) d.send("/musicgen/model", request[2], index, rows.length, ...row);
  });
  d.send("/musicgen/models", request[2], loaded, ...NAMES);
}

test("the device asks for the models with details, in one small datagram", () => {
  const d = device();
  const request = lastOsc(d, "/musicgen/models");
  assert.equal(pairs(request).args.details, 1);
  assert.ok(oscBytes(request) < 8192);
});

test("details fill the menu with labels: resident, ready, folder, download size, melody", () => {
  const d = device();
  answer(d);
  assert.deepEqual(d.umenu().items, [
    "engine default (debug)",
    "debug (test noise, resident)",
    "debug-melody (test noise, ready, melody)",
    "facebook/musicgen-small (resident)",          // two snapshots, one item: resident if any is
    "night-drive-finetune (folder, ready)",
    "facebook/musicgen-small+night-lora (finetune, ready)",
    "facebook/musicgen-large (download first, about 6.5 GB)",
    "facebook/musicgen-melody (download first, size unknown, melody)",
  ]);
  assert.equal(d.umenu().shown, 0);
  assert.deepEqual(d.posts.filter((p) => /ignored/.test(p)), [], "no 'ignored message' for /musicgen/model");
});

test("the item chosen sends its exact name, not its label; item 0 sends none", () => {
  const d = device();
  answer(d);
  for (const [index, name] of [[4, "/Users/pat/models/night-drive-finetune"], [3, "facebook/musicgen-small"],
    [2, "debug-melody"], [0, undefined]]) {
    d.choose(index);
    d.typePrompt("dusty drums");
    d.send("generate");
    const sent = lastOsc(d, "/musicgen/generate");
    assert.equal(pairs(sent).args.model, name, `item ${index}`);
    d.send("/musicgen/error", sent[2], "cancelled", "Cancelled by the client.");
  }
});

test("a released checkpoint not downloaded: the status gives the download command, nothing is sent", () => {
  const d = device();
  answer(d);
  d.choose(3);                                   // facebook/musicgen-small
  const before = d.osc().length;
  d.choose(6);                                   // facebook/musicgen-large (download first)
  assert.equal(d.lastStatus(), "facebook/musicgen-large is not on this machine (about 6.5 GB). Download it " +
    "first: `musicgen-bridge download facebook/musicgen-large`, then choose it again.");
  assert.equal(d.context.state.model, "facebook/musicgen-small", "the choice stays what it was");
  assert.equal(d.umenu().shown, 3, "and the menu shows it again");
  assert.deepEqual(d.osc().slice(before).map((m) => m[0]), ["/musicgen/models"], "only a fresh list is asked for");
  answer(d, { rows: ROWS.slice(0, 6).concat([["facebook/musicgen-large", "cache", "ready", "cccc", 6000, 0, "/hub/x"]]) });
  assert.equal(d.umenu().items[6], "facebook/musicgen-large (ready)", "downloaded since: now ready");
  d.choose(6);
  assert.equal(d.context.state.model, "facebook/musicgen-large");
});

test("a lost /musicgen/model datagram: the menu falls back to the plain list", () => {
  for (const skip of [[2], [ROWS.length - 1]]) {
    const d = device();
    answer(d, { skip });
    assert.deepEqual(d.umenu().items, ["engine default (debug)", "debug-melody", "facebook/musicgen-small"]);
    assert.ok(d.posts.some((p) => /model detail was lost/.test(p)));
    d.choose(2);
    assert.equal(d.context.state.model, "facebook/musicgen-small");
  }
});

test("an engine that ignores details: the plain list alone fills the menu by name", () => {
  const d = device();
  const request = lastOsc(d, "/musicgen/models");
  d.send("/musicgen/models", request[2], "debug", "debug", "facebook/musicgen-small");
  assert.deepEqual(d.umenu().items, ["engine default (debug)", "facebook/musicgen-small"]);
  d.choose(1);
  assert.equal(d.context.state.model, "facebook/musicgen-small");
  d.choose(0);
  assert.equal(d.context.state.model, null);
});

test("details for another request, or with no list after them, change nothing", () => {
  const d = device();
  const request = lastOsc(d, "/musicgen/models");
  d.send("/musicgen/model", "models-someone-else", 0, 1, ...ROWS[0]);
  d.send("/musicgen/models", request[2], "debug", "debug", "facebook/musicgen-small");
  assert.deepEqual(d.umenu().items, ["engine default (debug)", "facebook/musicgen-small"]);
  d.send("/musicgen/model", request[2], 0, 1, ...ROWS[0]);   // late: its request is answered
  assert.deepEqual(d.umenu().items, ["engine default (debug)", "facebook/musicgen-small"]);
});

test("a refreshed menu keeps showing the choice; a choice gone from it falls back to the default", () => {
  const d = device();
  answer(d);
  d.choose(4);
  d.send("models");
  answer(d);
  assert.equal(d.umenu().shown, 4);
  assert.equal(d.context.state.model, "/Users/pat/models/night-drive-finetune");
  d.send("models");
  answer(d, { rows: ROWS.slice(0, 4) });
  assert.equal(d.umenu().shown, 0);
  assert.equal(d.context.state.model, null, "what the menu shows is what is sent");
});

test("a finished take refreshes the menu: the resident marks follow the engine", () => {
  const d = device();
  answer(d);
  d.typePrompt("dusty drums");
  d.send("generate");
  const id = lastOsc(d, "/musicgen/generate")[2];
  const asked = d.osc().filter((m) => m[0] === "/musicgen/models").length;
  d.send("/musicgen/done", id, "/tmp/take.wav");
  assert.equal(d.osc().filter((m) => m[0] === "/musicgen/models").length, asked + 1);
});
