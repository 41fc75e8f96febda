"""torch.compile of the decode step on the CPU against the engine's eager step, one run.

The eager step is the engine's (``engine.decoders.loop``, the oneDNN kernel
and fused q/k/v as ``kernels.apply_kernel`` gives them).  The compiled step is
the static step (``engine.decoders.step_graph.static_step``: every shape fixed,
so one compilation serves every step of a take) compiled by inductor over the
checkpoint's own ``nn.Linear`` layers (with ``--freezing``, inductor packs
the weights for oneDNN itself).  Printed per mode: the compile time (the first
take's extra seconds), steps/s of the eager and compiled steps (their runs
interleaved, the median of ``--repeat``), the ratio, and the largest
difference of the compiled step's teacher-forced logits from the eager one's
relative to the largest logit (the agreement rule of tests/agreement.py).

    python benchmarks/compile_step.py --dtypes float32,bfloat16 --modes default --freezing

Random weights at small's real shapes (benchmarks/speed.py's build_model).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


class CompiledSteps:
    """A ``PreparedSteps`` whose one runner runs ``step`` (the compiled static step)."""

    def __init__(self, loaded: Any, rows: int, length: int, text: int, compiled: Any) -> None:
        from engine.decoders.layers import LayerStack
        from engine.decoders.step_graph import StepBuffers, StepRunner

        self.model = loaded.model
        stack = LayerStack(loaded)
        buffers = StepBuffers.allocate(stack, rows, length, text, loaded.is_melody)
        self.lock = threading.Lock()
        self.runner = StepRunner(stack, buffers, self.lock)
        self.runner.run_eager = functools.partial(compiled, stack, buffers)  # type: ignore[method-assign]
        self.rows, self.length, self.text = rows, length, text

    def claim(self, rows: int, length: int, text_tokens: int) -> Any:
        if rows != self.rows or length > self.length or text_tokens > self.text:
            return None
        return self.runner if self.lock.acquire(blocking=False) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--modes", default="default", help="default,max-autotune-no-cudagraphs")
    parser.add_argument("--freezing", action="store_true", help="inductor's freezing")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    import torch._inductor.config as inductor_config
    from speed import build_model

    from engine.decoders.contract import DecodeInputs, forced_logits
    from engine.decoders.kernels import apply_kernel
    from engine.decoders.loop import fast_decode
    from engine.decoders.step_graph import static_step
    from engine.sampling import Sampling

    torch.set_num_threads(args.threads)
    inductor_config.freezing = args.freezing
    print(f"# torch {torch.__version__}, {args.threads} threads, load {os.getloadavg()}")
    print(f"# {args.size}, batch {args.batch}, guidance 3, top-k 250, {args.steps} steps timed")
    sampling = Sampling(top_k=250)
    text = 16
    ids = torch.randint(3, 1000, (args.batch, text), generator=torch.Generator().manual_seed(0))
    inputs = DecodeInputs(ids, torch.ones_like(ids), guidance=3.0)
    frames = args.steps

    def timed(loaded: Any, graphs: Any) -> float:
        stamps: list[float] = []
        stamp = lambda: stamps.append(time.perf_counter())  # noqa: E731
        fast_decode(loaded, inputs, frames, sampling, range(args.batch), stamp, graphs=graphs)
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        return 1 / statistics.median(gaps)

    for dtype in args.dtypes.split(","):
        eager = build_model(args.size, "cpu", dtype)
        apply_kernel(eager, "onednn", fuse=True)
        plain = build_model(args.size, "cpu", dtype)  # inductor's own weight handling
        apply_kernel(plain, "module", fuse=True)
        rows = 2 * args.batch
        length = 1 + frames + 3 + 16
        for mode in args.modes.split(","):
            torch._dynamo.reset()
            compiled = torch.compile(static_step, mode=None if mode == "default" else mode)
            steps = CompiledSteps(plain, rows, length, text, compiled)
            start = time.perf_counter()
            timed(eager, None)
            eager_first = time.perf_counter() - start
            start = time.perf_counter()
            timed(plain, steps)
            compile_s = time.perf_counter() - start - eager_first
            rates: dict[str, list[float]] = {"eager": [], "compiled": []}
            for _ in range(args.repeat):
                rates["eager"].append(timed(eager, None))
                rates["compiled"].append(timed(plain, steps))
            want = fast_decode(eager, inputs, frames, Sampling(greedy=True), [0] * args.batch)
            reference = forced_logits(fast_decode, eager, inputs, want)
            got = forced_logits(fast_decode, plain, inputs, want, graphs=steps)
            error = float((got - reference).abs().max()) / max(1.0, float(reference.abs().max()))
            e, c = (statistics.median(rates[k]) for k in ("eager", "compiled"))
            print(
                f"{dtype:<9} {mode:<28} freezing={args.freezing!s:<5} compile {compile_s:6.1f} s"
                f"  eager {e:6.2f}/s  compiled {c:6.2f}/s  x{c / e:.2f}  max|dl|/max {error:.2e}"
            )
            del steps, compiled
        del eager, plain
    print(f"# load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
