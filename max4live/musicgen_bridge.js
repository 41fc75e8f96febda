// musicgen_bridge.js -- the brain of "MusicGen Bridge.amxd" (Max `js` object, ES5).
//
// The patch only wires: UI objects -> this script -> [udpsend 127.0.0.1 9000];
// [udpreceive] -> [deferlow] -> this script -> UI objects.
//
// Layout of this file:
//   1. settings and state
//   2. messages from the patch (init, prompt, bars, model, seed, generate, cancel, ...)
//   3. HANDLERS: one function per engine reply address (/musicgen/...)
//   4. LIVE: every Live API call, in one place (nothing else touches LiveAPI)
//   5. small helpers (ids, paths, timers)
//
// Outlets: 0 -> udpsend (OSC messages), 1 -> UI (route status progress reachable
// models seed port), 2 -> node.script musicgen_mkdir.js (folder creation).
//
// Threading: the js object runs in Max's low-priority (main) thread; replies
// reach it through [deferlow] and UI clicks arrive there too, so the Live API is
// never called from the high-priority scheduler.  Task (timer) callbacks only
// send pings and update the status line; they never call LiveAPI.
// Nothing touches LiveAPI before live.thisdevice has banged `init`.

autowatch = 0;
inlets = 1;
outlets = 3;

var OUT_OSC = 0;
var OUT_UI = 1;
var OUT_MKDIR = 2;

// -- 1. settings and state ----------------------------------------------------

var SETTINGS = {
    engineHost: "127.0.0.1",
    enginePort: 9000,          // bridge.protocol.DEFAULT_PORT
    replyPortLow: 47000,       // device-chosen reply port range (random per device)
    replyPortHigh: 48999,
    replyTimeoutMs: 3000,      // no first answer to a request -> engine not running
    pingEveryMs: 5000,         // engine-reachable indicator refresh
    jobSilenceMs: 20000,       // silence during a job -> check the engine is alive
    mkdirTimeoutMs: 3000,      // node.script helper answer
    subfolder: ["Samples", "Generated", "MusicGen"]
};

var NOT_RUNNING = "Engine not running? Start it with `musicgen-bridge serve`";

var state = {
    ready: false,              // live.thisdevice has fired
    replyPort: 0,
    prompt: "",
    bars: 4,
    model: null,               // null = the engine's loaded model
    seed: 0,
    seedLocked: false,
    counter: 0,
    job: null,                 // {id, prompt, seed, placement, timer}
    pending: {},               // request id -> {kind, timer}
    mkdir: null,               // {token, request, timer}
    reachable: -1,
    pingTask: null
};

// -- 2. messages from the patch -----------------------------------------------

// live.thisdevice -> deferlow -> init: the Live API is usable from here on.
function init() {
    state.ready = true;
    if (!state.replyPort) {
        var span = SETTINGS.replyPortHigh - SETTINGS.replyPortLow + 1;
        state.replyPort = SETTINGS.replyPortLow + Math.floor(Math.random() * span);
    }
    outlet(OUT_UI, "port", state.replyPort);
    setStatus("Ready. Reply port " + state.replyPort + ".");
    ping();
    models();
    if (!state.pingTask) {
        state.pingTask = new Task(ping, this);
        state.pingTask.interval = SETTINGS.pingEveryMs;
        state.pingTask.repeat();
    }
}

// Tests and power users: fix the reply port (also re-tells udpreceive).
function replyport(port) {
    state.replyPort = Math.floor(port);
    outlet(OUT_UI, "port", state.replyPort);
}

// [textedit] sends "text word word ..."; joined back into one prompt string.
function text() {
    state.prompt = joinAtoms(arrayfromargs(arguments));
}

function prompt() {
    state.prompt = joinAtoms(arrayfromargs(arguments));
}

function bars(value) {
    state.bars = clamp(Math.round(value), 1, 64);
}

// umenu item text; the first item means "whatever the engine has loaded".
function model() {
    var name = joinAtoms(arrayfromargs(arguments));
    state.model = (!name || name.indexOf("engine default") === 0) ? null : name;
}

function seed(value) {
    state.seed = clamp(Math.floor(value), 0, 2147483647);
}

function lockseed(on) {
    state.seedLocked = !!on;
}

function ping() {
    if (!state.ready) {
        return;
    }
    request("ping", {}, function () {
        setReachable(0);
        if (!state.job) {
            setStatus(NOT_RUNNING);
        }
    });
}

function models() {
    if (!state.ready) {
        return;
    }
    request("models", {}, function () {
        setReachable(0);
    });
}

function status() {
    if (!state.ready) {
        return;
    }
    request("status", {}, function () {
        setReachable(0);
        setStatus(NOT_RUNNING);
    });
}

// Generate: read the Live Set, make the output folder, then send the request.
function generate() {
    if (!state.ready) {
        setStatus("The device is still loading; try again in a moment.");
        return;
    }
    if (state.job) {
        setStatus("Already generating. Press Cancel first.");
        return;
    }
    var promptText = trim(state.prompt);
    if (!promptText) {
        setStatus("Type a prompt first.");
        return;
    }
    var song = LIVE.readSong();
    var clip = LIVE.readSelectedClip();
    var placement = LIVE.planPlacement(clip);
    if (!state.seedLocked) {
        state.seed = Math.floor(Math.random() * 2147483647);
        outlet(OUT_UI, "seed", state.seed);
    }
    var fields = [
        "prompt", promptText,
        "bars", state.bars,
        "bpm", song.bpm,
        "timesig", song.numerator + "/" + song.denominator,
        "seed", state.seed
    ];
    if (state.model) {
        fields.push("model", state.model);
    }
    var job = {
        id: newId("gen"),
        prompt: promptText,
        seed: state.seed,
        fields: fields,
        placement: placement,
        clip: clip,
        timer: null
    };
    state.job = job;
    setProgress(0);
    if (song.folder) {
        askForFolder(job, joinPath(song.folder, SETTINGS.subfolder));
    } else {
        setStatus("Set not saved yet: the take goes to the engine's folder.");
        sendGenerate(job, null);
    }
}

function cancel() {
    if (!state.job) {
        setStatus("Nothing to cancel.");
        return;
    }
    if (state.mkdir && state.mkdir.job === state.job) {
        stopTimer(state.mkdir.timer);
        state.mkdir = null;
        finishJob("Cancelled.");
        return;
    }
    request("cancel", { job: state.job.id }, function () {
        setStatus(NOT_RUNNING);
    });
}

// node.script musicgen_mkdir.js answers "made <token> <path>" ...
function made(token) {
    var pending = takeMkdir(token);
    if (pending) {
        sendGenerate(pending.job, pending.path);
    }
}

// ... or "mkfail <token> <message...>".
function mkfail(token) {
    var pending = takeMkdir(token);
    if (pending) {
        var why = joinAtoms(arrayfromargs(arguments).slice(1));
        setStatus("Could not create " + pending.path + " (" + why + "); using the engine's folder.");
        sendGenerate(pending.job, null);
    }
}

// Engine replies (through udpreceive): the address is the message name.
function anything() {
    var handler = HANDLERS[messagename];
    if (!handler) {
        post("musicgen_bridge: ignored message " + messagename + "\n");
        return;
    }
    handler(arrayfromargs(arguments));
}

// -- 3. HANDLERS: engine reply address -> function(args) ----------------------

var HANDLERS = {
    "/musicgen/queued": function (args) {
        var job = jobFor(args[0]);
        if (!job) {
            return;
        }
        setReachable(1);
        watchJob(job);
        var ahead = args[1];
        setStatus(ahead > 0 ? "Queued: " + ahead + " take(s) ahead." : "Starting...");
    },

    "/musicgen/progress": function (args) {
        var job = jobFor(args[0]);
        if (!job) {
            return;
        }
        watchJob(job);
        setProgress(args[1]);
        setStatus(stageWords(args[2]) + " " + Math.round(args[1] * 100) + "%");
    },

    "/musicgen/done": function (args) {
        var job = jobFor(args[0]);
        if (!job) {
            return;
        }
        var paths = args.slice(1);
        setProgress(1);
        var results = [];
        for (var i = 0; i < paths.length; i++) {
            results.push(LIVE.placeAudio(String(paths[i]), job.placement, clipName(job, i)));
        }
        var failed = [];
        for (var j = 0; j < results.length; j++) {
            if (!results[j].placed) {
                failed.push(results[j].reason + " Drag it in from: " + paths[j]);
            }
        }
        if (failed.length) {
            finishJob(failed.join(" "));
        } else {
            finishJob("Placed \"" + clipName(job, 0) + "\" " + results[0].where + ".");
        }
    },

    "/musicgen/error": function (args) {
        var id = args[0];
        var code = String(args[1]);
        var message = joinAtoms(args.slice(2));
        if (state.job && state.job.id === id) {
            finishJob(code === "cancelled" ? "Cancelled." : "Engine error: " + message + " (" + code + ")");
            return;
        }
        if (takePending(id) || id === "") {
            setStatus("Engine error: " + message + " (" + code + ")");
        }
    },

    "/musicgen/pong": function (args) {
        if (!takePending(args[0])) {
            return;
        }
        var previous = state.reachable;
        var wasDown = previous !== 1;
        setReachable(1);
        if (wasDown && !state.job) {
            setStatus("Engine " + args[1] + " " + args[2] + ", model " + args[3] + ".");
        }
        if (previous === 0 && !state.job) {
            models();   // the engine (re)started: refresh the model menu
        }
    },

    "/musicgen/status": function (args) {
        if (!takePending(args[0])) {
            return;
        }
        setReachable(1);
        setStatus("Engine " + args[1] + ", model " + args[2] + " on " + args[3] +
                  ", " + args[5] + " queued.");
    },

    "/musicgen/models": function (args) {
        if (!takePending(args[0])) {
            return;
        }
        setReachable(1);
        outlet(OUT_UI, "models", "clear");
        outlet(OUT_UI, "models", "append", "engine default (" + args[1] + ")");
        for (var i = 2; i < args.length; i++) {
            if (String(args[i]) !== String(args[1])) {
                outlet(OUT_UI, "models", "append", String(args[i]));
            }
        }
    },

    "/musicgen/cancel": function (args) {
        if (!takePending(args[0])) {
            return;
        }
        if (state.job && state.job.id === args[1]) {
            finishJob("Cancelled (it was " + args[2] + ").");
        }
    }
};

// -- 4. LIVE: every Live API call ---------------------------------------------

var LIVE = {
    api: function (path) {
        return new LiveAPI(path);
    },

    exists: function (api) {
        return api && api.id !== undefined && String(api.id) !== "0";
    },

    first: function (api, prop) {
        var value = api.get(prop);
        return (value && value.length !== undefined && typeof value !== "string") ? value[0] : value;
    },

    canonical: function (api) {
        var path = api.unquotedpath || String(api.path || "");
        return path.replace(/"/g, "");
    },

    // Tempo (quarter notes per minute), time signature, and the set's folder.
    readSong: function () {
        var song = this.api("live_set");
        var filePath = "";
        try {
            filePath = String(this.first(song, "file_path") || "");  // Live 11.3.25+
        } catch (e) {
            filePath = "";
        }
        return {
            bpm: Number(this.first(song, "tempo")),
            numerator: Math.round(this.first(song, "signature_numerator")),
            denominator: Math.round(this.first(song, "signature_denominator")),
            folder: filePath ? parentFolder(filePath) : ""
        };
    },

    // The clip shown in Live's detail view, or null.  Everything issue 3
    // (melody / continuation) will need is read here, placement uses the rest.
    readSelectedClip: function () {
        var clip = this.api("live_set view detail_clip");
        if (!this.exists(clip)) {
            return null;
        }
        var where = parseClipPath(this.canonical(clip));
        var info = {
            kind: this.first(clip, "is_midi_clip") ? "midi" : "audio",
            name: String(this.first(clip, "name") || ""),
            trackIndex: where.track,
            slotIndex: where.slot,
            arrangement: where.arrangement,
            position: where.arrangement ? Number(this.first(clip, "start_time")) : null,
            filePath: null,
            notes: null
        };
        if (info.kind === "audio") {
            info.filePath = this.audioClipFile(clip);
        } else {
            info.notes = this.clipNotes(clip);
        }
        return info;
    },

    // An audio clip's file (absolute path), or null.
    audioClipFile: function (clip) {
        var path = this.first(clip, "file_path");
        return path ? String(path) : null;
    },

    // MIDI notes of the playing region, in beats relative to its start:
    // the loop when looping, else start_marker..end_marker.  Muted notes and
    // notes outside the region are dropped; notes crossing the end are cut.
    // Returns [{pitch, start, length, velocity}] sorted by start then pitch.
    clipNotes: function (clip) {
        var looping = this.first(clip, "looping");
        var from = Number(this.first(clip, looping ? "loop_start" : "start_marker"));
        var to = Number(this.first(clip, looping ? "loop_end" : "end_marker"));
        var raw = clip.call("get_notes_extended", 0, 128, from, to - from);
        var parsed = parseNotesReply(raw);
        var notes = [];
        for (var i = 0; i < parsed.length; i++) {
            var n = parsed[i];
            if (n.mute || n.start_time < from || n.start_time >= to) {
                continue;
            }
            notes.push({
                pitch: n.pitch,
                start: roundBeats(n.start_time - from),
                length: roundBeats(Math.min(n.duration, to - n.start_time)),
                velocity: n.velocity
            });
        }
        notes.sort(function (a, b) { return a.start - b.start || a.pitch - b.pitch; });
        return notes;
    },

    // Where the take will go, decided when Generate is pressed (the user may
    // click elsewhere while it renders).
    planPlacement: function (clip) {
        var selectedTrack = this.selectedTrackIndex();
        if (clip && clip.arrangement) {
            return { view: "arrangement", afterTrack: clip.trackIndex, position: clip.position };
        }
        if (clip) {
            return { view: "session", afterTrack: clip.trackIndex, slot: clip.slotIndex };
        }
        if (this.focusedView() === "Arranger") {
            var song = this.api("live_set");
            return { view: "arrangement", afterTrack: selectedTrack,
                     position: Number(this.first(song, "current_song_time")) };
        }
        return { view: "session", afterTrack: selectedTrack, slot: this.selectedSceneIndex() };
    },

    selectedTrackIndex: function () {
        var track = this.api("live_set view selected_track");
        if (!this.exists(track)) {
            return -1;
        }
        var match = /tracks (\d+)/.exec(this.canonical(track));
        return match ? Number(match[1]) : -1;      // -1: return/master track
    },

    selectedSceneIndex: function () {
        var scene = this.api("live_set view selected_scene");
        var match = this.exists(scene) ? /scenes (\d+)/.exec(this.canonical(scene)) : null;
        return match ? Number(match[1]) : 0;
    },

    focusedView: function () {
        return String(this.first(this.api("live_app view"), "focused_document_view") || "");
    },

    // Live 12 added Track.create_audio_clip / ClipSlot.create_audio_clip.
    canCreateAudioClips: function () {
        var app = this.api("live_app");
        return Number(app.call("get_major_version")) >= 12;
    },

    // Put one WAV on a new audio track right under the source track.
    // Returns {placed, where, reason}.
    placeAudio: function (path, placement, name) {
        if (!this.canCreateAudioClips()) {
            return { placed: false, reason: "This Live version cannot place audio from a device (needs Live 12)." };
        }
        var song = this.api("live_set");
        var count = song.getcount("tracks");
        var index = placement.afterTrack >= 0 ? Math.min(placement.afterTrack + 1, count) : count;
        song.call("create_audio_track", index);
        var trackPath = "live_set tracks " + index;
        var track = this.api(trackPath);
        if (!this.exists(track) || !this.first(track, "has_audio_input")) {
            return { placed: false, reason: "Live did not create the audio track." };
        }
        track.set("name", "MusicGen");
        if (placement.view === "arrangement") {
            var before = track.getcount("arrangement_clips");
            track.call("create_audio_clip", path, placement.position);
            if (track.getcount("arrangement_clips") <= before) {
                return { placed: false, reason: "Live refused the file." };
            }
            var clip = this.api(trackPath + " arrangement_clips " + before);
            clip.set("name", name);
            return { placed: true, where: "at beat " + placement.position + " on track " + (index + 1) };
        }
        var slot = this.freeSlot(trackPath, placement.slot);
        if (slot < 0) {
            return { placed: false, reason: "No free clip slot." };
        }
        var slotPath = trackPath + " clip_slots " + slot;
        this.api(slotPath).call("create_audio_clip", path);
        if (!this.first(this.api(slotPath), "has_clip")) {
            return { placed: false, reason: "Live refused the file." };
        }
        this.api(slotPath + " clip").set("name", name);
        return { placed: true, where: "in slot " + (slot + 1) + " of track " + (index + 1) };
    },

    // The wanted slot if free, else the next free one below it, else -1.
    freeSlot: function (trackPath, wanted) {
        var count = this.api(trackPath).getcount("clip_slots");
        for (var i = Math.max(wanted || 0, 0); i < count; i++) {
            if (!this.first(this.api(trackPath + " clip_slots " + i), "has_clip")) {
                return i;
            }
        }
        return -1;
    }
};

// -- 5. helpers -----------------------------------------------------------------

function request(kind, fields, onTimeout) {
    var id = newId(kind);
    var message = ["/musicgen/" + kind, "id", id, "reply_port", state.replyPort];
    for (var key in fields) {
        if (fields.hasOwnProperty(key)) {
            message.push(key, fields[key]);
        }
    }
    var entry = { kind: kind, timer: null };
    state.pending[id] = entry;
    entry.timer = startTimer(function () {
        if (state.pending[id] === entry) {
            delete state.pending[id];
            onTimeout();
        }
    }, SETTINGS.replyTimeoutMs);
    outlet(OUT_OSC, message);
    return id;
}

function askForFolder(job, path) {
    var token = newId("dir");
    var entry = { token: token, job: job, path: path, timer: null };
    state.mkdir = entry;
    entry.timer = startTimer(function () {
        if (state.mkdir === entry) {
            state.mkdir = null;
            setStatus("Folder helper did not answer; using the engine's folder.");
            sendGenerate(job, null);
        }
    }, SETTINGS.mkdirTimeoutMs);
    setStatus("Preparing " + path);
    outlet(OUT_MKDIR, "mkdir", token, path);
}

function takeMkdir(token) {
    var entry = state.mkdir;
    if (!entry || entry.token !== token) {
        return null;
    }
    stopTimer(entry.timer);
    state.mkdir = null;
    return entry;
}

function sendGenerate(job, outDir) {
    if (state.job !== job) {
        return;
    }
    var message = ["/musicgen/generate", "id", job.id, "reply_port", state.replyPort]
        .concat(job.fields);
    if (outDir) {
        message.push("out_dir", outDir);
    }
    job.outDir = outDir;
    job.timer = startTimer(function () {
        if (state.job === job) {
            setReachable(0);
            finishJob(NOT_RUNNING);
        }
    }, SETTINGS.replyTimeoutMs);
    setStatus("Sent to the engine...");
    outlet(OUT_OSC, message);
}

// Any reply for the job restarts its silence watchdog: after jobSilenceMs
// without news, ask the engine whether it is still there.
function watchJob(job) {
    stopTimer(job.timer);
    job.timer = startTimer(function () {
        if (state.job !== job) {
            return;
        }
        request("ping", {}, function () {
            if (state.job === job) {
                setReachable(0);
                finishJob("The engine stopped answering. " + NOT_RUNNING);
            }
        });
        watchJob(job);
    }, SETTINGS.jobSilenceMs);
}

function jobFor(id) {
    return (state.job && state.job.id === id) ? state.job : null;
}

function finishJob(message) {
    if (state.job) {
        stopTimer(state.job.timer);
    }
    state.job = null;
    setStatus(message);
}

function takePending(id) {
    var entry = state.pending[id];
    if (!entry) {
        return null;
    }
    stopTimer(entry.timer);
    delete state.pending[id];
    return entry;
}

function startTimer(fn, ms) {
    var task = new Task(fn, this);
    task.schedule(ms);
    return task;
}

function stopTimer(task) {
    if (task) {
        task.cancel();
    }
}

function setStatus(message) {
    outlet(OUT_UI, "status", message);
}

function setProgress(fraction) {
    outlet(OUT_UI, "progress", clamp(Number(fraction) || 0, 0, 1));
}

function setReachable(on) {
    state.reachable = on;
    outlet(OUT_UI, "reachable", on);
}

function stageWords(stage) {
    var words = { loading: "Loading model", generating: "Generating", writing: "Writing file" };
    return words[stage] || String(stage);
}

// Ids: printable ASCII, no spaces, <= 64 chars, and starting with a letter so
// Max never turns them into numbers.
function newId(kind) {
    state.counter += 1;
    return "m4l-" + kind + "-" + state.replyPort + "-" + state.counter;
}

function clipName(job, index) {
    var base = job.prompt.length > 40 ? job.prompt.substring(0, 40) + "..." : job.prompt;
    return base + (index > 0 ? " (" + (index + 1) + ")" : "");
}

function parseClipPath(path) {
    var arrangement = /tracks (\d+) arrangement_clips (\d+)/.exec(path);
    if (arrangement) {
        return { track: Number(arrangement[1]), slot: null, arrangement: true };
    }
    var session = /tracks (\d+) clip_slots (\d+)/.exec(path);
    if (session) {
        return { track: Number(session[1]), slot: Number(session[2]), arrangement: false };
    }
    return { track: -1, slot: null, arrangement: false };
}

// get_notes_extended answers a JSON dictionary {"notes": [...]}, as a string
// (sometimes wrapped in a one-element array by the js bridge).
function parseNotesReply(raw) {
    var text = raw;
    if (raw && typeof raw !== "string" && raw.length !== undefined) {
        text = Array.prototype.join.call(raw, " ");
    }
    try {
        var parsed = JSON.parse(String(text));
        return parsed && parsed.notes ? parsed.notes : [];
    } catch (e) {
        post("musicgen_bridge: could not read notes: " + e + "\n");
        return [];
    }
}

function parentFolder(filePath) {
    var cut = Math.max(filePath.lastIndexOf("/"), filePath.lastIndexOf("\\"));
    return cut > 0 ? filePath.substring(0, cut) : "";
}

function joinPath(folder, parts) {
    var sep = (folder.indexOf("\\") >= 0 && folder.indexOf("/") < 0) ? "\\" : "/";
    var path = folder.replace(/[\/\\]+$/, "");
    for (var i = 0; i < parts.length; i++) {
        path += sep + parts[i];
    }
    return path;
}

function joinAtoms(atoms) {
    var words = [];
    for (var i = 0; i < atoms.length; i++) {
        words.push(String(atoms[i]));
    }
    return words.join(" ");
}

function trim(text) {
    return String(text || "").replace(/^\s+|\s+$/g, "");
}

function clamp(value, low, high) {
    return Math.min(Math.max(value, low), high);
}

function roundBeats(value) {
    return Math.round(value * 1e6) / 1e6;
}
