"""`manualqa license revoke KEY`: stop serving a manual's text at once."""

from __future__ import annotations

import argparse
import sys

from cli.common import actor, add_actor, catalog_session, fail
from sql import ingest
from sql.catalog import ManualNotFoundError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("license", help="manage manuals' licenses")
    commands = parser.add_subparsers(dest="license_command", metavar="ACTION", required=True)
    revoke = commands.add_parser("revoke", help="revoke a manual's license now")
    revoke.add_argument("key", metavar="KEY", help="the manual key")
    revoke.add_argument("--reason", default="", help="why, for the audit log")
    add_actor(revoke)
    revoke.set_defaults(handler=revoke_license)


def revoke_license(args: argparse.Namespace) -> int:
    try:
        with catalog_session() as session:
            ingest.revoke_license(session, args.key, actor(args), args.reason)
    except ManualNotFoundError as exc:
        return fail(str(exc))
    sys.stdout.write(f"revoked the license of {args.key}\n")
    return 0
