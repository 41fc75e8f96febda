"""The CPU kernels of the decoder, chosen per machine at load: Linear, q/k/v, attention.

Why: a decode step multiplies 2 rows per take (guidance's conditional and null
rows) by every decoder weight, so the step is as fast as the kernel reads
weights.  ``F.linear`` (MKL's sgemm on x86) reads float32 weights at 5-8 GB/s
for 2 rows on a 2-core AMD EPYC (AVX-512, AVX512-BF16), a third of what the machine's memory
gives; the same weights prepacked for oneDNN
(``torch.ops.mkldnn._reorder_linear_weight`` + ``_linear_pointwise``, what
inductor's freezing uses) read them at 15-23 GB/s there.  Which one wins
depends on the CPU and the torch build, so the engine measures it:

- :func:`choose_kernel` times each candidate
  (:mod:`engine.decoders.kernel_timing`) on the model's own Linear shapes
  and weights, at the row count of one take with guidance, and keeps the
  fastest whose outputs equal ``F.linear``'s to float rounding; then, with
  that kernel, whether one fused self-attention q/k/v product a layer beats
  the three it replaces; and, for a model not in float32, whether the
  engine's steps attend (and keep the KV cache) faster in float32 than in
  the model's dtype (torch's bf16 attention for one query row is 2.5-4x
  slower than float32's on that EPYC).  The choice is cached per CPU model,
  torch version, threads and dtype in the engine's cache folder
  (``cpu_kernels.json``) and logged.
- :func:`apply_choice` gives the model what was chosen: the decoder's
  ``nn.Linear`` layers prepacked for oneDNN and q/k/v fused
  (:func:`engine.decoders.linears.apply_kernel`), the attention dtype
  (:func:`engine.decoders.layers.set_attention_dtype`).  It changes the
  model, not a decoder, so every decoder uses the products (transformers'
  ``generate`` attends in the model's dtype).

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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import LoadedModel
from engine.decoders import KERNEL_CHOICES, kernel_timing
from engine.decoders.layers import set_attention_dtype
from engine.decoders.linears import BATCH_ROWS, KERNELS, apply_kernel

__all__ = ["KERNELS", "KERNEL_CHOICES", "KernelChoice", "apply_choice", "choose_kernel"]

log = logging.getLogger(__name__)

CACHE_FILE = "cpu_kernels.json"


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
        attention: the dtype the engine's steps attend in and keep the KV
            cache in, where it is not the model's (``"float32"`` for a bf16
            model); "" for the model's own.
        attention_ms: a step's self-attention over the cache in each dtype
            (:func:`engine.decoders.kernel_timing.time_attention`); empty
            where nothing was timed.
        batch_ms: as ``step_ms`` for four takes decoded together
            (:data:`~engine.decoders.linears.BATCH_ROWS`): logged, so that an
            engine that mostly decodes takes together can be given the kernel
            that is faster there (``cpu_kernel``); the choice is ``step_ms``'s.
    """

    kernel: str
    how: str
    step_ms: dict[str, float] = field(default_factory=dict)
    inexact: tuple[str, ...] = ()
    fuse_qkv: bool = False
    qkv_ms: dict[str, float] = field(default_factory=dict)
    attention: str = ""
    attention_ms: dict[str, float] = field(default_factory=dict)
    batch_ms: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What the sidecar records: the kernel, ``+qkv`` where q/k/v are fused,
        ``+attn-float32`` where attention is in float32."""
        name = f"{self.kernel}+qkv" if self.fuse_qkv else self.kernel
        return f"{name}+attn-{self.attention}" if self.attention else name


def apply_choice(loaded: LoadedModel, choice: KernelChoice) -> None:
    """Give the model what ``choice`` says: the Linear kernel, fused q/k/v, the attention dtype."""
    apply_kernel(loaded, choice.kernel, choice.fuse_qkv)
    set_attention_dtype(loaded, choice.attention or None)


def _cpuinfo(field: str, path: str = "/proc/cpuinfo") -> str | None:
    """The value of the first ``field`` line of /proc/cpuinfo (Linux), or None.

    The key must match whole: ``model`` is not ``model name``.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as info:
            for line in info:
                key, colon, value = line.partition(":")
                if colon and key.strip() == field:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_model(path: str = "/proc/cpuinfo") -> str:
    """The CPU's model name, with its family, model and stepping where /proc/cpuinfo has them.

    Why: a virtual machine's CPU is often named only "AMD EPYC" whatever its
    generation (Zen 4 is family 25, Zen 5 family 26), and a kernel choice
    measured on one is not the other's.  Elsewhere, what the platform says.
    """
    name = _cpuinfo("model name", path) or platform.processor() or platform.machine() or "unknown"
    parts = [(what, _cpuinfo(what, path)) for what in ("cpu family", "model", "stepping")]
    known = ", ".join(f"{what.removeprefix('cpu ')} {value}" for what, value in parts if value)
    return f"{name} ({known})" if known else name


def cpu_flags() -> list[str]:
    """The CPU's feature flags (/proc/cpuinfo on Linux), else []."""
    return (_cpuinfo("flags") or "").split()


def cache_key(loaded: LoadedModel) -> str:
    """What a measured choice depends on: CPU model, torch, threads, precision.

    The precision is the checkpoint's (``loaded.dtype``: "float32", "bfloat16",
    "int8", ...), not its layer norms' dtype: an int8 model's products are not
    a float32 or bf16 model's, so it never shares their choice.
    """
    return (
        f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads | "
        f"{loaded.dtype}"
    )


def choose_kernel(loaded: LoadedModel, cache_dir: Path | None, asked: str = "auto") -> KernelChoice:
    """The decoder's kernels for this machine: asked for, cached, or measured now.

    Args:
        loaded: the checkpoint, after any precision change.
        cache_dir: the engine's cache folder (the choice is kept there); None: not kept.
        asked: "auto", or one of :data:`KERNELS` (that kernel alone: nothing is
            timed, so q/k/v stay separate and attention in the model's dtype).
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
    # An entry from before the fused q/k/v or the attention dtype was timed is measured again.
    if cached is not None and cached.get("kernel") in KERNELS and "attention" in cached:
        return KernelChoice(
            cached["kernel"],
            "cached",
            cached.get("step_ms", {}),
            tuple(cached.get("inexact", ())),
            bool(cached["fuse_qkv"]),
            cached.get("qkv_ms", {}),
            str(cached["attention"]),
            cached.get("attention_ms", {}),
            cached.get("batch_ms", {}),
        )
    step_ms, inexact = kernel_timing.time_kernels(loaded)
    batch_ms, _ = kernel_timing.time_kernels(loaded, BATCH_ROWS)
    exact = {kernel: ms for kernel, ms in step_ms.items() if kernel not in inexact}
    kernel = min(exact, key=exact.__getitem__) if exact else "module"
    qkv_ms = kernel_timing.time_qkv(loaded, kernel)
    fuse = bool(qkv_ms) and qkv_ms["fused"] < qkv_ms["separate"]
    attention_ms = kernel_timing.time_attention(loaded)
    fastest = min(attention_ms, key=attention_ms.__getitem__) if attention_ms else ""
    attention = "" if fastest == _dtype(loaded) else fastest
    choice = KernelChoice(
        kernel,
        "measured",
        {k: round(v, 3) for k, v in step_ms.items()},
        tuple(inexact),
        fuse,
        {k: round(v, 3) for k, v in qkv_ms.items()},
        attention,
        {k: round(v, 3) for k, v in attention_ms.items()},
        {k: round(v, 3) for k, v in batch_ms.items() if k not in inexact},
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
    if choice.attention_ms:
        timings = ", ".join(f"{k} {ms:.1f} ms" for k, ms in choice.attention_ms.items())
        where = choice.attention or "the model's dtype"
        line += f"; attention and KV cache in {where} ({timings} a step)"
    if choice.batch_ms:
        timings = ", ".join(f"{k} {ms:.1f} ms" for k, ms in choice.batch_ms.items())
        line += f"; four takes together: {timings}"
        faster = min(choice.batch_ms, key=choice.batch_ms.__getitem__)
        if faster != choice.kernel:
            line += f" ({faster} is the faster for takes decoded together: cpu_kernel {faster})"
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
        "attention": choice.attention,
        "attention_ms": choice.attention_ms,
        "batch_ms": choice.batch_ms,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:  # a read-only cache: the choice is still used, measured again next time
        log.warning("could not keep the CPU kernel choice in %s (%s)", path, exc)
