// mock_live.js -- load musicgen_bridge.js in Node with a mocked Max + Live.
//
// Producer Pal style: the device script runs unmodified in a vm context whose
// globals are mocks of what Max gives a `js` object (outlet, post, Task,
// arrayfromargs, messagename, File, Dict) and of the Live API (LiveAPI over a
// fake Live Set).  Tests assert on what the device sent out of its outlets and
// on the Live API calls it made.  Not a test file itself (no *.test.js suffix).
//
// The mock follows the hosts' documented rules, quirks included:
//   - Live Object Model (docs.cycling74.com/apiref/lom, "LOM - The Live Object
//     Model" for Live 12.1): ids stay the same for an object's life whatever
//     its index, and a deleted object answers id 0 (live.path reference);
//     Track/ClipSlot.create_audio_clip exist from Live 12.0.5; TakeLane clips
//     live at "live_set tracks N take_lanes M arrangement_clips K"; a new
//     audio clip comes in warped at a tempo Live guesses from the file; warp
//     markers follow Clip.add_warp_marker's rules (a Dict; sample time inside
//     the file and between its neighbours; no second marker at one sample
//     time; segment tempo 5-999 bpm; the last marker is a hidden one that
//     cannot be removed); a warped looped arrangement clip keeps its length,
//     an unlooped one ends at loop_end.
//   - Every change made through the Live API (a set that changes a value, a
//     call that creates, removes or moves something) is one step in Live's
//     undo history (set.undo); a set to the value already there, a refused
//     call and reading change nothing.
//   - The master track's mixer_device song_tempo parameter tells whether the
//     tempo is automated (automation_state: 0 none, 1 active, 2 overridden;
//     spec tempoAutomation); Song.tempo is the tempo at the playhead
//     (spec tempo), and the LOM reads no arrangement envelope at a time.
//   - Max's js require() (Max 8 "JS Require Guide"): a module is a file
//     NAME.js found in the search path (the device's folder first), run once
//     per js object with its own scope; it exports by adding properties to
//     `exports` (module.exports and the other node.js module properties are
//     not there) and sees the js object's globals (post, LiveAPI, Dict...).
//   - Max: udpsend on macOS drops datagrams over 9216 bytes without a word;
//     textedit in list mode splits at commas and semicolons and reads "007"
//     as 7; a stored (not hidden) live.* parameter adds an undo step whenever
//     it changes, clicked or set by the patch (Ableton's Max for Live
//     production guidelines, "Undo History").

"use strict";

const fs = require("fs");
const path = require("path");
const vm = require("vm");

const DEVICE_JS = path.join(__dirname, "..", "musicgen_bridge.js");
const DEVICE_DIR = path.join(__dirname, "..");
const PATCH_PATH = path.join(__dirname, "..", "musicgen_bridge.maxpat");
const MACOS_UDP_MAX = 9216;   // net.inet.udp.maxdgram

// -- fake Live Set -------------------------------------------------------------

function parseVersion(spec) {
  if (spec.version) return String(spec.version).split(".").map(Number);
  if (spec.major === 11) return [11, 3, 25];
  if (spec.major !== undefined) return [spec.major, 1, 0];
  return [12, 1, 0];
}

/**
 * Build a fake Live Set.
 * spec: {tempo, numerator, denominator, filePath ("" = unsaved), version
 *   ("12.0.4"; or major: 11), view ("Session"|"Arranger"), songTime, scenes,
 *   selectedTrack, selectedScene, takeBeats (a placed file's length in beats
 *   at the set tempo when the file is not on disk, default 4), sampleRate,
 *   tracks: [{type: "midi"|"audio", name, frozen, slots: {index: clip},
 *   arrangement: [clip], takeLanes: [{name, arrangement: [clip]}]}],
 *   detail: null | {track, slot} | {track, arrangement} | {track, lane, arrangement}}
 * clip: {midi, name, looping, loop_start, loop_end, start_marker, end_marker,
 *   start_time, end_time (default: start_time + loop or marker length),
 *   file_path, notes: [{pitch, start_time, duration, velocity, mute}]}
 * Arrangement clips stay sorted by start_time, as Live lists them.
 */
function makeSet(spec) {
  const set = {
    tempo: 120, numerator: 4, denominator: 4, filePath: "", view: "Session", songTime: 0,
    selectedTrack: 0, selectedScene: 0, detail: null, takeBeats: 4, sampleRate: 48000,
    ...spec,
  };
  set.version = parseVersion(spec);
  const sceneCount = spec.scenes === undefined ? 8 : spec.scenes;
  set.sceneList = Array.from({ length: sceneCount }, (_, i) => ({ name: `Scene ${i + 1}` }));
  Object.defineProperty(set, "scenes", { get: () => set.sceneList.length, enumerable: true });
  set.tracks = (spec.tracks || []).map((t) => makeTrack(set, t));
  set.calls = [];        // [{path, fn, args}]
  set.sets = [];         // [{path, prop, value}]
  set.constructed = [];  // every path a LiveAPI was made for
  set.undo = [];         // Live's undo history, newest last
  set.files = {};        // path -> bytes written with Max's File object
  set.ids = { next: 1, of: new WeakMap(), node: new Map(), kind: new WeakMap() };
  return set;
}

function makeTrack(set, t) {
  return {
    type: t.type, name: t.name || t.type, frozen: !!t.frozen, mute: false,
    slots: Array.from({ length: set.sceneList.length }, (_, i) => (t.slots && t.slots[i]) || null),
    arrangement: t.arrangement || [],
    takeLanes: (t.takeLanes || []).map((l) => ({ name: l.name || "Take", arrangement: l.arrangement || [] })),
  };
}

// -- what the producer does while a take renders --------------------------------

function insertTrack(set, index, spec = { type: "audio", name: "Inserted" }) {
  set.tracks.splice(index, 0, makeTrack(set, spec));
}

function deleteTrack(set, index) {
  set.tracks.splice(index, 1);
}

/** The producer drags an arrangement clip to `start` (beats), and trims it to `length`. */
function moveClip(set, clip, start, length) {
  clip.start_time = start;
  if (length !== undefined) {
    clip.end_marker = (clip.start_marker || 0) + length;
    clip.loop_end = (clip.loop_start || 0) + length;
  }
  for (const t of set.tracks) t.arrangement.sort((a, b) => a.start_time - b.start_time);
}

function deleteScene(set, index) {
  set.sceneList.splice(index, 1);
  set.tracks.forEach((t) => t.slots.splice(index, 1));
}

// -- ids and paths -------------------------------------------------------------

function idFor(set, node, kind) {
  if (!set.ids.of.has(node)) {
    set.ids.of.set(node, set.ids.next);
    set.ids.node.set(set.ids.next, node);
    set.ids.kind.set(node, kind);
    set.ids.next += 1;
  }
  return set.ids.of.get(node);
}

/** Where a known object is now: {canonical, kind, node}, or null once it is gone. */
function locate(set, node) {
  const kind = set.ids.kind.get(node);
  for (let i = 0; i < set.tracks.length; i++) {
    const t = set.tracks[i];
    if (kind === "track" && t === node) return { canonical: `live_set tracks ${i}`, kind, node };
    if (kind === "slot" && node.track === t && node.index < t.slots.length) {
      return { canonical: `live_set tracks ${i} clip_slots ${node.index}`, kind, node };
    }
    if (kind === "clip") {
      const s = t.slots.indexOf(node);
      if (s >= 0) return { canonical: `live_set tracks ${i} clip_slots ${s} clip`, kind, node };
      const a = t.arrangement.indexOf(node);
      if (a >= 0) return { canonical: `live_set tracks ${i} arrangement_clips ${a}`, kind, node };
      for (let l = 0; l < t.takeLanes.length; l++) {
        const k = t.takeLanes[l].arrangement.indexOf(node);
        if (k >= 0) return { canonical: `live_set tracks ${i} take_lanes ${l} arrangement_clips ${k}`, kind, node };
      }
    }
    if (kind === "lane") {
      const l = t.takeLanes.indexOf(node);
      if (l >= 0) return { canonical: `live_set tracks ${i} take_lanes ${l}`, kind, node };
    }
  }
  if (kind === "scene") {
    const s = set.sceneList.indexOf(node);
    if (s >= 0) return { canonical: `live_set scenes ${s}`, kind, node };
  }
  return null;
}

function detailPath(set) {
  const d = set.detail;
  if (!d) return null;
  if (d.lane !== undefined) return `live_set tracks ${d.track} take_lanes ${d.lane} arrangement_clips ${d.arrangement}`;
  return d.arrangement !== undefined
    ? `live_set tracks ${d.track} arrangement_clips ${d.arrangement}`
    : `live_set tracks ${d.track} clip_slots ${d.slot} clip`;
}

/** Resolve a Live API path to {canonical, kind, node} or null. */
function resolve(set, rawPath) {
  const p = rawPath.replace(/"/g, "").trim().replace(/\s+/g, " ");
  let m = /^id (\d+)$/.exec(p);
  if (m) {
    const node = set.ids.node.get(Number(m[1]));
    return node ? locate(set, node) : null;
  }
  if (p === "live_set") return { canonical: p, kind: "song", node: set };
  if (p === "live_app") return { canonical: p, kind: "app", node: set };
  if (p === "live_app view") return { canonical: p, kind: "appview", node: set };
  if (p === "live_set master_track mixer_device song_tempo") return { canonical: p, kind: "tempo", node: set };
  if (p === "live_set view detail_clip") {
    const c = detailPath(set);
    return c ? resolve(set, c) : null;
  }
  if (p === "live_set view selected_track") {
    return set.selectedTrack >= 0 ? resolve(set, `live_set tracks ${set.selectedTrack}`) : null;
  }
  if (p === "live_set view selected_scene") return resolve(set, `live_set scenes ${set.selectedScene}`);
  m = /^live_set scenes (\d+)$/.exec(p);
  if (m) {
    const s = set.sceneList[Number(m[1])];
    return s ? { canonical: p, kind: "scene", node: s } : null;
  }
  m = /^live_set tracks (\d+)( .*)?$/.exec(p);
  if (!m) return null;
  const t = set.tracks[Number(m[1])];
  if (!t) return null;
  const rest = (m[2] || "").trim();
  if (!rest) return { canonical: p, kind: "track", node: t };
  m = /^clip_slots (\d+)( clip)?$/.exec(rest);
  if (m) {
    const i = Number(m[1]);
    if (i >= t.slots.length) return null;
    if (!m[2]) {
      t.slotNodes = t.slotNodes || [];
      const node = t.slotNodes.find((s) => s.index === i) || { track: t, index: i };
      if (!t.slotNodes.includes(node)) t.slotNodes.push(node);
      return { canonical: p, kind: "slot", node };
    }
    return t.slots[i] ? { canonical: p, kind: "clip", node: t.slots[i] } : null;
  }
  m = /^arrangement_clips (\d+)$/.exec(rest);
  if (m) {
    const c = t.arrangement[Number(m[1])];
    return c ? { canonical: p, kind: "clip", node: c } : null;
  }
  m = /^take_lanes (\d+)( arrangement_clips (\d+))?$/.exec(rest);
  if (m) {
    const lane = t.takeLanes[Number(m[1])];
    if (!lane) return null;
    if (!m[2]) return { canonical: p, kind: "lane", node: lane };
    const c = lane.arrangement[Number(m[3])];
    return c ? { canonical: p, kind: "clip", node: c } : null;
  }
  return null;
}

function trackOf(set, node) {
  return set.tracks.find((t) => t === node || t.takeLanes.includes(node));
}

function makeLiveAPI(set, post) {
  return function LiveAPI(a, b) {
    const wanted = typeof a === "function" ? b : a;
    const found = resolve(set, String(wanted));
    set.constructed.push(String(wanted));
    this.id = found ? String(idFor(set, found.node, found.kind)) : "0";
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
      if (!node) return;
      const before = JSON.stringify(getProp(set, kind, node, prop));
      if (kind === "track" && (prop === "name" || prop === "mute")) node[prop] = value;
      if (kind === "clip") setClipProp(node, prop, value);
      if (JSON.stringify(getProp(set, kind, node, prop)) !== before) set.undo.push(`set ${prop}`);
    };
    this.getcount = (child) => {
      if (kind === "song" && child === "tracks") return set.tracks.length;
      if (kind === "song" && child === "scenes") return set.sceneList.length;
      if (kind === "track" && child === "arrangement_clips") return node.arrangement.length;
      if (kind === "track" && child === "clip_slots") return node.slots.length;
      if (kind === "track" && child === "take_lanes") return node.takeLanes.length;
      if (kind === "lane" && child === "arrangement_clips") return node.arrangement.length;
      throw new Error(`mock LiveAPI: getcount ${child} on ${kind}`);
    };
    this.call = (fn, ...args) => {
      set.calls.push({ path: this.unquotedpath, fn, args });
      return callFn(set, kind, node, fn, args, post);
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
  if (kind === "tempo") return { automation_state: set.tempoAutomation || 0, value: set.tempo }[prop];
  if (kind === "track") {
    return { name: node.name, has_audio_input: node.type === "audio" ? 1 : 0,
      has_midi_input: node.type === "midi" ? 1 : 0, mute: node.mute ? 1 : 0 }[prop];
  }
  if (kind === "slot") return { has_clip: node.track.slots[node.index] ? 1 : 0 }[prop];
  if (kind === "scene") return { name: node.name }[prop];
  if (kind === "lane") return { name: node.name }[prop];
  if (kind === "clip") {
    const defaults = { name: "", looping: 0, loop_start: 0, loop_end: 4, start_marker: 0,
      end_marker: 4, start_time: 0, file_path: "" };
    const c = { ...defaults, ...node };
    const length = c.looping ? c.loop_end - c.loop_start : c.end_marker - c.start_marker;
    if (prop === "length") return length;
    if (prop === "end_time" && node.arrLength !== undefined) {
      // A warped looped arrangement clip keeps the length it was made with;
      // an unlooped one ends where its markers say.
      return c.start_time + (c.looping ? node.arrLength : length);
    }
    if (prop === "end_time" && node.end_time === undefined) return c.start_time + length;
    if (prop === "is_midi_clip") return c.midi ? 1 : 0;
    if (prop === "is_audio_clip") return c.midi ? 0 : 1;
    if (c.midi && ["file_path", "warping", "warp_markers", "sample_length", "sample_rate"].includes(prop)) {
      return undefined;
    }
    if (prop === "warp_markers") return JSON.stringify({ warp_markers: warpMarkers(node) });
    if (prop === "sample_length") return node.sampleLength;
    if (prop === "sample_rate") return node.sampleRate;
    if (prop === "warping") return node.warping ? 1 : 0;
    return c[prop];
  }
  return undefined;
}

function setClipProp(node, prop, value) {
  if (!["name", "looping", "loop_start", "loop_end", "start_marker", "end_marker", "warping"].includes(prop)) return;
  node[prop] = prop === "name" ? value : Number(value);
  // An unlooped clip's loop region is its start..end markers.
  if (!node.looping && prop === "loop_end") node.end_marker = Number(value);
  if (!node.looping && prop === "end_marker") node.loop_end = Number(value);
}

// -- audio files and Live's warping ---------------------------------------------

/** {seconds, rate, frames} of a placed file: its WAV header when it is on disk. */
function fileInfo(set, filePath) {
  try {
    const data = fs.readFileSync(filePath);
    let offset = 12;
    let rate = 0;
    let blockAlign = 0;
    while (offset + 8 <= data.length) {
      const id = data.toString("ascii", offset, offset + 4);
      const size = data.readUInt32LE(offset + 4);
      if (id === "fmt ") {
        rate = data.readUInt32LE(offset + 12);
        blockAlign = data.readUInt16LE(offset + 20);
      }
      if (id === "data" && rate) {
        const frames = Math.floor(size / blockAlign);
        return { seconds: frames / rate, rate, frames };
      }
      offset += 8 + size + (size % 2);
    }
  } catch (e) {
    // not on disk: the set's takeBeats at its tempo
  }
  const rate = set.sampleRate;
  const frames = Math.round(set.takeBeats * 60 / set.tempo * rate);
  return { seconds: frames / rate, rate, frames };
}

/** Live's guess for a short file: a whole number of 4/4 bars at 87.5-175 bpm. */
function guessedBpm(seconds) {
  for (let bars = 1; bars <= 64; bars *= 2) {
    const bpm = bars * 4 * 60 / seconds;
    if (bpm >= 87.5 && bpm < 175) return bpm;
  }
  return 120;
}

function newAudioClip(set, filePath, extra) {
  const info = fileInfo(set, filePath);
  const bps = guessedBpm(info.seconds) / 60;   // beats per second of the file, as guessed
  const beats = info.seconds * bps;
  // Auto-Warp may put 1.1.1 at the first transient rather than the file's start
  // (spec firstTransient, seconds).
  const first = set.firstTransient || 0;
  return { midi: false, file_path: filePath, warping: 1, markers: [{ beat_time: 0, sample_time: first }],
    baseBps: bps, seconds: info.seconds, sampleRate: info.rate, sampleLength: info.frames,
    looping: 1, loop_start: 0, loop_end: beats, start_marker: 0, end_marker: beats, ...extra };
}

/** Visible markers plus Live's hidden last one (it sets the last segment's tempo). */
function warpMarkers(node) {
  const visible = (node.markers || []).map((m) => ({ ...m }));
  if (!visible.length) return visible;
  const last = visible[visible.length - 1];
  const bps = segmentBps(node);
  return visible.concat([{ beat_time: last.beat_time + 0.03125, sample_time: last.sample_time + 0.03125 / bps }]);
}

function segmentBps(node) {
  const m = node.markers;
  if (m.length < 2) return node.baseBps;
  const a = m[m.length - 2];
  const b = m[m.length - 1];
  return (b.beat_time - a.beat_time) / (b.sample_time - a.sample_time);
}

function tempoOk(markers) {
  for (let i = 1; i < markers.length; i++) {
    const bpm = 60 * (markers[i].beat_time - markers[i - 1].beat_time) /
      (markers[i].sample_time - markers[i - 1].sample_time);
    if (!(bpm >= 5 && bpm <= 999)) return false;
  }
  return true;
}

function warpCall(node, fn, args, post) {
  const markers = node.markers;
  const at = (beat) => markers.findIndex((m) => Math.abs(m.beat_time - beat) < 1e-9);
  if (!node.warping) return post("add/move/remove_warp_marker: only for warped clips");
  if (fn === "remove_warp_marker") {
    const i = at(Number(args[0]));
    if (i < 0 || markers.length === 1) return post("remove_warp_marker: no such marker");
    markers.splice(i, 1);
    return;
  }
  if (fn === "move_warp_marker") {
    const i = at(Number(args[0]));
    if (i < 0) return post("move_warp_marker: no such marker");
    const moved = markers.map((m) => ({ ...m }));
    moved[i].beat_time += Number(args[1]);
    const left = moved[i - 1];
    const right = moved[i + 1];
    if ((left && moved[i].beat_time <= left.beat_time) || (right && moved[i].beat_time >= right.beat_time) ||
        !tempoOk(moved)) {
      return post("move_warp_marker: not possible");
    }
    node.markers = moved;
    return;
  }
  // add_warp_marker: a Dict {beat_time, sample_time}
  const dict = args[0];
  if (!dict || typeof dict.get !== "function") return post("add_warp_marker: expects a dictionary");
  const beat = Number(dict.get("beat_time"));
  let sample = dict.get("sample_time");
  if (sample === undefined) {
    const first = markers[0];
    sample = first.sample_time + (beat - first.beat_time) / node.baseBps;
  }
  sample = Number(sample);
  if (sample < 0 || sample > node.seconds + 1e-9) return post("add_warp_marker: sample time outside the file");
  if (markers.some((m) => Math.abs(m.sample_time - sample) < 1e-9 || Math.abs(m.beat_time - beat) < 1e-9)) {
    return;   // silently refused: a marker is already there
  }
  const added = markers.concat([{ beat_time: beat, sample_time: sample }])
    .sort((x, y) => x.beat_time - y.beat_time);
  for (let i = 1; i < added.length; i++) {
    if (added[i].sample_time <= added[i - 1].sample_time) return post("add_warp_marker: out of order");
  }
  if (!tempoOk(added)) return post("add_warp_marker: segment tempo out of range");
  node.markers = added;
}

function atLeast(version, wanted) {
  for (let i = 0; i < wanted.length; i++) {
    if (version[i] !== wanted[i]) return version[i] > wanted[i];
  }
  return true;
}

function callFn(set, kind, node, fn, args, post) {
  if (kind === "app") {
    if (fn === "get_major_version") return set.version[0];
    if (fn === "get_minor_version") return set.version[1];
    if (fn === "get_bugfix_version") return set.version[2];
  }
  if (kind === "song" && fn === "create_audio_track") {
    const at = args[0] === -1 ? set.tracks.length : args[0];
    set.tracks.splice(at, 0, makeTrack(set, { type: "audio", name: "Audio" }));
    set.undo.push("Insert Audio Track");
    return undefined;
  }
  if (kind === "song" && fn === "create_scene") {
    const at = args[0] === -1 ? set.sceneList.length : args[0];
    const scene = { name: "" };
    set.sceneList.splice(at, 0, scene);
    set.tracks.forEach((t) => t.slots.splice(at, 0, null));
    set.undo.push("Insert Scene");
    return ["id", idFor(set, scene, "scene")];
  }
  if (fn === "create_audio_clip") {
    // Live 12.0.5 added both; older Lives print an error and go on.  A frozen
    // track refuses it too.
    if (!atLeast(set.version, [12, 0, 5])) {
      post(`${fn}: no such function`);
      return undefined;
    }
    const track = kind === "slot" ? node.track : trackOf(set, node);
    if (!track || track.frozen || track.type !== "audio") return undefined;
    set.undo.push("Create Clip");
    if (kind === "track" || kind === "lane") {
      const clip = newAudioClip(set, args[0], { start_time: args[1] });
      clip.arrLength = clip.loop_end;
      node.arrangement.push(clip);
      node.arrangement.sort((a, b) => a.start_time - b.start_time);
      return ["id", idFor(set, clip, "clip")];
    }
    if (kind === "slot" && !track.slots[node.index]) {
      track.slots[node.index] = newAudioClip(set, args[0], {});
    }
    return undefined;
  }
  if (kind === "clip" && ["add_warp_marker", "move_warp_marker", "remove_warp_marker"].includes(fn)) {
    const before = JSON.stringify(node.markers);
    const answer = warpCall(node, fn, args, post);
    if (JSON.stringify(node.markers) !== before) set.undo.push(fn);
    return answer;
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

/** Max's Dict, as far as the device uses it. */
function Dict() {
  const data = {};
  this.set = (key, value) => { data[key] = value; };
  this.get = (key) => data[key];
}

/** Max's File object: bytes land in set.files (and on disk with writeFiles). */
function makeFile(set, writeFiles) {
  return function File(filename, access) {
    const bytes = [];
    this.filename = filename;
    this.access = access;
    this.isopen = access === "write" && !set.failWrites &&
      (!writeFiles || fs.existsSync(path.dirname(filename)));
    this.position = 0;
    this.eof = 0;
    this.writebytes = (list) => {
      if (!this.isopen) return;
      for (const b of list) {
        if (!Number.isInteger(b) || b < 0 || b > 255) throw new Error(`File.writebytes: not a byte: ${b}`);
        bytes.push(b);
      }
      this.position = bytes.length;
    };
    // "read": the file on disk (Max's File reference: readbytes(count) answers up to
    // count bytes from position as numbers).
    const onDisk = access === "read" && fs.existsSync(filename) ? fs.readFileSync(filename) : null;
    if (access === "read") {
      this.isopen = !!onDisk;
      this.eof = onDisk ? onDisk.length : 0;
    }
    this.readbytes = (count) => {
      if (!onDisk) return null;
      const got = Array.from(onDisk.subarray(this.position, this.position + count));
      this.position += got.length;
      return got;
    };
    this.close = () => {
      if (!this.isopen || access === "read") { this.isopen = false; return; }
      const data = Buffer.from(bytes.slice(0, this.eof || bytes.length));
      set.files[filename] = data;
      if (writeFiles) fs.writeFileSync(filename, data);
      this.isopen = false;
    };
  };
}

/** Bytes of the OSC datagram udpsend makes from Max atoms (ints and floats 4 bytes each). */
function oscBytes(atoms) {
  const str = (s) => Math.ceil((Buffer.byteLength(String(s), "utf8") + 1) / 4) * 4;
  let size = str(atoms[0]) + Math.ceil((atoms.length + 1) / 4) * 4;
  for (const a of atoms.slice(1)) size += typeof a === "number" ? 4 : str(a);
  return size;
}

// -- the patch, as far as the tests need it --------------------------------------

function loadPatch() {
  const patcher = JSON.parse(fs.readFileSync(PATCH_PATH, "utf8")).patcher;
  const boxes = new Map(patcher.boxes.map((b) => [b.box.id, b.box]));
  const feeds = (id, outlet = 0) => patcher.lines.map((l) => l.patchline)
    .filter((l) => l.source[0] === id && l.source[1] === outlet).map((l) => boxes.get(l.destination[0]));
  const byVarname = (name) => [...boxes.values()].find((b) => b.varname === name);
  const param = (box) => box && box.parameter_enable && box.saved_attribute_attributes
    ? box.saved_attribute_attributes.valueof : null;
  return { boxes, feeds, byVarname, param };
}

/** The parameter's undo step when it changes, or null for a hidden one. */
function undoStep(patch, box) {
  const p = patch.param(box);
  return p && p.parameter_invisible !== 2 ? `Change ${p.parameter_longname}` : null;
}

/** Max atoms of a word: "007" -> 7, "0.50" -> 0.5, else a symbol. */
function maxAtom(word) {
  if (/^[-+]?\d+$/.test(word)) return parseInt(word, 10);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(word)) return parseFloat(word);
  return word;
}

/**
 * The messages a [textedit] sends for `text`: outputmode 1 ("Output as One
 * Symbol") gives "text <one symbol>"; list mode parses the text as a Max
 * message, where a comma or semicolon ends it and the next word starts another.
 */
function texteditMessages(text, outputmode) {
  if (outputmode === 1) return [["text", text]];
  const parts = text.split(/[,;]/);
  const messages = [["text", ...parts[0].split(/\s+/).filter(Boolean).map(maxAtom)]];
  for (const part of parts.slice(1)) {
    const atoms = part.split(/\s+/).filter(Boolean).map(maxAtom);
    if (atoms.length) messages.push(typeof atoms[0] === "number" ? ["list", ...atoms] : atoms.map(String));
  }
  return messages;
}

/**
 * A [umenu] as the device drives it (Max reference, umenu): `clear` removes every item;
 * `append <message>` adds one item whose text is the message's atoms joined by spaces (a
 * symbol with spaces stays one item); `set <int>` shows an item without output; `checkitem
 * <int> <0|1>` marks it.  A click (choose) outputs the index from the left outlet and the
 * text from the middle one, as a list of atoms where the text has spaces.  Messages a umenu
 * does not take raise, so a script sending one fails here rather than in Max's console.
 */
function makeUmenu(box) {
  // The inspector's items: commas separate them (["engine", "default"] is one item).
  const items = (box.items || []).join(" ").split(/\s*,\s*/).filter(Boolean);
  const menu = { box, items, shown: 0, checked: new Set() };
  menu.receive = (atoms) => {
    const [verb, ...rest] = atoms;
    if (verb === "clear") { menu.items = []; menu.shown = null; menu.checked.clear(); return; }
    if (verb === "append") { menu.items.push(rest.map(String).join(" ")); return; }
    if (verb === "set") {
      if (rest.length !== 1 || typeof rest[0] !== "number") throw new Error(`umenu set takes one number, got ${rest}`);
      menu.shown = Math.max(0, Math.min(Math.floor(rest[0]), menu.items.length - 1));
      return;
    }
    if (verb === "checkitem") { if (rest[1]) menu.checked.add(rest[0]); else menu.checked.delete(rest[0]); return; }
    throw new Error(`umenu does not take "${verb}"`);
  };
  return menu;
}

/**
 * Load the device script. Returns {set, out, posts, clock, send, osc, ui, mkdir, ...}.
 * options.Task replaces the manual clock (e.g. RealTask); options.onOutlet(n, atoms, info);
 * options.writeFiles writes Max File output to disk; options.udpMax (default 9216, macOS).
 */
function loadDevice(set, options = {}) {
  const clock = makeClock();
  const out = [];   // [{outlet, atoms, dropped}]
  const posts = [];
  const patch = loadPatch();
  const udpMax = options.udpMax || MACOS_UDP_MAX;
  const post = (...parts) => posts.push(parts.join(" "));
  const js = [...patch.boxes.values()].find((b) => /^js /.test(b.text || ""));
  const [route] = patch.feeds(js.id, 1);   // the UI's route (outlet 3 feeds the preview player's)
  const routeNames = route.text.split(" ").slice(1);
  const umenus = new Map([...patch.boxes.values()].filter((b) => b.maxclass === "umenu")
    .map((b) => [b.id, makeUmenu(b)]));
  const context = {
    post,
    outlet: (n, ...atoms) => {
      const flat = Array.from(atoms.length === 1 && Array.isArray(atoms[0]) ? atoms[0] : atoms);
      const dropped = n === 0 && oscBytes(flat) > udpMax;
      out.push({ outlet: n, atoms: flat, dropped });
      if (n === 1) {
        // What the script writes into the UI: a stored parameter adds an undo step.
        const index = routeNames.indexOf(flat[0]);
        for (const box of index >= 0 ? patch.feeds(route.id, index) : []) {
          if (umenus.has(box.id)) umenus.get(box.id).receive(flat.slice(1));
          const targets = /^prepend set$/.test(box.text || "") ? patch.feeds(box.id) : [box];
          for (const t of targets) {
            const step = undoStep(patch, t);
            if (step) set.undo.push(step);
          }
        }
      }
      if (options.onOutlet) options.onOutlet(n, flat, { dropped });
    },
    arrayfromargs: (args) => Array.prototype.slice.call(args),
    LiveAPI: makeLiveAPI(set, post),
    Task: options.Task || clock.Task,
    File: makeFile(set, !!options.writeFiles),
    Dict,
    messagename: "",
    Math: Object.create(Math),
  };
  if (options.random) context.Math.random = options.random;
  vm.createContext(context);
  if (!options.Task) {
    // Date.now() follows the manual clock, as the Task timers do (new Date() stays real).
    context.__clockNow = () => 1.7e12 + clock.now;
    vm.runInContext("Date.now = function () { return __clockNow(); };", context);
  }
  const loaded = new Map();
  context.require = (name) => {
    if (/[\/\\]|\.js$/.test(name)) throw new Error(`require("${name}"): Max looks a module up by its bare name`);
    if (!loaded.has(name)) {
      const file = path.join(DEVICE_DIR, `${name}.js`);
      const exports = {};
      loaded.set(name, exports);
      const wrapped = `(function (exports) {${fs.readFileSync(file, "utf8")}\n})`;
      vm.runInContext(wrapped, context, { filename: file })(exports);
    }
    return loaded.get(name);
  };
  vm.runInContext(fs.readFileSync(DEVICE_JS, "utf8"), context, { filename: DEVICE_JS });

  const device = {
    set, out, posts, clock, context, patch,
    /** The modules the script has require()d so far, in load order (bare names). */
    modules: () => [...loaded.keys()],
    /** Send a Max message (what an inlet would receive). */
    send(name, ...args) {
      context.messagename = name;
      const fn = typeof context[name] === "function" && !name.startsWith("/")
        ? context[name] : context.anything;
      if (typeof fn !== "function") throw new Error(`the script has no function ${name}`);
      fn.apply(context, args);
    },
    /** Type `text` into the prompt box and let the patch deliver it, as wired. */
    typePrompt(text) {
      const box = [...patch.boxes.values()].find((b) => b.maxclass === "textedit");
      const [next] = patch.feeds(box.id);
      const prefix = next && /^prepend /.test(next.text) ? next.text.split(" ").slice(1) : [];
      for (const message of texteditMessages(text, box.outputmode || 0)) {
        const full = prefix.concat(message);
        if (typeof context[full[0]] === "function") device.send(full[0], ...full.slice(1));
        else posts.push(`js: no function ${full[0]}`);
      }
    },
    /** The [umenu] fed by the route's `name` outlet: {items, shown, checked}. */
    umenu(name = "models") {
      const [box] = patch.feeds(route.id, routeNames.indexOf(name)).filter((b) => umenus.has(b.id));
      return umenus.get(box.id);
    },
    /** Choose item `index` of that umenu with the mouse: its outputs travel the patch's wires. */
    choose(index, name = "models") {
      const menu = device.umenu(name);
      if (!(index >= 0 && index < menu.items.length)) throw new Error(`no item ${index} in ${menu.items}`);
      menu.shown = index;
      const outputs = [[index], menu.items[index].split(" ").map(maxAtom)];
      outputs.forEach((atoms, outlet) => {
        for (const next of patch.feeds(menu.box.id, outlet)) {
          const words = /^prepend /.test(next.text || "") ? next.text.split(" ").slice(1) : null;
          if (!words) throw new Error(`umenu outlet ${outlet} feeds ${next.text}: not modelled`);
          const full = words.concat(atoms);
          device.send(full[0], ...full.slice(1));
        }
      });
    },
    /** Click a live.text button of the patch by its varname (Generate, Cancel, Continue). */
    click(varname) {
      const box = patch.byVarname(varname);
      const step = undoStep(patch, box);
      if (step) set.undo.push(step);
      const [trigger] = patch.feeds(box.id);
      device.send(trigger.text.split(" ")[1]);
    },
    osc: () => out.filter((o) => o.outlet === 0 && !o.dropped).map((o) => o.atoms),
    dropped: () => out.filter((o) => o.outlet === 0 && o.dropped).map((o) => o.atoms),
    ui: (kind) => out.filter((o) => o.outlet === 1 && (!kind || o.atoms[0] === kind))
      .map((o) => o.atoms.slice(1)),
    mkdir: () => out.filter((o) => o.outlet === 2).map((o) => o.atoms),
    /** Messages to the preview player (outlet 3): [route word, ...atoms]. */
    audio: () => out.filter((o) => o.outlet === 3).map((o) => o.atoms),
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

// The device loaded in a set and initialised, its replies expected on REPLY_PORT.
const REPLY_PORT = 47123;
function ready(set, options) {
  const device = loadDevice(set, options);
  device.send("replyport", REPLY_PORT);
  device.send("init");
  return device;
}

// The last OSC message the device sent to `address`.
function lastOsc(device, address) {
  return device.osc().filter((m) => m[0] === address).at(-1);
}

module.exports = {
  makeSet, loadDevice, ready, lastOsc, REPLY_PORT, makeClock, RealTask, pairs, DEVICE_JS, PATCH_PATH,
  insertTrack, deleteTrack, deleteScene, moveClip, texteditMessages, oscBytes, loadPatch, fileInfo,
};
