"""musicgen-bridge's protocol side: OSC in, jobs queued, replies out.  No tensors.

Map of the package:

- :mod:`bridge.protocol` -- every OSC request address and argument, as data.  No sockets.
- :mod:`bridge.requests` -- the typed requests, and parsing a message into one
  (values checked by :mod:`bridge.arg_check`, a generate's spec built by
  :mod:`bridge.generate_spec`).
- :mod:`bridge.replies` -- every reply address, as data, and its builder.
- :mod:`bridge.server` -- the UDP server: datagrams in, one error boundary, replies out.
- :mod:`bridge.jobs` -- the FIFO queue and its single model worker;
  :mod:`bridge.job_record` (a job, and what status shows), :mod:`bridge.gather`
  (which jobs share a run, the gather window), :mod:`bridge.job_runs` (a run on
  the engine, each job's replies), :mod:`bridge.engine_like` (what it needs of
  the engine).
- :mod:`bridge.client` -- a Python client for a running engine (used by the CLI).
- :mod:`bridge.cli` -- the ``musicgen-bridge`` command: :func:`~bridge.cli.main` runs
  the command that :mod:`bridge.cli_parser` reads (``cli_serve``, ``cli_generate``,
  ``cli_queries``; exit codes in ``cli_common``).
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


def command() -> str:
    """This CLI as the user can type it again, for advice such as "start it with
    `<command> serve`".

    The checkout's ``./musicgen-bridge`` wrapper says how it was typed
    (``MUSICGEN_BRIDGE_CLI``); a ``musicgen-bridge`` found on PATH is called by
    its name; one run by its path (``.venv/bin/musicgen-bridge``) by that path,
    made absolute so it works from any folder.
    """
    import os
    import shutil
    import sys
    from pathlib import Path

    said = os.environ.get("MUSICGEN_BRIDGE_CLI", "").strip()
    if said:
        return said
    me = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if me is None or me.name != "musicgen-bridge":
        return "musicgen-bridge"  # python -m bridge.cli, or a test
    found = shutil.which("musicgen-bridge")
    try:
        if found and Path(found).resolve() == me.resolve():
            return "musicgen-bridge"
        return os.path.abspath(me)
    except OSError:
        return "musicgen-bridge"
