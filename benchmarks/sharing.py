"""Requests arriving together: made one after another, or sharing one decoder run.

Builds a random-weight MusicGen at a real size (benchmarks/speed.py's
``build_model``) and makes ``--requests`` takes of ``--seconds`` each, with
different prompts and seeds, twice through the engine's own render path:

- one by one: ``render`` per request, as ``serve --max-batch 1`` runs them;
- shared: one ``render_many`` over all of them, as the job queue runs
  requests waiting together (``serve --max-batch``, default 8).

Prints each way's total time, when each request is finished (its latency from
arrival), and throughput in seconds of audio per second.  The bridge's own cost
per request (benchmarks/overhead.py) is the same either way.

Usage: python benchmarks/sharing.py [--size small] [--requests 4] [--seconds 2]
       [--device cpu|cuda] [--dtype float32]
This is a script, never a test; it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "driving techno with a rolling bassline",
    "slow jazz",
    "ambient pads with field recordings",
    "lo-fi hip hop drums",
    "epic orchestral strings",
    "funky bass and clavinet",
    "minimal house groove",
    "dreamy shoegaze guitars",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", help="small, medium or large")
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0, help="audio per request")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()

    import torch

    from benchmarks.speed import build_model
    from engine import checkpoint
    from engine.decoders.loop import fast_decode
    from engine.generate import Part, render, render_many
    from engine.spec import GenerationSpec

    loaded = build_model(args.size, device=args.device, dtype=args.dtype)
    with tempfile.TemporaryDirectory() as cache:
        # The debug checkpoint's tokenizer: its ids lie inside T5's vocabulary.
        loaded.tokenizer = checkpoint.load("debug", Path(cache), device="cpu").tokenizer
    out = Path(tempfile.gettempdir())
    specs = [
        GenerationSpec(prompt=PROMPTS[i % len(PROMPTS)], out_dir=out, seconds=args.seconds, seed=i)
        for i in range(args.requests)
    ]

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    render(loaded, specs[0], [0], fast_decode)  # warm up (first-call allocations)
    sync()

    t0 = time.perf_counter()
    finished = []
    for spec in specs:
        render(loaded, spec, [spec.seed], fast_decode)
        sync()
        finished.append(time.perf_counter() - t0)
    alone_s = finished[-1]

    t0 = time.perf_counter()
    render_many(loaded, [Part(spec, [spec.seed]) for spec in specs], fast_decode)
    sync()
    shared_s = time.perf_counter() - t0

    audio = args.requests * args.seconds
    print(
        f"{args.requests} requests of {args.seconds:g} s, {args.size} ({args.dtype}) "
        f"on {args.device}, {torch.get_num_threads()} threads"
    )
    print("| way | total s | first done s | last done s | mean latency s | audio s per s |")
    print("|---|---:|---:|---:|---:|---:|")
    mean_alone = sum(finished) / len(finished)
    print(
        f"| one by one | {alone_s:.2f} | {finished[0]:.2f} | {alone_s:.2f} | "
        f"{mean_alone:.2f} | {audio / alone_s:.2f} |"
    )
    print(
        f"| shared run | {shared_s:.2f} | {shared_s:.2f} | {shared_s:.2f} | "
        f"{shared_s:.2f} | {audio / shared_s:.2f} |"
    )
    print(f"throughput: {alone_s / shared_s:.2f}x; mean latency: {mean_alone / shared_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
