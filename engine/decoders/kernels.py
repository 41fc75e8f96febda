"""The CPU Linear kernel of the decoder, chosen per machine at load.

Why: a decode step multiplies 2 rows per take (guidance's conditional and null
rows) by every decoder weight, so the step is as fast as the kernel reads
weights.  ``F.linear`` (MKL's sgemm on x86) reads float32 weights at 5-8 GB/s
for 2 rows on a 2-core AMD EPYC (Zen 4), a third of what the machine's memory
gives; the same weights prepacked for oneDNN
(``torch.ops.mkldnn._reorder_linear_weight`` + ``_linear_pointwise``, what
inductor's freezing uses) read them at 15-23 GB/s there.  Which one wins
depends on the CPU and the torch build, so the engine measures it:

- :func:`choose_kernel` times each candidate on the model's own Linear shapes
  and weights, at the row count of one take with guidance, and keeps the
  fastest whose outputs equal ``F.linear``'s to float rounding.  The choice is
  cached per CPU model, torch version, threads and dtype in the engine's cache
  folder (``cpu_kernels.json``) and logged.
- :func:`apply_kernel` swaps the decoder's ``nn.Linear`` layers (self and
  cross attention, FFN, lm heads; not the text encoder, which runs once a
  take) for :class:`PackedLinear`, which holds only the packed weight.  It
  changes the model, not a decoder, so every decoder uses it.
- :func:`fuse_qkv` gives each decoder layer's self-attention one product for
  its query, key and value projections (``qkv_proj``, a ``3 * D x D`` weight
  of the three stacked), which the engine's own steps use
  (:class:`engine.decoders.layers.LayerStack`); the cross-attention's query
  stays alone (its keys and values are projected once a run).  The fused
  shape is timed with the others, and fusing is chosen only where its product
  beats the three it replaces with the chosen kernel.  ``q_proj``, ``k_proj``
  and ``v_proj`` stay for transformers' ``generate`` (the reference decoder):
  with the module kernel they are views into the fused weight (no memory
  added); with oneDNN each packed weight is its own (the self-attention's
  q/k/v weights twice: 288 MiB more for small in float32, 144 in bf16).

Only kernels exact to float rounding are in :data:`KERNELS`; one that changes
results beyond it (int8 weights: :mod:`engine.decoders.precision`) is used
only when asked for.  Rounding differs from ``F.linear``'s in the last bits,
as it does between batch shapes (docs/architecture.md, "Shared runs and
rounding"); the sidecar records the kernel.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import LoadedModel

log = logging.getLogger(__name__)

#: Kernels exact to float rounding: ``"module"`` is the checkpoint's own
#: ``nn.Linear`` (``F.linear``: MKL, or oneDNN where aten picks it);
#: ``"onednn"`` the weights prepacked for oneDNN.
KERNELS = ("module", "onednn")
#: What ``EngineSettings.cpu_kernel`` may be: a kernel, or "auto" (measured).
KERNEL_CHOICES = ("auto", *KERNELS)
CACHE_FILE = "cpu_kernels.json"
#: Rows a product is timed at: one take with guidance, the commonest run.
TIMING_ROWS = 2
#: Per shape, at most this many bytes of weights are timed (distinct layers'
#: weights, so that they come from memory as in a step, not from the cache).
TIMING_BYTES = 128 << 20
REPEATS = 5
#: Largest difference from F.linear allowed, relative to its largest output.
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-2}


class PackedLinear(torch.nn.Module):
    """``nn.Linear`` with its weight prepacked for oneDNN (the original is not kept)."""

    def __init__(self, linear: torch.nn.Linear, rows: int = TIMING_ROWS) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        weight = linear.weight.detach()
        self.register_buffer("packed", torch.ops.mkldnn._reorder_linear_weight(weight, rows))
        bias = None if linear.bias is None else linear.bias.detach()
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(
            x.contiguous(), self.packed, self.bias, "none", [], ""
        )

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, onednn"


@dataclass(frozen=True)
class KernelChoice:
    """The kernel a model decodes with, and why.

    Attributes:
        kernel: one of :data:`KERNELS`.
        how: "measured", "cached", "asked", or why none was measured ("not on the CPU").
        step_ms: each candidate's estimated milliseconds of Linear products a
            step (one take with guidance); empty where nothing was timed.
        inexact: candidates left out because they differ beyond rounding.
        fuse_qkv: whether self-attention's q/k/v run as one product (:func:`fuse_qkv`).
        qkv_ms: a step's self-attention q/k/v products with the chosen kernel,
            ``{"separate": ms, "fused": ms}``; empty where nothing was timed.
    """

    kernel: str
    how: str
    step_ms: dict[str, float] = field(default_factory=dict)
    inexact: tuple[str, ...] = ()
    fuse_qkv: bool = False
    qkv_ms: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What the sidecar records: the kernel, ``+qkv`` where q/k/v are fused."""
        return f"{self.kernel}+qkv" if self.fuse_qkv else self.kernel


def _cpuinfo(field: str) -> str | None:
    """The first ``field`` line's value in /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what the platform says."""
    return _cpuinfo("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> list[str]:
    """The CPU's feature flags (/proc/cpuinfo on Linux), else []."""
    return (_cpuinfo("flags") or "").split()


def cache_key(loaded: LoadedModel) -> str:
    """What a measured choice depends on: CPU model, torch, threads, dtype."""
    return (
        f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads | "
        f"{_dtype(loaded)}"
    )


def decoder_linears(
    loaded: LoadedModel, per_step: bool = False
) -> Iterator[tuple[Any, str, torch.nn.Linear]]:
    """The decoder's plain ``nn.Linear`` layers: (parent module, attribute, layer).

    Args:
        per_step: only those every step runs: not the cross-attention key and
            value projections, which the engine's loop runs once a run.
    """
    for parent in loaded.model.decoder.modules():
        once = per_step and parent in _cross_attentions(loaded)
        for name, child in parent.named_children():
            if type(child) is torch.nn.Linear and not (once and name in ("k_proj", "v_proj")):
                yield parent, name, child


def _cross_attentions(loaded: LoadedModel) -> list[Any]:
    layers = loaded.model.decoder.model.decoder.layers
    return [layer.encoder_attn for layer in layers if hasattr(layer, "encoder_attn")]


def _self_attentions(loaded: LoadedModel) -> list[Any]:
    return [layer.self_attn for layer in loaded.model.decoder.model.decoder.layers]


def fuse_qkv(loaded: LoadedModel) -> int:
    """Give every decoder self-attention a fused ``qkv_proj``, in place.

    ``qkv_proj`` is an ``nn.Linear`` whose weight (and bias) is the q, k and v
    projections' stacked; those become views into it, so no memory is added.
    Layers whose projections are not plain ``nn.Linear`` (int8 weights, or
    already fused) are left as they are.

    Returns:
        How many self-attentions were fused.
    """
    fused = 0
    with torch.inference_mode():
        for attn in _self_attentions(loaded):
            parts = [attn.q_proj, attn.k_proj, attn.v_proj]
            if hasattr(attn, "qkv_proj") or any(type(p) is not torch.nn.Linear for p in parts):
                continue
            weight = torch.cat([p.weight.detach() for p in parts])
            biased = all(p.bias is not None for p in parts)
            qkv = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=biased)
            qkv.to(device=weight.device, dtype=weight.dtype)
            qkv.weight = torch.nn.Parameter(weight, requires_grad=False)
            if biased:
                qkv.bias = torch.nn.Parameter(
                    torch.cat([p.bias.detach() for p in parts]), requires_grad=False
                )
            start = 0
            for p in parts:
                rows = p.out_features
                p.weight = torch.nn.Parameter(weight[start : start + rows], requires_grad=False)
                if biased:
                    p.bias = torch.nn.Parameter(qkv.bias[start : start + rows], requires_grad=False)
                start += rows
            attn.qkv_proj = qkv
            fused += 1
    return fused


def apply_kernel(loaded: LoadedModel, kernel: str, fuse: bool = False) -> int:
    """Give the decoder's Linear layers ``kernel``, in place.

    Args:
        fuse: first fuse self-attention's q/k/v (:func:`fuse_qkv`); the fused
            product gets ``kernel`` too.

    Returns:
        How many layers were swapped (0 for ``"module"``).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
    if fuse:
        fuse_qkv(loaded)
    if kernel == "module":
        return 0
    swapped = 0
    with torch.inference_mode():
        for parent, name, linear in list(decoder_linears(loaded)):
            setattr(parent, name, PackedLinear(linear))
            swapped += 1
    return swapped


def time_kernels(loaded: LoadedModel, rows: int = TIMING_ROWS) -> tuple[dict[str, float], list]:
    """Milliseconds of a step's Linear products with each kernel, and the inexact ones.

    Each distinct weight shape is timed on up to :data:`TIMING_BYTES` of the
    model's own weights of that shape (distinct layers, so they stream from
    memory as in a step), the kernels interleaved, the median of
    :data:`REPEATS` kept, then weighted by how many layers have that shape.

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
                "module": [linear.forward for linear in timed],
                "onednn": [PackedLinear(linear).forward for linear in timed],
            }
            reference = runs["module"][0](x)
            limit = TOLERANCE.get(weight.dtype, 1e-5) * float(reference.abs().max())
            for kernel, forwards in runs.items():
                if float((forwards[0](x) - reference).abs().max()) > limit:
                    inexact.add(kernel)
            samples: dict[str, list[float]] = {kernel: [] for kernel in runs}
            for _ in range(REPEATS):
                for kernel, forwards in runs.items():  # interleaved: drift hits all alike
                    start = time.perf_counter()
                    for forward in forwards:
                        forward(x)
                    samples[kernel].append((time.perf_counter() - start) / len(forwards))
            for kernel, seconds in samples.items():
                totals[kernel] += statistics.median(seconds) * len(layers) * 1e3
            del runs
    return totals, sorted(inexact)


def time_qkv(loaded: LoadedModel, kernel: str, rows: int = TIMING_ROWS) -> dict[str, float]:
    """Milliseconds a step of self-attention's q/k/v products take with ``kernel``.

    The three separate products of each layer against the one fused product
    (:func:`fuse_qkv`), on the model's own weights of up to
    :data:`TIMING_BYTES` of layers, interleaved, the median of
    :data:`REPEATS` scaled to every layer.  A fused product that differs from
    the three beyond rounding counts as never faster.

    Returns:
        ``{"separate": ms, "fused": ms}``; empty where the layers cannot be fused.
    """
    attns = _self_attentions(loaded)
    if any(type(getattr(a, n, None)) is not torch.nn.Linear for a in attns for n in _QKV):
        return {}
    weight = attns[0].q_proj.weight
    fits = max(2, TIMING_BYTES // (3 * weight.numel() * weight.element_size()))
    timed = attns[:fits]
    wrap = PackedLinear if kernel == "onednn" else (lambda linear: linear)
    gen = torch.Generator().manual_seed(0)
    samples: dict[str, list[float]] = {"separate": [], "fused": []}
    with torch.inference_mode():
        separate = [[wrap(getattr(a, n)).forward for n in _QKV] for a in timed]
        fused = []
        for a in timed:
            parts = [getattr(a, n) for n in _QKV]
            linear = torch.nn.Linear(
                weight.shape[1], sum(p.out_features for p in parts), bias=False
            )
            linear.weight = torch.nn.Parameter(torch.cat([p.weight for p in parts]), False)
            if all(p.bias is not None for p in parts):
                linear.bias = torch.nn.Parameter(torch.cat([p.bias for p in parts]), False)
            fused.append(wrap(linear).forward)
        x = torch.randn((rows, weight.shape[1]), generator=gen).to(weight.dtype)
        reference = torch.cat([forward(x) for forward in separate[0]], dim=-1)
        limit = TOLERANCE.get(weight.dtype, 1e-5) * float(reference.abs().max())
        if float((fused[0](x) - reference).abs().max()) > limit:
            return {"separate": 0.0, "fused": float("inf")}
        for _ in range(REPEATS):
            for what, forwards in (("separate", separate), ("fused", fused)):
                start = time.perf_counter()
                for layer in forwards:
                    for forward in layer if isinstance(layer, list) else [layer]:
                        forward(x)
                samples[what].append((time.perf_counter() - start) / len(forwards))
    return {what: statistics.median(s) * len(attns) * 1e3 for what, s in samples.items()}


_QKV = ("q_proj", "k_proj", "v_proj")


def choose_kernel(loaded: LoadedModel, cache_dir: Path | None, asked: str = "auto") -> KernelChoice:
    """The decoder's Linear kernel for this machine: asked for, cached, or measured now.

    Args:
        loaded: the checkpoint, after any precision change.
        cache_dir: the engine's cache folder (the choice is kept there); None: not kept.
        asked: "auto", or one of :data:`KERNELS`.
    """
    if asked not in KERNEL_CHOICES:
        raise ValueError(f"cpu_kernel must be one of {', '.join(KERNEL_CHOICES)}, not {asked!r}")
    if loaded.device != "cpu":
        return KernelChoice("module", f"not on the CPU ({loaded.device})")
    if not torch.backends.mkldnn.is_available():
        return KernelChoice("module", "this torch build has no oneDNN")
    if asked != "auto":
        return KernelChoice(asked, "asked")
    key = cache_key(loaded)
    path = None if cache_dir is None else Path(cache_dir) / CACHE_FILE
    cached = _read_cache(path).get(key)
    # An entry from before the fused q/k/v was timed (no "fuse_qkv") is measured again.
    if cached is not None and cached.get("kernel") in KERNELS and "fuse_qkv" in cached:
        return KernelChoice(
            cached["kernel"],
            "cached",
            cached.get("step_ms", {}),
            tuple(cached.get("inexact", ())),
            bool(cached["fuse_qkv"]),
            cached.get("qkv_ms", {}),
        )
    step_ms, inexact = time_kernels(loaded)
    exact = {kernel: ms for kernel, ms in step_ms.items() if kernel not in inexact}
    kernel = min(exact, key=exact.__getitem__) if exact else "module"
    qkv_ms = time_qkv(loaded, kernel)
    fuse = bool(qkv_ms) and qkv_ms["fused"] < qkv_ms["separate"]
    choice = KernelChoice(
        kernel,
        "measured",
        {k: round(v, 3) for k, v in step_ms.items()},
        tuple(inexact),
        fuse,
        {k: round(v, 3) for k, v in qkv_ms.items()},
    )
    if path is not None:
        _write_cache(path, key, choice)
    return choice


def describe(choice: KernelChoice) -> str:
    """One log line: the kernel, how it was chosen, and the timings behind it."""
    timings = ", ".join(f"{k} {ms:.1f} ms" for k, ms in choice.step_ms.items())
    line = f"CPU Linear kernel {choice.kernel} ({choice.how}"
    line += f"; a step's products: {timings})" if timings else ")"
    if choice.inexact:
        line += f"; left out, not exact to rounding: {', '.join(choice.inexact)}"
    if choice.qkv_ms:
        ms = choice.qkv_ms
        line += f"; self-attention q/k/v {'fused' if choice.fuse_qkv else 'separate'}"
        line += f" (separate {ms['separate']:.1f} ms, fused {ms['fused']:.1f} ms a step)"
    return line


def _dtype(loaded: LoadedModel) -> str:
    return str(loaded.model.decoder.model.decoder.layer_norm.weight.dtype).removeprefix("torch.")


def _read_cache(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s unreadable (%s): measuring the CPU kernels again", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, key: str, choice: KernelChoice) -> None:
    data = _read_cache(path)
    data[key] = {
        "kernel": choice.kernel,
        "step_ms": choice.step_ms,
        "inexact": list(choice.inexact),
        "fuse_qkv": choice.fuse_qkv,
        "qkv_ms": choice.qkv_ms,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:  # a read-only cache: the choice is still used, measured again next time
        log.warning("could not keep the CPU kernel choice in %s (%s)", path, exc)
