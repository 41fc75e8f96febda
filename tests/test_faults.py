"""Faults: each ends in an error reply or a log line, and the engine keeps serving.

And whatever happens, no partial WAV ever appears under a final name: a take
is written under a hidden ``.{stem}.{pid}.partial.wav`` and linked to its real
name only when complete (engine/output.py).

Disk full and permission denied are simulated by monkeypatching inside an
in-process server driving the real debug Engine: the tests run as root, where
``chmod 0o500`` does not stop a write, so a read-only folder proves nothing here.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import textwrap
import time
import types
from dataclasses import replace
from pathlib import Path

import pytest
import soundfile as sf

import engine.output
from tests.conftest import free_udp_port, start_engine, stop_engine
from tests.test_load import TERMINAL, P, Peer, in_process_server, visible_files


def final_names(folder: Path) -> list[str]:
    """Every file under ``folder`` that a DAW would see (not hidden)."""
    return visible_files(folder) if folder.exists() else []


def hidden_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def served(debug_engine, tmp_path):
    """(peer, out folder) for an in-process server around the real debug Engine."""
    out = tmp_path / "takes"
    out.mkdir()
    with (
        in_process_server(debug_engine, model="debug", out_dir=out) as server,
        Peer(server.address) as peer,
    ):
        yield peer, out


def take(peer: Peer, request_id: str, out: Path, seconds: float = 0.5) -> tuple[str, list]:
    """Ask for a short take; its terminal reply as (address, args after the id)."""
    peer.send("generate", request_id, prompt=request_id, seconds=seconds, out_dir=str(out))
    _, address, args = peer.until(request_id, TERMINAL)
    return address, args


def assert_complete_take(out: Path, seconds: float = 0.5) -> None:
    """Exactly one WAV and its sidecar under final names, the WAV complete."""
    names = final_names(out)
    [wav] = [n for n in names if n.endswith(".wav")]
    assert names == sorted([wav, wav[:-4] + ".json"]), names
    assert sf.info(out / wav).frames == round(seconds * 32000)


# -- the output folder ----------------------------------------------------------


def test_output_folder_deleted_mid_job_answers_write_failed(engine_process, tmp_path):
    out = tmp_path / "project" / "takes"
    out.mkdir(parents=True)
    with Peer((engine_process.host, engine_process.port)) as peer:
        peer.send("generate", "orphan", prompt="orphan", seconds=5.0, out_dir=str(out))
        peer.until("orphan", {f"{P}/progress"})
        shutil.rmtree(out)
        _, address, args = peer.until("orphan", TERMINAL, timeout=120)
        assert (address, args[0]) == (f"{P}/error", "write_failed"), args
        assert str(out) in args[1]
        peer.ping_ok()
    assert not out.exists()  # not recreated: the engine writes only where it was asked
    assert final_names(tmp_path) == []
    assert "orphan: write_failed" in engine_process.log()


# -- disk full, permission denied -----------------------------------------------


class FullDisk:
    """A file on a disk with ``room`` bytes left: writes beyond it raise ENOSPC, as the
    kernel does (what fits is written first)."""

    def __init__(self, fh, room: int) -> None:
        self._fh, self._room = fh, room

    def write(self, data) -> int:
        data = bytes(data)
        fits = data[: max(self._room, 0)]
        self._fh.write(fits)
        self._room -= len(fits)
        if len(fits) < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()


def fill_disk(monkeypatch, folder: Path, room: int = 100) -> None:
    """Files opened for writing under ``folder`` have ``room`` bytes left each."""

    def opener(file, mode="r", *args, **kwargs):
        fh = open(file, mode, *args, **kwargs)  # noqa: SIM115 (the caller closes it)
        inside = str(Path(file).resolve()).startswith(str(folder.resolve()))
        return FullDisk(fh, room) if inside and ("w" in mode or "x" in mode) else fh

    monkeypatch.setattr(engine.output, "open", opener, raising=False)


@pytest.fixture
def rescue_dir(debug_engine, tmp_path, monkeypatch):
    """The debug engine with its own folder (serve --out-dir) set, for this test."""
    folder = tmp_path / "engine-folder"
    folder.mkdir()
    monkeypatch.setattr(debug_engine, "settings", replace(debug_engine.settings, out_dir=folder))
    return folder


def test_disk_full_midway_through_the_wav_answers_write_failed(served, monkeypatch):
    """A full disk while the WAV is being written (a 10 s take on a 200 KiB tmpfs): soundfile
    turned the OSError into a bare AssertionError, answered "generation_failed Internal
    error: "."""
    peer, out = served
    fill_disk(monkeypatch, out, room=4096)
    address, args = take(peer, "full", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed"), args
    assert str(out.resolve()) in args[1] and "the disk is full" in args[1], args[1]
    assert os.listdir(out) == []  # no final name, and the temporary file removed
    peer.ping_ok()
    monkeypatch.undo()
    assert take(peer, "after-full", out)[0] == f"{P}/done"
    assert_complete_take(out)


def test_disk_full_is_saved_to_the_engine_folder_and_the_error_says_where(
    served, rescue_dir, monkeypatch
):
    peer, out = served
    fill_disk(monkeypatch, out)
    address, args = take(peer, "rescued", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed"), args
    assert os.listdir(out) == []
    assert_complete_take(rescue_dir)
    [wav] = [n for n in final_names(rescue_dir) if n.endswith(".wav")]
    assert str(out.resolve()) in args[1] and str(rescue_dir.resolve() / wav) in args[1], args[1]
    assert hidden_names(rescue_dir) == []


def test_variations_all_move_to_the_engine_folder_when_one_cannot_be_written(
    served, rescue_dir, monkeypatch
):
    """Take 1 of 2 fits, take 2 does not: take 1 does not stay behind in the project."""
    peer, out = served
    real_open = open
    opened = []

    def second_wav_fails(file, mode="r", *args, **kwargs):
        if str(file).startswith(str(out.resolve())) and str(file).endswith(".partial.wav"):
            opened.append(file)
            if len(opened) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(engine.output, "open", second_wav_fails, raising=False)
    peer.send("generate", "two", prompt="two", seconds=0.5, variations=2, out_dir=str(out))
    _, address, args = peer.until("two", TERMINAL)
    assert (address, args[0]) == (f"{P}/error", "write_failed"), args
    assert len(opened) == 2 and os.listdir(out) == []
    wavs = [n for n in final_names(rescue_dir) if n.endswith(".wav")]
    assert len(wavs) == 2 and all(str(rescue_dir.resolve() / w) in args[1] for w in wavs)
    assert "The takes were saved to" in args[1]


def test_when_the_engine_folder_fails_too_nothing_is_kept_anywhere(served, rescue_dir, monkeypatch):
    peer, out = served
    fill_disk(monkeypatch, out.parent)  # both folders sit on the one full disk
    address, args = take(peer, "nowhere", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed"), args
    assert "Nothing was kept" in args[1] and str(rescue_dir) in args[1], args[1]
    assert os.listdir(out) == [] and os.listdir(rescue_dir) == []


def test_read_only_folder_answers_write_failed(served, monkeypatch):
    """A read-only mount: creating the file fails, and so does removing it; the removal
    raised EROFS out of the error path ("generation_failed Internal error: [Errno 30]")."""
    peer, out = served
    inside = str(out.resolve())
    real_open, real_unlink = open, Path.unlink

    def read_only_open(file, mode="r", *args, **kwargs):
        if str(file).startswith(inside) and ("w" in mode or "x" in mode):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    def read_only_unlink(self, *args, **kwargs):
        if str(self).startswith(inside):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(engine.output, "open", read_only_open, raising=False)
    monkeypatch.setattr(Path, "unlink", read_only_unlink)
    address, args = take(peer, "ro", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed"), args
    assert inside in args[1] and "read-only disk" in args[1], args[1]
    assert os.listdir(out) == []
    peer.ping_ok()


def test_disk_full_while_writing_the_sidecar_leaves_nothing_of_the_take(served, monkeypatch):
    peer, out = served

    def no_room_for_json(file, mode="r", *args, **kwargs):
        if str(file).endswith(".partial.json"):
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(engine.output, "open", no_room_for_json, raising=False)
    address, args = take(peer, "nojson", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed")
    assert "sidecar" in args[1] and "the disk is full" in args[1], args[1]
    assert os.listdir(out) == []  # the WAV without its sidecar was removed too
    peer.ping_ok()


def test_permission_denied_answers_write_failed(served, monkeypatch):
    peer, out = served

    def denied(file, mode="r", *args, **kwargs):
        if str(file).startswith(str(out.resolve())):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(engine.output, "open", denied, raising=False)
    address, args = take(peer, "denied", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed")
    assert "permission denied: the engine may not write there" in args[1], args[1]
    assert os.listdir(out) == []
    peer.ping_ok()
    monkeypatch.undo()
    assert take(peer, "allowed", out)[0] == f"{P}/done"


def test_no_hard_links_and_a_failed_move_leave_no_file_under_a_final_name(served, monkeypatch):
    """A share without hard links (link: EPERM) that then fails the move (disk full).

    write_take falls back to reserving the final name with an empty file and
    moving the finished temporary over it; if that move fails, the empty
    reservation must not be left behind under the final name.
    """
    peer, out = served

    def no_link(src, dst, *args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted", str(src), None, str(dst))

    def replace_fails(src, dst, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))

    fake_os = types.SimpleNamespace(**{n: getattr(os, n) for n in dir(os) if n[:2] != "__"})
    fake_os.link, fake_os.replace = no_link, replace_fails
    monkeypatch.setattr(engine.output, "os", fake_os)
    address, args = take(peer, "nolink", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed")
    peer.ping_ok()
    left = {n: (out / n).stat().st_size for n in final_names(out)}
    assert left == {}, f"left under a final name (name: bytes): {left}"
    assert hidden_names(out) == []


# -- the model call -------------------------------------------------------------


def test_out_of_memory_in_the_model_call_answers_generation_failed(
    served, debug_engine, monkeypatch
):
    import torch

    peer, out = served

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    # The text encoder runs first in either decoder (fast or reference).
    monkeypatch.setattr(debug_engine._loaded.model.text_encoder, "forward", oom)
    address, args = take(peer, "oom", out)
    assert (address, args[0]) == (f"{P}/error", "generation_failed")
    assert "Out of memory" in args[1] and "shorter take or a smaller model" in args[1]
    assert os.listdir(out) == []
    # The worker lives on.  (The terminal reply is sent just before the worker
    # clears its running job, so a status right after it may still say busy.)
    states = []
    for i in range(20):
        peer.send("status", f"st{i}")
        states.append(peer.until(f"st{i}", {f"{P}/status"})[2][0])
        if states[-1] == "ready":
            break
        time.sleep(0.05)
    assert states[-1] == "ready", states
    monkeypatch.undo()
    assert take(peer, "after-oom", out)[0] == f"{P}/done"
    assert_complete_take(out)


# -- the network ----------------------------------------------------------------


def test_reply_port_closed_the_engine_logs_and_keeps_serving(engine_process, tmp_path):
    dead = free_udp_port()  # bound, then closed: nothing listens there
    before = len(engine_process.log())
    with Peer((engine_process.host, engine_process.port)) as peer:
        for i in range(20):
            peer.send("ping", f"deadping{i}", reply_port=dead)
            peer.send("status", f"deadstatus{i}", reply_port=dead)
        peer.send("nope", "deadbad", reply_port=dead)
        peer.send("generate", "deadtake", reply_port=dead, prompt="x", seconds=0.5)
        peer.send(
            "generate", "deadtake3", reply_port=dead, prompt="z", seconds=0.5, out_dir=str(tmp_path)
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "job deadtake3 done" not in engine_process.log():
            time.sleep(0.1)
        assert peer.replies == {}  # nothing came to this socket: replies went to reply_port
        peer.ping_ok("alive-after-dead-port")
    log = engine_process.log()[before:]
    assert "job deadtake3 done" in log
    assert engine_process.process.poll() is None
    assert "Traceback" not in log
    assert len([n for n in final_names(tmp_path) if n.endswith(".wav")]) == 1


# -- the engine killed --------------------------------------------------------------

STALL_HOOK = """
    import os, time
    marker = os.environ.get("BRIDGE_TEST_STALL_MARKER")
    if marker:
        _fsync = os.fsync

        def _stalling_fsync(fd):
            open(marker, "w").close()  # the take's bytes are in its hidden file...
            time.sleep(60)  # ...when the engine is killed, before its final name
            _fsync(fd)

        os.fsync = _stalling_fsync
"""


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def killed_engine(cache_dir: Path, workdir: Path, env: dict[str, str] | None = None):
    return start_engine(
        cache_dir, workdir, "--no-warmup", env={"OMP_NUM_THREADS": "1", **(env or {})}
    )


def test_engine_killed_mid_write_leaves_a_hidden_partial_the_next_write_removes(
    cache_dir, debug_engine, tmp_path
):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(STALL_HOOK))
    marker = tmp_path / "writing"
    out = tmp_path / "takes"
    out.mkdir()
    path = os.pathsep.join([str(hook), *filter(None, [os.environ.get("PYTHONPATH")])])
    engine = killed_engine(
        cache_dir, tmp_path, {"PYTHONPATH": path, "BRIDGE_TEST_STALL_MARKER": str(marker)}
    )
    try:
        with Peer((engine.host, engine.port)) as peer:
            peer.send("generate", "k", prompt="killed", seconds=0.5, out_dir=str(out))
            peer.until("k", {f"{P}/queued"})
            deadline = time.monotonic() + 60
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists(), engine.log()
            os.kill(engine.process.pid, signal.SIGKILL)
            assert engine.process.wait(30) == -signal.SIGKILL
    finally:
        stop_engine(engine)
    assert final_names(out) == []
    [partial] = hidden_names(out)  # proof that it died mid-write
    assert partial.startswith(".") and ".partial." in partial
    # The next engine to write there removes it (its process is gone); it used to stay.
    with (
        in_process_server(debug_engine, model="debug", out_dir=out) as server,
        Peer(server.address) as peer,
    ):
        assert take(peer, "next", out)[0] == f"{P}/done"
    assert hidden_names(out) == []
    assert_complete_take(out)


def test_stale_partials_of_the_engine_naming_whose_process_is_gone_are_removed(served, tmp_path):
    peer, out = served
    gone, alive = dead_pid(), os.getppid()
    stale = [
        f".20260101-120000_drums_s7.{gone}.partial.wav",
        f".20260101-120000_x_s1-2.{gone}.partial.json",
    ]
    kept = [
        f".20260101-120000_drums_s8.{alive}.partial.wav",  # another engine still writing
        f".mine.{gone}.partial.wav",  # not a name the engine makes
        f".20260101-120000_drums_s9.{gone}.partial.txt",
    ]
    for name in stale + kept:
        (out / name).write_bytes(b"RIFF")
    (out / f".20260101-120000_link_s1.{gone}.partial.wav").symlink_to(tmp_path)  # not a file
    kept.append(f".20260101-120000_link_s1.{gone}.partial.wav")
    assert take(peer, "tidy", out)[0] == f"{P}/done"
    left = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert left == sorted(kept)


def test_the_engine_folder_is_tidied_at_start(cache_dir, tmp_path):
    from engine.api import Engine, EngineSettings

    folder = tmp_path / "engine-folder"
    folder.mkdir()
    stale = folder / f".20260101-120000_drums_s7.{dead_pid()}.partial.wav"
    stale.write_bytes(b"RIFF")
    Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, out_dir=folder))
    assert not stale.exists()


def test_engine_killed_mid_generation_leaves_no_file_under_a_final_name(cache_dir, tmp_path):
    out = tmp_path / "takes"
    out.mkdir()
    engine = killed_engine(cache_dir, tmp_path)
    try:
        with Peer((engine.host, engine.port)) as peer:
            peer.send("generate", "g", prompt="killed", seconds=30.0, out_dir=str(out))
            peer.until("g", {f"{P}/progress"})
            os.kill(engine.process.pid, signal.SIGKILL)
            assert engine.process.wait(30) == -signal.SIGKILL
    finally:
        stop_engine(engine)
    assert final_names(out) == []
    assert all(".partial." in n for n in hidden_names(out))
