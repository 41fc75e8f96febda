"""The warm-up after a load (engine.warm_up): the shapes it covers, each part in the log.

Whether these parts are what made the first take after load slow on an H200
(issue 28) needs a CUDA machine; here the plan, the parts actually run (the
prompt lengths, take counts and codec lengths reaching the decoder and the
codec) and the log lines are checked, on the CPU with the debug checkpoint.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402
from engine.decoders.loop import fast_decode  # noqa: E402
from engine.decoders.step_graph import build_step_graphs  # noqa: E402
from engine.warm_up import (  # noqa: E402
    CUDA_CODEC_SECONDS,
    CUDA_TEXT_TOKENS,
    TAKE_SECONDS,
    WarmUpPlan,
    plan_for,
    warm_up,
)


@pytest.fixture(scope="module")
def debug(tmp_path_factory: pytest.TempPathFactory) -> checkpoint.LoadedModel:
    return checkpoint.load("debug", tmp_path_factory.mktemp("cache"), device="cpu")


def test_the_cpu_warms_up_with_one_short_take_and_its_files() -> None:
    assert plan_for("cpu", 8) == WarmUpPlan(TAKE_SECONDS, True, (), (), ())
    assert plan_for("mps", 8) == WarmUpPlan()


def test_cuda_warms_up_prompt_lengths_take_counts_and_codec_lengths() -> None:
    plan = plan_for("cuda", 8)
    assert plan.take_seconds == TAKE_SECONDS and plan.files
    assert plan.text_tokens == CUDA_TEXT_TOKENS
    assert plan.batches == (1, 2, 4, 8)
    assert plan.codec_seconds == CUDA_CODEC_SECONDS
    assert plan_for("cuda:1", 3).batches == (1, 2, 3)
    assert plan_for("cuda", 1).batches == (1,)


def test_every_part_runs_and_is_logged(debug, monkeypatch, caplog) -> None:
    """A CUDA plan run on the CPU: each prompt length, take count and codec length is met."""
    from engine.decoders import codec

    graphs = build_step_graphs(debug, (1, 2), frames=64, text_tokens=32)
    claims: list[tuple] = []
    claim = graphs.claim
    graphs.claim = lambda *a: claims.append(a) or claim(*a)  # type: ignore[method-assign]
    calls: list[tuple] = []

    def decoder(loaded, inputs, frames, sampling, gens, on_step=None, **kw):
        calls.append((tuple(inputs.input_ids.shape), frames, sampling.top_k))
        return fast_decode(loaded, inputs, frames, sampling, gens, on_step, graphs=graphs, **kw)

    decoded: list[tuple] = []
    real = codec.decode_audio
    monkeypatch.setattr(
        codec,
        "decode_audio",
        lambda loaded, codes: decoded.append(codes.shape) or real(loaded, codes),
    )
    plan = WarmUpPlan(0.1, False, (8, 16), (1, 2), (0.5,))
    with caplog.at_level(logging.INFO, logger="engine.warm_up"):
        parts = warm_up(debug, decoder, plan)
    assert list(parts) == [
        "take 0.1 s",
        "text 8 tokens",
        "text 16 tokens",
        "run of 1 take",
        "run of 2 takes",
        "codec 0.5 s",
    ]
    assert all(seconds > 0 for seconds in parts.values())
    # The take, then one run per prompt length (one take), then one per take count.
    assert [shape for shape, _, _ in calls[1:]] == [(1, 8), (1, 16), (1, 8), (2, 8)]
    assert all(top_k == 250 for _, _, top_k in calls)  # the requests' default sampling
    assert (1, 4, 25) in decoded  # 0.5 s at 50 frames a second
    # Through the prepared steps: 2 rows (one take, guidance) and 4 rows (two takes).
    assert {rows for rows, _, _ in claims} == {2, 4}
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("warm-up")]
    for name in parts:
        assert name in line


def test_the_files_part_does_what_writing_a_take_does(debug, monkeypatch, tmp_path) -> None:
    """Loudness measured, a WAV encoded (first use of pyloudnorm, soxr, soundfile); in memory."""
    import io

    import soundfile

    from engine import loudness

    measured, encoded = [], []
    real_measure, real_write = loudness.measure, soundfile.write

    def measure(audio, rate, **kw):
        measured.append((audio.shape, rate))
        return real_measure(audio, rate, **kw)

    def write(file, data, rate, **kw):
        encoded.append(file)
        return real_write(file, data, rate, **kw)

    monkeypatch.setattr(loudness, "measure", measure)
    monkeypatch.setattr(soundfile, "write", write)
    monkeypatch.chdir(tmp_path)
    parts = warm_up(debug, partial(fast_decode), WarmUpPlan(0.1, True))
    assert list(parts) == ["take 0.1 s", "files"]
    assert measured == [((1, 3200), 32000)]  # the warm-up take's own audio
    [target] = encoded
    assert isinstance(target, io.BytesIO) and target.getvalue()[:4] == b"RIFF"
    assert list(tmp_path.iterdir()) == []  # nothing written to disk


def test_the_engine_logs_its_warm_up_and_its_first_run(tmp_path: Path, caplog) -> None:
    from engine.api import Engine, EngineSettings
    from engine.spec import GenerationSpec

    engine = Engine(EngineSettings(tmp_path / "cache", device="cpu", cpu_kernel="module"))
    with caplog.at_level(logging.INFO):
        engine.load("debug")
        spec = GenerationSpec(prompt="test", out_dir=tmp_path, seconds=0.3, seed=1)
        engine.generate(spec)
        engine.generate(spec)
    text = caplog.text
    assert "warm-up took" in text and "take 0.2 s" in text and "files" in text
    assert text.count("first run after loading debug") == 1
