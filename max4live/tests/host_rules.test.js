// What real hosts do that a friendly mock would not (issue 13): an engine that
// restarts mid-take, Live 12.0.4, tracks and scenes that move or go while a
// take renders, Live's guessed warping, take lanes, macOS's UDP size limit,
// Max's textedit, Live's undo history.  Each test fails without its fix.
// Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const {
  makeSet, pairs, insertTrack, deleteTrack, deleteScene, oscBytes, fileInfo, ready, lastOsc,
} = require("./mock_live.js");

const SET_FOLDER = "/Users/pat/Music/Night Drive Project";
const OUT_DIR = `${SET_FOLDER}/Samples/Generated/MusicGen`;
const LOST = "The engine no longer knows this take (was it restarted?). Ready: press Generate again.";

// 92 bpm in 7/8: a MIDI track with a clip at beat 14 (Arrangement) and one in
// slot 2 (Session), then an audio track.  A placed take is 28 beats (8 bars).
function keysSet(extra = {}) {
  return makeSet({
    tempo: 92, numerator: 7, denominator: 8, filePath: `${SET_FOLDER}/Night Drive.als`,
    view: "Arranger", scenes: 4, takeBeats: 28,
    tracks: [
      { type: "midi", name: "Keys",
        arrangement: [{ midi: true, name: "riff", start_time: 14, looping: 1, loop_start: 0, loop_end: 7,
          notes: [{ pitch: 60, start_time: 0, duration: 1, velocity: 100 },
            { pitch: 64, start_time: 3.5, duration: 0.5, velocity: 90 }] }],
        slots: { 2: { midi: true, name: "hook", looping: 1, loop_start: 0, loop_end: 7,
          notes: [{ pitch: 67, start_time: 0, duration: 2, velocity: 80 }] } } },
      { type: "audio", name: "Drums" },
    ],
    detail: { track: 0, arrangement: 0 },
    ...extra,
  });
}


function press(device, varname = "Generate", { prompt = "dusty lo-fi drums", bars = 8 } = {}) {
  device.typePrompt(prompt);
  device.send("bars", bars);
  device.click(varname);
  const folder = device.mkdir().at(-1);
  if (folder && !device.answered?.has(folder[1])) {
    device.answered = (device.answered || new Set()).add(folder[1]);
    device.send("made", folder[1], folder[2]);
  }
  const message = lastOsc(device, "/musicgen/generate");
  return message && message[2];
}

function placements(set) {
  return set.calls.filter((c) => /^create_/.test(c.fn)).map((c) => [c.fn, c.path, ...c.args]);
}

// -- 1. lost jobs ------------------------------------------------------------------

test("engine restarted mid-take: Cancel's unknown_job ends the job, Generate works at once", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/queued", id, 0);
  device.send("/musicgen/progress", id, 0.4, "generating");
  // The engine restarts: the new one has never heard of the take.
  device.click("Cancel");
  const cancel = lastOsc(device, "/musicgen/cancel");
  device.send("/musicgen/error", cancel[2], "unknown_job", `No queued or running job has id '${id}'.`);
  assert.equal(device.context.state.job, null);
  assert.equal(device.lastStatus(), LOST);
  const again = press(device);
  assert.ok(again && again !== id, "a new take is sent at once");
});

test("a generate refused with an empty id (its own id unusable) ends the take at once", () => {
  // docs/protocol.md: a request whose id is invalid or already in use is answered
  // /musicgen/error "" CODE MESSAGE, never under another request's id.
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/error", "", "duplicate_id", `A job with id '${id}' is already queued or running.`);
  assert.equal(device.context.state.job, null);
  assert.match(device.lastStatus(), /already queued or running/);
  assert.ok(press(device), "a new take is sent at once");
});

test("an empty-id error after the take was accepted is not about it", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/queued", id, 0);
  device.send("/musicgen/error", "", "bad_id", "Some other request's id was unusable.");
  assert.equal(device.context.state.job.id, id);
});

test("Cancel without an answer ends the job, so the device is usable again", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/progress", id, 0.4, "generating");
  device.click("Cancel");
  device.clock.advance(3001);
  assert.equal(device.context.state.job, null);
  assert.match(device.lastStatus(), /^Cancel got no answer, so the take was dropped here\./);
  assert.ok(press(device));
});

test("silence during a take: a status that runs other takes ends it; one that runs it keeps it", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/progress", id, 0.4, "generating");
  device.clock.advance(20000);
  let status = lastOsc(device, "/musicgen/status");
  assert.ok(status, "the watchdog asks for the engine's status");
  device.send("/musicgen/status", status[2], "busy", "debug", "cpu", `${id} other-take`, 0);
  assert.notEqual(device.context.state.job, null, "still running there");
  device.clock.advance(20000);
  status = lastOsc(device, "/musicgen/status");
  device.send("/musicgen/status", status[2], "busy", "debug", "cpu", "someone-else", 0);
  assert.equal(device.context.state.job, null);
  assert.equal(device.lastStatus(), LOST);
});

test("a queued take behind another is not lost; silence with no status answer is", () => {
  const device = ready(keysSet());
  const id = press(device);
  device.send("/musicgen/queued", id, 2);
  device.clock.advance(20000);
  const status = lastOsc(device, "/musicgen/status");
  device.send("/musicgen/status", status[2], "busy", "debug", "cpu", "someone-else", 2);
  assert.notEqual(device.context.state.job, null, "queued, not started: still waiting");
  device.clock.advance(23001);
  assert.equal(device.context.state.job, null);
  assert.ok(device.ui("status").some(([s]) => /^The engine stopped answering\./.test(s)));
});

// -- 2. version gate ---------------------------------------------------------------

test("Live 12.0.4 has no create_audio_clip: nothing is tried, the path is given to drag", () => {
  const set = keysSet({ version: "12.0.4" });
  const device = ready(set);
  const id = press(device);
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.deepEqual(placements(set), []);
  assert.equal(device.lastStatus(), "Live 12.0.4 cannot place audio from a device (needs Live 12.0.5 " +
    `or later). Drag it in from: ${OUT_DIR}/take.wav`);
  const newer = keysSet({ version: "12.0.5" });
  const other = ready(newer);
  other.send("/musicgen/done", press(other), `${OUT_DIR}/take.wav`);
  assert.equal(placements(newer).length, 2);
});

// -- 3. undo history ----------------------------------------------------------------

test("Cmd-Z undoes the take: pressing buttons and the script's seed add no undo steps", () => {
  const set = keysSet();
  const device = ready(set);
  const id = press(device);                 // an unlocked seed: the script writes it
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  const afterTake = set.undo.slice();
  assert.ok(afterTake.includes("Insert Audio Track"));
  press(device);                            // the next take starts rendering
  device.click("Cancel");
  assert.deepEqual(set.undo.filter((step) => /^Change /.test(step)), []);
  assert.deepEqual(set.undo, afterTake, "the take's own steps stay on top of the history");
});

// -- 4. placement by object ids ---------------------------------------------------

test("a track inserted above while the take renders: it still lands under the clip's track", () => {
  const set = keysSet();
  const device = ready(set);
  const id = press(device);
  insertTrack(set, 0, { type: "audio", name: "Vox" });   // Keys is now track 2
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.deepEqual(placements(set)[0], ["create_audio_track", "live_set", 2]);
  assert.deepEqual(set.tracks.map((t) => t.name), ["Vox", "Keys", "Audio", "Drums"]);
  assert.match(device.lastStatus(), /^Placed "dusty lo-fi drums" at beat 14 on track 3\.$/);
});

test("the clip's track deleted while the take renders: a new track at the end, said so", () => {
  const set = keysSet();
  const device = ready(set);
  const id = press(device);
  deleteTrack(set, 0);
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1", `${OUT_DIR}/take.wav`, 14],
  ]);
  assert.equal(device.lastStatus(), 'Placed "dusty lo-fi drums" at beat 14 on track 2. The clip\'s ' +
    "track went away while the take rendered, so it went on a new track at the end.");
});

test("Session: a scene deleted above moves the slot; the clip's own scene deleted: new track at the end", () => {
  let set = keysSet({ view: "Session", detail: { track: 0, slot: 2 } });
  let device = ready(set);
  let id = press(device);
  deleteScene(set, 0);                      // the clip's scene is now scene 2 (index 1)
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1 clip_slots 1", `${OUT_DIR}/take.wav`],
  ]);

  set = keysSet({ view: "Session", detail: { track: 0, slot: 2 } });
  device = ready(set);
  id = press(device);
  deleteScene(set, 2);
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 2],
    ["create_audio_clip", "live_set tracks 2 clip_slots 0", `${OUT_DIR}/take.wav`],
  ]);
  assert.match(device.lastStatus(), /went away while the take rendered, so it went on a new track at the end\.$/);
});

// -- 5. warping --------------------------------------------------------------------

function visibleMarkers(clip) {
  return clip.markers.map((m) => [Math.round(m.beat_time * 1e6) / 1e6, Math.round(m.sample_time * 1e6) / 1e6]);
}

test("Arrangement: Live's guessed tempo is replaced; the clip spans exactly the 8 bars", () => {
  const set = keysSet();
  const device = ready(set);
  const id = press(device);
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  const clip = set.tracks[1].arrangement[0];
  const seconds = fileInfo(set, clip.file_path).seconds;     // 28 beats at 92 bpm
  assert.ok(Math.abs(clip.baseBps * 60 - 92) > 10, "the mock guessed another tempo");
  assert.equal(clip.warping, 1);
  assert.deepEqual(visibleMarkers(clip), [[0, 0], [28, Math.round(seconds * 1e6) / 1e6]]);
  const api = new device.context.LiveAPI("live_set tracks 1 arrangement_clips 0");
  assert.ok(Math.abs(api.get("end_time")[0] - (14 + 28)) < 1e-9);
  assert.equal(device.lastStatus(), 'Placed "dusty lo-fi drums" at beat 14 on track 2.');
});

test("Live's 1.1.1 marker on the first transient: the file's start is pinned to beat 0 all the same", () => {
  const set = keysSet({ firstTransient: 0.05 });
  const device = ready(set);
  device.send("/musicgen/done", press(device), `${OUT_DIR}/take.wav`);
  const clip = set.tracks[1].arrangement[0];
  const perSecond = 28 / fileInfo(set, clip.file_path).seconds;
  assert.deepEqual(visibleMarkers(clip).map(([beat, seconds]) => [beat, Math.round(seconds * 1e6) / 1e6]),
    [[0, 0], [Math.round(0.05 * perSecond * 1e6) / 1e6, 0.05], visibleMarkers(clip).at(-1)]);
  assert.equal(visibleMarkers(clip).at(-1)[0], 28);
  assert.equal(device.lastStatus(), 'Placed "dusty lo-fi drums" at beat 14 on track 2.');
});

test("Session: the take loops over exactly its bars", () => {
  const set = keysSet({ view: "Session", detail: { track: 0, slot: 2 } });
  const device = ready(set);
  device.send("/musicgen/done", press(device), `${OUT_DIR}/take.wav`);
  const clip = set.tracks[1].slots[2];
  assert.equal(clip.looping, 1);
  assert.equal(clip.loop_start, 0);
  assert.equal(clip.loop_end, 28);
  assert.equal(clip.end_marker, 28);
  assert.equal(visibleMarkers(clip).at(-1)[0], 28);
});

// -- 6. take lanes -----------------------------------------------------------------

test("a clip selected on a take lane is an Arrangement clip of its track", () => {
  const set = keysSet({ detail: { track: 0, lane: 1, arrangement: 0 } });
  set.tracks[0].takeLanes = [{ name: "Take 1", arrangement: [] },
    { name: "Take 2", arrangement: [{ midi: true, name: "comp", start_time: 30, looping: 1, loop_start: 0,
      loop_end: 7, notes: [{ pitch: 62, start_time: 0, duration: 1, velocity: 100 }] }] }];
  const device = ready(set);
  const clip = device.context.LIVE.readSelectedClip();
  assert.equal(clip.arrangement, true);
  assert.equal(clip.trackIndex, 0);
  assert.equal(clip.position, 30);
  device.send("/musicgen/done", press(device), `${OUT_DIR}/take.wav`);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1", `${OUT_DIR}/take.wav`, 30],
  ]);
});

// -- 7. datagram size ----------------------------------------------------------------

function denseSet(extra) {
  const set = keysSet(extra);
  const clip = set.tracks[0].arrangement[0];
  clip.loop_end = 28;
  clip.notes = Array.from({ length: 1400 }, (_, i) => ({
    pitch: 48 + (i % 24), start_time: i / 50, duration: 1 / 60, velocity: 64 + (i % 60) }));
  return set;
}

/** Notes of a type 0 MIDI file: [[tick, pitch, velocity, length in ticks]], and its header. */
function readMidi(bytes) {
  const b = Buffer.from(bytes);
  assert.equal(b.toString("ascii", 0, 4), "MThd");
  const tpb = b.readUInt16BE(12);
  let at = 14 + 8;
  const end = at + b.readUInt32BE(18);
  let tick = 0;
  const on = new Map();
  const notes = [];
  let tempo = null;
  while (at < end) {
    let delta = 0;
    for (;;) { const v = b[at++]; delta = delta * 128 + (v & 0x7f); if (!(v & 0x80)) break; }
    tick += delta;
    const status = b[at++];
    if (status === 0xff) {
      const type = b[at++];
      const len = b[at++];
      if (type === 0x51) tempo = b.readUIntBE(at, 3);
      at += len;
    } else if ((status & 0xf0) === 0x90) {
      on.set(b[at], [tick, b[at + 1]]); at += 2;
    } else if ((status & 0xf0) === 0x80) {
      const [start, velocity] = on.get(b[at]);
      notes.push([start, b[at], velocity, tick - start]); at += 2;
    }
  }
  return { tpb, tempo, notes: notes.sort((x, y) => x[0] - y[0] || x[1] - y[1]) };
}

test("a dense MIDI clip goes as a .mid file, so no datagram is over 8 KB (macOS drops > 9216)", () => {
  const set = denseSet();
  const device = ready(set);
  device.send("model", "facebook/musicgen-melody");
  device.send("melody", 1);
  const id = press(device);
  assert.deepEqual(device.dropped(), [], "nothing lost on the way");
  assert.ok(id, "the request went out");
  const args = pairs(lastOsc(device, "/musicgen/generate")).args;
  assert.equal(args.melody_notes, undefined);
  assert.match(args.melody_midi, new RegExp(`^${OUT_DIR}/melody-\\d{8}-\\d{6}-\\d+\\.mid$`));
  for (const message of device.osc()) assert.ok(oscBytes(message) <= 8192, message[0]);
  const midi = readMidi(set.files[args.melody_midi]);
  assert.equal(midi.tempo, Math.round(60e6 / 92));
  // The 28-beat clip fills the 28-beat take once: every note, as Live plays it.
  const clip = device.context.LIVE.readSelectedClip();
  assert.equal(midi.notes.length, clip.notes.length);
  assert.deepEqual(midi.notes[1], [Math.round(clip.notes[1].start * midi.tpb), clip.notes[1].pitch,
    clip.notes[1].velocity, Math.round(clip.notes[1].length * midi.tpb)]);
});

test("a short clip repeats through the take in the .mid; an unsaved set says to save", () => {
  const set = denseSet();
  const clip = set.tracks[0].arrangement[0];
  clip.loop_end = 14;
  clip.notes = clip.notes.slice(0, 690);   // 690 notes over 14 beats, twice in 28
  const device = ready(set);
  device.send("model", "debug-melody");
  device.send("melody", 1);
  press(device);
  const midi = readMidi(set.files[pairs(lastOsc(device, "/musicgen/generate")).args.melody_midi]);
  assert.equal(midi.notes.length, 2 * 690);
  assert.equal(midi.notes[690][0], 14 * midi.tpb);

  const unsaved = ready(denseSet({ filePath: "" }));
  unsaved.send("model", "debug-melody");
  unsaved.send("melody", 1);
  press(unsaved);
  assert.equal(lastOsc(unsaved, "/musicgen/generate"), undefined);
  assert.equal(unsaved.lastStatus(), "The selected MIDI clip has too many notes for one message. " +
    "Save the set, so the device can hand them over as a file in its folder.");
  assert.equal(unsaved.context.state.job, null);
});

test("any other request too big for one datagram is refused in words, never sent", () => {
  const set = keysSet({ filePath: `/Users/pat/${"音楽/".repeat(800)}Set.als` });
  const device = ready(set);
  press(device, "Generate", { prompt: "深".repeat(1000) });   // 3000 bytes of UTF-8
  assert.equal(lastOsc(device, "/musicgen/generate"), undefined);
  assert.match(device.lastStatus(), /^This request is \d+ bytes; one UDP message must stay under 8192/);
  assert.equal(device.context.state.job, null);
});

// -- 8. prompt box -------------------------------------------------------------------

test("the prompt reaches the engine verbatim: commas, semicolons, leading zeros", () => {
  const device = ready(keysSet({ filePath: "" }));
  const text = "lo-fi, 007 beats; 0.50 swing, children's choir (take 2)";
  press(device, "Generate", { prompt: text });
  assert.equal(pairs(lastOsc(device, "/musicgen/generate")).args.prompt, text);
});

// -- issue 16: loudness and warnings ----------------------------------------------------

test("Loudness: Off sends nothing, -14 and -23 LUFS send loudness", () => {
  for (const [choice, sent] of [[0, undefined], [1, -14], ["-23 LUFS", -23]]) {
    const device = ready(keysSet({ filePath: "" }));
    device.send("loudness", ...(typeof choice === "number" ? [choice] : choice.split(" ")));
    press(device);
    assert.equal(pairs(lastOsc(device, "/musicgen/generate")).args.loudness, sent, `menu ${choice}`);
  }
});

test("a warning before done is shown at once and stays on the status line after placing", () => {
  const device = ready(keysSet());
  const id = press(device, "Generate", { prompt: "120 bpm house" });
  device.send("/musicgen/progress", id, 0.2, "generating");
  device.send("/musicgen/warning", id, "tempo_conflict",
    "The prompt says 120 bpm but the set is at 92 bpm; the take follows 92.");
  const warning = "Warning: The prompt says 120 bpm but the set is at 92 bpm; the take follows 92. (tempo_conflict)";
  assert.ok(device.lastStatus().endsWith(warning), device.lastStatus());
  device.send("/musicgen/progress", id, 0.6, "generating");
  assert.equal(device.lastStatus(), `Generating 60% ${warning}`);
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.equal(device.lastStatus(), `Placed "120 bpm house" at beat 14 on track 2. ${warning}`);
  device.send("/musicgen/warning", "someone-else", "key_conflict", "x");
  assert.equal(device.lastStatus(), `Placed "120 bpm house" at beat 14 on track 2. ${warning}`);
});
