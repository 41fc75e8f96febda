"""Start-up and the first take, served (issue 28): time to ready, then takes request to done.

Starts ``musicgen-bridge serve`` (the tests' own start_engine, loopback) with
each ``--capture`` mode, times it from the start to ``ping`` answering
``ready``, then sends ``--takes`` requests of ``--seconds`` one after another
and times each request to ``done``; then prints the engine log's lines that
say where the load and the first take went (the weights' hash, the graphs,
the warm-up's parts, the first run after the load).  The engine's cache is
fresh for each start unless ``--keep-cache`` (then only the first start hashes
the weights).

Usage, on a CUDA machine (a checkpoint folder, e.g. .device-wheels/small_checkpoint.py's):

    python benchmarks/served_start.py --model /tmp/ck-small --device cuda --capture now,background

Without a GPU it runs as well (``--model debug --device cpu``), which checks the
script: there are no graphs to capture and the figures are this machine's.
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import start_engine, stop_engine  # noqa: E402

#: Log lines worth reading beside the figures.
TELLING = (
    "hashed ",
    "CUDA graphs",
    "static steps",
    "captured in the background",
    "fused decode step",
    "warm-up took",
    "first run after loading",
    "loaded on",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="debug", help="checkpoint (default debug)")
    parser.add_argument("--device", default="auto", help="serve --device (default auto)")
    parser.add_argument(
        "--capture", default="now,background", help="serve --graph-capture modes to start with"
    )
    parser.add_argument("--takes", type=int, default=3, help="takes after ready (default 3)")
    parser.add_argument("--seconds", type=float, default=8.0, help="take length (default 8)")
    parser.add_argument("--extra", default="", help="more serve flags, e.g. '--fused-step'")
    parser.add_argument("--keep-cache", action="store_true", help="one cache for every start")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per take")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="musicgen-start-"))
    rows = []
    try:
        for n, mode in enumerate(args.capture.split(",")):
            cache = work / ("cache" if args.keep_cache else f"cache{n}")
            flags = ["--device", args.device, "--graph-capture", mode, *args.extra.split()]
            t0 = time.monotonic()
            engine = start_engine(cache, work, *flags, model=args.model)
            ready = time.monotonic() - t0
            times = []
            try:
                out = work / f"takes-{mode}"
                out.mkdir()
                with engine.client(timeout=args.timeout) as client:
                    for i in range(args.takes):
                        t1 = time.monotonic()
                        client.generate(
                            {
                                "prompt": f"warm funk drums {i}",
                                "seconds": args.seconds,
                                "seed": i,
                                "out_dir": str(out),
                            }
                        )
                        times.append(time.monotonic() - t1)
                log = engine.log()
            finally:
                stop_engine(engine)
            rows.append((mode, ready, times))
            print(f"\n# serve --graph-capture {mode} {args.extra}: the engine log says")
            for line in log.splitlines():
                if any(word in line for word in TELLING):
                    print("  " + line.strip()[:220])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nmodel {args.model}, device {args.device}, {args.seconds:g} s takes, request to done")
    print(f"{'capture':<12}{'ready s':>9}  takes in order (s)")
    for mode, ready, times in rows:
        print(f"{mode:<12}{ready:>9.2f}  " + " ".join(f"{t:.3f}" for t in times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
