"""A generate request's arguments, checked, as the engine's :class:`~engine.spec.GenerationSpec`.

What one argument alone cannot say is checked here: arguments that need or
exclude each other, the output folder, the model and adapter names, the
files the engine is asked to read, and the take's length against the
engine's limit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.arg_check import over
from bridge.protocol import DEFAULT_SECONDS
from engine import adapters, audio, melody, midi_file
from engine.audio import SAMPLE_FORMATS, SAMPLE_RATES
from engine.debug_checkpoint import DEBUG_MODELS
from engine.errors import (
    BadPath,
    InvalidRequest,
    InvalidValue,
    MissingArgument,
    OutOfRange,
)
from engine.prompting import parse_key
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

if TYPE_CHECKING:
    from bridge.requests import Limits

# Used with fullmatch: "$" alone would also match before a trailing newline.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def build_spec(values: dict[str, Any], limits: Limits) -> GenerationSpec:
    """The spec a generate request's checked ``values`` ask for.

    Raises:
        InvalidRequest: a child saying what is wrong.
        ModelNotAvailable: an adapter that is not on this machine.
    """
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
            f"That is {over(spec.duration_seconds, limits.max_seconds)} s; the most this "
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
