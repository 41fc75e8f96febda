"""Cross-attention with the text folded into its two products, once a run (CPU).

A text checkpoint's cross-attention reads two ``D x D`` weights a layer every
step (``q_proj`` and ``out_proj``) to attend a text of ``S`` tokens that does
not change during the run.  Both products fold into that text: with no biases
(MusicGen's attention has none), for head ``h`` and text token ``s``

    score[h, s] = scale * (W_q x)_h . k[h, s] = x . (scale * W_q[h]^T k[h, s])
    output      = W_o concat_h(sum_s p[h, s] v[h, s]) = sum_{h, s} p[h, s] (W_o[:, h] v[h, s])

so a step multiplies the layer-normed hidden state by ``heads * S`` folded
rows (:attr:`FoldedLayer.scores`, ``[heads * S, D]``) and the attention
weights by ``heads * S`` folded columns (:attr:`FoldedLayer.output`,
``[D, heads * S]``): ``2 * heads * S * D`` numbers a distinct text instead of
``2 * D * D``.  That is fewer bytes while ``texts * S < head_dim`` (64 in
every MusicGen size), which :func:`fold_pays` checks; a step on the CPU runs at
the speed it reads weights, so it is faster by what it does not read.

Guidance's null rows attend nothing (zero states, every token masked), so their
cross-attention adds exactly zero and is not computed; takes that share a
prompt share one fold.  The folded products are the same numbers summed in
another order, so results equal the projected path's to float rounding (the
tests compare teacher-forced logits).  The folded weights get the kernel the
lm heads have (:class:`engine.decoders.linears.PackedLinear` where they are
prepacked for oneDNN), in the model's dtype; a weight-only int8 model's
cross-attention weights are folded as the float weights they stand for
(:meth:`engine.decoders.linears.Int8Linear.dequantized`), so its folded
products are bf16, as its lm heads are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from engine.decoders.layers import LayerStack, direct
from engine.decoders.linears import Int8Linear, PackedLinear, linear_of


def fold_pays(texts: int, tokens: int, head_dim: int) -> bool:
    """Whether the folded products read fewer numbers than ``q_proj`` and ``out_proj``.

    Folded: ``2 * texts * heads * tokens * D``; projected: ``2 * D * D``, with
    ``D = heads * head_dim``.
    """
    return texts * tokens < head_dim


def foldable(stack: LayerStack) -> bool:
    """Whether every layer's ``q_proj`` and ``out_proj`` can be folded.

    Their weights must read back as plain tensors (not torch.ao's dynamic int8
    layers), and they must have no bias, which the fold leaves out (MusicGen's have none).
    """
    return all(
        _reads_back(linear) and linear.bias is None
        for layer in stack.layers
        for linear in (layer.encoder_attn.q_proj, layer.encoder_attn.out_proj)
    )


def _reads_back(linear: Any) -> bool:
    return type(linear) is torch.nn.Linear or isinstance(linear, (PackedLinear, Int8Linear))


def dense_weight(linear: Any) -> torch.Tensor | None:
    """A decoder Linear's weight ``[out, in]`` as a plain tensor, or None (dynamic int8)."""
    if not _reads_back(linear):
        return None
    if isinstance(linear, Int8Linear):
        return linear.dequantized()  # the weight its product uses
    if isinstance(linear, PackedLinear):
        return linear.packed.to_dense()  # the exact weight back from oneDNN's layout
    return linear.weight.detach()


@dataclass(frozen=True)
class FoldedLayer:
    """One layer's cross-attention products folded into the run's distinct texts.

    Attributes:
        scores: ``x [.., D] -> [.., texts * heads * S]``, every text's scaled
            scores (weight ``[texts * heads * S, D]``).
        output: ``p [.., texts * heads * S] -> [.., D]``, the layer's
            cross-attention output (weight ``[D, texts * heads * S]``); a row's
            weights are zero outside its own text's block.
    """

    scores: Any
    output: Any


class FoldedCross:
    """A run's cross-attention, the text folded into its products (see the module doc).

    Called as :data:`engine.decoders.layers.CrossAttention`: ``(layer, hidden)``
    -> hidden after that layer's cross-attention block.  The takes' rows
    (the first ``len(text_of_take)`` rows) attend their texts; the rows after
    them (guidance's null rows) attend nothing.  Every text's folded weights
    are one product, so a step makes two products a layer however many texts
    the run's takes have: each row is multiplied by every text's block and
    keeps its own (the others' arithmetic is wasted, their bytes are not: each
    block is read once, as it would be alone).
    """

    def __init__(
        self, stack: LayerStack, states: torch.Tensor, mask: torch.Tensor, text_of_take: list[int]
    ) -> None:
        """Fold every layer's cross-attention products into the distinct texts.

        Args:
            stack: the decoder's layers.
            states: each distinct text's projected states ``[T, S, D]`` (times its mask).
            mask: ``[T, S]``, 1 where a token counts.
            text_of_take: which text each take (conditional row) attends.
        """
        self.stack = stack
        self.takes = len(text_of_take)
        self.texts, self.tokens = int(states.shape[0]), int(states.shape[1])
        which = torch.tensor(text_of_take, device=states.device)
        #: [takes, 1, texts, 1, 1]: 1 at each take's own text; None for one text.
        self.own = (
            None
            if self.texts == 1
            else torch.nn.functional.one_hot(which, self.texts)
            .to(torch.float32)
            .view(self.takes, 1, self.texts, 1, 1)
        )
        # 0 where a take's text token counts, -inf where not: [takes, 1, 1, S].
        counts = mask.bool()[which]
        self.bias = (
            None
            if bool(counts.all())
            else torch.zeros(counts.shape, dtype=torch.float32, device=states.device)
            .masked_fill(~counts, float("-inf"))
            .view(self.takes, 1, 1, -1)
        )
        self.layers = [self._fold(layer, states) for layer in stack.layers]
        # (layer norm, scores, output) of each layer, called directly (layers.direct).
        self._calls = [
            (calls.cross_norm, direct(folded.scores), direct(folded.output))
            for calls, folded in zip(stack.calls, self.layers, strict=True)
        ]

    def _fold(self, layer: Any, states: torch.Tensor) -> FoldedLayer:
        stack = self.stack
        attn = layer.encoder_attn
        texts, tokens, dim = states.shape
        heads, head_dim = stack.heads, stack.head_dim
        # Folded in float32 from the model's own weights and keys/values, then
        # kept in the model's dtype as its weights are.
        wq = dense_weight(attn.q_proj).float().view(heads, head_dim, dim)
        wo = dense_weight(attn.out_proj).float().view(dim, heads, head_dim)
        key = attn.k_proj(states).float().view(texts, tokens, heads, head_dim)
        value = attn.v_proj(states).float().view(texts, tokens, heads, head_dim)
        scores = torch.einsum("tshd,hdc->thsc", key, wq) * stack.scaling
        output = torch.einsum("tshd,chd->cths", value, wo)
        packed = isinstance(stack.lm.lm_heads[0], PackedLinear)
        width = texts * heads * tokens
        return FoldedLayer(
            _product(scores.reshape(width, dim), stack.dtype, packed),
            _product(output.reshape(dim, width), stack.dtype, packed),
        )

    def __call__(self, i: int, hidden: torch.Tensor) -> torch.Tensor:
        stack = self.stack
        norm, folded_scores, folded_output = self._calls[i]
        takes, n = self.takes, hidden.shape[1]
        scores = folded_scores(norm(hidden[:takes]))
        if self.own is None:
            scores = scores.view(takes, n, stack.heads, self.tokens)
        else:  # each take's own text's block
            scores = scores.view(takes, n, self.texts, stack.heads, self.tokens)
            scores = (scores * self.own).sum(2)
        if self.bias is not None:
            scores = scores + self.bias
        weights = torch.softmax(scores, dim=-1, dtype=torch.float32)
        if self.own is not None:
            weights = weights.unsqueeze(2) * self.own
        out = folded_output(weights.to(stack.dtype).view(takes, n, -1))
        if takes == hidden.shape[0]:
            return hidden + out
        return torch.cat([hidden[:takes] + out, hidden[takes:]])


def _product(weight: torch.Tensor, dtype: torch.dtype, packed: bool) -> Any:
    linear = linear_of(weight.to(dtype).contiguous())
    return PackedLinear(linear) if packed else linear
