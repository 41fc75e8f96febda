"""The built-in ``debug`` checkpoint: a tiny MusicGen with random weights.

It produces noise, not music.  It exists so the whole pipeline (loading,
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

log = logging.getLogger(__name__)

DEBUG_MODEL_ID = "debug"
#: Model id -> variant built for it.
DEBUG_MODELS = {"debug": "mono", "debug-melody": "melody", "debug-stereo": "stereo"}
# Bump when the builder changes so stale cached copies are rebuilt.
DEBUG_CHECKPOINT_VERSION = 5
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
            as facebook/musicgen-stereo-* are laid out.
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
        hidden=16,
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
    _make_audible(model, melody=melody)
    gen = model.generation_config
    use_real_special_tokens(gen, max_positions)
    gen.do_sample = True
    gen.guidance_scale = 3.0
    gen.top_k = 250
    folder.mkdir(parents=True, exist_ok=True)
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


# Issue 27: how the debug checkpoints are made to sound different per seed and prompt.
_MODE_BITS = 3  # each code carries 3 signs: 8 "modes", each with its own sound
_CODE_NOISE = 0.8  # the code-by-code part of a codebook vector
_MODE_SIZE = 0.8  # the mode part's scale (one vector per sign, shared by the codebooks)
_MODE_EMBED = 1.0  # how strongly a drawn code's signs enter the decoder's state
_MODE_HEAD = 3.0  # how strongly that state favours codes of the same signs
_HEAD_SPREAD = 10.0  # the heads' own random part, so the rest of the state shapes the draws
_TEXT_REACH = 100.0  # cross-attention's output scale, so the prompt changes the draws
_CODEC_GAIN = 2.0  # per upsampling conv: the codes, not the codec's biases, are heard
_CODEC_BIAS = 0.4  # the codec decoder's biases (their buzz) kept at this fraction
_CODEC_LEVEL = 1.0  # the last conv's scale


def _make_audible(model, *, melody: bool) -> None:
    """Tie the sound to the codes drawn, and the draws to the seed and prompt.

    Random weights alone made every take the same buzz: the codec's biases
    drowned the codes, and the decoder drew the same spread of codes whatever
    the seed or prompt (issue 27: 4 s takes of four seeds and two prompts
    within 0.03 LU, -22.2 LUFS).  Now each code carries three random signs,
    eight "modes": the codec turns a mode into its own level (its
    biases cut, its convs louder, a band-pass last conv), and the decoder,
    once its first draws (the seed's, the prompt's through cross-attention)
    land in a mode, keeps drawing codes of that mode.  Measured on those
    takes (2-core AMD EPYC): -19.4 to -16.5 LUFS; one prompt's four seeds
    1.8 and 2.9 LU apart; the other prompt moves seeds 0 to 3 by 0.5, 2.9,
    0.1 and 2.9 LU (a seed and prompt whose first draws land in the same
    mode sound alike).  debug-stereo: -24.8 to -21.1 LUFS.  Peak-to-loudness
    stays at most 11.9 dB (12.3 for the stereo and melody variants), under
    the 13 dB a -14 LUFS target needs below the -1 dBTP ceiling, and the
    code-by-code part keeps onsets a tempo estimate finds.  The melody
    variant's decoder is left as drawn, so that its chroma prefix is heard:
    its takes differ sample by sample, within 0.3 LU.
    Still random weights, of the same sizes.
    """
    import torch

    quantizer = model.audio_encoder.quantizer.layers
    with torch.no_grad():
        signs = torch.randint(0, 2, (len(quantizer), _CODEBOOK_SIZE, _MODE_BITS)) * 2.0 - 1.0
        _codes_heard(model.audio_encoder, signs)
        if not melody:
            # The melody model hears its chroma through a prefix the decoder
            # attends to; locked modes would drown it (its tests need it heard).
            _modes_drawn(model.decoder, signs)


def _codes_heard(codec, signs) -> None:
    """Each code: its own small vector plus the mode its signs pick; a codec that follows them."""
    import torch

    quantizer = codec.quantizer.layers
    offset, *sides = torch.randn(_MODE_BITS + 1, quantizer[0].codebook.embed.shape[1])
    sides = torch.stack(sides) * _MODE_SIZE
    offset = offset * _MODE_SIZE
    for layer, sign in zip(quantizer, signs, strict=True):
        book = layer.codebook
        book.embed.normal_().mul_(_CODE_NOISE).add_(offset + sign @ sides)
        book.embed_avg.copy_(book.embed)
        book.cluster_size.fill_(1.0)
    for name, param in codec.decoder.named_parameters():
        if name.endswith("bias") and ".lstm." not in name:
            param.mul_(_CODEC_BIAS)
    # Its LSTM forgets at once (forget gates shut): with the codes no longer
    # 20x, its memory was heard, and a preview decoded in chunks, which
    # restarts it, parted from the take.
    lstm = codec.decoder.layers[1].lstm
    size = lstm.hidden_size
    lstm.bias_ih_l0[size : 2 * size] = -20.0
    lstm.bias_hh_l0[size : 2 * size] = 0.0
    for layer in codec.decoder.layers:
        conv = getattr(layer, "conv", None)
        if conv is not None and hasattr(conv, "parametrizations"):
            conv.parametrizations.weight.original0.mul_(_CODEC_GAIN)
    # The last conv is a band-pass (a random mix of one differentiated Hann
    # window: peak near 4 kHz, nothing at 0 Hz, little near 16 kHz) and sets
    # the level.  No DC, which adds to the peak but not to the loudness, and
    # little near 16 kHz, where true-peak oversamplers part.
    last = codec.decoder.layers[-1].conv
    out, into, taps = last.parametrizations.weight.original1.shape
    band = torch.diff(torch.hann_window(taps + 3, periodic=False)[1:-1])
    last.parametrizations.weight.original1.copy_(torch.randn(out, into, 1) * band)
    last.bias.zero_()
    last.parametrizations.weight.original0.mul_(_CODEC_LEVEL / _CODEC_GAIN)


def _modes_drawn(lm, signs) -> None:
    """Codes of one mode draw codes of the same mode: the first draws pick the take's mode.

    A code's signs push the decoder's state along one direction per sign, and
    the heads favour codes whose signs match it.  The directions lie in the
    position embedding's slowest sines (near zero over a take), with zero
    mean, so positions barely push.  Only the codes drawn write there: not the
    start token, not the layers, not the prompt, or the first draw's top-k
    would hold one mode only and every seed would land in it.
    """
    import torch

    hidden = lm.lm_heads[0].weight.shape[1]
    slow = _MODE_BITS + 1
    basis = torch.randn(slow, _MODE_BITS)
    basis -= basis.mean(dim=0)
    directions = torch.zeros(_MODE_BITS, hidden)
    directions[:, hidden - slow :] = torch.linalg.qr(basis).Q.T
    others = torch.eye(hidden) - directions.T @ directions
    channels = lm.config.audio_channels
    for k, (embed, head) in enumerate(zip(lm.model.decoder.embed_tokens, lm.lm_heads, strict=True)):
        push = signs[k // channels] @ directions
        embed.weight[:_CODEBOOK_SIZE] += _MODE_EMBED * push
        embed.weight[_CODEBOOK_SIZE:] @= others
        head.weight.mul_(_HEAD_SPREAD).add_(_MODE_HEAD * push)
    for layer in lm.model.decoder.layers:
        layer.encoder_attn.out_proj.weight.mul_(_TEXT_REACH)
        for linear in (layer.self_attn.out_proj, layer.fc2, layer.encoder_attn.out_proj):
            linear.weight.copy_(others @ linear.weight)


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
