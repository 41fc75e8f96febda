"""Reduced-precision CPU variants of a checkpoint: bf16 weights, or int8 weight Linear layers.

They trade exactness for speed and are applied only when asked for
(``serve --cpu-precision``); docs/performance.md has the measured distance
from float32.  They change the model, not a decoder, so every decoder uses them.
"""

from __future__ import annotations

from engine.checkpoint import LoadedModel

#: Modes of :func:`prepare_for_cpu`.
CPU_MODES = ("float32", "bfloat16", "int8")


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

    if mode not in CPU_MODES:
        raise ValueError(f"mode must be one of {', '.join(CPU_MODES)}, got {mode!r}")
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
