// musicgen_bridge.js -- the brain of "MusicGen Bridge.amxd" (Max `js` object, ES5).
//
// The patch only wires: UI objects -> this script -> [udpsend 127.0.0.1 9000];
// [udpreceive] -> [deferlow] -> this script -> UI objects.
//
// The device's JavaScript is this file and its CommonJS modules (Max's
// require(), Max 8+; the way Producer Pal keeps handlers apart from LiveAPI):
//   musicgen_bridge.js  this file: settings and state, the patch's messages,
//                       HANDLERS (one per engine reply), the take's life
//   musicgen_live.js    LIVE: every Live API call that reads or plans
//   musicgen_place.js   the Live API calls that put a take into the set
//   musicgen_files.js   FILES: the one file the device writes (a dense MIDI
//                       clip as a .mid)
//   musicgen_menu.js    the Model menu's items from the engine's replies
//   musicgen_text.js    pure helpers: words, numbers, paths, OSC sizes
//   musicgen_preview.js PREVIEW: every message to the preview player (issue 25)
//
// Layout of this file:
//   1. settings and state
//   2. messages from the patch (init, prompt, bars, model, seed, melody, key,
//      variations, loop, loudness, preview, previewlevel, promptseconds,
//      samplerate, generate, continueclip, cancel)
//   3. HANDLERS: one function per engine reply address (/musicgen/...)
//   4. helpers that need the device's state (requests, timers, ids)
//
// Outlets: 0 -> udpsend (OSC messages), 1 -> UI (route status progress reachable
// models seed port), 2 -> node.script musicgen_mkdir.js (folder creation),
// 3 -> the preview player (route bufa bufb mono pos xfade gain; musicgen_preview.js).
// Inlet messages also come from [dspstate~] (samplerate <Hz>: Live's rate).
//
// Threading: the js object runs in Max's low-priority (main) thread; replies
// reach it through [deferlow] and UI clicks arrive there too, so the Live API is
// never called from the high-priority scheduler.  Task (timer) callbacks only
// send pings and update the status line; they never call LiveAPI.
// Nothing touches LiveAPI before live.thisdevice has banged `init`.

autowatch = 0;
inlets = 1;
outlets = 4;

// The modules (Max's CommonJS require: files found in the search path, the
// device's own folder first; docs/ableton.md).
var text = require("musicgen_text");
var oscSize = text.oscSize;
var paddedStringBytes = text.paddedStringBytes;
var paddedBytes = text.paddedBytes;
var utf8Length = text.utf8Length;
var timeStamp = text.timeStamp;
var withoutMelodyNotes = text.withoutMelodyNotes;
var withWarnings = text.withWarnings;
var stageWords = text.stageWords;
var placedWords = text.placedWords;
var compareVersions = text.compareVersions;
var manyWhere = text.manyWhere;
var numbersText = text.numbersText;
var notesText = text.notesText;
var menuIndex = text.menuIndex;
var isAbsolutePath = text.isAbsolutePath;
var clipName = text.clipName;
var parentFolder = text.parentFolder;
var joinPath = text.joinPath;
var joinAtoms = text.joinAtoms;
var trim = text.trim;
var clamp = text.clamp;
var roundBeats = text.roundBeats;
var menu = require("musicgen_menu");
var completeDetails = menu.completeDetails;
var modelMenu = menu.modelMenu;
var files = require("musicgen_files");
var FILES = files.FILES;
var midiFileBytes = files.midiFileBytes;

var OUT_OSC = 0;
var OUT_UI = 1;
var OUT_MKDIR = 2;
var OUT_AUDIO = 3;

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
    sampleRates: [22050, 32000, 44100, 48000, 88200, 96000],  // protocol sample_rate values
    previewMarginS: 1,         // preview: start when the engine's pace keeps 1 s ahead
    previewCrossfadeMs: 20,    // preview: switch between its two buffers
    previewFadeMs: 20,         // preview: fade in and out
    previewRampMs: 3600000,    // preview: the position ramp (ms, at real time)
    previewLevelDb: -6,        // preview: the level control's default (the patch's initial value)
    previewLevelFloorDb: -70   // preview: the level control's bottom, silence
};

// Every Live API call, in musicgen_live.js and musicgen_place.js.
var LIVE = require("musicgen_live").make(SETTINGS);

// The preview player: every message it takes is made in musicgen_preview.js.
var PREVIEW = require("musicgen_preview").make(SETTINGS, function (atoms) {
    outlet(OUT_AUDIO, atoms);
});

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
    preview: false,            // "Hear while it renders": ask for preview 1 and play take 1
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

// "Hear while it renders" toggle (live.text, stored with the set).
function preview(on) {
    state.preview = !!on;
}

// Preview level (live.dial, dB).
function previewlevel(db) {
    PREVIEW.level(db);
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
    if (state.preview) {
        fields.push("preview", 1);
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
        preview: state.preview,          // take 1 is played as it renders
        timer: null
    };
    state.job = job;
    if (job.preview) {
        PREVIEW.begin(beats * 60 / song.bpm);
    }
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

    // With `preview 1`: take 1's file holds seconds_ready seconds now.  The
    // other takes' previews are not played (one player, one take heard).
    "/musicgen/preview": function (args) {
        var job = jobFor(args[0]);
        if (!job) {
            return;
        }
        watchJob(job);
        if (job.preview && Math.floor(Number(args[3])) === 1) {
            PREVIEW.piece(String(args[1]), Number(args[2]));
        }
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
        var run = engineRun(args[5]);
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

// -- 4. helpers -----------------------------------------------------------------

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
                              job.numerator, job.denominator, SETTINGS.midiTicksPerBeat);
    var why = FILES.writeBytes(path, bytes);
    if (why) {
        return { problem: "Could not write the clip's notes to " + path + " (" + why + ")." };
    }
    return { path: path };
}

// Any reply for the job restarts its silence watchdog: after jobSilenceMs
// without news, ask the engine for its status.  No answer: the engine is
// gone.  An answer from another engine run (its last argument, `run`): the
// engine restarted.  An answer that runs other takes while this one had
// started, or runs and queues nothing: the engine lost it.
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
            var run = engineRun(args[args.length - 1]);
            if (run && job.run && run !== job.run) {
                finishJob(RESTARTED);
            } else if (running.indexOf(job.id) < 0 && (job.started || queued === 0)) {
                finishJob(LOST_JOB);
            }
        }, job);
        watchJob(job);
    }, SETTINGS.jobSilenceMs);
}

// The engine run named by a reply's `run` argument (contract A of issue 26:
// 12 lowercase hex characters, the last argument of /musicgen/status and
// /musicgen/pong), or "" from an engine that predates it.
function engineRun(atom) {
    var text = typeof atom === "string" ? atom : "";
    return /^[0-9a-f]{12}$/.test(text) ? text : "";
}

function jobFor(id) {
    return (state.job && state.job.id === id) ? state.job : null;
}

function finishJob(message) {
    if (state.job) {
        stopTimer(state.job.timer);
    }
    PREVIEW.stop();
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

// Ids: printable ASCII, no spaces, <= 64 chars, and starting with a letter so
// Max never turns them into numbers.
function newId(kind) {
    state.counter += 1;
    return "m4l-" + kind + "-" + state.replyPort + "-" + state.counter;
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
