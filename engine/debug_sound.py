"""How the debug checkpoints sound: different per seed and prompt (issue 27).

Random weights alone made every debug take the same buzz: seven takes within
0.01 LU, whatever the seed or prompt.  :func:`make_audible` changes a freshly
initialised tiny MusicGen, still random and of the same sizes (bar a 31-tap
last codec conv), so that:

- each code carries three random signs;
- the codec is split into two voices, a dark one (1.5 kHz band) and a bright
  one (6 kHz); a code's signs pick how the voices share it: the first two one
  of four steps from dark to bright (the first also a quieter code when off),
  the third two steps brighter;
- the decoder keeps the brightness its first draws land on (the seed's, and the
  prompt's through cross-attention), and draws the third sign with a cosine of
  the position: the take brightens and darkens every :data:`PULSE_SECONDS`,
  with a duty cycle the prompt sets and a jitter the seed sets.

Measured on twelve 4 s takes per checkpoint (seeds 0-5, prompts "dusty drums"
and "warm rhodes chords"; 2-core AMD EPYC; v5 in brackets): spectral centroid
spread debug 1207 Hz (145), debug-stereo 761 (281), debug-melody 782 (16);
brightness swing with the pulse, median 3.4 dB (0.4), 2.3 (0.1), 2.4 (0.4);
400 ms short-term loudness within a take, 5-95 % range, median 0.84 LU (0.44),
0.66 (0.20), 0.72 (0.76); loudness across the takes spread 1.9 LU (2.9), 1.8
(3.6), 1.6 (0.3); peak-to-loudness at most 12.0, 8.6 and 11.8 dB (11.9, 8.4,
12.3), under the 13 dB a -14 LUFS target needs below a -1 dBTP ceiling.
"""

from __future__ import annotations

import math

_CODEBOOK_SIZE = 2048
#: The debug decoders' width; their position embedding turns at 10000**(-i/7) rad a frame.
DECODER_WIDTH = 16
_MODE_BITS = 3  # each code carries 3 signs: 8 "modes", each with its own sound
_CODE_SIZE = 0.4  # a codebook vector's length, over the root of its size
_MODE_EMBED = 1.0  # how strongly a drawn code's signs enter the decoder's state
_MODE_HEAD = 3.0  # how strongly that state favours codes of the same signs
_HEAD_SPREAD = 10.0  # the heads' own random part, so the rest of the state shapes the draws
_TEXT_REACH = 100.0  # cross-attention's output scale, so the prompt changes the draws
_TEXT_PULSE = 1.0  # cross-attention's reach into the pulse: the prompt sets its duty cycle
_PREFIX_REACH = 100.0  # the melody model's self-attention scale, so its chroma prefix is heard
_PULSE_POSITION = 1  # the pulse follows this position cosine: 23.4 frames (0.47 s) a turn
#: The debug takes' pulse: one turn of the position cosine it follows (s), 0.47.
PULSE_SECONDS = 2 * math.pi * 10000 ** (_PULSE_POSITION / (DECODER_WIDTH // 2 - 1)) / 50
_PULSE_HEAD = 6.0  # how strongly the position draws codes of the pulse's sign
_PULSE_STEP = 2  # a code on the pulse is this many brightness steps brighter
_PULSE_LEAN = 0.1  # how far a code's first sign moves the pulse's threshold
_TAKE_DEPTH = 0.4  # a code whose first sign is off is this much quieter (-4.4 dB)
_CODEC_GAIN = 2.0  # per upsampling conv: the codes, not the codec's biases, are heard
_CODEC_BIAS = 0.2  # the codec decoder's biases (their buzz) kept at this fraction
_CODEC_LEVEL = 0.05  # each voice's RMS after its band
_BANDS_HZ = (1500.0, 6000.0)  # the two voices' bands: dark and bright


def make_audible(model) -> None:
    """Tie the sound to the codes drawn, and the draws to the seed and prompt.

    ``model``: a freshly initialised MusicGen (or MusicGen-melody), changed in
    place.  Its random weights alone made every take the same buzz.
    """
    import torch

    quantizer = model.audio_encoder.quantizer.layers
    with torch.no_grad():
        signs = torch.randint(0, 2, (len(quantizer), _CODEBOOK_SIZE, _MODE_BITS)) * 2.0 - 1.0
        _codes_heard(model.audio_encoder, signs)
        _modes_drawn(model.decoder, signs)


def _codes_heard(codec, signs) -> None:
    """A codec of two voices, dark and bright, and codes whose signs say how they share them."""
    import torch

    quantizer = codec.quantizer.layers
    dim = quantizer[0].codebook.embed.shape[1]
    decoder = codec.decoder
    for name, param in decoder.named_parameters():
        if name.endswith("bias") and ".lstm." not in name:
            param.mul_(_CODEC_BIAS)
    # Its LSTM forgets at once (forget gates shut): with the codes no longer
    # 20x, its memory was heard, and a preview decoded in chunks, which
    # restarts it, parted from the take.
    lstm = decoder.layers[1].lstm
    size = lstm.hidden_size
    lstm.bias_ih_l0[size : 2 * size] = -20.0
    lstm.bias_hh_l0[size : 2 * size] = 0.0
    for layer in decoder.layers:
        conv = getattr(layer, "conv", None)
        if conv is not None and hasattr(conv, "parametrizations"):
            conv.parametrizations.weight.original0.mul_(_CODEC_GAIN)
    _two_voices(decoder)
    # The last conv gives each voice its band: a Hann-windowed sine (no DC,
    # little near 16 kHz, where true-peak oversamplers part), low for the
    # first voice, high for the second.
    last = decoder.layers[-1].conv
    out, into, taps = last.parametrizations.weight.original1.shape
    window = torch.hann_window(taps + 2, periodic=False)[1:-1]
    t = (torch.arange(taps) - (taps - 1) / 2) / 32000
    bands = torch.stack([window * torch.sin(2 * torch.pi * hz * t) for hz in _BANDS_HZ])
    last.bias.zero_()
    # A code's vector: a random direction of fixed length (no tails, so no
    # peaks), shared between the two voices' halves of the codes' space as
    # its signs say: the first two pick one of four shares, dark to bright
    # (the first also a quieter code when off), the third, the pulse's, two
    # steps brighter.
    books = len(quantizer)
    embed = torch.randn(books, _CODEBOOK_SIZE, dim)
    embed *= _CODE_SIZE * dim**0.5 / embed.norm(dim=-1, keepdim=True)
    bits = (signs > 0).float()
    level = bits[..., 0] + 2 * bits[..., 1] + _PULSE_STEP * bits[..., 2]
    angle = (level + 0.5) / (4 + _PULSE_STEP) * torch.pi / 2
    half = dim // 2
    share = torch.stack([angle.cos(), angle.sin()], -1).repeat_interleave(half, -1)
    loud = 1 - _TAKE_DEPTH * (1 - bits[..., :1])
    embed *= share * 2**0.5 * loud
    for layer, book_embed in zip(quantizer, embed, strict=True):
        book = layer.codebook
        book.embed.copy_(book_embed)
        book.embed_avg.copy_(book.embed)
        book.cluster_size.fill_(1.0)
    # Each voice at the same level after its band, whatever its random path
    # did to it: measured on random codes, fixed (seed 0) so that the build
    # stays a function of its seed.
    generator = torch.Generator().manual_seed(0)
    codes = torch.randint(0, _CODEBOOK_SIZE, (len(quantizer), 4, 100), generator=generator)
    latent = sum(layer.codebook.embed[c] for layer, c in zip(quantizer, codes, strict=True))
    voices = latent.transpose(1, 2)  # [B, dim, T]
    for layer in decoder.layers[:-1]:
        voices = layer(voices)  # [B, 2, samples]
    for k, band in enumerate(bands[:into]):
        heard = torch.nn.functional.conv1d(voices[:, k : k + 1], band[None, None])
        band *= _CODEC_LEVEL / heard.square().mean().sqrt()
    signs_out = torch.randint(0, 2, (out, into, 1)) * 2.0 - 1.0
    weight = signs_out * bands[:into]
    last.parametrizations.weight.original1.copy_(weight)
    last.parametrizations.weight.original0.copy_(weight.flatten(1).norm(dim=1)[:, None, None])


def _two_voices(decoder) -> None:
    """Split the codec decoder into two voices: the first half of every layer's
    channels hears only the first half of the one before, the second the second."""
    import torch

    def group(n: int):
        return torch.arange(n) * 2 // n

    for module in decoder.modules():
        if isinstance(module, torch.nn.LSTM):
            size = module.hidden_size
            rows = group(size).repeat(4)
            for name in ("weight_ih_l0", "weight_hh_l0"):
                weight = getattr(module, name)
                weight.mul_((rows[:, None] == group(weight.shape[1])[None]).float())
        parts = getattr(module, "parametrizations", None)
        if parts is None:
            continue
        weight = parts.weight.original1
        weight.mul_((group(weight.shape[0])[:, None] == group(weight.shape[1])[None])[..., None])
        # A one-channel layer belongs to the first voice: what then hears
        # nothing (a weight-norm row of zeros) is silenced by its gain.
        gain = parts.weight.original0
        empty = weight.flatten(1).norm(dim=1) == 0
        weight[empty] = 1.0
        gain[empty] = 0.0


def _modes_drawn(lm, signs) -> None:
    """The first draws pick the take's brightness; the position makes it pulse.

    A code's first two signs push the decoder's state along one direction
    each, and the heads favour codes whose signs match it: once the first
    draws (the seed's, the prompt's through cross-attention) land on a
    brightness, the take keeps it.  Those directions lie in the position
    embedding's slowest sines (near zero over a take), with zero mean, so
    positions barely push.  Only the codes drawn write there: not the start
    token, not the layers, not the prompt, or the first draw's top-k would
    hold one mode only and every seed would land in it.  The third sign (two
    steps brighter) follows a faster cosine of the position instead, from a
    threshold the prompt (through cross-attention) and the first sign move:
    the take pulses, its duty cycle the prompt's and the take's, its jitter
    the seed's.  The melody model's prompt is a prefix its self-attention
    reads, scaled up so that its chroma still changes the draws.
    """
    import torch

    hidden = lm.lm_heads[0].weight.shape[1]
    locked = _MODE_BITS - 1
    slow = locked + 1
    basis = torch.randn(slow, locked)
    basis -= basis.mean(dim=0)
    directions = torch.zeros(_MODE_BITS, hidden)
    directions[:locked, hidden - slow :] = torch.linalg.qr(basis).Q.T
    directions[locked, _PULSE_POSITION] = 1.0
    others = torch.eye(hidden) - directions.T @ directions
    pulse = directions[locked:].T @ directions[locked:]
    heads = torch.tensor([_MODE_HEAD] * locked + [_PULSE_HEAD])[:, None] * directions
    channels = lm.config.audio_channels
    for k, (embed, head) in enumerate(zip(lm.model.decoder.embed_tokens, lm.lm_heads, strict=True)):
        sign = signs[k // channels]
        # A stereo frame's codes push half each: the same state as a mono one's.
        push = _MODE_EMBED * sign[:, :locked] @ directions[:locked]
        # The first sign also leans on the pulse: a longer or a shorter beat.
        push += _PULSE_LEAN * sign[:, :1] * directions[locked]
        embed.weight[:_CODEBOOK_SIZE] += push / channels
        embed.weight[_CODEBOOK_SIZE:] @= others
        head.weight.mul_(_HEAD_SPREAD).add_(sign @ heads)
    for layer in lm.model.decoder.layers:
        text = getattr(layer, "encoder_attn", None)  # the melody model's text is a prefix
        if text is not None:
            weight = text.out_proj.weight
            weight.copy_(others @ weight * _TEXT_REACH + pulse @ weight * _TEXT_PULSE)
        else:
            layer.self_attn.out_proj.weight.mul_(_PREFIX_REACH)
        for linear in (layer.self_attn.out_proj, layer.fc2):
            linear.weight.copy_(others @ linear.weight)
