"""How long a take is in codec frames, and how it is cut into decoder windows.

MusicGen was trained on 30 s windows.  A take beyond one window is made in
several decoder runs, each prompted by the last 12 s of the one before
(audiocraft's ``extend_stride`` of 18 s); a continuation's first run is
prompted by the end of its audio file.  :func:`windows` plans those runs for
a checkpoint, :func:`frames_needed` says how many frames a request needs (its
length plus what loop and tempo correction consume), and :func:`total_steps`
how many decoder steps that takes.
"""

from __future__ import annotations

import math

from engine import audio as dsp
from engine.checkpoint import LoadedModel
from engine.decoders.contract import codebooks_per_channel, steps_for
from engine.errors import OutOfRange
from engine.post_process import TEMPO_MARGIN
from engine.spec import GenerationSpec
from engine.timing import frames_for_samples, seconds_to_samples

WINDOW_SECONDS = 30.0  # what MusicGen was trained on (audiocraft's max_duration)
EXTEND_STRIDE_SECONDS = 18.0  # audiocraft's default: each new window keeps 12 s of context
MAX_TAKE_SECONDS = 600.0


def window_frames(loaded: LoadedModel) -> int:
    """Frames one decoder run may hold (prompt included)."""
    positions = loaded.max_frames - codebooks_per_channel(loaded)
    return min(int(WINDOW_SECONDS * loaded.frame_rate), positions)


def max_prompt_seconds(loaded: LoadedModel) -> float:
    """The longest continuation prompt: the window less one second to continue in."""
    return window_frames(loaded) / loaded.frame_rate - 1.0


def plan_windows(prompt_frames: int, new_frames: int, window: int, stride: int) -> list[tuple]:
    """(prompt frames kept, new frames) for each decoder run of a take.

    The first run keeps the whole continuation prompt; each later run keeps the
    last ``window - stride`` frames made so far, as audiocraft's extension does.
    """
    runs, made, keep = [], 0, prompt_frames
    while made < new_frames:
        new = min(new_frames - made, window - keep)
        runs.append((keep, new))
        made += new
        keep = min(prompt_frames + made, window - stride)
    return runs


def windows(loaded: LoadedModel, prompt_frames: int, new_frames: int) -> list[tuple]:
    """:func:`plan_windows` with the checkpoint's window and audiocraft's stride."""
    stride = int(EXTEND_STRIDE_SECONDS * loaded.frame_rate)
    return plan_windows(prompt_frames, new_frames, window_frames(loaded), stride)


def total_steps(loaded: LoadedModel, spec: GenerationSpec) -> int:
    """Decoder steps a spec will take (for benchmarks and tests).

    A continuation is counted with its full ``prompt_seconds``; a shorter file
    prompts with less, and takes the steps :func:`engine.generate.render` reports.
    """
    prompt = 0
    if spec.continue_from is not None:
        prompt = int(spec.prompt_seconds * loaded.frame_rate)
    runs = windows(loaded, prompt, frames_needed(loaded, spec))
    return sum(steps_for(loaded, new) for _keep, new in runs)


def frames_needed(loaded: LoadedModel, spec: GenerationSpec) -> int:
    """Codec frames to generate: the take, plus what loop and tempo correction consume.

    Raises:
        OutOfRange: a take longer than ``MAX_TAKE_SECONDS``.
    """
    sr = loaded.sample_rate
    samples = seconds_to_samples(spec.duration_seconds, sr)
    if spec.tempo_correct:
        samples += math.ceil(samples * TEMPO_MARGIN)
    if spec.loop:
        samples += dsp.loop_fade_samples(sr)
    if samples > MAX_TAKE_SECONDS * sr:
        raise OutOfRange(f"A take can be at most {MAX_TAKE_SECONDS:g} s.")
    return frames_for_samples(samples, sr, loaded.frame_rate)
