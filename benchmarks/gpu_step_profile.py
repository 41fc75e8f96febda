"""Where a graphed decode step's time goes on the GPU (CUDA only; a script, never a test).

The project's copy of ``../shared/gpu/step_profile.py`` (which ``prepare.sh`` puts in
``.device-wheels/`` and ``run.sh profile`` runs), brought to the counter-based sampler:
takes are drawn from per-take seeds, not ``torch.Generator`` objects, so the shared copy
stops at ``from engine.sampling import generators``.  Run from the project's root:

    python benchmarks/gpu_step_profile.py SIZES OUTDIR

For each size (float16, batch 1 and 8): the loop's wall time per step; the graph replay alone
(CUDA events, GPU time); the host work between replays (sampling, guidance, placing tokens);
a torch.profiler table of 40 loop steps; the step graph with a short cache (256 slots)
against the 30 s one (1504 slots), to see what attending over the whole cache costs.
"""

import contextlib
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, ".")
import itertools

from benchmarks.speed import build_model, text_inputs
from engine.decoders.contract import DecodeInputs
from engine.decoders.loop import fast_decode
from engine.decoders.step_graph import build_step_graphs
from engine.sampling import Sampling, guided, sample_tokens

sizes = sys.argv[1].split(",")
out = Path(sys.argv[2])
sampling = Sampling(temperature=1.0, top_k=250)


def loop_ms(loaded, graphs, batch, steps=150):
    ids, mask = text_inputs(batch, "cuda")
    inputs = DecodeInputs(ids, mask, guidance=3.0)
    stamps = []

    class Enough(Exception):
        pass

    def on_step():
        stamps.append(time.perf_counter())
        if len(stamps) >= steps:
            raise Enough

    dec = partial(fast_decode, graphs=graphs) if graphs else fast_decode
    dec(loaded, inputs, 4, sampling, list(range(batch)))
    torch.cuda.synchronize()
    with contextlib.suppress(Enough):
        dec(loaded, inputs, 1000, sampling, list(range(batch)), on_step)
    torch.cuda.synchronize()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return 1000 * statistics.median(gaps[10:])


@torch.inference_mode()
def replay_ms(runner, n=200):
    runner.buffers.position.fill_(100)
    for _ in range(10):
        runner.run()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(n):
        runner.run()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / n


@torch.inference_mode()
def host_ms(batch, n=200):
    """Guidance + sampling + placing, alone, on logits of the step's shape."""
    logits = torch.randn(2 * batch * 4, 2048, device="cuda", dtype=torch.float16)
    seeds = list(range(batch))
    for _ in range(10):
        sample_tokens(guided(logits, 3.0), sampling, seeds, 100)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        sample_tokens(guided(logits, 3.0), sampling, seeds, 100)
    torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - t) / n


def table(prof, key, rows):
    for k in (key, key.replace("cuda", "device")):
        try:
            return prof.key_averages().table(sort_by=k, row_limit=rows)
        except Exception as exc:
            err = exc
    return f"table failed: {err!r}\n"


with open(out / "profile.txt", "w") as f:

    def say(*a):
        print(*a, flush=True)
        print(*a, file=f, flush=True)

    say(f"# torch {torch.__version__}, {torch.cuda.get_device_name()}")
    for size in sizes:
        loaded = build_model(size, "cuda", "float16")
        for batch in (1, 8):
            long = build_step_graphs(loaded, (batch,))
            lm = loop_ms(loaded, long, batch)
            em = loop_ms(loaded, None, batch, steps=40)
            rl = replay_ms(long.runners[2 * batch])
            short = build_step_graphs(loaded, (batch,), frames=250)
            rs = replay_ms(short.runners[2 * batch])
            hm = host_ms(batch)
            say(
                f"{size} batch {batch}: loop {lm:.3f} ms/step graphed, {em:.3f} eager; "
                f"graph replay GPU {rl:.3f} ms (1504-slot cache), {rs:.3f} ms (256-slot cache); "
                f"the eager guidance+draw alone {hm:.3f} ms"
            )
            if batch == 1:
                ids, mask = text_inputs(batch, "cuda")
                inputs = DecodeInputs(ids, mask, guidance=3.0)
                with torch.profiler.profile(
                    activities=[
                        torch.profiler.ProfilerActivity.CPU,
                        torch.profiler.ProfilerActivity.CUDA,
                    ]
                ) as prof:
                    fast_decode(loaded, inputs, 40, sampling, list(range(batch)), graphs=long)
                    torch.cuda.synchronize()
                f.write(f"\n## {size} batch 1, 40 steps through the graphs: by CUDA time\n")
                f.write(table(prof, "cuda_time_total", 25))
                f.write("\n## by CPU time\n")
                f.write(table(prof, "self_cpu_time_total", 20))
                # the eager step's kernels: how many launches a step makes
                with (
                    torch.inference_mode(),
                    torch.profiler.profile(
                        activities=[torch.profiler.ProfilerActivity.CUDA]
                    ) as prof2,
                ):
                    short.runners[2].run_eager()
                    torch.cuda.synchronize()
                try:
                    kernels = [
                        e for e in prof2.events() if e.device_type == torch.autograd.DeviceType.CUDA
                    ]
                    say(f"{size}: one eager static step launches {len(kernels)} CUDA kernels")
                except Exception as exc:
                    say(f"kernel count failed: {exc!r}")
                f.write(f"\n## {size}: one eager static step's kernels by CUDA time\n")
                f.write(table(prof2, "cuda_time_total", 25))
            del long, short
            torch.cuda.empty_cache()
        del loaded
        torch.cuda.empty_cache()
