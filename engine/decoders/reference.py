"""The reference decoder: transformers' ``generate``, as the checkpoint's authors run it.

What the engine's own loop (:mod:`engine.decoders.loop`) is checked against,
and what ``serve --decoder reference`` runs.  Sampling is done by our own
logits processor (:class:`engine.sampling.TokenPicker`), each take drawing
with its own seed; progress and cancel ride on a ``StoppingCriteria`` that ``generate``
calls once per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.checkpoint import LoadedModel
from engine.decoders.contract import (
    DecodeInputs,
    Picker,
    StepHook,
    draw_column,
    steps_for,
    undelay,
)
from engine.sampling import Sampling, TokenPicker


def reference_decode(
    loaded: LoadedModel,
    inputs: DecodeInputs,
    new_frames: int,
    sampling: Sampling,
    seeds: Sequence[int],
    on_step: StepHook | None = None,
    *,
    pick: Picker | None = None,
) -> Any:
    """Generate ``new_frames`` frames after the prompt with transformers' ``generate``.

    ``pick``, where given, chooses every step's tokens instead of ``sampling``
    (see :data:`Picker`, :func:`forced_logits`).

    Returns:
        Long tensor ``[B, K, T0 + new_frames]``: the prompt tokens, then the new ones.
    """
    import torch
    from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

    if inputs.frames is not None and len(set(inputs.frames)) > 1:
        raise ValueError("transformers' generate makes takes of one length; use fast_decode")
    model = loaded.model
    num_codebooks = model.decoder.num_codebooks
    steps = steps_for(loaded, new_frames)
    last: dict[str, Any] = {}

    class _EachStep(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            last["ids"] = input_ids
            if on_step is not None:
                on_step()
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    kwargs: dict[str, Any] = {}
    if inputs.melody is not None:
        kwargs["input_features"] = inputs.melody
    if inputs.prompt_codes is not None:
        kwargs["decoder_input_ids"] = inputs.prompt_codes.reshape(inputs.batch * num_codebooks, -1)
    rows = inputs.batch * num_codebooks
    picker = TokenPicker(sampling, seeds, rows, inputs.guidance, draw_column(inputs, 0), pick)
    with torch.inference_mode():
        model.generate(
            input_ids=inputs.input_ids,
            attention_mask=inputs.attention_mask,
            max_new_tokens=steps,
            do_sample=False,
            guidance_scale=inputs.guidance,
            logits_processor=LogitsProcessorList([picker]),
            stopping_criteria=StoppingCriteriaList([_EachStep()]),
            **kwargs,
        )
    ids = last["ids"].reshape(inputs.batch, num_codebooks, -1)
    new = undelay(ids, loaded.channels, start=1 + inputs.prompt_frames, frames=new_frames)
    if inputs.prompt_codes is None:
        return new
    return torch.cat([inputs.prompt_codes, new], dim=-1)
