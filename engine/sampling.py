"""Choosing the next token of every codebook: Gumbel-max with counter-based noise.

A take's draws depend on its seed and its logits alone: the noise of token
``v`` of codebook row ``k`` at column ``c`` of the take with seed ``s`` is a
stateless hash of ``(s, c, k, v)`` (:func:`noise`), not the state of a random
generator that other takes or earlier draws advanced.  So

- take ``i`` of ``variations N`` draws as the single take asked for with seed
  ``seed + i`` draws (its tokens are the same where its logits are; see
  "Shared runs and rounding" in docs/architecture.md);
- the eager step, the static step, its CUDA graph and the fused step
  (:mod:`engine.decoders.triton_sampling`) choose the same token from the same
  logits, and a CUDA graph can sample: nothing it holds changes but a counter;
- transformers' generate (:class:`TokenPicker`) and the engine's own loop
  choose alike.

The draw (:func:`draw`): ``argmax`` over the kept tokens of ``logit / T + g``,
``g = -log(-log(u))``, ``u`` uniform from the hash.  That is a sample of
``softmax(logit / T)`` over the kept set (the Gumbel-max trick), as
audiocraft's ``MusicGen`` samples: classifier-free guidance on raw logits
(:func:`guided`), then temperature, then nucleus sampling if ``top_p > 0``,
else top-k if ``top_k > 0``, else the full distribution; greedy takes the
likeliest token (no noise).  The kept set is defined by value, so tied
logits are kept or dropped together: top-k keeps every token at least the
k-th largest logit; top-p keeps every token whose likelier tokens (strictly
larger logits) hold at most ``top_p`` of the mass.

Every setting is a small tensor (:class:`StaticSampling`), so one function,
with every shape fixed, serves every request's settings: the eager loop calls
it, the static step ends with it, a CUDA graph captures it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# A finite "impossible" logit: -inf would turn guidance's (cond - uncond) into NaN.
_NEVER = -1e9

#: The hash: two rounds of xorshift-multiply on 32 bits (Chris Wellons'
#: hash-prospector, ``[16 21f0aaad 15 735a2d97 15]``), a bijection of the
#: 32-bit integers.  Both multipliers are below 2**31, so in torch a 32-bit
#: value times one fits an int64 and ``& MASK32`` gives the uint32 product that
#: Triton computes: the two agree bit for bit.
MIX_SHIFTS = (16, 15, 15)
MIX_MULTIPLIERS = (0x21F0AAAD, 0x735A2D97)
MASK32 = 0xFFFFFFFF
#: u = (23 hash bits * 2 + 1) * 2**-24: exact in float32, strictly inside (0, 1).
UNIFORM_SHIFT = 9
UNIFORM_SCALE = 2.0**-24


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


def mix32(x: Any) -> Any:
    """The 32-bit hash of ``x`` (ints in ``[0, 2**32)``: Python ints or int64 tensors)."""
    a, b = MIX_MULTIPLIERS
    x = x ^ (x >> MIX_SHIFTS[0])
    x = (x * a) & MASK32
    x = x ^ (x >> MIX_SHIFTS[1])
    x = (x * b) & MASK32
    return x ^ (x >> MIX_SHIFTS[2])


def row_keys(seeds: Any, counter: Any, rows_per_take: int) -> Any:
    """The hash state of each row before its tokens: int64 ``[B * rows_per_take]``.

    ``mix(mix(mix(seed_lo ^ mix(seed_hi)) ^ counter) ^ row)``: row ``k`` of take
    ``b`` at column ``counter``.

    Args:
        seeds: int64 ``[B]`` (any 64-bit value).
        counter: int64 ``[1]`` (or a 0-d tensor), below 2**32.
        rows_per_take: codebook rows of a take (K).
    """
    import torch

    seeds = seeds.to(torch.int64)
    take = mix32((seeds & MASK32) ^ mix32((seeds >> 32) & MASK32))
    column = mix32(take ^ (counter.to(torch.int64) & MASK32))  # [B]
    rows = torch.arange(rows_per_take, device=seeds.device, dtype=torch.int64)
    return mix32(column[:, None] ^ rows[None, :]).reshape(-1)


def noise(seeds: Any, counter: Any, rows_per_take: int, vocab: int) -> Any:
    """Gumbel noise ``-log(-log(u))``, float32 ``[B * rows_per_take, vocab]``."""
    import torch

    keys = row_keys(seeds, counter, rows_per_take)
    tokens = torch.arange(vocab, device=keys.device, dtype=torch.int64)
    return _gumbel(keys[:, None], tokens[None, :])


def _gumbel(keys: Any, tokens: Any) -> Any:
    """The noise of ``tokens`` (int64, broadcast against the rows' ``keys``)."""
    import torch

    hashed = mix32(keys ^ tokens)
    u = ((hashed >> UNIFORM_SHIFT) * 2 + 1).to(torch.float32) * UNIFORM_SCALE
    return -torch.log(-torch.log(u))


@dataclass
class StaticSampling:
    """Sampling's settings as small tensors on the device, for one run of B takes.

    A CUDA graph reads them where they are, so :meth:`set` and :meth:`at`
    write them in place.

    Attributes:
        guidance: float32 ``[1]``: classifier-free guidance scale.
        temperature: float32 ``[1]``.
        top_k: int64 ``[1]``: tokens kept by rank (the vocabulary when off).
        top_p: float32 ``[1]``: the nucleus mass (``inf`` when off).
        noise: float32 ``[1]``: 1 to sample, 0 for greedy.
        seeds: int64 ``[B]``: each take's seed.
        counter: int64 ``[1]``: the column being drawn (the take's own count).
    """

    guidance: Any
    temperature: Any
    top_k: Any
    top_p: Any
    noise: Any
    seeds: Any
    counter: Any

    @classmethod
    def allocate(cls, takes: int, device: Any) -> StaticSampling:
        """Settings for ``takes`` takes: sampling at temperature 1 over every token."""
        import torch

        def one(value: float, dtype: Any) -> Any:
            return torch.full((1,), value, dtype=dtype, device=device)

        return cls(
            guidance=one(1.0, torch.float32),
            temperature=one(1.0, torch.float32),
            top_k=one(2**31 - 1, torch.int64),
            top_p=one(float("inf"), torch.float32),
            noise=one(1.0, torch.float32),
            seeds=torch.zeros(takes, dtype=torch.int64, device=device),
            counter=one(0, torch.int64),
        )

    @classmethod
    def of(
        cls, sampling: Sampling, seeds: Sequence[int], device: Any, guidance: float = 1.0
    ) -> StaticSampling:
        """Settings holding ``sampling``, ``seeds`` and ``guidance``."""
        settings = cls.allocate(len(seeds), device)
        settings.set(sampling, seeds, guidance)
        return settings

    def set(self, sampling: Sampling, seeds: Sequence[int], guidance: float = 1.0) -> None:
        """Write a run's settings (in place: a captured graph reads these tensors)."""
        import torch

        if len(seeds) != self.seeds.numel():
            raise ValueError(f"{len(seeds)} seeds for {self.seeds.numel()} takes")
        if not sampling.greedy and not sampling.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {sampling.temperature}")
        nucleus = sampling.top_p > 0
        top_k = sampling.top_k if sampling.top_k > 0 and not nucleus else 2**31 - 1
        self.guidance.fill_(float(guidance))
        self.temperature.fill_(float(sampling.temperature) if not sampling.greedy else 1.0)
        self.top_k.fill_(int(top_k))
        self.top_p.fill_(float(sampling.top_p) if nucleus else float("inf"))
        self.noise.fill_(0.0 if sampling.greedy else 1.0)
        self.seeds.copy_(torch.tensor([int(s) for s in seeds], dtype=torch.int64))

    def at(self, counter: int) -> StaticSampling:
        """Set the column being drawn; returns itself."""
        self.counter.fill_(int(counter))
        return self

    @property
    def takes(self) -> int:
        return int(self.seeds.numel())


def guided(logits: Any, guidance: Any) -> Any:
    """Classifier-free guidance: ``[2R, V]`` (conditional rows, then null rows) -> ``[R, V]``.

    ``guidance``: a float, or a float32 tensor ``[1]`` (a static step's).
    """
    cond, uncond = logits.chunk(2, dim=0)
    return uncond + (cond - uncond) * guidance


def scores(logits: Any, settings: StaticSampling) -> tuple[Any, Any, Any]:
    """Each token's score, its tempered logit and the row's threshold.

    ``logits``: float ``[B * K, V]`` (guidance applied).  The kept tokens are
    those whose tempered logit is at least the threshold; the draw is the
    argmax of the score over them.

    Returns:
        ``(score [R, V], x [R, V], threshold [R, 1])``, float32.
    """
    import torch

    x = logits.float() / settings.temperature
    vocab = x.shape[-1]
    ordered = x.sort(dim=-1, descending=True).values
    probs = torch.softmax(ordered, dim=-1)
    before = probs.cumsum(dim=-1) - probs  # the mass ranked before each
    nucleus = (before <= settings.top_p).sum(dim=-1, keepdim=True)  # >= 1
    kept = torch.minimum(nucleus, settings.top_k.clamp(1, vocab))
    threshold = ordered.gather(-1, kept - 1)
    rows_per_take = x.shape[0] // settings.takes
    score = x + noise(settings.seeds, settings.counter, rows_per_take, vocab) * settings.noise
    return score, x, threshold


def draw(logits: Any, settings: StaticSampling, known: Sampling | None = None) -> Any:
    """Pick one token per row: long ``[B * K]`` from float ``[B * K, V]`` (guidance applied).

    Every shape fixed and every setting a tensor: the static step (and its
    CUDA graph) runs this very function.

    Args:
        known: the settings as ``settings`` holds them, where the caller has
            them on the host (an eager step): greedy then takes the argmax,
            and top-k without top-p hashes only the k candidates' noise
            instead of sorting the row and hashing every token's.  The same
            token, but where two scores tie exactly (each path takes the first
            in its own order); ties at the k-th logit take the full draw.
    """
    if known is not None and not known.top_p > 0:
        if known.greedy:
            return logits.float().argmax(dim=-1)
        if 0 < known.top_k < logits.shape[-1]:
            picks = _draw_top_k(logits, settings, known.top_k)
            if picks is not None:
                return picks
    score, x, threshold = scores(logits, settings)
    return score.masked_fill(x < threshold, float("-inf")).argmax(dim=-1)


def _draw_top_k(logits: Any, settings: StaticSampling, k: int) -> Any:
    """:func:`draw` for top-k alone, over the k candidates; None where the k-th logit ties."""
    x = logits.float() / settings.temperature
    top = x.topk(k, dim=-1)  # values descending, as sort's first k
    if bool(((x >= top.values[:, -1:]).sum(dim=-1) > k).any()):
        return None  # the draw keeps every token tied at the edge: more than k
    keys = row_keys(settings.seeds, settings.counter, x.shape[0] // settings.takes)
    score = top.values + _gumbel(keys[:, None], top.indices) * settings.noise
    return top.indices.gather(-1, score.argmax(dim=-1, keepdim=True)).squeeze(-1)


def sample_tokens(logits: Any, sampling: Sampling, seeds: Sequence[int], counter: int) -> Any:
    """Pick one token per row with ``sampling``: :func:`draw` with settings made here.

    Args:
        logits: float tensor ``[B * R, V]``: R rows (codebooks) for each of B takes.
        sampling: the settings.
        seeds: B seeds; take b's rows draw with ``seeds[b]``.
        counter: the column drawn (each column of a take draws new noise).

    Returns:
        Long tensor ``[B * R]``.
    """
    settings = StaticSampling.of(sampling, seeds, logits.device).at(counter)
    return draw(logits, settings, sampling)


class TokenPicker:
    """A transformers logits processor that samples with :func:`draw`.

    transformers' generate then runs greedy: the processor leaves only the
    chosen token possible in every row.  It works before or after generate's own
    guidance processor: given ``2R`` rows (before it), it applies guidance
    itself and marks the same token in both halves, which guidance then keeps.
    Its calls count the columns from ``first_column``, as the engine's loop does.
    """

    def __init__(
        self,
        sampling: Sampling,
        seeds: Sequence[int],
        rows: int,
        guidance: float,
        first_column: int,
        pick: Callable[[Any], Any] | None = None,
    ) -> None:
        self.sampling = sampling
        self.seeds = list(seeds)
        self.rows = rows  # B * codebooks
        self.guidance = guidance
        self.column = first_column
        self.pick = pick  # chooses instead of sampling (teacher forcing)
        self.settings: StaticSampling | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logits = scores
        doubled = scores.shape[0] == 2 * self.rows
        if doubled:
            logits = guided(scores, self.guidance)
        if self.pick is not None:
            picks = self.pick(logits)
        else:
            if self.settings is None:
                self.settings = StaticSampling.of(self.sampling, self.seeds, logits.device)
            picks = draw(logits, self.settings.at(self.column), self.sampling)
        self.column += 1
        chosen = torch.full_like(logits, _NEVER)
        chosen.scatter_(-1, picks[:, None], 0.0)
        return torch.cat([chosen, chosen]) if doubled else chosen
