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


def test_disk_full_while_writing_the_wav_answers_write_failed(served, monkeypatch):
    peer, out = served
    real_write = sf.write
    calls = []

    def fill_the_disk_once(fh, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            return real_write(fh, *args, **kwargs)
        fh.write(b"RIFF\x24\x00\x00\x00WAVE")  # a partial header, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sf, "write", fill_the_disk_once)
    address, args = take(peer, "full", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed")
    assert "No space left on device" in args[1]
    assert os.listdir(out) == []  # no final name, and the temporary file removed
    peer.ping_ok()
    assert take(peer, "after-full", out)[0] == f"{P}/done"
    assert_complete_take(out)


def test_disk_full_while_writing_the_sidecar_leaves_only_a_complete_wav(served, monkeypatch):
    peer, out = served

    def no_room_for_json(file, mode="r", *args, **kwargs):
        if str(file).endswith(".partial.json"):
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(engine.output, "open", no_room_for_json, raising=False)
    address, args = take(peer, "nojson", out)
    assert (address, args[0]) == (f"{P}/error", "write_failed")
    assert "No space left on device" in args[1]
    assert hidden_names(out) == []
    for name in final_names(out):  # a WAV under a final name is a whole one
        assert name.endswith(".wav") and sf.info(out / name).frames == 16000
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
    assert "Permission denied" in args[1]
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
        import io
        import soundfile
        _write = soundfile.write

        def _stalling_write(file, data, *args, **kwargs):
            buf = io.BytesIO()
            _write(buf, data, *args, **kwargs)
            raw = buf.getvalue()
            file.write(raw[: len(raw) // 2])  # half the take is on disk...
            file.flush()
            open(marker, "w").close()
            time.sleep(60)  # ...when the engine is killed
            file.write(raw[len(raw) // 2 :])

        soundfile.write = _stalling_write
"""


def killed_engine(cache_dir: Path, workdir: Path, env: dict[str, str] | None = None):
    return start_engine(
        cache_dir, workdir, "--no-warmup", env={"OMP_NUM_THREADS": "1", **(env or {})}
    )


def test_engine_killed_mid_write_leaves_only_a_hidden_partial(cache_dir, tmp_path):
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
