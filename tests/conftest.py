"""Shared fixtures: the debug checkpoint, and a real engine process on loopback.

The engine fixture starts ``musicgen-bridge serve --model debug`` as a
subprocess on a free loopback port, waits until it reports ``ready``, and
stops it with SIGINT at the end of the session.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.client import EngineClient, EngineUnreachable

# Triton's interpreter runs the engine's Triton kernels on the CPU (tests/test_fused_step.py).
# Triton reads this when it is first imported, and transformers imports it, so it is set
# here, before any test module loads; a test of compiled kernels runs in its own process.
os.environ.setdefault("TRITON_INTERPRET", "1")

ENGINE_START_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bridge cache for this test session, with the debug checkpoint built once."""
    from engine.debug_checkpoint import ensure_debug_checkpoint

    root = tmp_path_factory.mktemp("bridge-cache")
    ensure_debug_checkpoint(root)
    return root


@pytest.fixture(scope="session")
def debug_engine(cache_dir: Path):
    """An :class:`engine.api.Engine` with the debug checkpoint loaded (in-process)."""
    from engine.api import Engine, EngineSettings

    engine = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False))
    engine.load("debug")
    return engine


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_executable() -> str:
    """The installed ``musicgen-bridge`` console script beside this Python."""
    candidate = Path(sys.executable).parent / "musicgen-bridge"
    return str(candidate) if candidate.exists() else "musicgen-bridge"


@dataclass
class EngineProcess:
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path
    out_dir: Path

    def client(self, timeout: float = 5.0) -> EngineClient:
        return EngineClient(self.host, self.port, timeout)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_engine(
    cache_dir: Path,
    workdir: Path,
    *extra: str,
    model: str = "debug",
    until_state: str = "ready",
    env: dict[str, str] | None = None,
) -> EngineProcess:
    """Start an engine subprocess and wait until ping reports ``until_state``."""
    port = free_udp_port()
    out_dir = workdir / "default-out"
    log_path = workdir / f"engine-{port}.log"
    cmd = [
        cli_executable(),
        "serve",
        "--model",
        model,
        "--port",
        str(port),
        "--cache-dir",
        str(cache_dir),
        "--out-dir",
        str(out_dir),
        *extra,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    engine = EngineProcess("127.0.0.1", port, process, log_path, out_dir)
    deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
    with engine.client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"engine exited early:\n{engine.log()}")
            try:
                if client.ping()["state"] == until_state:
                    return engine
            except EngineUnreachable:
                pass
            time.sleep(0.2)
    stop_engine(engine)
    raise RuntimeError(f"engine not ready in {ENGINE_START_TIMEOUT_S} s:\n{engine.log()}")


def stop_engine(engine: EngineProcess) -> int:
    if engine.process.poll() is None:
        engine.process.send_signal(signal.SIGINT)
        try:
            engine.process.wait(30)
        except subprocess.TimeoutExpired:
            engine.process.kill()
            engine.process.wait()
    return engine.process.returncode


@pytest.fixture(scope="session")
def engine_process(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real ``musicgen-bridge serve --model debug`` on a free loopback port."""
    engine = start_engine(cache_dir, tmp_path_factory.mktemp("engine"))
    yield engine
    stop_engine(engine)


def run_through_queue(engine: Any, models: list[str | None], out_dir: Path) -> list[dict]:
    """Run one 0.1 s take per entry of ``models`` (None: the request names none) through a
    job queue whose startup model is ``debug``, in order; return their sidecars."""
    from bridge.job_record import Job
    from bridge.jobs import JobQueue
    from engine.spec import GenerationSpec
    from tests.fakes import Recorder

    recorder = Recorder()
    queue = JobQueue(engine, recorder, startup_model="debug")
    queue.start()
    try:
        for i, model in enumerate(models):
            spec = GenerationSpec(prompt=f"take {i}", out_dir=out_dir, seconds=0.1, model=model)
            queue.submit(Job(f"j{i}", spec, ("127.0.0.1", 9)))
        terminals = recorder.wait_terminals(len(models), timeout=120)
    finally:
        queue.shutdown(30)
    assert [t[0] for t in terminals] == ["done"] * len(models), terminals
    return [json.loads(Path(t[2][0]).with_suffix(".json").read_text()) for t in terminals]


def models_json_menu(port: int) -> list[dict]:
    """The "menu" of `musicgen-bridge models --json` against the engine on ``port``."""
    listing = subprocess.run(
        [cli_executable(), "models", "--json", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(listing.stdout)["menu"]
