"""The preview: time to first audio, what decoding in pieces costs, how faithful it is.

For each checkpoint (``--models``: ``debug``, the built-in tiny one; ``small``,
a random-weight MusicGen of facebook/musicgen-small's decoder size, as
benchmarks/speed.py builds it, with an EnCodec of the real 32 kHz codec's size
(random weights, codebooks filled) so that the codec costs what the real one
does), makes a ``--seconds`` take through the engine's render path
(``engine.generate.render_many``, the engine's own loop), ``--repeat`` times
each way, interleaved (without, with preview, without, ...), and prints:

- the whole take's time without and with preview (the medians), and their
  ratio: the codec's extra cost of decoding in pieces;
- time to first audio (request to the first piece in the file) against the
  time to the whole take;
- faithfulness: the preview (as read from its WAV, 16-bit) against the final
  take over their common start: SNR after matching the gain, and the largest
  sample step at a join against the largest anywhere else
  (``engine.preview.faithfulness``).

``--context`` also prints, for the real-size codec, how far a piece decoded
without its past (or its future) is from the whole decode, frame by frame:
what ``engine.preview.LEFT_CONTEXT_FRAMES`` and ``HOLD_FRAMES`` are set from.

Usage: python benchmarks/preview.py [--models debug,small] [--seconds 8] [--repeat 2]
       [--precision bfloat16] [--context]
This is a script, never a test; it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def real_codec() -> Any:
    """An EnCodec the size of MusicGen's 32 kHz codec, random weights, codebooks filled."""
    import torch
    from transformers import EncodecConfig, EncodecModel

    config = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        num_filters=64,
        hidden_size=128,
        num_residual_layers=1,
        num_lstm_layers=2,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=2048,
        codebook_dim=128,
        target_bandwidths=[2.2],
        use_causal_conv=False,
        normalize=False,
    )
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        torch.manual_seed(0)
        codec = EncodecModel(config).eval()
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():  # zeros at init would decode every token alike
        for layer in codec.quantizer.layers:
            layer.codebook.embed.normal_()
    return codec


def build(name: str, precision: str, cache: Path) -> Any:
    """The checkpoint in ``precision``, codec included, as the engine converts it at load."""
    import torch

    from engine import checkpoint
    from engine.decoders.precision import prepare_for_cpu

    if name.startswith("debug"):
        loaded = checkpoint.load(name, cache, device="cpu")
        return loaded if precision == "float32" else prepare_for_cpu(loaded, precision)
    from benchmarks.speed import build_variant

    loaded = build_variant(name, "cpu", precision)
    codec = real_codec()
    if precision in ("bfloat16", "int8"):  # prepare_for_cpu puts the whole model in bf16
        codec.to(torch.bfloat16)
    loaded.model.audio_encoder = codec
    # The debug checkpoint's tokenizer: its ids lie inside T5's vocabulary.
    loaded.tokenizer = checkpoint.load("debug", cache, device="cpu").tokenizer
    return loaded


def one_take(loaded: Any, seconds: float, preview: bool, folder: Path) -> dict[str, Any]:
    """One take through render_many; its times, and with preview its faithfulness."""
    from engine import preview as pv
    from engine.decoders.loop import fast_decode
    from engine.generate import Part, render_many
    from engine.spec import GenerationSpec

    heard: dict[str, Any] = {}
    joins: list[int] = []
    piece_codec: list[float] = []

    def on_ready(ready: pv.PreviewReady) -> None:
        if ready.final and ready.take == 1:
            import soundfile

            audio, _ = soundfile.read(ready.path, dtype="float32", always_2d=True)
            heard["audio"] = audio.T

    close = pv.TakePreviews.close

    def keep_joins(self: pv.TakePreviews) -> None:
        joins[:] = self.joins
        piece_codec[:] = [self.codec_s]
        close(self)

    spec = GenerationSpec(prompt="dusty lo-fi drums", out_dir=folder, seconds=seconds, seed=1)
    wish = pv.Preview(on_ready, "bench", folder) if preview else None
    pv.TakePreviews.close = keep_joins  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        [made] = render_many(loaded, [Part(spec, [1], preview=wish, requested=t0)], fast_decode)
        total = time.perf_counter() - t0
    finally:
        pv.TakePreviews.close = close  # type: ignore[method-assign]
    if isinstance(made, Exception):
        raise made
    timings = made.details["timings"]
    row = {"total_s": total, "codec_s": timings["codec_s"], "decode_s": timings["decode_s"]}
    if preview:
        row["first_audio_s"] = timings["first_audio_s"]
        row["pieces_codec_s"] = piece_codec[0]
        row["faithful"] = pv.faithfulness(heard["audio"], made.takes[0], made.sample_rate, joins)
    return row


def measure(name: str, args: argparse.Namespace, cache: Path, folder: Path) -> None:
    loaded = build(name, args.precision, cache)
    one_take(loaded, 1.0, True, folder)  # warm up (first-call allocations)
    rows: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for _ in range(args.repeat):
        for preview in (False, True):
            rows[preview].append(one_take(loaded, args.seconds, preview, folder))

    def med(preview: bool, key: str) -> float:
        return statistics.median(r[key] for r in rows[preview])

    plain, with_preview = med(False, "total_s"), med(True, "total_s")
    first = med(True, "first_audio_s")
    faithful = rows[True][-1]["faithful"]
    label = f"{name} ({args.precision})"
    if not name.startswith("debug"):
        label = f"{name} ({args.precision}, random weights, a real-size codec)"
    print(f"\n## {label}: a {args.seconds:g} s take, median of {args.repeat}")
    print("| | whole take s | decode s | final codec s | first audio s |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| without preview | {plain:.3f} | {med(False, 'decode_s'):.3f} | "
        f"{med(False, 'codec_s'):.3f} | - |"
    )
    print(
        f"| with preview | {with_preview:.3f} | {med(True, 'decode_s'):.3f} | "
        f"{med(True, 'codec_s'):.3f} | {first:.3f} |"
    )
    pieces, final = med(True, "pieces_codec_s"), med(True, "codec_s")
    print(
        f"preview's cost: {with_preview / plain:.3f}x the whole take's time "
        f"(+{with_preview - plain:.3f} s); the pieces' codec time {pieces:.3f} s = "
        f"{pieces / final:.2f}x the final whole decode's = {pieces / with_preview:.1%} of the take"
    )
    print(
        f"first audio after {first:.3f} s = {first / with_preview:.1%} of the take's "
        f"{with_preview:.3f} s"
    )
    print(
        f"faithfulness over {faithful.seconds:.1f} s: SNR {faithful.snr_db:.1f} dB after gain "
        f"matching; largest step at a join {faithful.join_jump:.4f}, elsewhere "
        f"{faithful.within_jump:.4f} (ratio {faithful.join_jump / faithful.within_jump:.2f})"
    )


def context_table() -> None:
    """How far a piece's edges are from the whole decode, frame by frame (real-size codec)."""
    import torch

    codec = real_codec()
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 2048, (1, 1, 4, 160), generator=gen)
    hop = 640
    with torch.inference_mode():
        whole = codec.decode(codes, [None]).audio_values[0, 0].numpy()
        rms = float(whole.std())
        past = np.zeros(32)
        for start in (40, 90):
            part = codec.decode(codes[..., start:], [None]).audio_values[0, 0].numpy()
            err = np.abs(part - whole[start * hop :]).reshape(-1, hop).max(axis=1)[:32]
            past = np.maximum(past, err)
        future = np.zeros(8)
        for stop in (60, 110):
            part = codec.decode(codes[..., :stop], [None]).audio_values[0, 0].numpy()
            err = np.abs(part - whole[: stop * hop]).reshape(-1, hop).max(axis=1)[::-1][:8]
            future = np.maximum(future, err)

    def db(x: np.ndarray) -> str:
        return " ".join(f"{20 * np.log10(max(v / rms, 1e-12)):.0f}" for v in x)

    print("\n## The codec's context (real-size EnCodec, random weights)")
    print("largest error per frame, dB re the signal's RMS, of a piece decoded")
    print(f"- without its past, frames 0..31 after its start: {db(past)}")
    print(f"- without its future, frames 1..8 before its end: {db(future)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="debug,small", help="debug, small, medium, large")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--precision",
        default="bfloat16",
        help="the random model's decoder: float32, bfloat16 (the engine's auto on CPUs "
        "with native bf16), int8",
    )
    parser.add_argument("--context", action="store_true", help="also the codec's context table")
    parser.add_argument("--threads", type=int, default=0, help="0: the engine's (half the cores)")
    args = parser.parse_args()

    import os

    import torch

    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 2) // 2))
    from benchmarks.speed import machine_line

    print(machine_line("cpu"))
    print(f"# torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        cache, folder = Path(tmp) / "cache", Path(tmp) / "out"
        cache.mkdir()
        folder.mkdir()
        for name in args.models.split(","):
            measure(name.strip(), args, cache, folder)
    if args.context:
        context_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
