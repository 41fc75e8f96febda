"""The counter-based sampler (engine.sampling) and the fused step's kernel of it.

That kernel: engine.decoders.triton_sampling.

The torch sampler is what every path calls (the eager loop, the static step,
transformers' generate through TokenPicker); the kernel is the fused step's.
Checked here: the hash is the same uint32 arithmetic in int64, the draw has
the distribution it claims (softmax with temperature over the kept set, by a
chi-square test that a wrong temperature or an off-by-one k fails), a take's
draw depends on its seed, column and logits alone, and the kernel picks the
torch sampler's tokens (under TRITON_INTERPRET=1, set by tests/conftest.py).
Each draw is a pure function of its inputs, so none of this is flaky: a test
either passes every time or fails every time.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.sampling import (  # noqa: E402
    MASK32,
    Sampling,
    StaticSampling,
    _draw_top_k,
    draw,
    guided,
    mix32,
    noise,
    sample_tokens,
)

#: Chi-square above this, for the few degrees of freedom below, has probability
#: under 1e-6 for a right sampler: a failure is a wrong distribution, not chance.
CHI2_LIMIT = 40.0
LOGITS = torch.tensor([2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0])


def _mix32_uint32(x: np.ndarray) -> np.ndarray:
    """The hash in numpy uint32 (wrapping products): what Triton computes."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(0x21F0AAAD)
        x = x ^ (x >> np.uint32(15))
        x = x * np.uint32(0x735A2D97)
        return x ^ (x >> np.uint32(15))


def test_the_hash_in_int64_is_the_uint32_hash() -> None:
    values = torch.randint(0, 2**32, (10_000,), generator=torch.Generator().manual_seed(0))
    values[:4] = torch.tensor([0, 1, 2**31, MASK32])
    want = _mix32_uint32(values.numpy().astype(np.uint32))
    assert np.array_equal(mix32(values).numpy().astype(np.uint32), want)
    assert mix32(12345) == int(_mix32_uint32(np.array([12345], dtype=np.uint32))[0])
    assert len(set(mix32(torch.arange(100_000)).tolist())) == 100_000  # a bijection


def test_the_noise_is_gumbel_and_new_for_every_seed_column_row_and_token() -> None:
    g = noise(torch.arange(64), torch.tensor([3]), 4, 2048)  # 64 takes x 4 rows x 2048
    assert g.shape == (256, 2048) and bool(torch.isfinite(g).all())
    # Gumbel(0, 1): mean Euler's gamma, variance pi^2 / 6 (524288 draws: tight bounds).
    assert abs(float(g.mean()) - 0.5772) < 0.01
    assert abs(float(g.var()) - np.pi**2 / 6) < 0.02
    # 23 bits of uniform a draw: 524288 draws repeat ~3 % of their values by chance alone.
    assert len(set(g.flatten().tolist())) > 0.95 * g.numel()
    one = noise(torch.tensor([5]), torch.tensor([3]), 4, 16)
    assert not torch.equal(one, noise(torch.tensor([6]), torch.tensor([3]), 4, 16))
    assert not torch.equal(one, noise(torch.tensor([5]), torch.tensor([4]), 4, 16))
    assert not torch.equal(one[0], one[1])  # each codebook row its own
    # 64-bit seeds: the high half counts too.
    assert not torch.equal(one, noise(torch.tensor([5 + 2**32]), torch.tensor([3]), 4, 16))


def _counts(sampling: Sampling, draws: int = 20_000, logits: torch.Tensor = LOGITS) -> np.ndarray:
    """Tokens drawn from ``logits`` by ``draws`` takes (seeds), one row each."""
    rows = logits.expand(draws, -1).contiguous()
    picks = sample_tokens(rows, sampling, range(draws), 17)
    return np.bincount(picks.numpy(), minlength=logits.numel())


def _chi2(counts: np.ndarray, probs: torch.Tensor) -> float:
    """Pearson's chi-square of ``counts`` against ``probs``; inf where a zero is drawn."""
    expected = probs.double().numpy() * counts.sum()
    if bool(((expected == 0) & (counts > 0)).any()):
        return float("inf")
    kept = expected > 0
    return float((((counts - expected) ** 2)[kept] / expected[kept]).sum())


def _softmax_of(logits: torch.Tensor, temperature: float, kept: int) -> torch.Tensor:
    probs = torch.zeros_like(logits)
    probs[:kept] = torch.softmax(logits[:kept] / temperature, dim=-1)
    return probs


def test_top_k_draws_softmax_with_temperature_over_the_k_likeliest() -> None:
    counts = _counts(Sampling(temperature=0.8, top_k=5))
    assert _chi2(counts, _softmax_of(LOGITS, 0.8, 5)) < CHI2_LIMIT
    # The test has the power to see the mistakes it is for.
    assert _chi2(counts, _softmax_of(LOGITS, 1.0, 5)) > 10 * CHI2_LIMIT  # temperature ignored
    assert _chi2(counts, _softmax_of(LOGITS, 0.8, 4)) > 10 * CHI2_LIMIT  # k - 1 kept
    assert _chi2(counts, _softmax_of(LOGITS, 0.8, 6)) > 10 * CHI2_LIMIT  # k + 1 kept


def test_top_p_keeps_the_tokens_whose_likelier_mass_is_at_most_p() -> None:
    probs = torch.softmax(LOGITS, dim=-1)  # mass before token 3 is 0.795, before 4 is 0.885
    counts = _counts(Sampling(top_p=0.8, top_k=0))
    assert _chi2(counts, _softmax_of(LOGITS, 1.0, 4)) < CHI2_LIMIT
    assert _chi2(counts, _softmax_of(LOGITS, 1.0, 3)) > 10 * CHI2_LIMIT
    assert _chi2(counts, _softmax_of(LOGITS, 1.0, 5)) > 10 * CHI2_LIMIT
    # Off: every token, the full softmax.
    everything = _counts(Sampling(top_k=0))
    assert _chi2(everything, probs) < 1.5 * CHI2_LIMIT  # 7 degrees of freedom


def test_greedy_and_a_tiny_kept_set_take_the_likeliest() -> None:
    logits = torch.randn(8, 2048, generator=torch.Generator().manual_seed(0))
    best = logits.argmax(-1)
    for sampling in (Sampling(greedy=True), Sampling(top_k=1), Sampling(top_p=1e-6, top_k=0)):
        assert torch.equal(sample_tokens(logits, sampling, [1, 2], 5), best)


def test_tied_logits_are_kept_or_dropped_together() -> None:
    """Top-k is by value: every token at least the k-th largest logit is kept."""
    logits = torch.tensor([[3.0, 1.0, 1.0, 1.0, 0.0, -1.0]])
    picks = sample_tokens(logits.expand(4000, -1).contiguous(), Sampling(top_k=2), range(4000), 1)
    drawn = set(picks.tolist())
    assert drawn == {0, 1, 2, 3}  # the three tied at 1.0 all kept, nothing below


def test_a_take_draws_alike_in_any_batch_and_anew_at_every_column() -> None:
    logits = torch.randn(6 * 4, 2048, generator=torch.Generator().manual_seed(1))
    seeds = [10, 11, 12, 13, 14, 15]
    both = sample_tokens(logits, Sampling(), seeds, 9)
    for take, seed in enumerate(seeds):
        rows = slice(4 * take, 4 * take + 4)
        assert torch.equal(both[rows], sample_tokens(logits[rows], Sampling(), [seed], 9))
    again = [sample_tokens(logits, Sampling(), seeds, column) for column in range(10, 14)]
    assert all(not torch.equal(both, other) for other in again)


@pytest.mark.parametrize(
    "sampling",
    [Sampling(), Sampling(top_k=5, temperature=0.6), Sampling(greedy=True), Sampling(top_k=1)],
    ids=str,
)
def test_the_eager_shortcuts_draw_the_static_draws_tokens(sampling: Sampling) -> None:
    """Given the settings on the host, draw() takes shortcuts (greedy's argmax, top-k's
    candidates alone); the tokens are those of the static draw, ties at the k-th logit too."""
    logits = torch.randn(3 * 4, 2048, generator=torch.Generator().manual_seed(2)) * 3
    logits[0] = logits[0].round()  # exact ties, at the k-th logit too
    settings = StaticSampling.of(sampling, [1, 2, 3], "cpu")
    if sampling.top_k > 1 and not sampling.greedy:  # the ties take the full draw
        assert _draw_top_k(logits, settings.at(0), sampling.top_k) is None
        assert (
            _draw_top_k(logits[4:], StaticSampling.of(sampling, [2, 3], "cpu"), sampling.top_k)
            is not None
        )
    for column in range(5):
        settings.at(column)
        assert torch.equal(draw(logits, settings, sampling), draw(logits, settings))


def test_settings_are_written_in_place() -> None:
    """A captured graph reads the same tensors: set() must not replace them."""
    settings = StaticSampling.allocate(2, "cpu")
    before = [t.data_ptr() for t in vars(settings).values()]
    settings.set(Sampling(temperature=0.5, top_p=0.9), [3, 4], guidance=3.0)
    settings.at(12)
    assert [t.data_ptr() for t in vars(settings).values()] == before
    assert float(settings.top_p) == pytest.approx(0.9) and int(settings.top_k) == 2**31 - 1
    assert settings.seeds.tolist() == [3, 4] and int(settings.counter) == 12
    with pytest.raises(ValueError, match="seeds"):
        settings.set(Sampling(), [1])
    with pytest.raises(ValueError, match="temperature"):
        settings.set(Sampling(temperature=0.0), [1, 2])


# -- the fused step's kernel ---------------------------------------------------------


def _kernels():
    pytest.importorskip("triton", reason="Triton is not installed (its wheels are for Linux only)")
    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("TRITON_INTERPRET is not 1: the kernel would need a GPU")
    from engine.decoders import triton_sampling

    return triton_sampling


SETTINGS = [
    (Sampling(), 3.0),
    (Sampling(top_k=5, temperature=0.7), 3.0),
    (Sampling(top_k=0), 1.5),
    (Sampling(top_p=0.9, top_k=0, temperature=1.3), 3.0),
    (Sampling(top_p=0.3, top_k=40), 2.0),  # top-p wins over top-k
    (Sampling(greedy=True), 3.0),
]


@pytest.mark.parametrize("vocab", [2048, 300])
@pytest.mark.parametrize(("sampling", "scale"), SETTINGS, ids=lambda v: str(v))
def test_the_kernel_picks_the_torch_samplers_tokens(vocab: int, sampling, scale) -> None:
    kernels = _kernels()
    takes, codebooks = 3, 4
    gen = torch.Generator().manual_seed(vocab)
    logits = torch.randn(2 * takes * codebooks, vocab, generator=gen) * 4
    seeds = [7, 2**33 + 1, 123456789]
    settings = StaticSampling.of(sampling, seeds, "cpu", guidance=scale).at(41)
    want = draw(guided(logits, settings.guidance), settings)
    picks = torch.full((takes * codebooks,), -1, dtype=torch.long)
    kernels.sample(logits, settings, picks)
    assert torch.equal(picks, want)


def test_the_kernel_draws_the_same_distribution() -> None:
    """Its own draws, many takes of a small vocabulary, against softmax over the kept set.

    Fewer draws than the torch sampler's test (the interpreter runs a program a
    take), so flatter logits and a lower temperature keep its power: k + 1 would
    draw token 5 about 50 times, k - 1 never token 4, temperature 1 another mix.
    """
    kernels = _kernels()
    draws, logits_of = 1000, torch.linspace(1.0, -0.4, 8)
    rows = torch.stack([logits_of, torch.zeros_like(logits_of)]).expand(draws, 2, -1)
    logits = rows.transpose(0, 1).reshape(2 * draws, -1).contiguous()  # cond rows, then null
    settings = StaticSampling.of(Sampling(temperature=0.5, top_k=5), range(draws), "cpu")
    picks = torch.empty(draws, dtype=torch.long)
    kernels.sample(logits, settings.at(17), picks)  # guidance 1: the cond rows
    counts = np.bincount(picks.numpy(), minlength=8)
    assert _chi2(counts, _softmax_of(logits_of, 0.5, 5)) < CHI2_LIMIT
    assert _chi2(counts, _softmax_of(logits_of, 1.0, 5)) > CHI2_LIMIT
    assert _chi2(counts, _softmax_of(logits_of, 0.5, 6)) > CHI2_LIMIT
    assert _chi2(counts, _softmax_of(logits_of, 0.5, 4)) > CHI2_LIMIT
