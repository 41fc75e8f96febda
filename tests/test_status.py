"""What `status` reports: jobs with progress and time left, memory, and how the CLI prints it.

The protocol's encoding of it is in test_protocol.py and the job bookkeeping
in test_jobs.py; here: the memory reader, the CLI's text, and a real engine on
loopback asked for its status while a take runs.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

from bridge.protocol import PREFIX as P
from bridge.status_text import format_seconds, format_status, shorten
from engine.memory import memory_use, process_rss_bytes

MIB = 2**20


# -- the memory reader ------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_rss_is_the_resident_set_now_not_its_peak():
    import mmap

    before = process_rss_bytes()
    # Fresh pages of its own (malloc might reuse pages already resident), written
    # so they are resident, and unmapped at close.
    block = mmap.mmap(-1, 96 * MIB)
    for page in range(0, len(block), mmap.PAGESIZE):
        block[page] = 1
    held = process_rss_bytes()
    block.close()
    after = process_rss_bytes()
    assert before is not None and held is not None and after is not None
    assert held - before >= 80 * MIB
    assert held - after >= 80 * MIB  # a peak figure (getrusage's) would not fall
    with open("/proc/self/status", encoding="ascii") as status:
        vm_rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS"))
    assert abs(process_rss_bytes() - vm_rss) < 16 * MIB


def test_without_cuda_in_use_the_gpu_figures_are_unknown_and_cuda_is_not_started():
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        pytest.skip("CUDA is already in use in this test process")
    now = memory_use()
    assert now.gpu_allocated_bytes is None and now.gpu_free_bytes is None and not now.gpu_device
    assert not torch.cuda.is_initialized()  # asking must not create a CUDA context


def test_a_cpu_engine_reports_its_rss_and_no_gpu(debug_engine):
    now = debug_engine.memory()
    if sys.platform.startswith("linux"):
        assert now.rss_bytes is not None and now.rss_bytes > debug_engine.info.memory_bytes
    assert now.gpu_allocated_bytes is None and now.gpu_free_bytes is None


@pytest.mark.cuda
def test_a_cuda_engine_reports_its_gpus_allocated_and_free_memory(cache_dir):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from engine.api import Engine, EngineSettings

    engine = Engine(EngineSettings(cache_dir=cache_dir, device="cuda", warmup=False))
    info = engine.load("debug")
    now = engine.memory()
    assert now.gpu_device == f"cuda:{torch.cuda.current_device()}"
    assert now.gpu_allocated_bytes is not None and now.gpu_allocated_bytes >= info.memory_bytes
    assert now.gpu_free_bytes is not None and now.gpu_free_bytes > 0
    assert now.gpu_free_bytes <= torch.cuda.get_device_properties(0).total_memory
    engine.unload()


# -- the CLI's text -----------------------------------------------------------------


def _status(**changes) -> dict:
    status = {
        "state": "busy",
        "model": "debug",
        "device": "cpu",
        "running_job": "long",
        "queued_jobs": 1,
        "reason": "",
        "resident": [
            {
                "model": "debug",
                "device": "cpu",
                "dtype": "float32",
                "load_seconds": 0.412,
                "memory_mb": 1.6,
            }
        ],
        "rss_mb": 812.3,
        "gpu_allocated_mb": -1.0,
        "gpu_free_mb": -1.0,
        "jobs": [
            {
                "job": "long",
                "state": "generating",
                "position": 0,
                "progress": 0.4213,
                "elapsed_s": 3.14,
                "eta_s": 4.2,
                "waited_s": 0.0,
                "model": "debug",
                "prompt": "dusty lo-fi drums,\n  warm rhodes",
            },
            {
                "job": "next",
                "state": "queued",
                "position": 1,
                "progress": 0.0,
                "elapsed_s": 0.0,
                "eta_s": -1.0,
                "waited_s": 75.4,
                "model": "debug-stereo",
                "prompt": "tape-saturated boom bap with a lazy swing, vinyl crackle and a "
                "muted trumpet answering the sampled vocal chop",
            },
        ],
    }
    status.update(changes)
    return status


def test_cli_status_text_shows_jobs_queue_models_and_memory():
    assert format_status(_status()) == "\n".join(
        [
            "state: busy",
            "model: debug",
            "device: cpu",
            "running: 1",
            "  long: generating 42%, 3.1 s so far, about 4.2 s left",
            '    "dusty lo-fi drums, warm rhodes"',
            "queued: 1",
            "  next: queued, 1 ahead, waiting 1 min 15 s, on debug-stereo",
            '    "tape-saturated boom bap with a lazy swing, vinyl crackle and a muted..."',
            "resident: 1 model(s), least recently used first",
            "  debug on cpu (float32), 1.6 MiB, loaded in 0.41 s",
            "memory: process 812.3 MiB resident; GPU: none in use",
        ]
    )


def test_cli_status_text_before_a_rate_is_known_while_loading_and_on_a_gpu():
    jobs = [
        {**_status()["jobs"][0], "eta_s": -1.0, "progress": 0.0},
        {**_status()["jobs"][1], "state": "loading", "elapsed_s": 2.0, "position": 0},
    ]
    text = format_status(
        _status(jobs=jobs, gpu_allocated_mb=2150.0, gpu_free_mb=10547.2, state="busy")
    )
    assert "  long: generating 0%, 3.1 s so far, time left not known yet" in text
    assert "  next: loading its model, 2.0 s so far, on debug-stereo" in text
    assert text.endswith("memory: process 812.3 MiB resident; GPU 2.1 GiB allocated, 10.3 GiB free")


def test_cli_status_text_of_an_idle_engine_and_of_one_without_a_model():
    idle = format_status(_status(state="ready", running_job="", queued_jobs=0, jobs=[]))
    assert "running: nothing\n" in idle and "queued: 0\n" in idle
    why = "No model is loaded yet: the next request loads one."
    lost = format_status(
        _status(state="no_model", reason=why, resident=[], jobs=[], running_job="", rss_mb=-1.0)
    )
    assert lost.startswith(f"state: no_model\nmodel: debug\ndevice: cpu\nreason: {why}\n")
    assert lost.endswith("memory: process: not known here; GPU: none in use")


def test_prompts_are_cut_to_one_line_at_a_word():
    assert shorten("a  b\n\tc") == "a b c"
    assert shorten("x" * 100) == "x" * 69 + "..."  # no space to cut at
    assert shorten("one two three four", limit=12) == "one two..."
    assert format_seconds(59.9) == "59.9 s" and format_seconds(125.4) == "2 min 05 s"


# -- a real engine on loopback -------------------------------------------------------


@pytest.mark.e2e
def test_status_of_a_real_engine_while_a_take_runs_and_one_waits(engine_process, tmp_path, capsys):
    from bridge.cli import main

    prompt = "slow dub techno chords " * 20  # long: the reply carries it whole
    with engine_process.client(timeout=10) as takes, engine_process.client() as asker:
        takes.send(
            "/musicgen/generate", "st-long", prompt=prompt, seconds=120.0, out_dir=str(tmp_path)
        )
        # Once it runs, the next one waits for its own run (it cannot join a running one).
        for address, _ in takes.replies("st-long", 60):
            if address == "/musicgen/progress":
                break
        takes.send(
            "/musicgen/generate", "st-next", prompt="next", seconds=1.0, out_dir=str(tmp_path)
        )
        deadline = time.monotonic() + 60
        while True:
            status = asker.status()
            if status["jobs"] and status["jobs"][0]["eta_s"] >= 0 and len(status["jobs"]) == 2:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        running, queued = status["jobs"]
        assert (running["job"], running["state"], running["position"]) == (
            "st-long",
            "generating",
            0,
        )
        assert running["prompt"] == prompt.strip() and running["model"] == "debug"
        assert 0 < running["progress"] < 1 and running["elapsed_s"] > 0 and running["eta_s"] >= 0
        assert (queued["job"], queued["state"], queued["position"]) == ("st-next", "queued", 1)
        assert queued["eta_s"] == -1 and queued["waited_s"] >= 0
        assert status["state"] == "busy" and status["running_job"] == "st-long"
        assert status["queued_jobs"] == 1
        assert status["rss_mb"] > 0  # a Linux test machine: read from /proc
        assert (status["gpu_allocated_mb"], status["gpu_free_mb"]) == (-1.0, -1.0)  # CPU engine

        port = ["--port", str(engine_process.port)]
        assert main(["status", *port]) == 0
        out = capsys.readouterr().out
        assert "\n  st-long: generating " in out and "left" in out
        assert '    "slow dub techno chords slow dub techno chords' in out and '..."' in out
        assert "\n  st-next: queued, 1 ahead, waiting " in out
        assert "\nmemory: process " in out
        assert main(["status", "--json", *port]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert [j["job"] for j in shown["jobs"]] == ["st-long", "st-next"]

        assert asker.cancel("st-next") == "queued"
        assert asker.cancel("st-long") == "running"
        # Cancelled within a step: the engine is free for the next test.
        ends = (
            args for address, args in takes.replies("st-long", 60) if address != P + "/progress"
        )
        assert next(ends, None) == ["cancelled", "Cancelled."]
