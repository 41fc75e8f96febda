"""The OSC address space: every request address and its arguments, as data.

This module is the one place that defines the requests of the wire protocol;
docs/protocol.md mirrors it and a test keeps the two in step (the replies are
in :mod:`bridge.replies`).  It holds no sockets and no parsing:
:func:`bridge.requests.parse` reads a message by these tables.

Conventions (see docs/protocol.md):

- Arguments after the address are key/value pairs: ``id a1 reply_port 9001 ...``.
- Every request carries ``id`` (chosen by the client) and ``reply_port``; every
  reply names the ``id`` it answers.
- Replies go to the request's source host at ``reply_port``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from engine import melody
from engine.audio import SAMPLE_FORMATS, SAMPLE_RATES
from engine.spec import (
    DEFAULT_GUIDANCE,
    DEFAULT_PROMPT_SECONDS,
    DEFAULT_SAMPLE_FORMAT,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
)

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
