"""The bridge's own cost per request: everything but the model's compute.

Starts ``musicgen-bridge serve --model debug`` on a free loopback port and
sends ``--requests`` generate requests one after another through the Python
client (OSC over UDP).  For each, the wall time from send to ``done`` is split
using the timings the engine records in the take's sidecar:

- model: the decoder steps and the codec decode (``decode_s + codec_s``);
- bridge overhead: the rest: OSC parse and validation, queueing, post-processing
  (resampling, exact cut), the WAV and sidecar write, and the replies.

Usage: python benchmarks/overhead.py [--requests 20] [--seconds 8] [--sample-rate 48000]
This is a script, never a test; it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import start_engine, stop_engine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sample-rate", type=int, default=48000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        engine = start_engine(work / "cache", work, "--threads", "1")
        rows = []
        try:
            with engine.client(timeout=30.0) as client:
                for i in range(args.requests):
                    fields = {
                        "prompt": "overhead",
                        "seconds": args.seconds,
                        "seed": i,
                        "sample_rate": args.sample_rate,
                        "out_dir": str(work),
                    }
                    start = time.perf_counter()
                    [path] = client.generate(fields, f"o{i}")
                    wall = time.perf_counter() - start
                    timings = json.loads(Path(path).with_suffix(".json").read_text())["timings"]
                    model = timings["decode_s"] + timings["codec_s"]
                    rows.append((wall, model, timings["post_s"]))
        finally:
            stop_engine(engine)

    walls = [r[0] * 1e3 for r in rows]
    overhead = [(r[0] - r[1]) * 1e3 for r in rows]
    post = [r[2] * 1e3 for r in rows]
    print(f"{args.requests} requests of {args.seconds:g} s at {args.sample_rate} Hz, debug model")
    print(f"request to done     median {statistics.median(walls):8.1f} ms")
    print(
        f"bridge overhead     median {statistics.median(overhead):8.1f} ms  "
        f"max {max(overhead):8.1f} ms  (OSC in, queue, post, write, reply)"
    )
    print(f"  of which post     median {statistics.median(post):8.1f} ms  (resample + cut)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
