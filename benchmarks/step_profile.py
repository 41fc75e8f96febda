"""Where a CPU decode step goes: each part of the engine's eager step timed on its own.

Builds MusicGen-small's decoder shape with random weights (``speed.build_model``),
gives it the kernel the engine would choose on this machine
(``--kernel``, default onednn with fused q/k/v), and times, on the state of a
real step (guidance: 2 rows, ``--text`` text tokens, the cache at
``--length`` positions):

- the whole step (``Run.step`` + guidance + top-k sampling + the token write),
  as the engine runs it, median of ``--steps``;
- each part alone, over the model's own 24 layers (distinct weights, so they
  stream from memory as in a step): the products per weight shape, the
  self-attention's cache write and attention over the cache, the
  cross-attention over the text, the layer norms, GELU, the residual adds,
  the q/k/v split and head reshapes, the embeddings sum, the lm heads,
  classifier-free guidance and top-k sampling over 4 x 2048 logits;
- the rest (whole step minus the parts): Python and module-call overhead.

Every part is timed in ``--repeat`` interleaved rounds, and the whole step
over as many real steps.  On a machine shared with other work, a process is
descheduled at random for milliseconds at a time (on two cores under a load
average of 4, every op of a step looks 3-10x slower than on a quiet machine),
so the table gives the *fastest* round of each (what the step costs when it
is not interrupted) beside the median.  A script, never a test: it prints a
table and exits 0.

    python benchmarks/step_profile.py --dtype bfloat16 --threads 2

With ``--sampler BATCHES`` it times only the choosing of a step's tokens at
small's shapes (4 codebooks x 2048 tokens, guidance's 2 rows a take, top-k
250), per take count: the counter-based draw every path runs now
(``engine.sampling``: guidance, sort, threshold, hashed Gumbel noise, argmax)
against the sampler it replaced (softmax, top-k, ``torch.multinomial`` with one
``torch.Generator`` per take; kept here only to be measured against).

    python benchmarks/step_profile.py --sampler 1,8 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _median_ms(calls: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        calls()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def parts(
    loaded: Any, length: int, text: int, batch: int = 1, texts: int = 1
) -> dict[str, Callable[[], Any]]:
    """Each part of one step as a callable doing that part for every layer (or once).

    ``texts``: the distinct prompts of the batch; where the engine folds the
    cross-attention into them (:mod:`engine.decoders.cross_fold`), so does this.
    """
    import torch
    import torch.nn.functional as F

    from engine.decoders.cross_fold import FoldedCross, fold_pays, foldable
    from engine.decoders.layers import LayerStack
    from engine.sampling import Sampling, guided, sample_tokens

    stack = LayerStack(loaded)
    rows, dim, heads, hd = 2 * batch, stack.core.config.hidden_size, stack.heads, stack.head_dim
    dtype = stack.dtype
    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> Any:
        return torch.randn(shape, generator=gen).to(dtype)

    layers = stack.layers
    x = rand(rows, 1, dim)
    wide = rand(rows, 1, 4 * dim)
    at = stack.attention_dtype  # the cache's and attention's (kernels: +attn-float32)
    cache = (len(layers), rows, heads, length + 16, hd)
    keys, values = torch.zeros(cache, dtype=at), torch.zeros(cache, dtype=at)
    keys[:, :, :, :length] = rand(*cache[:3], length, hd)
    values[:, :, :, :length] = rand(*cache[:3], length, hd)
    q1 = rand(rows, heads, 1, hd)
    cross = [
        (rand(rows, heads, text, hd).to(at), rand(rows, heads, text, hd).to(at)) for _ in layers
    ]
    ids = torch.randint(0, 2048, (batch, stack.codebooks, 1), generator=gen)
    positions = stack.position_table(length + 16)
    logits = torch.randn((rows * stack.codebooks, 2048), generator=gen)
    sampling = Sampling(top_k=250)
    seeds = [1 + b for b in range(batch)]
    fused = [getattr(layer.self_attn, "qkv_proj", None) for layer in layers]
    folded = None
    if fold_pays(texts, text, hd) and foldable(stack):
        states = rand(texts, text, dim)
        which = [take % texts for take in range(batch)]
        folded = FoldedCross(stack, states, torch.ones((texts, text)), which)
    qkv_out = rand(rows, 1, 3 * dim)
    shape = (rows, 1, -1, hd)

    def each(fn: Callable[[Any], Any]) -> Callable[[], None]:
        def run() -> None:
            for layer in layers:
                fn(layer)

        return run

    def self_products(layer: Any) -> None:
        attn = layer.self_attn
        if getattr(attn, "qkv_proj", None) is not None:
            attn.qkv_proj(x)
        else:
            attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)

    def write_and_attend() -> None:  # with the casts to the attention dtype and back
        for i in range(len(layers)):
            query = q1.to(at)
            keys[i, :, :, length : length + 1] = q1.to(at)
            values[i, :, :, length : length + 1] = q1.to(at)
            F.scaled_dot_product_attention(
                query,
                keys[i, :, :, : length + 1],
                values[i, :, :, : length + 1],
                scale=stack.scaling,
            ).to(dtype)

    def cross_attend() -> None:
        for key, value in cross:
            F.scaled_dot_product_attention(q1.to(at), key, value, scale=stack.scaling).to(dtype)

    def norms(layer: Any) -> None:
        layer.self_attn_layer_norm(x)
        if folded is None:  # the folded cross-attention's norm is in its own part
            layer.encoder_attn_layer_norm(x)
        layer.final_layer_norm(x)

    def residuals(layer: Any) -> None:
        x + x, x + x
        if folded is None:
            x + x

    def reshapes(layer: Any) -> None:
        q, _, _ = (p.view(shape).transpose(1, 2) for p in qkv_out.chunk(3, dim=-1))
        q.transpose(1, 2).reshape(rows, 1, -1)  # the attention output back
        q.transpose(1, 2).reshape(rows, 1, -1)  # the cross-attention's
        x.view(shape).transpose(1, 2)  # the cross query

    def embed() -> None:
        e = stack.embed(ids)
        torch.cat([e, e], dim=0) + positions[length : length + 1]

    def heads_() -> None:
        last = stack.core.layer_norm(x)
        out = torch.stack([head(last) for head in stack.lm.lm_heads], dim=1)
        out.reshape(rows * stack.codebooks, -1).float()

    def cross_folded() -> None:
        for i in range(len(layers)):
            folded(i, x)

    del fused
    if folded is None:
        cross_parts = {
            "cross-attn q_proj": each(lambda layer: layer.encoder_attn.q_proj(x)),
            "cross-attn out_proj": each(lambda layer: layer.encoder_attn.out_proj(x)),
            "cross-attn attention": cross_attend,
        }
    else:
        name = f"cross-attn folded ({texts} text{'s' if texts > 1 else ''}: all of it)"
        cross_parts = {name: cross_folded}
    return {
        "self-attn q/k/v product": each(self_products),
        "self-attn out_proj": each(lambda layer: layer.self_attn.out_proj(x)),
        **cross_parts,
        "fc1": each(lambda layer: layer.fc1(x)),
        "fc2": each(lambda layer: layer.fc2(wide)),
        "lm heads (4, with final norm)": heads_,
        "self-attn cache write + attention": write_and_attend,
        "layer norms (3 a layer)": each(norms),
        "GELU": each(lambda layer: layer.activation_fn(wide)),
        "residual adds (3 a layer)": each(residuals),
        "q/k/v split, head reshapes": each(reshapes),
        "embeddings sum + position": embed,
        "guidance mix": lambda: guided(logits, 3.0),
        "top-k 250 sampling": lambda: sample_tokens(
            logits[: batch * stack.codebooks], sampling, seeds, 1
        ),
    }


def whole_steps(
    loaded: Any, length: int, text: int, steps: int, batch: int = 1, texts: int | None = None
) -> list[float]:
    """Seconds of each whole step (forward, guidance, sampling, token write) of a real run.

    ``texts``: how many distinct prompts the takes have (default: one each).
    """
    import torch

    from engine.decoders.contract import DecodeInputs
    from engine.decoders.loop import Run
    from engine.sampling import Sampling, guided, sample_tokens

    gen = torch.Generator().manual_seed(0)
    prompts = torch.randint(2, 1000, (texts or batch, text), generator=gen)
    ids = prompts[[take % len(prompts) for take in range(batch)]]
    inputs = DecodeInputs(ids, torch.ones_like(ids), guidance=3.0)
    sampling = Sampling(top_k=250)
    seeds = [1 + b for b in range(batch)]
    times = []
    with torch.inference_mode():
        run = Run(loaded, inputs, length + steps + 8)
        logits = run.prefill()
        for column in range(1, 1 + length + steps):
            start = time.perf_counter()
            picks = sample_tokens(guided(logits, 3.0), sampling, seeds, column)
            run.place(column, picks)
            logits = run.step(column)
            if column > length:
                times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--kernel", default="onednn+qkv", help="module, onednn; +qkv fuses")
    parser.add_argument("--length", type=int, default=30, help="cache positions before the step")
    parser.add_argument("--text", type=int, default=12, help="text tokens")
    parser.add_argument("--steps", type=int, default=30, help="whole steps timed")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1, help="takes decoded together")
    parser.add_argument(
        "--variations", action="store_true", help="the takes share one prompt (default: one each)"
    )
    parser.add_argument("--sampler", default="", help="take counts: time only the draw, old/new")
    args = parser.parse_args(argv)

    import torch

    if args.sampler:
        torch.set_num_threads(args.threads)
        return sampler_table([int(b) for b in args.sampler.split(",")], args.repeat, args.steps)

    from benchmarks.speed import build_variant, machine_line

    torch.set_num_threads(args.threads)
    print(machine_line("cpu"))
    print(f"# torch {torch.__version__}; load average {os.getloadavg()} at the start")
    loaded = build_variant("small", "cpu", args.dtype, args.kernel)
    with torch.inference_mode():
        texts = 1 if args.variations else args.batch
        table = parts(loaded, args.length, args.text, args.batch, texts)
        for part in table.values():
            part()  # warm-up
        samples: dict[str, list[float]] = {name: [] for name in table}
        whole: list[float] = []
        for _ in range(args.repeat):  # interleaved rounds: drift falls on every part alike
            for name, part in table.items():
                samples[name].append(_median_ms(part, 1))
            steps = max(1, args.steps // 5)
            whole.extend(whole_steps(loaded, args.length, args.text, steps, args.batch, texts))
    step = min(whole) * 1e3
    measured = {name: min(s) for name, s in samples.items()}
    print(
        f"# small, {args.dtype}, kernel {args.kernel}, batch {args.batch} "
        f"({2 * args.batch} rows), {texts} prompt(s) of {args.text} text tokens, "
        f"cache at {args.length}; whole step: fastest of {len(whole)} real steps; "
        f"parts: fastest of {args.repeat} interleaved rounds (median beside it)"
    )
    print(f"{'part':<36}{'ms/step':>9}{'share':>8}{'median':>9}")
    for name, ms in measured.items():
        median = statistics.median(samples[name])
        print(f"{name:<36}{ms:>9.2f}{ms / step:>8.1%}{median:>9.2f}")
    rest = step - sum(measured.values())
    print(f"{'rest: Python, module calls':<36}{rest:>9.2f}{rest / step:>8.1%}")
    print(f"{'whole step':<36}{step:>9.2f}{1:>8.0%}{statistics.median(whole) * 1e3:>9.2f}")
    print(f"# load average {os.getloadavg()} at the end")
    return 0


def _previous_sampler(logits: Any, top_k: int, gens: list[Any]) -> Any:
    """The sampler before issue 28's (softmax, top-k, multinomial per take's generator)."""
    import torch

    probs = torch.softmax(logits.float(), dim=-1)
    probs, candidates = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    rows = probs.shape[0] // len(gens)
    picks = torch.empty(probs.shape[0], dtype=torch.long)
    for b, gen in enumerate(gens):
        part = slice(b * rows, (b + 1) * rows)
        picks[part] = torch.multinomial(probs[part], 1, generator=gen).squeeze(-1)
    return candidates.gather(-1, picks[:, None]).squeeze(-1)


def sampler_table(batches: list[int], repeat: int, steps: int) -> int:
    """ms a step of choosing the tokens, previous sampler against the counter-based draw."""
    import torch

    from benchmarks.speed import machine_line
    from engine.sampling import Sampling, StaticSampling, draw, guided

    print(machine_line("cpu"))
    print(
        f"# torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
        f"{os.getloadavg()} at the start; guidance 3, top-k 250, 4 x 2048 logits a take"
    )
    print(
        f"{'takes':>5}{'previous ms':>13}{'eager ms':>9}{'ratio':>10}{'static ms':>11}{'ratio':>10}"
        "  (medians)"
    )
    with torch.inference_mode():
        for batch in batches:
            logits = torch.randn(2 * batch * 4, 2048, generator=torch.Generator().manual_seed(0))
            gens = [torch.Generator().manual_seed(b) for b in range(batch)]
            settings = StaticSampling.of(Sampling(top_k=250), range(batch), "cpu", 3.0)
            old = partial(lambda x, g: _previous_sampler(guided(x, 3.0), 250, g), logits, gens)
            new = partial(
                lambda x, s: draw(guided(x, s.guidance), s.at(7), Sampling(top_k=250)),
                logits,
                settings,
            )
            static = partial(lambda x, s: draw(guided(x, s.guidance), s.at(7)), logits, settings)
            calls = {"old": old, "new": new, "static": static}
            times: dict[str, list[float]] = {name: [] for name in calls}
            for call in calls.values():
                call()  # warm-up
            for _ in range(repeat):  # interleaved rounds
                for name, call in calls.items():
                    times[name].append(_median_ms(call, steps))
            o, n, s = (min(times[name]) for name in calls)
            medians = " / ".join(f"{statistics.median(times[name]):.3f}" for name in calls)
            print(
                f"{batch:>5}{o:>13.3f}{n:>9.3f}{n / o:>9.2f}x{s:>11.3f}{s / o:>9.2f}x  ({medians})"
            )
    print(f"# load average {os.getloadavg()} at the end; fastest of {repeat} rounds of {steps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
