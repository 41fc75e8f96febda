"""Decode speed: transformers' generate (reference_decode) against the engine's fast_decode.

Builds MusicGen checkpoints of the real sizes in memory with random weights
(the decoder shapes of facebook/musicgen-small, -medium, -large; a T5-base text
encoder, as all three use), then times both decoders with the same settings:
guidance 3, top-k 250, ``--seconds`` of audio (50 frames a second, plus the 3
steps of the delay pattern).  Random weights decode at the speed of real ones:
the work of a step depends only on the shapes.

Each row is the median of ``--repeat`` runs, interleaved with the other rows
of its dtype (A B A B ...); a run's rate is its median step, so a burst of
other work on a shared machine does not count.  ``--steps N`` times
only the first N steps and extrapolates the take (setup + steps x median step;
the header says so): attention over the growing cache is a small part of a
step at these sizes, so this flatters both paths slightly and alike.

``--kernels`` gives the CPU Linear kernels to compare (engine.decoders.kernels:
``module`` is the checkpoint's nn.Linear, ``onednn`` the weights prepacked
for oneDNN, what the engine picks where it measures fastest).  The run also
measures the machine's read bandwidth (before and after) and prints each
row's floor: the step's weight bytes over that bandwidth, and its share of it.

Usage:
    python benchmarks/speed.py --sizes small --dtypes float32,bfloat16,int8 \\
        --batches 1,4 --steps 30
    python benchmarks/speed.py --sizes small,medium,large --device cuda \\
        --paths reference,fast,static,graphed
    python benchmarks/speed.py --sizes small --dtypes bfloat16,int8 --faithfulness 60

Paths: ``reference`` = transformers generate; ``fast`` = the engine's loop
with its eager step; ``static`` = the engine's loop through the static step of
``engine.decoders.step_graph``, run eagerly (any device); ``graphed`` = the same step
replayed as a CUDA graph, prepared as the engine prepares it at load (CUDA
only: elsewhere the path is skipped with a note); ``fused`` = the fused step in
Triton kernels (engine.decoders.fused_step), replayed as a CUDA graph (CUDA
only; dropped, with the log's warning, where it disagrees).  All take the engine's
30 s window cache unless ``--graph-frames`` says otherwise; preparing (and
capturing) is done before timing, as the engine does it at load.

Columns: size, path, dtype (int8, int8-dynamic: float32 through
engine.decoders.precision.prepare_for_cpu), batch,
steps/s, seconds to decode ``--seconds`` of audio, realtime factor (audio
seconds made per wall second, all takes of the batch together), peak memory
(CUDA: max_memory_allocated; CPU: the largest resident set seen, weights
included), and the speedup over reference in the first dtype at the same batch.

``--faithfulness N`` prints, instead of times, how far each dtype's logits are
from float32's over N steps (see docs/performance.md for what the columns mean).

This is a script, never a test; it prints tables and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Decoder shapes of the released checkpoints (layers, hidden, heads, ffn).
SIZES = {
    "small": (24, 1024, 16, 4096),
    "medium": (48, 1536, 24, 6144),
    "large": (48, 2048, 32, 8192),
    # small's 24 layers at width 64 (one head of 64): next to no arithmetic or
    # bytes, so a step's time is its fixed cost (calls, dispatch, small ops).
    "thin": (24, 64, 1, 256),
}


def build_model(
    size: str, device: str = "cpu", dtype: str = "float32", text_vocab: int = 32128, seed: int = 0
) -> Any:
    """A random-weight MusicGen of a real size, as an engine ``LoadedModel``.

    The decoder has the released checkpoint's shape; the text encoder is T5-base
    (12 layers, d_model 768, 12 heads, d_ff 3072), projected to the decoder's
    width as in the real checkpoints; the audio codec is a tiny EnCodec with
    the real timing (32 kHz, 50 frames a second, 4 codebooks of 2048): decoding
    tokens to audio is not timed here.
    """
    import torch
    from transformers import EncodecModel, MusicgenForConditionalGeneration, T5Config

    from engine.checkpoint import LoadedModel
    from engine.debug_checkpoint import musicgen_config, use_real_special_tokens

    layers, hidden, heads, ffn = SIZES[size]
    text = T5Config(
        vocab_size=text_vocab,
        d_model=768,
        d_kv=64,
        d_ff=3072,
        num_layers=12,
        num_heads=12,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    # The codec is tiny: decoding tokens to audio is not what is timed.
    config = musicgen_config(text, hidden=hidden, layers=layers, heads=heads, ffn=ffn)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        # Shapes only, then storage: transformers' own initialisation of ~0.5 B
        # parameters takes ~10 s on a small CPU, and the values do not matter here.
        with torch.device("meta"):
            model = MusicgenForConditionalGeneration(config)
        model.to_empty(device=device)
        with torch.device(device):
            model.audio_encoder = EncodecModel(config.audio_encoder)  # tiny; int buffers
    finally:
        torch.set_default_dtype(previous)
    fill_random(model, seed)
    positions = model.decoder.model.decoder.embed_positions
    positions.make_weights(positions.num_positions, positions.embedding_dim)
    model.eval()
    use_real_special_tokens(model.generation_config, max_positions=2048)
    return LoadedModel(
        model_id=f"random-{size}",
        folder=Path("."),
        model=model,
        tokenizer=None,
        features={},
        device=device,
        dtype=dtype,
        sample_rate=32000,
        frame_rate=50.0,
        channels=1,
        max_frames=2048,
        is_debug=True,
    )


def fill_random(model: Any, seed: int) -> None:
    """Random weights, fast: layer norms at identity, every other parameter N(0, 0.02).

    Each tensor is a slice, at a random offset, of one shared pool of normal
    draws (drawing 0.5 B fresh normals takes seconds on a small CPU).
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    pool = torch.randn(1 << 22, generator=gen) * 0.02
    norms = {
        id(p) for m in model.modules() if "LayerNorm" in type(m).__name__ for p in m.parameters()
    }
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("audio_encoder."):
                continue  # built normally
            if id(param) in norms:
                param.fill_(1.0 if name.endswith("weight") else 0.0)
                continue
            flat = param.view(-1)
            done = 0
            while done < flat.numel():
                start = int(torch.randint(0, pool.numel() // 2, (1,), generator=gen))
                size = min(flat.numel() - done, pool.numel() - start)
                flat[done : done + size].copy_(pool[start : start + size])
                done += size


def text_inputs(batch: int, device: str, tokens: int = 12) -> tuple[Any, Any]:
    """``batch`` text prompts of ``tokens`` random ids (the last take one shorter, padded)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 1000, (batch, tokens), generator=gen)
    mask = torch.ones_like(ids)
    if batch > 1:
        ids[-1, -1], mask[-1, -1] = 0, 0
    return ids.to(device), mask.to(device)


def rss_mb() -> float:
    """This process's resident memory now (engine.memory, as status reports it), else its
    peak so far."""
    from engine.memory import process_rss_bytes

    rss = process_rss_bytes()
    if rss is not None:
        return rss / 2**20
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def build_variant(size: str, device: str, dtype: str, kernel: str = "module") -> Any:
    """``build_model`` in ``dtype`` with the CPU Linear ``kernel``.

    ``int8`` and ``int8-dynamic`` are float32 through ``prepare_for_cpu``; ``kernel`` is one of
    ``engine.decoders.kernels.KERNELS`` (CPU only; "module" elsewhere), then
    ``+qkv`` to fuse self-attention's q/k/v (``linears.fuse_qkv``) and
    ``+attn-float32`` to attend in float32 (``layers.set_attention_dtype``):
    the names ``KernelChoice.name`` gives, e.g. "onednn+qkv+attn-float32".
    """
    from engine.decoders.kernels import KernelChoice, apply_choice
    from engine.decoders.precision import prepare_for_cpu

    if dtype.startswith("int8"):
        loaded = prepare_for_cpu(build_model(size, device, "float32"), dtype)
    else:
        loaded = build_model(size, device, dtype)
    base, *extras = kernel.split("+")
    unknown = [e for e in extras if e != "qkv" and not e.startswith("attn-")]
    if unknown:
        raise SystemExit(f"unknown kernel option(s) {', '.join(unknown)} in {kernel!r}")
    attention = next((e.removeprefix("attn-") for e in extras if e.startswith("attn-")), "")
    apply_choice(loaded, KernelChoice(base, "asked", fuse_qkv="qkv" in extras, attention=attention))
    return loaded


def step_weight_bytes(loaded: Any) -> int:
    """Bytes of weights a decode step reads: every per-step Linear of the decoder.

    The floor of a step is this over the machine's read bandwidth (the
    activations, the KV cache of a short take and the embeddings' few rows are
    small beside it at batch 1-4).  Cross-attention key/value projections run
    once a run and are left out.
    """
    import torch

    from engine.decoders.linears import Int8Linear, PackedLinear

    total = 0
    layers = loaded.model.decoder.model.decoder.layers
    once = {id(layer.encoder_attn) for layer in layers if hasattr(layer, "encoder_attn")}
    for parent in loaded.model.decoder.modules():
        for name, child in parent.named_children():
            if id(parent) in once and name in ("k_proj", "v_proj"):
                continue
            if hasattr(parent, "qkv_proj") and name in ("q_proj", "k_proj", "v_proj"):
                continue  # fused: the steps read qkv_proj instead
            if isinstance(child, torch.nn.Linear) and type(child) is torch.nn.Linear:
                total += child.weight.numel() * child.weight.element_size()
            elif isinstance(child, Int8Linear):
                total += child.qweight.numel() + child.scales.numel() * child.scales.element_size()
            elif isinstance(child, PackedLinear):
                total += child.in_features * child.out_features * child.packed.element_size()
            elif type(child).__name__ == "Linear" and hasattr(child, "weight"):  # torch.ao int8
                weight = child.weight()
                total += weight.numel() * weight.element_size()
    return total


def read_bandwidth(device: str, mib: int = 512, repeats: int = 7) -> float:
    """The machine's read bandwidth now, GB/s: the median of summing ``mib`` MiB of floats."""
    import statistics

    import torch

    data = torch.ones(mib * 2**20 // 4, device=device)
    data.sum()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        data.sum()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return data.numel() * 4 / statistics.median(times) / 1e9


def machine_line(device: str) -> str:
    """The CPU model, the flags that choose kernels, cores and torch threads."""
    import torch

    from engine.decoders.kernels import cpu_flags, cpu_model

    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
    flags = [f for f in cpu_flags() if f in wanted]
    line = (
        f"# cpu {cpu_model()}; flags {', '.join(flags) or 'none of ' + '/'.join(wanted)}; "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    )
    if device.startswith("cuda"):
        line += f"; gpu {torch.cuda.get_device_name()}"
    return line


def time_decoder(
    decoder: Any, loaded: Any, batch: int, new_frames: int, steps: int, device: str, repeat: int
) -> tuple[float, float, float, float]:
    """Time the first ``steps`` decoder steps, best of ``repeat`` runs.

    Returns:
        (setup seconds: start to the first step, text encoder and prefill
        included; seconds per step: the median step of the run; wall seconds
        of the run; peak MiB).
        The median and the best run keep out bursts of other processes on a
        shared machine.  Peak memory: CUDA's max_memory_allocated; on the CPU
        the largest resident set seen at any step (model weights included).
    """
    import statistics

    import torch

    from engine.decoders.contract import DecodeInputs
    from engine.sampling import Sampling

    cuda = device.startswith("cuda")
    ids, mask = text_inputs(batch, device)
    inputs = DecodeInputs(ids, mask, guidance=3.0)
    sampling = Sampling(temperature=1.0, top_k=250)
    # Warm-up: allocator, oneDNN/cuBLAS kernel selection.
    decoder(loaded, inputs, 1, sampling, range(batch))

    class _Enough(Exception):
        pass

    best: tuple[float, float, float] | None = None
    peak = 0.0
    for _ in range(repeat):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        stamps: list[float] = []

        def on_step(stamps: list[float] = stamps) -> None:
            nonlocal peak
            if cuda:
                torch.cuda.synchronize()
            else:
                peak = max(peak, rss_mb())
            stamps.append(time.perf_counter())
            if len(stamps) >= steps:
                raise _Enough

        start = time.perf_counter()
        with contextlib.suppress(_Enough):
            decoder(loaded, inputs, new_frames, sampling, range(batch), on_step)
        if cuda:
            peak = max(peak, torch.cuda.max_memory_allocated() / 2**20)
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        median = statistics.median(gaps) if gaps else stamps[0] - start
        run = (stamps[0] - start, median, stamps[-1] - start)
        if best is None or run[1] < best[1]:
            best = run
    assert best is not None
    return best[0], best[1], best[2], peak


def path_decoder(path: str, loaded: Any, batch: int, graph_frames: int) -> Any:
    """The decoder a path times, prepared for ``batch`` takes; None where it cannot run.

    ``static`` and ``graphed`` prepare their steps here, before any timing, as
    the engine prepares them at model load.
    """
    import functools

    from engine.decoders.loop import fast_decode
    from engine.decoders.reference import reference_decode
    from engine.decoders.step_graph import build_step_graphs

    if path == "reference":
        return reference_decode
    if path == "fast":
        return fast_decode
    graphed = path in ("graphed", "fused")
    if graphed and not loaded.device.startswith("cuda"):
        return None
    frames = graph_frames or None  # None: the engine's window
    fused = path == "fused"
    graphs = build_step_graphs(loaded, (batch,), frames=frames, capture=graphed, fused=fused)
    if fused and not any(runner.fused for runner in graphs.runners.values()):
        print(f"# fused, batch {batch}: the fused step was dropped (see the log); skipped")
        return None
    if not graphs.runners:
        print(f"# {path}: the prepared step failed its checks (see the log); skipped")
        return None
    print(f"# {path}, batch {batch}: {graphs.describe()}", flush=True)
    return functools.partial(fast_decode, graphs=graphs)


def speed_table(args: argparse.Namespace, device: str, dtypes: list[str]) -> None:
    """Time every (dtype, kernel, batch, path), repeats interleaved; print medians.

    Within a dtype, the kernels' models are built together and the repeats
    run round-robin over every row (A B A B ...), so a burst of other work on
    a shared machine falls on all rows alike; each row is the median of its
    repeats.  The floor is the step's weight bytes over the read bandwidth
    measured in the same run (before and after: their mean).
    """
    import statistics

    frames = round(args.seconds * 50)
    full_steps = frames + 3
    steps = min(args.steps, full_steps) if args.steps > 0 else full_steps
    paths = args.paths.split(",")
    kernels = args.kernels.split(",") if device == "cpu" else ["module"]
    for cuda_only in ("graphed", "fused"):
        if cuda_only in paths and not device.startswith("cuda"):
            print(f"# {cuda_only}: CUDA graphs need a CUDA device; skipped")
    bandwidth = [read_bandwidth(device)]
    print(f"# read bandwidth at the start: {bandwidth[0]:.1f} GB/s", flush=True)
    print(
        f"# {args.seconds:g} s of audio = {full_steps} steps, guidance 3, top-k 250"
        + (f"; timed the first {steps} steps, extrapolated" if steps < full_steps else "")
        + f"; each row the median of {args.repeat} interleaved runs"
        + f"; speedup: against reference {dtypes[0]} {kernels[0]} at the same batch"
    )
    rows: list[tuple] = []
    for size in args.sizes.split(","):
        baseline: dict[int, float] = {}
        for dtype in dtypes:
            # Attending in float32 changes nothing for a float32 model, nor for
            # transformers' generate (which attends in the model's dtype): not timed twice.
            same = [k for k in kernels if dtype == "float32" and "+attn-float32" in k]
            if same and size == args.sizes.split(",")[0]:
                print(f"# {dtype}: {', '.join(same)} is the same model; skipped")
            variants = {
                kernel: build_variant(size, device, dtype, kernel)
                for kernel in kernels
                if kernel not in same
            }
            weights = {kernel: step_weight_bytes(v) for kernel, v in variants.items()}
            timed: dict[tuple, list] = {}
            decoders = {}
            for kernel, loaded in variants.items():
                for batch in (int(b) for b in args.batches.split(",")):
                    for path in paths:
                        if path == "reference" and "+attn-" in kernel:
                            continue  # generate attends in the model's dtype
                        decoder = path_decoder(path, loaded, batch, args.graph_frames)
                        if decoder is not None:
                            decoders[(kernel, batch, path)] = (decoder, loaded)
            for _ in range(args.repeat):
                for key, (decoder, loaded) in decoders.items():
                    kernel, batch, path = key
                    run = time_decoder(decoder, loaded, batch, frames, steps, device, 1)
                    timed.setdefault(key, []).append(run)
            for key, runs in timed.items():
                kernel, batch, path = key
                per_step = statistics.median(r[1] for r in runs)
                setup = statistics.median(r[0] for r in runs)
                wall = statistics.median(r[2] for r in runs)
                peak = max(r[3] for r in runs)
                rate = 1 / per_step
                if path == "reference" and batch not in baseline:
                    baseline[batch] = rate
                total = wall if steps == full_steps else setup + (full_steps - 1) * per_step
                rows.append((size, path, dtype, kernel, batch, rate, total, peak, weights[kernel]))
            del decoders, variants
    bandwidth.append(read_bandwidth(device))
    mean_bw = sum(bandwidth) / len(bandwidth)
    print(
        f"# read bandwidth at the end: {bandwidth[1]:.1f} GB/s; floor = step weight bytes / "
        f"{mean_bw:.1f} GB/s (their mean)"
    )
    print(
        f"{'size':<7}{'path':<10}{'dtype':<13}{'kernel':<25}{'batch':>5}{'steps/s':>9}"
        f"{'s/' + format(args.seconds, 'g') + 's':>9}{'RTF':>7}{'peak MiB':>10}"
        f"{'MB/step':>9}{'floor/s':>9}{'of floor':>9}{'speedup':>9}"
    )
    baselines: dict[tuple[str, int], float] = {}
    for size, path, dtype, kernel, batch, rate, total, peak, nbytes in rows:
        if path == "reference" and (size, batch) not in baselines:
            baselines[(size, batch)] = rate
        base = baselines.get((size, batch))
        floor = mean_bw * 1e9 / nbytes
        speedup = f"{rate / base:.2f}x" if base else ""
        print(
            f"{size:<7}{path:<10}{dtype:<13}{kernel:<25}{batch:>5}{rate:>9.2f}{total:>9.1f}"
            f"{args.seconds * batch / total:>7.2f}{peak:>10.0f}{nbytes / 1e6:>9.0f}"
            f"{floor:>9.1f}{rate / floor:>9.0%}{speedup:>9}",
            flush=True,
        )


def record_steps(loaded: Any, steps: int, sampling: Any, forced: list[Any] | None = None) -> list:
    """fast_decode's (logits, token) at every step; with ``forced``, feed those tokens instead.

    Feeding the float32 run's tokens to a variant (teacher forcing) compares
    the two on the same history, step by step, rather than on diverged takes.
    """
    from engine.decoders.contract import DecodeInputs
    from engine.decoders.loop import fast_decode
    from engine.sampling import sample_tokens

    ids, mask = text_inputs(1, loaded.device)
    record: list[Any] = []

    def pick(logits: Any) -> Any:
        picks = sample_tokens(logits, sampling, [7], len(record))
        record.append((logits.float().cpu(), picks.cpu()))
        return picks if forced is None else forced[len(record) - 1].to(picks.device)

    inputs = DecodeInputs(ids, mask, guidance=3.0)
    fast_decode(loaded, inputs, steps - 3, sampling, [7], pick=pick)
    return record


def sampled_distribution(logits: Any, top_k: int) -> Any:
    """The distribution sample_tokens draws from (temperature 1, top-k), dense."""
    import torch

    probs = torch.softmax(logits.float(), dim=-1)
    top, index = probs.topk(top_k, dim=-1)
    return torch.zeros_like(probs).scatter_(-1, index, top / top.sum(-1, keepdim=True))


def faithfulness(args: argparse.Namespace, device: str, dtypes: list[str]) -> None:
    """How far each variant's guided logits are from float32's, on the same tokens."""
    import torch

    from engine.sampling import Sampling

    steps = args.faithfulness
    size = args.sizes.split(",")[0]
    sampling = Sampling(temperature=1.0, top_k=250)
    base = record_steps(build_model(size, device, "float32"), steps, sampling)
    forced = [picks for _, picks in base]
    greedy_base = record_steps(build_model(size, device, "float32"), steps, Sampling(greedy=True))
    print(
        f"# faithfulness against float32, {size}, {steps} steps x 4 codebooks, teacher-forced "
        "on a float32 top-k 250 take; 'free' = greedy tokens agreeing when each runs alone"
    )
    print(
        f"{'dtype/kernel':<17}{'max|dl|':>9}{'mean|dl|':>10}{'argmax=':>9}{'TV mean':>9}"
        f"{'TV max':>8}{'KL':>10}{'free=':>7}{'1st diff':>9}"
    )
    ref = torch.stack([logits for logits, _ in base])
    kernels = args.kernels.split(",") if device == "cpu" else ["module"]
    for dtype, kernel in itertools.product(dtypes, kernels):
        loaded = build_variant(size, device, dtype, kernel)
        got = torch.stack([logits for logits, _ in record_steps(loaded, steps, sampling, forced)])
        greedy = record_steps(loaded, steps, Sampling(greedy=True))
        del loaded
        diff = (got - ref).abs()
        argmax = (got.argmax(-1) == ref.argmax(-1)).float().mean().item()
        p, q = sampled_distribution(ref, 250), sampled_distribution(got, 250)
        tv = 0.5 * (p - q).abs().sum(-1)
        logp, logq = ref.log_softmax(-1), got.log_softmax(-1)
        kl = (logp.exp() * (logp - logq)).sum(-1).mean().item()
        a = torch.stack([picks for _, picks in greedy_base])
        b = torch.stack([picks for _, picks in greedy])
        same = (a == b).all(-1)
        first = int((~same).nonzero()[0, 0]) if not bool(same.all()) else steps
        print(
            f"{dtype + '/' + kernel:<17}{diff.max().item():>9.4f}{diff.mean().item():>10.5f}"
            f"{argmax:>9.4f}{tv.mean().item():>9.4f}{tv.max().item():>8.3f}{kl:>10.2e}"
            f"{(a == b).float().mean().item():>7.3f}{first:>9}",
            flush=True,
        )
    low, high = ref.min().item(), ref.max().item()
    print(f"# float32 guided logits: std {ref.std().item():.3f}, range {low:.2f}..{high:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="small", help="small,medium,large")
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per take")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    parser.add_argument(
        "--dtypes",
        default="auto",
        help="float32,float16,bfloat16 and, on the CPU, int8 (weight-only) and int8-dynamic "
        "(auto: as the engine loads)",
    )
    parser.add_argument("--batches", default="1,4,8", help="takes decoded together")
    parser.add_argument("--steps", type=int, default=0, help="time only N steps, extrapolate")
    parser.add_argument(
        "--paths", default="reference,fast", help="reference,fast,static,graphed,fused (see above)"
    )
    parser.add_argument(
        "--graph-frames",
        type=int,
        default=0,
        help="frames the static/graphed steps' cache holds (0: the engine's 30 s window)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per row, interleaved; the median counts"
    )
    parser.add_argument(
        "--kernels",
        default="module,onednn",
        help="CPU kernels (engine.decoders.kernels): module,onednn; +qkv fuses q/k/v, "
        "+attn-float32 attends in float32",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (CPU)")
    parser.add_argument(
        "--faithfulness",
        type=int,
        default=0,
        metavar="N",
        help="instead of timing, compare each dtype's logits with float32's over N steps",
    )
    args = parser.parse_args(argv)

    import torch

    from engine.checkpoint import pick_device, pick_dtype

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    dtypes = [pick_dtype(device, d) for d in args.dtypes.split(",")]
    print(
        f"# torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"cpus {os.cpu_count()}"
    )
    print(machine_line(device))
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    if args.faithfulness:
        faithfulness(args, device, dtypes)
    else:
        speed_table(args, device, dtypes)
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
