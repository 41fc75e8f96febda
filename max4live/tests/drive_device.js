// drive_device.js -- run the real device script against a real engine.
//
// Used by tests/test_max4live.py (end to end).  Loads musicgen_bridge.js with
// the mocked Live Set "92 bpm in 7/8, MIDI clip at beat 14" (saved in
// <set folder>), real timers and the real folder helper, presses Generate, and
// talks JSON lines:
//   stdout: {"osc": [[type, value], ...]}   a message for udpsend
//           {"handled": address, "status": text, "calls": [...], "sets": [...]}
//   stdin:  {"address": "/musicgen/...", "args": [...]}   a udpreceive message
// Types follow Max's js -> udpsend conversion: whole numbers leave as OSC
// ints ("i"), other numbers as floats ("f"), strings as strings ("s").
//
// Usage: node drive_device.js <reply port> <set folder> [prompt]

"use strict";

const path = require("path");
const readline = require("readline");
const { makeSet, loadDevice, RealTask } = require("./mock_live.js");
const { makeFolder } = require("../musicgen_mkdir.js");

const [replyPort, setFolder, prompt = "dusty lo-fi drums"] = process.argv.slice(2);

function typed(atom) {
  if (typeof atom === "number") return [Number.isInteger(atom) ? "i" : "f", atom];
  return ["s", String(atom)];
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const set = makeSet({
  tempo: 92, numerator: 7, denominator: 8, view: "Arranger",
  filePath: path.join(setFolder, "E2E.als"),
  tracks: [{ type: "midi", name: "Keys", arrangement: [{
    midi: true, name: "riff", start_time: 14, looping: 1, loop_start: 0, loop_end: 7,
    notes: [{ pitch: 60, start_time: 0, duration: 1, velocity: 100 }],
  }] }],
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
device.send("bars", 2);
device.send("seed", 7);
device.send("lockseed", 1);
device.send("generate");

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (!line.trim()) return;
  const { address, args } = JSON.parse(line);
  device.send(address, ...args);
  emit({ handled: address, status: device.lastStatus(), calls: set.calls, sets: set.sets });
});
input.on("close", () => process.exit(0));
