"""First run: downloading a checkpoint from a fake Hugging Face Hub on loopback.

The fake Hub (:class:`FakeHub`, 127.0.0.1 only) serves the endpoints
huggingface_hub's client calls, as read in its source: the model info with
file sizes (``/api/models/{id}[/revision/{rev}]?blobs=true``), the file
listing (``/api/models/{id}/tree/{rev}``, what ``snapshot_download`` reads),
and ``HEAD``/``GET /{id}/resolve/{rev}/{file}`` with the headers the client
needs (``X-Repo-Commit``, ``ETag``, ``Content-Length``).  It serves a tiny
random-weight checkpoint built as the tests build all theirs
(engine/debug_checkpoint.py), plus a pickle duplicate of its weights that no
download may fetch.  The client is pointed at it with ``HF_ENDPOINT`` and a
temporary ``HF_HOME``, in subprocesses (huggingface_hub reads both at import).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import EngineProcess, cli_executable, start_engine, stop_engine

REPO = "test-org/musicgen-tiny"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
PICKLE = "pytorch_model.bin"
RUN_TIMEOUT_S = 120  # for each subprocess; the downloads are of a few hundred kB


@dataclass
class FakeHub:
    """A Hub with one model repository, at ``url``; ``requests`` records (method, path)."""

    files: dict[str, bytes]
    url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    # When set: the weights' bytes wait for it (a download caught halfway).
    gate: threading.Event | None = None

    def fetched(self) -> set[str]:
        """Files whose content was sent (GET on /resolve/)."""
        marker = f"/{REPO}/resolve/"
        return {
            path.split(marker, 1)[1].split("/", 1)[1]
            for method, path in self.requests
            if method == "GET" and marker in path
        }


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    api = f"/api/models/{REPO}"
    resolve = re.compile(rf"/{re.escape(REPO)}/resolve/([^/]+)/(.+)")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append((self.command, path))
            if path in (api, f"{api}/revision/main", f"{api}/revision/{COMMIT}"):
                siblings = [
                    {"rfilename": name, "size": len(data), "blobId": _sha1(data)}
                    for name, data in sorted(hub.files.items())
                ]
                self._json({"id": REPO, "modelId": REPO, "sha": COMMIT, "siblings": siblings})
            elif path in (f"{api}/tree/main", f"{api}/tree/{COMMIT}"):
                tree = [
                    {"type": "file", "path": name, "size": len(data), "oid": _sha1(data)}
                    for name, data in sorted(hub.files.items())
                ]
                self._json(tree)
            elif (match := resolve.fullmatch(path)) and match[1] in ("main", COMMIT):
                data = hub.files.get(match[2])
                if data is None:
                    self._missing("EntryNotFound")
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body and hub.gate is not None and match[2] == "model.safetensors":
                    hub.gate.wait(RUN_TIMEOUT_S)
                if body:
                    self.wfile.write(data)
            else:
                self._missing("RepoNotFound")

        def _json(self, value: object) -> None:
            data = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)

        def _missing(self, code: str) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", f"{code}: {self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture(scope="module")
def checkpoint_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A tiny random-weight checkpoint's files, plus a pickle duplicate of its weights."""
    from engine.debug_checkpoint import build_debug_checkpoint

    folder = build_debug_checkpoint(tmp_path_factory.mktemp("hub-repo"))
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    files[PICKLE] = b"not to be fetched: " + files["model.safetensors"][:4096]
    files["README.md"] = b"# a model card, which loading does not need\n"
    return files


@contextlib.contextmanager
def _serving(files: dict[str, bytes]) -> Iterator[FakeHub]:
    """A fake Hub serving ``files`` as REPO on a free loopback port, for the block."""
    hub = FakeHub(files)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def hub(checkpoint_files: dict[str, bytes]) -> Iterator[FakeHub]:
    with _serving(checkpoint_files) as hub:
        yield hub


def _env(hf_home: Path, endpoint: str, offline: bool = False) -> dict[str, str]:
    """The environment of a client pointed at ``endpoint``, caching under ``hf_home``."""
    return {
        "HF_HOME": str(hf_home),
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "1" if offline else "0",
        "NO_PROXY": "127.0.0.1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }


def _closed_port() -> int:
    """A loopback TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _download(env: dict[str, str], model: str = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cli_executable(), "download", model],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=dict(os.environ, **env),
    )


def _serve_downloading(
    cache_dir: Path, tmp_path: Path, endpoint: str, until_state: str = "ready"
) -> EngineProcess:
    """`serve --download-missing --model REPO` against the Hub at ``endpoint``."""
    return start_engine(
        cache_dir,
        tmp_path,
        "--no-warmup",
        "--download-missing",
        model=REPO,
        until_state=until_state,
        env=_env(tmp_path, endpoint),
    )


def _loader_files(files: dict[str, bytes]) -> set[str]:
    from huggingface_hub.utils import filter_repo_objects

    from engine.checkpoint import DOWNLOAD_PATTERNS

    return set(filter_repo_objects(list(files), allow_patterns=DOWNLOAD_PATTERNS))


def _sizes_in_bar(stderr: str) -> list[tuple[str, str]]:
    """(done, total) of each frame of the download bar, e.g. ("362kB", "362kB")."""
    return re.findall(r"(\d+(?:\.\d+)?[kMG]?B) / (\d+(?:\.\d+)?[kMG]?B)", stderr)


def test_download_fills_the_cache_with_the_loader_files_and_one_bar(hub, tmp_path):
    run = _download(_env(tmp_path, hub.url))
    assert run.returncode == 0, run.stderr
    folder = Path(run.stdout.strip())
    assert folder == tmp_path / "hub" / "models--test-org--musicgen-tiny" / "snapshots" / COMMIT
    wanted = _loader_files(hub.files)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= wanted
    assert {p.name for p in folder.iterdir()} == wanted
    for name in wanted:
        assert (folder / name).read_bytes() == hub.files[name]
    # Never the pickle duplicate, nor the model card.
    assert hub.fetched() == wanted
    assert not any(PICKLE in path for _, path in hub.requests)
    # The branch's commit is recorded, so the offline lookup by id finds it.
    assert (folder.parents[1] / "refs" / "main").read_text() == COMMIT
    # One bar for the whole checkpoint, its total known from the first frame.
    frames = _sizes_in_bar(run.stderr)
    assert frames, run.stderr
    total = sum(len(hub.files[name]) for name in wanted)
    assert {t for _, t in frames} == {_tqdm_size(total)}
    assert frames[-1] == (_tqdm_size(total), _tqdm_size(total))
    assert "B/s" in run.stderr  # the rate
    assert "Fetching" not in run.stderr  # not huggingface_hub's own bars


def _tqdm_size(n: int) -> str:
    from tqdm import tqdm

    return f"{tqdm.format_sizeof(n)}B"


@pytest.mark.e2e
def test_downloaded_checkpoint_loads_offline_through_the_normal_lookup(hub, tmp_path, cache_dir):
    assert _download(_env(tmp_path, hub.url)).returncode == 0
    hub.requests.clear()
    engine = start_engine(
        cache_dir,
        tmp_path,
        "--no-warmup",
        model=REPO,
        env=_env(tmp_path, "http://127.0.0.1:9", offline=True),
    )
    try:
        with engine.client() as client:
            pong = client.ping()
        assert (pong["state"], pong["model"]) == ("ready", REPO)
    finally:
        stop_engine(engine)
    assert hub.requests == []


def test_a_cache_filled_by_snapshot_download_loads_offline(hub, tmp_path):
    """snapshot_download keeps the Hub's file listing, pickle included; the lookup ignores it.

    Failed before: the offline lookup, without the loader's patterns, read the
    missing pickle as an incomplete snapshot and said the model was not there.
    """
    fill = (
        "from huggingface_hub import snapshot_download\n"
        "from engine.checkpoint import DOWNLOAD_PATTERNS\n"
        f"snapshot_download({REPO!r}, allow_patterns=DOWNLOAD_PATTERNS)\n"
    )
    look = (
        "from pathlib import Path\n"
        "from engine.checkpoint import resolve\n"
        f"print(resolve({REPO!r}, Path('unused')))\n"
    )
    for code, env in (
        (fill, _env(tmp_path, hub.url)),
        (look, _env(tmp_path, "http://127.0.0.1:9", offline=True)),
    ):
        run = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            env=dict(os.environ, **env),
        )
        assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).name == COMMIT
    assert PICKLE not in hub.fetched()


@pytest.mark.e2e
def test_serve_download_missing_downloads_then_serves(hub, tmp_path, cache_dir):
    engine = _serve_downloading(cache_dir, tmp_path, hub.url)
    try:
        with engine.client() as client:
            pong = client.ping()
        assert (pong["state"], pong["model"], pong["reason"]) == ("ready", REPO, "")
    finally:
        stop_engine(engine)
    assert hub.fetched() == _loader_files(hub.files)
    log = engine.log()
    assert f"downloading {REPO} into the Hugging Face cache" in log
    assert _sizes_in_bar(log), log


@pytest.mark.e2e
def test_serve_answers_while_it_downloads_with_the_progress_as_reason(hub, tmp_path, cache_dir):
    """The start-up download runs in the model worker: ping answers ``loading`` with how far
    the download has come (a DAW's light shows the engine is there), then ``ready``."""
    hub.gate = threading.Event()
    engine = _serve_downloading(cache_dir, tmp_path, hub.url, until_state="loading")
    try:
        with engine.client() as client:
            pong = client.ping()
            deadline = time.monotonic() + 30
            while "downloading" not in pong["reason"] and time.monotonic() < deadline:
                time.sleep(0.1)
                pong = client.ping()
            assert pong["state"] == "loading", engine.log()
            assert re.fullmatch(
                rf"downloading {REPO} into the Hugging Face cache(: \d+%, [\d.]+ GB of "
                r"[\d.]+ GB| \(starting\))",
                pong["reason"],
            ), pong["reason"]
            assert client.status()["state"] == "loading"
            hub.gate.set()
            deadline = time.monotonic() + 60
            while pong["state"] != "ready" and time.monotonic() < deadline:
                time.sleep(0.2)
                pong = client.ping()
        assert (pong["state"], pong["reason"]) == ("ready", ""), engine.log()
    finally:
        hub.gate.set()
        stop_engine(engine)


@pytest.mark.e2e
def test_serve_download_missing_with_a_model_in_the_cache_does_not_go_online(
    hub, tmp_path, cache_dir
):
    assert _download(_env(tmp_path, hub.url)).returncode == 0
    hub.requests.clear()
    engine = _serve_downloading(cache_dir, tmp_path, hub.url)
    stop_engine(engine)
    assert hub.requests == []
    assert "downloading" not in engine.log()


@pytest.mark.e2e
def test_serve_download_missing_without_a_hub_starts_and_says_why(tmp_path, cache_dir):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    engine = _serve_downloading(cache_dir, tmp_path, endpoint, until_state="no_model")
    try:
        with engine.client() as client:
            reason = client.ping()["reason"]
            assert client.status()["reason"] == reason
    finally:
        stop_engine(engine)
    assert f"Model '{REPO}' is not on this machine" in reason
    assert str(tmp_path / "hub") in reason  # where it looked
    assert "Downloading it at start failed" in reason
    assert f"the Hub at {endpoint} could not be reached" in reason
    assert "ConnectError" in reason
    assert f"`musicgen-bridge download {REPO}`" in reason
    assert "`make serve MODEL=debug`" in reason
    # One failed listing, not huggingface_hub's per-file retries (1+2+4+8+8 s).
    assert "Retrying" not in engine.log()


def test_download_offline_mode_says_nothing_was_fetched(tmp_path):
    run = _download(_env(tmp_path, "http://127.0.0.1:9", offline=True))
    assert run.returncode == 1
    assert f"Could not download '{REPO}'" in run.stderr
    assert "HF_HUB_OFFLINE is set, so nothing was fetched" in run.stderr
    assert "Traceback" not in run.stderr


def test_download_of_a_model_the_hub_lacks_says_so(hub, tmp_path):
    run = _download(_env(tmp_path, hub.url), model="test-org/no-such-model")
    assert run.returncode == 1
    assert "has no model by that id" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "hub" / "models--test-org--no-such-model" / "snapshots").exists()


def test_download_of_a_repo_without_safetensors_fetches_nothing(tmp_path):
    with _serving({"README.md": b"# a card", PICKLE: b"pickled weights"}) as hub:
        run = _download(_env(tmp_path, hub.url))
    assert run.returncode == 1
    assert f"{REPO} has no files matching" in run.stderr
    assert "it has: README.md, pytorch_model.bin" in run.stderr
    assert hub.fetched() == set()


def test_only_hub_ids_are_downloaded():
    from engine.checkpoint import is_hub_id

    assert is_hub_id("facebook/musicgen-small")
    assert is_hub_id(REPO)
    for name in ("debug", "debug-melody", "./my-finetune", "/models/x", "~/models/x", "a/b/c"):
        assert not is_hub_id(name), name
