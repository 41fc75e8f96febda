"""The OSC address space: every address, its arguments and its replies, as data.

This module is the one place that defines the wire protocol; docs/protocol.md
mirrors it and a test keeps the two in step.  It holds no sockets: it turns an
``(address, args)`` pair into a frozen request, or raises an
:class:`~engine.errors.InvalidRequest` child whose ``code`` goes on the wire.

Conventions (see docs/protocol.md):

- Arguments after the address are key/value pairs: ``id a1 reply_port 9001 ...``.
- Every request carries ``id`` (chosen by the client) and ``reply_port``; every
  reply names the ``id`` it answers.
- Replies go to the request's source host at ``reply_port``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from bridge import osc
from engine import adapters, audio, melody, midi_file
from engine.audio import SAMPLE_FORMATS, SAMPLE_RATES
from engine.debug_checkpoint import DEBUG_MODELS
from engine.errors import (
    BadPath,
    BridgeError,
    InvalidRequest,
    InvalidValue,
    MissingArgument,
    ModelNotAvailable,
    OutOfRange,
    Unauthorized,
    UnknownAddress,
    UnknownArgument,
    WrongType,
)
from engine.prompting import WARNING_CODES, parse_key
from engine.spec import (
    DEFAULT_GUIDANCE,
    DEFAULT_PROMPT_SECONDS,
    DEFAULT_SAMPLE_FORMAT,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    GenerationSpec,
)
from engine.timing import TimeSignature

PREFIX = "/musicgen"
DEFAULT_PORT = 9000
DEFAULT_SECONDS = 10.0
MAX_PROMPT_CHARS = 1000
MAX_ID_CHARS = 64
MAX_VARIATIONS = 8  # the protocol's ceiling; serve --max-variations sets the engine's own
MAX_NOTES_CHARS = 60000  # 4096 notes fit; an OSC message stays well inside one UDP datagram
# MusicGen's 30 s window less a second to continue in.
MAX_PROMPT_SECONDS = 29.0
MIN_LOUDNESS, MAX_LOUDNESS = -40.0, -5.0  # LUFS

ArgKind = Literal["str", "int", "float", "bool"]
# Used with fullmatch: "$" alone would also match before a trailing newline.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_ID = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


@dataclass(frozen=True)
class Arg:
    """One key of a request.

    Attributes:
        name: the key on the wire.
        kind: OSC type accepted; "float" also accepts an int; "bool" accepts
            OSC True/False or the integers 0 and 1 (Max and Lua send ints).
        help: one line for docs and ``--help``.
        default: value when absent; ``None`` means "absent" is meaningful.
        required: the request is refused without it.
        minimum, maximum: inclusive numeric range (or string length for "str").
        flag: the CLI flag that sets it (None: not on the CLI).
    """

    name: str
    kind: ArgKind
    help: str
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    flag: str | None = None


COMMON_ARGS = (
    Arg(
        "id",
        "str",
        "client-chosen request id, echoed in every reply",
        required=True,
        minimum=1,
        maximum=MAX_ID_CHARS,
    ),
    Arg(
        "reply_port",
        "int",
        "UDP port on the client's host that receives the replies",
        required=True,
        minimum=1,
        maximum=65535,
    ),
    Arg(
        "token",
        "str",
        "shared secret; required when the engine listens beyond loopback (serve --token)",
        minimum=1,
        maximum=256,
    ),
)


GENERATE_ARGS = (
    Arg(
        "prompt",
        "str",
        "what the music should be, e.g. 'dusty lo-fi drums'",
        required=True,
        minimum=1,
        maximum=MAX_PROMPT_CHARS,
    ),
    Arg(
        "bars",
        "float",
        "length in bars (needs bpm); or give seconds",
        minimum=0.25,
        maximum=256,
        flag="--bars",
    ),
    Arg(
        "bpm",
        "float",
        "project tempo in quarter notes per minute",
        minimum=20,
        maximum=400,
        flag="--bpm",
    ),
    Arg(
        "timesig",
        "str",
        "project time signature, e.g. 4/4, 6/8, 7/8",
        default="4/4",
        minimum=3,
        maximum=5,
        flag="--timesig",
    ),
    Arg(
        "seconds",
        "float",
        f"length in seconds instead of bars (default {DEFAULT_SECONDS:g} when neither is given)",
        minimum=0.1,
        flag="--seconds",
    ),
    Arg(
        "seed",
        "int",
        "random seed; same request + same seed = same take (random if absent)",
        minimum=0,
        maximum=2**31 - 1,
        flag="--seed",
    ),
    Arg(
        "temperature",
        "float",
        "sampling temperature",
        default=DEFAULT_TEMPERATURE,
        minimum=0.05,
        maximum=5,
        flag="--temperature",
    ),
    Arg(
        "top_k",
        "int",
        "sample among the k likeliest tokens (0 = off)",
        default=DEFAULT_TOP_K,
        minimum=0,
        maximum=2048,
        flag="--top-k",
    ),
    Arg(
        "top_p",
        "float",
        "nucleus sampling threshold (0 = off)",
        default=DEFAULT_TOP_P,
        minimum=0,
        maximum=1,
        flag="--top-p",
    ),
    Arg(
        "guidance",
        "float",
        "classifier-free guidance scale (1 = off)",
        default=DEFAULT_GUIDANCE,
        minimum=1,
        maximum=20,
        flag="--guidance",
    ),
    Arg(
        "model",
        "str",
        "checkpoint: Hub id, absolute folder, or 'debug', and +ADAPTER for a LoRA finetune "
        "(default: the engine's)",
        minimum=1,
        maximum=4608,
        flag="--model",
    ),
    Arg(
        "adapter",
        "str",
        "LoRA adapter merged into the model: a folder name under the engine's adapters "
        "folder, or an absolute folder (default base: the one its adapter_config.json names)",
        minimum=1,
        maximum=4096,
        flag="--adapter",
    ),
    Arg(
        "out_dir",
        "str",
        "absolute path of an existing folder for the WAV and sidecar "
        "(default: the engine's output folder)",
        minimum=1,
        maximum=4096,
        flag="--out",
    ),
    Arg(
        "key",
        "str",
        "musical key, e.g. 'A minor' or 'F#m'; added to the prompt unless it names one",
        minimum=1,
        maximum=16,
        flag="--key",
    ),
    Arg(
        "variations",
        "int",
        "takes to make at once, seeds seed, seed+1, ... (one done lists them all)",
        default=1,
        minimum=1,
        maximum=MAX_VARIATIONS,
        flag="--variations",
    ),
    Arg(
        "melody_notes",
        "str",
        "melody as notes: 'pitch start length velocity ...' (beats; needs bpm; melody models)",
        minimum=1,
        maximum=MAX_NOTES_CHARS,
        flag="--melody-notes",
    ),
    Arg(
        "melody_length",
        "float",
        "the melody clip's length in beats; it repeats every so many beats "
        "(default: its last note's end rounded up to a bar)",
        minimum=0.25,
        maximum=melody.MAX_CLIP_BEATS,
        flag="--melody-length",
    ),
    Arg(
        "melody_midi",
        "str",
        "absolute path of a .mid file whose notes are the melody (melody models)",
        minimum=1,
        maximum=4096,
        flag="--melody-midi",
    ),
    Arg(
        "melody_audio",
        "str",
        "absolute path of a WAV/AIFF/FLAC file whose melody conditions the take (melody models)",
        minimum=1,
        maximum=4096,
        flag="--melody-audio",
    ),
    Arg(
        "continue_from",
        "str",
        "absolute path of a WAV/AIFF/FLAC file the take continues",
        minimum=1,
        maximum=4096,
        flag="--continue-from",
    ),
    Arg(
        "prompt_seconds",
        "float",
        "how many seconds of continue_from's end prompt the take",
        default=DEFAULT_PROMPT_SECONDS,
        minimum=0.5,
        maximum=MAX_PROMPT_SECONDS,
        flag="--prompt-seconds",
    ),
    Arg(
        "audio_start",
        "float",
        "seconds into continue_from or melody_audio where the clip starts (default 0)",
        minimum=0,
        maximum=86400,
        flag="--audio-start",
    ),
    Arg(
        "audio_end",
        "float",
        "seconds into continue_from or melody_audio where the clip ends (default: the file's end)",
        minimum=0.01,
        maximum=86400,
        flag="--audio-end",
    ),
    Arg(
        "include_prompt",
        "bool",
        "1: the file starts with the prompt audio, then the continuation",
        default=False,
        flag="--include-prompt",
    ),
    Arg(
        "loop",
        "bool",
        "1: crossfade the end into the start so the file loops seamlessly",
        default=False,
        flag="--loop",
    ),
    Arg(
        "tempo_correct",
        "bool",
        "1: measure the take's tempo and time-stretch it to bpm",
        default=False,
        flag="--tempo-correct",
    ),
    Arg(
        "sample_rate",
        "int",
        "output rate in Hz: "
        + ", ".join(str(r) for r in SAMPLE_RATES)
        + " (default: the model's 32000)",
        minimum=min(SAMPLE_RATES),
        maximum=max(SAMPLE_RATES),
        flag="--sample-rate",
    ),
    Arg(
        "sample_format",
        "str",
        "WAV sample format: " + ", ".join(SAMPLE_FORMATS) + f" (default {DEFAULT_SAMPLE_FORMAT})",
        default=DEFAULT_SAMPLE_FORMAT,
        minimum=1,
        maximum=8,
        flag="--sample-format",
    ),
    Arg(
        "loudness",
        "float",
        "target integrated loudness in LUFS, e.g. -14 or -23 (BS.1770), never past the "
        "engine's true-peak ceiling (default: peak limiting only)",
        minimum=MIN_LOUDNESS,
        maximum=MAX_LOUDNESS,
        flag="--loudness",
    ),
    Arg(
        "preview",
        "bool",
        "1: hear each take while it renders: /musicgen/preview replies name a WAV in the "
        "engine's cache that grows as the take is made (removed when the take ends)",
        default=False,
        flag="--preview",
    ),
)

CANCEL_ARGS = (
    Arg(
        "job",
        "str",
        "id of the generate request to cancel",
        required=True,
        minimum=1,
        maximum=MAX_ID_CHARS,
    ),
)

MODELS_ARGS = (
    Arg(
        "details",
        "bool",
        "1: first one /musicgen/model reply per checkpoint (kind, state, revision, size, "
        "source), then the list",
        default=False,
    ),
)

STATUS_ARGS = (
    Arg(
        "details",
        "bool",
        "1: first one /musicgen/job reply per running or queued job (state, progress, "
        "elapsed and estimated time left, prompt), then the status",
        default=False,
    ),
)

ADDRESSES: dict[str, tuple[Arg, ...]] = {
    f"{PREFIX}/generate": COMMON_ARGS + GENERATE_ARGS,
    f"{PREFIX}/cancel": COMMON_ARGS + CANCEL_ARGS,
    f"{PREFIX}/status": COMMON_ARGS + STATUS_ARGS,
    f"{PREFIX}/ping": COMMON_ARGS,
    f"{PREFIX}/models": COMMON_ARGS + MODELS_ARGS,
}

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


@dataclass(frozen=True)
class Limits:
    """Server-side policy that validation needs (from the engine's config).

    Attributes:
        max_seconds: longest take accepted.
        default_out_dir: folder for takes whose request names none (None: out_dir required).
        token: shared secret every request must carry (None: not required).
        max_variations: most takes one request may ask for.
        adapters_dir: where a bare adapter name is looked up (serve --adapters-dir);
            None: bare names are refused.
    """

    max_seconds: float = 120.0
    default_out_dir: Path | None = None
    token: str | None = None
    max_variations: int = 4
    adapters_dir: Path | None = None


@dataclass(frozen=True)
class GenerateRequest:
    id: str
    reply_port: int
    spec: GenerationSpec
    preview: bool = False  # the client asked for /musicgen/preview replies


@dataclass(frozen=True)
class CancelRequest:
    id: str
    reply_port: int
    job: str


@dataclass(frozen=True)
class QueryRequest:
    """ping, status or models: answered at once, never queued."""

    kind: Literal["ping", "status", "models"]
    id: str
    reply_port: int
    details: bool = False  # models, status: send the /musicgen/model or /job replies first


Request = GenerateRequest | CancelRequest | QueryRequest


class RequestRejected(BridgeError):
    """An invalid request, with whatever of its envelope could be read.

    Attributes:
        error: the InvalidRequest child that says what is wrong, or
            ModelNotAvailable for an adapter that is not on this machine.
        request_id: the request's id if it had a usable one, else "".
        reply_port: its reply_port if usable, else None (reply to the source port).
    """

    def __init__(
        self,
        error: InvalidRequest | ModelNotAvailable,
        request_id: str,
        reply_port: int | None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.code = error.code
        self.request_id = request_id
        self.reply_port = reply_port


def parse(address: str, args: list[Any], limits: Limits) -> Request:
    """Validate one OSC message into a typed request.

    Args:
        address: the OSC address, e.g. "/musicgen/generate".
        args: the OSC arguments (str, int, float, bytes, bool, None...).
        limits: the server's limits.

    Raises:
        RequestRejected: wrapping the InvalidRequest child that says why.
    """
    pairs = _pairs_leniently(args)
    raw_id = pairs.get("id")
    # Stripped as _check strips it, so an error names the id a success would.
    request_id = raw_id.strip() if isinstance(raw_id, str) else ""
    port = pairs.get("reply_port")
    reply_port = port if type(port) is int and 1 <= port <= 65535 else None
    # An id that is not valid as sent (too long, spaces, given twice) is not
    # echoed, cut or guessed at: a reply under it could name another request.
    given = [key for key in args[: len(args) // 2 * 2 : 2] if key == "id"]
    if len(given) > 1 or len(request_id) > MAX_ID_CHARS or not _ID.fullmatch(request_id):
        request_id = ""
    if limits.token is not None and not authenticated(args, limits.token):
        # Checked before anything else, and said in as few words: a sender
        # without the token learns nothing of the addresses or keys, and its
        # reply is no bigger than its request.  Only a known address with a
        # usable id gets one (the server drops the rest).
        known = address in ADDRESSES
        raise RequestRejected(
            Unauthorized(UNAUTHORIZED_MESSAGE),
            request_id if known else "",
            reply_port if known else None,
        )
    try:
        return _parse(address, args, limits)
    except (InvalidRequest, ModelNotAvailable) as exc:
        raise RequestRejected(exc, request_id, reply_port) from exc


UNAUTHORIZED_MESSAGE = "This engine needs its token (serve --token)."


def authenticated(args: list[Any], token: str) -> bool:
    """Whether the key/value ``args`` carry ``token``, compared as values are read:
    trimmed (``serve`` refuses a token with surrounding spaces), in constant time."""
    keys = args[: len(args) // 2 * 2 : 2]
    sent = [value for key, value in zip(keys, args[1::2], strict=False) if key == "token"]
    if len(sent) != 1 or not isinstance(sent[0], str):
        return False
    return hmac.compare_digest(sent[0].strip().encode(), token.encode())


def _parse(address: str, args: list[Any], limits: Limits) -> Request:
    table = ADDRESSES.get(address)
    if table is None:
        known = ", ".join(sorted(ADDRESSES))
        raise UnknownAddress(f"Unknown address {address!r}. Known: {known}.")
    if len(args) % 2:
        raise InvalidRequest("Arguments must come in key value pairs (an odd count was sent).")
    values: dict[str, Any] = {}
    by_name = {a.name: a for a in table}
    for key, value in zip(args[::2], args[1::2], strict=False):
        if not isinstance(key, str):
            raise WrongType(f"Expected a key (a string) but got {_osc_type(key)}.")
        arg = by_name.get(key)
        if arg is None:
            raise UnknownArgument(
                f"Unknown argument {key!r} for {address}. Known: {', '.join(by_name)}."
            )
        if key in values:
            raise InvalidRequest(f"Argument {key!r} was given twice.")
        if key == "variations":  # one limit, said one way: this engine's own
            arg = replace(arg, maximum=min(MAX_VARIATIONS, limits.max_variations))
            try:
                values[key] = _check(arg, value)
            except OutOfRange as exc:
                said = exc.message.removesuffix(".")
                raise OutOfRange(f"{said} (engine flag --max-variations).") from None
            continue
        values[key] = _check(arg, value)
    for arg in table:
        if arg.required and arg.name not in values:
            raise MissingArgument(f"{address} needs {arg.name!r} ({arg.help}).")
    if not _ID.fullmatch(values["id"]):
        raise InvalidValue("id must be printable ASCII without spaces.")
    kind = address[len(PREFIX) + 1 :]
    if kind == "generate":
        spec = _spec(values, limits)
        return GenerateRequest(
            values["id"], values["reply_port"], spec, bool(values.get("preview", False))
        )
    if kind == "cancel":
        return CancelRequest(values["id"], values["reply_port"], values["job"])
    return QueryRequest(
        kind,  # type: ignore[arg-type]
        values["id"],
        values["reply_port"],
        bool(values.get("details", False)),
    )


def _check(arg: Arg, value: Any) -> Any:
    """Type- and range-check one value."""
    if arg.kind == "str":
        if not isinstance(value, str):
            raise WrongType(f"{arg.name} must be a string, got {_osc_type(value)}.")
        value = value.strip()
        size = len(value)
        if arg.minimum is not None and size < arg.minimum:
            raise InvalidValue(
                f"{arg.name} is empty."
                if size == 0
                else f"{arg.name} is too short ({size} characters)."
            )
        if arg.maximum is not None and size > arg.maximum:
            raise OutOfRange(f"{arg.name} is {size} characters; the most is {arg.maximum:g}.")
        return value
    if arg.kind == "bool":
        if type(value) is bool or (type(value) is int and value in (0, 1)):
            return bool(value)
        got = repr(value) if type(value) is int else _osc_type(value)
        raise WrongType(f"{arg.name} must be 0 or 1 (or OSC true/false), got {got}.")
    if arg.kind == "int":
        if type(value) is not int:
            raise WrongType(f"{arg.name} must be an integer, got {_osc_type(value)}.")
    elif type(value) not in (int, float):
        raise WrongType(f"{arg.name} must be a number, got {_osc_type(value)}.")
    elif value != value or value in (float("inf"), float("-inf")):
        raise OutOfRange(f"{arg.name} must be a finite number.")
    low, high = arg.minimum, arg.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise OutOfRange(
            f"{arg.name} must be between {_number(low)} and {_number(high)}, got {_number(value)}."
        )
    if low is not None and value < low:
        raise OutOfRange(f"{arg.name} must be at least {_number(low)}, got {_number(value)}.")
    if high is not None and value > high:
        raise OutOfRange(f"{arg.name} must be at most {_number(high)}, got {_number(value)}.")
    return float(value) if arg.kind == "float" else value


def _spec(values: dict[str, Any], limits: Limits) -> GenerationSpec:
    try:
        timesig = TimeSignature.parse(values.get("timesig", "4/4"))
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    bars, seconds, bpm = values.get("bars"), values.get("seconds"), values.get("bpm")
    if bars is not None and seconds is not None:
        raise InvalidRequest("Give bars or seconds, not both.")
    if bars is not None and bpm is None:
        raise MissingArgument("bars needs bpm (the project tempo).")
    if bars is None and seconds is None:
        seconds = DEFAULT_SECONDS
    melody_sources = [n for n in ("melody_notes", "melody_midi", "melody_audio") if n in values]
    if len(melody_sources) > 1:
        raise InvalidRequest(f"Give one melody source, not {' and '.join(melody_sources)}.")
    if melody_sources and "continue_from" in values:
        raise InvalidRequest("A take follows a melody or continues audio, not both.")
    part = [n for n in ("audio_start", "audio_end") if n in values]
    if part and "continue_from" not in values and "melody_audio" not in values:
        raise InvalidRequest(f"{part[0]} needs continue_from or melody_audio (a file to cut).")
    if values.get("audio_start", 0.0) >= values.get("audio_end", float("inf")):
        raise InvalidValue("audio_start must come before audio_end.")
    if "melody_notes" in values and bpm is None:
        raise MissingArgument("melody_notes needs bpm (its notes are in beats).")
    if values.get("tempo_correct") and bpm is None:
        raise MissingArgument("tempo_correct needs bpm (the tempo to correct to).")
    variations = values.get("variations", 1)  # within this engine's limit (_parse)
    sample_rate = values.get("sample_rate")
    if sample_rate is not None and sample_rate not in SAMPLE_RATES:
        raise InvalidValue(
            f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}; got {sample_rate}."
        )
    sample_format = values.get("sample_format", DEFAULT_SAMPLE_FORMAT)
    if sample_format not in SAMPLE_FORMATS:
        raise InvalidValue(
            f"sample_format must be one of {', '.join(SAMPLE_FORMATS)}; got {sample_format!r}."
        )
    spec = GenerationSpec(
        prompt=values["prompt"],
        out_dir=_out_dir(values.get("out_dir"), limits),
        seconds=seconds,
        bars=bars,
        bpm=bpm,
        timesig=timesig,
        seed=values.get("seed"),
        temperature=values.get("temperature", DEFAULT_TEMPERATURE),
        top_k=values.get("top_k", DEFAULT_TOP_K),
        top_p=values.get("top_p", DEFAULT_TOP_P),
        guidance=values.get("guidance", DEFAULT_GUIDANCE),
        model=_model(values.get("model"), values.get("adapter"), limits),
        key=parse_key(values["key"]) if "key" in values else None,
        melody_notes=melody.parse_notes(values["melody_notes"])
        if "melody_notes" in values
        else None,
        melody_length=values.get("melody_length"),
        melody_midi=_input_file(
            values, "melody_midi", audio.MIDI_SUFFIXES, midi_file.MAX_MIDI_BYTES
        ),
        melody_audio=_input_file(values, "melody_audio", audio.AUDIO_SUFFIXES),
        continue_from=_input_file(values, "continue_from", audio.AUDIO_SUFFIXES),
        prompt_seconds=values.get("prompt_seconds", DEFAULT_PROMPT_SECONDS),
        audio_start=values.get("audio_start"),
        audio_end=values.get("audio_end"),
        include_prompt=values.get("include_prompt", False),
        variations=variations,
        loop=values.get("loop", False),
        tempo_correct=values.get("tempo_correct", False),
        sample_rate=sample_rate,
        sample_format=sample_format,
        loudness=values.get("loudness"),
    )
    if spec.duration_seconds > limits.max_seconds + 1e-9:
        raise OutOfRange(
            f"That is {_over(spec.duration_seconds, limits.max_seconds)} s; the most this "
            f"engine makes in one take is {limits.max_seconds:g} s (engine flag --max-seconds)."
        )
    return spec


def _input_file(
    values: dict[str, Any],
    name: str,
    suffixes: tuple[str, ...],
    max_bytes: int = audio.MAX_INPUT_BYTES,
) -> Path | None:
    """A file the request asks the engine to read, checked against the read rules."""
    if name not in values:
        return None
    return audio.check_input_file(values[name], what=name, suffixes=suffixes, max_bytes=max_bytes)


def _out_dir(value: str | None, limits: Limits) -> Path:
    if value is None:
        if limits.default_out_dir is None:
            raise MissingArgument("out_dir is required (this engine has no default folder).")
        return limits.default_out_dir
    path = Path(value)
    if not path.is_absolute():
        raise BadPath(f"out_dir must be an absolute path, got {value!r}.")
    if ".." in path.parts:
        raise BadPath(f"out_dir must not contain '..', got {value!r}.")
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:  # name too long, permission denied: Python 3.11 raises
        raise BadPath(f"out_dir {value[:200]} cannot be used: {exc.strerror}.") from None
    if not exists:
        raise BadPath(f"out_dir {value} does not exist. Create it first (or save the project).")
    if not is_dir:
        raise BadPath(f"out_dir {value} is not a folder.")
    return path


def _model(value: str | None, adapter: str | None, limits: Limits) -> str | None:
    """The model a request names: ``BASE`` or ``BASE+ADAPTER`` (engine.adapters).

    ``adapter`` is joined to ``value``; without ``value``, to the base the
    adapter's adapter_config.json names.  A named adapter must be on this
    machine (a folder with adapter_config.json): if not, the request is
    refused with model_not_available before it is queued.
    """
    named = None
    if value is not None:
        base, named = adapters.split(value)
        if not base:
            raise InvalidValue(
                f"model {value!r} names no base before '+': write BASE+ADAPTER, or send "
                "only adapter to use the base its adapter_config.json names."
            )
        _check_base(base)
        if named is not None and adapter is not None:
            raise InvalidRequest(
                f"model {value!r} already names an adapter; send it there or in adapter, not both."
            )
    adapter = named if named is not None else adapter
    if adapter is None:
        return value
    problem = adapters.name_problem(adapter)
    if problem is not None:
        raise InvalidValue(problem)
    folder = adapters.find(adapter, limits.adapters_dir)  # raises ModelNotAvailable
    if value is not None:
        return value if named is not None else adapters.join(value, adapter)
    declared = adapters.declared_base(folder)
    if declared is None:
        raise MissingArgument(
            f"The adapter {adapter!r} does not name its base (base_model_name_or_path in "
            f"{folder / adapters.CONFIG_NAME}): send model with the checkpoint it was trained on."
        )
    try:
        _check_base(declared)
    except InvalidValue:
        raise InvalidValue(
            f"The adapter {adapter!r} names its base as {declared!r}, which is not a model "
            "name this engine takes: send model with the checkpoint it was trained on."
        ) from None
    return adapters.join(declared, adapter)


def _check_base(value: str) -> None:
    if value in DEBUG_MODELS or _HUB_ID.fullmatch(value):
        return
    if Path(value).is_absolute() and ".." not in Path(value).parts:
        return
    raise InvalidValue(
        "model must be a Hub id like facebook/musicgen-small, an absolute folder "
        f"(without '..'), or one of {', '.join(DEBUG_MODELS)}, with +ADAPTER for a LoRA "
        f"finetune; got {value!r}."
    )


def _pairs_leniently(args: list[Any]) -> dict[str, Any]:
    """Best-effort key/value view of a possibly invalid argument list."""
    return {k: v for k, v in zip(args[::2], args[1::2], strict=False) if isinstance(k, str)}


def _number(value: float) -> str:
    """A number as a producer reads it: every digit of a whole one (2147483647, not
    2.14748e+09), a fraction to six significant digits."""
    if float(value).is_integer() and abs(value) < 1e18:
        return str(int(value))
    return f"{value:.6g}"


def _over(value: float, most: float) -> str:
    """``value`` (over ``most``) in as few digits as show that it is over: 1e+308,
    120.0001, 19.7938 (never 300 digits, never 120.00 for just over 120)."""
    for digits in range(4, 18):
        text = f"{value:.{digits}g}"
        if float(text) > most:
            return text
    return repr(value)


def _osc_type(value: Any) -> str:
    """What an argument is, in OSC's words, for wrong_type messages."""
    if isinstance(value, osc.Unusable):
        return str(value)
    names = {
        str: f"a string ({value!r:.40})",
        int: f"an integer ({value})",
        float: f"a float ({value:g})" if isinstance(value, float) else "",
        bytes: "an OSC blob (b)",
        bool: f"OSC {'true' if value else 'false'}",
        list: "an OSC array ([ ])",
    }
    return names.get(type(value)) or ("OSC nil (N)" if value is None else type(value).__name__)


# -- reply builders: (address, args) ------------------------------------------

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
