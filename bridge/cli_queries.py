"""The short ``musicgen-bridge`` commands: ``ping``, ``status``, ``models`` and ``cancel``
ask a running engine; ``takes`` lists a folder's takes without one."""

from __future__ import annotations

import argparse
import json
import sys

from bridge.cli_common import (
    EXIT_ENGINE_ERROR,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    engine_client,
)
from bridge.config import ServeConfig
from bridge.model_list import catalog_json, format_catalog
from engine.errors import BridgeError


def client_command(args: argparse.Namespace) -> int:
    with engine_client(args) as client:
        try:
            if args.command == "ping":
                pong = client.ping()
                print("engine {state}: musicgen-bridge {version}, model {model}".format(**pong))
                if pong["reason"]:
                    print(pong["reason"])
            elif args.command == "status":
                from bridge.status_text import format_status

                now = client.status()
                _say_lost(now["missing_details"], "job")
                print(
                    json.dumps(now, indent=2, ensure_ascii=False)
                    if args.json
                    else format_status(now)
                )
            elif args.command == "models":
                loaded, available, entries, missing = client.catalog()
                _say_lost(missing, "model")
                if args.json:
                    print(catalog_json(loaded, available, entries))
                elif entries:
                    print(format_catalog(entries))
                else:  # an engine that predates the details
                    for name in available:
                        print(f"{name}{'  (loaded)' if name == loaded else ''}")
            else:
                print(f"cancel {args.job}: was {client.cancel(args.job)}")
        except BridgeError as exc:
            print(f"musicgen-bridge: {exc.message}", file=sys.stderr)
            return EXIT_UNREACHABLE if exc.code == "engine_unreachable" else EXIT_ENGINE_ERROR
    return EXIT_OK


def _say_lost(missing: int, what: str) -> None:
    """A details list that lost datagrams on the way is partial: say so, on stderr."""
    if missing:
        print(
            f"musicgen-bridge: {missing} {what} entr{'y' if missing == 1 else 'ies'} did not "
            "arrive (lost on the network); the list below is partial, ask again.",
            file=sys.stderr,
        )


def takes(args: argparse.Namespace) -> int:
    from bridge.takes import format_table, list_takes

    folder = args.folder
    if folder is None:
        try:
            folder = ServeConfig.from_sources({}).out_dir  # honours MUSICGEN_BRIDGE_OUT_DIR
        except ValueError as exc:
            print(f"musicgen-bridge: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        listing = list_takes(folder)
    except OSError as exc:
        print(
            f"musicgen-bridge: cannot list takes: {exc} Name a folder: takes DIR", file=sys.stderr
        )
        return EXIT_USAGE
    if listing.unreadable:
        print(
            f"musicgen-bridge: skipped {listing.unreadable} JSON file(s) under {folder} that "
            "could not be read as take sidecars",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps([take.to_json() for take in listing.takes], indent=2, ensure_ascii=False))
    elif listing.takes:
        print(format_table(listing.takes))
    else:
        print(f"No takes under {folder}.", file=sys.stderr)
    return EXIT_OK
