"""The fused step's draw in one Triton kernel: guidance, temperature, top-k/top-p, Gumbel-max.

:func:`sample` computes what :func:`engine.sampling.draw` computes after
:func:`engine.sampling.guided`, for every codebook row of every take, one
program a row, the row's whole vocabulary in registers:

1. guidance: ``null + (cond - null) * scale`` from the row's conditional and
   null logits (rows ``r`` and ``B * K + r`` of the step's ``out``);
2. temperature: ``x / T``;
3. the kept set, by value as the torch sampler's: the k-th largest ``x``
   (top-k) and the smallest ``x`` whose strictly larger tokens hold at most
   ``top_p`` of the softmax mass (top-p), each found by bisection over the
   floats' order-preserving integer keys (32 rounds of a count or a masked
   sum: exact, no sort); a setting that is off skips its bisection;
4. the noise from the same hash of (seed, column, row, token), uint32 here,
   int64 in torch (:mod:`engine.sampling`: the same bits), and the argmax of
   ``x + g`` over the kept tokens (greedy: ``g`` times 0).

The torch sampler sorts and sums in another order and takes logarithms with
another library, so a kept-set boundary or a winner may tip where two values
are within float rounding; elsewhere both pick the same token
(tests/test_sampling.py, under ``TRITON_INTERPRET=1``).  Triton is imported
when this module is.
"""

from __future__ import annotations

from typing import Any

import triton
import triton.language as tl

from engine.sampling import MASK32, MIX_MULTIPLIERS, MIX_SHIFTS, UNIFORM_SCALE, UNIFORM_SHIFT

# engine.sampling's constants, as Triton lets a kernel read module globals.
_A = tl.constexpr(MIX_MULTIPLIERS[0])
_B = tl.constexpr(MIX_MULTIPLIERS[1])
_S1 = tl.constexpr(MIX_SHIFTS[0])
_S2 = tl.constexpr(MIX_SHIFTS[1])
_S3 = tl.constexpr(MIX_SHIFTS[2])
_MASK32 = tl.constexpr(MASK32)
_U_SHIFT = tl.constexpr(UNIFORM_SHIFT)
_U_SCALE = tl.constexpr(UNIFORM_SCALE)
#: Rounds of each bisection: the keys span the 32-bit integers.
_ROUNDS = tl.constexpr(32)
_KEY_LOW = tl.constexpr(-(2**31))
_KEY_HIGH = tl.constexpr(2**31 - 1)


@triton.jit
def _mix32(x):
    """engine.sampling.mix32 on uint32 (products wrap mod 2**32, shifts are logical)."""
    x = x ^ (x >> _S1)
    x = x * tl.full([], _A, tl.uint32)
    x = x ^ (x >> _S2)
    x = x * tl.full([], _B, tl.uint32)
    return x ^ (x >> _S3)


@triton.jit
def _sample_kernel(
    logits_ptr,
    picks_ptr,
    guidance_ptr,
    temperature_ptr,
    top_k_ptr,
    top_p_ptr,
    noise_ptr,
    seeds_ptr,
    counter_ptr,
    ROWS,
    CODEBOOKS,
    V,
    GUIDED: tl.constexpr,
    BLOCK_V: tl.constexpr,
):
    row = tl.program_id(0)
    tokens = tl.arange(0, BLOCK_V)
    valid = tokens < V
    x = tl.load(logits_ptr + row * V + tokens, mask=valid, other=0.0).to(tl.float32)
    if GUIDED:
        null = tl.load(logits_ptr + (ROWS + row) * V + tokens, mask=valid, other=0.0)
        null = null.to(tl.float32)
        x = null + (x - null) * tl.load(guidance_ptr)
    x = x / tl.load(temperature_ptr)
    x = tl.where(valid, x, float("-inf"))
    # Order-preserving integer keys of the floats (negative floats' magnitude bits flipped).
    bits = x.to(tl.int32, bitcast=True)
    keys = tl.where(bits < 0, bits ^ 0x7FFFFFFF, bits).to(tl.int64)
    keys = tl.where(valid, keys, _KEY_LOW - 1)
    threshold = tl.full([], _KEY_LOW, tl.int64)
    # Top-k: the largest key t with count(keys >= t) >= k (the k-th largest value's key).
    top_k = tl.load(top_k_ptr)
    if top_k < V:
        lo = tl.full([], _KEY_LOW, tl.int64)
        hi = tl.full([], _KEY_HIGH, tl.int64)
        for _ in range(_ROUNDS):
            mid = (lo + hi + 1) >> 1
            count = tl.sum((keys >= mid).to(tl.int64), axis=0)
            lo = tl.where(count >= top_k, mid, lo)
            hi = tl.where(count >= top_k, hi, mid - 1)
        threshold = tl.maximum(threshold, lo)
    # Top-p: the smallest key t with mass(keys > t) <= p (a value's key: the mass is
    # constant between values).
    top_p = tl.load(top_p_ptr)
    if top_p < float("inf"):
        weights = tl.exp(x - tl.max(x, axis=0))
        probs = weights / tl.sum(weights, axis=0)
        lo = tl.full([], _KEY_LOW, tl.int64)
        hi = tl.full([], _KEY_HIGH, tl.int64)
        for _ in range(_ROUNDS):
            mid = (lo + hi) >> 1
            mass = tl.sum(tl.where(keys > mid, probs, 0.0), axis=0)
            hi = tl.where(mass <= top_p, mid, hi)
            lo = tl.where(mass <= top_p, lo, mid + 1)
        threshold = tl.maximum(threshold, lo)
    # The noise: engine.sampling.row_keys, then the token's hash, then Gumbel.
    seed = tl.load(seeds_ptr + row // CODEBOOKS)
    seed_lo = (seed & _MASK32).to(tl.uint32)
    seed_hi = ((seed >> 32) & _MASK32).to(tl.uint32)
    counter = (tl.load(counter_ptr) & _MASK32).to(tl.uint32)
    state = _mix32(seed_lo ^ _mix32(seed_hi))
    state = _mix32(state ^ counter)
    state = _mix32(state ^ (row % CODEBOOKS).to(tl.uint32))
    hashed = _mix32(state ^ tokens.to(tl.uint32))
    u = ((hashed >> _U_SHIFT) * 2 + 1).to(tl.float32) * _U_SCALE
    gumbel = -tl.log(-tl.log(u))
    score = x + gumbel * tl.load(noise_ptr)
    score = tl.where(valid & (keys >= threshold), score, float("-inf"))
    tl.store(picks_ptr + row, tl.argmax(score, axis=0).to(tl.int64))


def signature() -> dict[str, str]:
    """Triton's type of each argument of the kernel (for compiling it ahead, without a GPU)."""
    floats = ("logits_ptr", "guidance_ptr", "temperature_ptr", "top_p_ptr", "noise_ptr")
    out = {}
    for param in _sample_kernel.params:
        name = param.name
        if param.is_constexpr:
            out[name] = "constexpr"
        elif name in floats:
            out[name] = "*fp32"
        elif name.endswith("_ptr"):
            out[name] = "*i64"
        else:
            out[name] = "i32"
    return out


def sample(logits: Any, settings: Any, picks: Any, guided: bool = True) -> Any:
    """Draw one token per row into ``picks``; one kernel.

    Args:
        logits: float ``[2 * B * K, V]`` (conditional rows, then null rows) when
            ``guided``, else ``[B * K, V]``; rows contiguous.
        settings: :class:`engine.sampling.StaticSampling` of B takes, on the device.
        picks: long ``[B * K]`` (written).
    """
    rows = picks.shape[0]
    vocab = logits.shape[-1]
    _sample_kernel[(rows,)](
        logits,
        picks,
        settings.guidance,
        settings.temperature,
        settings.top_k,
        settings.top_p,
        settings.noise,
        settings.seeds,
        settings.counter,
        rows,
        rows // settings.takes,
        vocab,
        GUIDED=guided,
        BLOCK_V=triton.next_power_of_2(vocab),
    )
    return picks
