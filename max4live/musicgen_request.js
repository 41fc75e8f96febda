// musicgen_request.js -- what a take asks the engine for (Max `js` CommonJS
// module, ES5; require("musicgen_request")): the /musicgen/generate message
// from the device's controls (its state), the Live Set and the selected clip
// as musicgen_live.js read them, or the words that say why it cannot be sent.
// Pure functions: no Live API, no outlets, no timers.

var text = require("musicgen_text");
var notesText = text.notesText;
var isAbsolutePath = text.isAbsolutePath;
var melodyModelAdvice = text.melodyModelAdvice;
var roundBeats = text.roundBeats;

// The Melody menu's items, in the order of the patch's live.menu (a test keeps them equal).
var MELODY_SOURCES = ["Off", "Selected MIDI clip", "Selected audio clip"];
var MELODY_OFF = 0;
var MELODY_MIDI = 1;

// A take's length in beats: bars x quarter notes per bar.
function takeBeats(bars, song) {
    return roundBeats(bars * song.numerator * 4 / song.denominator);
}

// What the producer should know before the take is made.
function songWarnings(song) {
    var warnings = [];
    if (song.tempoAutomated) {
        warnings.push("the tempo is automated: the take is made at " + song.bpm + " bpm, the tempo at the " +
                      "playhead; where it lands the tempo may differ and Live will stretch it to the beats " +
                      "(Live's API cannot read the tempo there)");
    }
    return warnings;
}

// The fields every take sends, from the controls (state) and the set.
function takeFields(promptText, song, state, settings) {
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
    if (settings.sampleRates.indexOf(state.sampleRate) >= 0) {
        fields.push("sample_rate", state.sampleRate);
    }
    if (state.preview) {
        fields.push("preview", 1);
    }
    return fields;
}

// What the take follows: Continue's audio clip, or the Melody menu's source.
// -> {fields, melody} (melody: the MIDI clip whose notes may travel as a .mid) or {problem}.
function sourceFields(mode, clip, state, settings) {
    return mode === "continue" ? continuationFields(clip, state) : melodyFields(clip, state, settings);
}

// Continue needs the selected audio clip's file.  -> {fields} or {problem}.
function continuationFields(clip, state) {
    var problem = audioClipProblem(clip, "Continue");
    if (problem) {
        return { problem: problem };
    }
    return { fields: ["continue_from", clip.filePath, "prompt_seconds", state.promptSeconds] };
}

// The melody source chosen in the menu.  -> {fields} or {problem}.
function melodyFields(clip, state, settings) {
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
        if (clip.notes.length > settings.maxNotes) {
            return { problem: "The selected MIDI clip has " + clip.notes.length + " notes; at most " +
                              settings.maxNotes + " can be sent. Use a shorter or simpler clip." };
        }
        // Inline when it fits one datagram; the take swaps in a .mid file
        // (melody_midi) when it does not (musicgen_take.js, send).
        fields = ["melody_notes", notesText(clip.notes), "melody_length", clip.melodyLength];
    } else {
        var problem = audioClipProblem(clip, "Melody");
        if (problem) {
            return { problem: problem };
        }
        fields = ["melody_audio", clip.filePath];
    }
    var modelProblem = melodyModelProblem(state, settings);
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
function melodyModelProblem(state, settings) {
    var name = state.model || state.loadedModel;
    if (!name || /melody/i.test(name) || isAbsolutePath(name)) {
        return null;
    }
    return melodyModelAdvice(settings.melodyModel) + " (" + name + " cannot follow a melody).";
}

// The whole request: [address, arguments...] as udpsend takes it.
function generateMessage(id, replyPort, fields, outDir) {
    var message = ["/musicgen/generate", "id", id, "reply_port", replyPort].concat(fields);
    if (outDir) {
        message.push("out_dir", outDir);
    }
    return message;
}

exports.MELODY_SOURCES = MELODY_SOURCES;
exports.takeBeats = takeBeats;
exports.songWarnings = songWarnings;
exports.takeFields = takeFields;
exports.sourceFields = sourceFields;
exports.generateMessage = generateMessage;
