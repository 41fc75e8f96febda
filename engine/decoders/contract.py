"""The decoder contract: what every decoder takes and returns, and teacher forcing.

A *decoder* turns conditioning (text, optional melody chroma, optional prompt
tokens) into codec tokens ``[B, K, frames]``: B takes, K codebooks (stereo
checkpoints interleave left/right), one column per codec frame, without the
delay pattern.  Every decoder in this package is called alike (:class:`Decoder`):
``decoder(loaded, inputs, new_frames, sampling, seeds, on_step, pick=None)``, so
windowing, continuation, variations and shared runs (``engine.generate``) sit
above any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.checkpoint import LoadedModel
from engine.sampling import Sampling

#: Called after every decoder step; reports progress and may raise Cancelled.
StepHook = Callable[[], None]
#: Chooses a step's tokens instead of sampling: guided float logits ``[B * K, V]``
#: in, long ``[B * K]`` out.  Teacher forcing (tests, faithfulness benchmarks).
Picker = Callable[[Any], Any]


@dataclass
class DecodeInputs:
    """Conditioning for one decoder run of B takes (tensors on the model's device).

    Attributes:
        input_ids: text tokens ``[B, S]``.
        attention_mask: ``[B, S]``.
        melody: chroma ``[B, frames, 12]`` for melody checkpoints, else None.
        prompt_codes: tokens ``[B, K, T0]`` the takes continue from, else None.
        guidance: classifier-free guidance scale (1 = off).
        frames: new frames of each take, where the takes of one run differ in
            length (requests sharing a run; the engine's own loop only).  A
            take's tokens are those it makes alone; after its last frame its
            row holds the pad token.  None: every take makes ``new_frames``.
        offset: frames of these takes made before this run's first column (a
            later window of a long take: where its prompt starts).  The
            sampler counts columns from there (:func:`draw_column`), so no
            two windows of a take draw with the same noise.
    """

    input_ids: Any
    attention_mask: Any
    melody: Any = None
    prompt_codes: Any = None
    guidance: float = 3.0
    frames: tuple[int, ...] | None = None
    offset: int = 0

    @property
    def batch(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def prompt_frames(self) -> int:
        return 0 if self.prompt_codes is None else int(self.prompt_codes.shape[-1])


class Decoder(Protocol):
    """What every decoder is: conditioning of B takes in, codec tokens out.

    Args:
        loaded: the checkpoint (text or melody, mono or stereo; any dtype, device).
        inputs: conditioning of B takes.
        new_frames: complete frames to add after the prompt (>= 1); with
            ``inputs.frames``, the most any take makes.
        sampling: how tokens are chosen.
        seeds: B seeds, one per take (:mod:`engine.sampling`: a take's draws
            depend on its seed and its logits alone).
        on_step: called once per decoder step (``steps_for(loaded, new_frames)``
            times); an exception it raises (Cancelled) stops the run.
        pick: chooses every step's tokens instead of ``sampling`` (:data:`Picker`).

    Returns:
        Long tensor ``[B, K, T0 + new_frames]``: the prompt tokens, then the new ones.
    """

    def __call__(
        self,
        loaded: LoadedModel,
        inputs: DecodeInputs,
        new_frames: int,
        sampling: Sampling,
        seeds: Sequence[int],
        on_step: StepHook | None = None,
        *,
        pick: Picker | None = None,
    ) -> Any: ...


def draw_column(inputs: DecodeInputs, step: int) -> int:
    """The sampler's counter for a run's step ``step`` (0 first): the take's column.

    Step s places the delayed sequence's column ``1 + T0 + s`` (column 0 is the
    start token, then the prompt); counted from the take's first frame
    (``inputs.offset``), it is the same in any batch and new in every window.
    """
    return inputs.offset + 1 + inputs.prompt_frames + step


def codebooks_per_channel(loaded: LoadedModel) -> int:
    """The delay pattern's depth: codebook k of each channel lags k steps."""
    return loaded.model.decoder.num_codebooks // loaded.channels


def steps_for(loaded: LoadedModel, new_frames: int) -> int:
    """Decoder steps that produce ``new_frames`` complete frames."""
    return new_frames + codebooks_per_channel(loaded) - 1


def forced_logits(
    decoder: Decoder,
    loaded: LoadedModel,
    inputs: DecodeInputs,
    codes: Any,
    **kwargs: Any,
) -> Any:
    """The guided logits a decoder computes when fed ``codes`` (teacher forcing).

    Every step's tokens are taken from ``codes`` instead of being sampled, so
    two decoders (or one decoder in two batch shapes) are compared on the same
    history, step by step, rather than on takes that parted at the first
    token a rounding difference tipped.

    Args:
        decoder: any :class:`Decoder` (``reference_decode``, ``fast_decode``, a partial).
        loaded: the checkpoint.
        inputs: conditioning of B takes; its prompt, if any, is ``codes``' start.
        codes: long ``[B, K, T0 + new_frames]``: the prompt, then the tokens to feed.
        kwargs: passed to the decoder (``graphs=``).

    Returns:
        float32 ``[steps, B * K, V]``: the logits each step's tokens were chosen
        from (guidance applied), ``steps = steps_for(loaded, new_frames)``.
    """
    import torch

    t0 = inputs.prompt_frames
    total = int(codes.shape[-1])
    batch, codebooks = int(codes.shape[0]), int(codes.shape[1])
    delay = torch.arange(codebooks, device=codes.device) // loaded.channels
    record: list[Any] = []

    def pick(logits: Any) -> Any:
        # Step s writes frame t0 + s - delay(k) of codebook k (where the pattern leaves room).
        frame = (t0 + len(record) - delay).clamp(0, total - 1)
        record.append(logits.float().clone())
        chosen = codes[:, torch.arange(codebooks, device=codes.device), frame]  # [B, K]
        return chosen.reshape(batch * codebooks).to(logits.device)

    decoder(loaded, inputs, total - t0, Sampling(greedy=True), [0] * batch, pick=pick, **kwargs)
    return torch.stack(record)


def undelay(ids: Any, channels: int, start: int, frames: int) -> Any:
    """Undo the delay pattern: frame j of codebook k sits at column ``start + j + delay(k)``.

    Args:
        ids: ``[B, K, L]`` decoder sequence (column 0 is the start token).
        channels: 1, or 2 where left/right codebooks interleave (both lag alike).
        start: the column of the first frame wanted in codebook 0.
        frames: how many frames to read.

    Returns:
        ``[B, K, frames]``.
    """
    import torch

    rows = [
        ids[:, k, start + k // channels : start + k // channels + frames]
        for k in range(ids.shape[1])
    ]
    return torch.stack(rows, dim=1)
