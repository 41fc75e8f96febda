// musicgen_engine.js -- the device's side of the conversation with the engine
// (Max `js` CommonJS module, ES5; require("musicgen_engine")): every OSC
// message to [udpsend] (the js object's outlet 0), the request ids, the queries
// waiting for an answer with their reply timeouts, and the one-shot timers the
// device runs.  No Live API and no UI: whoever asks says what a timeout means.

// The advice when the engine does not answer.
var NOT_RUNNING = "Engine not running? Start it with `musicgen-bridge serve`";

var OPTIONS = null;    // the device's SETTINGS
var STATE = null;      // the device's state: replyPort, counter, pending
var SEND = null;       // function (atoms): one OSC message out of outlet 0

function make(settings, state, send) {
    OPTIONS = settings;
    STATE = state;
    SEND = send;
    return ENGINE;
}

var ENGINE = {
    // A query (ping, models, status, cancel).  onTimeout runs when no answer
    // comes; onReply(args), if given, takes the answer instead of the default
    // handler; job is the take a cancel or a status check is about.  -> its id.
    request: function (kind, fields, onTimeout, onReply, job) {
        var id = ENGINE.newId(kind);
        var message = ["/musicgen/" + kind, "id", id, "reply_port", STATE.replyPort];
        for (var key in fields) {
            if (fields.hasOwnProperty(key)) {
                message.push(key, fields[key]);
            }
        }
        var entry = { kind: kind, timer: null, onReply: onReply || null, job: job || null };
        STATE.pending[id] = entry;
        entry.timer = ENGINE.after(OPTIONS.replyTimeoutMs, function () {
            if (STATE.pending[id] === entry) {
                delete STATE.pending[id];
                onTimeout();
            }
        });
        SEND(message);
        return id;
    },

    // The answer to query `id` came: its entry, no longer waiting (its timer
    // stopped), or null when no query of this device waits under that id.
    answered: function (id) {
        var entry = STATE.pending[id];
        if (!entry) {
            return null;
        }
        ENGINE.stop(entry.timer);
        delete STATE.pending[id];
        return entry;
    },

    // Query `id`'s entry, still waiting (an answer in several messages), or null.
    waiting: function (id) {
        return STATE.pending[id] || null;
    },

    // One OSC message to the engine: [address, arguments...].
    send: function (message) {
        SEND(message);
    },

    // Ids: printable ASCII, no spaces, <= 64 chars, and starting with a letter so
    // Max never turns them into numbers.
    newId: function (kind) {
        STATE.counter += 1;
        return "m4l-" + kind + "-" + STATE.replyPort + "-" + STATE.counter;
    },

    // fn once, in `ms` milliseconds (a Max Task: it runs in the low-priority thread).
    after: function (ms, fn) {
        var task = new Task(fn, this);
        task.schedule(ms);
        return task;
    },

    stop: function (task) {
        if (task) {
            task.cancel();
        }
    }
};

// The engine run named by a reply's `run` argument (contract A of issue 26:
// 12 lowercase hex characters, the last argument of /musicgen/status and
// /musicgen/pong), or "" from an engine that predates it.
function engineRun(atom) {
    var text = typeof atom === "string" ? atom : "";
    return /^[0-9a-f]{12}$/.test(text) ? text : "";
}

exports.make = make;
exports.engineRun = engineRun;
exports.NOT_RUNNING = NOT_RUNNING;
