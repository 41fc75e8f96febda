"""How long `models` takes on a large Hugging Face cache (engine.catalog).

Builds a synthetic cache laid out as huggingface_hub writes it (blobs, a
snapshot of relative links per revision, refs/main): ``--repos`` MusicGen repos
with ``--revisions`` snapshots each (12 files a snapshot, as a real MusicGen
snapshot has), plus as many non-MusicGen repos.  Files are sparse, so the
figures are the file system walk and the config reads, not the disk.

Prints, each the median of ``--repeat`` runs:
- cold: a fresh Catalog (what the first `models` after start-up costs);
- warm: the remembered scan, checking the folders' mtimes only (every later
  `models` while nothing changed);
- huggingface_hub's scan_cache_dir over the same cache, for comparison (it
  sizes every repo, MusicGen or not).

Usage: python benchmarks/catalog.py [--repos 25] [--revisions 2] [--repeat 5]
This is a script, never a test; it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILES = [
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "spiece.model",
    "model.safetensors",
    "added_tokens.json",
    "README.md",
    ".gitattributes",
    "compression_state.json",
]


def build(root: Path, repos: int, revisions: int) -> int:
    snapshots = 0
    for r in range(repos * 2):
        musicgen = r < repos
        repo = root / f"models--org{r}--{'musicgen' if musicgen else 'bert'}-{r}"
        (repo / "blobs").mkdir(parents=True)
        (repo / "refs").mkdir()
        for v in range(revisions):
            commit = f"{r:020x}{v:020x}"
            snap = repo / "snapshots" / commit
            snap.mkdir(parents=True)
            for i, name in enumerate(FILES):
                blob = repo / "blobs" / f"{commit}{i:04d}"
                with open(blob, "wb") as f:
                    if name == "config.json":
                        f.write(
                            json.dumps({"model_type": "musicgen" if musicgen else "bert"}).encode()
                        )
                    else:
                        f.truncate(2_000_000_000 if name == "model.safetensors" else 4096)
                os.symlink(os.path.relpath(blob, snap), snap / name)
            snapshots += musicgen
            (repo / "refs" / "main").write_text(commit)
    then = time.time() - 60  # a settled cache (engine.catalog trusts mtimes older than 2 s)
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        os.utime(folder, (then, then))
    return snapshots


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=25)
    parser.add_argument("--revisions", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from engine.catalog import Catalog

    with tempfile.TemporaryDirectory() as tmp:
        hub = Path(tmp) / "hub"
        snapshots = build(hub, args.repos, args.revisions)
        print(
            f"cache: {snapshots} MusicGen snapshots ({args.repos} repos x {args.revisions}) "
            f"+ {snapshots} other, {len(FILES)} files each"
        )
        cold = median_ms(lambda: Catalog(None).entries(hub), args.repeat)
        warm_catalog = Catalog(None)
        entries = warm_catalog.entries(hub)
        warm = median_ms(lambda: warm_catalog.entries(hub), args.repeat)
        print(f"entries listed: {len(entries)}")
        print(f"cold scan (first `models`):     {cold:8.2f} ms")
        print(f"warm (remembered, mtimes only): {warm:8.2f} ms")
        try:
            from huggingface_hub import scan_cache_dir

            hub_ms = median_ms(lambda: scan_cache_dir(hub), args.repeat)
            print(f"huggingface_hub scan_cache_dir: {hub_ms:8.2f} ms")
        except ImportError:
            print("huggingface_hub not installed: scan_cache_dir not timed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
