"""Two or more step variants, alternating step by step in one process: which is faster.

Each variant is MusicGen-small with random weights (``speed.build_variant``;
``--size thin`` for small's layers at width 64, whose step is its fixed cost)
and a kernel name as ``speed.py --kernels`` takes it (``onednn+qkv``,
``onednn+qkv+attn-float32``, ...), with options after colons: ``:t1`` for one
torch thread instead of ``--threads``, ``:projected`` for the cross-attention
projected as transformers does it instead of folded into the text where that
pays (``engine.decoders.cross_fold``), ``:modules`` for the step calling the
checkpoint's modules through ``nn.Module.__call__`` instead of directly
(``engine.decoders.layers.direct``).  Each has its own run (``--batch``
takes, each its own prompt unless ``--variations``, guidance 3, top-k 250); the
variants take one step each in turn, so a burst of other work on a shared
machine falls on all of them alike.  After ``--warm`` steps (which also sets
the cache position the timed steps start at), ``--steps`` steps of each are
timed; the table gives the fastest, 10th percentile and median step, and the
median of the step-by-step ratios to the first variant (above 1: faster).

    python benchmarks/step_ab.py onednn+qkv,onednn+qkv+attn-float32 --warm 300 --steps 60
    python benchmarks/step_ab.py onednn+qkv+attn-float32:projected,onednn+qkv+attn-float32
    python benchmarks/step_ab.py onednn+qkv+attn-float32:modules,onednn+qkv+attn-float32

A script, never a test: it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "variants",
        help="comma-separated kernel names; ':t1' 1 thread, ':projected' unfolded, "
        "':modules' module calls",
    )
    parser.add_argument("--size", default="small", help="small, or thin: the step's fixed cost")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--warm", type=int, default=20, help="steps before timing")
    parser.add_argument("--steps", type=int, default=150, help="steps timed per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1, help="takes decoded together")
    parser.add_argument(
        "--variations", action="store_true", help="the takes share one prompt (default: one each)"
    )
    args = parser.parse_args(argv)

    from unittest import mock

    import torch

    from benchmarks.speed import build_variant, machine_line
    from engine.decoders.contract import DecodeInputs
    from engine.decoders.loop import Run
    from engine.sampling import Sampling, guided, sample_tokens

    torch.set_num_threads(args.threads)
    print(machine_line("cpu"))
    print(f"# torch {torch.__version__}; load average {os.getloadavg()} at the start")
    names = args.variants.split(",")
    prompts = 1 if args.variations else args.batch
    ids = torch.randint(2, 1000, (prompts, 12), generator=torch.Generator().manual_seed(0))
    ids = ids[[take % prompts for take in range(args.batch)]]
    inputs = DecodeInputs(ids, torch.ones_like(ids), guidance=3.0)
    sampling = Sampling(top_k=250)
    runs = {}
    with torch.inference_mode():
        for name in names:
            kernel, *options = name.split(":")
            loaded = build_variant(args.size, "cpu", args.dtype, kernel)
            with contextlib.ExitStack() as patches:
                if "projected" in options:
                    patches.enter_context(
                        mock.patch("engine.decoders.cross_fold.fold_pays", return_value=False)
                    )
                if "modules" in options:  # each module called as a module
                    for where in ("layers", "cross_fold"):
                        patches.enter_context(
                            mock.patch(f"engine.decoders.{where}.direct", lambda module: module)
                        )
                run = Run(loaded, inputs, args.warm + args.steps + 8)
            threads = 1 if "t1" in options else args.threads
            runs[name] = {"run": run, "logits": run.prefill(), "threads": threads, "times": []}
        column = 1
        for step in range(args.warm + args.steps):
            for state in runs.values():
                torch.set_num_threads(state["threads"])
                start = time.perf_counter()
                seeds = range(args.batch)
                picks = sample_tokens(guided(state["logits"], 3.0), sampling, seeds, column)
                state["run"].place(column, picks)
                state["logits"] = state["run"].step(column)
                if step >= args.warm:
                    state["times"].append(time.perf_counter() - start)
            column += 1
    first = runs[names[0]]["times"]
    print(
        f"# {args.size}, {args.dtype}, batch {args.batch} ({prompts} prompt(s) of 12 tokens), "
        f"steps {args.warm + 1}-{args.warm + args.steps} of each variant, alternating"
    )
    for name, state in runs.items():
        times = sorted(state["times"])
        ratio = statistics.median(a / b for a, b in zip(first, state["times"], strict=True))
        fastest, p10 = times[0] * 1e3, times[len(times) // 10] * 1e3
        print(
            f"{name:<30} fastest {fastest:6.1f} ms, p10 {p10:6.1f}, "
            f"median {statistics.median(times) * 1e3:6.1f}; speed vs {names[0]}: {ratio:.3f}x"
        )
    print(f"# load average {os.getloadavg()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
