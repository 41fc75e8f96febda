"""What every ``musicgen-bridge`` command shares: its exit codes, and the engine client
that a client command's ``--host``, ``--port``, ``--timeout`` and ``--token`` name."""

from __future__ import annotations

import argparse
import os
from typing import Any

EXIT_OK, EXIT_ENGINE_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def engine_client(args: argparse.Namespace) -> Any:
    from bridge.client import EngineClient

    token = args.token if args.token is not None else os.environ.get("MUSICGEN_BRIDGE_TOKEN")
    return EngineClient(args.host, args.port, args.timeout, token)
