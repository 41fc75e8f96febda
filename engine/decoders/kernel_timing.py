"""Timing the CPU kernel candidates on a model's own weights, at load.

:mod:`engine.decoders.kernels` chooses from these figures.  Each candidate is
timed on the model's own weights of each shape (distinct layers', so that they
stream from memory as in a step, not from the cache), the candidates
interleaved so that drift on a shared machine hits all alike, the median of
:data:`REPEATS` kept.  A candidate whose outputs differ from the plain
product's beyond float rounding is reported, never silently chosen.
"""

from __future__ import annotations

import statistics
import time

import torch

from engine.checkpoint import LoadedModel
from engine.decoders.layers import direct
from engine.decoders.linears import (
    KERNELS,
    QKV,
    TIMING_ROWS,
    PackedLinear,
    decoder_linears,
    self_attentions,
    stacked,
)

#: Per shape, at most this many bytes of weights are timed.
TIMING_BYTES = 128 << 20
#: Cache positions attention is timed at: mid-way through an 8 s take (403 steps).
ATTENTION_LENGTH = 200
REPEATS = 5
#: Largest difference from F.linear allowed, relative to its largest output.
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-2}


def time_kernels(loaded: LoadedModel, rows: int = TIMING_ROWS) -> tuple[dict[str, float], list]:
    """Milliseconds of a step's Linear products with each kernel, and the inexact ones.

    Each distinct weight shape is timed on up to :data:`TIMING_BYTES` of the
    model's own weights of that shape, then weighted by how many layers have it.

    Returns:
        ({kernel: ms per step}, [kernels whose outputs differ beyond rounding]).
    """
    groups: dict[tuple[int, int, bool], list[torch.nn.Linear]] = {}
    for _, _, linear in decoder_linears(loaded, per_step=True):
        key = (linear.out_features, linear.in_features, linear.bias is not None)
        groups.setdefault(key, []).append(linear)
    totals = dict.fromkeys(KERNELS, 0.0)
    inexact: set[str] = set()
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for (_, in_features, _), layers in groups.items():
            weight = layers[0].weight
            fits = max(2, TIMING_BYTES // (weight.numel() * weight.element_size()))
            timed = layers[:fits]
            x = torch.randn((rows, in_features), generator=gen).to(weight.dtype)
            runs = {
                "module": [direct(linear) for linear in timed],
                "onednn": [direct(PackedLinear(linear)) for linear in timed],
            }
            reference = runs["module"][0](x)
            limit = TOLERANCE.get(weight.dtype, 1e-5) * float(reference.abs().max())
            for kernel, forwards in runs.items():
                if float((forwards[0](x) - reference).abs().max()) > limit:
                    inexact.add(kernel)
            for kernel, seconds in _interleaved(runs, x).items():
                totals[kernel] += seconds * len(layers) * 1e3
            del runs
    return totals, sorted(inexact)


def time_qkv(loaded: LoadedModel, kernel: str, rows: int = TIMING_ROWS) -> dict[str, float]:
    """Milliseconds a step of self-attention's q/k/v products take with ``kernel``.

    The three separate products of each layer against the one fused product
    (:func:`engine.decoders.linears.fuse_qkv`), scaled to every layer.  A fused
    product that differs from the three beyond rounding counts as never faster.

    Returns:
        ``{"separate": ms, "fused": ms}``; empty where the layers cannot be fused.
    """
    attns = self_attentions(loaded)
    if any(type(getattr(a, n, None)) is not torch.nn.Linear for a in attns for n in QKV):
        return {}
    weight = attns[0].q_proj.weight
    fits = max(2, TIMING_BYTES // (3 * weight.numel() * weight.element_size()))
    timed = attns[:fits]
    wrap = PackedLinear if kernel == "onednn" else (lambda linear: linear)
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        separate = [[direct(wrap(getattr(a, n))) for n in QKV] for a in timed]
        fused = [direct(wrap(stacked([getattr(a, n) for n in QKV]))) for a in timed]
        x = torch.randn((rows, weight.shape[1]), generator=gen).to(weight.dtype)
        reference = torch.cat([forward(x) for forward in separate[0]], dim=-1)
        limit = TOLERANCE.get(weight.dtype, 1e-5) * float(reference.abs().max())
        if float((fused[0](x) - reference).abs().max()) > limit:
            return {"separate": 0.0, "fused": float("inf")}
        runs = {
            "separate": [_in_turn(layer) for layer in separate],
            "fused": fused,
        }
        seconds = _interleaved(runs, x)
    return {what: s * len(attns) * 1e3 for what, s in seconds.items()}


def time_attention(
    loaded: LoadedModel, rows: int = TIMING_ROWS, length: int = ATTENTION_LENGTH
) -> dict[str, float]:
    """Milliseconds of a step's self-attention, the KV cache in the model's dtype or float32.

    Each layer writes its new key/value into a cache of ``length`` positions
    and attends it with one query row (``scaled_dot_product_attention``), as
    the engine's step does; the float32 candidate includes the casts to it
    and back.  Only for models not in float32; a candidate whose output
    differs from the model-dtype one beyond that dtype's rounding counts as
    never faster.

    Returns:
        ``{model dtype: ms, "float32": ms}``; empty for a float32 model.
    """
    import torch.nn.functional as F

    core = loaded.model.decoder.model.decoder
    dtype = core.layer_norm.weight.dtype
    if dtype == torch.float32:
        return {}
    config = core.config
    layers, heads = config.num_hidden_layers, config.num_attention_heads
    head_dim = config.hidden_size // heads
    gen = torch.Generator().manual_seed(0)
    new = [torch.randn((rows, heads, 1, head_dim), generator=gen).to(dtype) for _ in range(3)]
    name = str(dtype).removeprefix("torch.")
    runs: dict[str, list] = {}
    outputs = {}
    shape = (layers, rows, heads, length + 1, head_dim)
    with torch.inference_mode():
        # The same values in both caches (rounded to the model's dtype).
        base_keys = (torch.randn(shape, generator=gen) * 0.5).to(dtype)
        base_values = torch.randn(shape, generator=gen).to(dtype)
        for what, cache in ((name, dtype), ("float32", torch.float32)):
            keys, values = base_keys.to(cache), base_values.to(cache)

            def step(_: object, keys=keys, values=values, cache=cache) -> torch.Tensor:
                query, key, value = (t.to(cache) for t in new)
                for i in range(layers):
                    keys[i, :, :, length:] = key
                    values[i, :, :, length:] = value
                    out = F.scaled_dot_product_attention(query, keys[i], values[i])
                return out.to(dtype)

            runs[what] = [step]
            outputs[what] = step(None)
        limit = TOLERANCE.get(dtype, 2e-2) * float(outputs[name].abs().max())
        if float((outputs["float32"].float() - outputs[name].float()).abs().max()) > limit:
            return {name: 0.0, "float32": float("inf")}
        seconds = _interleaved(runs, new[0])
    return {what: s * 1e3 for what, s in seconds.items()}


def _in_turn(forwards: list) -> object:
    def run(x: torch.Tensor) -> None:
        for forward in forwards:
            forward(x)

    return run


def _interleaved(runs: dict[str, list], x: torch.Tensor) -> dict[str, float]:
    """Median seconds per call of each candidate's calls on ``x``, candidates interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, calls in runs.items():
            start = time.perf_counter()
            for call in calls:
                call(x)
            samples[name].append((time.perf_counter() - start) / len(calls))
    return {name: statistics.median(s) for name, s in samples.items()}
