"""Resident models: a switch between two resident checkpoints against a reload.

Makes an in-process :class:`engine.api.Engine` on the CPU (no warm-up, as
``--no-warmup``; ``--warmup`` adds the engine's short warm-up take to each
load) and, for two checkpoints A and B:

1. ``reload``: ``--keep-models 1``; load A, then B, then A... each load
   evicts the other (what every switch cost before resident models);
2. ``switch``: ``--keep-models 2``; both resident, then A, B, A... each
   ``Engine.load`` only makes the other one active.

Each row is the median (and min, max) of ``--repeat`` switches.  Then the
memory each resident checkpoint adds: the process's resident set (RSS, read as
status reads it: engine.memory) before and after loading it beside the
others, after a garbage collection.

Usage: python benchmarks/resident.py --models debug,debug-stereo --repeat 10
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mib() -> float:
    """This process's resident set now, as status reports it (engine.memory)."""
    from engine.memory import process_rss_bytes

    rss = process_rss_bytes()
    if rss is None:
        raise SystemExit("this machine's resident memory cannot be read (engine.memory)")
    return rss / 2**20


def timed_switches(engine, models: list[str], repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        model = models[(i + 1) % len(models)]
        t0 = time.perf_counter()
        engine.load(model)
        times.append(time.perf_counter() - t0)
    return times


def row(name: str, values: list[float]) -> str:
    ms = [v * 1e3 for v in values]
    return (
        f"{name:<8} n={len(ms):<3} median {statistics.median(ms):9.3f} ms  "
        f"min {min(ms):9.3f}  max {max(ms):9.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="debug,debug-stereo")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--warmup", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # not the "random weights" warning per load
    models = args.models.split(",")

    from engine.api import Engine, EngineSettings

    cache = Path(tempfile.mkdtemp(prefix="resident-bench-"))
    base = {"cache_dir": cache, "device": "cpu", "warmup": args.warmup, "threads": args.threads}
    print(f"models {', '.join(models)}; CPU; warm-up {'on' if args.warmup else 'off'}")
    for model in models:  # build the debug checkpoints once, outside the timing
        Engine(EngineSettings(**base)).load(model)
    gc.collect()

    reload = Engine(EngineSettings(**base, keep_models=1))
    reload.load(models[0])
    print(row("reload", timed_switches(reload, models, args.repeat)))
    del reload
    gc.collect()

    switch = Engine(EngineSettings(**base, keep_models=len(models)))
    before = rss_mib()
    added = []
    for model in models:
        switch.load(model)
        gc.collect()
        after = rss_mib()
        added.append((model, after - before))
        before = after
    print(row("switch", timed_switches(switch, models, args.repeat)))
    for model, mib in added:
        print(f"RSS added by resident {model:<14} {mib:8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
