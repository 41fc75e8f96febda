"""Registers and spills of the fused step's kernels, compiled for a GPU without one.

Compiles every kernel variant the fused step launches
(``engine.decoders.triton_kernels.compile_variants``) for a CUDA architecture
and runs the ptxas Triton ships with ``-v`` on each kernel's PTX, printing the
registers a thread uses and the bytes spilled to local memory: static facts of
the binaries, the first thing to look at when choosing tile sizes, and
measurable on any Linux machine with Triton (no GPU, no CUDA toolkit).  Times
need a GPU (benchmarks/fused_step.py).

Usage: python benchmarks/fused_kernels_ptxas.py --arch 90 --dtypes fp16,bf16
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def ptxas_facts(ptxas: str, ptx: str, arch: int) -> str:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "kernel.ptx"
        source.write_text(ptx)
        done = subprocess.run(
            [ptxas, "-v", "--gpu-name", f"sm_{arch}a", str(source), "-o", os.devnull],
            capture_output=True,
            text=True,
        )
    text = done.stderr
    registers = re.search(r"Used (\d+) registers", text)
    spilled = re.search(r"(\d+) bytes spill stores", text)
    if registers is None:
        return f"ptxas failed: {text.strip()[-200:]}"
    return (
        f"{registers.group(1):>4} registers {spilled.group(1) if spilled else '?':>6} bytes spilled"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, default=90, help="CUDA architecture (default 90)")
    parser.add_argument("--dtypes", default="fp16", help="fp16,bf16,fp32 (default fp16)")
    args = parser.parse_args(argv)
    os.environ.pop("TRITON_INTERPRET", None)  # the kernels must be defined for compiling
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

    import triton

    from engine.decoders.triton_kernels import compile_variants

    bin_dir = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    ptxas = next(
        (str(p) for p in (bin_dir / "ptxas-blackwell", bin_dir / "ptxas") if p.exists()), "ptxas"
    )
    print(f"# triton {triton.__version__}, sm_{args.arch}a, {ptxas}")
    for dtype in args.dtypes.split(","):
        for name, kernel in compile_variants(args.arch, dtype):
            print(f"{dtype:<5} {name:<28} {ptxas_facts(ptxas, kernel.asm['ptx'], args.arch)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
