"""Kernels and GPU time per decode step: today's static step against the fused one (issue 28).

For each size (benchmarks/speed.py's random models at the real shapes) and
take count, prepares the step graphs twice, as the engine does at load
(``build_step_graphs``: captured and checked), once with today's step and once
with the fused step in Triton kernels (``fused=True``), then for each:

- kernels a step: CUDA kernels ``torch.profiler`` sees in one eager step;
- ms a replay: the CUDA graph's replay, timed with CUDA events over ``--replays``;
- the fused step's logits against today's on the same probe (max abs difference).

Usage (a CUDA machine, from the project's root):

    python benchmarks/fused_step.py --sizes small,medium,large --batches 1,8

On a machine without CUDA it runs the kernels in Triton's interpreter
(``TRITON_INTERPRET=1``, set here) at the ``thin`` size only, to check the
script itself: those times are the interpreter's, not a GPU's, and say nothing.
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def kernels(run: Any, cuda: bool) -> int:
    """CUDA kernels one call launches (-1 without CUDA)."""
    import torch

    if not cuda:
        return -1
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)


def ms_a_call(run: Any, cuda: bool, calls: int) -> float:
    import torch

    for _ in range(3):
        run()
    if not cuda:
        t0 = time.perf_counter()
        for _ in range(calls):
            run()
        return 1000 * (time.perf_counter() - t0) / calls
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        run()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small", help="small,medium,large (default small)")
    parser.add_argument("--batches", default="1,8", help="take counts (default 1,8)")
    parser.add_argument("--dtype", default="float16", help="CUDA dtype (default float16)")
    parser.add_argument("--replays", type=int, default=200, help="timed replays (default 200)")
    parser.add_argument("--frames", type=int, default=1500, help="cache frames (default 1500)")
    args = parser.parse_args(argv)

    import torch

    cuda = torch.cuda.is_available()
    if not cuda:
        os.environ["TRITON_INTERPRET"] = "1"  # before the kernels are defined
        args.sizes, args.dtype, args.replays, args.frames = "thin", "float32", 2, 32
        print("# no CUDA: Triton's interpreter on the CPU, size thin; times say nothing")
    from benchmarks.speed import build_model
    from engine.decoders.step_graph import build_step_graphs

    device = "cuda" if cuda else "cpu"
    if cuda:
        import transformers

        print(
            f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, "
            f"transformers {transformers.__version__}, {args.dtype}"
        )
    print(f"{'size':<7}{'takes':>6}{'step':>8}{'kernels':>9}{'ms a step':>11}{'max |diff|':>12}")
    for size in args.sizes.split(","):
        loaded = build_model(size, device, args.dtype)
        for batch in (int(b) for b in args.batches.split(",")):
            rows = 2 * batch
            results = {}
            for name in ("today", "fused"):
                graphs = build_step_graphs(
                    loaded, (batch,), frames=args.frames, capture=cuda, fused=name == "fused"
                )
                runner = graphs.runners.get(rows)
                if runner is None or (name == "fused" and runner.fused is None):
                    print(f"{size:<7}{batch:>6}{name:>8}  not prepared (see the log)")
                    continue
                with torch.inference_mode():
                    buffers = runner.buffers
                    buffers.position.fill_(buffers.length // 2)
                    count = kernels(runner.run_eager, cuda)
                    ms = ms_a_call(runner.run, cuda, args.replays)
                    runner.run()
                    results[name] = (count, ms, buffers.out.float().clone())
                del graphs, runner
            reference = results.get("today")
            for name, (count, ms, logits) in results.items():
                diff = (
                    "" if reference is None else f"{float((logits - reference[2]).abs().max()):.3g}"
                )
                print(f"{size:<7}{batch:>6}{name:>8}{count:>9}{ms:>11.3f}{diff:>12}", flush=True)
        del loaded
        if cuda:
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
