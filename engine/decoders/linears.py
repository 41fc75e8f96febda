"""The decoder's Linear layers as a CPU kernel runs them: prepacked for oneDNN, q/k/v fused.

:func:`apply_kernel` changes the model in place, not a decoder, so every
decoder (the engine's steps and transformers' ``generate``) runs what it gives:

- ``"onednn"``: each ``nn.Linear`` of the decoder (self and cross attention,
  FFN, lm heads; not the text encoder, which runs once a take) becomes a
  :class:`PackedLinear`, which holds only its weight prepacked for oneDNN
  (``torch.ops.mkldnn._reorder_linear_weight`` + ``_linear_pointwise``, what
  inductor's freezing uses);
- ``fuse=True`` (:func:`fuse_qkv`): each self-attention's q, k and v
  projections become one product of their stacked weights
  (:class:`FusedQKV`, ``attn.qkv_proj``), which the engine's steps call
  (:class:`engine.decoders.layers.LayerStack`).  ``q_proj``, ``k_proj`` and
  ``v_proj`` become :class:`QKVShare`, each its share of that one product, so
  that transformers' ``generate`` runs the fused product too and no weight is
  held twice (a prepacked weight cannot be a view of another).

Which kernel, and whether to fuse, is measured per machine at load
(:mod:`engine.decoders.kernels`).

:class:`Int8Linear` is not a kernel but a precision (``--cpu-precision int8``,
:mod:`engine.decoders.precision`): the weight in int8 with one scale per
output row, the activations left in the model's dtype (weight-only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from engine.checkpoint import LoadedModel
from engine.decoders import KERNELS

#: Rows a weight is packed for (and a product timed at): one take with guidance.
TIMING_ROWS = 2
#: Rows the products are also timed at, for the log: four takes with guidance
#: (variations, or requests sharing a run), where the fastest kernel can differ.
BATCH_ROWS = 8
#: The self-attention projections :func:`fuse_qkv` fuses, in the fused weight's order.
QKV = ("q_proj", "k_proj", "v_proj")


def packed_product(
    x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """``x @ W^T + bias`` with ``W`` prepacked for oneDNN (:class:`PackedLinear`'s product)."""
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), packed, bias, "none", [], "")


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
        return packed_product(x, self.packed, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, onednn"


#: Input features a weight-only int8 product needs a multiple of: aten's kernel reads
#: the input 16 at a time, and on other widths crashes or returns garbage
#: (torch 2.13; a Linear of another width keeps its weight).
INT8_ALIGN = 16


def int8_product(
    x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """``x @ (weight * scales)^T + bias``: :class:`Int8Linear`'s product.

    ``weight`` is int8 ``[out, in]``, ``scales`` one per output row in ``x``'s
    dtype; aten's weight-only int8 kernel (``_weight_int8pack_mm``, the CPU
    kernel torchao's weight-only int8 uses) takes 2-D inputs, so leading
    dimensions are folded into rows and back.
    """
    rows = x.reshape(-1, x.shape[-1]).contiguous()
    out = torch.ops.aten._weight_int8pack_mm(rows, weight, scales)
    if bias is not None:
        out.add_(bias)
    return out.view(*x.shape[:-1], weight.shape[0])


class Int8Linear(torch.nn.Module):
    """``nn.Linear`` with its weight in int8, one scale per output row (the original is not kept).

    Symmetric per-row quantization: a row's scale is its largest magnitude
    over 127, rounded to the layer's dtype first so that ``qweight * scales``
    is the weight the product uses.  The input and output stay in the layer's
    dtype (weight-only: nothing about the activations is quantized).  aten's
    kernel reads half the bytes of bf16 but its time grows with the rows: on
    the Intel Xeon measured it is faster than oneDNN's bf16 product up to 2-4
    rows (one take with guidance) and slower beyond (docs/performance.md).
    """

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        if linear.in_features % INT8_ALIGN:
            raise ValueError(
                f"weight-only int8 needs a multiple of {INT8_ALIGN} input features, "
                f"not {linear.in_features}"
            )
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        weight = linear.weight.detach().float()
        tiny = torch.finfo(linear.weight.dtype).tiny
        scales = (weight.abs().amax(dim=1) / 127).clamp(min=tiny).to(linear.weight.dtype)
        qweight = (weight / scales.float()[:, None]).round().clamp(-127, 127).to(torch.int8)
        self.register_buffer("qweight", qweight)
        self.register_buffer("scales", scales)
        bias = None if linear.bias is None else linear.bias.detach()
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return int8_product(x, self.qweight, self.scales, self.bias)

    def dequantized(self) -> torch.Tensor:
        """The weight the product uses, ``[out, in]`` in float32."""
        return self.qweight.float() * self.scales.float()[:, None]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weight"


class FusedQKV(torch.nn.Module):
    """A self-attention's q, k and v projections as one product: ``proj``, ``3 * D x D``.

    ``forward`` is the fused product ``[..., 3 * D]`` (q, then k, then v).
    :meth:`share` gives one projection's part of it to :class:`QKVShare`,
    computing the product once for the three calls transformers makes with
    the same input (q, then k and v).
    """

    def __init__(self, proj: torch.nn.Linear, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.proj = proj  # an nn.Linear, or what apply_kernel makes of it
        self.sizes = sizes
        # (input, product, shares taken): held until each share is taken once.
        self._last: tuple[Any, Any, set[int]] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)

    def share(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Projection ``index``'s part of the product of ``x`` (computed once for q, k, v)."""
        last = self._last  # one read: another thread's product is never mixed with ours
        if last is None or last[0] is not x or index in last[2]:
            last = (x, self.proj(x), set())
        last[2].add(index)
        # Dropped once all three are taken: a prefill's product is not kept between steps.
        self._last = None if len(last[2]) == len(self.sizes) else last
        return last[1].split(self.sizes, dim=-1)[index]

    def extra_repr(self) -> str:
        return f"q/k/v of {'/'.join(map(str, self.sizes))} outputs"


class QKVShare(torch.nn.Module):
    """``q_proj``, ``k_proj`` or ``v_proj`` of a fused self-attention: its share of ``qkv_proj``.

    Holds no weight: it asks the attention's :class:`FusedQKV` (held as its
    bound ``share``, so not a second registered module) for its columns.
    """

    def __init__(
        self, share: Callable[[torch.Tensor, int], torch.Tensor], index: int, linear: Any
    ) -> None:
        super().__init__()
        self._share = share
        self.index = index
        self.in_features = linear.in_features
        self.out_features = linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._share(x, self.index)

    def extra_repr(self) -> str:
        return f"{QKV[self.index]} of qkv_proj, out_features={self.out_features}"


def decoder_linears(
    loaded: LoadedModel, per_step: bool = False
) -> Iterator[tuple[Any, str, torch.nn.Linear]]:
    """The decoder's plain ``nn.Linear`` layers: (parent module, attribute, layer).

    Args:
        per_step: only those every step runs: not the cross-attention key and
            value projections, which the engine's loop runs once a run.
    """
    once = cross_attentions(loaded) if per_step else []
    for parent in loaded.model.decoder.modules():
        for name, child in parent.named_children():
            if type(child) is torch.nn.Linear and not (
                any(parent is c for c in once) and name in ("k_proj", "v_proj")
            ):
                yield parent, name, child


def cross_attentions(loaded: LoadedModel) -> list[Any]:
    layers = loaded.model.decoder.model.decoder.layers
    return [layer.encoder_attn for layer in layers if hasattr(layer, "encoder_attn")]


def self_attentions(loaded: LoadedModel) -> list[Any]:
    return [layer.self_attn for layer in loaded.model.decoder.model.decoder.layers]


def linear_of(weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.nn.Linear:
    """An ``nn.Linear`` holding ``weight`` ``[out, in]`` (and ``bias``) as they are."""
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    linear.to(device=weight.device, dtype=weight.dtype)
    linear.weight = torch.nn.Parameter(weight, requires_grad=False)
    if bias is not None:
        linear.bias = torch.nn.Parameter(bias, requires_grad=False)
    return linear


def stacked(parts: list[torch.nn.Linear]) -> torch.nn.Linear:
    """One ``nn.Linear`` whose weight (and bias) is ``parts``' stacked (a copy)."""
    weight = torch.cat([p.weight.detach() for p in parts])
    biased = all(p.bias is not None for p in parts)
    bias = torch.cat([p.bias.detach() for p in parts]) if biased else None
    return linear_of(weight, bias)


def fuse_qkv(loaded: LoadedModel) -> int:
    """Give every decoder self-attention a fused ``qkv_proj`` (:class:`FusedQKV`), in place.

    Its ``q_proj``, ``k_proj`` and ``v_proj`` become :class:`QKVShare` of it;
    their own weights are freed (the fused weight is their copy), so memory
    stays as it was.  Layers whose projections are not plain ``nn.Linear``
    (int8 weights, or already fused) are left as they are.

    Returns:
        How many self-attentions were fused.
    """
    fused = 0
    with torch.inference_mode():
        for attn in self_attentions(loaded):
            parts = [getattr(attn, name) for name in QKV]
            if any(type(p) is not torch.nn.Linear for p in parts):
                continue
            qkv = FusedQKV(stacked(parts), tuple(p.out_features for p in parts))
            attn.qkv_proj = qkv
            for index, (name, part) in enumerate(zip(QKV, parts, strict=True)):
                setattr(attn, name, QKVShare(qkv.share, index, part))
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
