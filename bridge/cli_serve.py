"""``musicgen-bridge serve`` (run the engine) and ``download`` (fetch a checkpoint)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge import version
from bridge.cli_common import EXIT_ENGINE_ERROR, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from bridge.config import ServeConfig
from engine.errors import BridgeError, ShuttingDown

if TYPE_CHECKING:
    from engine.api import EngineSettings


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


def serve(args: argparse.Namespace) -> int:
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


def download(args: argparse.Namespace) -> int:
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
