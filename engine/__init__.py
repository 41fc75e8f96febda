"""musicgen-bridge's engine: MusicGen checkpoints in, WAV files out.  No networking.

Map of the package:

- :mod:`engine.api` -- :class:`Engine`, the one interface the bridge uses
  (load, generate, available_models), with :class:`EngineSettings` and
  :class:`Take`.
- :mod:`engine.residency` -- the resident checkpoints and how each is loaded
  (:class:`ModelInfo`).
- :mod:`engine.spec` -- :class:`GenerationSpec`, the frozen description of a take.
- :mod:`engine.timing` -- bars, tempo and time signatures to seconds and samples.
- :mod:`engine.checkpoint` -- finding (offline-first) and loading checkpoints.
- :mod:`engine.debug_checkpoint` -- the tiny random-weight ``debug`` checkpoint.
- :mod:`engine.generate` -- requests made takes: planned, decoded (alone or
  sharing a run), with per-step progress and cancel (:mod:`engine.progress`).
- :mod:`engine.windows`, :mod:`engine.conditioning`, :mod:`engine.post_process`
  -- a take cut into decoder windows; its melody and continuation inputs; its
  tokens made audio of the exact length.
- :mod:`engine.output` -- atomic, non-overwriting WAV + sidecar writing.
- :mod:`engine.errors` -- the error tree and the stable codes clients see.

Importing this package does not import torch; loading a model does.
"""
