// mock_live.js -- load musicgen_bridge.js in Node with a mocked Max + Live.
//
// Producer Pal style: the device script runs unmodified in a vm context whose
// globals are mocks of what Max gives a `js` object (outlet, post, Task,
// arrayfromargs, messagename) and of the Live API (LiveAPI over a fake Live
// Set).  Tests assert on what the device sent out of its outlets and on the
// Live API calls it made.  Not a test file itself (no *.test.js suffix).

"use strict";

const fs = require("fs");
const path = require("path");
const vm = require("vm");

const DEVICE_JS = path.join(__dirname, "..", "musicgen_bridge.js");

// -- fake Live Set -------------------------------------------------------------

/**
 * Build a fake Live Set.
 * spec: {tempo, numerator, denominator, filePath ("" = unsaved), major (Live
 *   major version), view ("Session"|"Arranger"), songTime, scenes,
 *   selectedTrack, selectedScene, takeBeats (length of a placed take, default 4),
 *   tracks: [{type: "midi"|"audio", name, frozen,
 *   slots: {index: clip}, arrangement: [clip]}], detail: null |
 *   {track, slot} | {track, arrangement}}
 * clip: {midi, name, looping, loop_start, loop_end, start_marker, end_marker,
 *   start_time, end_time (default: start_time + loop or marker length),
 *   file_path, notes: [{pitch, start_time, duration, velocity, mute}]}
 * Arrangement clips stay sorted by start_time, as Live lists them.
 */
function makeSet(spec) {
  const set = {
    tempo: 120, numerator: 4, denominator: 4, filePath: "", major: 12,
    view: "Session", songTime: 0, scenes: 8, selectedTrack: 0, selectedScene: 0,
    tracks: [], detail: null, ...spec,
  };
  set.tracks = (spec.tracks || []).map((t) => ({
    type: t.type, name: t.name || t.type,
    slots: Array.from({ length: set.scenes }, (_, i) => (t.slots && t.slots[i]) || null),
    arrangement: t.arrangement || [], frozen: !!t.frozen,
  }));
  set.calls = [];   // [{path, fn, args}]
  set.sets = [];    // [{path, prop, value}]
  set.constructed = [];  // every path a LiveAPI was made for
  return set;
}

function clipPath(set) {
  const d = set.detail;
  if (!d) return null;
  return d.arrangement !== undefined
    ? `live_set tracks ${d.track} arrangement_clips ${d.arrangement}`
    : `live_set tracks ${d.track} clip_slots ${d.slot} clip`;
}

/** Resolve a Live API path to {canonical, kind, node} or null. */
function resolve(set, rawPath) {
  const p = rawPath.replace(/"/g, "").trim().replace(/\s+/g, " ");
  if (p === "live_set") return { canonical: p, kind: "song", node: set };
  if (p === "live_app") return { canonical: p, kind: "app", node: set };
  if (p === "live_app view") return { canonical: p, kind: "appview", node: set };
  if (p === "live_set view detail_clip") {
    const c = clipPath(set);
    return c ? resolve(set, c) : null;
  }
  if (p === "live_set view selected_track") {
    return set.selectedTrack >= 0 ? resolve(set, `live_set tracks ${set.selectedTrack}`) : null;
  }
  if (p === "live_set view selected_scene") {
    return { canonical: `live_set scenes ${set.selectedScene}`, kind: "scene", node: {} };
  }
  let m = /^live_set tracks (\d+)$/.exec(p);
  if (m) {
    const t = set.tracks[Number(m[1])];
    return t ? { canonical: p, kind: "track", node: t } : null;
  }
  m = /^live_set tracks (\d+) clip_slots (\d+)$/.exec(p);
  if (m) {
    const t = set.tracks[Number(m[1])];
    const i = Number(m[2]);
    return t && i < t.slots.length ? { canonical: p, kind: "slot", node: { track: t, index: i } } : null;
  }
  m = /^live_set tracks (\d+) clip_slots (\d+) clip$/.exec(p);
  if (m) {
    const t = set.tracks[Number(m[1])];
    const c = t && t.slots[Number(m[2])];
    return c ? { canonical: p, kind: "clip", node: c } : null;
  }
  m = /^live_set tracks (\d+) arrangement_clips (\d+)$/.exec(p);
  if (m) {
    const t = set.tracks[Number(m[1])];
    const c = t && t.arrangement[Number(m[2])];
    return c ? { canonical: p, kind: "clip", node: c } : null;
  }
  return null;
}

function makeLiveAPI(set) {
  let nextId = 1;
  return function LiveAPI(a, b) {
    const wanted = typeof a === "function" ? b : a;
    const found = resolve(set, String(wanted));
    set.constructed.push(String(wanted));
    this.id = found ? String(nextId++) : "0";
    this.unquotedpath = found ? found.canonical : "";
    this.path = found ? `"${found.canonical}"` : "";
    const kind = found && found.kind;
    const node = found && found.node;

    this.get = (prop) => {
      if (!found) return [0];
      const v = getProp(set, kind, node, prop);
      if (v === undefined) throw new Error(`mock LiveAPI: ${this.unquotedpath} has no ${prop}`);
      return [v];
    };
    this.set = (prop, value) => {
      set.sets.push({ path: this.unquotedpath, prop, value });
      if (node && (prop === "name" || prop === "mute")) node[prop] = value;
    };
    this.getcount = (child) => {
      if (kind === "song" && child === "tracks") return set.tracks.length;
      if (kind === "track" && child === "arrangement_clips") return node.arrangement.length;
      if (kind === "track" && child === "clip_slots") return node.slots.length;
      throw new Error(`mock LiveAPI: getcount ${child} on ${kind}`);
    };
    this.call = (fn, ...args) => {
      set.calls.push({ path: this.unquotedpath, fn, args });
      return callFn(set, kind, node, fn, args);
    };
  };
}

function getProp(set, kind, node, prop) {
  if (kind === "song") {
    return { tempo: set.tempo, signature_numerator: set.numerator,
      signature_denominator: set.denominator, file_path: set.filePath,
      current_song_time: set.songTime }[prop];
  }
  if (kind === "appview") return { focused_document_view: set.view }[prop];
  if (kind === "track") {
    return { name: node.name, has_audio_input: node.type === "audio" ? 1 : 0,
      has_midi_input: node.type === "midi" ? 1 : 0, mute: node.mute ? 1 : 0 }[prop];
  }
  if (kind === "slot") return { has_clip: node.track.slots[node.index] ? 1 : 0 }[prop];
  if (kind === "clip") {
    const defaults = { name: "", looping: 0, loop_start: 0, loop_end: 4, start_marker: 0,
      end_marker: 4, start_time: 0, file_path: "" };
    const c = { ...defaults, ...node };
    const length = c.looping ? c.loop_end - c.loop_start : c.end_marker - c.start_marker;
    if (prop === "length") return length;
    if (prop === "end_time" && node.end_time === undefined) return c.start_time + length;
    if (prop === "is_midi_clip") return c.midi ? 1 : 0;
    if (prop === "is_audio_clip") return c.midi ? 0 : 1;
    if (prop === "file_path" && c.midi) return undefined;
    return c[prop];
  }
  return undefined;
}

function callFn(set, kind, node, fn, args) {
  if (kind === "app") {
    if (fn === "get_major_version") return set.major;
    if (fn === "get_minor_version") return 0;
    if (fn === "get_bugfix_version") return 5;
  }
  if (kind === "song" && fn === "create_audio_track") {
    const at = args[0] === -1 ? set.tracks.length : args[0];
    set.tracks.splice(at, 0, { type: "audio", name: "Audio",
      slots: Array.from({ length: set.scenes }, () => null), arrangement: [] });
    return undefined;
  }
  if (kind === "song" && fn === "create_scene") {
    const at = args[0] === -1 ? set.scenes : args[0];
    set.tracks.forEach((t) => t.slots.splice(at, 0, null));
    set.scenes += 1;
    return undefined;
  }
  // Live 11 has neither create_audio_clip; real Live prints an error and goes on.
  // A frozen track (spec: frozen: true) refuses it too.
  if (fn === "create_audio_clip" && set.major >= 12) {
    const track = kind === "track" ? node : kind === "slot" ? node.track : null;
    if (track && track.frozen) return undefined;
    if (kind === "track" && node.type === "audio") {
      node.arrangement.push({ midi: false, file_path: args[0], start_time: args[1],
        end_time: args[1] + (set.takeBeats || 4) });
      node.arrangement.sort((a, b) => a.start_time - b.start_time);
    }
    if (kind === "slot" && node.track.type === "audio" && !node.track.slots[node.index]) {
      node.track.slots[node.index] = { midi: false, file_path: args[0] };
    }
    return undefined;
  }
  if (kind === "clip" && fn === "get_notes_extended") {
    const [fromPitch, pitchSpan, fromTime, timeSpan] = args;
    const notes = (node.notes || [])
      .map((n, i) => ({ note_id: i + 1, mute: 0, probability: 1, velocity_deviation: 0,
        release_velocity: 64, ...n }))
      .filter((n) => n.pitch >= fromPitch && n.pitch < fromPitch + pitchSpan &&
        n.start_time >= fromTime && n.start_time < fromTime + timeSpan);
    return JSON.stringify({ notes });
  }
  return undefined;
}

// -- fake Max ------------------------------------------------------------------

/** A manual clock: Task callbacks run only when the test advances time. */
function makeClock() {
  const clock = { now: 0, tasks: new Set() };
  clock.Task = function Task(fn, thisArg) {
    this.interval = 0;
    this.schedule = (ms) => {
      clock.tasks.add(this);
      this.due = clock.now + (ms || 0);
    };
    this.repeat = () => {
      this.repeating = true;
      this.schedule(this.interval);
    };
    this.cancel = () => {
      clock.tasks.delete(this);
      this.repeating = false;
    };
    this.fire = () => {
      clock.tasks.delete(this);
      if (this.repeating) this.schedule(this.interval);
      fn.call(thisArg);
    };
  };
  clock.advance = (ms) => {
    const end = clock.now + ms;
    for (;;) {
      const due = [...clock.tasks].filter((t) => t.due <= end).sort((a, b) => a.due - b.due);
      if (!due.length) break;
      clock.now = due[0].due;
      due[0].fire();
    }
    clock.now = end;
  };
  return clock;
}

/** A Task on real timers, for driving the device against a real engine. */
function RealTask(fn, thisArg) {
  let handle = null;
  this.interval = 0;
  this.schedule = (ms) => {
    clearTimeout(handle);
    handle = setTimeout(() => fn.call(thisArg), ms || 0);
  };
  this.repeat = () => {
    clearInterval(handle);
    handle = setInterval(() => fn.call(thisArg), this.interval);
  };
  this.cancel = () => {
    clearTimeout(handle);
    clearInterval(handle);
  };
}

/**
 * Load the device script. Returns {set, out, posts, clock, send, osc, ui, mkdir, ...}.
 * options.Task replaces the manual clock (e.g. RealTask); options.onOutlet(n, atoms).
 */
function loadDevice(set, options = {}) {
  const clock = makeClock();
  const out = [];   // [{outlet, atoms}]
  const posts = [];
  const context = {
    post: (...parts) => posts.push(parts.join(" ")),
    outlet: (n, ...atoms) => {
      const flat = atoms.length === 1 && Array.isArray(atoms[0]) ? atoms[0] : atoms;
      out.push({ outlet: n, atoms: Array.from(flat) });
      if (options.onOutlet) options.onOutlet(n, Array.from(flat));
    },
    arrayfromargs: (args) => Array.prototype.slice.call(args),
    LiveAPI: makeLiveAPI(set),
    Task: options.Task || clock.Task,
    messagename: "",
    Math: Object.create(Math),
  };
  if (options.random) context.Math.random = options.random;
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(DEVICE_JS, "utf8"), context, { filename: DEVICE_JS });

  const device = {
    set, out, posts, clock, context,
    /** Send a Max message (what an inlet would receive). */
    send(name, ...args) {
      context.messagename = name;
      const fn = typeof context[name] === "function" && !name.startsWith("/")
        ? context[name] : context.anything;
      fn.apply(context, args);
    },
    osc: () => out.filter((o) => o.outlet === 0).map((o) => o.atoms),
    ui: (kind) => out.filter((o) => o.outlet === 1 && (!kind || o.atoms[0] === kind))
      .map((o) => o.atoms.slice(1)),
    mkdir: () => out.filter((o) => o.outlet === 2).map((o) => o.atoms),
    lastStatus() {
      const all = device.ui("status");
      return all.length ? all[all.length - 1][0] : null;
    },
    clear() { out.length = 0; },
  };
  return device;
}

/** Key/value view of an OSC request ["/addr", k, v, ...] -> {address, args}. */
function pairs(message) {
  const args = {};
  for (let i = 1; i < message.length; i += 2) args[message[i]] = message[i + 1];
  return { address: message[0], args };
}

module.exports = { makeSet, loadDevice, makeClock, RealTask, pairs, DEVICE_JS };
