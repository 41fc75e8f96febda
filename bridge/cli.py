"""The ``musicgen-bridge`` command: ``serve`` runs the engine; the rest are clients.

:func:`main` (the console script) parses the command line
(:mod:`bridge.cli_parser`) and runs the command: ``serve`` and ``download``
in :mod:`bridge.cli_serve`, ``generate`` in :mod:`bridge.cli_generate`,
``ping``, ``status``, ``models``, ``cancel`` and ``takes`` in
:mod:`bridge.cli_queries`.

Exit codes (:mod:`bridge.cli_common`): 0 success; 1 the engine refused or
failed the request; 2 bad command line; 3 the engine could not be reached;
130 interrupted.
"""

from __future__ import annotations

import contextlib
import os
import sys

from bridge.cli_common import EXIT_INTERRUPTED, EXIT_OK
from bridge.cli_generate import generate
from bridge.cli_parser import build_parser
from bridge.cli_queries import client_command, takes
from bridge.cli_serve import download, serve


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = _COMMANDS[args.command](args)
        sys.stdout.flush()  # here, where a reader gone early is caught, not at exit
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """stdout's reader is gone (``| head -1``): it had what it wanted, so end quietly.

    Python would otherwise say so again when it flushes stdout at exit; stdout
    goes to the null device first (as the Python docs advise for SIGPIPE).
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


_COMMANDS = {
    "serve": serve,
    "generate": generate,
    "status": client_command,
    "ping": client_command,
    "models": client_command,
    "cancel": client_command,
    "download": download,
    "takes": takes,
}

if __name__ == "__main__":
    sys.exit(main())
