"""The checkpoint's decoder layers, run the way transformers' ``sdpa`` path runs them.

One pass over the layers (:class:`LayerStack`), shared by the engine's eager
step (:mod:`engine.decoders.loop`) and the static step
(:mod:`engine.decoders.step_graph`), which differ only in how self-attention
writes and reads the cache.  It calls the checkpoint's own submodules (layer
norms, projections, embeddings, lm heads): whatever kernel the Linear layers
were given at load (:mod:`engine.decoders.kernels`) or precision
(:mod:`engine.decoders.precision`), both steps and the reference decoder use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.checkpoint import LoadedModel

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
            layer = self.layers[i]
            attn = layer.encoder_attn
            x = layer.encoder_attn_layer_norm(hidden)
            query = attn.q_proj(x).view(rows, n, -1, self.head_dim).transpose(1, 2)
            key, value = cross_kv[i]
            x = F.scaled_dot_product_attention(
                query.to(self.attention_dtype), key, value, attn_mask=cross_mask, scale=self.scaling
            )
            x = x.to(self.dtype).transpose(1, 2).reshape(rows, n, -1)
            return hidden + attn.out_proj(x)

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
        at = self.attention_dtype  # .to() is a no-op where it is the model's
        for i, layer in enumerate(self.layers):
            residual = hidden
            x = layer.self_attn_layer_norm(hidden)
            attn = layer.self_attn
            fused = getattr(attn, "qkv_proj", None)  # engine.decoders.linears.fuse_qkv
            if fused is not None:
                query, key, value = (
                    part.view(shape).transpose(1, 2).to(at) for part in fused(x).chunk(3, dim=-1)
                )
            else:
                query = attn.q_proj(x).view(shape).transpose(1, 2).to(at)
                key = attn.k_proj(x).view(shape).transpose(1, 2).to(at)
                value = attn.v_proj(x).view(shape).transpose(1, 2).to(at)
            x = attend(i, query, key, value).to(self.dtype).transpose(1, 2).reshape(rows, n, -1)
            hidden = residual + attn.out_proj(x)

            if cross is not None:
                hidden = cross(i, hidden)

            residual = hidden
            x = layer.final_layer_norm(hidden)
            x = layer.fc2(layer.activation_fn(layer.fc1(x)))
            hidden = residual + x
        last = self.core.layer_norm(hidden[:, -1:])
        logits = torch.stack([head(last) for head in self.lm.lm_heads], dim=1)  # [R, K, 1, V]
        return logits.reshape(rows * self.codebooks, -1).float()
