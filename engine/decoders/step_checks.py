"""The checks a prepared decode step passes before runs may use it.

A static step (engine.decoders.step_graph), its CUDA graph, or the fused step
(engine.decoders.fused_step) is compared with what it replaces, on random
numbers that a wrong step could not match by chance:

- :func:`check_replay`: a replay (or another implementation of the step)
  against the eager static step at two positions of a random probe
  (:func:`fill_probe`), its outputs poisoned before, so that a step that writes
  nothing fails: its logits, and its picks against the torch sampler's
  (:func:`engine.sampling.draw`) on those logits, top-k at one position and
  top-p at the other;
- :func:`check_run`: a few steps of a probe request through the prepared step
  against the eager loop (engine.decoders.loop), both fed the same tokens.

Either raises :class:`GraphMismatch`; the caller leaves the step out with a
warning.  No torch at import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.checkpoint import LoadedModel

if TYPE_CHECKING:
    from engine.decoders.layers import LayerStack
    from engine.decoders.step_graph import StepBuffers, StepRunner

#: How far replayed logits may be from the eager step's, as a fraction of the
#: largest eager logit (at least 1): float32 should agree to rounding; half
#: precision leaves room for a kernel that accumulates in another order.
TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2}
#: Decoder steps of the end-to-end check of each row count at load.
CHECK_STEPS = 4
#: How far the score of a replay's pick may be below the torch sampler's
#: winner (or its logit below the kept set's edge), as a fraction of the
#: largest tempered logit (at least 1): the draws agree but where rounding of
#: the noise's logarithms or of the top-p mass tips a near tie.
PICK_TOLERANCE = 1e-4


class GraphMismatch(RuntimeError):
    """A prepared step disagreed with the eager step; the engine decodes eagerly instead."""


def fill_probe(buffers: StepBuffers, stack: LayerStack, seed: int = 0) -> None:
    """Random tokens, cache and text in ``buffers``, so that a check compares real numbers.

    A zero cache and an all-masked text would let a replay that reads the wrong
    memory still agree.
    """
    import torch

    gen = torch.Generator(device=stack.device).manual_seed(seed)
    vocab = stack.core.embed_tokens[0].num_embeddings
    buffers.ids.random_(0, vocab, generator=gen)
    for tensor in (buffers.keys, buffers.values, buffers.cross_keys, buffers.cross_values):
        if tensor is not None:
            tensor.normal_(generator=gen)
    if buffers.cross_mask is not None:
        buffers.cross_mask.fill_(False)
        buffers.cross_mask[..., : max(1, buffers.text_tokens // 2)] = True


def check_replay(
    run_eager: Callable[[], None],
    replay: Callable[[], None],
    buffers: StepBuffers,
    tolerance: float,
) -> None:
    """Compare replayed logits with the eager step's, at two positions.

    Each position is written by the eager step first, then by the replay, with
    the same inputs (so the same cache slot gets the same values); ``out`` is
    poisoned in between, so a replay that writes nothing fails.

    Raises:
        GraphMismatch: logits differ beyond ``tolerance`` or are not finite.
    """
    from engine.sampling import Sampling, StaticSampling

    probes = (Sampling(temperature=1.0, top_k=250), Sampling(temperature=0.8, top_p=0.9, top_k=0))
    takes = buffers.sampling.takes
    for position, sampling in zip((buffers.length // 2, buffers.length - 1), probes, strict=True):
        buffers.sampling.set(sampling, range(100 + position, 100 + position + takes), 3.0)
        buffers.sampling.counter.fill_(position)
        buffers.position.fill_(position)
        run_eager()
        expected = buffers.out.clone()
        settings = StaticSampling(**{k: t.clone() for k, t in vars(buffers.sampling).items()})
        buffers.out.fill_(float("nan"))
        buffers.picks.fill_(-1)
        replay()
        what = f"graph replay at position {position}"
        _compare(buffers.out, expected, tolerance, what)
        _compare_picks(buffers, settings, what)


class _Held:
    """One runner whose lock the caller holds, as a run's prepared steps (the checks)."""

    def __init__(self, model: Any, runner: StepRunner) -> None:
        self.model = model
        self.runner = runner

    def claim(self, rows: int, length: int, text_tokens: int) -> StepRunner | None:
        buffers = self.runner.buffers
        fits = rows == buffers.rows and length <= buffers.length
        return self.runner if fits and text_tokens <= buffers.text_tokens else None


def check_run(loaded: LoadedModel, runner: StepRunner, tolerance: float) -> None:
    """Decode a few steps of a probe request with the prepared step and with the eager one.

    Both runs are fed the same (greedy) tokens; the static step's logits must
    match the eager step's at every step.  This checks what :func:`check_replay`
    cannot: that the static formulation (masked full cache, padded text, the
    prefix in the cache) computes what the eager loop computes, on this device
    and in this dtype.  The caller holds the steps' lock.

    Raises:
        GraphMismatch: the logits differ beyond ``tolerance``.
    """
    import torch

    from engine.decoders.contract import DecodeInputs
    from engine.decoders.loop import Run
    from engine.sampling import guided

    batch = runner.buffers.rows // 2
    text = min(8, runner.buffers.text_tokens or 8)
    ids = torch.arange(2, 2 + text, device=runner.stack.device).repeat(batch, 1)
    inputs = DecodeInputs(ids, torch.ones_like(ids), guidance=3.0)
    with torch.inference_mode():
        eager = Run(loaded, inputs, CHECK_STEPS)
        static = Run(loaded, inputs, CHECK_STEPS, _Held(loaded.model, runner))
        if static.runner is None:
            raise GraphMismatch("the probe run did not fit its own prepared step")
        expected, got = eager.prefill(), static.prefill()
        for column in range(1, eager.columns - 1):
            picks = guided(expected, inputs.guidance).argmax(-1)
            eager.place(column, picks)
            static.place(column, picks)
            expected, got = eager.step(column), static.step(column)
            _compare(got, expected, tolerance, f"static step at column {column}")


def _compare_picks(buffers: StepBuffers, settings: Any, what: str) -> None:
    """Raise GraphMismatch unless the step's picks are the torch sampler's on its logits.

    ``settings``: the :class:`engine.sampling.StaticSampling` the step was given.

    A pick may differ only where it ties the torch sampler's within
    :data:`PICK_TOLERANCE`: its score that close to the winner's, and its
    logit that close to the kept set or in it.
    """
    import torch

    from engine.sampling import guided, scores

    score, x, threshold = scores(guided(buffers.out, settings.guidance), settings)
    want = score.masked_fill(x < threshold, float("-inf")).argmax(dim=-1)
    got = buffers.picks
    vocab = score.shape[-1]
    if not bool(((got >= 0) & (got < vocab)).all()):
        raise GraphMismatch(f"{what}: picks outside the vocabulary (or none written)")
    limit = PICK_TOLERANCE * max(1.0, float(x.abs().max()))
    rows = torch.arange(got.shape[0], device=got.device)
    gap = score[rows, want] - score[rows, got]
    edge = threshold[:, 0] - x[rows, got]
    tie = (gap.abs() <= limit) & (edge <= limit)
    wrong = (got != want) & ~tie
    if bool(wrong.any()):
        row = int(wrong.nonzero()[0, 0])
        raise GraphMismatch(
            f"{what}: row {row} picked token {int(got[row])}, the sampler {int(want[row])} "
            f"({int(wrong.sum())} of {got.shape[0]} rows differ beyond a near tie)"
        )


def _compare(got: Any, expected: Any, tolerance: float, what: str) -> None:
    """Raise GraphMismatch unless ``got`` is within ``tolerance`` of finite ``expected``."""
    import torch

    if not bool(torch.isfinite(expected).all()):
        raise GraphMismatch(f"{what}: the eager step's logits are not finite")
    error = float((got - expected).abs().max())  # NaN if got has NaN: fails below
    limit = tolerance * max(1.0, float(expected.abs().max()))
    if not error <= limit:
        raise GraphMismatch(f"{what}: logits differ by {error:.3g} (allowed {limit:.3g})")
