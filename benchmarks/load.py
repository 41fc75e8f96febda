"""Load figures for issue 7: requests vs terminal replies, query latency, cancel latency.

Starts ``musicgen-bridge serve --model debug`` on a free loopback port (the
tests' own start_engine), then:

1. ``--clients`` threads each send ``--requests`` generate requests of
   ``--seconds`` seconds at once and wait for every terminal reply;
2. while one long take runs, ping and status alternately, timing each answer;
3. cancel that take and time the cancel until its terminal error reply, in
   milliseconds and (estimated from the progress replies) in decode steps.

Usage: python benchmarks/load.py --clients 8 --requests 5 --seconds 0.5
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import start_engine, stop_engine  # noqa: E402
from tests.test_load import TERMINAL, P, Peer, run_clients, terminal_kinds  # noqa: E402

LONG_TAKE_S = 30.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms_row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<34} (no samples)"
    v = [x * 1e3 for x in values]
    return (
        f"{name:<34} n={len(v):<4} min {min(v):7.2f}  median {statistics.median(v):7.2f}  "
        f"p95 {percentile(v, 0.95):7.2f}  max {max(v):7.2f} ms"
    )


def decode_steps_for(cache_dir: Path, seconds: float) -> int:
    """Decode steps of a ``seconds`` take on the debug checkpoint."""
    from engine import checkpoint
    from engine.spec import GenerationSpec
    from engine.windows import total_steps

    loaded = checkpoint.load("debug", cache_dir, device="cpu")
    return total_steps(loaded, GenerationSpec(prompt="x", out_dir=cache_dir, seconds=seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--requests", type=int, default=5, help="requests per client (default 5)")
    parser.add_argument("--seconds", type=float, default=0.5, help="take length (default 0.5)")
    parser.add_argument("--queries", type=int, default=50, help="ping/status samples (default 50)")
    parser.add_argument("--max-queue", type=int, default=16, help="engine --max-queue")
    parser.add_argument(
        "--threads", type=int, default=0, help="OMP_NUM_THREADS for the engine (0: torch default)"
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds per awaited reply")
    args = parser.parse_args(argv)

    from engine.debug_checkpoint import ensure_debug_checkpoint

    work = Path(tempfile.mkdtemp(prefix="musicgen-load-"))
    cache = work / "cache"
    ensure_debug_checkpoint(cache)
    out = work / "takes"
    out.mkdir()
    env = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else None
    t0 = time.monotonic()
    engine = start_engine(cache, work, "--max-queue", str(args.max_queue), env=env)
    startup = time.monotonic() - t0
    address = (engine.host, engine.port)
    try:
        # 1. many clients
        t0 = time.monotonic()
        results = run_clients(
            address,
            args.clients,
            args.requests,
            lambda c, r: {"prompt": f"load {c} {r}", "seconds": args.seconds, "out_dir": str(out)},
            timeout=args.timeout,
        )
        wall = time.monotonic() - t0
        kinds = terminal_kinds(results)
        per_id = Counter(sum(1 for r in rs if r[1] in TERMINAL) for rs in results.values())
        sent = args.clients * args.requests
        lost = sent - len(results) + per_id.get(0, 0)
        duplicated = sum(n - 1 for n in per_id.elements() if n > 1)

        # 2. queries while a long take runs; 3. cancel it
        latencies: dict[str, list[float]] = {"ping": [], "status": []}
        with Peer(address) as peer:
            peer.send("generate", "long", prompt="long", seconds=LONG_TAKE_S, out_dir=str(out))
            peer.until("long", {f"{P}/progress"}, timeout=args.timeout)
            for i in range(args.queries):
                kind = "ping" if i % 2 else "status"
                sent_at = peer.send(kind, f"q{i}")
                at, _, _ = peer.until(f"q{i}", {f"{P}/pong", f"{P}/status"}, args.timeout)
                if not peer.terminals("long"):
                    latencies[kind].append(at - sent_at)
            deadline = time.monotonic() + args.timeout
            while (  # two progress replies apart, to estimate the decode step time
                len(peer.seen("long", {f"{P}/progress"})) < 4
                and not peer.terminals("long")
                and time.monotonic() < deadline
            ):
                peer.pump(deadline - time.monotonic(), first_only=True)
            cancel_sent = peer.send("cancel", "c", job="long")
            at, end, reply = peer.until("long", TERMINAL, timeout=args.timeout)
            cancel_s = at - cancel_sent
            progress = [(t, a[0]) for t, addr, a in peer.seen("long", {f"{P}/progress"})]
            progress = [(t, f) for t, f in progress if f > 0]
        total_steps = decode_steps_for(cache, LONG_TAKE_S)
        step_s = None
        if len(progress) >= 2 and progress[-1][1] > progress[0][1]:
            (ta, fa), (tb, fb) = progress[0], progress[-1]
            step_s = (tb - ta) / ((fb - fa) * total_steps)
        leftovers = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    finally:
        code = stop_engine(engine)

    print()
    print(f"engine: debug checkpoint, startup {startup:.1f} s, exit code {code}")
    omp = args.threads or "default"
    print(f"        OMP_NUM_THREADS={omp}, {os.cpu_count()} CPUs, max_queue {args.max_queue}")
    print(f"load: {args.clients} clients x {args.requests} requests of {args.seconds:g} s")
    print(f"{'requests sent':<34} {sent}")
    for kind, n in sorted(kinds.items()):
        print(f"{'terminal replies: ' + kind:<34} {n}")
    print(f"{'lost (no terminal reply)':<34} {lost}")
    print(f"{'duplicated terminal replies':<34} {duplicated}")
    print(f"{'wall time':<34} {wall:.2f} s ({sent / wall:.1f} requests/s)")
    print(ms_row("ping while generating", latencies["ping"]))
    print(ms_row("status while generating", latencies["status"]))
    print(ms_row("ping+status while generating", latencies["ping"] + latencies["status"]))
    steps = f"~{cancel_s / step_s:.1f} decode steps of {step_s * 1e3:.2f} ms" if step_s else "n/a"
    print(
        f"{'cancel -> error reply':<34} {cancel_s * 1e3:.2f} ms ({steps}); "
        f"reply {end.rsplit('/', 1)[-1]} {reply[0]}"
    )
    print(f"{'hidden files left in out_dir':<34} {len(leftovers)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
