"""How good status's estimate of the time left is, and what a status read costs.

Runs one take on the debug checkpoint in this process (the real engine and job
queue, no sockets) and reads the queue's status snapshot every ``--every``
seconds while it runs.  For each read it prints the take's progress, the
time so far and the estimate, and the decode end the estimate predicts;
once the take is done, how far each prediction was from the real end (the
time of its last decode step, what ``eta_s`` estimates: writing the files
comes after).  Then the median time one snapshot takes (what a status or a
ping costs the receiving thread).

Usage: python benchmarks/status_eta.py [--seconds 120] [--every 0.25] [--model debug]
This is a script, never a test; it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Listener:
    """Records when the take's decoding ended (its progress 1.0) and when it was done."""

    def __init__(self) -> None:
        self.decoded: float | None = None
        self.finished = threading.Event()

    def progress(self, job, fraction, stage) -> None:
        if fraction >= 1.0 and self.decoded is None:
            self.decoded = time.monotonic()

    def done(self, job, paths, warnings=()) -> None:
        self.finished.set()

    def failed(self, job, error) -> None:
        print(f"the take failed: {error.code} {error.message}")
        self.finished.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the take")
    parser.add_argument("--every", type=float, default=0.25, help="seconds between reads")
    parser.add_argument("--model", default="debug")
    args = parser.parse_args()

    from bridge.job_record import Job
    from bridge.jobs import JobQueue
    from engine.api import Engine, EngineSettings
    from engine.spec import GenerationSpec

    work = Path(tempfile.mkdtemp(prefix="status-eta-"))
    engine = Engine(EngineSettings(cache_dir=work / "cache", device="cpu"))
    engine.load(args.model)
    listener = Listener()
    queue = JobQueue(engine, listener, startup_model=args.model)
    queue.start()
    while queue.snapshot().state == "loading":
        time.sleep(0.05)
    from benchmarks.speed import machine_line

    print(f"{machine_line('cpu')}; model {args.model}, a {args.seconds:g} s take")
    spec = GenerationSpec(prompt="status eta", out_dir=work, seconds=args.seconds, seed=1)
    start = time.monotonic()
    queue.submit(Job("eta", spec, ("127.0.0.1", 9)))
    reads: list[tuple[float, float, float]] = []  # (at, progress, eta)
    costs: list[float] = []
    while not listener.finished.is_set():
        t0 = time.perf_counter()
        now = queue.snapshot()
        costs.append(time.perf_counter() - t0)
        if now.jobs and now.jobs[0].eta_s is not None and listener.decoded is None:
            view = now.jobs[0]
            reads.append((time.monotonic() - start, view.progress, view.eta_s))
        time.sleep(args.every)
    queue.shutdown()
    if listener.decoded is None:
        return 0
    end = listener.decoded - start
    print(f"decoding ended {end:.2f} s after the request; done {time.monotonic() - start:.2f} s")
    print(" at (s)  progress  eta (s)  predicted end (s)  error (s)")
    errors = []
    for at, progress, eta in reads:
        error = at + eta - end
        errors.append((progress, abs(error)))
        print(f"{at:7.2f}  {progress:8.1%}  {eta:7.2f}  {at + eta:17.2f}  {error:+9.2f}")
    for low in (0.1, 0.5):
        late = [e for p, e in errors if p >= low]
        if late:
            print(
                f"from {low:.0%} done: mean |error| {statistics.mean(late):.2f} s "
                f"({statistics.mean(late) / end:.1%} of the decode), worst {max(late):.2f} s"
            )
    print(
        f"one status snapshot: median {statistics.median(costs) * 1e6:.0f} us ({len(costs)} reads)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
