// musicgen_handlers.js -- HANDLERS: what the device does with each engine reply
// (Max `js` CommonJS module, ES5; require("musicgen_handlers")): one function
// per reply address (/musicgen/...), keyed by it; the device's `anything`
// (musicgen_bridge.js) looks the address up here.  docs/protocol.md gives
// each reply's arguments; args[0] is the id of the request it answers.  A
// reply about the take goes to TAKE with its arguments by name; the answers
// to the queries (ping, models, status, cancel) light the engine indicator,
// write the status line and fill the Model menu.

var text = require("musicgen_text");
var joinAtoms = text.joinAtoms;
var errorWords = text.errorWords;
var menu = require("musicgen_menu");
var completeDetails = menu.completeDetails;
var modelMenu = menu.modelMenu;
var engineRun = require("musicgen_engine").engineRun;

var OPTIONS = null;    // the device's SETTINGS
var STATE = null;      // the device's state: loadedModel, engineReason, reachable, job
var TAKE = null;       // musicgen_take.js
var ENGINE = null;     // musicgen_engine.js
var UI = null;         // musicgen_ui.js
var MODELS = null;     // function (): ask the engine for its models again (the device's `models`)

// parts: {take, engine, ui, models}.
function make(settings, state, parts) {
    OPTIONS = settings;
    STATE = state;
    TAKE = parts.take;
    ENGINE = parts.engine;
    UI = parts.ui;
    MODELS = parts.models;
    return HANDLERS;
}

var HANDLERS = {
    // id ahead: the take is queued behind `ahead` others.
    "/musicgen/queued": function (args) {
        TAKE.queued(args[0], args[1]);
    },

    // id fraction stage
    "/musicgen/progress": function (args) {
        TAKE.progress(args[0], args[1], args[2]);
    },

    // id path...: one file per take.
    "/musicgen/done": function (args) {
        var paths = [];
        for (var i = 1; i < args.length; i++) {
            paths.push(String(args[i]));
        }
        if (TAKE.done(args[0], paths)) {
            MODELS();   // the take may have loaded a model: the menu's resident marks follow
        }
    },

    // With `preview 1`: id path seconds_ready take count.
    "/musicgen/preview": function (args) {
        TAKE.preview(args[0], String(args[1]), Number(args[2]), Math.floor(Number(args[3])));
    },

    // Optional, before done: id code words...  The engine noticed something the
    // producer should know (tempo_conflict, key_conflict, timesig_conflict...).
    "/musicgen/warning": function (args) {
        TAKE.warning(args[0], String(args[1]), joinAtoms(args.slice(2)));
    },

    // id code message...: about the take, or about a query.
    "/musicgen/error": function (args) {
        var id = args[0];
        var code = String(args[1]);
        var message = joinAtoms(args.slice(2));
        if (TAKE.failed(id, code, message)) {
            return;
        }
        var entry = ENGINE.answered(id);
        if (entry && entry.kind === "cancel" && code === "unknown_job") {
            TAKE.lost(entry.job);
            return;
        }
        if (entry || id === "") {
            UI.status(errorWords(code, message, OPTIONS.melodyModel));
        }
    },

    // id version state model reason run (reason: engines from 0.2 on; run: issue 26 on)
    "/musicgen/pong": function (args) {
        if (!ENGINE.answered(args[0])) {
            return;
        }
        var previous = STATE.reachable;
        var wasDown = previous !== 1;
        STATE.loadedModel = String(args[3] || "");
        UI.reachable(1);
        // reason (engines from 0.2 on): why there is no model and what to do, or how far
        // the start-up download has come; shown while it changes, until a take starts.
        var reason = String(args[4] || "");
        if ((wasDown || reason !== STATE.engineReason) && !STATE.job) {
            UI.status(reason ? "Engine " + args[2] + ": " + reason
                : "Engine " + args[1] + " " + args[2] + ", model " + args[3] + ".");
        }
        STATE.engineReason = reason;
        // run (engines from issue 26 on): this engine run's id; another run than
        // the take's means the engine restarted.  No run: an older engine, the
        // take's silence watchdog is all there is.
        if (TAKE.restarted(engineRun(args[5]))) {
            return;
        }
        if (previous === 0 && !STATE.job) {
            MODELS();   // the engine (re)started: refresh the model menu
        }
    },

    // id state model device running_job queued_jobs ... run (the last argument)
    "/musicgen/status": function (args) {
        var entry = ENGINE.answered(args[0]);
        if (!entry) {
            return;
        }
        UI.reachable(1);
        if (entry.onReply) {
            entry.onReply(args);
            return;
        }
        UI.status("Engine " + args[1] + ", model " + args[2] + " on " + args[3] +
                  ", " + args[5] + " queued.");
    },

    // With `details 1` the engine first sends one of these per checkpoint:
    // id index count name kind state revision size_mb melody source [base].  Kept
    // with the models request until its list arrives.  OSC strings arrive as one
    // atom each; base (an adapter's checkpoint) comes from engines with adapters.
    "/musicgen/model": function (args) {
        var entry = ENGINE.waiting(args[0]);
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

    // id loaded name...: the list ends the details (an engine that predates them
    // sends it alone).
    "/musicgen/models": function (args) {
        var entry = ENGINE.answered(args[0]);
        if (!entry) {
            return;
        }
        UI.reachable(1);
        STATE.loadedModel = String(args[1] || "");
        var names = [];
        for (var i = 2; i < args.length; i++) {
            names.push(String(args[i]));
        }
        var details = completeDetails(entry.details);
        if (entry.details && !details) {
            post("musicgen_bridge: a model detail was lost on the way; the Model menu shows names only\n");
        }
        UI.fillModelMenu(modelMenu(STATE.loadedModel, names, details));
    },

    // id job was: the take `job` was cancelled while it was `was`.
    "/musicgen/cancel": function (args) {
        if (!ENGINE.answered(args[0])) {
            return;
        }
        TAKE.cancelled(args[1], args[2]);
    }
};

exports.make = make;
