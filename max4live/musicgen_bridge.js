// musicgen_bridge.js -- the brain of "MusicGen Bridge.amxd" (Max `js` object, ES5).
//
// The patch only wires: UI objects -> this script -> [udpsend 127.0.0.1 9000];
// [udpreceive] -> [deferlow] -> this script -> UI objects.
//
// The device's JavaScript is this file and its CommonJS modules (Max's
// require(), Max 8+; the way Producer Pal keeps handlers apart from LiveAPI):
//   musicgen_bridge.js  this file: settings and state, the patch's messages
//   musicgen_handlers.js HANDLERS: one function per engine reply address
//   musicgen_take.js    TAKE: a take's life, from Generate to its end
//   musicgen_request.js the /musicgen/generate a take sends (pure)
//   musicgen_engine.js  ENGINE: OSC out, request ids, queries awaiting answers, timers
//   musicgen_ui.js      UI: every message to the patch's controls
//   musicgen_live.js    LIVE: every Live API call that reads or plans
//   musicgen_place.js   the Live API calls that put a take into the set
//   musicgen_files.js   FILES: the one file the device writes (a dense MIDI
//                       clip as a .mid)
//   musicgen_menu.js    the Model menu's items from the engine's replies
//   musicgen_text.js    pure helpers: words, numbers, paths, OSC sizes
//   musicgen_preview.js PREVIEW: every message to the preview player (issue 25)
//
// Layout of this file:
//   1. settings and state, and the modules made for them
//   2. messages from the patch (init, prompt, bars, model, seed, melody, key,
//      variations, loop, loudness, preview, previewlevel, promptseconds,
//      samplerate, generate, continueclip, cancel), the queries (ping,
//      models, status), the folder helper's answers (made, mkfail) and the
//      engine's replies (anything: to HANDLERS)
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
var joinAtoms = text.joinAtoms;
var menuIndex = text.menuIndex;
var trim = text.trim;
var clamp = text.clamp;
var engine = require("musicgen_engine");
var NOT_RUNNING = engine.NOT_RUNNING;

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

// Menu items, in the order of the patch's live.menu items (a test keeps them equal).
var MELODY_SOURCES = require("musicgen_request").MELODY_SOURCES;
// Loudness menu: Off sends nothing; the others send `loudness <LUFS>`.
var LOUDNESS = ["Off", "-14 LUFS", "-23 LUFS"];
var LOUDNESS_LUFS = [null, -14, -23];
var KEYS = ["No key", "C major", "C minor", "C# major", "C# minor", "D major", "D minor", "Eb major", "Eb minor", "E major", "E minor", "F major", "F minor", "F# major", "F# minor", "G major", "G minor", "Ab major", "Ab minor", "A major", "A minor", "Bb major", "Bb minor", "B major", "B minor"];

var state = {
    ready: false,              // live.thisdevice has fired
    replyPort: 0,
    prompt: "",
    bars: 4,
    model: null,               // null = the engine's loaded model
    loadedModel: "",           // what the engine has loaded (models / pong replies)
    engineReason: "",          // the last pong's reason: why no_model, or the start-up download
    menu: [],                  // the Model menu's items: {label, name, download} (modelMenu)
    melodySource: 0,           // index into MELODY_SOURCES
    key: null,                 // e.g. "A minor"; null = none
    variations: 1,
    loop: false,
    loudness: null,            // target LUFS, or null (Off)
    preview: false,            // "Hear while it renders": ask for preview 1 and play take 1
    promptSeconds: 10,
    sampleRate: 0,             // Live's sample rate from [dspstate~]; 0 = not known yet
    seed: 0,
    seedLocked: false,
    counter: 0,                // the last request id's number (ENGINE.newId)
    job: null,                 // the take (musicgen_take.js): {id, mode, prompt, seed, fields, placement, melody, warnings, timer}
    pending: {},               // request id -> {kind, timer, onReply, job} (musicgen_engine.js)
    mkdir: null,               // the folder helper's request: {token, job, path, timer}
    reachable: -1,
    pingTask: null
};

// Every Live API call, in musicgen_live.js and musicgen_place.js.
var LIVE = require("musicgen_live").make(SETTINGS);

// The preview player: every message it takes is made in musicgen_preview.js.
var PREVIEW = require("musicgen_preview").make(SETTINGS, function (atoms) {
    outlet(OUT_AUDIO, atoms);
});

var ENGINE = engine.make(SETTINGS, state, function (message) {
    outlet(OUT_OSC, message);
});

var UI = require("musicgen_ui").make(state, function (atoms) {
    outlet(OUT_UI, atoms);
});

var TAKE = require("musicgen_take").make(SETTINGS, state, {
    live: LIVE,
    preview: PREVIEW,
    ui: UI,
    engine: ENGINE,
    mkdir: function (token, path) {
        outlet(OUT_MKDIR, "mkdir", token, path);
    }
});

// One function per engine reply address (/musicgen/...).
var HANDLERS = require("musicgen_handlers").make(SETTINGS, state, {
    take: TAKE,
    engine: ENGINE,
    ui: UI,
    models: models
});

// -- 2. messages from the patch -----------------------------------------------

// live.thisdevice -> deferlow -> init: the Live API is usable from here on.
function init() {
    state.ready = true;
    if (!state.replyPort) {
        var span = SETTINGS.replyPortHigh - SETTINGS.replyPortLow + 1;
        state.replyPort = SETTINGS.replyPortLow + Math.floor(Math.random() * span);
    }
    UI.port(state.replyPort);
    UI.status("Ready. Reply port " + state.replyPort + ".");
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
    UI.port(state.replyPort);
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
            UI.status(item.name + " is not on this machine (" + item.size +
                      "). Download it first: `" + item.download + "`, then choose it again.");
            UI.showModelChoice();
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

// The queries: each one's timeout says what no answer means.
function ping() {
    if (!state.ready) {
        return;
    }
    ENGINE.request("ping", {}, function () {
        UI.reachable(0);
        if (!state.job) {
            UI.status(NOT_RUNNING);
        }
    });
}

function models() {
    if (!state.ready) {
        return;
    }
    ENGINE.request("models", { details: 1 }, function () {
        UI.reachable(0);
    });
}

function status() {
    if (!state.ready) {
        return;
    }
    ENGINE.request("status", {}, function () {
        UI.reachable(0);
        UI.status(NOT_RUNNING);
    });
}

// Generate: a new take (following the melody source, if one is chosen).
function generate() {
    TAKE.start("generate");
}

// Continue: the selected audio clip's file is continued by `bars` bars.
function continueclip() {
    TAKE.start("continue");
}

function cancel() {
    TAKE.cancel();
}

// node.script musicgen_mkdir.js answers "made <token> <path>" ...
function made(token) {
    TAKE.folderMade(token);
}

// ... or "mkfail <token> <message...>".
function mkfail(token) {
    TAKE.folderFailed(token, joinAtoms(arrayfromargs(arguments).slice(1)));
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
