// musicgen_preview.js -- hearing take 1 while it renders (issue 25): every Max
// message that drives the device's preview player (Max `js` CommonJS module,
// ES5; require("musicgen_preview")).  The patch only wires the objects:
//
//   js outlet 3 -> [route bufa bufb mono pos xfade gain]
//     bufa, bufb -> [buffer~ ---mgpvA], [buffer~ ---mgpvB]  (replace <path>, clear)
//     pos        -> [line~] -> both [play~ ... 2]           (milliseconds since the start)
//     xfade      -> [line~] -> B's gain, [!-~ 1] -> A's     (0: A heard, 1: B heard)
//     mono       -> [*~ 0]: a mono file's left channel also goes right
//     gain       -> [line~] -> the preview's level, mixed [+~] into plugin~ -> plugout~
//
// The engine's preview file only grows (docs/protocol.md: appended, then its
// header rewritten).  At each reply the buffer not heard re-reads the whole
// file, and the mix crossfades to it.  Both players read one position signal,
// so at the switch both hold the same samples and the crossfade joins equal
// audio.  Playback starts once the engine's pace projects no underrun (or the
// whole take is there); if the engine falls behind anyway, the preview fades out
// at the end of what it has and comes back, later in the take, at the next reply.

var SEND = null;       // function (atoms): one Max message out of the js object's outlet 3
var OPTIONS = null;    // the device's SETTINGS

// The take being previewed, or null.
var current = null;
var levelGain = 0;     // the Preview level control, as a gain (make() sets the default)
var clearTask = null;

function make(settings, send) {
    OPTIONS = settings;
    SEND = send;
    PREVIEW.level(settings.previewLevelDb);
    return PREVIEW;
}

var PREVIEW = {
    // A take that asked for `preview 1` starts: expected length in seconds.
    begin: function (seconds) {
        cancelClear();
        current = {
            seconds: seconds,
            front: null,         // "a" or "b": the buffer heard; null before the first load
            first: null,         // {at, ready}: the first reply (Date.now() ms, seconds in the file)
            startedAt: null,     // Date.now() when playback started at position 0
            readySeconds: 0,
            mono: null,
            fadedOut: false,
            endTask: null
        };
    },

    // /musicgen/preview for take 1: `path` holds `ready` seconds now.
    piece: function (path, ready) {
        var p = current;
        if (!p) {
            return;
        }
        var now = Date.now();
        ready = Number(ready) || 0;
        if (ready <= p.readySeconds) {
            return;            // nothing new (a reply out of order)
        }
        // The file is removed when the take ends (just before done): a reply read
        // late may name a file that is gone, which buffer~ could not read.
        var channels = readChannels(path);
        if (!channels) {
            return;
        }
        p.readySeconds = ready;
        if (!p.first) {
            p.first = { at: now, ready: ready };
        }
        if (p.mono === null) {
            p.mono = channels === 1;
            SEND(["mono", p.mono ? 1 : 0]);
        }
        var back = p.front === "a" ? "b" : "a";
        SEND(["buf" + back, "replace", maxPath(path)]);
        SEND(["xfade", back === "b" ? 1 : 0, p.front ? OPTIONS.previewCrossfadeMs : 0]);
        p.front = back;
        if (p.startedAt === null && shouldStart(p, now)) {
            p.startedAt = now;
            SEND(["pos", 0]);
            SEND(["pos", OPTIONS.previewRampMs, OPTIONS.previewRampMs]);
            p.fadedOut = true;     // faded in just below
        }
        if (p.startedAt !== null) {
            followEnd(p, now);
        }
    },

    // done, error, cancel, a lost take: fade out, then empty both buffers.
    stop: function () {
        var p = current;
        if (!p) {
            return;
        }
        current = null;
        stopTask(p.endTask);
        if (p.front === null) {
            return;            // nothing was loaded: nothing to stop
        }
        SEND(["gain", 0, OPTIONS.previewFadeMs]);
        clearTask = new Task(function () {
            clearTask = null;
            SEND(["pos", 0]);
            SEND(["bufa", "clear"]);
            SEND(["bufb", "clear"]);
        }, this);
        clearTask.schedule(OPTIONS.previewFadeMs * 2);
    },

    // The Preview level control, in dB (the bottom of its range is silence).
    level: function (db) {
        db = Number(db);
        levelGain = !(db > OPTIONS.previewLevelFloorDb) ? 0 : Math.pow(10, Math.min(db, 0) / 20);
        if (current && current.startedAt !== null && !current.fadedOut) {
            SEND(["gain", levelGain, OPTIONS.previewFadeMs]);
        }
    },

    playing: function () {
        return !!(current && current.startedAt !== null && !current.fadedOut);
    }
};

// Start at position 0 now, unless the engine would fall behind: the whole take is
// there, or at the pace measured since the first reply the rest comes before
// playback needs it, with a margin.  One reply gives no pace: wait for the next.
function shouldStart(p, now) {
    var margin = OPTIONS.previewMarginS;
    if (p.readySeconds >= p.seconds) {
        return true;
    }
    if (p.readySeconds < margin || now <= p.first.at) {
        return false;
    }
    var pace = (p.readySeconds - p.first.ready) / ((now - p.first.at) / 1000);
    if (!(pace > 0)) {
        return false;
    }
    var untilAll = (p.seconds - p.readySeconds) / pace;   // wall seconds until the take is all there
    return untilAll <= p.seconds - margin;
}

// Heard while there is audio ahead of the position: fade in when there is
// (again), and fade out when playback reaches the end of what is loaded (the
// take's end, or the engine falling behind: the next reply fades back in, at
// the position playback has reached).
function followEnd(p, now) {
    stopTask(p.endTask);
    p.endTask = null;
    var ahead = p.readySeconds * 1000 - (now - p.startedAt);
    if (ahead <= 2 * OPTIONS.previewFadeMs) {
        if (!p.fadedOut) {
            p.fadedOut = true;
            SEND(["gain", 0, OPTIONS.previewFadeMs]);
        }
        return;
    }
    if (p.fadedOut) {
        p.fadedOut = false;
        SEND(["gain", levelGain, OPTIONS.previewFadeMs]);
    }
    p.endTask = new Task(function () {
        if (current === p) {
            p.endTask = null;
            p.fadedOut = true;
            SEND(["gain", 0, OPTIONS.previewFadeMs]);
        }
    }, this);
    p.endTask.schedule(ahead - OPTIONS.previewFadeMs);
}

function cancelClear() {
    stopTask(clearTask);
    clearTask = null;
}

function stopTask(task) {
    if (task) {
        task.cancel();
    }
}

// Channels of a PCM WAV from its header (Max's File object, 36 bytes read):
// 1 or 2, or 0 when the header is not one.  The engine writes RIFF, WAVE, then
// "fmt " first (engine/preview.py), channels at byte 22.
function readChannels(path) {
    var file = new File(maxPath(path), "read");
    if (!file.isopen) {
        return 0;
    }
    var bytes = file.readbytes(36) || [];
    file.close();
    var tag = function (at) {
        return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
    };
    if (bytes.length < 36 || tag(0) !== "RIFF" || tag(8) !== "WAVE" || tag(12) !== "fmt ") {
        return 0;
    }
    return bytes[22] + bytes[23] * 256;
}

// Max takes forward slashes in paths on Windows too.
function maxPath(path) {
    return String(path).replace(/\\/g, "/");
}

exports.make = make;
exports.readChannels = readChannels;
