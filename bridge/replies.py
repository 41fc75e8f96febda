"""The replies, engine -> client: every reply address, its arguments, and its builder.

docs/protocol.md mirrors :data:`REPLIES` and a test keeps the two in step.
Each builder returns an ``(address, args)`` pair; :mod:`bridge.server`
encodes and sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from bridge.protocol import PREFIX
from engine.prompting import WARNING_CODES

# Replies, engine -> client.  Positional arguments, id first; new arguments are
# only ever appended, so clients that unpack fewer keep working.
REPLIES: dict[str, str] = {
    f"{PREFIX}/queued": "id position  -- accepted; position = jobs ahead of it (0 = starting)",
    f"{PREFIX}/progress": "id fraction stage  -- fraction 0..1; stage loading|generating|writing",
    f"{PREFIX}/warning": "id code message  -- zero or more, before done; code = "
    + "|".join(WARNING_CODES),
    f"{PREFIX}/done": "id path [path ...]  -- absolute paths of the WAVs written",
    f"{PREFIX}/error": "id code message  -- terminal for a generate; code is stable",
    f"{PREFIX}/pong": "id version state model reason run  -- reason: why no_model, else empty; "
    + "run: this engine run's id (12 hex digits, new at each start)",
    f"{PREFIX}/status": "id state model device running_job queued_jobs reason resident_count "
    + "[resident_model resident_device resident_dtype resident_load_s resident_mb ...] "
    + "rss_mb gpu_allocated_mb gpu_free_mb run  -- resident: least recently used first; "
    + "memory in MiB, -1: not known here; run as in pong",
    f"{PREFIX}/job": "id index count job state position progress elapsed_s eta_s waited_s "
    + "model prompt  -- with details 1: one per running or queued job, all before status; "
    + "state queued|loading|generating; eta_s -1: not known yet",
    f"{PREFIX}/model": "id index count name kind state revision size_mb melody source base  "
    + "-- with details 1: one per checkpoint, all before models; "
    + "kind debug|cache|folder|adapter|release; state resident|ready|not_downloaded; "
    + "size_mb -1: unknown; base: an adapter's checkpoint, else empty",
    f"{PREFIX}/models": "id loaded model [model ...]  -- after the model replies",
    f"{PREFIX}/cancel": "id job was  -- was = queued|running",
    f"{PREFIX}/preview": "id path seconds_ready take count  -- with preview 1: after each "
    + "piece; path: a PCM 16-bit WAV in the engine's cache holding seconds_ready s of take "
    + "(1-based) of count, valid at every reply, removed when the take ends",
}

# Replies sent only to the request (its address's last part) that asks for them by
# the key (set to 1): a client that never sends it there never receives the address.
ASKED_REPLIES = {
    f"{PREFIX}/model": ("models", "details"),
    f"{PREFIX}/job": ("status", "details"),
    f"{PREFIX}/preview": ("generate", "preview"),
}

EngineState = Literal["loading", "ready", "busy", "no_model", "stopping"]

Reply = tuple[str, list[Any]]


def queued(request_id: str, position: int) -> Reply:
    return f"{PREFIX}/queued", [request_id, position]


def progress(request_id: str, fraction: float, stage: str) -> Reply:
    return f"{PREFIX}/progress", [request_id, round(float(fraction), 4), stage]


def preview(request_id: str, path: str, seconds: float, take: int, count: int) -> Reply:
    """The preview of take ``take`` of ``count`` now holds ``seconds`` of audio at ``path``."""
    return f"{PREFIX}/preview", [request_id, path, round(float(seconds), 4), take, count]


def done(request_id: str, paths: list[str]) -> Reply:
    return f"{PREFIX}/done", [request_id, *paths]


def warning(request_id: str, code: str, message: str) -> Reply:
    """A warning about a take that was made (sent before its done; see docs/protocol.md)."""
    return f"{PREFIX}/warning", [request_id, code, message]


def error(request_id: str, code: str, message: str) -> Reply:
    return f"{PREFIX}/error", [request_id, code, message]


def pong(
    request_id: str, version: str, state: EngineState, model: str, reason: str = "", run: str = ""
) -> Reply:
    """The ping reply; ``run`` is the engine run's id (a client that sees it change
    while it follows a take knows the engine restarted and the take was lost)."""
    return f"{PREFIX}/pong", [request_id, version, state, model, reason, run]


def status(
    request_id: str,
    state: EngineState,
    model: str,
    device: str,
    running: str,
    queued_jobs: int,
    reason: str = "",
    resident: Sequence[tuple[str, str, str, float, int]] = (),
    memory: tuple[int | None, int | None, int | None] = (None, None, None),
    run: str = "",
) -> Reply:
    """The status reply; ``resident`` is (model, device, dtype, load seconds, bytes) per model.

    Each resident model adds five arguments after ``resident_count``; its
    memory (weights and buffers) goes out in MiB (float).  ``memory`` is the
    process's RSS, the GPU's allocated and its free bytes (None: not known
    here), appended after the resident list in MiB (float, -1: not known).
    ``run``, the engine run's id as in :func:`pong`, is the last argument.
    """
    flat: list[Any] = []
    for model_id, on, dtype, load_s, size in resident:
        flat += [model_id, on, dtype, round(float(load_s), 3), round(size / 2**20, 1)]
    return f"{PREFIX}/status", [
        request_id,
        state,
        model,
        device,
        running,
        queued_jobs,
        reason,
        len(resident),
        *flat,
        *(_mib(size) for size in memory),
        run,
    ]


JobRow = tuple[str, str, int, float, float, float | None, float, str, str]


def job_entries(request_id: str, rows: Sequence[JobRow]) -> list[Reply]:
    """One ``/musicgen/job`` reply per running or queued job: (job, state, position,
    progress, elapsed s, eta s or None, waited s, model, prompt).

    They go out before the ``/musicgen/status`` reply, as the model entries
    go before the models list (see :func:`model_entries`): one datagram each,
    since a prompt alone may take 1000 characters (up to 4000 bytes in UTF-8).
    """
    return [
        (
            f"{PREFIX}/job",
            [
                request_id,
                index,
                len(rows),
                job,
                state,
                position,
                round(float(fraction), 4),
                round(float(elapsed), 2),
                -1.0 if eta is None else round(float(eta), 2),
                round(float(waited), 2),
                model,
                prompt,
            ],
        )
        for index, (job, state, position, fraction, elapsed, eta, waited, model, prompt) in (
            enumerate(rows)
        )
    ]


def _mib(size: int | None) -> float:
    """Bytes as MiB on the wire (an OSC int32 cannot hold them): -1.0 when unknown."""
    return -1.0 if size is None else round(size / 2**20, 1)


def models(request_id: str, loaded: str, available: list[str]) -> Reply:
    return f"{PREFIX}/models", [request_id, loaded, *available]


ModelRow = tuple[str, str, str, str, int | None, bool, str, str]


def model_entries(request_id: str, rows: Sequence[ModelRow]) -> list[Reply]:
    """One ``/musicgen/model`` reply per checkpoint: (name, kind, state, revision,
    bytes or None, melody, source, base).

    They go out before the ``/musicgen/models`` list, which ends them (as
    warnings end with done): clients that predate them ignore the address,
    and a client reading them knows it has all once the list arrives
    (``index`` and ``count`` show a lost datagram).  Sizes go in MiB (float,
    -1: unknown): an OSC int32 cannot hold a 6.5 GB checkpoint's bytes.
    """
    return [
        (
            f"{PREFIX}/model",
            [
                request_id,
                index,
                len(rows),
                name,
                kind,
                state,
                revision,
                _mib(size),
                int(melody),
                source,
                base,
            ],
        )
        for index, (name, kind, state, revision, size, melody, source, base) in enumerate(rows)
    ]


def cancelled(request_id: str, job: str, was: Literal["queued", "running"]) -> Reply:
    return f"{PREFIX}/cancel", [request_id, job, was]
