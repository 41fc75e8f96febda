// musicgen_files.js -- the one file the device writes: a dense MIDI clip as a
// standard MIDI file (Max `js` CommonJS module, ES5; require("musicgen_files")).
// FILES.writeBytes is the only use of Max's File object.

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

// A type 0 standard MIDI file: the set's tempo and time signature, then the
// clip's notes (beats from the clip start, looping every `loopBeats`) repeated
// until `takeBeats`, on channel 1.  -> array of byte values.
function midiFileBytes(notes, loopBeats, takeBeats, bpm, numerator, denominator, tpb) {
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

exports.midiFileBytes = midiFileBytes;
exports.varLength = varLength;
exports.FILES = FILES;
