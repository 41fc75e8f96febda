// musicgen_take.js -- one take's life, the device's state machine (Max `js`
// CommonJS module, ES5; require("musicgen_take")).  state.job is the take
// (null: none, the device is ready):
//
//   start: read the set and the clip, check, plan where it goes
//     -> folder: [node.script musicgen_mkdir.js] made / mkfail / no answer
//     -> send: /musicgen/generate (no first answer: the engine is not running)
//     -> queued -> progress, preview, warning ... -> done: placed in the set
//   and at any point error, cancel, the engine silent (the watchdog) or
//   restarted (another engine run) -> finish: the status line says why.
//
// The device's HANDLERS (musicgen_bridge.js) pass each reply here with its
// arguments; a reply for another take (an old one, another device's) is ignored.

var text = require("musicgen_text");
var withWarnings = text.withWarnings;
var request = require("musicgen_request");
var files = require("musicgen_files");
var engine = require("musicgen_engine");
var engineRun = engine.engineRun;
var NOT_RUNNING = engine.NOT_RUNNING;

var LOST_JOB = "The engine no longer knows this take (was it restarted?). Ready: press Generate again.";
var RESTARTED = "The engine restarted; the take was lost. Ready: press Generate again.";

var OPTIONS = null;    // the device's SETTINGS
var STATE = null;      // the device's state: the controls, job, mkdir, replyPort, counter
var LIVE = null;       // musicgen_live.js
var PREVIEW = null;    // musicgen_preview.js
var UI = null;         // musicgen_ui.js
var ENGINE = null;     // musicgen_engine.js
var MKDIR = null;      // function (token, path): ask the folder helper (outlet 2)

// parts: {live, preview, ui, engine, mkdir}.
function make(settings, state, parts) {
    OPTIONS = settings;
    STATE = state;
    LIVE = parts.live;
    PREVIEW = parts.preview;
    UI = parts.ui;
    ENGINE = parts.engine;
    MKDIR = parts.mkdir;
    return TAKE;
}

var TAKE = {
    // Generate ("generate") or Continue ("continue"): read the Live Set, check
    // the request, make the output folder, then send it.
    start: function (mode) {
        if (!STATE.ready) {
            UI.status("The device is still loading; try again in a moment.");
            return;
        }
        if (STATE.job) {
            UI.status("Already generating. Press Cancel first.");
            return;
        }
        var promptText = text.trim(STATE.prompt);
        if (!promptText) {
            UI.status("Type a prompt first.");
            return;
        }
        var song = LIVE.readSong();
        var clip = LIVE.readSelectedClip();
        var source = request.sourceFields(mode, clip, STATE, OPTIONS);
        if (source.problem) {
            UI.status(source.problem);
            return;
        }
        var beats = request.takeBeats(STATE.bars, song);
        var warnings = request.songWarnings(song);
        var placement = mode === "continue"
            ? LIVE.planContinuation(clip, beats)
            : LIVE.planPlacement(clip);
        if (!STATE.seedLocked) {
            STATE.seed = Math.floor(Math.random() * 2147483647);
            UI.seed(STATE.seed);
        }
        var job = {
            id: ENGINE.newId("gen"),
            mode: mode,
            prompt: promptText,
            seed: STATE.seed,
            fields: request.takeFields(promptText, song, STATE, OPTIONS).concat(source.fields),
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
            preview: STATE.preview,          // take 1 is played as it renders
            timer: null
        };
        STATE.job = job;
        if (job.preview) {
            PREVIEW.begin(beats * 60 / song.bpm);
        }
        UI.progress(0);
        if (song.folder) {
            askForFolder(job, text.joinPath(song.folder, OPTIONS.subfolder));
        } else {
            UI.status("Set not saved yet: the take goes to the engine's folder.");
            send(job, null);
        }
    },

    cancel: function () {
        if (!STATE.job) {
            UI.status("Nothing to cancel.");
            return;
        }
        if (STATE.mkdir && STATE.mkdir.job === STATE.job) {
            ENGINE.stop(STATE.mkdir.timer);
            STATE.mkdir = null;
            finish("Cancelled.");
            return;
        }
        var job = STATE.job;
        ENGINE.request("cancel", { job: job.id }, function () {
            // No answer: whatever the engine is doing, this take is over here.
            if (STATE.job === job) {
                UI.reachable(0);
                finish("Cancel got no answer, so the take was dropped here. " + NOT_RUNNING);
            }
        }, null, job);
    },

    // The folder helper made the take's folder ...
    folderMade: function (token) {
        var pending = takeMkdir(token);
        if (pending) {
            send(pending.job, pending.path);
        }
    },

    // ... or could not (why: its message).
    folderFailed: function (token, why) {
        var pending = takeMkdir(token);
        if (pending) {
            UI.status("Could not create " + pending.path + " (" + why + "); using the engine's folder.");
            send(pending.job, null);
        }
    },

    // /musicgen/queued: `ahead` takes before this one.
    queued: function (id, ahead) {
        var job = jobFor(id);
        if (!job) {
            return;
        }
        UI.reachable(1);
        job.accepted = true;
        job.run = null;                // the next pong names the run that took it
        watch(job);
        UI.status(withWarnings(job, ahead > 0 ? "Queued: " + ahead + " take(s) ahead." : "Starting..."));
    },

    // /musicgen/progress: fraction 0..1 at stage (loading, generating, writing).
    progress: function (id, fraction, stage) {
        var job = jobFor(id);
        if (!job) {
            return;
        }
        job.started = true;
        job.accepted = true;
        watch(job);
        UI.progress(fraction);
        UI.status(withWarnings(job, text.stageWords(stage) + " " + Math.round(fraction * 100) + "%"));
    },

    // /musicgen/done: the takes' files, placed in the set.  -> whether it was this take.
    done: function (id, paths) {
        var job = jobFor(id);
        if (!job) {
            return false;
        }
        var names = [];
        for (var i = 0; i < paths.length; i++) {
            names.push(text.clipName(job, i));
        }
        UI.progress(1);
        var results = LIVE.placeTakes(paths, job.placement, names, job.beats);
        finish(withWarnings(job, text.placedWords(job, paths, results)));
        return true;
    },

    // /musicgen/preview: take `take`'s file holds `seconds` seconds now.  Only
    // take 1 is played (one player, one take heard).
    preview: function (id, path, seconds, take) {
        var job = jobFor(id);
        if (!job) {
            return;
        }
        watch(job);
        if (job.preview && take === 1) {
            PREVIEW.piece(path, seconds);
        }
    },

    // /musicgen/warning: shown at once and kept on the status line until the
    // take ends, done included.
    warning: function (id, code, words) {
        var job = jobFor(id);
        if (!job) {
            return;
        }
        watch(job);
        job.warnings.push(words + " (" + code + ")");
        UI.status(withWarnings(job, "Generating..."));
    },

    // /musicgen/error about this take.  -> whether it was (the take is over).
    failed: function (id, code, message) {
        var job = STATE.job;
        if (job && job.id === id) {
            finish(code === "cancelled" ? "Cancelled." : withWarnings(job, text.errorWords(code, message, OPTIONS.melodyModel)));
            return true;
        }
        if (id === "" && job && !job.accepted) {
            // The engine could not use the request's id (invalid, or already in
            // use) and answers with an empty one (docs/protocol.md): it refused
            // the generate still waiting for its queued.
            finish(text.errorWords(code, message, OPTIONS.melodyModel));
            return true;
        }
        return false;
    },

    // A cancel answered unknown_job: the engine does not know the take (it
    // restarted, or the take ended and its reply was lost): over here too.
    lost: function (job) {
        if (job && STATE.job === job) {
            finish(LOST_JOB);
        }
    },

    // /musicgen/cancel for take `id`: what it was doing (`was`) when cancelled.
    cancelled: function (id, was) {
        if (STATE.job && STATE.job.id === id) {
            finish("Cancelled (it was " + was + ").");
        }
    },

    // A pong's engine run (engineRun; "" from an older engine).  A take follows
    // the run of the first pong after it was queued; another run means the
    // engine restarted and the take is gone.  -> whether that ended the take.
    restarted: function (run) {
        var job = STATE.job;
        if (run && job && job.accepted) {
            if (!job.run) {
                job.run = run;
            } else if (job.run !== run) {
                finish(RESTARTED);
                return true;
            }
        }
        return false;
    }
};

function askForFolder(job, path) {
    var token = ENGINE.newId("dir");
    var entry = { token: token, job: job, path: path, timer: null };
    STATE.mkdir = entry;
    entry.timer = ENGINE.after(OPTIONS.mkdirTimeoutMs, function () {
        if (STATE.mkdir === entry) {
            STATE.mkdir = null;
            UI.status("Folder helper did not answer; using the engine's folder.");
            send(job, null);
        }
    });
    UI.status("Preparing " + path);
    MKDIR(token, path);
}

function takeMkdir(token) {
    var entry = STATE.mkdir;
    if (!entry || entry.token !== token) {
        return null;
    }
    ENGINE.stop(entry.timer);
    STATE.mkdir = null;
    return entry;
}

function send(job, outDir) {
    if (STATE.job !== job) {
        return;
    }
    var message = request.generateMessage(job.id, STATE.replyPort, job.fields, outDir);
    if (text.oscSize(message) > OPTIONS.maxDatagramBytes && job.melody) {
        // A dense clip: its notes travel as a .mid file in the take's folder.
        var midi = writeMelodyFile(job, outDir);
        if (midi.problem) {
            finish(midi.problem);
            return;
        }
        message = request.generateMessage(job.id, STATE.replyPort,
                                          text.withoutMelodyNotes(job.fields).concat(["melody_midi", midi.path]), outDir);
    }
    var size = text.oscSize(message);
    if (size > OPTIONS.maxDatagramBytes) {
        finish("This request is " + size + " bytes; one UDP message must stay under " +
               OPTIONS.maxDatagramBytes + " (macOS drops bigger ones). Shorten the prompt, " +
               "or use a set or clip file with a shorter folder path.");
        return;
    }
    job.outDir = outDir;
    job.timer = ENGINE.after(OPTIONS.replyTimeoutMs, function () {
        if (STATE.job === job) {
            UI.reachable(0);
            finish(NOT_RUNNING);
        }
    });
    UI.status("Sent to the engine...");
    ENGINE.send(message);
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
    var path = text.joinPath(outDir, ["melody-" + text.timeStamp() + "-" + STATE.counter + ".mid"]);
    var bytes = files.midiFileBytes(clip.notes, clip.melodyLength, job.beats, job.bpm,
                                    job.numerator, job.denominator, OPTIONS.midiTicksPerBeat);
    var why = files.FILES.writeBytes(path, bytes);
    if (why) {
        return { problem: "Could not write the clip's notes to " + path + " (" + why + ")." };
    }
    return { path: path };
}

// Any reply for the take restarts its silence watchdog: after jobSilenceMs
// without news, ask the engine for its status.  No answer: the engine is
// gone.  An answer from another engine run (its last argument, `run`): the
// engine restarted.  An answer that runs other takes while this one had
// started, or runs and queues nothing: the engine lost it.
function watch(job) {
    ENGINE.stop(job.timer);
    job.timer = ENGINE.after(OPTIONS.jobSilenceMs, function () {
        if (STATE.job !== job) {
            return;
        }
        ENGINE.request("status", {}, function () {
            if (STATE.job === job) {
                UI.reachable(0);
                finish("The engine stopped answering. " + NOT_RUNNING);
            }
        }, function (args) {
            if (STATE.job !== job) {
                return;
            }
            var running = String(args[4] || "").split(" ");
            var queued = Number(args[5]) || 0;
            var run = engineRun(args[args.length - 1]);
            if (run && job.run && run !== job.run) {
                finish(RESTARTED);
            } else if (running.indexOf(job.id) < 0 && (job.started || queued === 0)) {
                finish(LOST_JOB);
            }
        }, job);
        watch(job);
    });
}

function jobFor(id) {
    return (STATE.job && STATE.job.id === id) ? STATE.job : null;
}

function finish(message) {
    if (STATE.job) {
        ENGINE.stop(STATE.job.timer);
    }
    PREVIEW.stop();
    STATE.job = null;
    UI.status(message);
}

exports.make = make;
