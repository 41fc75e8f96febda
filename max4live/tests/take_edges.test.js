// The take's and the queries' less travelled paths: Cancel while the folder
// helper has not answered, a second Generate, the `status` query answered and
// not, an address the device does not know, the reply port it picks itself.
// Run: node --test max4live/tests/

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { makeSet, loadDevice, pairs, ready, lastOsc } = require("./mock_live.js");

const NOT_RUNNING = "Engine not running? Start it with `musicgen-bridge serve`";

// A saved set (so a take first asks the folder helper) with one audio track.
function savedSet() {
  return makeSet({ tempo: 120, filePath: "/Users/pat/Music/Demo/Demo.als",
    tracks: [{ type: "audio", name: "Drums" }] });
}

function press(device, verb) {
  device.typePrompt("dusty lo-fi drums");
  device.send(verb);
}

test("Cancel while the folder helper has not answered ends the take without a word to the engine", () => {
  const device = ready(savedSet());
  press(device, "generate");
  const [verb, token, folder] = device.mkdir().at(-1);
  assert.equal(verb, "mkdir");
  assert.match(device.lastStatus(), /^Preparing /);
  device.send("cancel");
  assert.equal(device.lastStatus(), "Cancelled.");
  assert.equal(device.context.state.job, null);
  device.send("made", token, folder);          // the helper answers late: nothing is sent
  device.clock.advance(3000);                   // nor when its timeout would have fired
  assert.equal(lastOsc(device, "/musicgen/generate"), undefined);
  assert.equal(lastOsc(device, "/musicgen/cancel"), undefined);
  press(device, "generate");                    // the device is ready for the next take
  device.send("made", device.mkdir().at(-1)[1], folder);
  assert.equal(pairs(lastOsc(device, "/musicgen/generate")).args.out_dir, folder);
});

test("a second Generate while a take runs, and Cancel with none, only say so", () => {
  const device = ready(makeSet({ tempo: 120, filePath: "", tracks: [{ type: "audio", name: "Drums" }] }));
  device.send("cancel");
  assert.equal(device.lastStatus(), "Nothing to cancel.");
  press(device, "generate");
  const sent = device.osc().length;
  press(device, "continueclip");
  assert.equal(device.lastStatus(), "Already generating. Press Cancel first.");
  assert.equal(device.osc().length, sent);
});

test("status: the engine's answer on the status line, or the advice to start it", () => {
  const device = ready(savedSet());
  device.send("status");
  const asked = pairs(lastOsc(device, "/musicgen/status"));
  device.send("/musicgen/status", asked.args.id, "ready", "debug", "cpu", "", 0, "", 0, 568.5, -1, -1, "3f9a0c12be47");
  assert.equal(device.lastStatus(), "Engine ready, model debug on cpu, 0 queued.");
  assert.deepEqual(device.ui("reachable").at(-1), [1]);
  device.send("status");                         // no answer this time
  device.clock.advance(3000);
  assert.equal(device.lastStatus(), NOT_RUNNING);
  assert.deepEqual(device.ui("reachable").at(-1), [0]);
});

test("an address the device does not know is posted and changes nothing", () => {
  const device = ready(savedSet());
  device.clear();
  device.send("/musicgen/job", "x", "y");
  assert.ok(device.posts.some((p) => p === "musicgen_bridge: ignored message /musicgen/job\n"));
  assert.deepEqual(device.out, []);
});

test("without replyport the device picks its reply port in its range and tells the patch", () => {
  const device = loadDevice(savedSet(), { random: () => 0.5 });
  device.send("init");
  const [[port]] = device.ui("port");
  assert.equal(port, 47000 + Math.floor(0.5 * 2000));
  assert.equal(device.lastStatus(), `Ready. Reply port ${port}.`);
  assert.equal(pairs(lastOsc(device, "/musicgen/ping")).args.reply_port, port);
});
