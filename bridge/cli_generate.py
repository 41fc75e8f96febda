"""``musicgen-bridge generate``: ask a running engine for a take, show its progress, and
print (or write to ``--result-file``) where it is; ``--play`` plays it as it renders."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from bridge import protocol
from bridge.cli_common import (
    EXIT_ENGINE_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    engine_client,
)
from bridge.cli_parser import PATH_FLAGS
from engine.errors import BridgeError


def generate(args: argparse.Namespace) -> int:
    from bridge.client import new_id

    # Whatever cannot work is refused before the request, not after the take.
    problem = (_play_problem() if args.play else None) or _result_file_problem(args.result_file)
    if problem is not None:
        print(f"musicgen-bridge: {problem} Nothing was sent to the engine.", file=sys.stderr)
        return EXIT_USAGE
    fields: dict[str, Any] = {"prompt": args.prompt}
    for arg in protocol.GENERATE_ARGS:
        if arg.flag and getattr(args, arg.name) is not None:
            fields[arg.name] = getattr(args, arg.name)
    # The protocol wants absolute paths; the CLI is in a shell.
    for name in PATH_FLAGS:
        if name in fields:
            fields[name] = str(Path(fields[name]).expanduser().resolve())
    adapter = fields.get("adapter")
    if adapter and ("/" in adapter or adapter.startswith((".", "~"))):  # a path, not a bare name
        fields["adapter"] = str(Path(adapter).expanduser().resolve())
    request_id = args.id or new_id()
    bar = _ProgressBar(enabled=not args.quiet and sys.stderr.isatty())
    player, on_preview = _preview_hooks(args, fields, bar)
    warnings: list[dict[str, str]] = []

    def on_warning(code: str, message: str) -> None:
        bar.close()
        print(f"musicgen-bridge: warning ({code}): {message}", file=sys.stderr)
        warnings.append({"code": code, "message": message})

    with engine_client(args) as client:
        try:
            paths = client.generate(
                fields, request_id, bar.update, bar.queued, on_warning, on_preview
            )
        except KeyboardInterrupt:
            bar.close()
            if player is not None:
                player.stop()
            print(f"musicgen-bridge: {_cancel_on_interrupt(client, request_id)}", file=sys.stderr)
            _write_result(args.result_file, request_id, error=("cancelled", "Interrupted."))
            return EXIT_INTERRUPTED
        except BridgeError as exc:
            bar.close()
            if player is not None:
                player.stop()
            print(f"musicgen-bridge: {exc.message}", file=sys.stderr)
            _write_result(args.result_file, request_id, error=(exc.code, exc.message))
            return EXIT_UNREACHABLE if exc.code == "engine_unreachable" else EXIT_ENGINE_ERROR
    bar.close()
    written = _write_result(args.result_file, request_id, paths=paths, warnings=warnings)
    played = _play(player, paths[0]) if player is not None else True
    for path in paths:  # after the playing: where the take is, last
        print(path)
    return EXIT_OK if written and played else EXIT_ENGINE_ERROR


def _preview_hooks(args: argparse.Namespace, fields: dict[str, Any], bar: Any) -> tuple[Any, Any]:
    """(the preview player for --play or None, the on_preview callback or None).

    ``--play`` asks for the preview and plays it; ``--preview`` alone says
    where each take's preview grows.
    """
    if args.play:
        from bridge.preview_player import PreviewPlayer, take_seconds

        fields["preview"] = 1

        def say(line: str) -> None:
            bar.close()
            print(f"musicgen-bridge: {line}", file=sys.stderr)

        player = PreviewPlayer(take_seconds(fields, protocol.DEFAULT_SECONDS), say=say)
        return player, player.on_preview
    if not args.preview:
        return None, None
    told: set[int] = set()

    def tell(path: str, seconds: float, take: int, count: int) -> None:
        if take not in told:
            told.add(take)
            bar.close()
            print(f"musicgen-bridge: take {take}/{count} grows at {path}", file=sys.stderr)

    return None, tell


def _play_problem() -> str | None:
    """Why ``--play`` cannot work here, or None."""
    try:
        import sounddevice  # noqa: F401  (needs PortAudio, so it is an optional extra)
    except (ImportError, OSError):
        return (
            "--play needs the playback extra: pip install 'musicgen-bridge[playback]' "
            "(and PortAudio: it ships with it on macOS and Windows; on Linux install "
            "libportaudio2). Or leave out --play."
        )
    return None


def _result_file_problem(path: Path | None) -> str | None:
    """Why the CLI could not write ``--result-file`` there, or None (tried, not guessed)."""
    if path is None:
        return None
    path = path.expanduser().resolve()
    if path.is_dir():
        return f"--result-file {path} is a folder; name a file in it."
    if not path.parent.is_dir():
        return (
            f"--result-file {path}: the folder {path.parent} does not exist. "
            "Create it first or name a file in an existing folder."
        )
    probe = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        probe.open("x").close()
        probe.unlink()
    except OSError as exc:
        return f"--result-file {path} cannot be written: {exc.strerror or exc}."
    return None


def _play(player: Any, path: str) -> bool:
    """Play out the take (the rest of its preview, or all of it from an engine that sent
    none) on this machine's default output; False (and a message) if it fails."""
    try:
        player.finish(path)
    except KeyboardInterrupt:
        print("musicgen-bridge: playback stopped.", file=sys.stderr)
    except Exception as exc:  # no output device, device busy...
        print(
            f"musicgen-bridge: the take is at {path}, but it could not be played here "
            f"({exc}). Check this machine's sound output.",
            file=sys.stderr,
        )
        return False
    return True


def _cancel_on_interrupt(client: Any, request_id: str) -> str:
    """Cancel the take after Ctrl-C; what to tell the user."""
    try:
        was = client.cancel(request_id)
    except BridgeError as exc:
        if exc.code == "unknown_job":
            return f"cancelled ({request_id} had already ended in the engine)."
        if exc.code == "too_late":
            return (
                f"too late to cancel: {request_id} had finished generating, so its take is "
                "being written to the folder anyway."
            )
        return f"interrupted; the engine could not be told to cancel {request_id}: {exc.message}"
    if was == "queued":
        return f"cancelled ({request_id} had not started; nothing was written)."
    return f"cancelled ({request_id} stops at its next step; nothing is written)."


def _write_result(
    path: Path | None,
    request_id: str,
    paths: list[str] | None = None,
    error: tuple[str, str] | None = None,
    warnings: list[dict[str, str]] | None = None,
) -> bool:
    """Write the outcome atomically, so a poller never reads half a file.

    Returns False (having said why on stderr) if it could not be written.
    """
    if path is None:
        return True
    if error is None:
        data: dict[str, Any] = {
            "ok": True,
            "id": request_id,
            "paths": paths,
            "warnings": warnings or [],
        }
    else:
        data = {"ok": False, "id": request_id, "code": error[0], "message": error[1]}
    path = path.expanduser().resolve()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        where = f" The take is at {', '.join(paths)}." if paths else ""
        print(
            f"musicgen-bridge: could not write the result file {path}: "
            f"{exc.strerror or exc}.{where}",
            file=sys.stderr,
        )
        return False
    return True


class _ProgressBar:
    """A one-line progress bar on stderr (only when it is a terminal)."""

    WIDTH = 30

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.drawn = False

    def queued(self, ahead: int) -> None:
        if self.enabled and ahead:
            self._draw(f"queued, {ahead} take(s) ahead")

    def update(self, fraction: float, stage: str) -> None:
        if self.enabled:
            filled = int(fraction * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self._draw(f"[{bar}] {fraction * 100:3.0f}% {stage}")

    def _draw(self, text: str) -> None:
        sys.stderr.write(f"\r{text:<60}")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            self.drawn = False
