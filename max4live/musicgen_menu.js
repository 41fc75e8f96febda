// musicgen_menu.js -- the Model menu's items from the engine's /musicgen/model and
// /musicgen/models replies (Max `js` CommonJS module, ES5; require("musicgen_menu")).
// Pure functions; the device fills its umenu with what they return.  Mirrors
// bridge/model_list.py menu_items, label for label (a test keeps them equal).

// The details of one models request, in index order, or null when there were
// none or one was lost (a missing index, or fewer than count).
function completeDetails(details) {
    if (!details || !(details.count > 0)) {
        return null;
    }
    var list = [];
    for (var i = 0; i < details.count; i++) {
        if (!details.entries[i]) {
            return null;
        }
        list.push(details.entries[i]);
    }
    return list;
}

// A download's size as published (decimal GB, approximate), from MiB; -1: unknown.
function downloadSize(sizeMb) {
    if (!(sizeMb >= 0)) {
        return "size unknown";
    }
    return "about " + (sizeMb * 1048576 / 1e9).toFixed(1) + " GB";
}

// The menu items, the first "engine default (LOADED)" (name "": no model sent).
// With details: one item per name in the engine's order (several cache
// snapshots of one repo are one item, resident if any is).  Without (an older
// engine, or a lost detail): the plain list's names but the loaded one.
// Mirrors bridge/model_list.py menu_items, label for label (a test keeps them equal).
function modelMenu(loaded, names, details) {
    var items = [{ label: "engine default (" + loaded + ")", name: "", download: "", size: "" }];
    var i;
    if (!details) {
        for (i = 0; i < names.length; i++) {
            if (names[i] !== loaded) {
                items.push({ label: names[i], name: names[i], download: "", size: "" });
            }
        }
        return items;
    }
    var byName = {};
    var order = [];
    for (i = 0; i < details.length; i++) {
        var e = details[i];
        if (!byName.hasOwnProperty(e.name)) {
            byName[e.name] = { name: e.name, kind: e.kind, state: e.state, sizeMb: e.sizeMb,
                               melody: e.melody, source: e.source };
            order.push(e.name);
        } else if (e.state === "resident") {
            byName[e.name].state = "resident";
        }
    }
    for (i = 0; i < order.length; i++) {
        var entry = byName[order[i]];
        var missing = entry.state === "not_downloaded";
        items.push({ label: modelLabel(entry), name: entry.name,
                     download: missing ? entry.source : "",
                     size: missing ? downloadSize(entry.sizeMb) : "" });
    }
    return items;
}

// "facebook/musicgen-small (resident)", "debug-melody (test noise, ready, melody)",
// "my-finetune (folder, ready)", "facebook/musicgen-small+my-lora (finetune, ready)",
// "facebook/musicgen-large (download first, about 6.5 GB)".
function modelLabel(entry) {
    var shown = entry.name;
    var tags = [];
    if (entry.kind === "folder") {
        shown = entry.name.replace(/[\/\\]+$/, "").replace(/\\/g, "/");
        shown = shown.substring(shown.lastIndexOf("/") + 1) || entry.name;
        tags.push("folder");
    } else if (entry.kind === "debug") {
        tags.push("test noise");
    } else if (entry.kind === "adapter") {
        tags.push("finetune");
    }
    if (entry.state === "resident") {
        tags.push("resident");
    } else if (entry.state === "not_downloaded") {
        tags.push("download first, " + downloadSize(entry.sizeMb));
    } else {
        tags.push("ready");
    }
    if (entry.melody) {
        tags.push("melody");
    }
    return shown + " (" + tags.join(", ") + ")";
}

exports.completeDetails = completeDetails;
exports.downloadSize = downloadSize;
exports.modelMenu = modelMenu;
exports.modelLabel = modelLabel;
