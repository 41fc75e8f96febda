"""LoRA adapters (finetunes) of a MusicGen checkpoint: naming, finding, merging.

An adapter is a folder in PEFT's on-disk format, as ``save_pretrained`` of a
``PeftModel`` writes it (and musicgen-dreamboothing trains it):
``adapter_config.json`` (``peft_type`` ``LORA``, ``target_modules``, and
``base_model_name_or_path``, the checkpoint it was trained on) and
``adapter_model.safetensors`` (the low-rank weights).  Its keys name layers of
the model PEFT wrapped: the whole MusicGen model (``base_model.model.decoder.
model.decoder.layers.0.self_attn.q_proj.lora_A.weight``, as musicgen-dreamboothing
wraps it) or its decoder alone (``base_model.model.model.decoder.layers...``);
both load.

Naming, one rule: a model name is ``BASE`` or ``BASE+ADAPTER``, split at its
last ``+``.  BASE is any checkpoint name (``debug``, a Hub id, an absolute
folder); ADAPTER is a bare name (letters, digits, ``.``, ``_``, ``-``), the
folder of that name under the adapters folder (``serve --adapters-dir``), or
the absolute path of an adapter folder.  A base+adapter pair is its own
checkpoint: resident on its own, named by exactly what the request said.

Merging: the base loads as any checkpoint, then PEFT injects the adapter's
layers, loads its weights and merges them into the base weights
(``merge_and_unload``), leaving plain ``nn.Linear`` / ``nn.Embedding`` layers.
The engine's own decode loop and CPU kernels then serve the merged model as
they serve any checkpoint (the kernels prepack after the merge).

Only :func:`merge` needs torch and peft; the rest is plain files, for the bridge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadFailed, ModelNotAvailable

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
ADAPTERS_FOLDER = "adapters"  # under the bridge's cache dir: serve --adapters-dir's default
SEPARATOR = "+"
_BARE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# What PEFT's PeftModel puts before the wrapped model's own parameter names.
_PEFT_PREFIX = "base_model.model."


def default_dir(cache_dir: Path) -> Path:
    """The adapters folder when ``serve --adapters-dir`` is not given: ``CACHE/adapters``."""
    return Path(cache_dir) / ADAPTERS_FOLDER


def split(model_id: str) -> tuple[str, str | None]:
    """``"debug+punk"`` -> ``("debug", "punk")``; ``"debug"`` -> ``("debug", None)``.

    Split at the last ``+``: a base folder's path may hold one, an adapter's may not.
    """
    base, plus, adapter = model_id.rpartition(SEPARATOR)
    return (base, adapter) if plus else (model_id, None)


def join(base: str, adapter: str) -> str:
    """The model name of ``adapter`` on ``base``."""
    return f"{base}{SEPARATOR}{adapter}"


def name_problem(adapter: str) -> str | None:
    """Why ``adapter`` cannot name an adapter, in words; None when it can."""
    if SEPARATOR in adapter:
        return (
            f"An adapter name cannot contain '{SEPARATOR}' (it separates base and adapter); "
            f"got {adapter!r}. Rename the folder."
        )
    if _BARE.fullmatch(adapter):
        return None
    path = Path(adapter)
    if path.is_absolute() and ".." not in path.parts:
        return None
    return (
        "An adapter is the name of a folder under the adapters folder (letters, digits, "
        f"'.', '_', '-') or an absolute folder path without '..'; got {adapter!r}."
    )


def find(adapter: str, adapters_dir: Path | None) -> Path:
    """The folder of ``adapter`` (a bare name under ``adapters_dir``, or an absolute path).

    Raises:
        ModelNotAvailable: no adapter folder there, with where it looked.
    """
    if _BARE.fullmatch(adapter):
        if adapters_dir is None:
            raise ModelNotAvailable(
                f"Adapter '{adapter}' is a bare name, and this engine has no adapters folder: "
                "pass an absolute path, or start the engine with --adapters-dir."
            )
        folder = Path(adapters_dir) / adapter
    else:
        folder = Path(adapter).expanduser()
    if not (folder / CONFIG_NAME).is_file():
        raise ModelNotAvailable(
            f"No LoRA adapter '{adapter}' on this machine: {folder} has no {CONFIG_NAME}. "
            f"An adapter is a folder as PEFT's save_pretrained writes it ({CONFIG_NAME} and "
            f"{WEIGHTS_NAME}); put it under the adapters folder "
            f"({adapters_dir if adapters_dir is not None else 'serve --adapters-dir'}) "
            "or name it by its absolute path."
        )
    return folder


def read_config(folder: Path) -> dict[str, Any]:
    """The adapter's ``adapter_config.json``, checked to be a LoRA adapter with safetensors weights.

    Raises:
        ModelLoadFailed: unreadable, not LoRA, or without ``adapter_model.safetensors``.
    """
    path = Path(folder) / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadFailed(f"Could not read the adapter's {path}: {exc}.") from None
    if not isinstance(config, dict):
        raise ModelLoadFailed(f"{path} is not a PEFT adapter config (not a JSON object).")
    kind = config.get("peft_type")
    if kind != "LORA":
        raise ModelLoadFailed(
            f"{folder} is a {kind or 'untyped'} adapter, not LoRA: the engine merges LoRA "
            "adapters only (peft_type LORA in adapter_config.json)."
        )
    if not (Path(folder) / WEIGHTS_NAME).is_file():
        pickled = (Path(folder) / "adapter_model.bin").is_file()
        raise ModelLoadFailed(
            f"{folder} has no {WEIGHTS_NAME}"
            + (
                " (only adapter_model.bin, a pickle, which the engine does not load: it could "
                "run code; save it again with safe_serialization)."
                if pickled
                else "."
            )
        )
    return config


def declared_base(folder: Path) -> str | None:
    """The checkpoint the adapter says it was trained on (``base_model_name_or_path``), or None."""
    try:
        config = json.loads((Path(folder) / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    return base if isinstance(base, str) and base else None


@dataclass(frozen=True)
class Found:
    """An adapter folder under the adapters folder (for ``models``)."""

    name: str  # the folder's name: what ``BASE+name`` says
    folder: Path
    base: str | None  # base_model_name_or_path, None when it names none
    size_bytes: int


def list_adapters(adapters_dir: Path) -> list[Found]:
    """Each subfolder of ``adapters_dir`` holding an ``adapter_config.json``, by name."""
    found = []
    try:
        children = sorted(p for p in Path(adapters_dir).iterdir() if p.is_dir())
    except OSError:
        return []
    for folder in children:
        if _BARE.fullmatch(folder.name) and (folder / CONFIG_NAME).is_file():
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            found.append(Found(folder.name, folder.resolve(), declared_base(folder), size))
    return found


def merge(model: Any, folder: Path, base_id: str) -> Any:
    """Merge the LoRA adapter in ``folder`` into ``model``'s weights, in place.

    Args:
        model: a loaded MusicGen model (``MusicgenForConditionalGeneration`` or
            the melody one), on its device, in its dtype.
        folder: the adapter (checked by :func:`read_config` first).
        base_id: the base's name, for messages.

    Returns:
        ``model``, its adapted layers plain modules again with merged weights.

    Raises:
        ModelLoadFailed: not a LoRA adapter, not finite, or not one of this
            base (a layer it names is missing, or its shapes differ).
    """
    import torch
    from peft import PeftConfig, PeftModel
    from safetensors import safe_open

    read_config(folder)
    weights = Path(folder) / WEIGHTS_NAME
    try:
        with safe_open(str(weights), framework="pt") as fh:
            keys = list(fh.keys())
            # Checked here, on the small low-rank factors, rather than by peft's
            # safe_merge on every merged weight (a clone and a scan of each: slower).
            broken = [k for k in keys if not bool(torch.isfinite(fh.get_tensor(k)).all())]
    except Exception as exc:  # a truncated or foreign file
        raise ModelLoadFailed(f"Could not read the adapter weights {weights}: {exc}") from exc
    if broken:
        raise ModelLoadFailed(
            f"The adapter weights {weights} are not finite (NaN or infinity in {broken[0]}, "
            f"{len(broken)} tensor(s) in all): they would break the model. Train or save it again."
        )
    target, where = _target(model, keys, folder)
    try:
        config = PeftConfig.from_pretrained(str(folder))
        config.inference_mode = True
        wrapped = PeftModel(target, config, "default", low_cpu_mem_usage=True)
        result = wrapped.load_adapter(
            str(folder), "default", is_trainable=False, low_cpu_mem_usage=True
        )
    except Exception as exc:  # size mismatch, a target module the base lacks
        raise ModelLoadFailed(
            f"The adapter {folder} does not fit {base_id} ({type(exc).__name__}: "
            f"{_first_line(exc)}). Was it trained on another checkpoint? Its "
            f"{CONFIG_NAME} says {declared_base(folder) or 'nothing'}."
        ) from exc
    unfit = [*result.unexpected_keys, *result.missing_keys]
    if unfit:
        raise ModelLoadFailed(
            f"The adapter {folder} does not fit {base_id}: {len(unfit)} of its weights name "
            f"layers this checkpoint's {where} does not have or that it leaves out (e.g. "
            f"{unfit[0]}). Was it trained on another checkpoint? Its {CONFIG_NAME} says "
            f"{declared_base(folder) or 'nothing'}."
        )
    merged = wrapped.merge_and_unload()
    if where == "decoder":
        model.decoder = merged
        return model
    return merged


def _target(model: Any, keys: list[str], folder: Path) -> tuple[Any, str]:
    """The module PEFT wrapped when the adapter was saved: the whole model or its decoder."""
    names = [k[len(_PEFT_PREFIX) :] for k in keys if k.startswith(_PEFT_PREFIX)]
    if not names or len(names) != len(keys):
        raise ModelLoadFailed(
            f"{folder / WEIGHTS_NAME} is not a PEFT adapter's weights (its keys do not start "
            f"with '{_PEFT_PREFIX}')."
        )
    whole = {name.split(".", 1)[0] for name in names}
    own = {name for name, _ in model.named_children()}
    if whole <= own:
        return model, "model"
    decoder = {name for name, _ in model.decoder.named_children()}
    if whole <= decoder:
        return model.decoder, "decoder"
    raise ModelLoadFailed(
        f"The adapter {folder} adapts layers under {', '.join(sorted(whole))}, which neither "
        "this MusicGen model nor its decoder has: it is not an adapter of a MusicGen checkpoint."
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
