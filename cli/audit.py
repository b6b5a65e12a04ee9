"""`manualqa audit tail`: the newest audit-log rows."""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import catalog_session, print_json
from sql import ingest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit", help="read the audit log")
    commands = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    tail = commands.add_parser("tail", help="the newest rows, oldest first")
    tail.add_argument("-n", "--lines", type=int, default=50, help="how many rows (default 50)")
    tail.add_argument("--action", default=None, help="only actions starting with this")
    tail.add_argument("--json", action="store_true", help="JSON instead of lines")
    tail.set_defaults(handler=tail_audit)


def tail_audit(args: argparse.Namespace) -> int:
    if args.lines < 1:
        sys.stderr.write("manualqa: --lines must be at least 1\n")
        return 2
    with catalog_session() as session:
        records = ingest.tail_audit(session, args.lines, action=args.action)
    if args.json:
        print_json(records)
        return 0
    for r in records:
        detail = json.dumps(r.detail, sort_keys=True)
        sys.stdout.write(f"{r.at.isoformat()}\t{r.actor}\t{r.action}\t{r.subject}\t{detail}\n")
    return 0
