"""How fast each kernel reads a decoder weight, against summing the same bytes.

For each of small's weight shapes, 24 distinct random weights (so they stream
from memory as in a step, not from the cache) are multiplied in turn by
``--rows`` rows with oneDNN's prepacked product (``linears.packed_product``) and
with ``F.linear``, and summed (``Tensor.sum``, the plainest read of the same
bytes); then one 512 MiB float32 sum, as ``speed.py`` measures the floor.
Each figure is GB/s over the median of ``--repeat`` rounds.

    python benchmarks/product_read.py --threads 2

A script, never a test: it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: small's per-step weight shapes (out, in): fc1, fc2, fused q/k/v, the D x D ones.
SHAPES = ((4096, 1024), (1024, 4096), (3072, 1024), (1024, 1024))
LAYERS = 24


def _median_seconds(call, repeat: int) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=2, help="rows a product multiplies")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from benchmarks.speed import machine_line
    from engine.decoders.linears import packed_product

    torch.set_num_threads(args.threads)
    print(machine_line("cpu"))
    print(f"# torch {torch.__version__}; {args.rows} rows; GB/s over the median of {args.repeat}")
    print(f"{'weight':<12} {'dtype':<9} {'oneDNN':>8} {'F.linear':>9} {'sum':>7}")
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for out_features, in_features in SHAPES:
            for dtype in (torch.bfloat16, torch.float32):
                weights = [
                    torch.randn(out_features, in_features, generator=gen).to(dtype)
                    for _ in range(LAYERS)
                ]
                packed = [torch.ops.mkldnn._reorder_linear_weight(w, args.rows) for w in weights]
                x = torch.randn(args.rows, in_features, generator=gen).to(dtype)
                gb = LAYERS * weights[0].numel() * weights[0].element_size() / 1e9

                def onednn(packed=packed, x=x) -> None:
                    for w in packed:
                        packed_product(x, w, None)

                def plain(weights=weights, x=x) -> None:
                    for w in weights:
                        F.linear(x, w)

                def summed(weights=weights) -> None:
                    for w in weights:
                        w.sum()

                rates = [gb / _median_seconds(f, args.repeat) for f in (onednn, plain, summed)]
                name = f"{out_features}x{in_features}"
                print(f"{name:<12} {str(dtype)[6:]:<9} " + " ".join(f"{r:8.1f}" for r in rates))
                del weights, packed
        big = torch.randn(128 << 20, generator=gen)
        rate = big.numel() * 4 / 1e9 / _median_seconds(big.sum, 10)
        print(f"# one 512 MiB float32 sum (speed.py's floor): {rate:.1f} GB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
