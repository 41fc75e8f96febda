// musicgen_place.js -- the Live API calls that put a take into the set: a new
// track, the clip, its warp markers and region (Max `js` CommonJS module, ES5;
// require("musicgen_place")).  install() adds these methods to the LIVE object
// of musicgen_live.js, whose api/first/exists/... they use through `this`.
// Every change made here is one step in Live's undo history: only what differs
// from what Live made is changed.

var compareVersions = require("musicgen_text").compareVersions;

var PLACE = {
    // Track.create_audio_clip and ClipSlot.create_audio_clip: Live 12.0.5+.
    // -> null, or the words for a Live that lacks them.
    placementProblem: function () {
        var v = this.version();
        if (compareVersions(v, this.settings.minLiveVersion) >= 0) {
            return null;
        }
        var name = isNaN(v[0]) ? "This Live version" : "Live " + v.join(".");
        return name + " cannot place audio from a device (needs Live " +
               this.settings.minLiveVersion.join(".") + " or later).";
    },

    // Put every take of a job into the set.  Returns one {placed, where,
    // track, slot, reason} per path, in order.
    //   Arrangement: take 1 on the same track for a continuation whose span is
    //   free, else each take on its own new audio track, stacked right under
    //   the clip's track, all at the same beat; every take after the first is
    //   muted (solo one to compare).
    //   Session: one new audio track under the clip's track (a continuation:
    //   the clip's own track), takes in consecutive empty slots from the
    //   planned one; scenes are added at the end of the set when it runs out.
    // Each clip is then set to span exactly `beats` (fitClip).
    placeTakes: function (paths, plan, names, beats) {
        var results = [];
        var i;
        var problem = this.placementProblem();
        if (problem) {
            for (i = 0; i < paths.length; i++) {
                results.push({ placed: false, reason: problem });
            }
            return results;
        }
        var placement = this.resolvePlacement(plan);
        results.note = placement.note;
        if (placement.view === "arrangement") {
            var next = this.newTrackIndex(placement.afterTrack);
            for (i = 0; i < paths.length; i++) {
                var result = null;
                if (i === 0 && placement.sameTrack >= 0 &&
                        this.arrangementFree(placement.sameTrack, placement.position, placement.length)) {
                    result = this.arrangementClip(placement.sameTrack, paths[i], placement.position, names[i], beats);
                }
                if (!result || !result.placed) {
                    var track = this.newTrack(next, i > 0);
                    result = track < 0 ? { placed: false, reason: "Live did not create the audio track." }
                        : this.arrangementClip(track, paths[i], placement.position, names[i], beats);
                    next = track < 0 ? next : track + 1;
                }
                results.push(result);
            }
            return results;
        }
        var target = placement.sameTrack;
        var from = placement.slot;
        for (i = 0; i < paths.length; i++) {
            var placed = null;
            if (target >= 0) {
                placed = this.sessionClip(target, from, paths[i], names[i], beats);
                if (!placed.placed && placement.sameTrack === target) {
                    placed = null;              // e.g. a frozen track: use a new one
                }
            }
            if (!placed) {
                target = this.newTrack(this.newTrackIndex(placement.afterTrack), false);
                if (target < 0) {
                    results.push({ placed: false, reason: "Live did not create the audio track." });
                    continue;
                }
                placed = this.sessionClip(target, from, paths[i], names[i], beats);
            }
            results.push(placed);           // the next take finds the next empty slot
        }
        return results;
    },

    // Where a new track under `afterTrack` goes (-1: at the end).
    newTrackIndex: function (afterTrack) {
        var count = this.api("live_set").getcount("tracks");
        return afterTrack >= 0 ? Math.min(afterTrack + 1, count) : count;
    },

    // A new audio track at `index` (Live names it; the clip carries the take's
    // name); its index, or -1.
    newTrack: function (index, muted) {
        this.api("live_set").call("create_audio_track", index);
        var track = this.api("live_set tracks " + index);
        if (!this.exists(track) || !this.first(track, "has_audio_input")) {
            return -1;
        }
        if (muted) {
            track.set("mute", 1);
        }
        return index;
    },

    // No arrangement clip of the track overlaps [position, position + length).
    arrangementFree: function (trackIndex, position, length) {
        var trackPath = "live_set tracks " + trackIndex;
        var count = this.api(trackPath).getcount("arrangement_clips");
        for (var i = 0; i < count; i++) {
            var clip = this.api(trackPath + " arrangement_clips " + i);
            var start = Number(this.first(clip, "start_time"));
            var end = Number(this.first(clip, "end_time"));
            if (start < position + length - 1e-6 && end > position + 1e-6) {
                return false;
            }
        }
        return true;
    },

    arrangementClip: function (trackIndex, path, position, name, beats) {
        var trackPath = "live_set tracks " + trackIndex;
        var track = this.api(trackPath);
        var before = track.getcount("arrangement_clips");
        var made = track.call("create_audio_clip", path, position);   // Live 12: the new clip's id
        var after = track.getcount("arrangement_clips");
        if (after <= before) {
            return { placed: false, reason: "Live refused the file." };
        }
        var clip = this.madeClip(made);
        for (var i = after - 1; !clip && i >= 0; i--) {
            // Arrangement clips are listed by position: find the new one.
            var candidate = this.api(trackPath + " arrangement_clips " + i);
            if (Math.abs(Number(this.first(candidate, "start_time")) - position) < 1e-6) {
                clip = candidate;
            }
        }
        var fit = "";
        if (clip) {
            clip.set("name", name);
            fit = this.fitClip(clip, beats, false);
        }
        return { placed: true, track: trackIndex, position: position, fit: fit,
                 where: "at beat " + position + " on track " + (trackIndex + 1) };
    },

    // create_audio_clip's answer ("id 17" as a list) -> the clip, or null.
    madeClip: function (answer) {
        var words = answer && answer.length !== undefined && typeof answer !== "string"
            ? Array.prototype.join.call(answer, " ") : String(answer || "");
        var match = /^id (\d+)$/.exec(words);
        if (!match || match[1] === "0") {
            return null;
        }
        var clip = this.api("id " + match[1]);
        return this.exists(clip) ? clip : null;
    },

    sessionClip: function (trackIndex, from, path, name, beats) {
        var trackPath = "live_set tracks " + trackIndex;
        var slot = this.freeSlot(trackPath, from);
        if (slot < 0) {
            return { placed: false, reason: "No free clip slot." };
        }
        var slotPath = trackPath + " clip_slots " + slot;
        this.api(slotPath).call("create_audio_clip", path);
        if (!this.first(this.api(slotPath), "has_clip")) {
            return { placed: false, reason: "Live refused the file." };
        }
        var clip = this.api(slotPath + " clip");
        clip.set("name", name);
        var fit = this.fitClip(clip, beats, true);
        return { placed: true, track: trackIndex, slot: slot, fit: fit,
                 where: "in slot " + (slot + 1) + " of track " + (trackIndex + 1) };
    },

    // Live brings a new audio clip in warped, at a tempo it guesses from the
    // file.  The take is exactly `beats` long at the set's tempo, so pin it:
    // warp markers at (beat 0, 0 s) and (beat `beats`, the file's end), every
    // other marker on that line, then the clip's region to those beats
    // (Session: looping over them).  Every Live API change is one step in
    // Live's undo history, so only what differs from what Live made is
    // changed: for a new clip, the end marker and the region's end (and, in
    // the Arrangement, looping off).  -> "" or a note for the status line.
    fitClip: function (clip, beats, looped) {
        var rate = Number(this.first(clip, "sample_rate"));
        var seconds = Number(this.first(clip, "sample_length")) / rate;
        if (!(rate > 0 && seconds > 0 && beats > 0)) {
            return "Live did not say how long the file is: check its warping.";
        }
        var perSecond = beats / seconds;
        function onTheLine(m) {
            return Math.abs(m.beat_time - m.sample_time * perSecond) < 1e-3;
        }
        this.setIfDiffers(clip, "warping", 1);
        var markers = this.warpMarkers(clip);
        for (var i = markers.length - 2; i >= 1; i--) {    // the last one is Live's hidden marker
            if (!onTheLine(markers[i])) {
                clip.call("remove_warp_marker", markers[i].beat_time);
            }
        }
        markers = this.warpMarkers(clip);
        var first = markers[0];
        if (first && !onTheLine(first)) {
            clip.call("move_warp_marker", first.beat_time, first.sample_time * perSecond - first.beat_time);
        }
        if (!first || first.sample_time > 1e-6) {
            this.addWarpMarker(clip, 0, 0);
        }
        this.pinWarpMarker(clip, beats, seconds);
        markers = this.warpMarkers(clip);
        var onLine = markers.length >= 2;
        var atEnd = false;
        for (var m = 0; m < markers.length - 1; m++) {
            onLine = onLine && onTheLine(markers[m]);
            atEnd = atEnd || (Math.abs(markers[m].beat_time - beats) < 1e-6 &&
                              Math.abs(markers[m].sample_time - seconds) < 1e-6);
        }
        if (!onLine || !atEnd) {
            clip.set("warping", 0);     // unwarped, it plays at its own tempo: the set's
            return "Live did not take the warp markers, so warping is off" +
                   (looped ? " and the clip does not loop." : ".");
        }
        // Session: loop over the take.  Arrangement: unlooped, so that the
        // clip ends at loop_end (a looped warped arrangement clip keeps the
        // length it was made with).
        this.setIfDiffers(clip, "looping", looped ? 1 : 0);
        this.setIfDiffers(clip, "loop_start", 0);
        this.setIfDiffers(clip, "loop_end", beats);
        this.setIfDiffers(clip, "start_marker", 0);
        this.setIfDiffers(clip, "end_marker", beats);
        return "";
    },

    // Set a property only when Live's value differs: each set is an undo step.
    setIfDiffers: function (api, prop, value) {
        if (Math.abs(Number(this.first(api, prop)) - value) > 1e-9) {
            api.set(prop, value);
        }
    },

    // The clip's warp markers, [{beat_time, sample_time}] by beat.  Live answers
    // a dict, which reaches js as JSON text (sometimes in a one-element list).
    warpMarkers: function (clip) {
        var raw = clip.get("warp_markers");
        var text = raw && typeof raw !== "string" && raw.length !== undefined
            ? Array.prototype.join.call(raw, " ") : String(raw || "");
        try {
            var parsed = JSON.parse(text);
            var list = parsed && parsed.warp_markers ? parsed.warp_markers : parsed;
            return list && list.length !== undefined ? list : [];
        } catch (e) {
            return [];
        }
    },

    addWarpMarker: function (clip, beat, seconds) {
        var marker = new Dict();
        marker.set("beat_time", beat);
        marker.set("sample_time", seconds);
        clip.call("add_warp_marker", marker);
    },

    // A marker at (beat, seconds): Live refuses a second marker at a sample
    // time that has one, so a marker already there is moved instead.
    pinWarpMarker: function (clip, beat, seconds) {
        var markers = this.warpMarkers(clip);
        for (var i = 0; i < markers.length; i++) {
            if (Math.abs(markers[i].sample_time - seconds) < 1e-6) {
                if (Math.abs(markers[i].beat_time - beat) > 1e-9) {
                    clip.call("move_warp_marker", markers[i].beat_time, beat - markers[i].beat_time);
                }
                return;
            }
        }
        this.addWarpMarker(clip, beat, seconds);
    },

    // The wanted slot if free, else the next free one below it; when there is
    // none, a scene is added at the end of the set for it.  -1 if that fails.
    freeSlot: function (trackPath, wanted) {
        var count = this.api(trackPath).getcount("clip_slots");
        for (var i = Math.max(wanted || 0, 0); i < count; i++) {
            if (!this.first(this.api(trackPath + " clip_slots " + i), "has_clip")) {
                return i;
            }
        }
        this.api("live_set").call("create_scene", -1);
        var grown = this.api(trackPath).getcount("clip_slots");
        if (grown > count && !this.first(this.api(trackPath + " clip_slots " + (grown - 1)), "has_clip")) {
            return grown - 1;
        }
        return -1;
    }
};

// Add the placing methods to `live` (musicgen_live.make).
function install(live) {
    var key;
    for (key in PLACE) {
        live[key] = PLACE[key];
    }
}

exports.install = install;
