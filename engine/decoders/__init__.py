"""The decoders: conditioning in, codec tokens out, all behind one interface.

Every decoder is a :class:`~engine.decoders.contract.Decoder`:
``decoder(loaded, inputs, new_frames, sampling, seeds, on_step, pick=None)``
returns tokens ``[B, K, T0 + new_frames]``.  :func:`decoder` gives the one a
setting names.  What each module holds:

- ``contract``: the interface (``Decoder``, ``DecodeInputs``, step and pick
  hooks), the delay pattern's arithmetic, teacher forcing (``forced_logits``);
- ``reference``: transformers' ``generate`` (``reference_decode``);
- ``loop``: the engine's own static-cache loop (``fast_decode``, ``Run``);
- ``layers``: the decoder layers as both of the loop's steps run them
  (``LayerStack``);
- ``cross_fold``: cross-attention folded into a run's texts on the CPU
  (``FoldedCross``);
- ``static_step``: the static step with every shape fixed, ending with the
  sampler (``StepBuffers``, ``StepRunner``);
- ``step_graph``: the static steps captured as CUDA graphs at load
  (``prepare_step_graphs``);
- ``step_checks``: the checks a prepared step passes before runs use it;
- ``background_capture``: the graphs checked and captured after the engine
  is ready (``serve --graph-capture background``);
- ``fused_step``, ``triton_kernels``, ``triton_sampling``: the static step
  and its sampler in Triton kernels (``serve --fused-step``, off by default);
- ``kernels``: the CPU kernels chosen per machine at load (cached, logged);
- ``kernel_timing``: the candidates timed on the model's own weights;
- ``linears``: what the decoder's Linear layers become (oneDNN-prepacked,
  q/k/v fused);
- ``precision``: the reduced-precision CPU variants (``prepare_for_cpu``);
- ``codec``: codec tokens to audio and back (``encode_audio``, ``decode_audio``).

Importing this package does not import torch (the bridge reads
``precision.CPU_MODES`` and :data:`KERNEL_CHOICES`); the modules import it
where they use it.  No module here imports one that imports it back:
``loop`` knows the prepared steps only by their protocol
(``loop.PreparedSteps``).
"""

from __future__ import annotations

from typing import Any

from engine.decoders.contract import DecodeInputs, Decoder, Picker, StepHook

#: Decoders by the name ``EngineSettings.decoder`` / ``serve --decoder`` gives.
DECODERS = ("fast", "reference")
#: CPU Linear kernels exact to float rounding (``linears.apply_kernel``): ``"module"`` is
#: the checkpoint's own ``nn.Linear`` (``F.linear``: MKL, or oneDNN where aten picks it);
#: ``"onednn"`` the weights prepacked for oneDNN.  Here so that the bridge can check
#: ``serve --cpu-kernel`` without importing torch.
KERNELS = ("module", "onednn")
#: When the CUDA graphs are captured (``EngineSettings.graph_capture``,
#: ``serve --graph-capture``): during the load, or after the engine is ready.
GRAPH_CAPTURES = ("now", "background")
#: What ``EngineSettings.cpu_kernel`` / ``serve --cpu-kernel`` may be: a kernel, or
#: "auto" (measured at load, ``kernels.choose_kernel``).
KERNEL_CHOICES = ("auto", *KERNELS)

__all__ = [
    "DECODERS",
    "GRAPH_CAPTURES",
    "KERNELS",
    "KERNEL_CHOICES",
    "DecodeInputs",
    "Decoder",
    "Picker",
    "StepHook",
    "decoder",
]


def decoder(name: str, graphs: Any = None) -> Decoder:
    """The decoder ``name`` names, with the static steps ``graphs`` where it uses them.

    Args:
        name: "fast" (the engine's loop) or "reference" (transformers' generate).
        graphs: ``step_graph.StepGraphs`` prepared at load, or None (fast only).
    """
    if name == "fast":
        from functools import partial

        from engine.decoders.loop import fast_decode

        return partial(fast_decode, graphs=graphs)
    if name == "reference":
        from engine.decoders.reference import reference_decode

        return reference_decode
    raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, not {name!r}")
