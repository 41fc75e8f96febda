// Device script tests: musicgen_bridge.js under a mocked Max + Live API.
// Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { makeSet, loadDevice, pairs, ready, lastOsc } = require("./mock_live.js");

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


function generateWith(device, { prompt = "dusty lo-fi drums", bars = 8, seed = 7 } = {}) {
  device.typePrompt(prompt);
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
  device.typePrompt("drums");
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

test("reads the MIDI clip's notes as Live plays them from its start marker", () => {
  // Loop 1..8, start marker 0: Live plays beat 0..1 once, then loops 1..8, so
  // from the clip's start the loop's beat 1 sounds at 1, 8, 15...  The melody
  // repeats every 7 beats with loop beat 1 at 1; the pre-loop note (60 at 0.5)
  // is replaced by the loop's tail (69, cut at the loop end); muted 65 is out.
  const device = ready(midiSet());
  const clip = device.context.LIVE.readSelectedClip();
  assert.equal(clip.kind, "midi");
  assert.equal(clip.arrangement, true);
  assert.equal(clip.position, 14);
  assert.equal(clip.endTime, 21);
  assert.equal(clip.trackIndex, 0);
  assert.equal(clip.melodyLength, 7);
  assert.deepEqual(JSON.parse(JSON.stringify(clip.notes)), [
    { pitch: 69, start: 0.5, length: 0.5, velocity: 60 },
    { pitch: 64, start: 1, length: 0.5, velocity: 90 },
    { pitch: 62, start: 3.25, length: 1, velocity: 80 },
    { pitch: 67, start: 3.25, length: 1, velocity: 70 },
  ]);
  const call = device.set.calls.find((c) => c.fn === "get_notes_extended");
  assert.deepEqual(call, { path: "live_set tracks 0 arrangement_clips 0",
    fn: "get_notes_extended", args: [0, 128, 1, 7] });
});

test("start marker inside the loop: the melody starts there; a note across it is split", () => {
  const set = midiSet();
  Object.assign(set.tracks[0].arrangement[0], {
    loop_start: 0, loop_end: 4, start_marker: 1,
    notes: [
      { pitch: 60, start_time: 0, duration: 2, velocity: 99.6 },   // sounds across beat 1
      { pitch: 62, start_time: 1, duration: 1, velocity: 80 },
      { pitch: 64, start_time: 3.5, duration: 1, velocity: 0.2 },  // cut at the loop end
    ],
  });
  const device = ready(set);
  const clip = device.context.LIVE.readSelectedClip();
  assert.equal(clip.melodyLength, 4);
  assert.deepEqual(JSON.parse(JSON.stringify(clip.notes)), [
    { pitch: 60, start: 0, length: 1, velocity: 100 },
    { pitch: 62, start: 0, length: 1, velocity: 80 },
    { pitch: 64, start: 2.5, length: 0.5, velocity: 1 },
    { pitch: 60, start: 3, length: 1, velocity: 100 },
  ]);
});

test("an unlooped clip is read between its start and end markers", () => {
  const set = midiSet();
  Object.assign(set.tracks[0].arrangement[0], { looping: 0, start_marker: 3, end_marker: 6 });
  const device = ready(set);
  const clip = device.context.LIVE.readSelectedClip();
  const notes = JSON.parse(JSON.stringify(clip.notes));
  assert.deepEqual(notes.map((n) => [n.pitch, n.start]), [[62, 0.25], [67, 0.25]]);
  assert.equal(clip.melodyLength, 3);
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

  const calls = device.set.calls.filter((c) => /^create_/.test(c.fn));
  assert.deepEqual(calls, [
    { path: "live_set", fn: "create_audio_track", args: [1] },
    { path: "live_set tracks 1", fn: "create_audio_clip", args: [wav, 14] },
  ]);
  assert.ok(device.set.sets.some((s) => s.path === "live_set tracks 1 arrangement_clips 0" &&
    s.prop === "name" && s.value === "dusty lo-fi drums"));
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
  assert.ok(set.sets.some((s) => s.path === "live_set tracks 1 clip_slots 2 clip" &&
    s.prop === "name" && s.value === "warm rhodes"));
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

test("a pong's reason is shown while it changes: the start-up download, then ready", () => {
  const device = ready(midiSet());
  const reason = "downloading facebook/musicgen-small into the Hugging Face cache: 40%, 0.48 GB of 1.24 GB";
  device.send("/musicgen/pong", device.osc()[0][2], "0.3.0", "loading", "", reason);
  assert.equal(device.lastStatus(), "Engine loading: " + reason);
  device.clear();
  device.clock.advance(5000);          // periodic ping, the download further on
  device.send("/musicgen/pong", device.osc()[0][2], "0.3.0", "loading", "", reason.replace("40%", "90%"));
  assert.match(device.lastStatus(), /^Engine loading: .*: 90%/);
  device.clear();
  device.clock.advance(5000);
  device.send("/musicgen/pong", device.osc()[0][2], "0.3.0", "ready", "facebook/musicgen-small", "");
  assert.equal(device.lastStatus(), "Engine 0.3.0 ready, model facebook/musicgen-small.");
});

test("the models reply fills the model menu; choosing one sends it", () => {
  const device = ready(midiSet({ filePath: "" }));
  const models = device.osc()[1];
  device.send("/musicgen/models", models[2], "debug", "debug", "facebook/musicgen-small");
  assert.deepEqual(device.ui("models"), [["clear"], ["append", "engine default (debug)"],
    ["append", "facebook/musicgen-small"], ["set", 0]]);
  device.send("model", "facebook/musicgen-small");
  generateWith(device);
  assert.equal(pairs(lastOsc(device, "/musicgen/generate")).args.model, "facebook/musicgen-small");
  device.send("model", "engine", "default", "(debug)");
  assert.equal(device.context.state.model, null);
});

test("an unlocked seed is new for each take and shown", () => {
  const values = [0.25, 0.5];
  const device = ready(midiSet({ filePath: "" }), { random: () => values.shift() ?? 0.1 });
  device.typePrompt("drums");
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
  assert.match(device.lastStatus(), /^Live 11\.3\.25 cannot place audio from a device \(needs Live 12\.0\.5 or later\)\. Drag it in from: .*take\.wav$/);
});

test("an empty prompt is refused before anything is sent", () => {
  const device = ready(midiSet());
  device.typePrompt("");
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

// -- melody, continuation, variations, key, loop, sample rate -----------------

const DRUMS_WAV = "/Users/pat/Music/Night Drive Project/Samples/Recorded/drums.wav";
const LOOP_WAV = "/Users/pat/Samples/loop.wav";

// 120 bpm in 4/4, saved.  Track 0 "Drums" (audio): an arrangement clip at
// beats 8..16 and Session clips in slots 1 and 2; track 1 "Keys" (MIDI).
function audioSet(extra = {}, drums = {}) {
  return makeSet({
    tempo: 120, numerator: 4, denominator: 4,
    filePath: `${SET_FOLDER}/Night Drive.als`, view: "Arranger", scenes: 4,
    tracks: [
      { type: "audio", name: "Drums",
        arrangement: [{ midi: false, name: "drums", start_time: 8, end_time: 16, file_path: DRUMS_WAV }],
        slots: { 1: { midi: false, name: "loop", file_path: LOOP_WAV },
          2: { midi: false, name: "fill", file_path: LOOP_WAV } },
        ...drums },
      { type: "midi", name: "Keys", slots: { 1: { midi: true, name: "empty", notes: [] } } },
    ],
    detail: { track: 0, arrangement: 0 },
    ...extra,
  });
}

function sentGenerate(device) {
  const message = lastOsc(device, "/musicgen/generate");
  return message ? pairs(message).args : undefined;
}

function finish(device, paths) {
  const id = lastOsc(device, "/musicgen/generate")[2];
  device.send("/musicgen/done", id, ...paths);
  return id;
}

function placements(set) {
  return set.calls.filter((c) => /^create_/.test(c.fn))
    .map((c) => [c.fn, c.path, ...c.args]);
}

function press(device, button, { prompt = "dusty lo-fi drums", bars = 2, seed = 7 } = {}) {
  device.typePrompt(prompt);
  device.send("bars", bars);
  device.send("seed", seed);
  device.send("lockseed", 1);
  device.send(button);
}

test("melody from the selected MIDI clip: exact OSC args with key, takes, loop and Live's rate", () => {
  const device = ready(midiSet());
  device.send("model", "facebook/musicgen-melody");
  device.send("melody", 1);
  device.send("key", 20);             // "A minor" in the Key menu
  device.send("variations", 2);
  device.send("loop", 1);
  device.send("samplerate", 48000.0);
  press(device, "generate", { bars: 4 });
  answerMkdir(device);
  const message = lastOsc(device, "/musicgen/generate");
  assert.deepEqual(message, [
    "/musicgen/generate", "id", message[2], "reply_port", 47123,
    "prompt", "dusty lo-fi drums", "bars", 4, "bpm", 92, "timesig", "7/8", "seed", 7,
    "model", "facebook/musicgen-melody", "key", "A minor", "variations", 2, "loop", 1,
    "sample_rate", 48000,
    "melody_notes", "69 0.5 0.5 60 64 1 0.5 90 62 3.25 1 80 67 3.25 1 70",
    "melody_length", 7,
    "out_dir", OUT_DIR,
  ]);
  assert.ok(Number.isInteger(message[20]) && Number.isInteger(message[24]),
    "variations and sample_rate must leave as OSC ints");
});

test("melody from an unlooped Session MIDI clip: notes from the start marker, muted skipped", () => {
  const set = makeSet({
    tempo: 100, filePath: "", view: "Session",
    tracks: [{ type: "midi", name: "Lead", slots: { 3: { midi: true, name: "hook",
      looping: 0, start_marker: 2, end_marker: 10, notes: [
        { pitch: 72, start_time: 1, duration: 2, velocity: 100 },   // starts before the clip start
        { pitch: 74, start_time: 2, duration: 1.5, velocity: 101 },
        { pitch: 76, start_time: 4, duration: 1, velocity: 90, mute: 1 },
        { pitch: 77, start_time: 9.5, duration: 4, velocity: 80 },   // cut at the end marker
        { pitch: 79, start_time: 10, duration: 1, velocity: 80 },    // after the end
      ] } } }],
    detail: { track: 0, slot: 3 },
  });
  const device = ready(set);
  device.send("/musicgen/models", device.osc()[1][2], "facebook/musicgen-melody", "facebook/musicgen-melody");
  device.send("melody", "Selected", "MIDI", "clip");
  press(device, "generate");
  const args = sentGenerate(device);
  assert.equal(args.melody_notes, "74 0 1.5 101 77 7.5 0.5 80");
  assert.equal(args.melody_length, 8);
  assert.equal(args.bpm, 100);
  assert.equal(args.model, undefined, "engine default: no model key");
  assert.equal(args.melody_audio, undefined);
});

test("melody from the selected audio clip sends its file as melody_audio", () => {
  const set = audioSet({ detail: { track: 0, slot: 1 }, view: "Session" });
  const device = ready(set);
  device.send("model", "debug-melody");
  device.send("melody", 2);
  press(device, "generate", { prompt: "warm rhodes", bars: 4, seed: 11 });
  answerMkdir(device);
  const message = lastOsc(device, "/musicgen/generate");
  assert.deepEqual(message.slice(3), [
    "reply_port", 47123, "prompt", "warm rhodes", "bars", 4, "bpm", 120, "timesig", "4/4",
    "seed", 11, "model", "debug-melody", "melody_audio", LOOP_WAV, "out_dir", OUT_DIR,
  ]);
  finish(device, [`${OUT_DIR}/warm.wav`]);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1 clip_slots 1", `${OUT_DIR}/warm.wav`],
  ]);
});

test("Continue sends the selected audio clip's file, prompt seconds and bars", () => {
  const device = ready(audioSet());
  device.send("promptseconds", 12.3);
  device.send("melody", 1);            // Continue ignores the melody source
  device.send("model", "facebook/musicgen-small");
  press(device, "continueclip", { bars: 8 });
  answerMkdir(device);
  const message = lastOsc(device, "/musicgen/generate");
  assert.deepEqual(message.slice(3), [
    "reply_port", 47123, "prompt", "dusty lo-fi drums", "bars", 8, "bpm", 120,
    "timesig", "4/4", "seed", 7, "model", "facebook/musicgen-small",
    "continue_from", DRUMS_WAV, "prompt_seconds", 12.3, "out_dir", OUT_DIR,
  ]);
  device.send("promptseconds", 0);     // cleared box: the default
  assert.equal(device.context.state.promptSeconds, 10);
  device.send("promptseconds", 99);
  assert.equal(device.context.state.promptSeconds, 29);
});

test("Continue in Arrangement: the take lands at the clip's end on the same track", () => {
  const set = audioSet({ takeBeats: 8 }, {
    arrangement: [
      { midi: false, name: "drums", start_time: 8, end_time: 16, file_path: DRUMS_WAV },
      { midi: false, name: "later", start_time: 32, end_time: 40, file_path: LOOP_WAV },
    ] });
  const device = ready(set);
  press(device, "continueclip", { bars: 4 });      // 16 beats: 16..32 is free
  answerMkdir(device);
  finish(device, [`${OUT_DIR}/more.wav`]);
  assert.deepEqual(placements(set), [
    ["create_audio_clip", "live_set tracks 0", `${OUT_DIR}/more.wav`, 16],
  ]);
  assert.deepEqual(set.tracks[0].arrangement.map((c) => c.name),
    ["drums", "dusty lo-fi drums", "later"], "the new clip (listed by position) is named");
  assert.equal(device.lastStatus(), 'Placed "dusty lo-fi drums" at beat 16 on track 1.');
});

test("Continue in Arrangement: an occupied span sends the take to a new track under it", () => {
  const set = audioSet({}, {
    arrangement: [
      { midi: false, name: "drums", start_time: 8, end_time: 16, file_path: DRUMS_WAV },
      { midi: false, name: "later", start_time: 24, end_time: 40, file_path: LOOP_WAV },
    ] });
  const device = ready(set);
  press(device, "continueclip", { bars: 4 });      // 16..32 overlaps "later"
  answerMkdir(device);
  finish(device, [`${OUT_DIR}/more.wav`]);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1", `${OUT_DIR}/more.wav`, 16],
  ]);
  assert.equal(device.lastStatus(), 'Placed "dusty lo-fi drums" at beat 16 on track 2.');
});

test("Continue in Arrangement on a frozen track: a new track under it instead", () => {
  const set = audioSet({}, { frozen: true });
  const device = ready(set);
  press(device, "continueclip");
  answerMkdir(device);
  finish(device, [`${OUT_DIR}/more.wav`]);
  assert.deepEqual(placements(set), [
    ["create_audio_clip", "live_set tracks 0", `${OUT_DIR}/more.wav`, 16],
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1", `${OUT_DIR}/more.wav`, 16],
  ]);
  assert.match(device.lastStatus(), /^Placed .* at beat 16 on track 2\.$/);
});

test("Continue in Session: the next empty slot below the clip on the same track", () => {
  const set = audioSet({ detail: { track: 0, slot: 1 }, view: "Session" });
  const device = ready(set);
  press(device, "continueclip");
  answerMkdir(device);
  assert.equal(sentGenerate(device).continue_from, LOOP_WAV);
  finish(device, [`${OUT_DIR}/more.wav`]);
  assert.deepEqual(placements(set), [
    ["create_audio_clip", "live_set tracks 0 clip_slots 3", `${OUT_DIR}/more.wav`],
  ]);
  assert.equal(device.lastStatus(), 'Placed "dusty lo-fi drums" in slot 4 of track 1.');
});

test("Continue in Session on a frozen track: a new track under it, the slot after the clip", () => {
  const set = audioSet({ detail: { track: 0, slot: 1 }, view: "Session" }, { frozen: true });
  const device = ready(set);
  press(device, "continueclip");
  answerMkdir(device);
  finish(device, [`${OUT_DIR}/more.wav`]);
  assert.deepEqual(placements(set), [
    ["create_audio_clip", "live_set tracks 0 clip_slots 3", `${OUT_DIR}/more.wav`],
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1 clip_slots 2", `${OUT_DIR}/more.wav`],
  ]);
  assert.equal(device.lastStatus(), 'Placed "dusty lo-fi drums" in slot 3 of track 2.');
});

test("Continue in Session from the last scene adds a scene for the take", () => {
  const set = audioSet({ detail: { track: 0, slot: 3 }, view: "Session" },
    { slots: { 3: { midi: false, name: "end", file_path: LOOP_WAV } } });
  const device = ready(set);
  press(device, "continueclip");
  answerMkdir(device);
  finish(device, [`${OUT_DIR}/more.wav`]);
  assert.deepEqual(placements(set), [
    ["create_scene", "live_set", -1],
    ["create_audio_clip", "live_set tracks 0 clip_slots 4", `${OUT_DIR}/more.wav`],
  ]);
  assert.equal(set.scenes, 5);
});

test("variations in Arrangement: N takes stacked on new tracks at the same beat, all but the first muted", () => {
  const set = midiSet();
  const device = ready(set);
  device.send("variations", 3);
  press(device, "generate");
  answerMkdir(device);
  assert.equal(sentGenerate(device).variations, 3);
  const paths = [1, 2, 3].map((i) => `${OUT_DIR}/take_s${6 + i}.wav`);
  finish(device, paths);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1", paths[0], 14],
    ["create_audio_track", "live_set", 2],
    ["create_audio_clip", "live_set tracks 2", paths[1], 14],
    ["create_audio_track", "live_set", 3],
    ["create_audio_clip", "live_set tracks 3", paths[2], 14],
  ]);
  assert.deepEqual(set.tracks.map((t) => [t.name, !!t.mute]), [
    ["Keys", false], ["Audio", false], ["Audio", true], ["Audio", true], ["Drums", false],
  ]);
  assert.deepEqual(set.tracks.slice(1, 4).map((t) => t.arrangement[0].name),
    ["dusty lo-fi drums", "dusty lo-fi drums (2)", "dusty lo-fi drums (3)"]);
  assert.equal(device.lastStatus(), 'Placed 3 takes of "dusty lo-fi drums" at beat 14 on tracks 2-4 ' +
    "(all but the first muted: solo one to compare).");
});

test("variations in Session: one new track, consecutive empty slots, a scene added when short", () => {
  const set = audioSet({ detail: { track: 0, slot: 2 }, view: "Session" });
  const device = ready(set);
  device.send("variations", 4);
  press(device, "generate");
  answerMkdir(device);
  const paths = [1, 2, 3, 4].map((i) => `${OUT_DIR}/v${i}.wav`);
  finish(device, paths);
  assert.deepEqual(placements(set), [
    ["create_audio_track", "live_set", 1],
    ["create_audio_clip", "live_set tracks 1 clip_slots 2", paths[0]],
    ["create_audio_clip", "live_set tracks 1 clip_slots 3", paths[1]],
    ["create_scene", "live_set", -1],
    ["create_audio_clip", "live_set tracks 1 clip_slots 4", paths[2]],
    ["create_scene", "live_set", -1],
    ["create_audio_clip", "live_set tracks 1 clip_slots 5", paths[3]],
  ]);
  assert.equal(device.lastStatus(), 'Placed 4 takes of "dusty lo-fi drums" in slots 3-6 of track 2 ' +
    "(launch one at a time to compare).");
});

test("Continue with variations in Session: the same track's next empty slots, skipping full ones", () => {
  const set = audioSet({ detail: { track: 0, slot: 1 }, view: "Session", scenes: 6 },
    { slots: { 1: { midi: false, file_path: LOOP_WAV }, 2: { midi: false, file_path: LOOP_WAV },
      4: { midi: false, file_path: LOOP_WAV } } });
  const device = ready(set);
  device.send("variations", 2);
  press(device, "continueclip");
  answerMkdir(device);
  finish(device, ["/o/a.wav", "/o/b.wav"]);
  assert.deepEqual(placements(set), [
    ["create_audio_clip", "live_set tracks 0 clip_slots 3", "/o/a.wav"],
    ["create_audio_clip", "live_set tracks 0 clip_slots 5", "/o/b.wav"],
  ]);
  assert.match(device.lastStatus(), /^Placed 2 takes of .* in slots 4, 6 of track 1 /);
});

test("the variations box is 1-4; one take sends no variations key", () => {
  const device = ready(midiSet({ filePath: "" }));
  device.send("variations", 9);
  assert.equal(device.context.state.variations, 4);
  device.send("variations", 0);
  assert.equal(device.context.state.variations, 1);
  press(device, "generate");
  assert.equal(sentGenerate(device).variations, undefined);
});

test("key: menu index or typed text; 'No key' sends none", () => {
  const device = ready(midiSet({ filePath: "" }));
  device.send("key", "F#m");
  press(device, "generate");
  assert.equal(sentGenerate(device).key, "F#m");
  device.send("/musicgen/error", lastOsc(device, "/musicgen/generate")[2], "cancelled", "x");
  device.send("key", 0);
  press(device, "generate");
  assert.equal(sentGenerate(device).key, undefined);
  assert.equal(device.context.KEYS[20], "A minor");
});

test("sample rate: Live's rate when the engine can write it; 192 kHz or unknown sends none", () => {
  for (const [rate, sent] of [[44100, 44100], [96000.0, 96000], [192000, undefined], [null, undefined]]) {
    const device = ready(midiSet({ filePath: "" }));
    if (rate !== null) device.send("samplerate", rate);
    press(device, "generate");
    assert.equal(sentGenerate(device).sample_rate, sent, `at ${rate}`);
  }
});

// -- what cannot be sent, in words ---------------------------------------------

function refused(set, setup, button = "generate") {
  const device = ready(set);
  setup(device);
  press(device, button);
  assert.equal(sentGenerate(device), undefined, "nothing may be sent");
  assert.deepEqual(device.mkdir(), []);
  assert.equal(device.context.state.job, null);
  return device.lastStatus();
}

test("Continue with no clip selected, or a MIDI clip, is refused in words", () => {
  assert.equal(refused(audioSet({ detail: null }), () => {}, "continueclip"),
    "Continue: select an audio clip (click it so it shows in the Clip View).");
  assert.equal(refused(midiSet(), () => {}, "continueclip"),
    "Continue needs an audio clip; the selected clip is MIDI.");
  const noFile = audioSet({}, { arrangement: [{ midi: false, start_time: 0, end_time: 4, file_path: "" }] });
  assert.equal(refused(noFile, () => {}, "continueclip"),
    "Continue: the selected audio clip has no file on disk yet. Save the set and try again.");
});

test("melody with no clip selected, or the wrong kind, is refused in words", () => {
  const melody = (source) => (d) => { d.send("model", "facebook/musicgen-melody"); d.send("melody", source); };
  assert.equal(refused(midiSet({ detail: null }), melody(1)),
    "Melody: select a MIDI clip (click it so it shows in the Clip View), or set Melody to Off.");
  assert.equal(refused(audioSet(), melody(1)),
    "Melody is set to \"Selected MIDI clip\" but the selected clip is audio.");
  assert.equal(refused(midiSet({ detail: null }), melody(2)),
    "Melody: select an audio clip (click it so it shows in the Clip View), or set Melody to Off.");
  assert.equal(refused(midiSet(), melody(2)),
    "Melody needs an audio clip; the selected clip is MIDI. Set Melody to \"Selected MIDI clip\" to follow its notes.");
});

test("a MIDI clip with no (unmuted) notes in its region is never sent", () => {
  const set = midiSet();
  set.tracks[0].arrangement[0].notes = [
    { pitch: 60, start_time: 2, duration: 1, velocity: 100, mute: 1 },
    { pitch: 62, start_time: 9, duration: 1, velocity: 100 },     // after the loop
  ];
  assert.equal(refused(set, (d) => { d.send("model", "facebook/musicgen-melody"); d.send("melody", 1); }),
    "The selected MIDI clip has no notes in its playing region (muted notes are left out): nothing to follow.");
});

test("more than 4096 notes is refused before sending", () => {
  const set = midiSet();
  const clip = set.tracks[0].arrangement[0];
  Object.assign(clip, { loop_start: 0, loop_end: 2048 });
  clip.notes = Array.from({ length: 4097 }, (_, i) => ({ pitch: 60, start_time: i / 4, duration: 0.25, velocity: 100 }));
  const melody = (d) => { d.send("model", "debug-melody"); d.send("melody", 1); };
  assert.equal(refused(set, melody),
    "The selected MIDI clip has 4097 notes; at most 4096 can be sent. Use a shorter or simpler clip.");
});

test("melody with a model that cannot follow one: pick facebook/musicgen-melody", () => {
  assert.equal(refused(midiSet(), (d) => { d.send("model", "facebook/musicgen-small"); d.send("melody", 1); }),
    "Melody needs a melody model: choose facebook/musicgen-melody in the Model menu " +
    "(facebook/musicgen-small cannot follow a melody).");
  // The menu on "engine default": the engine's loaded model decides.
  assert.match(refused(midiSet(), (d) => {
    d.send("/musicgen/models", d.osc()[1][2], "facebook/musicgen-small", "facebook/musicgen-small");
    d.send("melody", 1);
  }), /^Melody needs a melody model: choose facebook\/musicgen-melody/);
  // Unknown (no models reply yet) or a checkpoint folder: the engine decides.
  for (const model of [null, "/Users/pat/models/my-finetune"]) {
    const device = ready(midiSet({ filePath: "" }));
    if (model) device.send("model", model);
    device.send("melody", 1);
    press(device, "generate");
    assert.ok(sentGenerate(device).melody_notes, `sent with model ${model}`);
  }
});

test("engine errors unsupported, bad_file and out_of_range are shown in words", () => {
  const cases = [
    ["unsupported", "'facebook/musicgen-small' has no melody conditioning. Use a melody checkpoint " +
      "(facebook/musicgen-melody, facebook/musicgen-stereo-melody) for melody takes.",
    "Melody needs a melody model: choose facebook/musicgen-melody in the Model menu. Engine: " +
      "'facebook/musicgen-small' has no melody conditioning. Use a melody checkpoint " +
      "(facebook/musicgen-melody, facebook/musicgen-stereo-melody) for melody takes. (unsupported)"],
    ["bad_file", "drums.mp3 is not an audio file soundfile can read (WAV, AIFF or FLAC). Export it again as one of those.",
      "Live's clip file could not be used: drums.mp3 is not an audio file soundfile can read " +
      "(WAV, AIFF or FLAC). Export it again as one of those. (bad_file)"],
    ["out_of_range", "variations is 4; this engine makes at most 2 at once (engine flag --max-variations).",
      "Engine error: variations is 4; this engine makes at most 2 at once (engine flag --max-variations). (out_of_range)"],
  ];
  for (const [code, message, words] of cases) {
    const device = ready(audioSet({ filePath: "" }));
    press(device, "continueclip");
    const id = lastOsc(device, "/musicgen/generate")[2];
    device.send("/musicgen/queued", id, 0);
    device.send("/musicgen/error", id, code, message);
    assert.equal(device.lastStatus(), words);
    assert.equal(device.context.state.job, null);
    assert.equal(device.set.calls.filter((c) => /^create_/.test(c.fn)).length, 0);
  }
});

test("unsaved set: Continue still works, into the engine's folder", () => {
  const device = ready(audioSet({ filePath: "" }));
  press(device, "continueclip");
  assert.deepEqual(device.mkdir(), []);
  const args = sentGenerate(device);
  assert.equal(args.continue_from, DRUMS_WAV);
  assert.equal(args.out_dir, undefined);
  assert.equal(device.lastStatus(), "Sent to the engine...");
  assert.ok(device.ui("status").some((s) => s[0] === "Set not saved yet: the take goes to the engine's folder."));
});

test("Live 11 with variations: every path is given to drag in", () => {
  const set = midiSet({ major: 11 });
  const device = ready(set);
  device.send("variations", 2);
  press(device, "generate");
  answerMkdir(device);
  finish(device, ["/o/a.wav", "/o/b.wav"]);
  const words = "Live 11.3.25 cannot place audio from a device (needs Live 12.0.5 or later).";
  assert.equal(device.lastStatus(), `${words} Drag it in from: /o/a.wav ${words} Drag it in from: /o/b.wav`);
});

test("the device's menus and the patch's live.menu items are the same lists", () => {
  const fs = require("fs");
  const path = require("path");
  const patch = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "musicgen_bridge.maxpat"), "utf8"));
  const enumOf = (name) => patch.patcher.boxes.map((b) => b.box)
    .find((b) => b.varname === name).saved_attribute_attributes.valueof.parameter_enum;
  const device = ready(midiSet());
  assert.deepEqual(enumOf("Melody"), Array.from(device.context.MELODY_SOURCES));
  assert.deepEqual(enumOf("Key"), Array.from(device.context.KEYS));
});
