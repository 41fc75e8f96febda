"""Text to audio on a loaded checkpoint: one take, with progress and cancel.

This module is the only place that drives transformers' ``generate``.  It
turns a :class:`~engine.spec.GenerationSpec` into a float32 array
``[channels, samples]`` at the codec's rate, exactly as long as asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.checkpoint import LoadedModel
from engine.errors import Cancelled, GenerationFailed, OutOfRange
from engine.spec import GenerationSpec
from engine.timing import frames_for_samples, seconds_to_samples

#: Called after every decode step with (steps done, steps in total).
ProgressCallback = Callable[[int, int], None]
#: Polled after every decode step; returning True stops the take with Cancelled.
CancelCheck = Callable[[], bool]


def decode_steps(loaded: LoadedModel, samples: int) -> tuple[int, int]:
    """Codec frames and decoder steps needed for ``samples`` samples.

    MusicGen's delay pattern offsets codebook k by k steps, so a take of F
    frames needs F + K - 1 decoder steps (K codebooks per channel).

    Returns:
        (frames, steps).
    """
    frames = frames_for_samples(samples, loaded.sample_rate, loaded.frame_rate)
    codebooks_per_channel = loaded.model.decoder.num_codebooks // loaded.channels
    return frames, frames + codebooks_per_channel - 1


def max_seconds(loaded: LoadedModel) -> float:
    """The longest single take the checkpoint's decoder can position, in seconds."""
    codebooks_per_channel = loaded.model.decoder.num_codebooks // loaded.channels
    return (loaded.max_frames - codebooks_per_channel) / loaded.frame_rate


def generate_audio(
    loaded: LoadedModel,
    spec: GenerationSpec,
    seed: int,
    on_progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """Generate one take.

    Args:
        loaded: the resident checkpoint.
        spec: what to make; its length decides the sample count.
        seed: seeds torch's RNG, so the same spec and seed give the same samples
            on the same device.
        on_progress: called once per decode step.
        is_cancelled: polled once per decode step.

    Returns:
        float32 array ``[C, T]``: C channels, T = round(duration * sample_rate).

    Raises:
        OutOfRange: longer than the checkpoint's window.
        Cancelled: ``is_cancelled`` returned True.
        GenerationFailed: the model call failed (e.g. out of memory).
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    samples = seconds_to_samples(spec.duration_seconds, loaded.sample_rate)
    _frames, steps = decode_steps(loaded, samples)
    if steps > loaded.max_frames:
        raise OutOfRange(
            f"{spec.duration_seconds:.2f} s is longer than one take of '{loaded.model_id}' "
            f"can be ({max_seconds(loaded):.1f} s)."
        )

    class _StepHook(StoppingCriteria):
        """Called by generate after each step: report progress, honour cancel."""

        done = 0

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            self.done += 1
            if on_progress is not None:
                on_progress(min(self.done, steps), steps)
            if is_cancelled is not None and is_cancelled():
                raise Cancelled("Cancelled.")
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    inputs = loaded.processor(text=[spec.prompt], padding=True, return_tensors="pt")
    inputs = {k: v.to(loaded.device) for k, v in inputs.items()}
    torch.manual_seed(seed)
    try:
        with torch.inference_mode():
            audio = loaded.model.generate(
                **inputs,
                max_new_tokens=steps,
                do_sample=True,
                temperature=spec.temperature,
                top_k=spec.top_k,
                # transformers wants top_p in (0, 1]; MusicGen's 0 means "off".
                top_p=spec.top_p if spec.top_p > 0 else 1.0,
                guidance_scale=spec.guidance,
                stopping_criteria=StoppingCriteriaList([_StepHook()]),
            )  # [B, C, T']
    except Cancelled:
        raise
    except torch.OutOfMemoryError as exc:
        raise GenerationFailed(
            f"Out of memory on {loaded.device} generating {spec.duration_seconds:.1f} s with "
            f"'{loaded.model_id}'. Try a shorter take or a smaller model."
        ) from exc
    except RuntimeError as exc:
        raise GenerationFailed(f"The model failed: {exc}") from exc

    out = audio[0].float().cpu().numpy()  # [C, T']
    if out.shape[-1] < samples:  # never expected: the frames were rounded up
        out = np.pad(out, ((0, 0), (0, samples - out.shape[-1])))
    return np.ascontiguousarray(out[:, :samples], dtype=np.float32)
