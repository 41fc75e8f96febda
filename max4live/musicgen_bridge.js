// musicgen_bridge.js -- the brain of "MusicGen Bridge.amxd" (Max `js` object, ES5).
//
// The patch only wires: UI objects -> this script -> [udpsend 127.0.0.1 9000];
// [udpreceive] -> [deferlow] -> this script -> UI objects.
//
// Layout of this file:
//   1. settings and state
//   2. messages from the patch (init, prompt, bars, model, seed, melody, key,
//      variations, loop, loudness, promptseconds, samplerate, generate,
//      continueclip, cancel)
//   3. HANDLERS: one function per engine reply address (/musicgen/...)
//   4. LIVE: every Live API call, in one place (nothing else touches LiveAPI)
//   5. FILES: the one file the device writes (a dense MIDI clip as a .mid)
//   6. small helpers (ids, paths, timers, OSC sizes, MIDI bytes)
//
// Outlets: 0 -> udpsend (OSC messages), 1 -> UI (route status progress reachable
// models seed port), 2 -> node.script musicgen_mkdir.js (folder creation).
// Inlet messages also come from [dspstate~] (samplerate <Hz>: Live's rate).
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
    subfolder: ["Samples", "Generated", "MusicGen"],
    maxVariations: 4,          // the engine's default --max-variations
    maxNotes: 4096,            // protocol: melody_notes holds at most 4096 notes ...
    maxNotesChars: 60000,      // ... in at most 60000 characters
    promptSecondsLow: 0.5,     // protocol range of prompt_seconds
    promptSecondsHigh: 29,
    defaultPromptSeconds: 10,
    melodyModel: "facebook/musicgen-melody",
    maxDatagramBytes: 8192,    // macOS drops UDP datagrams over 9216 bytes without a word
    minLiveVersion: [12, 0, 5], // ClipSlot/Track.create_audio_clip
    midiTicksPerBeat: 480,
    sampleRates: [22050, 32000, 44100, 48000, 88200, 96000]   // protocol sample_rate values
};

// Menu items, in the order of the patch's live.menu items (a test keeps them equal).
var MELODY_SOURCES = ["Off", "Selected MIDI clip", "Selected audio clip"];
var MELODY_OFF = 0;
var MELODY_MIDI = 1;
var MELODY_AUDIO = 2;
// Loudness menu: Off sends nothing; the others send `loudness <LUFS>`.
var LOUDNESS = ["Off", "-14 LUFS", "-23 LUFS"];
var LOUDNESS_LUFS = [null, -14, -23];
var KEYS = ["No key", "C major", "C minor", "C# major", "C# minor", "D major", "D minor", "Eb major", "Eb minor", "E major", "E minor", "F major", "F minor", "F# major", "F# minor", "G major", "G minor", "Ab major", "Ab minor", "A major", "A minor", "Bb major", "Bb minor", "B major", "B minor"];

var NOT_RUNNING = "Engine not running? Start it with `musicgen-bridge serve`";
var LOST_JOB = "The engine no longer knows this take (was it restarted?). Ready: press Generate again.";
var RESTARTED = "The engine restarted; the take was lost. Ready: press Generate again.";

var state = {
    ready: false,              // live.thisdevice has fired
    replyPort: 0,
    prompt: "",
    bars: 4,
    model: null,               // null = the engine's loaded model
    loadedModel: "",           // what the engine has loaded (models / pong replies)
    engineReason: "",          // the last pong's reason: why no_model, or the start-up download
    menu: [],                  // the Model menu's items: {label, name, download} (modelMenu)
    melodySource: MELODY_OFF,  // index into MELODY_SOURCES
    key: null,                 // e.g. "A minor"; null = none
    variations: 1,
    loop: false,
    loudness: null,            // target LUFS, or null (Off)
    promptSeconds: 10,
    sampleRate: 0,             // Live's sample rate from [dspstate~]; 0 = not known yet
    seed: 0,
    seedLocked: false,
    counter: 0,
    job: null,                 // {id, mode, prompt, seed, fields, placement, melody, warnings, timer}
    pending: {},               // request id -> {kind, timer, onReply, job}
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

// [textedit @outputmode 1] -> [prepend prompt] -> "prompt text <the whole text>".
// Output as one symbol keeps the text verbatim: in list mode Max splits it at
// commas and semicolons (each starts a new message) and reads "007" as 7.
function prompt() {
    var atoms = arrayfromargs(arguments);
    if (atoms.length && atoms[0] === "text") {
        atoms = atoms.slice(1);          // the textedit's own "text" selector
    }
    state.prompt = joinAtoms(atoms);
}

function bars(value) {
    state.bars = clamp(Math.round(value), 1, 64);
}

// The Model umenu's index (its left outlet), or a model name as text (a message box,
// the tests).  Item 0, "engine default (...)", sends no model.  Labels are not names:
// the index maps to the name through state.menu.  A checkpoint not on this machine is
// not chosen: the status line gives the command that downloads it, and the menu goes
// back to the previous choice.
function model() {
    var atoms = arrayfromargs(arguments);
    if (atoms.length === 1 && typeof atoms[0] === "number") {
        var item = state.menu[Math.floor(atoms[0])];
        if (!item) {
            return;
        }
        if (item.download) {
            setStatus(item.name + " is not on this machine (" + item.size +
                      "). Download it first: `" + item.download + "`, then choose it again.");
            showModelChoice();
            models();   // so the menu shows it ready once it is downloaded
            return;
        }
        state.model = item.name || null;
        return;
    }
    var name = trim(joinAtoms(atoms));
    state.model = (!name || name.indexOf("engine default") === 0) ? null : name;
}

function seed(value) {
    state.seed = clamp(Math.floor(value), 0, 2147483647);
}

function lockseed(on) {
    state.seedLocked = !!on;
}

// Melody menu (live.menu index, or the item's text): Off / Selected MIDI clip /
// Selected audio clip.
function melody() {
    state.melodySource = menuIndex(arrayfromargs(arguments), MELODY_SOURCES);
}

// Key menu (index into KEYS) or any key text the engine reads ("F#m", "Bb").
function key() {
    var atoms = arrayfromargs(arguments);
    if (atoms.length === 1 && typeof atoms[0] === "number") {
        var index = menuIndex(atoms, KEYS);
        state.key = index > 0 ? KEYS[index] : null;
        return;
    }
    var text = trim(joinAtoms(atoms));
    state.key = (!text || text === KEYS[0]) ? null : text;
}

function variations(value) {
    state.variations = clamp(Math.round(value) || 1, 1, SETTINGS.maxVariations);
}

function loop(on) {
    state.loop = !!on;
}

// Loudness menu (live.menu index, or the item's text): Off / -14 LUFS / -23 LUFS.
function loudness() {
    state.loudness = LOUDNESS_LUFS[menuIndex(arrayfromargs(arguments), LOUDNESS)];
}

function promptseconds(value) {
    var seconds = Math.round(Number(value) * 10) / 10;
    state.promptSeconds = clamp(seconds || SETTINGS.defaultPromptSeconds,
                                SETTINGS.promptSecondsLow, SETTINGS.promptSecondsHigh);
}

// [dspstate~] second outlet -> prepend samplerate: Live's sample rate in Hz.
function samplerate(hz) {
    state.sampleRate = Math.round(Number(hz)) || 0;
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
    request("models", { details: 1 }, function () {
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

// Generate: a new take (following the melody source, if one is chosen).
function generate() {
    startJob("generate");
}

// Continue: the selected audio clip's file is continued by `bars` bars.
function continueclip() {
    startJob("continue");
}

// Read the Live Set, check the request, make the output folder, then send it.
function startJob(mode) {
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
    var source = mode === "continue" ? continuationFields(clip) : melodyFields(clip);
    if (source.problem) {
        setStatus(source.problem);
        return;
    }
    var beats = takeBeats(song);
    var warnings = [];
    if (song.tempoAutomated) {
        warnings.push("the tempo is automated: the take is made at " + song.bpm + " bpm, the tempo at the " +
                      "playhead; where it lands the tempo may differ and Live will stretch it to the beats " +
                      "(Live's API cannot read the tempo there)");
    }
    var placement = mode === "continue"
        ? LIVE.planContinuation(clip, beats)
        : LIVE.planPlacement(clip);
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
    if (state.key) {
        fields.push("key", state.key);
    }
    if (state.variations > 1) {
        fields.push("variations", state.variations);
    }
    if (state.loop) {
        fields.push("loop", 1);
    }
    if (state.loudness !== null) {
        fields.push("loudness", state.loudness);
    }
    if (SETTINGS.sampleRates.indexOf(state.sampleRate) >= 0) {
        fields.push("sample_rate", state.sampleRate);
    }
    fields = fields.concat(source.fields);
    var job = {
        id: newId("gen"),
        mode: mode,
        prompt: promptText,
        seed: state.seed,
        fields: fields,
        melody: source.melody || null,   // notes that may travel as a .mid instead
        placement: placement,
        beats: beats,
        bpm: song.bpm,
        numerator: song.numerator,
        denominator: song.denominator,
        clip: clip,
        started: false,                  // a progress reply came: the engine runs it
        run: null,                       // the engine run of the first pong after queued
        warnings: warnings,
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

// Continue needs the selected audio clip's file.  -> {fields} or {problem}.
function continuationFields(clip) {
    var problem = audioClipProblem(clip, "Continue");
    if (problem) {
        return { problem: problem };
    }
    return { fields: ["continue_from", clip.filePath, "prompt_seconds", state.promptSeconds] };
}

// The melody source chosen in the menu.  -> {fields} or {problem}.
function melodyFields(clip) {
    if (state.melodySource === MELODY_OFF) {
        return { fields: [] };
    }
    var fields;
    if (state.melodySource === MELODY_MIDI) {
        if (!clip) {
            return { problem: "Melody: select a MIDI clip (click it so it shows in the Clip View), or set Melody to Off." };
        }
        if (clip.kind !== "midi") {
            return { problem: "Melody is set to \"Selected MIDI clip\" but the selected clip is audio." };
        }
        if (!clip.notes.length) {
            return { problem: "The selected MIDI clip has no notes in its playing region (muted notes are left out): nothing to follow." };
        }
        if (clip.notes.length > SETTINGS.maxNotes) {
            return { problem: "The selected MIDI clip has " + clip.notes.length + " notes; at most " +
                              SETTINGS.maxNotes + " can be sent. Use a shorter or simpler clip." };
        }
        // Inline when it fits one datagram; sendGenerate swaps in a .mid file
        // (melody_midi) when it does not.
        fields = ["melody_notes", notesText(clip.notes), "melody_length", clip.melodyLength];
    } else {
        var problem = audioClipProblem(clip, "Melody");
        if (problem) {
            return { problem: problem };
        }
        fields = ["melody_audio", clip.filePath];
    }
    var modelProblem = melodyModelProblem();
    if (modelProblem) {
        return { problem: modelProblem };
    }
    return { fields: fields, melody: state.melodySource === MELODY_MIDI ? clip : null };
}

function audioClipProblem(clip, what) {
    if (!clip) {
        return what + ": select an audio clip (click it so it shows in the Clip View)" +
               (what === "Melody" ? ", or set Melody to Off." : ".");
    }
    if (clip.kind !== "audio") {
        return what + " needs an audio clip; the selected clip is MIDI." +
               (what === "Melody" ? " Set Melody to \"Selected MIDI clip\" to follow its notes." : "");
    }
    if (!clip.filePath) {
        return what + ": the selected audio clip has no file on disk yet. Save the set and try again.";
    }
    return null;
}

// Melody needs a melody checkpoint.  Known names without "melody" are refused
// here; an absolute folder or an unknown model is left to the engine.
function melodyModelProblem() {
    var name = state.model || state.loadedModel;
    if (!name || /melody/i.test(name) || isAbsolutePath(name)) {
        return null;
    }
    return "Melody needs a melody model: choose " + SETTINGS.melodyModel +
           " in the Model menu (" + name + " cannot follow a melody).";
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
    var job = state.job;
    request("cancel", { job: job.id }, function () {
        // No answer: whatever the engine is doing, this take is over here.
        if (state.job === job) {
            setReachable(0);
            finishJob("Cancel got no answer, so the take was dropped here. " + NOT_RUNNING);
        }
    }, null, job);
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
        job.accepted = true;
        job.run = null;                // the next pong names the run that took it
        watchJob(job);
        var ahead = args[1];
        setStatus(withWarnings(job, ahead > 0 ? "Queued: " + ahead + " take(s) ahead." : "Starting..."));
    },

    "/musicgen/progress": function (args) {
        var job = jobFor(args[0]);
        if (!job) {
            return;
        }
        job.started = true;
        job.accepted = true;
        watchJob(job);
        setProgress(args[1]);
        setStatus(withWarnings(job, stageWords(args[2]) + " " + Math.round(args[1] * 100) + "%"));
    },

    "/musicgen/done": function (args) {
        var job = jobFor(args[0]);
        if (!job) {
            return;
        }
        var paths = [];
        var names = [];
        for (var i = 1; i < args.length; i++) {
            paths.push(String(args[i]));
            names.push(clipName(job, i - 1));
        }
        setProgress(1);
        var results = LIVE.placeTakes(paths, job.placement, names, job.beats);
        finishJob(withWarnings(job, placedWords(job, paths, results)));
        models();   // the take may have loaded a model: the menu's resident marks follow
    },

    // Optional, before done: the engine noticed something the producer should
    // know (tempo_conflict, key_conflict, timesig_conflict...).  Shown at once
    // and kept on the status line until the job ends, done included.
    "/musicgen/warning": function (args) {
        var job = jobFor(args[0]);
        if (!job) {
            return;
        }
        watchJob(job);
        job.warnings.push(joinAtoms(args.slice(2)) + " (" + String(args[1]) + ")");
        setStatus(withWarnings(job, "Generating..."));
    },

    "/musicgen/error": function (args) {
        var id = args[0];
        var code = String(args[1]);
        var message = joinAtoms(args.slice(2));
        if (state.job && state.job.id === id) {
            var job = state.job;
            finishJob(code === "cancelled" ? "Cancelled." : withWarnings(job, errorWords(code, message)));
            return;
        }
        if (id === "" && state.job && !state.job.accepted) {
            // The engine could not use the request's id (invalid, or already in
            // use) and answers with an empty one (docs/protocol.md): it refused
            // the generate still waiting for its queued.
            finishJob(errorWords(code, message));
            return;
        }
        var entry = takePending(id);
        if (entry && entry.kind === "cancel" && code === "unknown_job") {
            // The engine does not know the take (it restarted, or the take
            // ended and its reply was lost): it is over here too.
            if (entry.job && state.job === entry.job) {
                finishJob(LOST_JOB);
            }
            return;
        }
        if (entry || id === "") {
            setStatus(errorWords(code, message));
        }
    },

    "/musicgen/pong": function (args) {
        if (!takePending(args[0])) {
            return;
        }
        var previous = state.reachable;
        var wasDown = previous !== 1;
        state.loadedModel = String(args[3] || "");
        setReachable(1);
        // reason (engines from 0.2 on): why there is no model and what to do, or how far
        // the start-up download has come; shown while it changes, until a take starts.
        var reason = String(args[4] || "");
        if ((wasDown || reason !== state.engineReason) && !state.job) {
            setStatus(reason ? "Engine " + args[2] + ": " + reason
                : "Engine " + args[1] + " " + args[2] + ", model " + args[3] + ".");
        }
        state.engineReason = reason;
        // run (engines from issue 26 on): this engine run's id.  A take follows
        // the run of the first pong after it was queued; another run means the
        // engine restarted and the take is gone.  No run: an older engine, the
        // silence watchdog (watchJob) is all there is.
        var run = args.length > 5 ? String(args[5]) : "";
        var job = state.job;
        if (run && job && job.accepted) {
            if (!job.run) {
                job.run = run;
            } else if (job.run !== run) {
                finishJob(RESTARTED);
                return;
            }
        }
        if (previous === 0 && !state.job) {
            models();   // the engine (re)started: refresh the model menu
        }
    },

    "/musicgen/status": function (args) {
        var entry = takePending(args[0]);
        if (!entry) {
            return;
        }
        setReachable(1);
        if (entry.onReply) {
            entry.onReply(args);
            return;
        }
        setStatus("Engine " + args[1] + ", model " + args[2] + " on " + args[3] +
                  ", " + args[5] + " queued.");
    },

    // With `details 1` the engine first sends one of these per checkpoint:
    // id index count name kind state revision size_mb melody source [base].  Kept
    // with the models request until its list arrives.  OSC strings arrive as one
    // atom each; base (an adapter's checkpoint) comes from engines with adapters.
    "/musicgen/model": function (args) {
        var entry = state.pending[args[0]];
        if (!entry || entry.kind !== "models" || args.length < 10) {
            return;
        }
        if (!entry.details) {
            entry.details = { count: Math.floor(args[2]), entries: {} };
        }
        entry.details.entries[Math.floor(args[1])] = {
            name: String(args[3]), kind: String(args[4]), state: String(args[5]),
            revision: String(args[6]), sizeMb: Number(args[7]), melody: !!args[8],
            source: String(args[9]), base: String(args.length > 10 ? args[10] : "")
        };
    },

    // The list ends the details (an engine that predates them sends it alone).
    "/musicgen/models": function (args) {
        var entry = takePending(args[0]);
        if (!entry) {
            return;
        }
        setReachable(1);
        state.loadedModel = String(args[1] || "");
        var names = [];
        for (var i = 2; i < args.length; i++) {
            names.push(String(args[i]));
        }
        var details = completeDetails(entry.details);
        if (entry.details && !details) {
            post("musicgen_bridge: a model detail was lost on the way; the Model menu shows names only\n");
        }
        fillModelMenu(modelMenu(state.loadedModel, names, details));
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

// -- the Model menu -----------------------------------------------------------

// The details of one models request, in index order, or null when there were
// none or one was lost (a missing index, or fewer than count).
function completeDetails(details) {
    if (!details || !(details.count > 0)) {
        return null;
    }
    var list = [];
    for (var i = 0; i < details.count; i++) {
        if (!details.entries[i]) {
            return null;
        }
        list.push(details.entries[i]);
    }
    return list;
}

// The menu items, the first "engine default (LOADED)" (name "": no model sent).
// With details: one item per name in the engine's order (several cache
// snapshots of one repo are one item, resident if any is).  Without (an older
// engine, or a lost detail): the plain list's names but the loaded one.
// Mirrors bridge/model_list.py menu_items, label for label (a test keeps them equal).
function modelMenu(loaded, names, details) {
    var items = [{ label: "engine default (" + loaded + ")", name: "", download: "", size: "" }];
    var i;
    if (!details) {
        for (i = 0; i < names.length; i++) {
            if (names[i] !== loaded) {
                items.push({ label: names[i], name: names[i], download: "", size: "" });
            }
        }
        return items;
    }
    var byName = {};
    var order = [];
    for (i = 0; i < details.length; i++) {
        var e = details[i];
        if (!byName.hasOwnProperty(e.name)) {
            byName[e.name] = { name: e.name, kind: e.kind, state: e.state, sizeMb: e.sizeMb,
                               melody: e.melody, source: e.source };
            order.push(e.name);
        } else if (e.state === "resident") {
            byName[e.name].state = "resident";
        }
    }
    for (i = 0; i < order.length; i++) {
        var entry = byName[order[i]];
        var missing = entry.state === "not_downloaded";
        items.push({ label: modelLabel(entry), name: entry.name,
                     download: missing ? entry.source : "",
                     size: missing ? downloadSize(entry.sizeMb) : "" });
    }
    return items;
}

// "facebook/musicgen-small (resident)", "debug-melody (test noise, ready, melody)",
// "my-finetune (folder, ready)", "facebook/musicgen-small+my-lora (finetune, ready)",
// "facebook/musicgen-large (download first, about 6.5 GB)".
function modelLabel(entry) {
    var shown = entry.name;
    var tags = [];
    if (entry.kind === "folder") {
        shown = entry.name.replace(/[\/\\]+$/, "").replace(/\\/g, "/");
        shown = shown.substring(shown.lastIndexOf("/") + 1) || entry.name;
        tags.push("folder");
    } else if (entry.kind === "debug") {
        tags.push("test noise");
    } else if (entry.kind === "adapter") {
        tags.push("finetune");
    }
    if (entry.state === "resident") {
        tags.push("resident");
    } else if (entry.state === "not_downloaded") {
        tags.push("download first, " + downloadSize(entry.sizeMb));
    } else {
        tags.push("ready");
    }
    if (entry.melody) {
        tags.push("melody");
    }
    return shown + " (" + tags.join(", ") + ")";
}

// A download's size as published (decimal GB, approximate), from MiB; -1: unknown.
function downloadSize(sizeMb) {
    if (!(sizeMb >= 0)) {
        return "size unknown";
    }
    return "about " + (sizeMb * 1048576 / 1e9).toFixed(1) + " GB";
}

// Refill the umenu (each label one symbol: `append` makes its words one item)
// and show the current choice; a choice no longer listed falls back to the
// engine default, so what the menu shows is what is sent.
function fillModelMenu(items) {
    state.menu = items;
    outlet(OUT_UI, "models", "clear");
    for (var i = 0; i < items.length; i++) {
        outlet(OUT_UI, "models", "append", items[i].label);
    }
    if (state.model !== null && modelMenuIndex(state.model) < 0) {
        state.model = null;
    }
    showModelChoice();
}

// umenu `set N`: show item N without output (so it does not come back as a choice).
function showModelChoice() {
    var index = state.model === null ? 0 : modelMenuIndex(state.model);
    outlet(OUT_UI, "models", "set", index < 0 ? 0 : index);
}

function modelMenuIndex(name) {
    for (var i = 1; i < state.menu.length; i++) {
        if (state.menu[i].name === name) {
            return i;
        }
    }
    return -1;
}

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
            folder: filePath ? parentFolder(filePath) : "",
            tempoAutomated: this.tempoAutomated()
        };
    },

    // Whether the song tempo has automation (LOM: Song.tempo "may be automated,
    // so it can change depending on the current song time"; the master track's
    // mixer_device song_tempo parameter says so in automation_state: 0 none,
    // 1 active, 2 overridden).  The LOM gives no way to read an arrangement
    // envelope at a time, so the tempo where the take lands cannot be known.
    tempoAutomated: function () {
        var param = this.api("live_set master_track mixer_device song_tempo");
        return this.exists(param) && Number(this.first(param, "automation_state")) > 0;
    },

    // The clip shown in Live's detail view, or null: where it is, and what a
    // melody or a continuation needs (its notes, or its file).
    readSelectedClip: function () {
        var clip = this.api("live_set view detail_clip");
        if (!this.exists(clip)) {
            return null;
        }
        var where = parseClipPath(this.canonical(clip));
        var info = {
            id: String(clip.id),
            kind: this.first(clip, "is_midi_clip") ? "midi" : "audio",
            name: String(this.first(clip, "name") || ""),
            trackIndex: where.track,
            slotIndex: where.slot,
            arrangement: where.arrangement,
            position: where.arrangement ? Number(this.first(clip, "start_time")) : null,
            endTime: where.arrangement ? Number(this.first(clip, "end_time")) : null,
            filePath: null,
            notes: null,
            melodyLength: null
        };
        if (info.kind === "audio") {
            info.filePath = this.audioClipFile(clip);
        } else {
            var melody = this.clipNotes(clip);
            info.notes = melody.notes;
            info.melodyLength = melody.length;
        }
        return info;
    },

    // An audio clip's file (absolute path), or null.
    audioClipFile: function (clip) {
        var path = this.first(clip, "file_path");
        return path ? String(path) : null;
    },

    // The MIDI notes Live plays, as a melody that repeats every `length` beats
    // from the moment the clip starts.
    // Looping clip: the loop (loop_start..loop_end) is the region, turned so
    // that beat 0 is the clip's start_marker (where playback begins; a start
    // before the loop counts as the loop's matching beat).  A note cut by that
    // turn is split in two.  Unlooped clip: start_marker..end_marker.
    // Muted notes and notes starting outside the region are dropped; notes
    // crossing its end are cut; velocities are whole numbers 1..127.
    // Returns {notes: [{pitch, start, length, velocity}] sorted by start then
    // pitch, length: the region's length in beats}.
    clipNotes: function (clip) {
        var looping = this.first(clip, "looping");
        var from = Number(this.first(clip, looping ? "loop_start" : "start_marker"));
        var to = Number(this.first(clip, looping ? "loop_end" : "end_marker"));
        var length = to - from;
        var turn = 0;
        if (looping && length > 0) {
            var offset = Number(this.first(clip, "start_marker")) - from;
            turn = ((offset % length) + length) % length;
        }
        var raw = clip.call("get_notes_extended", 0, 128, from, length);
        var parsed = parseNotesReply(raw);
        var notes = [];
        function add(n, start, duration) {
            start = roundBeats(start);
            duration = roundBeats(duration);
            if (duration > 0 && start < length) {
                notes.push({ pitch: Math.round(n.pitch), start: start, length: duration,
                             velocity: clamp(Math.round(n.velocity), 1, 127) });
            }
        }
        for (var i = 0; i < parsed.length; i++) {
            var n = parsed[i];
            if (n.mute || n.start_time < from || n.start_time >= to) {
                continue;
            }
            var start = n.start_time - from;
            var duration = Math.min(n.duration, to - n.start_time);
            if (turn) {
                start = ((start - turn) % length + length) % length;
                var room = length - start;
                if (duration > room + 1e-9) {
                    add(n, start, room);
                    add(n, 0, duration - room);
                    continue;
                }
            }
            add(n, start, duration);
        }
        notes.sort(function (a, b) { return a.start - b.start || a.pitch - b.pitch; });
        return { notes: notes, length: roundBeats(length) };
    },

    // Where the take(s) will go, decided when Generate is pressed: new audio
    // track(s) right under the clip's track, at the clip's position
    // (Arrangement) or scene (Session).  Kept as Live object ids, not indexes:
    // the producer may add, move or delete tracks and scenes while it renders,
    // and an id stays the same for its object's life (see resolvePlacement).
    planPlacement: function (clip) {
        if (clip && clip.arrangement) {
            return { view: "arrangement", afterTrackId: this.trackId(clip.trackIndex), position: clip.position,
                     clipId: clip.id, clipEdge: "start_time" };
        }
        if (clip) {
            return { view: "session", afterTrackId: this.trackId(clip.trackIndex),
                     sceneId: this.sceneId(clip.slotIndex), slotOffset: 0 };
        }
        var selected = this.selectedTrackIndex();
        var afterTrackId = selected >= 0 ? this.trackId(selected) : null;
        if (this.focusedView() === "Arranger") {
            var song = this.api("live_set");
            return { view: "arrangement", afterTrackId: afterTrackId,
                     position: Number(this.first(song, "current_song_time")) };
        }
        return { view: "session", afterTrackId: afterTrackId,
                 sceneId: this.sceneId(this.selectedSceneIndex()), slotOffset: 0 };
    },

    // A continuation goes right after the clip it continues: Arrangement, at the
    // clip's end on the same track when the take's span there is free (else on
    // a new track under it, same beat); Session, the next empty slot(s) below
    // the clip on the same track.  A take-lane clip continues on its track's
    // main lane.
    planContinuation: function (clip, beats) {
        var trackId = this.trackId(clip.trackIndex);
        if (clip.arrangement) {
            return { view: "arrangement", afterTrackId: trackId, position: clip.endTime,
                     sameTrackId: trackId, length: beats, clipId: clip.id, clipEdge: "end_time" };
        }
        return { view: "session", afterTrackId: trackId, sceneId: this.sceneId(clip.slotIndex),
                 slotOffset: 1, sameTrackId: trackId };
    },

    trackId: function (index) {
        return this.idOf("live_set tracks " + index);
    },

    sceneId: function (index) {
        return this.idOf("live_set scenes " + index);
    },

    // The object's id ("17"), or null when there is none at that path.
    idOf: function (path) {
        var api = this.api(path);
        return this.exists(api) ? String(api.id) : null;
    },

    // The current index of a track or scene known by id: -1 once it is gone
    // (Live answers id 0 for a deleted object), or when it is no longer a
    // track/scene of the set.
    indexById: function (id, kind) {
        if (!id) {
            return -1;
        }
        var api = this.api("id " + id);
        if (!this.exists(api)) {
            return -1;
        }
        var match = new RegExp("^live_set " + kind + " (\\d+)$").exec(this.canonical(api));
        return match ? Number(match[1]) : -1;
    },

    // The placement with today's indexes, looked up again from the ids when
    // the take arrives.  A target that is gone: a new track at the end of the
    // set, and a note saying so.  An Arrangement clip still there gives the
    // position again (its start, or its end for a continuation): the producer
    // may have moved or trimmed it while the take rendered.
    resolvePlacement: function (plan) {
        var where = { view: plan.view, position: plan.position, length: plan.length,
                      afterTrack: -1, sameTrack: -1, slot: 0, note: "" };
        if (plan.clipId) {
            var clip = this.api("id " + plan.clipId);
            if (this.exists(clip)) {
                where.position = Number(this.first(clip, plan.clipEdge));
            }
        }
        var gone = [];
        if (plan.afterTrackId) {
            where.afterTrack = this.indexById(plan.afterTrackId, "tracks");
            if (where.afterTrack < 0) {
                gone.push("track");
            }
        }
        if (plan.sameTrackId) {
            where.sameTrack = this.indexById(plan.sameTrackId, "tracks");
        }
        if (plan.view === "session") {
            var scene = this.indexById(plan.sceneId, "scenes");
            if (scene < 0) {
                gone.push("scene");
                where.afterTrack = -1;
                where.sameTrack = -1;
            } else {
                where.slot = scene + plan.slotOffset;
            }
        }
        if (gone.length) {
            where.note = "The clip's " + gone.join(" and ") + " went away while the take rendered, " +
                         "so it went on a new track at the end.";
        }
        return where;
    },

    selectedTrackIndex: function () {
        var track = this.api("live_set view selected_track");
        if (!this.exists(track)) {
            return -1;
        }
        var match = /^live_set tracks (\d+)$/.exec(this.canonical(track));
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

    // Live's version as [major, minor, bugfix].
    version: function () {
        var app = this.api("live_app");
        return [Number(app.call("get_major_version")), Number(app.call("get_minor_version")),
                Number(app.call("get_bugfix_version"))];
    },

    // Track.create_audio_clip and ClipSlot.create_audio_clip: Live 12.0.5+.
    // -> null, or the words for a Live that lacks them.
    placementProblem: function () {
        var v = this.version();
        if (compareVersions(v, SETTINGS.minLiveVersion) >= 0) {
            return null;
        }
        var name = isNaN(v[0]) ? "This Live version" : "Live " + v.join(".");
        return name + " cannot place audio from a device (needs Live " +
               SETTINGS.minLiveVersion.join(".") + " or later).";
    },

    // Put every take of a job into the set.  Returns one {placed, where,
    // track, slot, reason} per path, in order.
    //   Arrangement: take 1 on the same track for a continuation whose span is
    //   free, else each take on its own new audio track, stacked right under
    //   the clip's track, all at the same beat; every take after the first is
    //   muted (solo one to compare).
    //   Session: one new audio track under the clip's track (a continuation:
    //   the clip's own track), takes in consecutive empty slots from the
    //   planned one; scenes are added at the end of the set when it runs out.
    // Each clip is then set to span exactly `beats` (fitClip).
    placeTakes: function (paths, plan, names, beats) {
        var results = [];
        var i;
        var problem = this.placementProblem();
        if (problem) {
            for (i = 0; i < paths.length; i++) {
                results.push({ placed: false, reason: problem });
            }
            return results;
        }
        var placement = this.resolvePlacement(plan);
        results.note = placement.note;
        if (placement.view === "arrangement") {
            var next = this.newTrackIndex(placement.afterTrack);
            for (i = 0; i < paths.length; i++) {
                var result = null;
                if (i === 0 && placement.sameTrack >= 0 &&
                        this.arrangementFree(placement.sameTrack, placement.position, placement.length)) {
                    result = this.arrangementClip(placement.sameTrack, paths[i], placement.position, names[i], beats);
                }
                if (!result || !result.placed) {
                    var track = this.newTrack(next, i > 0);
                    result = track < 0 ? { placed: false, reason: "Live did not create the audio track." }
                        : this.arrangementClip(track, paths[i], placement.position, names[i], beats);
                    next = track < 0 ? next : track + 1;
                }
                results.push(result);
            }
            return results;
        }
        var target = placement.sameTrack;
        var from = placement.slot;
        for (i = 0; i < paths.length; i++) {
            var placed = null;
            if (target >= 0) {
                placed = this.sessionClip(target, from, paths[i], names[i], beats);
                if (!placed.placed && placement.sameTrack === target) {
                    placed = null;              // e.g. a frozen track: use a new one
                }
            }
            if (!placed) {
                target = this.newTrack(this.newTrackIndex(placement.afterTrack), false);
                if (target < 0) {
                    results.push({ placed: false, reason: "Live did not create the audio track." });
                    continue;
                }
                placed = this.sessionClip(target, from, paths[i], names[i], beats);
            }
            results.push(placed);           // the next take finds the next empty slot
        }
        return results;
    },

    // Where a new track under `afterTrack` goes (-1: at the end).
    newTrackIndex: function (afterTrack) {
        var count = this.api("live_set").getcount("tracks");
        return afterTrack >= 0 ? Math.min(afterTrack + 1, count) : count;
    },

    // A new audio track at `index` (Live names it; the clip carries the take's
    // name); its index, or -1.
    newTrack: function (index, muted) {
        this.api("live_set").call("create_audio_track", index);
        var track = this.api("live_set tracks " + index);
        if (!this.exists(track) || !this.first(track, "has_audio_input")) {
            return -1;
        }
        if (muted) {
            track.set("mute", 1);
        }
        return index;
    },

    // No arrangement clip of the track overlaps [position, position + length).
    arrangementFree: function (trackIndex, position, length) {
        var trackPath = "live_set tracks " + trackIndex;
        var count = this.api(trackPath).getcount("arrangement_clips");
        for (var i = 0; i < count; i++) {
            var clip = this.api(trackPath + " arrangement_clips " + i);
            var start = Number(this.first(clip, "start_time"));
            var end = Number(this.first(clip, "end_time"));
            if (start < position + length - 1e-6 && end > position + 1e-6) {
                return false;
            }
        }
        return true;
    },

    arrangementClip: function (trackIndex, path, position, name, beats) {
        var trackPath = "live_set tracks " + trackIndex;
        var track = this.api(trackPath);
        var before = track.getcount("arrangement_clips");
        var made = track.call("create_audio_clip", path, position);   // Live 12: the new clip's id
        var after = track.getcount("arrangement_clips");
        if (after <= before) {
            return { placed: false, reason: "Live refused the file." };
        }
        var clip = this.madeClip(made);
        for (var i = after - 1; !clip && i >= 0; i--) {
            // Arrangement clips are listed by position: find the new one.
            var candidate = this.api(trackPath + " arrangement_clips " + i);
            if (Math.abs(Number(this.first(candidate, "start_time")) - position) < 1e-6) {
                clip = candidate;
            }
        }
        var fit = "";
        if (clip) {
            clip.set("name", name);
            fit = this.fitClip(clip, beats, false);
        }
        return { placed: true, track: trackIndex, position: position, fit: fit,
                 where: "at beat " + position + " on track " + (trackIndex + 1) };
    },

    // create_audio_clip's answer ("id 17" as a list) -> the clip, or null.
    madeClip: function (answer) {
        var words = answer && answer.length !== undefined && typeof answer !== "string"
            ? Array.prototype.join.call(answer, " ") : String(answer || "");
        var match = /^id (\d+)$/.exec(words);
        if (!match || match[1] === "0") {
            return null;
        }
        var clip = this.api("id " + match[1]);
        return this.exists(clip) ? clip : null;
    },

    sessionClip: function (trackIndex, from, path, name, beats) {
        var trackPath = "live_set tracks " + trackIndex;
        var slot = this.freeSlot(trackPath, from);
        if (slot < 0) {
            return { placed: false, reason: "No free clip slot." };
        }
        var slotPath = trackPath + " clip_slots " + slot;
        this.api(slotPath).call("create_audio_clip", path);
        if (!this.first(this.api(slotPath), "has_clip")) {
            return { placed: false, reason: "Live refused the file." };
        }
        var clip = this.api(slotPath + " clip");
        clip.set("name", name);
        var fit = this.fitClip(clip, beats, true);
        return { placed: true, track: trackIndex, slot: slot, fit: fit,
                 where: "in slot " + (slot + 1) + " of track " + (trackIndex + 1) };
    },

    // Live brings a new audio clip in warped, at a tempo it guesses from the
    // file.  The take is exactly `beats` long at the set's tempo, so pin it:
    // warp markers at (beat 0, 0 s) and (beat `beats`, the file's end), every
    // other marker on that line, then the clip's region to those beats
    // (Session: looping over them).  Every Live API change is one step in
    // Live's undo history, so only what differs from what Live made is
    // changed: for a new clip, the end marker and the region's end (and, in
    // the Arrangement, looping off).  -> "" or a note for the status line.
    fitClip: function (clip, beats, looped) {
        var rate = Number(this.first(clip, "sample_rate"));
        var seconds = Number(this.first(clip, "sample_length")) / rate;
        if (!(rate > 0 && seconds > 0 && beats > 0)) {
            return "Live did not say how long the file is: check its warping.";
        }
        var perSecond = beats / seconds;
        function onTheLine(m) {
            return Math.abs(m.beat_time - m.sample_time * perSecond) < 1e-3;
        }
        this.setIfDiffers(clip, "warping", 1);
        var markers = this.warpMarkers(clip);
        for (var i = markers.length - 2; i >= 1; i--) {    // the last one is Live's hidden marker
            if (!onTheLine(markers[i])) {
                clip.call("remove_warp_marker", markers[i].beat_time);
            }
        }
        markers = this.warpMarkers(clip);
        var first = markers[0];
        if (first && !onTheLine(first)) {
            clip.call("move_warp_marker", first.beat_time, first.sample_time * perSecond - first.beat_time);
        }
        if (!first || first.sample_time > 1e-6) {
            this.addWarpMarker(clip, 0, 0);
        }
        this.pinWarpMarker(clip, beats, seconds);
        markers = this.warpMarkers(clip);
        var onLine = markers.length >= 2;
        var atEnd = false;
        for (var m = 0; m < markers.length - 1; m++) {
            onLine = onLine && onTheLine(markers[m]);
            atEnd = atEnd || (Math.abs(markers[m].beat_time - beats) < 1e-6 &&
                              Math.abs(markers[m].sample_time - seconds) < 1e-6);
        }
        if (!onLine || !atEnd) {
            clip.set("warping", 0);     // unwarped, it plays at its own tempo: the set's
            return "Live did not take the warp markers, so warping is off" +
                   (looped ? " and the clip does not loop." : ".");
        }
        // Session: loop over the take.  Arrangement: unlooped, so that the
        // clip ends at loop_end (a looped warped arrangement clip keeps the
        // length it was made with).
        this.setIfDiffers(clip, "looping", looped ? 1 : 0);
        this.setIfDiffers(clip, "loop_start", 0);
        this.setIfDiffers(clip, "loop_end", beats);
        this.setIfDiffers(clip, "start_marker", 0);
        this.setIfDiffers(clip, "end_marker", beats);
        return "";
    },

    // Set a property only when Live's value differs: each set is an undo step.
    setIfDiffers: function (api, prop, value) {
        if (Math.abs(Number(this.first(api, prop)) - value) > 1e-9) {
            api.set(prop, value);
        }
    },

    // The clip's warp markers, [{beat_time, sample_time}] by beat.  Live answers
    // a dict, which reaches js as JSON text (sometimes in a one-element list).
    warpMarkers: function (clip) {
        var raw = clip.get("warp_markers");
        var text = raw && typeof raw !== "string" && raw.length !== undefined
            ? Array.prototype.join.call(raw, " ") : String(raw || "");
        try {
            var parsed = JSON.parse(text);
            var list = parsed && parsed.warp_markers ? parsed.warp_markers : parsed;
            return list && list.length !== undefined ? list : [];
        } catch (e) {
            return [];
        }
    },

    addWarpMarker: function (clip, beat, seconds) {
        var marker = new Dict();
        marker.set("beat_time", beat);
        marker.set("sample_time", seconds);
        clip.call("add_warp_marker", marker);
    },

    // A marker at (beat, seconds): Live refuses a second marker at a sample
    // time that has one, so a marker already there is moved instead.
    pinWarpMarker: function (clip, beat, seconds) {
        var markers = this.warpMarkers(clip);
        for (var i = 0; i < markers.length; i++) {
            if (Math.abs(markers[i].sample_time - seconds) < 1e-6) {
                if (Math.abs(markers[i].beat_time - beat) > 1e-9) {
                    clip.call("move_warp_marker", markers[i].beat_time, beat - markers[i].beat_time);
                }
                return;
            }
        }
        this.addWarpMarker(clip, beat, seconds);
    },

    // The wanted slot if free, else the next free one below it; when there is
    // none, a scene is added at the end of the set for it.  -1 if that fails.
    freeSlot: function (trackPath, wanted) {
        var count = this.api(trackPath).getcount("clip_slots");
        for (var i = Math.max(wanted || 0, 0); i < count; i++) {
            if (!this.first(this.api(trackPath + " clip_slots " + i), "has_clip")) {
                return i;
            }
        }
        this.api("live_set").call("create_scene", -1);
        var grown = this.api(trackPath).getcount("clip_slots");
        if (grown > count && !this.first(this.api(trackPath + " clip_slots " + (grown - 1)), "has_clip")) {
            return grown - 1;
        }
        return -1;
    }
};

// -- 5. FILES: the one file the device writes ------------------------------------

var FILES = {
    // Write `bytes` (numbers 0..255) to a new file.  Max's File object takes
    // Max paths: forward slashes on Windows too.  -> null, or why not.
    writeBytes: function (path, bytes) {
        var file = new File(path.replace(/\\/g, "/"), "write");
        if (!file.isopen) {
            return "the file could not be opened for writing";
        }
        for (var i = 0; i < bytes.length; i += 4096) {
            file.writebytes(bytes.slice(i, i + 4096));
        }
        file.eof = file.position;
        file.close();
        return null;
    }
};

// -- 6. helpers -----------------------------------------------------------------

// Size in bytes of the OSC datagram udpsend makes of `message` (OSC 1.0:
// address and type tags as padded strings, 4 bytes per int or float, UTF-8
// strings padded to 4 with at least one NUL).
function oscSize(message) {
    var size = paddedStringBytes(String(message[0])) + paddedBytes(message.length + 1);
    for (var i = 1; i < message.length; i++) {
        size += typeof message[i] === "number" ? 4 : paddedStringBytes(String(message[i]));
    }
    return size;
}

function paddedStringBytes(text) {
    return paddedBytes(utf8Length(text) + 1);
}

function paddedBytes(n) {
    return Math.ceil(n / 4) * 4;
}

function utf8Length(text) {
    return unescape(encodeURIComponent(text)).length;
}

// A type 0 standard MIDI file: the set's tempo and time signature, then the
// clip's notes (beats from the clip start, looping every `loopBeats`) repeated
// until `takeBeats`, on channel 1.  -> array of byte values.
function midiFileBytes(notes, loopBeats, takeBeats, bpm, numerator, denominator) {
    var tpb = SETTINGS.midiTicksPerBeat;
    var events = [];   // [tick, order, bytes]; note-offs sort before note-ons
    var end = Math.round(takeBeats * tpb);
    for (var offset = 0; offset < takeBeats - 1e-9; offset += loopBeats) {
        for (var i = 0; i < notes.length; i++) {
            var n = notes[i];
            var on = Math.round((offset + n.start) * tpb);
            var off = Math.min(Math.round((offset + n.start + n.length) * tpb), end);
            if (on >= end) {
                continue;
            }
            off = Math.max(off, on + 1);
            events.push([on, 1, [0x90, n.pitch, n.velocity]]);
            events.push([off, 0, [0x80, n.pitch, 0]]);
        }
        if (!(loopBeats > 0)) {
            break;
        }
    }
    events.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var tempo = Math.round(60000000 / bpm);
    var track = [0, 0xFF, 0x51, 3, (tempo >> 16) & 255, (tempo >> 8) & 255, tempo & 255,
                 0, 0xFF, 0x58, 4, numerator, Math.round(Math.log(denominator) / Math.LN2), 24, 8];
    var now = 0;
    for (var e = 0; e < events.length; e++) {
        track = track.concat(varLength(events[e][0] - now), events[e][2]);
        now = events[e][0];
    }
    track = track.concat(varLength(Math.max(end - now, 0)), [0xFF, 0x2F, 0]);
    var header = [0x4D, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, (tpb >> 8) & 255, tpb & 255];
    var size = track.length;
    return header.concat([0x4D, 0x54, 0x72, 0x6B, (size >>> 24) & 255, (size >> 16) & 255,
                          (size >> 8) & 255, size & 255], track);
}

// MIDI variable-length quantity.
function varLength(value) {
    var bytes = [value & 0x7F];
    value = Math.floor(value / 128);
    while (value > 0) {
        bytes.unshift((value & 0x7F) | 0x80);
        value = Math.floor(value / 128);
    }
    return bytes;
}

// "20261201-224501": file names that do not repeat across sessions.
function timeStamp() {
    var d = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + two(d.getMonth() + 1) + two(d.getDate()) + "-" +
           two(d.getHours()) + two(d.getMinutes()) + two(d.getSeconds());
}

// A query (ping, models, status, cancel).  onTimeout runs when no answer
// comes; onReply(args), if given, takes the answer instead of the default
// handler; job is the take a cancel or a status check is about.
function request(kind, fields, onTimeout, onReply, job) {
    var id = newId(kind);
    var message = ["/musicgen/" + kind, "id", id, "reply_port", state.replyPort];
    for (var key in fields) {
        if (fields.hasOwnProperty(key)) {
            message.push(key, fields[key]);
        }
    }
    var entry = { kind: kind, timer: null, onReply: onReply || null, job: job || null };
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
    var message = generateMessage(job, job.fields, outDir);
    if (oscSize(message) > SETTINGS.maxDatagramBytes && job.melody) {
        // A dense clip: its notes travel as a .mid file in the take's folder.
        var midi = writeMelodyFile(job, outDir);
        if (midi.problem) {
            finishJob(midi.problem);
            return;
        }
        message = generateMessage(job, withoutMelodyNotes(job.fields).concat(["melody_midi", midi.path]), outDir);
    }
    var size = oscSize(message);
    if (size > SETTINGS.maxDatagramBytes) {
        finishJob("This request is " + size + " bytes; one UDP message must stay under " +
                  SETTINGS.maxDatagramBytes + " (macOS drops bigger ones). Shorten the prompt, " +
                  "or use a set or clip file with a shorter folder path.");
        return;
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

function generateMessage(job, fields, outDir) {
    var message = ["/musicgen/generate", "id", job.id, "reply_port", state.replyPort].concat(fields);
    if (outDir) {
        message.push("out_dir", outDir);
    }
    return message;
}

function withoutMelodyNotes(fields) {
    var kept = [];
    for (var i = 0; i < fields.length; i += 2) {
        if (fields[i] !== "melody_notes" && fields[i] !== "melody_length") {
            kept.push(fields[i], fields[i + 1]);
        }
    }
    return kept;
}

// The clip's melody as a standard MIDI file beside the takes, repeated for the
// whole take (the engine loops melody_notes itself, not a file).  It stays
// there: the take's sidecar names it as melody_midi.  -> {path} or {problem}.
function writeMelodyFile(job, outDir) {
    if (!outDir) {
        return { problem: "The selected MIDI clip has too many notes for one message. " +
                          "Save the set, so the device can hand them over as a file in its folder." };
    }
    var clip = job.melody;
    var path = joinPath(outDir, ["melody-" + timeStamp() + "-" + state.counter + ".mid"]);
    var bytes = midiFileBytes(clip.notes, clip.melodyLength, job.beats, job.bpm,
                              job.numerator, job.denominator);
    var why = FILES.writeBytes(path, bytes);
    if (why) {
        return { problem: "Could not write the clip's notes to " + path + " (" + why + ")." };
    }
    return { path: path };
}

// Any reply for the job restarts its silence watchdog: after jobSilenceMs
// without news, ask the engine for its status.  No answer: the engine is
// gone.  An answer that runs other takes while this one had started, or
// runs and queues nothing: the engine lost it (it restarted).
function watchJob(job) {
    stopTimer(job.timer);
    job.timer = startTimer(function () {
        if (state.job !== job) {
            return;
        }
        request("status", {}, function () {
            if (state.job === job) {
                setReachable(0);
                finishJob("The engine stopped answering. " + NOT_RUNNING);
            }
        }, function (args) {
            if (state.job !== job) {
                return;
            }
            var running = String(args[4] || "").split(" ");
            var queued = Number(args[5]) || 0;
            if (running.indexOf(job.id) < 0 && (job.started || queued === 0)) {
                finishJob(LOST_JOB);
            }
        }, job);
        watchJob(job);
    }, SETTINGS.jobSilenceMs);
}

// A job's status line keeps its warnings visible until the next take.
function withWarnings(job, words) {
    if (!job || !job.warnings.length) {
        return words;
    }
    return words + " Warning: " + job.warnings.join("; ");
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

// The status line after /musicgen/done.
function placedWords(job, paths, results) {
    var placed = [];
    var failed = [];
    for (var i = 0; i < results.length; i++) {
        if (results[i].placed) {
            placed.push(results[i]);
        } else {
            failed.push(results[i].reason + " Drag it in from: " + paths[i]);
        }
    }
    var words = "";
    if (placed.length === 1) {
        words = "Placed \"" + clipName(job, results.indexOf(placed[0])) + "\" " + placed[0].where + ".";
    } else if (placed.length > 1) {
        words = "Placed " + placed.length + " takes of \"" + clipName(job, 0) + "\" " + manyWhere(placed) + ".";
    }
    if (failed.length) {
        words = (words ? words + " " : "") + failed.join(" ");
    }
    var notes = results.note ? [results.note] : [];
    for (var n = 0; n < placed.length; n++) {
        if (placed[n].fit && notes.indexOf(placed[n].fit) < 0) {
            notes.push(placed[n].fit);
        }
    }
    return notes.length ? words + " " + notes.join(" ") : words;
}

// [12, 0, 4] vs [12, 0, 5] -> negative, 0 or positive.
function compareVersions(a, b) {
    for (var i = 0; i < b.length; i++) {
        var x = Number(a[i]) || 0;
        if (x !== b[i]) {
            return x - b[i];
        }
    }
    return 0;
}

// "at beat 14 on tracks 2-5, all but the first muted" / "in slots 3-6 of track 2".
function manyWhere(placed) {
    var tracks = [];
    var slots = [];
    for (var i = 0; i < placed.length; i++) {
        if (tracks.indexOf(placed[i].track + 1) < 0) {
            tracks.push(placed[i].track + 1);
        }
        slots.push(placed[i].slot + 1);
    }
    var trackWords = (tracks.length === 1 ? "track " : "tracks ") + numbersText(tracks);
    if (placed[0].slot === undefined) {
        return "at beat " + placed[0].position + " on " + trackWords +
               (tracks.length > 1 ? " (all but the first muted: solo one to compare)" : "");
    }
    return "in slots " + numbersText(slots) + " of " + trackWords +
           (tracks.length === 1 ? " (launch one at a time to compare)" : "");
}

// [2, 3, 4] -> "2-4"; [3, 5, 6] -> "3, 5, 6".
function numbersText(numbers) {
    for (var i = 1; i < numbers.length; i++) {
        if (numbers[i] !== numbers[i - 1] + 1) {
            return numbers.join(", ");
        }
    }
    return numbers.length > 1 ? numbers[0] + "-" + numbers[numbers.length - 1] : String(numbers[0]);
}

// An engine error in words; the code stays visible (it is what to search for).
function errorWords(code, message) {
    if (code === "unsupported") {
        return "Melody needs a melody model: choose " + SETTINGS.melodyModel +
               " in the Model menu. Engine: " + message + " (unsupported)";
    }
    if (code === "bad_file") {
        return "Live's clip file could not be used: " + message + " (bad_file)";
    }
    return "Engine error: " + message + " (" + code + ")";
}

// A take's length in beats: bars x quarter notes per bar.
function takeBeats(song) {
    return roundBeats(state.bars * song.numerator * 4 / song.denominator);
}

// Notes as the protocol's "pitch start length velocity ..." string.
function notesText(notes) {
    var words = [];
    for (var i = 0; i < notes.length; i++) {
        var n = notes[i];
        words.push(n.pitch, n.start, n.length, n.velocity);
    }
    return words.join(" ");
}

// A live.menu index (number) or an item's text -> index into `items` (0 if unknown).
function menuIndex(atoms, items) {
    if (atoms.length === 1 && typeof atoms[0] === "number") {
        return clamp(Math.floor(atoms[0]), 0, items.length - 1);
    }
    var index = items.indexOf(trim(joinAtoms(atoms)));
    return index >= 0 ? index : 0;
}

function isAbsolutePath(text) {
    return /^(\/|[A-Za-z]:[\\\/]|\\\\)/.test(text);
}

function clipName(job, index) {
    var base = job.prompt.length > 40 ? job.prompt.substring(0, 40) + "..." : job.prompt;
    return base + (index > 0 ? " (" + (index + 1) + ")" : "");
}

// A clip's canonical path -> where it lives.  Arrangement clips are on the
// track's main lane (live_set tracks N arrangement_clips M) or, in Live 12,
// on one of its take lanes (live_set tracks N take_lanes L arrangement_clips M).
function parseClipPath(path) {
    var arrangement = /tracks (\d+) (take_lanes (\d+) )?arrangement_clips (\d+)/.exec(path);
    if (arrangement) {
        return { track: Number(arrangement[1]), slot: null, arrangement: true,
                 takeLane: arrangement[3] ? Number(arrangement[3]) : null };
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
