// Device script tests: musicgen_bridge.js under a mocked Max + Live API.
// Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { makeSet, loadDevice, pairs } = require("./mock_live.js");

const SET_FOLDER = "/Users/pat/Music/Night Drive Project";
const OUT_DIR = `${SET_FOLDER}/Samples/Generated/MusicGen`;
const NOT_RUNNING = "Engine not running? Start it with `musicgen-bridge serve`";

// Tempo 92 in 7/8, a MIDI track whose arrangement clip (at beat 14) loops
// beats 1..8 of its content, and an empty audio track.
function midiSet(extra = {}) {
  return makeSet({
    tempo: 92, numerator: 7, denominator: 8,
    filePath: `${SET_FOLDER}/Night Drive.als`,
    view: "Arranger",
    tracks: [
      { type: "midi", name: "Keys", arrangement: [{
        midi: true, name: "riff", start_time: 14, looping: 1,
        loop_start: 1, loop_end: 8, start_marker: 0, end_marker: 8,
        notes: [
          { pitch: 60, start_time: 0.5, duration: 1, velocity: 100 },  // before the loop
          { pitch: 64, start_time: 1, duration: 0.5, velocity: 90 },
          { pitch: 62, start_time: 3.25, duration: 1, velocity: 80 },
          { pitch: 67, start_time: 3.25, duration: 1, velocity: 70 },
          { pitch: 65, start_time: 5, duration: 1, velocity: 99, mute: 1 },
          { pitch: 69, start_time: 7.5, duration: 2, velocity: 60 },   // crosses loop end
          { pitch: 71, start_time: 8, duration: 1, velocity: 60 },     // at loop end
        ],
      }] },
      { type: "audio", name: "Drums" },
    ],
    detail: { track: 0, arrangement: 0 },
    ...extra,
  });
}

function ready(set, options) {
  const device = loadDevice(set, options);
  device.send("replyport", 47123);
  device.send("init");
  return device;
}

function lastOsc(device, address) {
  const all = device.osc().filter((m) => m[0] === address);
  return all[all.length - 1];
}

function generateWith(device, { prompt = "dusty lo-fi drums", bars = 8, seed = 7 } = {}) {
  device.send("text", ...prompt.split(" "));
  device.send("bars", bars);
  device.send("seed", seed);
  device.send("lockseed", 1);
  device.send("generate");
}

function answerMkdir(device) {
  const [verb, token, path] = device.mkdir().at(-1);
  assert.equal(verb, "mkdir");
  device.send("made", token, path);
  return path;
}

test("nothing touches LiveAPI before live.thisdevice fires", () => {
  const set = midiSet();
  const device = loadDevice(set);
  device.send("text", "drums");
  device.send("generate");
  device.send("ping");
  assert.deepEqual(set.constructed, []);
  assert.deepEqual(device.osc(), []);
  assert.match(device.lastStatus(), /still loading/);
});

test("init tells udpreceive the reply port and asks for ping and models", () => {
  const device = ready(midiSet());
  assert.deepEqual(device.ui("port").at(-1), [47123]);
  const [ping, models] = device.osc();
  assert.deepEqual(pairs(ping), { address: "/musicgen/ping",
    args: { id: ping[2], reply_port: 47123 } });
  assert.equal(pairs(models).address, "/musicgen/models");
  assert.match(ping[2], /^[\x21-\x7e]{1,64}$/);
});

test("92 bpm in 7/8 with a MIDI clip: exact generate message with out_dir", () => {
  const device = ready(midiSet());
  generateWith(device);
  assert.equal(device.osc().length, 2, "nothing sent before the folder exists");
  assert.equal(answerMkdir(device), OUT_DIR);
  const message = lastOsc(device, "/musicgen/generate");
  assert.deepEqual(message, [
    "/musicgen/generate", "id", message[2], "reply_port", 47123,
    "prompt", "dusty lo-fi drums", "bars", 8, "bpm", 92, "timesig", "7/8",
    "seed", 7, "out_dir", OUT_DIR,
  ]);
  assert.ok(Number.isInteger(message[4]) && Number.isInteger(message[14]),
    "reply_port and seed must leave as OSC ints");
  assert.equal(typeof message[12], "string", "timesig is a string, never a number");
});

test("reads the MIDI clip's notes relative to the loop start", () => {
  const device = ready(midiSet());
  const clip = device.context.LIVE.readSelectedClip();
  assert.equal(clip.kind, "midi");
  assert.equal(clip.arrangement, true);
  assert.equal(clip.position, 14);
  assert.equal(clip.trackIndex, 0);
  assert.deepEqual(JSON.parse(JSON.stringify(clip.notes)), [
    { pitch: 64, start: 0, length: 0.5, velocity: 90 },
    { pitch: 62, start: 2.25, length: 1, velocity: 80 },
    { pitch: 67, start: 2.25, length: 1, velocity: 70 },
    { pitch: 69, start: 6.5, length: 0.5, velocity: 60 },
  ]);
  const call = device.set.calls.find((c) => c.fn === "get_notes_extended");
  assert.deepEqual(call, { path: "live_set tracks 0 arrangement_clips 0",
    fn: "get_notes_extended", args: [0, 128, 1, 7] });
});

test("an unlooped clip is read between its start and end markers", () => {
  const set = midiSet();
  Object.assign(set.tracks[0].arrangement[0], { looping: 0, start_marker: 3, end_marker: 6 });
  const device = ready(set);
  const notes = JSON.parse(JSON.stringify(device.context.LIVE.readSelectedClip().notes));
  assert.deepEqual(notes.map((n) => [n.pitch, n.start]), [[62, 0.25], [67, 0.25]]);
});

test("on done: a new audio track under the clip, create_audio_clip at its position", () => {
  const device = ready(midiSet());
  generateWith(device);
  answerMkdir(device);
  const id = lastOsc(device, "/musicgen/generate")[2];
  device.send("/musicgen/queued", id, 0);
  device.send("/musicgen/progress", id, 0.5, "generating");
  assert.deepEqual(device.ui("progress").at(-1), [0.5]);
  const wav = `${OUT_DIR}/dusty-lo-fi-drums-7.wav`;
  device.send("/musicgen/done", id, wav);

  const calls = device.set.calls.filter((c) => c.fn !== "get_major_version" &&
    c.fn !== "get_notes_extended");
  assert.deepEqual(calls, [
    { path: "live_set", fn: "create_audio_track", args: [1] },
    { path: "live_set tracks 1", fn: "create_audio_clip", args: [wav, 14] },
  ]);
  assert.deepEqual(device.set.sets.at(-1),
    { path: "live_set tracks 1 arrangement_clips 0", prop: "name", value: "dusty lo-fi drums" });
  assert.match(device.lastStatus(), /^Placed "dusty lo-fi drums" at beat 14/);
});

test("a Session audio clip: its file is read, the take goes to the same scene's slot", () => {
  const set = makeSet({
    tempo: 120, numerator: 4, denominator: 4, filePath: `${SET_FOLDER}/Night Drive.als`,
    tracks: [{ type: "audio", name: "Loop", slots: { 2: { midi: false, name: "loop",
      file_path: "/Users/pat/Samples/loop.wav" } } }],
    detail: { track: 0, slot: 2 },
  });
  const device = ready(set);
  const clip = device.context.LIVE.readSelectedClip();
  assert.equal(clip.kind, "audio");
  assert.equal(clip.filePath, "/Users/pat/Samples/loop.wav");
  assert.equal(clip.notes, null);

  generateWith(device, { prompt: "warm rhodes", bars: 4, seed: 11 });
  answerMkdir(device);
  const message = lastOsc(device, "/musicgen/generate");
  assert.deepEqual(pairs(message).args, { id: message[2], reply_port: 47123,
    prompt: "warm rhodes", bars: 4, bpm: 120, timesig: "4/4", seed: 11, out_dir: OUT_DIR });

  device.send("/musicgen/done", message[2], `${OUT_DIR}/warm-rhodes.wav`);
  const create = set.calls.filter((c) => c.fn === "create_audio_clip");
  assert.deepEqual(create, [{ path: "live_set tracks 1 clip_slots 2",
    fn: "create_audio_clip", args: [`${OUT_DIR}/warm-rhodes.wav`] }]);
  assert.deepEqual(set.sets.at(-1),
    { path: "live_set tracks 1 clip_slots 2 clip", prop: "name", value: "warm rhodes" });
});

test("nothing selected in Arrangement: placed at the song position after the selected track", () => {
  const set = midiSet({ detail: null, songTime: 32, selectedTrack: 1 });
  const device = ready(set);
  generateWith(device);
  answerMkdir(device);
  const id = lastOsc(device, "/musicgen/generate")[2];
  device.send("/musicgen/done", id, `${OUT_DIR}/a.wav`);
  assert.deepEqual(set.calls.filter((c) => /create_audio/.test(c.fn)), [
    { path: "live_set", fn: "create_audio_track", args: [2] },
    { path: "live_set tracks 2", fn: "create_audio_clip", args: [`${OUT_DIR}/a.wav`, 32] },
  ]);
});

test("unsaved set: no folder to make, no out_dir (the engine's folder)", () => {
  const device = ready(midiSet({ filePath: "" }));
  generateWith(device);
  assert.deepEqual(device.mkdir(), []);
  const message = lastOsc(device, "/musicgen/generate");
  assert.equal(pairs(message).args.out_dir, undefined);
  assert.deepEqual(message.slice(5), ["prompt", "dusty lo-fi drums", "bars", 8, "bpm", 92,
    "timesig", "7/8", "seed", 7]);
});

test("a Windows set path gives a Windows out_dir", () => {
  const device = ready(midiSet({ filePath: "C:\\Users\\pat\\Music\\Set Project\\Set.als" }));
  generateWith(device);
  assert.equal(device.mkdir().at(-1)[2],
    "C:\\Users\\pat\\Music\\Set Project\\Samples\\Generated\\MusicGen");
});

test("folder helper failure or silence falls back to the engine's folder", () => {
  const device = ready(midiSet());
  generateWith(device);
  const [, token] = device.mkdir().at(-1);
  device.send("mkfail", token, "permission", "denied");
  assert.equal(pairs(lastOsc(device, "/musicgen/generate")).args.out_dir, undefined);

  const other = ready(midiSet());
  generateWith(other);
  other.clock.advance(3000);
  assert.equal(pairs(lastOsc(other, "/musicgen/generate")).args.out_dir, undefined);
});

test("an engine error is shown in words and ends the job", () => {
  const device = ready(midiSet());
  generateWith(device, { bars: 64 });
  answerMkdir(device);
  const id = lastOsc(device, "/musicgen/generate")[2];
  device.send("/musicgen/error", id, "out_of_range",
    "That is 146.09 s; the most this engine makes in one take is 30 s (engine flag --max-seconds).");
  assert.equal(device.lastStatus(), "Engine error: That is 146.09 s; the most this engine " +
    "makes in one take is 30 s (engine flag --max-seconds). (out_of_range)");
  assert.equal(device.context.state.job, null);
});

test("no reply within the timeout: the engine is not running", () => {
  const device = ready(midiSet());
  generateWith(device);
  answerMkdir(device);
  device.clock.advance(2999);
  assert.notEqual(device.lastStatus(), NOT_RUNNING);
  device.clock.advance(2);
  assert.equal(device.lastStatus(), NOT_RUNNING);
  assert.deepEqual(device.ui("reachable").at(-1), [0]);
  assert.equal(device.context.state.job, null);
});

test("a pong lights the reachable indicator; silence turns it off", () => {
  const device = ready(midiSet());
  const ping = device.osc()[0];
  device.send("/musicgen/pong", ping[2], "0.1.0", "ready", "debug");
  assert.deepEqual(device.ui("reachable").at(-1), [1]);
  device.clear();
  device.clock.advance(5000);          // periodic ping
  assert.equal(device.osc()[0][0], "/musicgen/ping");
  device.clock.advance(3000);          // unanswered
  assert.deepEqual(device.ui("reachable").at(-1), [0]);
  assert.equal(device.lastStatus(), NOT_RUNNING);
});

test("the models reply fills the model menu; choosing one sends it", () => {
  const device = ready(midiSet({ filePath: "" }));
  const models = device.osc()[1];
  device.send("/musicgen/models", models[2], "debug", "debug", "facebook/musicgen-small");
  assert.deepEqual(device.ui("models"), [["clear"], ["append", "engine default (debug)"],
    ["append", "facebook/musicgen-small"]]);
  device.send("model", "facebook/musicgen-small");
  generateWith(device);
  assert.equal(pairs(lastOsc(device, "/musicgen/generate")).args.model, "facebook/musicgen-small");
  device.send("model", "engine", "default", "(debug)");
  assert.equal(device.context.state.model, null);
});

test("an unlocked seed is new for each take and shown", () => {
  const values = [0.25, 0.5];
  const device = ready(midiSet({ filePath: "" }), { random: () => values.shift() ?? 0.1 });
  device.send("text", "drums");
  device.send("generate");
  const seed = pairs(lastOsc(device, "/musicgen/generate")).args.seed;
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 2147483647);
  assert.deepEqual(device.ui("seed").at(-1), [seed]);
});

test("cancel sends /musicgen/cancel for the job; the cancelled error reads 'Cancelled.'", () => {
  const device = ready(midiSet({ filePath: "" }));
  generateWith(device);
  const id = lastOsc(device, "/musicgen/generate")[2];
  device.send("/musicgen/queued", id, 0);
  device.send("cancel");
  const cancel = lastOsc(device, "/musicgen/cancel");
  assert.deepEqual(pairs(cancel).args, { id: cancel[2], reply_port: 47123, job: id });
  device.send("/musicgen/cancel", cancel[2], id, "running");
  assert.equal(device.lastStatus(), "Cancelled (it was running).");
  device.send("/musicgen/error", id, "cancelled", "Cancelled by the client.");
  assert.equal(device.lastStatus(), "Cancelled (it was running).");
});

test("Live 11: no create_audio_clip, the status gives the path to drag", () => {
  const set = midiSet({ major: 11 });
  const device = ready(set);
  generateWith(device);
  answerMkdir(device);
  const id = lastOsc(device, "/musicgen/generate")[2];
  device.send("/musicgen/done", id, `${OUT_DIR}/take.wav`);
  assert.equal(set.calls.filter((c) => /create_audio/.test(c.fn)).length, 0);
  assert.match(device.lastStatus(), /needs Live 12.*Drag it in from: .*take\.wav/);
});

test("an empty prompt is refused before anything is sent", () => {
  const device = ready(midiSet());
  device.send("text");
  device.send("generate");
  assert.equal(device.lastStatus(), "Type a prompt first.");
  assert.equal(lastOsc(device, "/musicgen/generate"), undefined);
});

test("replies for other ids are ignored", () => {
  const device = ready(midiSet({ filePath: "" }));
  generateWith(device);
  device.send("/musicgen/done", "someone-else", "/tmp/x.wav");
  assert.equal(device.set.calls.filter((c) => /create_audio/.test(c.fn)).length, 0);
  assert.notEqual(device.context.state.job, null);
});

test("when the engine comes back, the model menu is asked for again", () => {
  const device = ready(midiSet());
  device.clock.advance(3000);                  // first ping and models unanswered
  assert.deepEqual(device.ui("reachable").at(-1), [0]);
  device.clear();
  device.clock.advance(2000);                  // periodic ping at 5 s
  const ping = device.osc()[0];
  device.send("/musicgen/pong", ping[2], "0.1.0", "ready", "debug");
  assert.deepEqual(device.osc().map((m) => m[0]), ["/musicgen/ping", "/musicgen/models"]);
  assert.equal(device.lastStatus(), "Engine 0.1.0 ready, model debug.");
});
