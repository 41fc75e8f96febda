// drive_device.js -- run the real device script against a real engine.
//
// Used by tests/test_max4live.py (end to end).  Loads musicgen_bridge.js with
// a mocked Live Set at 92 bpm in 7/8 (saved in <set folder>), real timers, the
// real folder helper and real file writes, types the prompt into the patch's
// prompt box (as the patch delivers it), clicks a button, and talks JSON lines:
//   stdout: {"osc": [[type, value], ...]}   a message for udpsend
//           {"dropped": bytes}               a message udpsend lost (macOS: > 9216 bytes)
//           {"audio": atoms, "file": {...}}  a message for the preview player; for a buffer~
//                                            `replace`, what the file held at that moment
//           {"handled": address, "status": text, "calls": [...], "sets": [...], "clips": [...],
//            "menu": the Model menu's items [{label, name, download, size}],
//            "umenu": the texts the umenu holds}
//   stdin:  {"address": "/musicgen/...", "args": [...]}   a udpreceive message
//           {"click": "Cancel"}                          a click on a button of the patch
// Types follow Max's js -> udpsend conversion: whole numbers leave as OSC
// ints ("i"), other numbers as floats ("f"), strings as strings ("s").
//
// Scenarios:
//   generate    MIDI clip at beat 14 selected, 2 bars, Generate
//   variations  the same, 1 bar, 3 variations at Live's 44.1 kHz
//   continue    audio clip <file> at beats 0..7 of an audio track selected,
//               2 bars, prompt 1.5 s, Continue
//   melody      a dense MIDI clip (1400 notes) as the melody, model
//               debug-melody, a prompt with commas, semicolons and leading zeros
//   loudness    Loudness -14 LUFS, and a prompt that states 120 bpm in a 92 bpm set
//   preview     "Hear while it renders" on, 12 bars, Generate
//   menu        waits for the Model menu (the engine's models with details), then
//               chooses debug-stereo in it as a producer would, 2 bars, Generate
//
// Usage: node drive_device.js <reply port> <set folder> [scenario] [file]

"use strict";

const path = require("path");
const readline = require("readline");
const { makeSet, loadDevice, RealTask } = require("./mock_live.js");
const { makeFolder } = require("../musicgen_mkdir.js");

const [replyPort, setFolder, scenario = "generate", file = ""] = process.argv.slice(2);
const PROMPTS = {
  melody: "lo-fi, 007 beats; 0.50 swing, children's choir",
  loudness: "house groove at 120 bpm",
};
const prompt = PROMPTS[scenario] || "dusty lo-fi drums";

function typed(atom) {
  if (typeof atom === "number") return [Number.isInteger(atom) ? "i" : "f", atom];
  return ["s", String(atom)];
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function riff() {
  if (scenario !== "melody") return [{ pitch: 60, start_time: 0, duration: 1, velocity: 100 }];
  return Array.from({ length: 1400 }, (_, i) => ({
    pitch: 48 + (i % 24), start_time: (i * 7) / 1400, duration: 1 / 250, velocity: 40 + (i % 80) }));
}

const tracks = scenario === "continue"
  ? [{ type: "audio", name: "Drums", arrangement: [{
    midi: false, name: "drums", start_time: 0, end_time: 7, file_path: file }] }]
  : [{ type: "midi", name: "Keys", arrangement: [{
    midi: true, name: "riff", start_time: 14, looping: 1, loop_start: 0, loop_end: 7, notes: riff(),
  }] }];
const set = makeSet({
  tempo: 92, numerator: 7, denominator: 8, view: "Arranger",
  filePath: path.join(setFolder, "E2E.als"),
  tracks,
  detail: { track: 0, arrangement: 0 },
});

// Every audio clip in the set: where it is and how it is warped.
function clips() {
  const found = [];
  set.tracks.forEach((t, i) => t.arrangement.forEach((c, k) => {
    if (!c.midi && c.markers) {
      found.push({ path: `live_set tracks ${i} arrangement_clips ${k}`, file: c.file_path,
        start_time: c.start_time, warping: c.warping, looping: c.looping,
        loop_end: c.loop_end, end_marker: c.end_marker, markers: c.markers });
    }
  }));
  return found;
}

// A preview file as a buffer~ `replace` would find it now: its header's
// channels and data size against the file's size ({missing: true} if gone).
function wavNow(file) {
  const fs = require("fs");
  if (!fs.existsSync(file)) return { missing: true };
  const data = fs.readFileSync(file);
  return { riff: data.toString("ascii", 0, 4), channels: data.readUInt16LE(22),
    rate: data.readUInt32LE(24), bits: data.readUInt16LE(34),
    dataBytes: data.readUInt32LE(40), fileBytes: data.length };
}

let device = null;
device = loadDevice(set, {
  Task: RealTask,
  writeFiles: true,
  onOutlet(n, atoms, info) {
    if (n === 3) emit({ audio: atoms, file: atoms[1] === "replace" ? wavNow(atoms[2]) : null });
    if (n === 0 && info.dropped) emit({ dropped: atoms[0] });
    else if (n === 0) emit({ osc: atoms.map(typed) });
    if (n === 2 && atoms[0] === "mkdir") {
      const [, token, folder] = atoms;
      setImmediate(() => {
        const reason = makeFolder(folder);
        if (reason) device.send("mkfail", token, reason);
        else device.send("made", token, folder);
      });
    }
  },
});

device.send("replyport", Number(replyPort));
device.send("init");
device.typePrompt(prompt);
device.send("seed", 7);
device.send("lockseed", 1);
if (scenario === "variations") {
  device.send("bars", 1);
  device.send("variations", 3);
  device.send("samplerate", 44100);
  device.click("Generate");
} else if (scenario === "continue") {
  device.send("bars", 2);
  device.send("promptseconds", 1.5);
  device.click("Continue");
} else if (scenario === "melody") {
  device.send("bars", 2);
  device.send("model", "debug-melody");
  device.send("melody", 1);
  device.click("Generate");
} else if (scenario === "loudness") {
  device.send("bars", 2);
  device.send("loudness", 1);  // the menu's index: -14 LUFS
  device.click("Generate");
} else if (scenario === "preview") {
  device.send("bars", 12);             // 27 s: the take renders long enough to be heard

  device.send("preview", 1);
  device.click("Generate");
} else if (scenario === "menu") {
  device.send("bars", 2);              // Generate once the menu is filled (below)
} else {
  device.send("bars", 2);
  device.click("Generate");
}
let chosen = false;

// The menu scenario: choose debug-stereo by its place in the menu, as a click would.
function chooseFromMenu() {
  const index = device.context.state.menu.findIndex((item) => item.name === "debug-stereo");
  if (index < 1) throw new Error("debug-stereo is not in the Model menu: " + device.umenu().items);
  device.choose(index);
  device.click("Generate");
}

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (!line.trim()) return;
  const message = JSON.parse(line);
  if (message.click) {
    device.click(message.click);
    emit({ clicked: message.click, status: device.lastStatus() });
    return;
  }
  device.send(message.address, ...message.args);
  emit({ handled: message.address, status: device.lastStatus(), calls: set.calls, sets: set.sets,
    clips: clips(), menu: device.context.state.menu, umenu: device.umenu().items });
  if (scenario === "menu" && message.address === "/musicgen/models" && !chosen) {
    chosen = true;
    chooseFromMenu();
  }
});
input.on("close", () => process.exit(0));
