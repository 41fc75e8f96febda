"""Choosing the next token of every codebook: MusicGen's sampling, one RNG per take.

Each take in a batch (a variation) owns a ``torch.Generator`` seeded with its
own seed, so take ``i`` of ``variations N`` draws as a single take asked for
with seed ``seed + i`` draws: a variation can be made again alone (token for
token where the batch's matrix products round as a single take's do; see
"Shared runs and rounding" in docs/architecture.md).
Both decoders (transformers' generate and the engine's own loop) call
:func:`sample_tokens`, so they choose tokens the same way.

Semantics follow audiocraft's ``MusicGen``: classifier-free guidance on raw
logits, then temperature, then nucleus sampling if ``top_p > 0``, else top-k
if ``top_k > 0``, else the full distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# A finite "impossible" logit: -inf would turn guidance's (cond - uncond) into NaN.
_NEVER = -1e9


@dataclass(frozen=True)
class Sampling:
    """How tokens are chosen.

    Attributes:
        temperature: softmax temperature, > 0.
        top_k: sample among the k likeliest tokens (0 = off).
        top_p: nucleus threshold in (0, 1] (0 = off; wins over top_k when on).
        greedy: take the likeliest token (for equality tests; ignores the rest).
    """

    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    greedy: bool = False


def generators(seeds: Sequence[int], device: str) -> list[Any]:
    """One seeded ``torch.Generator`` per take, on ``device``."""
    import torch

    gens = []
    for seed in seeds:
        gen = torch.Generator(device=device)
        gen.manual_seed(int(seed))
        gens.append(gen)
    return gens


def guided(logits: Any, guidance: float) -> Any:
    """Classifier-free guidance: ``[2R, V]`` (conditional rows, then null rows) -> ``[R, V]``."""
    cond, uncond = logits.chunk(2, dim=0)
    return uncond + (cond - uncond) * guidance


def sample_tokens(logits: Any, sampling: Sampling, gens: Sequence[Any]) -> Any:
    """Pick one token per row.

    Args:
        logits: float tensor ``[B * R, V]``: R rows (codebooks) for each of B takes.
        sampling: the settings.
        gens: B generators; take b's rows draw from ``gens[b]``.

    Returns:
        Long tensor ``[B * R]``.
    """
    import torch

    if sampling.greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    candidates = None  # token ids of the columns of probs, when narrowed
    if sampling.top_p > 0:
        probs, candidates = probs.sort(dim=-1, descending=True)
        below = probs.cumsum(dim=-1) - probs  # mass strictly before each token
        probs = probs.masked_fill(below > sampling.top_p, 0.0)
    elif sampling.top_k > 0:
        probs, candidates = probs.topk(min(sampling.top_k, probs.shape[-1]), dim=-1)
    rows = probs.shape[0] // len(gens)
    picks = torch.empty(probs.shape[0], dtype=torch.long, device=probs.device)
    for b, gen in enumerate(gens):
        part = slice(b * rows, (b + 1) * rows)
        picks[part] = torch.multinomial(probs[part], 1, generator=gen).squeeze(-1)
    if candidates is not None:
        picks = candidates.gather(-1, picks[:, None]).squeeze(-1)
    return picks


class TokenPicker:
    """A transformers logits processor that samples with :func:`sample_tokens`.

    transformers' generate then runs greedy: the processor leaves only the
    chosen token possible in every row.  It works before or after generate's own
    guidance processor: given ``2R`` rows (before it), it applies guidance
    itself and marks the same token in both halves, which guidance then keeps.
    """

    def __init__(
        self,
        sampling: Sampling,
        gens: Sequence[Any],
        rows: int,
        guidance: float,
        pick: Callable[[Any], Any] | None = None,
    ) -> None:
        self.sampling = sampling
        self.gens = list(gens)
        self.rows = rows  # B * codebooks
        self.guidance = guidance
        self.pick = pick  # chooses instead of sample_tokens (teacher forcing)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logits = scores
        doubled = scores.shape[0] == 2 * self.rows
        if doubled:
            logits = guided(scores, self.guidance)
        if self.pick is not None:
            picks = self.pick(logits)
        else:
            picks = sample_tokens(logits, self.sampling, self.gens)
        chosen = torch.full_like(logits, _NEVER)
        chosen.scatter_(-1, picks[:, None], 0.0)
        return torch.cat([chosen, chosen]) if doubled else chosen
