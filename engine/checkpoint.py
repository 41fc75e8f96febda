"""Finding and loading MusicGen checkpoints, offline-first.

A model is named by a Hugging Face Hub id (``facebook/musicgen-small``), a
local folder, or ``debug`` (the built-in random-weight checkpoint).  Hub ids are
looked up in the local Hugging Face cache only (``HF_HOME`` honoured); the
engine never downloads on a request.  Going online is always asked for:
``musicgen-bridge download``, or ``serve --download-missing`` for the startup
model (``make serve`` passes it), both through :func:`download`.

Weights load as safetensors only: a pickle file from an arbitrary folder could
run code, and every official MusicGen checkpoint ships safetensors.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import adapters
from engine.catalog import RELEASED, read_model_type
from engine.debug_checkpoint import DEBUG_MODELS, ensure_debug_checkpoint
from engine.errors import BridgeError, ModelLoadFailed, ModelNotAvailable
from engine.hub_download import ByteProgress

log = logging.getLogger(__name__)

KNOWN_MODELS = RELEASED  # Meta's released checkpoints (engine.catalog)
# Only what loading needs: never the duplicate pickle weights.
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]


@dataclass
class LoadedModel:
    """A checkpoint resident in memory, ready to generate.

    Attributes:
        model_id: the name it was asked for by ("debug", a Hub id, a folder,
            or any of them ``+ADAPTER``).
        folder: where its base's files were read from.
        model: the transformers model, in eval mode on ``device``.
        tokenizer: the text encoder's tokenizer.
        features: the checkpoint's preprocessor_config.json (chroma settings of
            melody checkpoints), read as data: its transformers class needs
            torchaudio, which the engine does without.
        device: torch device string ("cuda", "mps", "cpu").
        dtype: torch dtype name ("float32", "float16", "bfloat16").
        sample_rate: the codec's output rate in Hz (32000 for MusicGen).
        frame_rate: codec frames per second (50 for MusicGen).
        channels: 1, or 2 for stereo checkpoints.
        max_frames: the longest take the decoder can position, in frames.
        is_debug: True for the noise-making debug checkpoint (or an adapter of it).
        adapter: the LoRA adapter folder merged into the weights, or None.
    """

    model_id: str
    folder: Path
    model: Any
    tokenizer: Any
    features: dict[str, Any]
    device: str
    dtype: str
    sample_rate: int
    frame_rate: float
    channels: int
    max_frames: int
    is_debug: bool
    adapter: Path | None = None

    @property
    def base_id(self) -> str:
        """The base checkpoint's name: ``model_id`` without its ``+ADAPTER``."""
        return adapters.split(self.model_id)[0]

    @property
    def is_melody(self) -> bool:
        """True for checkpoints conditioned on a melody's chroma (musicgen-melody*)."""
        return self.model.config.model_type == "musicgen_melody"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder in force (``HF_HUB_CACHE`` / ``HF_HOME``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def resolve(model_id: str, cache_root: Path) -> Path:
    """Return the local folder holding ``model_id``'s files, without going online.

    Raises:
        ModelNotAvailable: with where it looked and how to get the checkpoint.
    """
    if model_id in DEBUG_MODELS:
        return ensure_debug_checkpoint(cache_root, model_id)
    path = Path(model_id).expanduser()
    if path.is_absolute() or model_id.startswith("."):
        if (path / adapters.CONFIG_NAME).is_file():
            raise ModelNotAvailable(
                f"{path} is a LoRA adapter, not a checkpoint: name it with its base, "
                f"as BASE+{path} (e.g. facebook/musicgen-small+{path})."
            )
        if (path / "config.json").is_file():
            return path
        raise ModelNotAvailable(
            f"No MusicGen checkpoint in folder {path} (it needs config.json and model.safetensors)."
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # The patterns matter: a cached Hub file listing (snapshot_download
        # writes one) names the pickle weights too, and without the patterns
        # their absence marks the snapshot incomplete.
        folder = Path(
            snapshot_download(model_id, local_files_only=True, allow_patterns=DOWNLOAD_PATTERNS)
        )
    except (LocalEntryNotFoundError, OSError, ValueError):
        raise ModelNotAvailable(missing_model_advice(model_id)) from None
    if not (folder / "config.json").is_file():
        raise ModelNotAvailable(missing_model_advice(model_id))
    if (folder / adapters.CONFIG_NAME).is_file():
        raise ModelNotAvailable(
            f"'{model_id}' is a LoRA adapter, not a checkpoint. Copy its folder {folder} "
            "under the adapters folder (serve --adapters-dir) and name it after its base, "
            "as BASE+NAME."
        )
    return folder


def missing_model_advice(model_id: str) -> str:
    """The one message a producer sees when a checkpoint is not on this machine.

    If this process tried to download it (``serve --download-missing``), it
    says so and why that failed.
    """
    tried = _FAILED_DOWNLOADS.get(model_id)
    return (
        f"Model '{model_id}' is not on this machine (looked in the Hugging Face cache "
        f"{hf_cache_dir()}). "
        + (f"Downloading it at start failed: {tried} " if tried else "")
        + f"On a machine with internet run `musicgen-bridge download {model_id}` (it "
        "honours HF_HOME), or pass --model with a local checkpoint folder. To try the "
        "pipeline without weights, use --model debug (it makes noise; in a checkout, "
        "`make serve MODEL=debug`)."
    )


def pick_device(requested: str = "auto") -> str:
    """``auto`` -> cuda, then mps, then cpu; anything else is returned as given."""
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def device_problem(requested: str) -> str | None:
    """Why ``requested`` (``serve --device``) cannot be used on this machine, or None."""
    if requested in ("auto", "cpu"):
        return None
    import torch

    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            return (
                f"--device {requested}: this machine has no CUDA GPU that torch can use "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
                "Use --device auto or --device cpu."
            )
        index = int(requested.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            return (
                f"--device {requested}: this machine has {torch.cuda.device_count()} CUDA "
                f"GPU(s), numbered from 0. Use --device cuda:0 or --device auto."
            )
        return None
    if requested == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            return (
                "--device mps: Apple's Metal (MPS) is not available on this machine. "
                "Use --device auto or --device cpu."
            )
    return None


def pick_dtype(device: str, requested: str = "auto") -> str:
    """``auto`` -> float16 on CUDA, float32 elsewhere (MPS and CPU are safest in fp32)."""
    if requested != "auto":
        return requested
    return "float16" if device.startswith("cuda") else "float32"


def load(
    model_id: str,
    cache_root: Path,
    device: str = "auto",
    dtype: str = "auto",
    adapters_dir: Path | None = None,
) -> LoadedModel:
    """Load a checkpoint onto a device, with its LoRA adapter merged if it names one.

    Args:
        model_id: Hub id, local folder, or "debug"; ``BASE+ADAPTER`` for a finetune.
        cache_root: the bridge's own cache (where the debug checkpoint lives).
        device: "auto", "cuda", "cuda:1", "mps" or "cpu".
        dtype: "auto", "float32", "float16" or "bfloat16".
        adapters_dir: where bare adapter names are looked up (None: absolute paths only).

    Raises:
        ModelNotAvailable: the checkpoint (or the adapter) is not on this machine.
        ModelLoadFailed: it is, but could not be loaded (or the adapter does not fit it).
    """
    import torch

    base_id, adapter = adapters.split(model_id)
    adapter_folder = None
    if adapter is not None:  # found and checked before the base costs a load
        adapter_folder = adapters.find(adapter, adapters_dir)
        adapters.read_config(adapter_folder)
    folder = resolve(base_id, cache_root)
    device = pick_device(device)
    dtype = pick_dtype(device, dtype)
    model_cls = _model_class(folder)
    _quiet_transformers()
    try:
        from transformers import AutoTokenizer

        model = model_cls.from_pretrained(
            folder,
            dtype=getattr(torch, dtype),
            local_files_only=True,
            use_safetensors=True,
            # Straight to the device: safetensors reads each tensor onto it, with
            # no full copy in host memory first (one device: no accelerate hooks).
            device_map={"": device},
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        features = _read_json(folder / "preprocessor_config.json") or {}
        model.to(device).eval()  # a no-op where the loader placed it all
    except Exception as exc:  # any loader failure is one condition for the user
        raise ModelLoadFailed(
            f"Could not load '{base_id}' from {folder}: {type(exc).__name__}: {exc}"
        ) from exc
    if adapter_folder is not None:
        model = adapters.merge(model, adapter_folder, base_id).eval()
    audio_cfg = model.config.audio_encoder
    decoder_cfg = model.config.decoder
    return LoadedModel(
        model_id=model_id,
        folder=folder,
        model=model,
        tokenizer=tokenizer,
        features=features,
        device=device,
        dtype=dtype,
        sample_rate=int(audio_cfg.sampling_rate),
        frame_rate=float(audio_cfg.frame_rate),
        channels=int(getattr(decoder_cfg, "audio_channels", 1)),
        max_frames=int(decoder_cfg.max_position_embeddings),
        is_debug=base_id in DEBUG_MODELS,
        adapter=adapter_folder,
    )


def is_hub_id(model_id: str) -> bool:
    """True if ``model_id`` names a Hub repository (``facebook/musicgen-small``)."""
    if model_id in DEBUG_MODELS or model_id.startswith((".", "/", "~")):
        return False
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(model_id)
    except HFValidationError:
        return False
    return True


def download(model_id: str, progress: ByteProgress | None = None) -> Path:
    """Fetch a checkpoint from the Hub into the Hugging Face cache (needs internet).

    Only the files loading needs (:data:`DOWNLOAD_PATTERNS`), with one
    progress figure for them all (:func:`engine.hub_download.fetch_snapshot`).
    A failure is remembered for :func:`missing_model_advice`.

    Args:
        progress: called with (bytes done, bytes in all) as the files arrive.

    Raises:
        ModelNotAvailable: the Hub could not be reached or has no such model.
        BridgeError: whatever ``progress`` raised to stop the download.
    """
    from engine.hub_download import fetch_snapshot

    try:
        folder = fetch_snapshot(model_id, DOWNLOAD_PATTERNS, progress)
    except BridgeError:  # ``progress`` stopped it (the engine shutting down): as it said
        raise
    except Exception as exc:  # network, auth, 404: all one answer for the user
        why = _download_problem(exc)
        _FAILED_DOWNLOADS[model_id] = why
        raise ModelNotAvailable(
            f"Could not download '{model_id}' into {hf_cache_dir()}: {why}"
        ) from exc
    _FAILED_DOWNLOADS.pop(model_id, None)
    return folder


# Model id -> why this process's last download of it failed (for missing_model_advice).
_FAILED_DOWNLOADS: dict[str, str] = {}


def _download_problem(exc: Exception) -> str:
    """Why a download failed, in words, with what to check."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    if isinstance(exc, OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set, so nothing was fetched (unset it to download)."
    if isinstance(exc, RepositoryNotFoundError):
        return f"the Hub at {constants.ENDPOINT} has no model by that id ({detail}). Check the id."
    if isinstance(exc, HfHubHTTPError):
        return (
            f"the Hub at {constants.ENDPOINT} refused ({detail}). Check the id, and for a "
            "private or gated model your token (`hf auth login`)."
        )
    if isinstance(exc, ValueError):  # an invalid id, or no file loading needs
        return f"{detail}."
    return (
        f"the Hub at {constants.ENDPOINT} could not be reached ({detail}). Check the internet "
        "connection (and HF_ENDPOINT or your proxy, if you set one)."
    )


def _model_class(folder: Path) -> Any:
    from transformers import (
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    model_type = read_model_type(folder)
    if model_type == "musicgen":
        return MusicgenForConditionalGeneration
    if model_type == "musicgen_melody":
        return MusicgenMelodyForConditionalGeneration
    raise ModelLoadFailed(
        f"{folder} holds a '{model_type}' model, not MusicGen (model_type musicgen or "
        "musicgen_melody)."
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _quiet_transformers() -> None:
    """Keep transformers' progress bars and config nags out of the engine log.

    The real checkpoints set pad/bos to the codebook size (2048), which
    transformers' config validation warns about on every load.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
