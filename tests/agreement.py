"""What two decoder runs are guaranteed to share, and checks for it.

A matrix product of more rows, another kernel or another thread count may round
differently in the last bits, on any CPU (docs/architecture.md, "Shared runs
and rounding").  So two runs of one take in different batch shapes, or through
different kernels, are compared on what does hold:

- fed the same tokens (teacher forcing), their guided logits agree to float
  tolerance (:func:`assert_logits_close`);
- run on their own, their tokens agree up to a first difference that the
  rounding seen there could cause: greedy, a top-1 margin within twice that
  difference (:func:`assert_greedy_agrees`); sampled with generators seeded
  alike, a draw that difference could tip (:func:`assert_sampled_agrees`).
  After it the histories differ.

A run against itself (same shapes, same kernels, same threads) is compared
token for token.
"""

from __future__ import annotations

from typing import Any

import torch

from engine.decoders.contract import forced_logits  # noqa: F401  (re-exported for the tests)

#: Logits of one take in two batch shapes, or two kernels, may differ by this
#: fraction of the largest logit (float32: the rounding seen is ~1e-6).
TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 2e-2, torch.float16: 1e-2}


def tolerance(logits: Any, dtype: Any = None) -> float:
    """The absolute tolerance for logits like ``logits`` of a model in ``dtype``.

    Relative to the largest logit; ``dtype`` (default: the logits') is the
    model's: its logits come out in float32 but round as the model computes.
    """
    relative = TOLERANCE.get(dtype or logits.dtype, 1e-4)
    return relative * max(1.0, float(logits.abs().max()))


def assert_logits_close(got: Any, want: Any, what: str = "logits", dtype: Any = None) -> None:
    """``got`` within rounding of ``want`` (teacher-forced logits ``[steps, rows, V]``)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert bool(torch.isfinite(want).all()), f"{what}: not finite"
    limit = tolerance(want, dtype)
    error = float((got - want).abs().max())
    assert error <= limit, f"{what}: logits differ by {error:.3g} (allowed {limit:.3g})"


class Recorded:
    """What a run chose from at every step: guided logits and the sampler's column counter."""

    def __init__(self, sampling: Any, seeds: Any) -> None:
        self.sampling = sampling
        self.seeds = [int(s) for s in seeds]  # each take's
        self.logits: list[Any] = []  # [B*K, V] a step
        self.columns: list[int] = []  # the counter each step drew at

    def take(self, b: int, codebooks: int) -> Any:
        """Take ``b``'s logits ``[steps, K, V]``."""
        return torch.stack(self.logits)[:, b * codebooks : (b + 1) * codebooks]


def recorded_run(
    decoder: Any,
    loaded: Any,
    inputs: Any,
    frames: int,
    sampling: Any,
    seeds: Any,
    **kwargs: Any,
) -> tuple[Any, Recorded]:
    """A run that keeps what it chose from (:class:`Recorded`), and its tokens ``[B, K, T0+F]``.

    It chooses its tokens as the decoder does (``sample_tokens`` with each
    take's seed, counting the columns as the decoders do).
    """
    from engine.decoders.contract import draw_column
    from engine.sampling import sample_tokens

    record = Recorded(sampling, seeds)

    def pick(logits: Any) -> Any:
        column = draw_column(inputs, len(record.logits))
        record.logits.append(logits.float().clone())
        record.columns.append(column)
        return sample_tokens(logits, sampling, record.seeds, column)

    tokens = decoder(loaded, inputs, frames, sampling, seeds, pick=pick, **kwargs)
    return tokens, record


def tippable(logits: Any, sampling: Any, seed: int, column: int, delta: Any) -> tuple[Any, Any]:
    """Which rows of a take's draw a change of every logit by up to ``delta`` (``[K]``) could tip.

    The sampler (engine.sampling.draw) takes the argmax of ``x + g`` over the
    kept tokens, ``x = logit / T`` and ``g`` the take's noise at ``column``,
    fixed by the seed.  Rounding moves every ``x`` by at most ``d = delta / T``.
    A draw can tip where (1) its winner leads the next kept token by no more
    than ``4 d``, or (2) a token whose score comes within ``4 d`` of the
    winner's sits at the kept set's edge: its ``x`` within ``4 d`` of the
    threshold (top-k), or the mass of the tokens above it within ``4 d`` of
    ``top_p`` (top-p).

    Returns:
        (bool ``[K]``: could tip; long ``[K]``: the tokens drawn).
    """
    from engine.sampling import StaticSampling, scores

    settings = StaticSampling.of(sampling, [seed], logits.device).at(column)
    score, x, threshold = scores(logits, settings)
    d = torch.as_tensor(delta, dtype=torch.float32).expand(logits.shape[0])[:, None]
    d = d / float(settings.temperature)
    masked = score.masked_fill(x < threshold, float("-inf"))
    top2 = masked.topk(2, dim=-1)
    best = top2.values[:, :1]
    tip = top2.values[:, 0] - top2.values[:, 1] <= 4 * d[:, 0]
    edge = (x - threshold).abs() <= 4 * d
    if sampling.top_p > 0 and not sampling.greedy:
        ordered = x.sort(dim=-1, descending=True)
        probs = torch.softmax(ordered.values, dim=-1)
        before = torch.empty_like(probs).scatter_(-1, ordered.indices, probs.cumsum(-1) - probs)
        edge |= (before - sampling.top_p).abs() <= 4 * d
    tip |= (edge & (score >= best - 4 * d)).any(-1)
    return tip, top2.indices[:, 0]


def first_difference(got: Any, want: Any, channels: int, prompt_frames: int = 0) -> tuple:
    """The first step at which two takes ``[K, T0 + F]`` differ, and its codebooks.

    Returns:
        (step, codebooks that differ at it), or (None, []) where they are equal.
    """
    codebooks = want.shape[0]
    new_got, new_want = got[:, prompt_frames:].cpu(), want[:, prompt_frames:].cpu()
    assert new_got.shape == new_want.shape, (new_got.shape, new_want.shape)
    delay = torch.arange(codebooks)[:, None] // channels
    step = torch.arange(new_want.shape[1])[None, :] + delay  # the step that chose each token
    differ = new_got != new_want
    if not bool(differ.any()):
        return None, []
    first = int(step[differ].min())
    return first, sorted(set((differ & (step == first)).nonzero()[:, 0].tolist()))


def assert_sampled_agrees(
    got: Any,
    want: Any,
    forced: Any,
    record: Recorded,
    take: int,
    channels: int,
    prompt_frames: int = 0,
) -> None:
    """Sampled takes of two runs, seeded alike, part only at a draw their rounding could tip.

    Up to their first difference both runs fed the same tokens and drew with
    the same seed and column (the same noise), so the run under test, teacher-forced on
    ``want`` (``forced``), computed its draw there from logits that differ
    from ``want``'s only by its rounding.  The first token that differs must
    come from a draw that that difference could tip (:func:`tippable`).

    Args:
        got, want: long ``[K, T0 + F]``: take ``take`` of each run.
        forced: float ``[steps, K, V]``: the run under test's logits fed ``want``.
        record: what ``want``'s run drew from (:func:`recorded_run`).
        take: ``want``'s take in ``record``.
        channels, prompt_frames: as in :func:`first_difference`.
    """
    first, codebooks = first_difference(got, want, channels, prompt_frames)
    if first is None:
        return
    logits = record.take(take, want.shape[0])
    delta = (forced[first] - logits[first]).abs().amax(-1)  # [K]: the rounding, seen
    seed, column = record.seeds[take], record.columns[first]
    tip, _ = tippable(logits[first], record.sampling, seed, column, delta)
    for k in codebooks:
        assert bool(tip[k]), (
            f"codebook {k} drew another token at step {first} than from logits only "
            f"{float(delta[k]):.3g} away: the takes do not draw alike"
        )


def assert_greedy_agrees(
    got: Any,
    want: Any,
    want_logits: Any,
    forced: Any,
    channels: int,
    prompt_frames: int = 0,
) -> int:
    """Greedy tokens of one take in two runs agree, but where their rounding tips a near tie.

    Args:
        got: long ``[K, T0 + F]``: the take from the run under test.
        want: long ``[K, T0 + F]``: the take from the run it should match.
        want_logits: float ``[steps, K, V]``: the guided logits ``want`` chose from.
        forced: float ``[steps, K, V]``: the run under test's logits fed ``want``;
            at the first difference both saw the same history, so the two
            differ there by rounding alone.
        channels: 1, or 2 for stereo (left/right lag alike in the delay pattern).
        prompt_frames: T0, the prompt frames both start with.

    Returns:
        The first step where they differ, or ``steps`` where they never do.
    """
    steps = want_logits.shape[0]
    first, codebooks = first_difference(got, want, channels, prompt_frames)
    if first is None:
        return steps
    top2 = want_logits[first].topk(2, dim=-1).values
    margins = top2[:, 0] - top2[:, 1]  # [K]
    delta = (forced[first] - want_logits[first]).abs().amax(-1)  # [K]: the rounding, seen
    for k in codebooks:
        margin, limit = float(margins[k]), 2 * float(delta[k])
        assert margin <= limit, (
            f"codebook {k} differs at step {first} of {steps} where its top-1 margin "
            f"{margin:.3g} is more than the rounding could tip ({limit:.3g})"
        )
    return first


def assert_greedy_takes_agree(got: Any, want: Any, logits: Any, forced: Any, loaded: Any) -> None:
    """:func:`assert_greedy_agrees` for every take of a batch: ``got``/``want`` long
    ``[B, K, T]``, ``logits``/``forced`` the two runs' step logits ``[steps, B*K, V]``."""
    codebooks = loaded.model.decoder.num_codebooks
    for b in range(got.shape[0]):
        assert_greedy_agrees(
            got[b],
            want[b],
            take_logits(logits, b, codebooks),
            take_logits(forced, b, codebooks),
            loaded.channels,
        )


def take_logits(logits: Any, take: int, codebooks: int) -> Any:
    """Take ``take``'s rows of step logits ``[steps, B*K, V]``: ``[steps, K, V]``."""
    return logits[:, take * codebooks : (take + 1) * codebooks]


def row_decoder(
    loaded: Any,
    inputs: Any,
    new_frames: int,
    sampling: Any,
    seeds: Any,
    on_step: Any = None,
    **_: Any,
) -> Any:
    """A stand-in decoder whose every take depends on its own seed alone.

    The real decoders make a take in a shared run only up to float rounding
    of the take it makes alone (tested above, decoder by decoder).  With this
    one, a take is the same bits in any batch, so what the engine adds around
    the decoder (rows to requests, lengths, seeds, trimming, the codec one take
    at a time, files) can be compared with its solo take exactly.

    Returns:
        long ``[B, K, T0 + new_frames]``: the prompt, then random tokens for
        each take's own frames (``inputs.frames``), the pad token after them.
    """
    from engine.decoders.contract import steps_for

    codebooks = loaded.model.decoder.num_codebooks
    pad = int(loaded.model.generation_config.pad_token_id)
    t0 = inputs.prompt_frames
    frames = inputs.frames or (new_frames,) * inputs.batch
    out = torch.full((inputs.batch, codebooks, t0 + new_frames), pad, dtype=torch.long)
    if t0:
        out[..., :t0] = inputs.prompt_codes.cpu()
    for b, (seed, own) in enumerate(zip(seeds, frames, strict=True)):
        # A generator of the take's seed and window (a later window draws anew).
        gen = torch.Generator().manual_seed(int(seed) + (inputs.offset << 32))
        out[b, :, t0 : t0 + own] = torch.randint(0, pad, (codebooks, own), generator=gen)
    for _ in range(steps_for(loaded, new_frames)):
        if on_step is not None:
            on_step()
    return out.to(loaded.device)
