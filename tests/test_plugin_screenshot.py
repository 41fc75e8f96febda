"""The plugin's editor renders: the Standalone build under Xvfb, captured and checked.

The Standalone app hosts the same processor and editor as the VST3.  It runs on
a private Xvfb display with HOME in a temporary folder (its settings and the
default output folder go there), with no engine on the port it looks at, so the
editor shows the engine-not-running line.  The capture must hold a drawn
window: many distinct colours and no single colour covering the screen.

Set MUSICGEN_BRIDGE_SCREENSHOT_OUT to a path to keep the capture
(docs/images/plugin-editor.png was made that way).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.test_plugin import stop_process

REPO = Path(__file__).resolve().parent.parent
STANDALONE = (
    REPO
    / "plugin"
    / "build"
    / "MusicGenBridge_artefacts"
    / "Release"
    / "Standalone"
    / "MusicGen Bridge"
)
SCREEN = (1024, 768)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is missing: install Xvfb and ImageMagick (`make system-deps` does, as root)."
        )
    return path


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        [
            _tool("Xvfb"),
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{SCREEN[0]}x{SCREEN[1]}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 10
    with os.fdopen(read_fd, "rb") as pipe:
        while time.monotonic() < deadline and not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        xvfb.kill()
        pytest.fail("Xvfb did not start (no display number within 10 s)")
    return xvfb, f":{number.decode().strip()}"


def _pixels(png: Path) -> np.ndarray:
    raw = subprocess.run(
        [_tool("convert"), str(png), "-depth", "8", "rgb:-"],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(SCREEN[1], SCREEN[0], 3)


def test_the_editor_renders_under_xvfb(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the screenshot is taken with Xvfb, on Linux")
    if not STANDALONE.exists():
        pytest.fail(
            f"The plugin is not built: {STANDALONE} is missing. Build it with `make plugin`."
        )
    xvfb, display = _start_xvfb()
    env = dict(os.environ, DISPLAY=display, HOME=str(tmp_path))
    app = subprocess.Popen(
        [str(STANDALONE)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    shot = tmp_path / "plugin-editor.png"
    try:
        colours = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(1.0)
            assert app.poll() is None, f"the Standalone exited with {app.returncode}"
            subprocess.run(
                [_tool("import"), "-window", "root", str(shot)],
                env=env,
                check=True,
                timeout=30,
                capture_output=True,
            )
            pixels = _pixels(shot)
            colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
            # The editor's engine line says the engine is not running after ~3 s of silence.
            if colours > 200 and time.monotonic() > deadline - 24:
                break
        pixels = _pixels(shot)
        flat = pixels.reshape(-1, 3)
        values, counts = np.unique(flat, axis=0, return_counts=True)
        assert len(values) > 200, f"only {len(values)} colours: the window did not draw"
        assert counts.max() / flat.shape[0] < 0.8, (
            "one colour covers most of the screen: nothing drew"
        )
        assert float(pixels.std()) > 10.0
        out = os.environ.get("MUSICGEN_BRIDGE_SCREENSHOT_OUT")
        if out:
            shutil.copyfile(shot, out)
    finally:
        stop_process(app, signal.SIGTERM, 10)
        xvfb.terminate()
        xvfb.wait(10)
