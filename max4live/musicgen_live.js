// musicgen_live.js -- every Live API call that reads the set or plans where a
// take goes (Max `js` CommonJS module, ES5; require("musicgen_live")).  The
// calls that change the set are in musicgen_place.js, added to the same
// object by make(); nothing else in the device touches LiveAPI.  Call only
// after live.thisdevice has fired (the device's init).

var text = require("musicgen_text");
var parentFolder = text.parentFolder;
var roundBeats = text.roundBeats;
var clamp = text.clamp;

var LIVE = {
    settings: null,     // the device's SETTINGS (make)

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
    }
};

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

// The LIVE object for the device's SETTINGS: reading and planning from this
// module, placing from musicgen_place.js.
function make(settings) {
    var live = {};
    var key;
    for (key in LIVE) {
        live[key] = LIVE[key];
    }
    require("musicgen_place").install(live);
    live.settings = settings;
    return live;
}

exports.make = make;
exports.parseClipPath = parseClipPath;
exports.parseNotesReply = parseNotesReply;
