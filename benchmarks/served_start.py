"""Start-up, the first take and clients sending at once, served (issue 28).

Starts ``musicgen-bridge serve`` (the tests' own start_engine, loopback) with
each ``--capture`` mode (and each ``--gather-ms`` window, if given), times it
from the start to ``ping`` answering ``ready``, then sends ``--takes``
requests of ``--seconds`` one after another and times each request to
``done`` (a lone request: what the gather window must not cost); then prints
the engine log's lines that say where the load and the first take went (the
weights' hash, the graphs, the warm-up's parts, the first run after the load).
The engine's cache is fresh for each start unless ``--keep-cache`` (then only
the first start hashes the weights).

With ``--clients N``, then ``--bursts`` times: N clients (each its own socket
and thread, released together by a barrier) send one take each at once; it
prints each request's time to ``done``, when all were done, and how the takes
were grouped into runs (from the engine log: ``2+6`` is a run of 2, then one
of 6), per ``--gather-ms`` window.

Usage, on a CUDA machine (a checkpoint folder, e.g. .device-wheels/small_checkpoint.py's):

    python benchmarks/served_start.py --model /tmp/ck-small --device cuda --capture now,background
    python benchmarks/served_start.py --model /tmp/ck-small --device cuda --capture now \
        --gather-ms 0,2,5,10,20 --clients 8 --bursts 3

Without a GPU it runs as well (``--model debug --device cpu``), which checks the
script: there are no graphs to capture and the figures are this machine's.
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import threading
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
    "shares its run",
    "gather window",
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
    parser.add_argument(
        "--gather-ms",
        default="",
        help="serve --gather-ms windows to start with, e.g. 0,2,5,10,20 (default: serve's own)",
    )
    parser.add_argument("--clients", type=int, default=0, help="clients sending at once (0: none)")
    parser.add_argument("--bursts", type=int, default=3, help="times the clients send (default 3)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="musicgen-start-"))
    rows = []
    burst_rows = []
    windows = args.gather_ms.split(",") if args.gather_ms else [""]
    configs = [(mode, gather) for mode in args.capture.split(",") for gather in windows]
    try:
        for n, (mode, gather) in enumerate(configs):
            cache = work / ("cache" if args.keep_cache else f"cache{n}")
            flags = ["--device", args.device, "--graph-capture", mode, *args.extra.split()]
            flags += ["--gather-ms", gather] if gather else []
            flags += ["--max-batch", str(args.clients)] if args.clients > 8 else []
            t0 = time.monotonic()
            engine = start_engine(cache, work, *flags, model=args.model)
            ready = time.monotonic() - t0
            times = []
            try:
                out = work / f"takes-{n}"
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
                            },
                            request_id=f"lone{i}",
                        )
                        times.append(time.monotonic() - t1)
                bursts = [
                    burst(engine, args, out / f"burst{b}", f"b{b}c") for b in range(args.bursts)
                ]
                log = engine.log()
            finally:
                stop_engine(engine)
            lone_waited = len(re.findall(r"job lone\d+ .*\(gathered for", log))
            rows.append((mode, gather, ready, times, lone_waited))
            if args.clients:
                burst_rows.append((mode, gather, [(*b, runs_of(log, b[2])) for b in bursts]))
            print(f"\n# serve --graph-capture {mode} {' '.join(flags[4:])}: the engine log says")
            for line in log.splitlines():
                if any(word in line for word in TELLING):
                    print("  " + line.strip()[:220])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nmodel {args.model}, device {args.device}, {args.seconds:g} s takes, request to done")
    print(f"{'capture':<12}{'gather ms':>10}{'ready s':>9}  lone takes in order (s), that waited")
    for mode, gather, ready, times, waited in rows:
        shown = gather or "default"
        each = " ".join(f"{t:.3f}" for t in times)
        print(f"{mode:<12}{shown:>10}{ready:>9.2f}  {each}, {waited} waited")
    if burst_rows:
        print(
            f"\n{args.clients} clients at once, {args.bursts} bursts each: all done (s), "
            "runs in order, each request to done (min / median / max, s)"
        )
        print(
            "| capture | gather ms | all done s (each burst) | runs (each burst) | "
            "request to done s, all bursts: min / median / max | in one run | "
            "all done s, median |"
        )
        print("|---|---:|---|---|---|---:|---:|")
        for mode, gather, bursts in burst_rows:
            each = [t for b in bursts for t in b[1]]
            whole = sum(1 for b in bursts if b[3] == str(args.clients))
            print(
                f"| {mode} | {gather or 'default'} | "
                + " ".join(f"{b[0]:.3f}" for b in bursts)
                + " | "
                + " ".join(b[3] for b in bursts)
                + f" | {min(each):.3f} / {statistics.median(each):.3f} / {max(each):.3f}"
                + f" | {whole}/{len(bursts)} | {statistics.median(b[0] for b in bursts):.3f} |"
            )
    return 0


def burst(engine, args, out: Path, prefix: str) -> tuple[float, list[float], list[str]]:
    """``--clients`` clients send one take each at once; returns when all were done
    (s from the barrier), each request's time to done (s), and their ids."""
    out.mkdir()
    ids = [f"{prefix}{i}" for i in range(args.clients)]
    each: dict[str, float] = {}
    failed: list[str] = []
    gate = threading.Barrier(args.clients + 1)

    def client(i: int) -> None:
        with engine.client(timeout=args.timeout) as c:
            fields = {"prompt": f"jazz piano {i}", "seconds": args.seconds, "seed": i}
            gate.wait()
            t1 = time.monotonic()
            try:
                c.generate({**fields, "out_dir": str(out)}, request_id=ids[i])
            except Exception as exc:  # a script: say so and go on
                failed.append(f"{ids[i]}: {exc}")
            each[ids[i]] = time.monotonic() - t1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    t0 = time.monotonic()
    for thread in threads:
        thread.join()
    for line in failed:
        print("  failed " + line)
    return time.monotonic() - t0, [each[i] for i in ids], ids


def runs_of(log: str, ids: list[str]) -> str:
    """How the jobs ``ids`` were grouped into runs, in the order the runs ended: "2+6"."""
    group = {job: job for job in ids}
    for head, rest in re.findall(r"job (\S+) shares its run with ([^(\n]+)", log):
        for job in rest.strip().split(", "):
            if job in group:
                group[job] = head
    order: list[str] = []
    for job in re.findall(r"job (\S+) done in", log):
        if job in group and group[job] not in order:
            order.append(group[job])
    sizes = [sum(1 for job in ids if group[job] == head) for head in order]
    return "+".join(map(str, sizes)) if sizes else "?"


if __name__ == "__main__":
    raise SystemExit(main())
