"""The built-in ``debug`` checkpoint: a tiny MusicGen with random weights.

It produces noise, not music, though a noise that a seed or a prompt changes
audibly (engine/debug_sound.py: darker or brighter, pulsing about twice a
second).  It exists so the whole pipeline (loading,
generating, writing, serving) can be tried and tested on a machine without
real weights.  It is written in the real on-disk format of a Hugging Face
MusicGen checkpoint (config.json, generation_config.json, model.safetensors,
tokenizer.json, processor config) and then loaded by the same code as
facebook/musicgen-small, so the tests exercise the real loader.

Its shapes keep the real model's timing: 32 kHz audio, 50 codec frames per
second, 4 codebooks of 2048 entries, so durations and step counts match.

Three variants mirror the real families: ``debug`` (text, mono, as
musicgen-small), ``debug-melody`` (chroma-conditioned, as musicgen-melody) and
``debug-stereo`` (8 interleaved codebooks, as musicgen-stereo-small).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from engine.debug_sound import DECODER_WIDTH, make_audible

log = logging.getLogger(__name__)

DEBUG_MODEL_ID = "debug"
#: Model id -> variant built for it.
DEBUG_MODELS = {"debug": "mono", "debug-melody": "melody", "debug-stereo": "stereo"}
# Bump when the builder changes so stale cached copies are rebuilt.
DEBUG_CHECKPOINT_VERSION = 6
_CODEBOOK_SIZE = 2048
# As facebook/musicgen-melody's preprocessor_config.json: 7.8125 chroma frames a second.
MELODY_FEATURES = {
    "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
    "processor_class": "MusicgenMelodyProcessor",
    "chunk_length": 30,
    "feature_size": 12,
    "hop_length": 4096,
    "n_fft": 16384,
    "num_chroma": 12,
    "padding_side": "left",
    "padding_value": 0.0,
    "return_attention_mask": True,
    "sampling_rate": 32000,
    "stem_indices": [3, 2],
}


def build_debug_checkpoint(
    folder: Path,
    *,
    seed: int = 0,
    stereo: bool = False,
    melody: bool = False,
    max_positions: int = 2048,
) -> Path:
    """Write a tiny random-weight MusicGen checkpoint into ``folder``.

    Args:
        folder: destination; created if needed.
        seed: torch seed for the random weights (same seed -> same files).
        stereo: write a stereo checkpoint (8 interleaved codebooks, 2 channels),
            as facebook/musicgen-stereo-* are laid out; its weights in bfloat16.
        melody: write a chroma-conditioned checkpoint, as facebook/musicgen-melody.
        max_positions: decoder positions, i.e. the longest take in codec frames.

    Returns:
        ``folder``.
    """
    with _quiet_transformers():
        return _build(folder, seed, stereo, melody, max_positions)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' own warnings and bars, kept out of a debug build's output.

    The debug checkpoints set pad/bos to the codebook size (2048), as the real
    ones do, which transformers' config validation warns about twice per
    model ("pad_token_id must be None or an integer within the vocabulary");
    saving draws a progress bar.  Neither says anything to a producer.
    """
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _build(folder: Path, seed: int, stereo: bool, melody: bool, max_positions: int) -> Path:
    import json

    import torch
    from transformers import (
        EncodecFeatureExtractor,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    torch.manual_seed(seed)
    text = T5Config(
        vocab_size=len(_tokenizer_vocab()),
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    config = musicgen_config(
        text,
        hidden=DECODER_WIDTH,
        layers=2,
        heads=2,
        ffn=32,
        stereo=stereo,
        melody=melody,
        max_positions=max_positions,
    )
    model_cls = (
        MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
    )
    model = model_cls(config)
    make_audible(model)
    gen = model.generation_config
    use_real_special_tokens(gen, max_positions)
    gen.do_sample = True
    gen.guidance_scale = 3.0
    gen.top_k = 250
    folder.mkdir(parents=True, exist_ok=True)
    if stereo:
        # Saved in bfloat16, as some real checkpoints are (loading casts to the
        # dtype asked): 8 codebooks' embeddings and heads in float32 are 2.9 MB.
        # Not float16: loaded in bfloat16, float16-rounded weights parted the
        # fast decoder's logits from the reference's by 5 rounding steps
        # (test_kernels), float32 or bfloat16 ones by 3.
        model.to(torch.bfloat16)
    model.save_pretrained(folder)
    if melody:
        # Its transformers processor class needs torchaudio: write what the real
        # checkpoint ships, the tokenizer and the feature settings as JSON.
        _tokenizer().save_pretrained(folder)
        (folder / "preprocessor_config.json").write_text(
            json.dumps(MELODY_FEATURES, indent=2) + "\n", encoding="utf-8"
        )
    else:
        MusicgenProcessor(
            feature_extractor=EncodecFeatureExtractor(sampling_rate=32000), tokenizer=_tokenizer()
        ).save_pretrained(folder)
    return folder


def musicgen_config(
    text,
    *,
    hidden: int,
    layers: int,
    heads: int,
    ffn: int,
    stereo: bool = False,
    melody: bool = False,
    max_positions: int = 2048,
):
    """A MusicGen (or MusicGen-melody) config around a T5 config, as the real checkpoints are.

    Decoder of the given size, the tiny codec of :func:`tiny_codec_config`, 4
    codebooks of 2048 per channel, and the real checkpoints' special ids.
    """
    from transformers import (
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
    )

    decoder_cls = MusicgenMelodyDecoderConfig if melody else MusicgenDecoderConfig
    decoder = decoder_cls(
        vocab_size=_CODEBOOK_SIZE,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        ffn_dim=ffn,
        num_codebooks=8 if stereo else 4,
        audio_channels=2 if stereo else 1,
        # As in the real checkpoints: special ids equal the codebook size, or
        # generation indexes past the embedding.
        pad_token_id=_CODEBOOK_SIZE,
        bos_token_id=_CODEBOOK_SIZE,
        max_position_embeddings=max_positions,
    )
    parts = {
        "text_encoder": text.to_dict(),
        "audio_encoder": tiny_codec_config().to_dict(),
        "decoder": decoder.to_dict(),
    }
    if melody:
        return MusicgenMelodyConfig(**parts, num_chroma=12, chroma_length=235)
    return MusicgenConfig(**parts)


def use_real_special_tokens(generation_config, max_positions: int) -> None:
    """Start, pad and bos = the codebook size (2048), as the real checkpoints ship."""
    generation_config.decoder_start_token_id = _CODEBOOK_SIZE
    generation_config.pad_token_id = _CODEBOOK_SIZE
    generation_config.bos_token_id = _CODEBOOK_SIZE
    generation_config.max_length = max_positions


def tiny_codec_config():
    """A tiny random EnCodec with the real one's timing: 32 kHz, 640 samples a frame, 2048 codes."""
    from transformers import EncodecConfig

    return EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        num_filters=2,
        hidden_size=8,
        num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 4],  # 640 samples a frame: 50 Hz, as the real codec
        codebook_size=_CODEBOOK_SIZE,
        codebook_dim=8,
        num_lstm_layers=1,
        target_bandwidths=[2.2],
        last_kernel_size=31,
        use_causal_conv=False,
        normalize=False,
    )


def ensure_debug_checkpoint(cache_root: Path, model_id: str = DEBUG_MODEL_ID) -> Path:
    """Return the cached debug checkpoint's folder, building it on first use.

    The build goes to a temporary sibling and is renamed into place, so a
    crash or a second engine never sees a half-written checkpoint.
    """
    variant = DEBUG_MODELS[model_id]
    target = cache_root / f"{model_id}-v{DEBUG_CHECKPOINT_VERSION}"
    if (target / "model.safetensors").is_file():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    log.info("building the %s checkpoint (random weights, makes noise) in %s", model_id, target)
    tmp = Path(tempfile.mkdtemp(prefix=".debug-build-", dir=cache_root))
    build_debug_checkpoint(tmp, stereo=variant == "stereo", melody=variant == "melody")
    try:
        os.replace(tmp, target)
    except OSError:
        # Another process won the race and its copy is already in place.
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _tokenizer_vocab() -> list[tuple[str, float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(c, -2.0) for c in letters + "0123456789/-.,'"]
    pieces += [("\u2581" + c, -2.5) for c in letters + "0123456789"]
    pieces += [("\u2581", -3.0)]
    return pieces


def _tokenizer():
    """A small SentencePiece-style (Unigram) T5 tokenizer, built without downloads."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    backend = Tokenizer(models.Unigram(_tokenizer_vocab(), unk_id=2))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    return T5TokenizerFast(
        tokenizer_object=backend,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_ids=0,
    )
