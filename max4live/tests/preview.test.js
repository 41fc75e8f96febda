// "Hear while it renders" (issue 25): the toggle asks for `preview 1`, and each
// /musicgen/preview reply for take 1 drives the patch's preview player (outlet 3,
// [route bufa bufb mono pos xfade gain]).  What is checked here is the messages the
// script sends; what they sound like in Live needs a person (docs/ableton.md).
// Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { makeSet, ready, lastOsc, pairs } = require("./mock_live.js");

const GAIN = Math.pow(10, -6 / 20);   // the Preview level's initial -6 dB
const TOGGLE = "Hear while it renders";

// 120 bpm 4/4, 2 bars: an 4 s take; unsaved set, so the request goes at once.
function device() {
  const set = makeSet({ tempo: 120, view: "Arranger", tracks: [{ type: "audio", name: "Drums" }] });
  return ready(set);
}

/** A PCM-16 WAV header (and `frames` frames of silence) as the engine writes it. */
function previewFile(channels, frames = 16) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "m4l-preview-"));
  const file = path.join(dir, "preview-take1of1.wav");
  const data = Buffer.alloc(frames * 2 * channels);
  const head = Buffer.alloc(44);
  head.write("RIFF", 0, "ascii");
  head.writeUInt32LE(36 + data.length, 4);
  head.write("WAVEfmt ", 8, "ascii");
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(channels, 22);
  head.writeUInt32LE(48000, 24);
  head.writeUInt32LE(48000 * 2 * channels, 28);
  head.writeUInt16LE(2 * channels, 32);
  head.writeUInt16LE(16, 34);
  head.write("data", 36, "ascii");
  head.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([head, data]));
  return file;
}

/** Click the toggle: its value travels the patch's wires to the script. */
function setToggle(d, on) {
  const box = d.patch.byVarname(TOGGLE);
  const [prepend] = d.patch.feeds(box.id);
  const words = prepend.text.split(" ");
  assert.equal(words[0], "prepend");
  d.send(words[1], on ? 1 : 0);
}

function generate(d, variations = 1) {
  d.typePrompt("dusty lo-fi drums");
  d.send("bars", 2);
  d.send("variations", variations);
  d.send("generate");
  const message = lastOsc(d, "/musicgen/generate");
  const id = message[2];
  d.send("/musicgen/queued", id, 0);
  return { id, args: pairs(message).args };
}

test("the toggle is off by default, stored with the set, and on it asks for preview 1", () => {
  const d = device();
  const valueof = d.patch.param(d.patch.byVarname(TOGGLE));
  assert.equal(valueof.parameter_invisible, 1);     // stored, not automated, not hidden
  assert.deepEqual(valueof.parameter_initial, [0]);
  assert.equal(generate(d).args.preview, undefined);
  d.send("/musicgen/error", lastOsc(d, "/musicgen/generate")[2], "cancelled", "x");
  setToggle(d, true);
  assert.equal(generate(d).args.preview, 1);
});

test("each take-1 preview reloads the buffer not heard and crossfades to it; playback starts at a safe pace", () => {
  const d = device();
  setToggle(d, true);
  const { id } = generate(d);
  const file = previewFile(2);
  d.clear();
  d.send("/musicgen/preview", id, file, 0.5, 1, 1);
  // One reply gives no pace yet: loaded, not played.
  assert.deepEqual(d.audio(), [["mono", 0], ["bufa", "replace", file], ["xfade", 0, 0]]);
  d.clear();
  d.clock.advance(200);
  d.send("/musicgen/preview", id, file, 2.5, 1, 1);   // 10 s of audio a second: start
  assert.deepEqual(d.audio(), [
    ["bufb", "replace", file], ["xfade", 1, 20],
    ["pos", 0], ["pos", 3600000, 3600000], ["gain", GAIN, 20],
  ]);
  d.clear();
  d.clock.advance(200);
  d.send("/musicgen/preview", id, file, 4, 1, 1);
  assert.deepEqual(d.audio(), [["bufa", "replace", file], ["xfade", 0, 20]]);
  // Playback reaches the end of what is there (4 s after it started): fade out.
  d.clear();
  d.clock.advance(4000 - 200 - 20 - 1);
  assert.deepEqual(d.audio(), []);
  d.clock.advance(1);
  assert.deepEqual(d.audio(), [["gain", 0, 20]]);
});

test("a mono preview also goes to the right channel", () => {
  const d = device();
  setToggle(d, true);
  const { id } = generate(d);
  d.clear();
  d.send("/musicgen/preview", id, previewFile(1), 0.5, 1, 1);
  assert.deepEqual(d.audio()[0], ["mono", 1]);
});

test("an engine slower than real time: playback waits until the rest will come in time", () => {
  const d = device();
  setToggle(d, true);
  const { id } = generate(d);
  const file = previewFile(2);
  d.send("/musicgen/preview", id, file, 0.5, 1, 1);
  // 2/3 real time: 1 s of audio every 1.5 s.
  let ready = 0.5;
  let started = null;
  for (let i = 1; i <= 6 && started === null; i++) {
    d.clear();
    d.clock.advance(1500);
    ready += 1;
    d.send("/musicgen/preview", id, file, ready, 1, 1);
    if (d.audio().some((m) => m[0] === "pos")) started = ready;
  }
  // Take 4 s at 2/3 speed: the rest must take no longer than 4 - 1 s (margin) to come.
  assert.equal(started, 2.5);   // (4 - 2.5) / (2/3) = 2.25 s <= 3 s; at 1.5: 3.75 s > 3 s
});

test("the engine falling behind fades out at the end of the audio, and the next reply fades back in", () => {
  const d = device();
  setToggle(d, true);
  const { id } = generate(d);
  const file = previewFile(2);
  d.send("/musicgen/preview", id, file, 0.5, 1, 1);
  d.clock.advance(100);
  d.send("/musicgen/preview", id, file, 1.5, 1, 1);     // starts (pace 10)
  d.clear();
  d.clock.advance(3000);                                // 1.5 s of audio, 3 s later
  assert.deepEqual(d.audio(), [["gain", 0, 20]]);
  d.clear();
  d.send("/musicgen/preview", id, file, 3.9, 1, 1);     // 0.9 s ahead of the position
  assert.deepEqual(d.audio(), [["bufa", "replace", file], ["xfade", 0, 20], ["gain", GAIN, 20]]);
});

test("the level control sets the preview's gain while it plays; its bottom is silence", () => {
  const d = device();
  setToggle(d, true);
  const { id } = generate(d);
  const file = previewFile(2);
  d.send("/musicgen/preview", id, file, 4, 1, 1);       // the whole take: starts at once
  const box = d.patch.byVarname("Preview level");
  const [prepend] = d.patch.feeds(box.id);
  assert.equal(prepend.text, "prepend previewlevel");
  d.clear();
  d.send("previewlevel", -20);
  d.send("previewlevel", -70);
  assert.deepEqual(d.audio(), [["gain", 0.1, 20], ["gain", 0, 20]]);
});

test("previews of takes 2 and later are not played", () => {
  const d = device();
  setToggle(d, true);
  const { id } = generate(d, 2);
  d.clear();
  d.send("/musicgen/preview", id, previewFile(2), 0.5, 2, 2);
  d.send("/musicgen/preview", id, previewFile(2), 4, 2, 2);
  assert.deepEqual(d.audio(), []);
});

for (const [how, end] of [
  ["done", (d, id) => d.send("/musicgen/done", id, "/tmp/take.wav")],
  ["an error", (d, id) => d.send("/musicgen/error", id, "internal", "boom")],
  ["cancel", (d, id) => {
    d.send("cancel");
    d.send("/musicgen/cancel", lastOsc(d, "/musicgen/cancel")[2], id, "running");
  }],
]) {
  test(`${how} stops the preview: fade out, then both buffers cleared`, () => {
    const d = device();
    setToggle(d, true);
    const { id } = generate(d);
    const file = previewFile(2);
    d.send("/musicgen/preview", id, file, 4, 1, 1);
    d.clear();
    end(d, id);
    assert.deepEqual(d.audio(), [["gain", 0, 20]]);
    d.clock.advance(40);
    assert.deepEqual(d.audio(), [["gain", 0, 20], ["pos", 0], ["bufa", "clear"], ["bufb", "clear"]]);
    d.clear();
    d.send("/musicgen/preview", id, file, 4, 1, 1);     // late: the take is over
    d.clock.advance(10000);
    assert.deepEqual(d.audio(), []);
  });
}

test("an engine that sends no previews: the take is placed as without the toggle, the player untouched", () => {
  const statuses = [];
  for (const on of [false, true]) {
    const d = device();
    setToggle(d, on);
    const { id } = generate(d);
    d.send("/musicgen/progress", id, 0.5, "generating");
    d.send("/musicgen/done", id, "/tmp/take.wav");
    statuses.push([d.lastStatus(), d.set.calls.map((c) => [c.path, c.fn,
      ...c.args.map((a) => (a && typeof a.get === "function" ? [a.get("beat_time"), a.get("sample_time")] : a))])]);
    d.clock.advance(10000);
    assert.deepEqual(d.audio(), []);
  }
  assert.match(statuses[0][0], /^Placed/);
  assert.deepEqual(statuses[1], statuses[0]);
});

test("a reply read after the engine removed its file loads nothing and keeps what plays", () => {
  const d = device();
  setToggle(d, true);
  const { id } = generate(d);
  const file = previewFile(2);
  d.send("/musicgen/preview", id, file, 4, 1, 1);
  const gone = previewFile(2);
  fs.unlinkSync(gone);
  d.clear();
  d.send("/musicgen/preview", id, gone, 4.5, 1, 1);
  assert.deepEqual(d.audio(), []);
  d.clock.advance(4000 - 20);          // what was loaded still plays to its end
  assert.deepEqual(d.audio(), [["gain", 0, 20]]);
});

test("with the toggle off, a preview reply plays nothing", () => {
  const d = device();
  const { id } = generate(d);
  d.clear();
  d.send("/musicgen/preview", id, previewFile(2), 4, 1, 1);
  d.send("/musicgen/done", id, "/tmp/take.wav");
  assert.deepEqual(d.audio(), []);
});
