"""A request's rendered takes made into files a producer can trust.

Each take, once: brought to the asked loudness (:mod:`engine.loudness`),
kept from clipping (:func:`engine.output.limit_peak`), measured, and described
in its sidecar (how it was made, by which weights, what the prompt and the
request disagreed on).  Then all of a request's takes land in its folder together
(:func:`engine.output.write_takes`); if that folder fails, none of them stays
there and all are saved to the engine's own folder, and the error says where.

Audio arrays are float32 ``[channels, samples]``.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.audio import SAMPLE_FORMATS
from engine.errors import WriteFailed
from engine.post_process import Rendered
from engine.prompting import Conflict, conflicts
from engine.spec import GenerationSpec

log = logging.getLogger(__name__)

# 2: loudness, checkpoint (revision or weights hash), adapter_hash, warnings, params.loudness;
# later, still 2 (fields only added): base_model, adapter.
SIDECAR_FORMAT_VERSION = 2


@dataclass(frozen=True)
class Made:
    """What made the takes, for their sidecars.

    Attributes:
        info: the checkpoint's :class:`engine.residency.ModelInfo`.
        decoder: "fast" or "reference".
        cuda_graphs: whether the decoder ran with CUDA graphs captured.
    """

    info: Any
    decoder: str
    cuda_graphs: bool


def write_request(
    spec: GenerationSpec,
    seeds: Sequence[int],
    rendered: Rendered,
    started: datetime,
    generate_s: float,
    made: Made,
    *,
    true_peak: float,
    rescue_dir: Path | None,
) -> tuple[list[Path], list[Conflict]]:
    """Write one request's takes (WAV + sidecar each).

    Args:
        spec: the request.
        seeds: one per take, in order.
        rendered: the takes as audio, at ``rendered.sample_rate`` Hz.
        started: when the request started (names the files, dates the sidecars).
        generate_s: seconds the decoder run took.
        made: what made them.
        true_peak: the ceiling in dBTP a loudness target never crosses.
        rescue_dir: the engine's own folder, for takes ``spec.out_dir`` refuses
            (None: no such folder).

    Returns:
        (the WAVs' paths, the prompt's conflicts with the request).

    Raises:
        WriteFailed: the folder refused the takes; the message says where they
            were saved instead, or that nothing was kept.
    """
    from engine.loudness import measure
    from engine.output import limit_peak, take_stem, write_takes

    warnings = conflicts(spec.prompt, spec.bpm, spec.key, spec.timesig, bars=spec.bars)
    warnings += rendered.details.get("warnings", [])  # what the inputs raised (silent melody)
    rate, subtype = rendered.sample_rate, SAMPLE_FORMATS[spec.sample_format]
    prepared = []  # (stem, audio [C, T], sidecar) per take
    for i, (take_seed, audio) in enumerate(zip(seeds, rendered.takes, strict=True)):
        audio, loudness = _normalise(spec, audio, rate, true_peak)
        audio, gain_db = limit_peak(audio)
        loudness = {**measure(audio, rate, loop=spec.loop), **loudness}
        meta = sidecar(spec, take_seed, started, audio.shape, rendered, gain_db, made)
        meta["variation"] = {"index": i + 1, "of": len(seeds), "first_seed": seeds[0]}
        meta.update(rendered.details["per_take"][i])
        meta["timings"] = {"generate_s": round(generate_s, 3), **rendered.details["timings"]}
        meta["loudness"] = loudness
        meta["warnings"] = [{"code": w.code, "message": w.message} for w in warnings]
        prepared.append((take_stem(spec.prompt, take_seed, started), audio, meta))

    def write_into(folder: Path) -> list[Path]:
        return write_takes(prepared, rate, folder, subtype)  # all of them, or none

    try:
        return write_into(spec.out_dir), warnings
    except WriteFailed as exc:
        raise _rescue(exc, spec.out_dir, rescue_dir, write_into) from exc


def _normalise(
    spec: GenerationSpec, audio: Any, rate: int, true_peak: float
) -> tuple[Any, dict[str, Any]]:
    """Bring a take to ``spec.loudness`` if asked: (audio, the target's facts or {}).

    Runs after the loop crossfade (one gain keeps the seam seamless).
    """
    if spec.loudness is None:
        return audio, {}
    from engine.loudness import normalise

    return normalise(audio, rate, spec.loudness, true_peak, loop=spec.loop)


def _rescue(
    failed: WriteFailed,
    folder: Path,
    rescue: Path | None,
    write_into: Callable[[Path], list[Path]],
) -> WriteFailed:
    """Save the takes ``folder`` refused into the engine's own folder; the error to raise."""
    from engine.output import reason

    if rescue is None or rescue.expanduser().resolve() == folder.resolve():
        log.warning("%s", failed.message)
        return failed
    try:
        rescue.mkdir(parents=True, exist_ok=True)  # the engine's own folder may be recreated
        saved = write_into(rescue)
    except (WriteFailed, OSError) as again:
        cause = again.__cause__ if isinstance(again, WriteFailed) else again
        why = reason(cause) if isinstance(cause, OSError) else str(again)
        kept = f"Nothing was kept: the engine's folder {rescue} failed too ({why})."
        message = f"{failed.message} {kept}"
        log.warning("%s", message)
        return WriteFailed(message)
    where = ", ".join(str(p) for p in saved)
    takes = "The take was" if len(saved) == 1 else "The takes were"
    message = f"{failed.message} {takes} saved to {where} instead."
    log.warning("%s", message)
    return WriteFailed(message)


def sidecar(
    spec: GenerationSpec,
    seed: int,
    started: datetime,
    shape: tuple[int, ...],
    rendered: Rendered,
    gain_db: float,
    made: Made,
) -> dict[str, Any]:
    """How one take was made, so it can be made again (docs/protocol.md, "The sidecar")."""
    info = made.info
    return {
        "format": "musicgen-bridge take",
        "format_version": SIDECAR_FORMAT_VERSION,
        "prompt": spec.prompt,
        "conditioning_text": rendered.text,
        "model": info.model_id,
        "model_is_debug_noise": info.is_debug,
        "base_model": info.base_model or info.model_id,
        "checkpoint": info.checkpoint,  # the base's weights: its Hub revision or hashes
        "adapter": info.adapter,
        "adapter_hash": info.adapter["weights_sha256"] if info.adapter else None,
        "seed": seed,
        "params": replace(spec, seed=seed, variations=1).to_json(),
        "duration_seconds": shape[-1] / rendered.sample_rate,
        "samples": shape[-1],
        "sample_rate": rendered.sample_rate,
        "model_sample_rate": info.sample_rate,
        "sample_format": spec.sample_format,
        "channels": shape[0],
        "windows": rendered.details["windows"],
        "decode_steps": rendered.details["decode_steps"],
        "shared_run": rendered.details["shared_run"],
        "reproducible": "solo" if rendered.details["shared_run"]["takes"] == 1 else "shared",
        "peak_limit_gain_db": round(gain_db, 3),
        "device": info.device,
        "dtype": info.dtype,
        "kernel": info.kernel,
        "created": started.isoformat(timespec="seconds"),
        "decoder": made.decoder,
        "cuda_graphs": made.cuda_graphs,
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    """Versions of everything that shapes a take (for sidecars and bug reports)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in (
        "musicgen-bridge",
        "torch",
        "transformers",
        "numpy",
        "soundfile",
        "soxr",
        "librosa",
        "pyloudnorm",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out
