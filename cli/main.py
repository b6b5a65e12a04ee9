"""`manualqa <command> ...`: one sub-command group per module.

Each module in `COMMANDS` exposes `register(subparsers)`, which adds its parser and
sets `handler` (a function of the parsed arguments returning the exit status).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from types import ModuleType

from cli import audit, evals, keys, license, migrate, quarantine, sources, sql, store, up

COMMANDS: tuple[ModuleType, ...] = (
    audit,
    evals,
    keys,
    license,
    migrate,
    quarantine,
    sources,
    sql,
    store,
    up,
)


LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manualqa", description="Manual QA: pipeline, catalog and API operations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if not args.verbose:  # LiteLLM logs every call at INFO, to standard output
        for name in LITELLM_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    status: int = args.handler(args)
    return status
