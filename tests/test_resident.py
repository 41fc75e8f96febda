"""Resident models: the real loader and the resident set on the tiny debug checkpoints.

A failed load keeps every resident model; a switch between resident models
costs no load; the least recently used goes first; and through the job queue,
a request's model applies to that request only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import checkpoint
from engine.api import Engine, EngineSettings
from engine.errors import ModelNotAvailable
from engine.spec import GenerationSpec
from tests.conftest import run_through_queue, start_engine, stop_engine


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The model ids checkpoint.load was called with (the real loader still runs)."""
    called: list[str] = []
    real = checkpoint.load

    def counting(model_id, *args, **kwargs):
        called.append(model_id)
        return real(model_id, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "load", counting)
    return called


def engine(cache_dir: Path, keep: int = 2) -> Engine:
    return Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, keep_models=keep))


def resident(e: Engine) -> list[str]:
    return [info.model_id for info in e.resident]


def test_a_model_not_on_this_machine_leaves_the_resident_one_ready(cache_dir, tmp_path):
    e = engine(cache_dir)
    e.load("debug")
    with pytest.raises(ModelNotAvailable, match="facebook/musicgen-large"):
        e.load("facebook/musicgen-large")
    assert e.info is not None and e.info.model_id == "debug"
    assert resident(e) == ["debug"]
    take = e.generate(GenerationSpec(prompt="still here", out_dir=tmp_path, seconds=0.1, seed=1))
    assert json.loads(take.paths[0].with_suffix(".json").read_text())["model"] == "debug"


def test_a_model_that_fails_to_load_leaves_the_resident_one_ready(cache_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "musicgen"}')  # no weights
    e = engine(cache_dir)
    e.load("debug")
    with pytest.raises(Exception, match="broken"):
        e.load(str(broken))
    assert e.info is not None and e.info.model_id == "debug"
    assert resident(e) == ["debug"]


def test_switching_between_resident_models_costs_no_load(cache_dir, tmp_path, loads, caplog):
    caplog.set_level("INFO", logger="engine.residency")
    e = engine(cache_dir)
    for model in ("debug", "debug-stereo", "debug", "debug-stereo"):
        spec = GenerationSpec(prompt="x", out_dir=tmp_path, seconds=0.1, seed=1, model=model)
        take = e.generate(spec)
        sidecar = json.loads(take.paths[0].with_suffix(".json").read_text())
        assert (sidecar["model"], sidecar["channels"]) == (model, 2 if "stereo" in model else 1)
    assert loads == ["debug", "debug-stereo"]
    assert "model debug is resident: switched to it without loading" in caplog.text


def test_the_least_recently_used_model_is_evicted_first(cache_dir, loads):
    e = engine(cache_dir, keep=2)
    e.load("debug")
    e.load("debug-stereo")
    e.load("debug")  # now debug-stereo is the least recently used
    e.load("debug-melody")
    assert resident(e) == ["debug", "debug-melody"]
    assert e.info is not None and e.info.model_id == "debug-melody"
    e.load("debug-stereo")
    assert resident(e) == ["debug-melody", "debug-stereo"]
    assert loads == ["debug", "debug-stereo", "debug-melody", "debug-stereo"]


def test_keep_models_one_holds_only_the_active_model(cache_dir):
    e = engine(cache_dir, keep=1)
    e.load("debug")
    e.load("debug-stereo")
    assert resident(e) == ["debug-stereo"]
    with pytest.raises(ValueError, match="keep_models must be at least 1"):
        engine(cache_dir, keep=0)


def test_a_memory_budget_evicts_the_least_recently_used_after_a_load(cache_dir):
    sizes = {}
    probe = engine(cache_dir, keep=3)
    for model in ("debug", "debug-stereo", "debug-melody"):
        sizes[model] = probe.load(model).memory_bytes
    assert all(size > 0 for size in sizes.values())
    budget = sizes["debug"] + sizes["debug-stereo"]
    e = Engine(
        EngineSettings(
            cache_dir=cache_dir, device="cpu", warmup=False, keep_models=3, memory_budget=budget
        )
    )
    e.load("debug")
    e.load("debug-stereo")
    assert resident(e) == ["debug", "debug-stereo"]  # exactly the budget: both stay
    e.load("debug-melody")
    expected = ["debug-melody"]
    if sizes["debug-stereo"] + sizes["debug-melody"] <= budget:
        expected.insert(0, "debug-stereo")
    assert resident(e) == expected  # debug, least recently used, went first
    tiny = Engine(EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, memory_budget=1))
    tiny.load("debug")
    tiny.load("debug-stereo")
    assert resident(tiny) == ["debug-stereo"]  # the active one stays, even over the budget


def test_a_plain_request_after_a_per_request_model_gets_the_default(cache_dir, tmp_path):
    e = engine(cache_dir)
    sidecars = run_through_queue(e, ["debug-stereo", None], tmp_path)
    assert [(s["model"], s["channels"]) for s in sidecars] == [("debug-stereo", 2), ("debug", 1)]
    assert sidecars[1]["params"]["model"] == "debug"
    assert resident(e) == ["debug-stereo", "debug"]  # both stay warm


def test_status_lists_the_resident_models_and_the_cli_prints_them(engine_process, capsys):
    from bridge.cli import main
    from engine.decoders.precision import resolve_cpu_precision

    with engine_process.client() as client:
        status = client.status()
        pong = client.ping()
    assert status["reason"] == "" and pong["reason"] == ""
    # The session's engine: other tests may have asked for other debug models.
    resident = {m["model"]: m for m in status["resident"]}
    assert 1 <= len(resident) <= 2  # serve --keep-models' default
    assert status["model"] == status["resident"][-1]["model"]  # the active one: last used
    # serve's --cpu-precision auto: bfloat16 on a CPU with native bf16, float32 elsewhere.
    dtype, _ = resolve_cpu_precision("auto")
    for name, model in resident.items():
        assert name.startswith("debug") and (model["device"], model["dtype"]) == ("cpu", dtype)
        assert model["load_seconds"] > 0 and model["memory_mb"] > 0
    assert main(["status", "--port", str(engine_process.port)]) == 0
    out = capsys.readouterr().out
    assert f"resident: {len(resident)} model(s)" in out
    assert f"  {status['model']} on cpu ({dtype}), " in out


def test_an_engine_without_its_model_says_why_and_what_to_do(cache_dir, tmp_path, capsys):
    from bridge.cli import main

    offline = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    engine = start_engine(
        cache_dir, tmp_path, model="facebook/musicgen-small", until_state="no_model", env=offline
    )
    try:
        with engine.client() as client:
            reason = client.ping()["reason"]
            assert client.status()["reason"] == reason
        assert "Model 'facebook/musicgen-small' is not on this machine" in reason
        assert str(tmp_path / "hf") in reason  # where it looked
        assert "`musicgen-bridge download facebook/musicgen-small`" in reason
        assert "`make serve MODEL=debug`" in reason
        assert main(["ping", "--port", str(engine.port)]) == 0
        assert reason in capsys.readouterr().out
    finally:
        stop_engine(engine)
