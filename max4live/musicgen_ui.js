// musicgen_ui.js -- every message to the patch's controls (Max `js` CommonJS
// module, ES5; require("musicgen_ui")).  The js object's outlet 1 feeds
// [route status progress reachable models seed port]: each function here
// starts its message with one of those words.  The Model menu's items are made
// in musicgen_menu.js; here they go into the umenu.

var clamp = require("musicgen_text").clamp;

var STATE = null;      // the device's state: reachable, menu, model
var SEND = null;       // function (atoms): one Max message out of outlet 1

function make(state, send) {
    STATE = state;
    SEND = send;
    return UI;
}

var UI = {
    // The status line.
    status: function (message) {
        SEND(["status", message]);
    },

    // The progress bar, 0..1.
    progress: function (fraction) {
        SEND(["progress", clamp(Number(fraction) || 0, 0, 1)]);
    },

    // The engine-reachable light: 1 answered, 0 did not (state.reachable; -1 not asked yet).
    reachable: function (on) {
        STATE.reachable = on;
        SEND(["reachable", on]);
    },

    seed: function (value) {
        SEND(["seed", value]);
    },

    // The reply port (the patch also re-tells [udpreceive]).
    port: function (port) {
        SEND(["port", port]);
    },

    // Refill the umenu (each label one symbol: `append` makes its words one item)
    // and show the current choice; a choice no longer listed falls back to the
    // engine default, so what the menu shows is what is sent.
    fillModelMenu: function (items) {
        STATE.menu = items;
        SEND(["models", "clear"]);
        for (var i = 0; i < items.length; i++) {
            SEND(["models", "append", items[i].label]);
        }
        if (STATE.model !== null && modelMenuIndex(STATE.model) < 0) {
            STATE.model = null;
        }
        UI.showModelChoice();
    },

    // umenu `set N`: show item N without output (so it does not come back as a choice).
    showModelChoice: function () {
        var index = STATE.model === null ? 0 : modelMenuIndex(STATE.model);
        SEND(["models", "set", index < 0 ? 0 : index]);
    }
};

function modelMenuIndex(name) {
    for (var i = 1; i < STATE.menu.length; i++) {
        if (STATE.menu[i].name === name) {
            return i;
        }
    }
    return -1;
}

exports.make = make;
