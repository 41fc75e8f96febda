"""Reduced-precision CPU variants of a checkpoint: bf16, or int8 weights in the decoder layers.

They trade exactness for speed: bf16 is the default where the CPU has native
bf16 (``serve --cpu-precision auto``, :func:`resolve_cpu_precision`), int8 only
when asked for; docs/performance.md has the measured distance from float32.
They change the model, not a decoder, so every decoder uses them.
"""

from __future__ import annotations

import logging

from engine.checkpoint import LoadedModel

log = logging.getLogger(__name__)

#: Modes of :func:`prepare_for_cpu`.
PRECISIONS = ("float32", "bfloat16", "int8", "int8-dynamic")
#: What each reduced precision does, in words (the engine's log line).
MEANING = {
    "bfloat16": "bf16 weights and arithmetic",
    "int8": "int8 weights, bf16 arithmetic",
    "int8-dynamic": "int8 weights, activations rounded to int8 on the fly",
}
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
    native = native_bf16(flags)
    if native:
        return "bfloat16", f"auto: the CPU has native bf16 ({', '.join(native)})"
    return "float32", "auto: the CPU has no native bf16"


def native_bf16(flags: list[str] | None = None) -> list[str]:
    """Which of :data:`NATIVE_BF16_FLAGS` the CPU has (``flags``, default /proc/cpuinfo's)."""
    if flags is None:
        from engine.decoders.kernels import cpu_flags

        flags = cpu_flags()
    return [flag for flag in NATIVE_BF16_FLAGS if flag in flags]


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
            ``"int8"`` (weight-only: the model in bf16, then the decoder layers'
            Linear weights in int8, one scale per output row
            (:class:`engine.decoders.linears.Int8Linear`), q/k/v fused into
            one product; the activations, lm heads, embeddings and layer
            norms stay bf16: about a quarter of float32's weight traffic); or
            ``"int8-dynamic"`` (torch.ao dynamic quantization of the decoder
            layers' Linear layers: int8 weights per output channel, the
            activations quantized to int8 on the fly, the rest float32; for
            CPUs without native bf16, where weight-only int8 is emulated).

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
        _int8_weights(loaded)
    elif mode == "int8-dynamic":
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


def _int8_weights(loaded: LoadedModel) -> None:
    """Weight-only int8 (``prepare_for_cpu(loaded, "int8")``): bf16, q/k/v fused, int8 layers."""
    import torch

    from engine.decoders.linears import INT8_ALIGN, Int8Linear, decoder_linears, fuse_qkv

    if not native_bf16():
        log.warning(
            "this CPU has no native bf16 (%s): weight-only int8 computes in emulated bf16 and "
            "may be slower than float32; int8-dynamic quantizes the activations too and has "
            "no bf16 in it",
            "/".join(NATIVE_BF16_FLAGS),
        )
    loaded.model.to(torch.bfloat16)
    fuse_qkv(loaded)  # exact, and one int8 product a layer instead of three
    heads = loaded.model.decoder.lm_heads
    kept = 0
    with torch.inference_mode():
        for parent, name, linear in list(decoder_linears(loaded)):
            if parent is heads:
                continue  # the lm heads stay bf16: int8 there moves the logits most
            if linear.in_features % INT8_ALIGN:
                kept += 1
                continue
            setattr(parent, name, Int8Linear(linear))
    if kept:
        log.info(
            "%d decoder Linear layer(s) keep bf16 weights: their width is no multiple of %d",
            kept,
            INT8_ALIGN,
        )
