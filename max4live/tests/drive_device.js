// drive_device.js -- run the real device script against a real engine.
//
// Used by tests/test_max4live.py (end to end).  Loads musicgen_bridge.js with
// a mocked Live Set at 92 bpm in 7/8 (saved in <set folder>), real timers and
// the real folder helper, presses a button, and talks JSON lines:
//   stdout: {"osc": [[type, value], ...]}   a message for udpsend
//           {"handled": address, "status": text, "calls": [...], "sets": [...]}
//   stdin:  {"address": "/musicgen/...", "args": [...]}   a udpreceive message
// Types follow Max's js -> udpsend conversion: whole numbers leave as OSC
// ints ("i"), other numbers as floats ("f"), strings as strings ("s").
//
// Scenarios:
//   generate    MIDI clip at beat 14 selected, 2 bars, Generate
//   variations  the same, 1 bar, 3 variations at Live's 44.1 kHz
//   continue    audio clip <file> at beats 0..7 of an audio track selected,
//               2 bars, prompt 1.5 s, Continue
//
// Usage: node drive_device.js <reply port> <set folder> [scenario] [file]

"use strict";

const path = require("path");
const readline = require("readline");
const { makeSet, loadDevice, RealTask } = require("./mock_live.js");
const { makeFolder } = require("../musicgen_mkdir.js");

const [replyPort, setFolder, scenario = "generate", file = ""] = process.argv.slice(2);
const prompt = "dusty lo-fi drums";

function typed(atom) {
  if (typeof atom === "number") return [Number.isInteger(atom) ? "i" : "f", atom];
  return ["s", String(atom)];
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const tracks = scenario === "continue"
  ? [{ type: "audio", name: "Drums", arrangement: [{
    midi: false, name: "drums", start_time: 0, end_time: 7, file_path: file }] }]
  : [{ type: "midi", name: "Keys", arrangement: [{
    midi: true, name: "riff", start_time: 14, looping: 1, loop_start: 0, loop_end: 7,
    notes: [{ pitch: 60, start_time: 0, duration: 1, velocity: 100 }],
  }] }];
const set = makeSet({
  tempo: 92, numerator: 7, denominator: 8, view: "Arranger",
  filePath: path.join(setFolder, "E2E.als"),
  tracks,
  detail: { track: 0, arrangement: 0 },
});

let device = null;
device = loadDevice(set, {
  Task: RealTask,
  onOutlet(n, atoms) {
    if (n === 0) emit({ osc: atoms.map(typed) });
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
device.send("text", ...prompt.split(" "));
device.send("seed", 7);
device.send("lockseed", 1);
if (scenario === "variations") {
  device.send("bars", 1);
  device.send("variations", 3);
  device.send("samplerate", 44100);
  device.send("generate");
} else if (scenario === "continue") {
  device.send("bars", 2);
  device.send("promptseconds", 1.5);
  device.send("continueclip");
} else {
  device.send("bars", 2);
  device.send("generate");
}

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (!line.trim()) return;
  const { address, args } = JSON.parse(line);
  device.send(address, ...args);
  emit({ handled: address, status: device.lastStatus(), calls: set.calls, sets: set.sets });
});
input.on("close", () => process.exit(0));
