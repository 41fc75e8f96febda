"""Capturing the decode steps after the engine is ready (engine.decoders.background_capture).

On the CPU a stand-in capturer (a "graph" whose replay runs the eager static
step and counts itself) takes the place of the CUDA capture, so these tests
exercise everything but the CUDA calls: runs decode eagerly until a row count
is checked, take the eager static step until its graph is in, then replay it;
a run never uses the buffers while a capture holds them; a failed capture is
left out; the engine answers before the capture ends.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402
from engine.decoders.contract import DecodeInputs, forced_logits  # noqa: E402
from engine.decoders.loop import fast_decode  # noqa: E402
from engine.decoders.step_graph import StepRunner, build_step_graphs  # noqa: E402
from engine.sampling import Sampling  # noqa: E402
from tests.agreement import assert_logits_close, recorded_run  # noqa: E402

GREEDY = Sampling(greedy=True)
WAIT = 60.0  # seconds: a bound, never a figure


@pytest.fixture(scope="module")
def debug(tmp_path_factory: pytest.TempPathFactory) -> checkpoint.LoadedModel:
    return checkpoint.load("debug", tmp_path_factory.mktemp("cache"), device="cpu")


def text_inputs(loaded, prompts) -> DecodeInputs:
    tok = loaded.tokenizer(prompts, return_tensors="pt", padding=True)
    return DecodeInputs(tok.input_ids, tok.attention_mask, guidance=3.0)


class FakeCapture:
    """Captures by remembering the runner; its graph's replay is the eager static step.

    ``gate`` holds every capture until set; ``state`` counts what runs where,
    to catch a run stepping while a capture holds the buffers.
    """

    def __init__(self, fail_rows: int | None = None) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()  # a capture is held at the gate
        self.captured: list[int] = []
        self.replays = 0
        self.fail_rows = fail_rows
        self.capturing = 0
        self.stepping = 0
        self.overlaps = 0
        self.lock_held_in_capture: list[bool] = []

    def __call__(self, runner: StepRunner, pool) -> FakeGraph:
        self.capturing += 1
        try:
            self.lock_held_in_capture.append(runner._lock.locked())
            if self.stepping:
                self.overlaps += 1
            self.waiting.set()
            assert self.gate.wait(WAIT)
            if runner.buffers.rows == self.fail_rows:
                raise RuntimeError("capture failed (stand-in)")
            time.sleep(0.01)  # long enough for a racing run to show
            self.captured.append(runner.buffers.rows)
            return FakeGraph(self, runner)
        finally:
            self.capturing -= 1

    def watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Count every static step a run takes, and any taken during a capture."""
        original = StepRunner.step

        def step(runner, ids, position):
            self.stepping += 1
            try:
                if self.capturing:
                    self.overlaps += 1
                return original(runner, ids, position)
            finally:
                self.stepping -= 1

        monkeypatch.setattr(StepRunner, "step", step)


class FakeGraph:
    def __init__(self, fake: FakeCapture, runner: StepRunner) -> None:
        self.fake, self.runner = fake, runner

    def replay(self) -> None:
        self.fake.replays += 1
        self.runner.run_eager()


def background(debug, fake: FakeCapture, batches=(1, 2)):
    return build_step_graphs(
        debug, batches, frames=32, text_tokens=16, background=True, capturer=fake
    )


def until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_nothing_is_claimed_before_the_steps_are_checked(debug) -> None:
    fake = FakeCapture()
    graphs = background(debug, fake)
    assert sorted(graphs.runners) == [2, 4]
    assert graphs.claim(2, 20, 8) is None  # not started: not checked, the eager loop
    assert not graphs.wait(0)
    graphs.stop()
    assert fake.captured == []


def test_runs_switch_from_eager_static_steps_to_replays(debug, monkeypatch) -> None:
    fake = FakeCapture()
    fake.watch(monkeypatch)
    fake.gate.clear()
    graphs = background(debug, fake)
    graphs.start()
    assert fake.waiting.wait(WAIT)  # checked both, holding the first capture (rows 4)
    assert graphs.runners[2].ready and graphs.runners[4].ready
    assert fake.lock_held_in_capture == [True]
    assert graphs.claim(4, 20, 8) is None  # the capture holds the buffers
    inputs = text_inputs(debug, ["warm funk drums"])
    during = fast_decode(debug, inputs, 12, GREEDY, [0], graphs=graphs)
    assert during.shape == (1, 4, 12) and fake.replays == 0
    fake.gate.set()
    assert graphs.wait(WAIT)
    assert sorted(fake.captured) == [2, 4] and graphs.graphed
    assert all(runner.ready and runner.graphed for runner in graphs.runners.values())
    # After the switch: the replays, with the eager loop's logits on the same tokens.
    replays = fake.replays
    eager, record = recorded_run(fast_decode, debug, inputs, 12, GREEDY, (0,))
    forced = forced_logits(partial(fast_decode, graphs=graphs), debug, inputs, eager)
    assert_logits_close(forced, torch.stack(record.logits), "replayed step")
    assert fake.replays - replays == forced.shape[0] - 1  # every step but the prefill
    assert fake.overlaps == 0


def test_runs_never_use_the_buffers_during_a_capture(debug, monkeypatch) -> None:
    """Runs from several threads while the capture goes: no step overlaps a capture."""
    fake = FakeCapture()
    fake.watch(monkeypatch)
    graphs = background(debug, fake, batches=(1, 2, 3))
    inputs = text_inputs(debug, ["slow jazz"])
    errors: list[BaseException] = []
    done = threading.Event()

    def worker(seed: int) -> None:
        try:
            while not done.is_set():
                tokens = fast_decode(debug, inputs, 6, Sampling(), [seed], graphs=graphs)
                assert tokens.shape == (1, 4, 6)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    graphs.start()
    try:
        assert graphs.wait(WAIT)
        until(lambda: fake.replays > 0, "a run replaying a captured step")
    finally:
        done.set()
        for thread in threads:
            thread.join(WAIT)
    assert errors == []
    assert sorted(fake.captured) == [2, 4, 6]
    assert all(fake.lock_held_in_capture)
    assert fake.overlaps == 0


def test_a_failed_capture_is_left_out(debug, caplog) -> None:
    fake = FakeCapture(fail_rows=4)
    graphs = background(debug, fake)
    with caplog.at_level(logging.WARNING, logger="engine.decoders.step_graph"):
        graphs.start()
        assert graphs.wait(WAIT)
    assert sorted(graphs.runners) == [2]
    assert graphs.runners[2].graphed
    assert graphs.claim(4, 20, 8) is None  # its runs decode with the eager loop
    assert "decode step for 4 rows not prepared" in caplog.text
    inputs = text_inputs(debug, ["a", "b"])  # two takes: 4 rows
    tokens = fast_decode(debug, inputs, 8, GREEDY, [0, 1], graphs=graphs)
    assert tokens.shape == (2, 4, 8)


def test_stop_ends_the_capture_after_the_row_count_in_hand(debug) -> None:
    fake = FakeCapture()
    fake.gate.clear()
    graphs = background(debug, fake)
    graphs.start()
    assert fake.waiting.wait(WAIT)
    stopper = threading.Thread(target=graphs.stop)
    stopper.start()
    until(lambda: graphs.background._stop.is_set(), "the stop")
    fake.gate.set()
    stopper.join(WAIT)
    assert graphs.wait(0)
    assert fake.captured == [4]  # the one in hand; rows 2 stays an eager static step
    assert graphs.runners[2].ready and not graphs.runners[2].graphed


def test_the_engine_is_ready_before_the_capture_ends(tmp_path: Path, monkeypatch) -> None:
    """``graph_capture="background"``: load returns, takes are made, then replays."""
    from engine.api import Engine, EngineSettings
    from engine.decoders import step_graph
    from engine.spec import GenerationSpec

    fake = FakeCapture()
    fake.gate.clear()
    real = step_graph.prepare_step_graphs
    made: list = []

    def prepare(loaded, takes, **options):
        assert options == {"background": True, "fused": False}
        graphs = real(loaded, takes, capturer=fake, **options)
        made.append(graphs)
        return graphs

    monkeypatch.setattr(step_graph, "prepare_step_graphs", prepare)
    settings = EngineSettings(
        tmp_path / "cache",
        device="cpu",
        warmup=False,
        max_takes=2,
        graph_capture="background",
        cpu_kernel="module",
    )
    engine = Engine(settings)
    engine.load("debug")
    [graphs] = made
    assert fake.waiting.wait(WAIT)  # ready, with the capture held at its first row count
    assert not graphs.wait(0)
    spec = GenerationSpec(prompt="test", out_dir=tmp_path, seconds=0.3, seed=1)
    assert engine.generate(spec).paths  # made while the capture holds the buffers
    assert fake.replays == 0
    fake.gate.set()
    assert graphs.wait(WAIT)
    assert engine.generate(spec).paths
    assert fake.replays > 0
    engine.unload()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_real_background_capture_beside_eager_runs_on_cuda(tmp_path: Path) -> None:
    """On a GPU: captured on its thread (thread_local mode) while takes decode on this one."""
    from engine.decoders.step_graph import prepare_step_graphs

    loaded = checkpoint.load("debug", tmp_path, device="cuda", dtype="float16")
    graphs = prepare_step_graphs(loaded, (1, 2, 3, 4), background=True)
    assert graphs is not None and not graphs.graphed
    tok = loaded.tokenizer(["warm funk drums"], return_tensors="pt").to("cuda")
    inputs = DecodeInputs(tok.input_ids, tok.attention_mask, guidance=3.0)
    graphs.start()
    made = 0
    while not graphs.wait(0):  # takes beside the capture, as a served engine makes them
        tokens = fast_decode(loaded, inputs, 8, Sampling(), [made], graphs=graphs)
        assert tokens.shape == (1, 4, 8)
        made += 1
    assert graphs.wait(WAIT) and graphs.graphed
    assert sorted(graphs.runners) == [2, 4, 6, 8]
    eager, record = recorded_run(fast_decode, loaded, inputs, 8, GREEDY, (0,))
    forced = forced_logits(partial(fast_decode, graphs=graphs), loaded, inputs, eager)
    assert_logits_close(forced, torch.stack(record.logits), "replayed step", dtype=torch.float16)
