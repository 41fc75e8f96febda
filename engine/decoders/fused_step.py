"""The fused decode step: the static step of engine.decoders.step_graph in Triton kernels.

Why (issue 28): a graphed step of small on an H200 was 643 kernels, 147 GEMMs
of 6.3 µs each where the bytes would take 0.6 to 2.3 µs, and hundreds of 1 to
3 µs elementwise, norm and index kernels: the GPU was busy with kernel
overheads, not bytes.  This step computes what
:func:`~engine.decoders.step_graph.static_step` computes over the same
:class:`~engine.decoders.step_graph.StepBuffers` with fewer, fatter kernels
(:mod:`engine.decoders.triton_kernels`):

per layer (:data:`KERNELS_PER_LAYER`: 8 with cross-attention, 5 without)

1. layer norm + q/k/v product + the key and value written into the cache;
2. self-attention over the cache up to the position;
3. out projection + residual;
4. layer norm + cross-attention query product (text checkpoints);
5. cross-attention over the padded text under its mask;
6. out projection + residual;
7. layer norm + fc1 + GELU;
8. fc2 + residual;

and per step 3 more: the embeddings and position (one kernel), the final
layer norm + the codebooks' heads as one product (their weights stacked), and
the draw: guidance, temperature, top-k/top-p and the Gumbel-max pick of every
codebook row (:mod:`engine.decoders.triton_sampling`), as the static step ends
with :func:`engine.sampling.draw`.

Off by default (``serve --fused-step`` turns it on): no GPU has measured it
yet.  Where it is on, :func:`make_fused_step` checks it against the eager
static step before the step graphs take it (and the graph's capture is checked
as today's is); one that disagrees is dropped with a warning and today's step
is prepared instead.

Its weights are the checkpoint's own, but for two stacks made once: q/k/v's
weights per layer (the layer's q/k/v weights then become views of it, so the
memory is not doubled) and the heads' (likewise).  The codebooks' embeddings
are stacked too (a copy: small).  Every row count's fused step shares them.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from engine.decoders.layers import LayerStack

log = logging.getLogger(__name__)

#: Kernels a layer launches: with cross-attention (text checkpoints), without (melody).
KERNELS_PER_LAYER = {"text": 8, "melody": 5}
#: Kernels a step launches besides its layers' (embeddings; final norm and heads; the draw).
KERNELS_PER_STEP = 3


class FusedUnsupported(RuntimeError):
    """The checkpoint has something the fused kernels do not do (another activation...)."""


@dataclass
class _Layer:
    norm1: tuple[Any, Any, float]
    qkv: Any  # [3D, D]
    out: Any
    out_bias: Any
    cross_norm: tuple[Any, Any, float] | None
    cross_q: Any
    cross_q_bias: Any
    cross_out: Any
    cross_out_bias: Any
    norm2: tuple[Any, Any, float]
    fc1: Any
    fc1_bias: Any
    fc2: Any
    fc2_bias: Any


def _norm(module: Any) -> tuple[Any, Any, float]:
    return (module.weight, module.bias, float(module.eps))


def _stacked(modules: list[Any], shared: dict[Any, Any]) -> Any:
    """The modules' weights stacked in one tensor, each module's weight made a view of it.

    Made once per :class:`LayerStack` (``shared``): every row count's fused
    step reads the same stack.
    """
    import torch

    key = tuple(id(m) for m in modules)
    if key in shared:
        return shared[key]
    stack = torch.cat([m.weight.detach() for m in modules], dim=0).contiguous()
    shared[key] = stack
    start = 0
    for module in modules:
        rows = module.weight.shape[0]
        module.weight.data = stack[start : start + rows]
        start += rows
    return stack


class FusedStep:
    """The static step of one :class:`StepBuffers`, in Triton kernels (see the module).

    Call it to run one step: reads ``buffers.ids`` and ``buffers.position``,
    writes the caches' slot and ``buffers.out``.
    """

    def __init__(self, stack: LayerStack, buffers: Any) -> None:
        import torch

        self.kernels = importlib.import_module("engine.decoders.triton_kernels")
        self.sampler = importlib.import_module("engine.decoders.triton_sampling")
        config = stack.core.config
        activation = getattr(config, "activation_function", "gelu")
        if activation not in ("gelu", "relu"):
            raise FusedUnsupported(f"activation {activation!r} (the kernels do gelu and relu)")
        if stack.attention_dtype != stack.dtype:
            raise FusedUnsupported("attention in another dtype than the model's")
        self.activation = activation
        self.stack = stack
        self.buffers = buffers
        self.melody = buffers.cross_keys is None
        # Stacks shared by every row count's fused step of this LayerStack.
        shared = stack.__dict__.setdefault("fused_weights", {})
        layers = []
        for layer in stack.layers:
            attn, cross = layer.self_attn, getattr(layer, "encoder_attn", None)
            for module in (attn.q_proj, attn.k_proj, attn.v_proj):
                if getattr(module, "bias", None) is not None or type(module) is not torch.nn.Linear:
                    raise FusedUnsupported("q/k/v products other than plain Linear without bias")
            layers.append(
                _Layer(
                    norm1=_norm(layer.self_attn_layer_norm),
                    qkv=_stacked([attn.q_proj, attn.k_proj, attn.v_proj], shared),
                    out=attn.out_proj.weight,
                    out_bias=attn.out_proj.bias,
                    cross_norm=None if self.melody else _norm(layer.encoder_attn_layer_norm),
                    cross_q=None if self.melody else cross.q_proj.weight,
                    cross_q_bias=None if self.melody else cross.q_proj.bias,
                    cross_out=None if self.melody else cross.out_proj.weight,
                    cross_out_bias=None if self.melody else cross.out_proj.bias,
                    norm2=_norm(layer.final_layer_norm),
                    fc1=layer.fc1.weight,
                    fc1_bias=layer.fc1.bias,
                    fc2=layer.fc2.weight,
                    fc2_bias=layer.fc2.bias,
                )
            )
        self.layers = layers
        self.final_norm = _norm(stack.core.layer_norm)
        self.heads = _stacked(list(stack.lm.lm_heads), shared)
        if any(head.bias is not None for head in stack.lm.lm_heads):
            raise FusedUnsupported("lm heads with a bias")
        if "table" not in shared:  # a copy (the codebooks' embeddings are small)
            shared["table"] = torch.stack([e.weight.detach() for e in stack.core.embed_tokens])
        self.table = shared["table"]
        rows, width = buffers.rows, stack.heads * stack.head_dim
        ffn = stack.layers[0].fc1.out_features
        device, dtype = stack.device, stack.dtype
        self.hidden = torch.zeros((rows, width), dtype=dtype, device=device)
        self.query = torch.zeros((rows, width), dtype=dtype, device=device)
        self.attended = torch.zeros((rows, width), dtype=dtype, device=device)
        self.ffn = torch.zeros((rows, ffn), dtype=dtype, device=device)
        self.positions = buffers.positions.contiguous()
        self.ids = buffers.ids  # [R, K, 1], contiguous

    @property
    def kernels_per_step(self) -> int:
        per_layer = KERNELS_PER_LAYER["melody" if self.melody else "text"]
        return per_layer * len(self.layers) + KERNELS_PER_STEP

    def __call__(self) -> None:
        k, b, s = self.kernels, self.buffers, self.stack
        position = b.position
        hidden = self.hidden
        k.embed(self.ids, self.table, self.positions, position, hidden)
        for i, layer in enumerate(self.layers):
            k.qkv(
                hidden,
                layer.qkv,
                layer.norm1,
                self.query,
                b.keys[i],
                b.values[i],
                position,
                s.head_dim,
            )
            k.attention(
                self.query, b.keys[i], b.values[i], self.attended, s.scaling, position=position
            )
            k.linear(self.attended, layer.out, hidden, bias=layer.out_bias, residual=hidden)
            if not self.melody:
                k.linear(
                    hidden,
                    layer.cross_q,
                    self.query,
                    bias=layer.cross_q_bias,
                    norm=layer.cross_norm,
                )
                k.attention(
                    self.query,
                    b.cross_keys[i],
                    b.cross_values[i],
                    self.attended,
                    s.scaling,
                    mask=b.cross_mask,
                )
                k.linear(
                    self.attended,
                    layer.cross_out,
                    hidden,
                    bias=layer.cross_out_bias,
                    residual=hidden,
                )
            k.linear(
                hidden,
                layer.fc1,
                self.ffn,
                bias=layer.fc1_bias,
                norm=layer.norm2,
                activation=self.activation,
            )
            k.linear(self.ffn, layer.fc2, hidden, bias=layer.fc2_bias, residual=hidden)
        k.linear(hidden, self.heads, b.out.view(b.rows, -1), norm=self.final_norm)
        self.sampler.sample(b.out, b.sampling, b.picks)


def make_fused_step(runner: Any, tolerance: float) -> FusedStep:
    """A :class:`FusedStep` for ``runner``'s buffers, checked against its eager static step.

    Called with the steps' lock held, before the runner's capture.  Compares
    the logits at two positions of a random probe (as
    :func:`engine.decoders.step_checks.check_replay` does for a graph).

    Raises:
        FusedUnsupported: the checkpoint has what the kernels do not do.
        GraphMismatch: the fused step's logits differ from the eager step's.
        ImportError: Triton is not installed.
    """
    from engine.decoders.step_checks import check_replay, fill_probe
    from engine.decoders.step_graph import static_step

    fused = FusedStep(runner.stack, runner.buffers)
    fill_probe(runner.buffers, runner.stack)
    check_replay(
        lambda: static_step(runner.stack, runner.buffers), fused, runner.buffers, tolerance
    )
    return fused
