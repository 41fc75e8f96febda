"""Reduced-precision CPU variants of a checkpoint: bf16 weights, or int8 weight Linear layers.

They trade exactness for speed and are applied only when asked for
(``serve --cpu-precision``); docs/performance.md has the measured distance
from float32.  They change the model, not a decoder, so every decoder uses them.
"""

from __future__ import annotations

from engine.checkpoint import LoadedModel

#: Modes of :func:`prepare_for_cpu`.
PRECISIONS = ("float32", "bfloat16", "int8")
#: What ``serve --cpu-precision`` may say: a mode, or "auto" (:func:`resolve_cpu_precision`).
CPU_MODES = ("auto", *PRECISIONS)
#: /proc/cpuinfo flags of native bf16 arithmetic (AVX512-BF16: Zen 4+, Cooper Lake+;
#: AMX: Sapphire Rapids+).  Without them bf16 is emulated and slower than float32.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def resolve_cpu_precision(mode: str, flags: list[str] | None = None) -> tuple[str, str]:
    """The precision ``mode`` means on this CPU, and why.

    ``"auto"`` is bfloat16 where the CPU computes it natively (measured
    faithful: docs/performance.md), else float32; any other mode is itself.

    Args:
        mode: one of :data:`CPU_MODES`.
        flags: the CPU's feature flags (default: this machine's /proc/cpuinfo).
    """
    if mode != "auto":
        return mode, "asked"
    if flags is None:
        from engine.decoders.kernels import cpu_flags

        flags = cpu_flags()
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in flags]
    if native:
        return "bfloat16", f"auto: the CPU has native bf16 ({', '.join(native)})"
    return "float32", "auto: the CPU has no native bf16"


def prepare_for_cpu(loaded: LoadedModel, mode: str) -> LoadedModel:
    """Convert a CPU checkpoint, in place, to a faster and less exact variant.

    Not exact: tokens drift from float32 ones (docs/performance.md has the
    measured distance).  Nothing calls this unless asked.  It changes the model,
    not the loop, so both decoders then use the variant.

    Args:
        loaded: a checkpoint loaded on the CPU in float32.
        mode: ``"float32"`` (nothing changes); ``"bfloat16"`` (every weight and
            activation in bf16: half the memory traffic, and fast where the CPU
            has native bf16 (AVX512-BF16, AMX), slow where it has not); or
            ``"int8"`` (the decoder layers' Linear weights become int8, one
            scale per output channel, with activations quantized on the fly:
            torch.ao dynamic quantization, a quarter of the traffic; the lm
            heads, embeddings and layer norms stay float32).

    Returns:
        ``loaded``, its ``dtype`` naming the mode.
    """
    import warnings

    import torch

    if mode not in PRECISIONS:
        raise ValueError(f"mode must be one of {', '.join(PRECISIONS)}, got {mode!r}")
    if loaded.device != "cpu":
        raise ValueError(f"prepare_for_cpu is for CPU checkpoints; this one is on {loaded.device}")
    if loaded.dtype != "float32":
        raise ValueError(
            f"prepare_for_cpu converts float32 checkpoints; this one is {loaded.dtype}"
        )
    if mode == "bfloat16":
        loaded.model.to(torch.bfloat16)
    elif mode == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():  # torch.ao's deprecation notices, on every layer
            warnings.simplefilter("ignore")
            quantize_dynamic(
                loaded.model.decoder.model,  # the layers; not the lm heads
                {torch.nn.Linear: per_channel_dynamic_qconfig},
                dtype=torch.qint8,
                inplace=True,
            )
    loaded.dtype = mode
    return loaded
