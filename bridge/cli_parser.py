"""The ``musicgen-bridge`` command line: every subcommand and its flags.

``generate``'s request flags come from :data:`bridge.protocol.GENERATE_ARGS`,
so the CLI and the protocol name the same keys with the same help.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bridge import protocol, version
from bridge.config import (
    CPU_KERNELS,
    CPU_PRECISIONS,
    DECODERS,
    DTYPES,
    GRAPH_CAPTURES,
)

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


# Flags whose paths the CLI makes absolute before sending (see cli_generate.generate).
PATH_FLAGS = ("out_dir", "melody_midi", "melody_audio", "continue_from")


def _flag_help(arg: protocol.Arg) -> str:
    """A request key's help as its CLI flag: paths may be relative here, and the
    default is said where the key's own help does not say it."""
    text = arg.help
    if arg.name in PATH_FLAGS:
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
