// Host rules the first mock did not keep (issue 26): an engine restart told by
// the pong's run, the clip moved while the take renders, tempo automation, and
// Live's undo history taking one step per Live API change.  Each test here
// failed on the device script before these fixes.
// Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { makeSet, moveClip, ready, lastOsc } = require("./mock_live.js");

const SET_FOLDER = "/Users/pat/Music/Night Drive Project";
const OUT_DIR = `${SET_FOLDER}/Samples/Generated/MusicGen`;
const RESTARTED = "The engine restarted; the take was lost. Ready: press Generate again.";

// 92 bpm in 7/8: a MIDI clip at beat 14 (Arrangement), an audio clip at beat 0 of
// the Drums track, a MIDI clip in slot 2 (Session).  A placed take is 28 beats.
function keysSet(extra = {}) {
  return makeSet({
    tempo: 92, numerator: 7, denominator: 8, filePath: `${SET_FOLDER}/Night Drive.als`,
    view: "Arranger", scenes: 4, takeBeats: 28,
    tracks: [
      { type: "midi", name: "Keys",
        arrangement: [{ midi: true, name: "riff", start_time: 14, looping: 1, loop_start: 0, loop_end: 7,
          notes: [{ pitch: 60, start_time: 0, duration: 1, velocity: 100 }] }],
        slots: { 2: { midi: true, name: "hook", looping: 1, loop_start: 0, loop_end: 7,
          notes: [{ pitch: 67, start_time: 0, duration: 2, velocity: 80 }] } } },
      { type: "audio", name: "Drums",
        arrangement: [{ name: "beat", start_time: 0, looping: 0, start_marker: 0, end_marker: 7,
          file_path: "/loops/beat.wav" }] },
    ],
    detail: { track: 0, arrangement: 0 },
    ...extra,
  });
}

function press(device, varname = "Generate") {
  device.typePrompt("dusty lo-fi drums");
  device.send("bars", 8);
  device.click(varname);
  const folder = device.mkdir().at(-1);
  if (folder && !device.answered?.has(folder[1])) {
    device.answered = (device.answered || new Set()).add(folder[1]);
    device.send("made", folder[1], folder[2]);
  }
  return lastOsc(device, "/musicgen/generate")[2];
}

// The device's next ping (every 5 s), answered with `run` (none: an older engine).
function pong(device, run) {
  device.clock.advance(5000);
  const ping = lastOsc(device, "/musicgen/ping");
  const args = [ping[2], "0.9.0", "busy", "debug", ""];
  device.send("/musicgen/pong", ...(run ? args.concat([run]) : args));
}

// -- 3. the engine restarted ---------------------------------------------------------

test("26.3: a pong from another engine run ends the take at once, in words", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/queued", id, 0);
  pong(device, "a1b2c3d4e5f6");
  device.send("/musicgen/progress", id, 0.2, "generating");
  pong(device, "a1b2c3d4e5f6");
  assert.notEqual(device.context.state.job, null, "the same run: still rendering");
  pong(device, "0f0f0f0f0f0f");       // restarted (5 s later, long before the 20 s watchdog)
  assert.equal(device.context.state.job, null);
  assert.equal(device.lastStatus(), RESTARTED);
  assert.ok(press(device), "a new take is sent at once");
});

test("26.3: an engine whose pong has no run (older) keeps today's behaviour", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/queued", id, 0);
  pong(device, null);
  pong(device, null);
  assert.notEqual(device.context.state.job, null);
});

// -- 6. the clip moved while the take renders -------------------------------------------

test("26.6: the Arrangement clip moved while the take renders: the take lands at its new beat", () => {
  const set = keysSet();
  const device = ready(set);
  const id = press(device);
  moveClip(set, set.tracks[0].arrangement[0], 21);
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  const create = set.calls.find((c) => c.fn === "create_audio_clip");
  assert.deepEqual(create.args, [`${OUT_DIR}/take.wav`, 21]);
});

test("26.6: the continued clip trimmed while the take renders: the continuation follows its end", () => {
  const set = keysSet({ detail: { track: 1, arrangement: 0 } });
  const device = ready(set);
  const id = press(device, "Continue");
  moveClip(set, set.tracks[1].arrangement[0], 0, 5);     // 7 beats long -> 5
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  const create = set.calls.find((c) => c.fn === "create_audio_clip");
  assert.deepEqual(create.args, [`${OUT_DIR}/take.wav`, 5]);
});

// -- 9. tempo automation ---------------------------------------------------------------

test("26.9: with the tempo automated, the device says the take is made at the playhead's tempo", () => {
  const device = ready(keysSet({ tempoAutomation: 1 }));
  const id = press(device);
  device.send("/musicgen/queued", id, 0);
  assert.match(device.lastStatus(), /Warning: the tempo is automated: the take is made at 92 bpm, the tempo at the playhead/);
  const steady = ready(keysSet());
  steady.send("/musicgen/queued", press(steady), 0);
  assert.doesNotMatch(steady.lastStatus(), /automated/);
});

// -- 10. one take, the fewest undo steps ----------------------------------------------------

test("26.10: placing a take in the Arrangement is six undo steps, each one a change that places it", () => {
  const set = keysSet();
  const device = ready(set);
  const id = press(device);
  const before = set.undo.length;
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.deepEqual(set.undo.slice(before), ["Insert Audio Track", "Create Clip", "set name", "add_warp_marker",
    "set looping", "set loop_end"]);
  const clip = set.tracks[1].arrangement[0];
  assert.equal(clip.end_marker, 28, "still exactly the 8 bars asked for");
});

test("26.10: placing a take in a Session slot is six undo steps too", () => {
  const set = keysSet({ view: "Session", detail: { track: 0, slot: 2 } });
  const device = ready(set);
  const id = press(device);
  const before = set.undo.length;
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.deepEqual(set.undo.slice(before), ["Insert Audio Track", "Create Clip", "set name", "add_warp_marker",
    "set loop_end", "set end_marker"]);
});

test("26.3: the silence watchdog's status from another engine run ends the take too", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/queued", id, 0);
  pong(device, "a1b2c3d4e5f6");     // 5 s after queued
  device.clock.advance(15000);        // 20 s of silence: the watchdog asks for the status
  const status = lastOsc(device, "/musicgen/status");
  // id state model device running_job queued_jobs reason resident_count rss_mb gpu_allocated_mb gpu_free_mb run
  device.send("/musicgen/status", status[2], "busy", "debug", "cpu", id, 0, "", 0, 512, 0, 0, "0f0f0f0f0f0f");
  assert.equal(device.context.state.job, null);
  assert.equal(device.lastStatus(), RESTARTED);
});
