// musicgen_text.js -- words, numbers, paths and sizes for the device (Max `js`
// CommonJS module, ES5; loaded with require("musicgen_text")).  Pure functions:
// no Live API, no outlets, no state, so they are the same in Max and in Node.

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

// "20261201-224501": file names that do not repeat across sessions.
function timeStamp() {
    var d = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + two(d.getMonth() + 1) + two(d.getDate()) + "-" +
           two(d.getHours()) + two(d.getMinutes()) + two(d.getSeconds());
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

// A job's status line keeps its warnings visible until the next take.
function withWarnings(job, words) {
    if (!job || !job.warnings.length) {
        return words;
    }
    return words + " Warning: " + job.warnings.join("; ");
}

function stageWords(stage) {
    var words = { loading: "Loading model", generating: "Generating", writing: "Writing file" };
    return words[stage] || String(stage);
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

// What to do when a take needs a melody checkpoint and the model chosen is not one.
function melodyModelAdvice(melodyModel) {
    return "Melody needs a melody model: choose " + melodyModel + " in the Model menu";
}

// An engine error in words; the code stays visible (it is what to search for).
function errorWords(code, message, melodyModel) {
    if (code === "unsupported") {
        return melodyModelAdvice(melodyModel) + ". Engine: " + message + " (unsupported)";
    }
    if (code === "bad_file") {
        return "Live's clip file could not be used: " + message + " (bad_file)";
    }
    return "Engine error: " + message + " (" + code + ")";
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

exports.oscSize = oscSize;
exports.paddedStringBytes = paddedStringBytes;
exports.paddedBytes = paddedBytes;
exports.utf8Length = utf8Length;
exports.timeStamp = timeStamp;
exports.withoutMelodyNotes = withoutMelodyNotes;
exports.withWarnings = withWarnings;
exports.stageWords = stageWords;
exports.placedWords = placedWords;
exports.melodyModelAdvice = melodyModelAdvice;
exports.errorWords = errorWords;
exports.compareVersions = compareVersions;
exports.manyWhere = manyWhere;
exports.numbersText = numbersText;
exports.notesText = notesText;
exports.menuIndex = menuIndex;
exports.isAbsolutePath = isAbsolutePath;
exports.clipName = clipName;
exports.parentFolder = parentFolder;
exports.joinPath = joinPath;
exports.joinAtoms = joinAtoms;
exports.trim = trim;
exports.clamp = clamp;
exports.roundBeats = roundBeats;
