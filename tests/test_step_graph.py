"""Static decode steps and their CUDA graphs (engine.decoders.step_graph).

On the CPU the prepared steps run eagerly over the same static buffers a graph
would replay, so these tests cover everything but the capture itself: the
shared cache, copying inputs in and reading logits out, padding the text, the
checks that refuse a step whose logits disagree with the eager step, and the
fallback to the eager loop.  Tests that capture need a CUDA GPU and are skipped
without one.  Token-for-token equality of whole takes is in test_fast_decode.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402
from engine.decoders.contract import DecodeInputs  # noqa: E402
from engine.decoders.loop import Run, fast_decode  # noqa: E402
from engine.decoders.step_checks import GraphMismatch, check_replay, fill_probe  # noqa: E402
from engine.decoders.step_graph import (  # noqa: E402
    StepRunner,
    build_step_graphs,
    prepare_step_graphs,
)
from engine.sampling import Sampling, draw, guided  # noqa: E402

GREEDY = Sampling(greedy=True)
PROMPTS = ["driving techno with a rolling bassline", "slow jazz"]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def debug(cache: Path) -> checkpoint.LoadedModel:
    return checkpoint.load("debug", cache, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def graphs(debug):
    return build_step_graphs(debug, (1, 2, 4), frames=32, text_tokens=40)


def text_inputs(loaded, prompts, guidance: float = 3.0) -> DecodeInputs:
    tok = loaded.tokenizer(prompts, return_tensors="pt", padding=True)
    return DecodeInputs(tok.input_ids, tok.attention_mask, guidance=guidance)


# -- preparing -----------------------------------------------------------------


def test_prepare_needs_cuda(debug, caplog) -> None:
    """On the CPU the engine keeps its eager loop, and says why."""
    with caplog.at_level(logging.INFO, logger="engine.decoders.step_graph"):
        assert prepare_step_graphs(debug) is None
    assert "CUDA graphs need a CUDA device" in caplog.text


def test_capture_on_cpu_is_refused(debug) -> None:
    with pytest.raises(ValueError, match="CUDA"):
        build_step_graphs(debug, (1,), frames=8, capture=True)


def test_shapes_are_fixed_and_rounded(debug, graphs) -> None:
    """Rows double (guidance); cache and text slots round up to 16."""
    assert sorted(graphs.runners) == [2, 4, 8]
    assert not graphs.graphed
    assert graphs.length == 48  # 32 frames + 4 codebooks' delay, rounded up
    assert graphs.text_tokens == 48
    config = debug.model.decoder.config
    head_dim = config.hidden_size // config.num_attention_heads
    buffers = graphs.runners[4].buffers
    cache = (config.num_hidden_layers, 4, config.num_attention_heads, 48, head_dim)
    assert tuple(buffers.keys.shape) == tuple(buffers.values.shape) == cache
    assert tuple(buffers.cross_keys.shape) == (*cache[:3], 48, head_dim)
    assert tuple(buffers.ids.shape) == (4, config.num_codebooks, 1)
    assert tuple(buffers.out.shape) == (4 * config.num_codebooks, 2048)
    assert buffers.out.dtype == torch.float32


def test_row_counts_share_one_cache(graphs) -> None:
    """Every row count's cache is a view of the largest; inputs and outputs are their own."""
    small, large = graphs.runners[2].buffers, graphs.runners[8].buffers
    for name in ("keys", "values", "cross_keys", "cross_values"):
        assert getattr(small, name).data_ptr() == getattr(large, name).data_ptr()
    for name in ("ids", "out", "cross_mask", "picks"):
        assert getattr(small, name).data_ptr() != getattr(large, name).data_ptr()
    cache = large.keys.nbytes + large.values.nbytes + large.cross_keys.nbytes * 2
    own = sum(
        r.buffers.ids.nbytes
        + r.buffers.out.nbytes
        + r.buffers.cross_mask.nbytes
        + r.buffers.picks.nbytes
        + sum(t.nbytes for t in vars(r.buffers.sampling).values())
        for r in graphs.runners.values()
    )
    shared = large.position.nbytes + large.slots.nbytes
    assert graphs.nbytes == cache + own + shared  # the cache counted once, not per row count


def test_melody_has_no_text_slots(cache: Path) -> None:
    """The melody checkpoint's text sits in the prefix: the cache holds chroma + text."""
    loaded = checkpoint.load("debug-melody", cache, device="cpu", dtype="float32")
    graphs = build_step_graphs(loaded, (1,), frames=32, text_tokens=20)
    buffers = graphs.runners[2].buffers
    assert buffers.cross_keys is None and buffers.cross_mask is None
    assert graphs.text_tokens == 0
    assert graphs.length == 304  # 235 chroma + 32 text slots + 32 frames + 4, rounded up


# -- one step ------------------------------------------------------------------


def test_step_copies_in_and_reads_out(debug, graphs) -> None:
    """Guidance rows see the same column; the position lands in its buffer; out is static."""
    runner = graphs.runners[4]
    ids = torch.randint(0, 2048, (2, 4, 1))
    out = runner.step(ids, 7)
    assert out is runner.buffers.out
    assert torch.equal(runner.buffers.ids[:2], ids) and torch.equal(runner.buffers.ids[2:], ids)
    assert int(runner.buffers.position) == 7
    single = graphs.runners[2]  # 2 rows: also one take without guidance
    single.step(ids, 3)
    assert torch.equal(single.buffers.ids, ids)


def test_begin_pads_and_masks_the_text(debug, graphs) -> None:
    runner = graphs.runners[4]
    inputs = text_inputs(debug, PROMPTS)
    with torch.inference_mode():
        run = Run(debug, inputs, 5)
        runner.begin(run.cross_kv, run.cross_mask)
    text = inputs.input_ids.shape[1]
    buffers = runner.buffers
    assert torch.equal(buffers.cross_keys[0, :, :, :text], run.cross_kv[0][0])
    assert torch.equal(buffers.cross_mask[..., :text], run.cross_mask)
    assert not buffers.cross_mask[..., text:].any()
    assert not buffers.cross_mask[2:].any()  # the null condition attends nothing


def test_static_step_logits_match_the_eager_step(debug, graphs) -> None:
    """Step by step on the same tokens: the logits of both steps agree to rounding."""

    def close(got: torch.Tensor, expected: torch.Tensor) -> None:
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)

    _compare_steps(debug, graphs, graphs.runners[4], close)


def _compare_steps(loaded, graphs, runner, check) -> None:
    """Run the eager and the static step side by side on the same greedy tokens (the
    eager step's picks), from the prefill on; ``check(got, expected)`` each step's logits."""
    inputs = text_inputs(loaded, PROMPTS)
    with torch.inference_mode():
        eager, static = Run(loaded, inputs, 12), Run(loaded, inputs, 12, graphs)
        assert static.runner is runner
        try:
            expected, got = eager.prefill(), static.prefill()
            for column in range(1, eager.columns - 1):
                picks = expected[:8].argmax(-1)
                eager.place(column, picks)
                static.place(column, picks)
                expected, got = eager.step(column), static.step(column)
                check(got, expected)
        finally:
            static.runner.release()


def test_what_an_earlier_run_left_in_the_buffers_does_not_reach_the_next(debug, graphs) -> None:
    """A mask gives a slot zero weight, but 0 x NaN is NaN: each run starts clean."""
    inputs = text_inputs(debug, PROMPTS)
    # Through the same prepared step both times: the same shapes, so the same bits.
    clean = fast_decode(debug, inputs, 12, GREEDY, [0, 0], graphs=graphs)
    buffers = graphs.runners[4].buffers
    with torch.inference_mode():
        for tensor in (buffers.keys, buffers.values, buffers.cross_keys, buffers.cross_values):
            tensor.fill_(float("nan"))  # as a float16 overflow in an earlier run could leave
    after = fast_decode(debug, inputs, 12, GREEDY, [0, 0], graphs=graphs)
    assert torch.equal(after, clean)


# -- claiming ------------------------------------------------------------------


def test_claim_serves_only_prepared_shapes(graphs) -> None:
    assert graphs.claim(6, 10, 10) is None  # 3 takes: not prepared
    assert graphs.claim(4, 49, 10) is None  # a longer cache
    assert graphs.claim(4, 48, 49) is None  # a longer text
    runner = graphs.claim(4, 48, 48)
    assert runner is graphs.runners[4]
    assert graphs.claim(2, 10, 10) is None  # busy: one run at a time
    runner.release()
    again = graphs.claim(2, 10, 10)
    assert again is graphs.runners[2]
    again.release()


# -- checks ----------------------------------------------------------------------


def probed(graphs):
    runner = graphs.runners[4]
    with torch.inference_mode():
        fill_probe(runner.buffers, runner.stack)
    return runner


def test_check_replay_accepts_the_same_step(graphs) -> None:
    runner = probed(graphs)
    with torch.inference_mode():
        check_replay(runner.run_eager, runner.run, runner.buffers, 1e-4)


def _greedy_picks(runner) -> None:
    """The step, then picks that ignore the noise (a draw that does not sample)."""
    runner.run_eager()
    buffers = runner.buffers
    buffers.picks.copy_(guided(buffers.out, buffers.sampling.guidance).argmax(-1))


#: Replays that must be refused: off by a little, silent (``out`` and ``picks``
#: are poisoned before a replay, so writing nothing cannot pass), not finite;
#: right logits but picks not drawn (none written, greedy, another column's noise).
WRONG_REPLAYS = {
    "off": lambda runner: (runner.run_eager(), runner.buffers.out.add_(0.5)),
    "silent": lambda runner: None,
    "inf": lambda runner: runner.buffers.out.fill_(float("inf")),
    "no picks": lambda runner: (runner.run_eager(), runner.buffers.picks.fill_(-1)),
    "greedy picks": _greedy_picks,
    "another column": lambda runner: (
        runner.buffers.sampling.counter.add_(1),
        runner.run_eager(),
    ),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_REPLAYS))
def test_check_replay_refuses_a_wrong_replay(graphs, wrong: str) -> None:
    runner = probed(graphs)
    replay = WRONG_REPLAYS[wrong]
    with torch.inference_mode(), pytest.raises(GraphMismatch):
        check_replay(runner.run_eager, lambda: replay(runner), runner.buffers, 1e-2)


def test_a_step_that_disagrees_is_left_out(debug, monkeypatch, caplog) -> None:
    """A prepared step whose logits are off is refused with a warning; runs decode eagerly."""
    original = StepRunner.run

    def off_by_a_bit(self) -> None:
        original(self)
        self.buffers.out.add_(0.01)

    monkeypatch.setattr(StepRunner, "run", off_by_a_bit)
    with caplog.at_level(logging.WARNING, logger="engine.decoders.step_graph"):
        graphs = build_step_graphs(debug, (1,), frames=16)
    assert graphs.runners == {}
    assert "not prepared" in caplog.text and "differ" in caplog.text
    inputs = text_inputs(debug, PROMPTS[:1])
    tokens = fast_decode(debug, inputs, 10, GREEDY, [0], graphs=graphs)
    eager = fast_decode(debug, inputs, 10, GREEDY, [0])
    assert torch.equal(tokens, eager)


def test_the_step_draws_as_the_sampler_does(debug, graphs) -> None:
    """Its picks are engine.sampling.draw of its guided logits, with the run's settings."""
    runner = probed(graphs)
    with torch.inference_mode():
        runner.sample_with(Sampling(temperature=0.9, top_k=50), [4, 5], 3.0)
        ids = torch.randint(0, 2048, (2, 4, 1))
        picks = runner.step_picks(ids, 7, 20).clone()
        settings = runner.buffers.sampling
        assert int(settings.counter) == 20 and settings.seeds.tolist() == [4, 5]
        assert torch.equal(picks, draw(guided(runner.buffers.out, 3.0), settings))
        assert not torch.equal(picks, runner.step_picks(ids, 7, 21))  # each column anew


@pytest.mark.parametrize(
    ("guidance", "forced", "in_step"),
    [(3.0, False, True), (3.0, True, False), (1.0, False, False)],
    ids=["sampled", "teacher-forced", "no-guidance"],
)
def test_a_run_takes_its_tokens_from_the_step_where_it_can(
    debug, graphs, monkeypatch, guidance: float, forced: bool, in_step: bool
) -> None:
    """A guided sampled run reads the step's picks; runs that need the logits read them."""
    calls: list[int] = []
    original = StepRunner.step_picks

    def spy(self, ids, position, column):
        calls.append(column)
        return original(self, ids, position, column)

    monkeypatch.setattr(StepRunner, "step_picks", spy)
    inputs = text_inputs(debug, PROMPTS, guidance=guidance)
    pick = (lambda logits: logits.argmax(-1)) if forced else None
    tokens = fast_decode(debug, inputs, 10, Sampling(), [3, 4], graphs=graphs, pick=pick)
    assert tokens.shape == (2, 4, 10)
    if in_step:  # every step after the prefill's, counting the columns 2, 3, ...
        assert calls == list(range(2, 1 + 10 + 3))
    else:
        assert calls == []


# -- CUDA ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cuda_debug(cache: Path):
    return checkpoint.load("debug", cache, device="cuda", dtype="float32")


@needs_cuda
@pytest.mark.cuda
def test_cuda_graphs_replay_the_eager_loop(cuda_debug) -> None:
    """Captured at load; a take through the graphs (greedy, or drawn inside the graph) is
    the eager loop's, up to a token float rounding tips."""
    graphs = prepare_step_graphs(cuda_debug, (1, 2))
    assert graphs is not None and graphs.graphed
    assert sorted(graphs.runners) == [2, 4]
    tok = cuda_debug.tokenizer(PROMPTS, return_tensors="pt", padding=True).to("cuda")
    inputs = DecodeInputs(tok.input_ids, tok.attention_mask, guidance=3.0)
    from functools import partial

    from tests.agreement import (
        assert_greedy_agrees,
        assert_logits_close,
        assert_sampled_agrees,
        forced_logits,
        recorded_run,
        take_logits,
    )

    through = partial(fast_decode, graphs=graphs)
    # Another kernel sequence than the eager loop's: equal up to float rounding.
    eager, record = recorded_run(fast_decode, cuda_debug, inputs, 30, GREEDY, (1, 2))
    graphed = through(cuda_debug, inputs, 30, GREEDY, [1, 2])
    assert torch.unique(graphed).numel() >= 8
    forced = forced_logits(through, cuda_debug, inputs, eager)
    want = torch.stack(record.logits)
    assert_logits_close(forced, want, "graphed step")
    for b in range(2):
        assert_greedy_agrees(
            graphed[b], eager[b], take_logits(want, b, 4), take_logits(forced, b, 4), 1
        )
    sampled = through(cuda_debug, inputs, 30, Sampling(), [1, 2])
    assert torch.unique(sampled).numel() >= 8
    # Drawn inside the graph: the eager loop's draws, but where rounding could tip one.
    want, drew = recorded_run(fast_decode, cuda_debug, inputs, 30, Sampling(), (1, 2))
    fed = forced_logits(through, cuda_debug, inputs, want)
    for b in range(2):
        assert_sampled_agrees(sampled[b], want[b], take_logits(fed, b, 4), drew, b, 1)


@needs_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cuda_graphs_in_half_precision(cache: Path, dtype: str) -> None:
    loaded = checkpoint.load("debug", cache, device="cuda", dtype=dtype)
    graphs = prepare_step_graphs(loaded, (1,))
    assert graphs is not None and graphs.graphed
    tok = loaded.tokenizer(PROMPTS[:1], return_tensors="pt").to("cuda")
    inputs = DecodeInputs(tok.input_ids, tok.attention_mask, guidance=3.0)
    tokens = fast_decode(loaded, inputs, 30, GREEDY, [0], graphs=graphs)
    assert tokens.shape == (1, 4, 30) and int(tokens.max()) < 2048


@needs_cuda
@pytest.mark.cuda
def test_cuda_mismatch_falls_back(cuda_debug, monkeypatch, caplog) -> None:
    """A replay that disagrees with the eager step is refused at capture, with a warning."""
    monkeypatch.setattr(StepRunner, "run", lambda self: self.buffers.out.zero_())
    with caplog.at_level(logging.WARNING, logger="engine.decoders.step_graph"):
        assert prepare_step_graphs(cuda_debug, (1,)) is None
    assert "not prepared" in caplog.text


# -- the engine prepares them at load --------------------------------------------


@pytest.mark.parametrize("cuda_graphs", [True, False])
def test_engine_prepares_steps_at_load_and_decodes_through_them(
    cache: Path, tmp_path: Path, monkeypatch, cuda_graphs: bool
) -> None:
    """Engine.load asks for the steps (CPU: eager static steps stand in for graphs)."""
    import json

    from engine.api import Engine, EngineSettings
    from engine.decoders import step_graph
    from engine.spec import GenerationSpec

    prepared, claims = [], []

    def prepare(loaded, takes, **options):
        assert list(takes) == [1, 2, 3]  # every take count up to the settings' max_takes
        graphs = build_step_graphs(loaded, (1,), frames=64, text_tokens=16)
        claim = graphs.claim
        graphs.claim = lambda *a: claims.append(a) or claim(*a)  # type: ignore[method-assign]
        prepared.append(graphs)
        return graphs

    monkeypatch.setattr(step_graph, "prepare_step_graphs", prepare)
    settings = EngineSettings(
        cache, device="cpu", warmup=False, cuda_graphs=cuda_graphs, max_takes=3
    )
    engine = Engine(settings)
    engine.load("debug")
    spec = GenerationSpec(prompt="test", out_dir=tmp_path, seconds=0.5, seed=1)
    [path] = engine.generate(spec).paths
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["cuda_graphs"] is cuda_graphs
    assert len(prepared) == int(cuda_graphs)
    assert len(claims) == int(cuda_graphs)  # the take's run went through the prepared step
    engine.unload()
    assert engine._graphs is None


def test_static_step_attends_in_the_chosen_dtype(cache: Path) -> None:
    """A bf16 model attending in float32: static buffers in float32, the eager step's logits."""
    from engine.decoders.layers import set_attention_dtype

    loaded = checkpoint.load("debug", cache, device="cpu", dtype="bfloat16")
    set_attention_dtype(loaded, "float32")
    graphs = build_step_graphs(loaded, (2,), frames=16, text_tokens=40)
    runner = graphs.runners[4]
    assert runner.buffers.keys.dtype == torch.float32
    assert runner.buffers.cross_keys.dtype == torch.float32

    def close(got: torch.Tensor, expected: torch.Tensor) -> None:  # bf16 weights: bf16 rounding
        limit = 2e-2 * max(1.0, float(expected.abs().max()))
        assert float((got - expected).abs().max()) <= limit

    _compare_steps(loaded, graphs, runner, close)
