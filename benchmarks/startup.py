"""Load figures for issue 28: the weights' SHA-256 with and without its cache.

Builds a random-weight checkpoint at a real size (``--size``: small's decoder,
24 x 1024, T5-base text encoder; benchmarks/speed.py's ``build_model``), saves
it as a local folder in Hugging Face format (a local folder's weights are hashed
for the sidecar; a Hub snapshot's are not), then loads it through
``Engine.load`` with a fresh cache (the weights hashed) and again with the cache
that load left (not hashed), alternating, ``--repeat`` times each.  Also times
the hash alone and the loader alone (``checkpoint.load``).

The page cache is warm after the first read: these are load times from memory,
not from disk, on both sides of the comparison.

Usage: python benchmarks/startup.py --size small --repeat 3
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_folder(size: str, folder: Path) -> Path:
    """A real-size random checkpoint saved in ``folder`` (config, safetensors, tokenizer)."""
    from benchmarks.speed import build_model
    from engine.debug_checkpoint import _tokenizer

    loaded = build_model(size, text_vocab=256)
    loaded.model.save_pretrained(folder)
    _tokenizer().save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", help="small, medium, large (default small)")
    parser.add_argument("--repeat", type=int, default=3, help="loads of each kind (default 3)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: engine default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from engine import checkpoint, provenance
    from engine.api import Engine, EngineSettings

    work = Path(tempfile.mkdtemp(prefix="musicgen-startup-"))
    try:
        t0 = time.perf_counter()
        folder = build_folder(args.size, work / "checkpoint")
        built = time.perf_counter() - t0
        [weights] = provenance.weights_files(folder)
        gigabytes = weights.stat().st_size / 1e9

        def engine_load(cache: Path) -> float:
            settings = EngineSettings(
                cache_dir=cache,
                device="cpu",
                dtype="float32",
                warmup=False,
                threads=args.threads,
                cpu_precision="float32",
                cpu_kernel="module",
                cuda_graphs=False,
            )
            engine = Engine(settings)
            t0 = time.perf_counter()
            engine.load(str(folder))
            seconds = time.perf_counter() - t0
            engine.unload()
            return seconds

        fresh, cached, hashes, loader = [], [], [], []
        for i in range(args.repeat):
            cache = work / f"cache{i}"
            fresh.append(engine_load(cache))  # hashes, and remembers it in cache
            cached.append(engine_load(cache))  # finds it remembered
            t0 = time.perf_counter()
            provenance.sha256_file(weights)  # no cache: the hash alone
            hashes.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            checkpoint.load(str(folder), work / "unused", device="cpu", dtype="float32")
            loader.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def row(name: str, values: list[float]) -> str:
        shown = " ".join(f"{v:.2f}" for v in values)
        return f"{name:<44} median {statistics.median(values):6.2f} s   ({shown})"

    import torch

    print()
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads; torch {torch.__version__}"
    )
    print(
        f"checkpoint: random {args.size}, weights {gigabytes:.2f} GB float32, "
        f"built in {built:.1f} s"
    )
    print(row("Engine.load, no hash remembered", fresh))
    print(row("Engine.load, hash remembered", cached))
    print(row("SHA-256 of the weights alone", hashes))
    print(row("checkpoint.load alone (no hash)", loader))
    saved = statistics.median(fresh) - statistics.median(cached)
    print(f"the cache saves {saved:.2f} s of a {statistics.median(fresh):.2f} s load")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
