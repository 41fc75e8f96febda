"""The checkpoint's decoder layers, run the way transformers' ``sdpa`` path runs them.

One pass over the layers (:class:`LayerStack`), shared by the engine's eager
step (:mod:`engine.decoders.loop`) and the static step
(:mod:`engine.decoders.step_graph`), which differ only in how self-attention
writes and reads the cache.  It runs the checkpoint's own submodules (layer
norms, projections, embeddings, lm heads), each called directly
(:func:`direct`, :class:`LayerCalls`): whatever kernel the Linear layers
were given at load (:mod:`engine.decoders.kernels`) or precision
(:mod:`engine.decoders.precision`), both steps and the reference decoder use it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from engine.checkpoint import LoadedModel
from engine.decoders import linears

#: How a step's self-attention stores and reads the cache:
#: ``(layer, query, key, value) -> attention output``, each ``[R, heads, n, head_dim]``,
#: in :attr:`LayerStack.attention_dtype`.
SelfAttention = Callable[[int, Any, Any, Any], Any]
#: How a step's cross-attention reads the text: ``(layer, hidden) -> hidden`` after
#: that layer's cross-attention block (layer norm, attention, residual add):
#: :meth:`LayerStack.projected_cross`, or the folded products of
#: :class:`engine.decoders.cross_fold.FoldedCross`.
CrossAttention = Callable[[int, Any], Any]
#: The decoder module's attribute naming the dtype its steps attend in, where it
#: is not the model's (set by :func:`set_attention_dtype`).
ATTENTION_DTYPE = "engine_attention_dtype"


def set_attention_dtype(loaded: LoadedModel, dtype: str | None) -> None:
    """Make the engine's steps keep the KV cache and attend in ``dtype`` (None: the model's).

    Why: on CPUs without AMX, torch's bf16 attention for one query row is
    2.5-4x slower than float32's (docs/performance.md); the products stay in
    the model's dtype.  Measured per machine (:mod:`engine.decoders.kernels`).
    Transformers' ``generate`` is not affected: it attends in the model's dtype.
    """
    setattr(loaded.model.decoder.model.decoder, ATTENTION_DTYPE, dtype)


def direct(module: Any) -> Callable[[Any], Any]:
    """``module``'s computation as a plain callable, without ``nn.Module.__call__``.

    Why: a step of small's 24 layers makes about 270 module calls (nested
    ones included) and 700 attribute lookups through ``nn.Module.__getattr__``;
    called directly, a bf16 step is about 3 % shorter on a 2-core Zen 5
    (docs/performance.md, "The step's fixed cost").  The same arithmetic:
    prepacked products call their oneDNN op, int8 weights aten's int8 op,
    ``nn.Linear`` and ``LayerNorm`` their functional form with the module's
    own parameters, anything else its ``forward`` (a plain function stays
    itself).  A module with hooks (none of the engine's) is called as a
    module, so that they run.
    """
    import torch
    import torch.nn.functional as F

    hooks = torch.nn.modules.module
    if not isinstance(module, torch.nn.Module):
        return module  # type: ignore[no-any-return]  # a plain function already
    if (
        module._forward_hooks
        or module._forward_pre_hooks
        or hooks._global_forward_hooks
        or hooks._global_forward_pre_hooks
    ):
        return module  # type: ignore[no-any-return]
    if isinstance(module, linears.PackedLinear):
        return functools.partial(linears.packed_product, packed=module.packed, bias=module.bias)
    if isinstance(module, linears.Int8Linear):
        return functools.partial(
            linears.int8_product, weight=module.qweight, scales=module.scales, bias=module.bias
        )
    if isinstance(module, linears.FusedQKV):
        return direct(module.proj)
    if type(module) is torch.nn.Linear:
        return functools.partial(F.linear, weight=module.weight, bias=module.bias)
    if type(module) is torch.nn.LayerNorm:
        return functools.partial(
            F.layer_norm,
            normalized_shape=module.normalized_shape,
            weight=module.weight,
            bias=module.bias,
            eps=module.eps,
        )
    return module.forward  # type: ignore[no-any-return]


class LayerCalls(NamedTuple):
    """One decoder layer's computations, each a :func:`direct` callable.

    ``qkv`` is the fused q/k/v product (``engine.decoders.linears.fuse_qkv``)
    where the layer has one of three equal parts (``q``, ``k``, ``v`` None),
    else None and ``q``, ``k``, ``v`` are the projections; ``cross_*`` are
    None where the layer has no cross-attention (melody checkpoints).
    """

    self_norm: Any
    qkv: Any
    q: Any
    k: Any
    v: Any
    out: Any
    cross_norm: Any
    cross_q: Any
    cross_out: Any
    final_norm: Any
    fc1: Any
    act: Any
    fc2: Any

    @classmethod
    def of(cls, layer: Any) -> LayerCalls:
        attn = layer.self_attn
        fused = getattr(attn, "qkv_proj", None)
        if fused is not None and len(set(fused.sizes)) != 1:
            fused = None  # not three equal parts: the shares split it
        cross = getattr(layer, "encoder_attn", None)
        return cls(
            self_norm=direct(layer.self_attn_layer_norm),
            qkv=None if fused is None else direct(fused),
            q=None if fused is not None else direct(attn.q_proj),
            k=None if fused is not None else direct(attn.k_proj),
            v=None if fused is not None else direct(attn.v_proj),
            out=direct(attn.out_proj),
            cross_norm=None if cross is None else direct(layer.encoder_attn_layer_norm),
            cross_q=None if cross is None else direct(cross.q_proj),
            cross_out=None if cross is None else direct(cross.out_proj),
            final_norm=direct(layer.final_layer_norm),
            fc1=direct(layer.fc1),
            act=direct(layer.activation_fn),
            fc2=direct(layer.fc2),
        )


class LayerStack:
    """The checkpoint's decoder modules, run the way transformers' ``sdpa`` path runs them.

    One pass over the layers, shared by the two steps: the eager one
    (:meth:`engine.decoders.loop.Run._forward`, the cache sliced to the current
    length) and the static one (:func:`engine.decoders.step_graph.static_step`,
    the whole cache under a mask).  They differ only in how self-attention
    writes and reads the cache, which the caller passes as ``attend``; keeping
    one copy of the layer code keeps the two alike.
    """

    def __init__(self, loaded: LoadedModel) -> None:
        import torch

        self.lm = loaded.model.decoder  # MusicgenForCausalLM / MusicgenMelodyForCausalLM
        self.core = self.lm.model.decoder  # MusicgenDecoder / MusicgenMelodyDecoder
        self.layers = list(self.core.layers)
        #: Each layer's computations, called directly (:func:`direct`).
        self.calls = [LayerCalls.of(layer) for layer in self.layers]
        self._final_norm = direct(self.core.layer_norm)
        self._heads = [direct(head) for head in self.lm.lm_heads]
        config = self.core.config
        self.device = torch.device(loaded.device)
        self.dtype = self.core.layer_norm.weight.dtype
        self.codebooks = self.core.num_codebooks
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.heads
        self.scaling = self.head_dim**-0.5
        #: The dtype of the KV cache and of attention (:func:`set_attention_dtype`).
        name = getattr(self.core, ATTENTION_DTYPE, None)
        self.attention_dtype = self.dtype if name is None else getattr(torch, name)

    def embed(self, ids: Any) -> Any:
        """Token embeddings summed over codebooks: ``[N, K, n]`` -> ``[N, n, D]``."""
        return sum(self.core.embed_tokens[k](ids[:, k]) for k in range(self.codebooks))

    def position_table(self, length: int) -> Any:
        """The sinusoidal position table, at least ``length`` rows."""
        table = self.core.embed_positions
        weights = table.weights
        if weights.shape[0] >= length:
            return weights
        # As transformers' make_weights, without changing the module.
        longer = table.get_embedding(length, table.embedding_dim)
        return longer.to(dtype=weights.dtype, device=weights.device)

    def projected_cross(
        self, cross_kv: Sequence[tuple[Any, Any]], cross_mask: Any
    ) -> CrossAttention | None:
        """Cross-attention as transformers runs it: ``q_proj``, attention, ``out_proj``.

        Args:
            cross_kv: every layer's text keys/values ``[R, heads, S, head_dim]``
                in :attr:`attention_dtype`; empty for melody checkpoints (their
                text is in the prefix): then None.
            cross_mask: bool ``[R, 1, 1, S]`` of the text slots that count, or
                None where all do.
        """
        import torch.nn.functional as F

        if not cross_kv:
            return None

        def cross(i: int, hidden: Any) -> Any:
            rows, n, _ = hidden.shape
            calls = self.calls[i]
            x = calls.cross_norm(hidden)
            query = calls.cross_q(x).view(rows, n, -1, self.head_dim).transpose(1, 2)
            key, value = cross_kv[i]
            x = F.scaled_dot_product_attention(
                query.to(self.attention_dtype), key, value, attn_mask=cross_mask, scale=self.scaling
            )
            x = x.to(self.dtype).transpose(1, 2).reshape(rows, n, -1)
            return hidden + calls.cross_out(x)

        return cross

    def logits(self, hidden: Any, attend: SelfAttention, cross: CrossAttention | None) -> Any:
        """Run every layer over ``hidden [R, n, D]`` (positions added).

        Args:
            hidden: the input of the first layer.
            attend: self-attention over the cache (see :data:`SelfAttention`).
            cross: cross-attention over the text (see :data:`CrossAttention`);
                None for melody checkpoints (their text is in the prefix).

        Returns:
            The logits of the last position, float32 ``[R * K, V]`` (conditional
            rows first).
        """
        import torch

        rows, n, _ = hidden.shape
        shape = (rows, n, -1, self.head_dim)
        fused = (rows, n, 3, self.heads, self.head_dim)
        at = self.attention_dtype  # .to() is a no-op where it is the model's
        for i, calls in enumerate(self.calls):
            x = calls.self_norm(hidden)
            if calls.qkv is not None:  # one view of the product: [3, R, heads, n, head_dim]
                qkv = calls.qkv(x).view(fused).to(at).permute(2, 0, 3, 1, 4)
                query, key, value = qkv.unbind(0)
            else:
                query = calls.q(x).view(shape).transpose(1, 2).to(at)
                key = calls.k(x).view(shape).transpose(1, 2).to(at)
                value = calls.v(x).view(shape).transpose(1, 2).to(at)
            x = attend(i, query, key, value).to(self.dtype).transpose(1, 2).reshape(rows, n, -1)
            hidden = hidden + calls.out(x)
            if cross is not None:
                hidden = cross(i, hidden)
            hidden = hidden + calls.fc2(calls.act(calls.fc1(calls.final_norm(hidden))))
        last = self._final_norm(hidden[:, -1:])
        logits = torch.stack([head(last) for head in self._heads], dim=1)  # [R, K, 1, V]
        return logits.reshape(rows * self.codebooks, -1).float()
