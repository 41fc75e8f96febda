"""The engine's configuration: one dataclass, from CLI flags over environment.

Every setting has a ``MUSICGEN_BRIDGE_<NAME>`` environment variable (e.g.
``MUSICGEN_BRIDGE_PORT=9100``); a command-line flag wins over it.  Nothing
reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from engine import adapters
from engine.decoders import DECODERS, GRAPH_CAPTURES
from engine.decoders import KERNEL_CHOICES as CPU_KERNELS
from engine.decoders.precision import CPU_MODES as CPU_PRECISIONS

ENV_PREFIX = "MUSICGEN_BRIDGE_"
DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
MIN_TOKEN_CHARS = 16
TRUE_PEAK_RANGE = (-20.0, 0.0)  # dBTP
GATHER_MS_MAX = 1000.0  # the longest gather window, ms


def default_output_dir(env: Mapping[str, str]) -> Path:
    """Where takes go when a client names no folder (an unsaved DAW project).

    ``~/Music/MusicGen Bridge`` (the user's music folder on macOS, Windows and
    most Linux desktops).
    """
    return Path(env.get("HOME", str(Path.home()))).expanduser() / "Music" / "MusicGen Bridge"


def default_cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "musicgen-bridge"


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``musicgen-bridge serve`` can be told.

    Attributes:
        host: address to listen on; loopback by default.
        port: UDP port for requests.
        model: checkpoint loaded at start (Hub id, folder, or "debug").
        device: "auto", "cuda", "mps", "cpu".
        dtype: "auto", "float32", "float16", "bfloat16".
        max_seconds: longest take accepted, seconds (beyond MusicGen's 30 s
            window, takes are extended window by window).
        max_variations: most takes one request may ask for at once.
        max_queue: takes allowed to wait behind the running one.
        out_dir: folder for takes whose request names none (created if missing).
        cache_dir: the bridge's own cache (the debug checkpoint).
        warmup: run a short generation after loading.
        log_level: debug, info, warning, error.
        threads: CPU threads for torch; 0 = half the cores, leaving the rest to the DAW.
        token: shared secret every request must carry; required to listen
            beyond loopback (at least MIN_TOKEN_CHARS characters).
        decoder: "fast" (the engine's own loop) or "reference" (transformers' generate).
        max_batch: most takes decoded together: waiting requests that can share
            the running one's decoder run join it (1: one request at a time).
        gather_ms: the gather window in milliseconds (0: off, at most
            GATHER_MS_MAX): a run about to start with room waits up to this
            long for more takes while requests are arriving together (one that
            can join it arrived that recently, or another was waiting to be
            read behind its first); bridge.gather has the rule.
        cpu_precision: "auto" (bfloat16 where the CPU has native bf16, else
            float32), "float32", or "bfloat16" / "int8" (weight-only) /
            "int8-dynamic" weights on the CPU: faster, and not exact
            (docs/performance.md has the figures).
        cpu_kernel: on the CPU, the decoder's Linear kernel: "auto" (timed at
            the first load on a machine for one take's rows, and cached),
            "module" or "onednn" (that one, nothing timed).
        cuda_graphs: on CUDA, capture the decode step as CUDA graphs at load.
        graph_capture: "now" (during the load) or "background" (after the
            engine says it is ready; takes decode eagerly until then).
        fused_step: on CUDA, the decode step in Triton kernels where it agrees
            with the eager step (off until a GPU has measured it).
        true_peak: the true-peak ceiling in dBTP that a request's loudness
            target never crosses (TRUE_PEAK_RANGE).
        keep_models: most checkpoints kept resident at once (at least 1); a
            request naming one more evicts the least recently used.
        memory_budget: GiB the resident checkpoints' weights may take
            together; beyond it the least recently used go after a load.  0: none.
        models_dir: a folder of local checkpoints that ``models`` lists; None: none.
        adapters_dir: the folder of LoRA adapters: a request's bare adapter name
            is its subfolder, and ``models`` lists them (default: ``adapters``
            under cache_dir).
        download_missing: before serving, download ``model`` into the Hugging
            Face cache if it is a Hub id not there yet (the one time serve goes
            online; requests never do).
    """

    host: str = "127.0.0.1"
    port: int = 9000
    model: str = "facebook/musicgen-small"
    device: str = "auto"
    dtype: str = "auto"
    max_seconds: float = 120.0
    max_variations: int = 4
    max_queue: int = 16
    out_dir: Path | None = None
    cache_dir: Path | None = None
    warmup: bool = True
    log_level: str = "info"
    threads: int = 0
    token: str | None = None
    decoder: str = "fast"
    max_batch: int = 8
    gather_ms: float = 10.0
    cpu_precision: str = "auto"
    cpu_kernel: str = "auto"
    cuda_graphs: bool = True
    graph_capture: str = "now"
    fused_step: bool = False
    true_peak: float = -1.0
    keep_models: int = 2
    memory_budget: float = 0.0
    models_dir: Path | None = None
    adapters_dir: Path | None = None
    download_missing: bool = False

    def __post_init__(self) -> None:
        # Flags have choices; environment variables reach here unchecked.
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be auto, cpu, mps, cuda or cuda:N, not {self.device!r}")
        if self.memory_budget < 0:
            raise ValueError(
                f"memory_budget must be 0 (none) or a size in GiB, not {self.memory_budget:g}"
            )
        if self.keep_models < 1:
            raise ValueError(
                f"keep_models must be at least 1 (the model being used), not {self.keep_models}"
            )
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, not {self.decoder!r}")
        if self.cpu_precision not in CPU_PRECISIONS:
            raise ValueError(
                f"cpu_precision must be one of {', '.join(CPU_PRECISIONS)}, "
                f"not {self.cpu_precision!r}"
            )
        if self.cpu_kernel not in CPU_KERNELS:
            raise ValueError(
                f"cpu_kernel must be one of {', '.join(CPU_KERNELS)}, not {self.cpu_kernel!r}"
            )
        if self.graph_capture not in GRAPH_CAPTURES:
            raise ValueError(
                f"graph_capture must be one of {', '.join(GRAPH_CAPTURES)}, "
                f"not {self.graph_capture!r}"
            )
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {self.max_batch}")
        if not 0 <= self.gather_ms <= GATHER_MS_MAX:
            raise ValueError(
                f"gather_ms must be 0 (off) to {GATHER_MS_MAX:g} milliseconds, "
                f"not {self.gather_ms:g}"
            )
        low, high = TRUE_PEAK_RANGE
        if not low <= self.true_peak <= high:
            raise ValueError(
                f"true_peak must be {low:g} to {high:g} dBTP (e.g. -1), not {self.true_peak:g}"
            )

    @classmethod
    def from_sources(
        cls, flags: Mapping[str, object], env: Mapping[str, str] | None = None
    ) -> ServeConfig:
        """Build from parsed flags (None = not given) over ``MUSICGEN_BRIDGE_*`` variables.

        Raises:
            ValueError: an environment variable has a value of the wrong type.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = flags.get(f.name)
            if raw is None and f"{ENV_PREFIX}{f.name.upper()}" in env:
                raw = _coerce(f.name, f.type, env[f"{ENV_PREFIX}{f.name.upper()}"])
            if raw is not None:
                values[f.name] = raw
        config = cls(**values)  # type: ignore[arg-type]
        cache_dir = Path(config.cache_dir or default_cache_dir(env)).expanduser()
        return cls(
            **{
                **values,
                "out_dir": Path(config.out_dir or default_output_dir(env)).expanduser(),
                "cache_dir": cache_dir,
                "adapters_dir": Path(
                    config.adapters_dir or adapters.default_dir(cache_dir)
                ).expanduser(),
            }  # type: ignore[arg-type]
        )


def _coerce(name: str, kind: object, raw: str) -> object:
    kind = str(kind)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
    except ValueError:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
    if "Path" in kind:
        return Path(raw)
    return raw


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_problem(config: ServeConfig) -> str | None:
    """Why the engine must not listen as configured, in words; None if it may.

    Loopback needs nothing.  Any other address (a studio sharing one GPU box)
    needs a shared token of at least MIN_TOKEN_CHARS characters.
    """
    if config.token is not None and config.token != config.token.strip():
        # Requests' values are read trimmed: such a token could never match.
        return (
            "--token begins or ends with spaces (or another blank), which no request can "
            "match: requests are read trimmed. Pass the token without them."
        )
    if config.token is not None and len(config.token) < MIN_TOKEN_CHARS:
        return f"--token must be at least {MIN_TOKEN_CHARS} characters."
    if not is_loopback(config.host) and config.token is None:
        return (
            f"refusing to listen on {config.host} without a shared token: anyone on the "
            "network could use the engine and write files. Pass --token with a secret of at "
            f"least {MIN_TOKEN_CHARS} characters (clients send it as 'token'), or listen on "
            "127.0.0.1."
        )
    return None
