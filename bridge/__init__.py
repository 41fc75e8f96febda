"""musicgen-bridge's protocol side: OSC in, jobs queued, replies out.  No tensors.

Map of the package:

- :mod:`bridge.protocol` -- every OSC address and argument, as data; parsing
  into frozen requests; reply builders.  No sockets.
- :mod:`bridge.server` -- the UDP server: datagrams in, one error boundary, replies out.
- :mod:`bridge.jobs` -- the FIFO queue and its single model worker.
- :mod:`bridge.client` -- a Python client for a running engine (used by the CLI).
- :mod:`bridge.cli` -- the ``musicgen-bridge`` command.
- :mod:`bridge.config` -- the engine's settings from flags and environment.

The bridge reaches the engine only through :class:`engine.api.Engine`.
"""

from __future__ import annotations


def version() -> str:
    """The installed distribution's version."""
    from importlib import metadata

    try:
        return metadata.version("musicgen-bridge")
    except metadata.PackageNotFoundError:
        return "0.0.0+source"
