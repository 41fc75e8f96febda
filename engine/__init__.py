"""musicgen-bridge's engine: MusicGen checkpoints in, WAV files out.  No networking.

Map of the package:

- :mod:`engine.api` -- :class:`Engine`, the one interface the bridge uses
  (load, generate, available_models), with :class:`EngineSettings`,
  :class:`ModelInfo` and :class:`Take`.
- :mod:`engine.spec` -- :class:`GenerationSpec`, the frozen description of a take.
- :mod:`engine.timing` -- bars, tempo and time signatures to seconds and samples.
- :mod:`engine.checkpoint` -- finding (offline-first) and loading checkpoints.
- :mod:`engine.debug_checkpoint` -- the tiny random-weight ``debug`` checkpoint.
- :mod:`engine.generate` -- the decode call, with per-step progress and cancel.
- :mod:`engine.output` -- atomic, non-overwriting WAV + sidecar writing.
- :mod:`engine.errors` -- the error tree and the stable codes clients see.

Importing this package does not import torch; loading a model does.
"""
