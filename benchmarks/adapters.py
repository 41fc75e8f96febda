"""What a LoRA adapter adds to a load: base against base+adapter (the merge cost).

For each size, a random-weight checkpoint in the real on-disk format and a
random LoRA adapter of it saved by peft (``get_peft_model`` on the whole model,
musicgen-dreamboothing's target modules, ``r`` 16 as it trains), then loads,
alternating, ``BASE`` and ``BASE+ADAPTER`` on the CPU in float32, two ways:

- ``checkpoint``: ``checkpoint.load`` alone.  The base's safetensors are
  mapped, not read, so the base's figure leaves out reading its weights,
  which the merge has to do (it writes every adapted weight).
- ``engine``: ``Engine.load`` as ``serve --no-warmup --cpu-precision float32``
  (a fresh engine each time; the kernel choice measured once beforehand):
  the load, then the CPU kernel's prepacking, which reads every decoder
  weight for both.

Each row: median, min and max of ``--repeat`` loads, and the ratio of the
medians.

- ``debug``: the built-in tiny checkpoint (2 layers of 16).
- ``small``: musicgen-small's decoder shape (24 layers of 1024, a T5-base text
  encoder, a tiny codec: benchmarks/speed.py's build_model), saved to a
  temporary folder (~1.7 GB on disk while it runs).

Usage: python benchmarks/adapters.py --sizes debug,small --repeat 5
This is a script, never a test; it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RANK = 16
TARGETS = ["enc_to_dec_proj", "k_proj", "v_proj", "q_proj", "out_proj", "fc1", "fc2"]


def base_folder(size: str, work: Path, cache: Path) -> str:
    """A checkpoint to load by name: ``debug``, or a saved random small-size folder."""
    from engine.debug_checkpoint import ensure_debug_checkpoint

    debug = ensure_debug_checkpoint(cache)
    if size == "debug":
        return "debug"
    from benchmarks.speed import build_model

    folder = work / f"random-{size}"
    loaded = build_model(size, text_vocab=64)  # the debug tokenizer's vocabulary
    loaded.model.save_pretrained(folder)
    for tokenizer_file in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (debug / tokenizer_file).is_file():
            shutil.copy(debug / tokenizer_file, folder)
    return str(folder)


def save_adapter(base: str, cache: Path, folder: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from engine import checkpoint

    torch.manual_seed(0)
    model = checkpoint.load(base, cache, device="cpu", dtype="float32").model
    heads = len(model.decoder.lm_heads)
    targets = TARGETS + [f"lm_heads.{i}" for i in range(heads)]
    targets += [f"embed_tokens.{i}" for i in range(heads)]
    config = LoraConfig(r=RANK, lora_alpha=RANK, target_modules=targets, init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(str(folder), save_embedding_layers=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="debug,small", help="debug and/or small")
    parser.add_argument("--repeat", type=int, default=5, help="loads of each (default 5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    from benchmarks.speed import machine_line
    from engine import adapters, checkpoint
    from engine.api import Engine, EngineSettings

    print(machine_line("cpu"))
    print(f"# peft LoRA r={RANK}; checkpoint.load on cpu, float32; {args.repeat} loads each")
    print(f"{'size':<6} {'how':<10} {'load':<14} {'median s':>9} {'min':>7} {'max':>7}  ratio")
    for size in args.sizes.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"musicgen-adapters-{size}-"))
        try:
            cache = work / "cache"
            base = base_folder(size, work, cache)
            save_adapter(base, cache, work / "adapter")
            named = adapters.join(base, str(work / "adapter"))
            settings = EngineSettings(
                cache, device="cpu", warmup=False, cpu_precision="float32", keep_models=1
            )
            Engine(settings).load(base)  # the kernel choice, measured once and cached

            def by_engine(name: str, settings: EngineSettings = settings) -> None:
                Engine(settings).load(name)

            def by_checkpoint(name: str, cache: Path = cache) -> None:
                checkpoint.load(name, cache, device="cpu", dtype="float32")

            params = sum(p.numel() for p in checkpoint.load(base, cache, "cpu").model.parameters())
            for how, load in (("checkpoint", by_checkpoint), ("engine", by_engine)):
                times: dict[str, list[float]] = {"base": [], "base+adapter": []}
                for _ in range(args.repeat):
                    for label, name in (("base", base), ("base+adapter", named)):
                        start = time.perf_counter()
                        load(name)
                        times[label].append(time.perf_counter() - start)
                        gc.collect()
                medians = {k: statistics.median(v) for k, v in times.items()}
                for label, values in times.items():
                    ratio = medians[label] / medians["base"]
                    print(
                        f"{size:<6} {how:<10} {label:<14} {medians[label]:9.3f} "
                        f"{min(values):7.3f} {max(values):7.3f}  {ratio:.2f}x"
                    )
                print(
                    f"# {size}, {how}: {params / 1e6:.1f} M parameters; the adapter adds "
                    f"{medians['base+adapter'] - medians['base']:.3f} s (median difference)"
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    del torch
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
