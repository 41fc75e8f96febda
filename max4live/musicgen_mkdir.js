// musicgen_mkdir.js -- run by [node.script musicgen_mkdir.js @autostart 1].
//
// Max's `js` object cannot create folders (its File/Folder objects only read
// and write files), and the engine writes only into folders that already
// exist.  So the device asks this tiny Node for Max script to create
// <Live Set folder>/Samples/Generated/MusicGen before it sends a request.
//
// In:  mkdir <token> <absolute path>
// Out: made <token> <path>   |   mkfail <token> <reason>
// No npm dependencies; `max-api` is provided by Max.

"use strict";

const fs = require("fs");
const path = require("path");

/** Create `folder` and its parents; returns null on success, else a reason. */
function makeFolder(folder) {
  if (typeof folder !== "string" || !path.isAbsolute(folder)) {
    return `not an absolute path: ${folder}`;
  }
  try {
    fs.mkdirSync(folder, { recursive: true });
    return fs.statSync(folder).isDirectory() ? null : `not a folder: ${folder}`;
  } catch (err) {
    return err.message;
  }
}

module.exports = { makeFolder };

let maxApi = null;
try {
  maxApi = require("max-api");
} catch (err) {
  maxApi = null; // loaded by the tests, outside Max
}

if (maxApi) {
  maxApi.addHandler("mkdir", (token, ...parts) => {
    const folder = parts.join(" ");
    const reason = makeFolder(folder);
    if (reason) {
      maxApi.outlet("mkfail", token, reason);
    } else {
      maxApi.outlet("made", token, folder);
    }
  });
}
