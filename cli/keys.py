"""`manualqa keys create|list|revoke`: API keys of the serving API.

A key is shown once, when it is created; the catalog keeps only a hash of its secret.
"""

from __future__ import annotations

import argparse
import sys

from cli.common import actor, add_actor, catalog_session, fail, print_json
from sql.api_keys import SCOPES, ApiKeyError, create_key, list_keys, revoke_key


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("keys", help="create, list and revoke API keys")
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = commands.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("name", metavar="NAME", help="whom the key is for")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        choices=SCOPES,
        required=True,
        help="what the key may do; repeat for several (admin implies all)",
    )
    create.add_argument(
        "--vendor", dest="vendors", action="append", default=[], help="only this vendor (slug)"
    )
    create.add_argument(
        "--product", dest="products", action="append", default=[], help="only this product (slug)"
    )
    create.add_argument("--json", action="store_true", help="print the key and its record as JSON")
    add_actor(create)
    create.set_defaults(handler=create_command)

    listing = commands.add_parser("list", help="the keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="revoked keys too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_command)

    revoke = commands.add_parser("revoke", help="revoke a key now")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id (as `keys list` shows)")
    add_actor(revoke)
    revoke.set_defaults(handler=revoke_command)


def create_command(args: argparse.Namespace) -> int:
    try:
        with catalog_session() as session:
            record, key = create_key(
                session, args.name, args.scopes, actor(args), args.vendors, args.products
            )
    except ApiKeyError as exc:
        return fail(str(exc))
    if args.json:
        print_json({"key": key, "record": record})
    else:
        sys.stdout.write(f"{key}\n")
        sys.stderr.write(f"created key {record.key_id} for {record.name}; it is not shown again\n")
    return 0


def list_command(args: argparse.Namespace) -> int:
    with catalog_session() as session:
        records = list_keys(session, include_revoked=args.all)
    if args.json:
        print_json(records)
        return 0
    for r in records:
        limits = ",".join([*r.vendors, *r.products]) or "all manuals"
        revoked = f"  revoked {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else ""
        sys.stdout.write(
            f"{r.key_id}  {r.name}  [{','.join(r.scopes)}]  {limits}"
            f"  created {r.created_at:%Y-%m-%d %H:%M} by {r.created_by}{revoked}\n"
        )
    return 0


def revoke_command(args: argparse.Namespace) -> int:
    try:
        with catalog_session() as session:
            record = revoke_key(session, args.key_id, actor(args))
    except ApiKeyError as exc:
        return fail(str(exc))
    sys.stdout.write(f"revoked {record.key_id} ({record.name})\n")
    return 0
