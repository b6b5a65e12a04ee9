"""`manualqa quarantine list|release`: documents refused at ingest or extraction."""

from __future__ import annotations

import argparse
import sys

from cli.common import actor, add_actor, catalog_session, fail, print_json
from manualqa.config import get_settings
from manualqa.objectstore import ObjectStoreError, open_object_store, raw_key
from sql import ingest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quarantine", help="list or release quarantined documents")
    commands = parser.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="documents held in quarantine, oldest first")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.add_argument("--all", action="store_true", help="include released ones")
    listing.set_defaults(handler=list_quarantine)
    release = commands.add_parser(
        "release", help="let a quarantined manual through: its bytes become its raw file"
    )
    release.add_argument("key", metavar="KEY", help="the manual key")
    add_actor(release)
    release.set_defaults(handler=release_quarantine)


def list_quarantine(args: argparse.Namespace) -> int:
    with catalog_session() as session:
        records = ingest.list_quarantine(session, include_released=args.all)
    if args.json:
        print_json(records)
        return 0
    for r in records:
        state = f"released by {r.released_by}" if r.released_at else "held"
        sys.stdout.write(
            f"{r.manual_key}\t{r.reason_code}\t{r.reason}\t{r.object_key}\t"
            f"{r.quarantined_at:%Y-%m-%d %H:%M}\t{state}\n"
        )
    if not records:
        sys.stdout.write("nothing in quarantine\n")
    return 0


def release_quarantine(args: argparse.Namespace) -> int:
    store = open_object_store(get_settings())
    with catalog_session() as session:
        held = ingest.held_quarantine(session, args.key)
        if held is None:
            return fail(f"manual {args.key!r} has nothing held in quarantine")
        target = held.object_key
        if not target.startswith("raw/"):
            name = held.object_key.rsplit("/", 1)[-1]
            target = raw_key(args.key, held.content_hash, name)
            try:
                store.put_immutable(
                    target,
                    store.get(held.object_key),
                    {**store.metadata(held.object_key), "released_by": actor(args)},
                )
            except ObjectStoreError as exc:
                return fail(f"cannot release {args.key}: {exc}")
        ingest.release_quarantine(session, args.key, actor(args), raw_object_key=target)
    sys.stdout.write(f"released {args.key}: {target}\n")
    return 0
