"""The ``musicgen-bridge`` command: ``serve`` runs the engine; the rest are clients.

Exit codes: 0 success; 1 the engine refused or failed the request; 2 bad
command line; 3 the engine could not be reached; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge import protocol, version
from bridge.config import (
    CPU_KERNELS,
    CPU_PRECISIONS,
    DECODERS,
    DTYPES,
    GRAPH_CAPTURES,
    ServeConfig,
)
from bridge.model_list import catalog_json, format_catalog
from engine.errors import BridgeError, ShuttingDown

if TYPE_CHECKING:
    from engine.api import EngineSettings

EXIT_OK, EXIT_ENGINE_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_TYPES = {"str": str, "int": int, "float": float}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musicgen-bridge",
        description="Keep MusicGen warm on this machine and drive it from your DAW over OSC.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the engine (loads the model, listens for OSC)",
        description="Run the engine. Every flag also reads "
        "MUSICGEN_BRIDGE_<FLAG> from the environment; the flag wins.",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, help=f"UDP port (default {protocol.DEFAULT_PORT})")
    serve.add_argument(
        "--model",
        help="checkpoint to load at start: Hub id, folder, or "
        "'debug' (random weights, makes noise) (default facebook/musicgen-small)",
    )
    serve.add_argument(
        "--device", help="auto, cuda, cuda:N, mps or cpu (default auto: cuda, then mps, then cpu)"
    )
    serve.add_argument(
        "--dtype",
        choices=DTYPES,
        help="auto, float32, float16 or bfloat16 (default auto: "
        "float16 on CUDA, float32 elsewhere)",
    )
    serve.add_argument(
        "--keep-models",
        type=int,
        help="most checkpoints kept loaded at once: a request naming a resident one pays no "
        "load; one more evicts the least recently used (default 2; at least 1)",
    )
    serve.add_argument(
        "--memory-budget",
        type=float,
        help="GiB the loaded checkpoints' weights may take together; beyond it the least "
        "recently used are evicted after a load, never the one in use (default 0: no budget, "
        "--keep-models alone limits)",
    )
    serve.add_argument(
        "--models-dir",
        type=Path,
        help="a folder whose subfolders are MusicGen checkpoints in Hugging Face format: "
        "`models` lists them, a request names one by its path (default: none)",
    )
    serve.add_argument(
        "--adapters-dir",
        type=Path,
        help="the folder of LoRA adapters (PEFT folders: adapter_config.json and "
        "adapter_model.safetensors): a request names one as BASE+NAME or with --adapter, "
        "`models` lists them (default: adapters under --cache-dir, "
        "~/.cache/musicgen-bridge/adapters)",
    )
    serve.add_argument(
        "--max-seconds",
        type=float,
        help="longest take accepted (default 120; beyond 30 s takes are extended window by window)",
    )
    serve.add_argument(
        "--max-variations", type=int, help="most takes one request may ask for (default 4)"
    )
    serve.add_argument("--max-queue", type=int, help="takes that may wait (default 16)")
    serve.add_argument(
        "--out-dir",
        type=Path,
        help="folder for takes whose request names none (default ~/Music/MusicGen Bridge)",
    )
    serve.add_argument(
        "--cache-dir", type=Path, help="the bridge's own cache (default ~/.cache/musicgen-bridge)"
    )
    serve.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_const",
        const=False,
        help="skip the short warm-up generation after loading",
    )
    serve.add_argument(
        "--download-missing",
        dest="download_missing",
        action="store_const",
        const=True,
        help="before serving, download --model into the Hugging Face cache if it is a Hub id "
        "not there yet, with a progress bar (`make serve` passes it); offline, serve starts "
        "anyway and ping/status say what to do. Requests never download",
    )
    serve.add_argument("--log-level", help="debug, info, warning or error (default info)")
    serve.add_argument(
        "--threads",
        type=int,
        help="CPU threads for torch (default 0: half the cores, so the DAW keeps cores for audio)",
    )
    serve.add_argument(
        "--token",
        help="shared secret every request must carry; required "
        "with a --host beyond loopback (at least 16 characters)",
    )
    serve.add_argument(
        "--decoder",
        choices=DECODERS,
        help="fast: the engine's own static-cache decode loop; reference: transformers' "
        "generate (default fast; both give the same tokens)",
    )
    serve.add_argument(
        "--max-batch",
        type=int,
        help="most takes decoded together: waiting requests that can share the running one's "
        "decoder run join it (default 8; 1 = one request at a time; fast decoder only)",
    )
    serve.add_argument(
        "--gather-ms",
        type=float,
        help="milliseconds a run about to start waits for more takes to share it, only while "
        "requests are arriving together (one that can join it came that recently, or was "
        "already waiting to be read) and never once it is full: a lone request never waits "
        "(default 10; 0 = off; at most 1000)",
    )
    serve.add_argument(
        "--no-cuda-graphs",
        dest="cuda_graphs",
        action="store_const",
        const=False,
        help="on CUDA, decode without capturing CUDA graphs at load (they are checked against "
        "the eager step at capture and dropped if they disagree)",
    )
    serve.add_argument(
        "--graph-capture",
        choices=GRAPH_CAPTURES,
        help="on CUDA, when the CUDA graphs are captured: now (during the load) or background "
        "(after the engine says it is ready; takes decode eagerly until each is captured) "
        "(default now)",
    )
    serve.add_argument(
        "--fused-step",
        dest="fused_step",
        action="store_const",
        const=True,
        help="on CUDA, decode with the fused step in Triton kernels (needs triton; checked "
        "against the eager step at load and dropped with a warning if it disagrees; "
        "experimental: not yet measured on a GPU)",
    )
    serve.add_argument(
        "--cpu-precision",
        choices=CPU_PRECISIONS,
        help="on the CPU: auto (bfloat16 where the CPU has native bf16, AVX512_BF16 or AMX; "
        "else float32), float32 (exact), bfloat16, int8 (int8 weights, bf16 activations: "
        "fastest one take at a time) or int8-dynamic (activations quantized too, for CPUs "
        "without native bf16): faster, not exact; see docs/performance.md (default auto)",
    )
    serve.add_argument(
        "--cpu-kernel",
        choices=CPU_KERNELS,
        help="on the CPU, the matrix kernel: auto (the fastest for one take, timed at the first "
        "load on this machine and cached), module (the checkpoint's own, MKL) or onednn "
        "(prepacked for oneDNN; on some CPUs the faster when takes are decoded together); "
        "exact either way (default auto)",
    )
    serve.add_argument(
        "--true-peak",
        type=float,
        help="true-peak ceiling in dBTP that a request's loudness target never crosses "
        "(BS.1770 4x oversampled; -20 to 0; default -1)",
    )

    gen = sub.add_parser(
        "generate",
        help="ask a running engine for a take and wait for it",
        description="Ask a running engine for a take. Prints the WAV path(s).",
    )
    gen.add_argument("prompt", help="what the music should be")
    for arg in protocol.GENERATE_ARGS:
        if arg.flag and arg.kind == "bool":
            help_ = arg.help.removeprefix("1: ")  # the flag alone sets it; it takes no value
            gen.add_argument(arg.flag, dest=arg.name, action="store_const", const=1, help=help_)
        elif arg.flag:
            gen.add_argument(arg.flag, dest=arg.name, type=_TYPES[arg.kind], help=_flag_help(arg))
    gen.add_argument("--id", help="request id (default: a fresh one); `cancel ID` uses it")
    gen.add_argument(
        "--result-file",
        type=Path,
        help="also write the outcome as JSON here "
        "(for callers that cannot read stdout, e.g. REAPER scripts)",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.add_argument(
        "--play",
        action="store_true",
        help="play the take on this machine's speakers while it renders (asks for --preview; "
        "starts once the engine's pace projects no gap), then print where it is "
        "(needs the optional extra: pip install 'musicgen-bridge[playback]')",
    )
    _client_flags(gen)

    status = sub.add_parser(
        "status",
        help="show what the engine is doing",
        description="Show what the engine is doing: the running and queued takes (progress, "
        "time so far, an estimate of the time left), the resident models and the memory.",
    )
    status.add_argument("--json", action="store_true", help="print it as JSON, for scripts")
    _client_flags(status)
    for name, text in (
        ("ping", "check that the engine answers"),
        ("models", "list the models the engine can load"),
    ):
        query = sub.add_parser(name, help=text, description=text)
        _client_flags(query)
        if name == "models":
            query.add_argument(
                "--json", action="store_true", help="print the list and the DAW menu as JSON"
            )
    cancel = sub.add_parser("cancel", help="cancel a queued or running take")
    cancel.add_argument("job", help="the id of the generate request")
    _client_flags(cancel)

    takes = sub.add_parser(
        "takes",
        help="list the takes under a folder, newest first (from their sidecars)",
        description="List the takes under a folder (and its subfolders), newest first, from "
        "their sidecars: time, prompt, model, seed, bars and bpm, length, loudness, path. "
        "Needs no running engine.",
    )
    takes.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help="where to look (default: the engine's output folder, serve --out-dir)",
    )
    takes.add_argument("--json", action="store_true", help="print a JSON list, for scripts")

    download = sub.add_parser(
        "download",
        help="fetch a checkpoint into the Hugging Face cache (needs internet; honours HF_HOME)",
    )
    download.add_argument("model", help="Hub id, e.g. facebook/musicgen-small")
    return parser


# Flags whose paths the CLI makes absolute before sending (see _generate).
_PATH_FLAGS = ("out_dir", "melody_midi", "melody_audio", "continue_from")


def _flag_help(arg: protocol.Arg) -> str:
    """A request key's help as its CLI flag: paths may be relative here, and the
    default is said where the key's own help does not say it."""
    text = arg.help
    if arg.name in _PATH_FLAGS:
        text = text.replace("absolute path of", "path of").replace("absolute path", "path")
    if arg.default is not None and "default" not in text:
        default = f"{arg.default:g}" if isinstance(arg.default, float) else arg.default
        text += f" (default {default})"
    return text.replace("%", "%%")  # argparse formats help with %


def _client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the engine's address")
    parser.add_argument("--port", type=int, default=protocol.DEFAULT_PORT, help="the engine's port")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        help="seconds to wait for the engine to answer (default 3)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="the engine's shared token, if it has one (default: $MUSICGEN_BRIDGE_TOKEN)",
    )


def _client(args: argparse.Namespace) -> Any:
    from bridge.client import EngineClient

    token = args.token if args.token is not None else os.environ.get("MUSICGEN_BRIDGE_TOKEN")
    return EngineClient(args.host, args.port, args.timeout, token)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = _COMMANDS[args.command](args)
        sys.stdout.flush()  # here, where a reader gone early is caught, not at exit
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """stdout's reader is gone (``| head -1``): it had what it wanted, so end quietly.

    Python would otherwise say so again when it flushes stdout at exit; stdout
    goes to the null device first (as the Python docs advise for SIGPIPE).
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


def engine_settings(config: ServeConfig) -> EngineSettings:
    """The engine's settings from the serve configuration."""
    from engine.api import EngineSettings

    assert config.out_dir is not None and config.cache_dir is not None  # from_sources sets them
    return EngineSettings(
        config.cache_dir,
        config.device,
        config.dtype,
        config.warmup,
        config.threads,
        config.decoder,
        config.cpu_precision,
        config.cuda_graphs,
        max(config.max_batch, config.max_variations),
        cpu_kernel=config.cpu_kernel,
        graph_capture=config.graph_capture,
        fused_step=config.fused_step,
        true_peak=config.true_peak,
        out_dir=config.out_dir,
        keep_models=config.keep_models,
        memory_budget=round(config.memory_budget * 2**30),
        models_dir=config.models_dir.expanduser().resolve() if config.models_dir else None,
        adapters_dir=config.adapters_dir,
    )


def _serve(args: argparse.Namespace) -> int:
    from bridge.config import is_loopback, listen_problem
    from bridge.server import OscServer
    from engine.api import Engine

    try:
        config = ServeConfig.from_sources(vars(args))
    except ValueError as exc:
        print(f"musicgen-bridge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    from engine import adapters
    from engine.api import device_problem

    problem = listen_problem(config) or device_problem(config.device)
    if problem is None and config.models_dir and not config.models_dir.expanduser().is_dir():
        problem = (
            f"--models-dir {config.models_dir} is not a folder. Pass the folder that holds "
            "your checkpoint folders (each with config.json and model.safetensors)."
        )
    assert config.adapters_dir is not None and config.cache_dir is not None  # from_sources
    own_adapters = config.adapters_dir != adapters.default_dir(config.cache_dir)
    if problem is None and own_adapters and not config.adapters_dir.is_dir():
        problem = (
            f"--adapters-dir {config.adapters_dir} is not a folder. Pass the folder that holds "
            "your LoRA adapter folders (each with adapter_config.json and "
            "adapter_model.safetensors)."
        )
    if problem is not None:
        print(f"musicgen-bridge: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not own_adapters:
        with contextlib.suppress(OSError):  # where to put adapters; none is fine too
            config.adapters_dir.mkdir(parents=True, exist_ok=True)
    if not is_loopback(config.host):
        logging.getLogger("bridge").warning(
            "listening on %s: reachable from the network; every request must carry the token",
            config.host,
        )
    assert config.out_dir is not None and config.cache_dir is not None  # from_sources sets them
    config.out_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(engine_settings(config))
    prepare = None
    if config.download_missing:
        prepare = functools.partial(_download_missing, config.model, config.cache_dir)
    server = OscServer(config, engine, before_startup=prepare)
    try:
        server.bind()
    except OSError as exc:
        print(
            f"musicgen-bridge: cannot listen on {config.host}:{config.port}: {exc.strerror}. "
            "Is another engine already running? (`musicgen-bridge status`) Or pick another "
            "port with --port.",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.stop())
    host, port = server.address
    logging.getLogger("bridge").info(
        "musicgen-bridge %s listening on %s:%d (model %s loading, up to %d kept resident; "
        "takes without out_dir go to %s)",
        version(),
        host,
        port,
        config.model,
        config.keep_models,
        config.out_dir,
    )
    server.serve_forever()
    logging.getLogger("bridge").info("stopped")
    return EXIT_OK


def _generate(args: argparse.Namespace) -> int:
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
    for name in _PATH_FLAGS:
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

    with _client(args) as client:
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


def _client_command(args: argparse.Namespace) -> int:
    with _client(args) as client:
        try:
            if args.command == "ping":
                pong = client.ping()
                print("engine {state}: musicgen-bridge {version}, model {model}".format(**pong))
                if pong["reason"]:
                    print(pong["reason"])
            elif args.command == "status":
                from bridge.status_text import format_status

                now = client.status()
                _say_lost(now["missing_details"], "job")
                print(
                    json.dumps(now, indent=2, ensure_ascii=False)
                    if args.json
                    else format_status(now)
                )
            elif args.command == "models":
                loaded, available, entries, missing = client.catalog()
                _say_lost(missing, "model")
                if args.json:
                    print(catalog_json(loaded, available, entries))
                elif entries:
                    print(format_catalog(entries))
                else:  # an engine that predates the details
                    for name in available:
                        print(f"{name}{'  (loaded)' if name == loaded else ''}")
            else:
                print(f"cancel {args.job}: was {client.cancel(args.job)}")
        except BridgeError as exc:
            print(f"musicgen-bridge: {exc.message}", file=sys.stderr)
            return EXIT_UNREACHABLE if exc.code == "engine_unreachable" else EXIT_ENGINE_ERROR
    return EXIT_OK


def _say_lost(missing: int, what: str) -> None:
    """A details list that lost datagrams on the way is partial: say so, on stderr."""
    if missing:
        print(
            f"musicgen-bridge: {missing} {what} entr{'y' if missing == 1 else 'ies'} did not "
            "arrive (lost on the network); the list below is partial, ask again.",
            file=sys.stderr,
        )


def _takes(args: argparse.Namespace) -> int:
    from bridge.takes import format_table, list_takes

    folder = args.folder
    if folder is None:
        try:
            folder = ServeConfig.from_sources({}).out_dir  # honours MUSICGEN_BRIDGE_OUT_DIR
        except ValueError as exc:
            print(f"musicgen-bridge: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        listing = list_takes(folder)
    except OSError as exc:
        print(
            f"musicgen-bridge: cannot list takes: {exc} Name a folder: takes DIR", file=sys.stderr
        )
        return EXIT_USAGE
    if listing.unreadable:
        print(
            f"musicgen-bridge: skipped {listing.unreadable} JSON file(s) under {folder} that "
            "could not be read as take sidecars",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps([take.to_json() for take in listing.takes], indent=2, ensure_ascii=False))
    elif listing.takes:
        print(format_table(listing.takes))
    else:
        print(f"No takes under {folder}.", file=sys.stderr)
    return EXIT_OK


def _download(args: argparse.Namespace) -> int:
    from engine.debug_checkpoint import DEBUG_MODELS

    if args.model in DEBUG_MODELS:
        print(
            f"{args.model} is built in: the engine makes it on first use (random weights, it "
            f"makes noise), so there is nothing to download. Try `musicgen-bridge serve "
            f"--model {args.model}`."
        )
        return EXIT_OK
    try:
        folder = _fetch(args.model)
    except BridgeError as exc:
        print(f"musicgen-bridge: {exc.message}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    print(folder)
    return EXIT_OK


def _download_missing(model: str, cache_dir: Path, say: Callable[[str], None]) -> None:
    """``serve --download-missing``: fetch the startup model first if it is a Hub id not cached.

    Run by the model worker before its startup load, while the engine already
    answers: ping and status say ``loading`` with ``say``'s text ("downloading
    X: 40%, 0.5 GB of 1.2 GB") as their reason.  A failure is logged and serving
    goes on: the startup load then fails, and ping and status give its reason
    (which says the download failed and why).
    """
    from engine.checkpoint import is_hub_id, resolve

    if not is_hub_id(model):
        return
    try:
        resolve(model, cache_dir)  # the cache only: no network
        return
    except BridgeError:
        pass
    log = logging.getLogger("bridge")
    say(f"downloading {model} into the Hugging Face cache (starting)")
    try:
        folder = _fetch(model, say)
    except ShuttingDown:
        raise  # the engine is stopping: nothing to serve
    except BridgeError as exc:
        log.warning("%s Serving without it: ping and status say what to do.", exc.message)
        return
    log.info("downloaded %s into %s", model, folder)


def _fetch(model: str, say: Callable[[str], None] | None = None) -> Path:
    """Download ``model`` with one progress bar on stderr: bytes done of the total, and rate.

    ``say``, if given, is told the same progress in words at each report.

    Raises:
        ModelNotAvailable: with why, in words.
    """
    from tqdm import tqdm

    from engine.checkpoint import download, hf_cache_dir

    print(
        f"musicgen-bridge: downloading {model} into the Hugging Face cache {hf_cache_dir()} "
        "(only the files loading needs)",
        file=sys.stderr,
    )
    bars: list[Any] = []  # made at the first report, when the total is known

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=total,
                    desc=model,
                    unit="B",
                    unit_scale=True,
                    file=sys.stderr,
                    mininterval=0.5,
                    bar_format="{desc}: {percentage:3.0f}%|{bar:24}| {n_fmt}B / {total_fmt}B "
                    "[{elapsed}<{remaining}, {rate_fmt}]",
                )
            )
        bars[0].update(done - bars[0].n)
        if say is not None:
            say(
                f"downloading {model} into the Hugging Face cache: {done / max(total, 1):.0%}, "
                f"{done / 1e9:.2f} GB of {total / 1e9:.2f} GB"
            )

    try:
        return download(model, progress)
    finally:
        for bar in bars:
            bar.close()


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


_COMMANDS = {
    "serve": _serve,
    "generate": _generate,
    "status": _client_command,
    "ping": _client_command,
    "models": _client_command,
    "cancel": _client_command,
    "download": _download,
    "takes": _takes,
}

if __name__ == "__main__":
    sys.exit(main())
