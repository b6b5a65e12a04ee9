"""`manualqa sources list`: every configured source and what the catalog holds from it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.common import catalog_session, print_json
from manualqa.config import get_settings
from sql import ingest

KINDS = {"folder": "folder", "apis": "vendor_api", "crawls": "crawl", "webhooks": "webhook"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sources", help="configured manual sources")
    commands = parser.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="each source, its kind, namespace and last run")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=list_sources)


def list_sources(args: argparse.Namespace) -> int:
    settings = get_settings()
    sources = settings.sources
    kinds = {"folder": "folder"}
    for group, kind in KINDS.items():
        if group != "folder":
            kinds.update(dict.fromkeys(getattr(sources, group), kind))
    with catalog_session() as session:
        stats = ingest.source_stats(session, list(kinds))
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "kind": kinds[name],
            "namespace": sources.namespace(name),
            "schedule": sources.configured()[name].schedule,
            "license": sources.configured()[name].license.name,
            "manuals": stats[name].manuals,
            "quarantined": stats[name].quarantined,
            "duplicates": stats[name].duplicates,
            "last_run": stats[name].last_job,
        }
        for name in kinds
    ]
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        job = row["last_run"]
        last = (
            f"{job.status} {job.finished_at:%Y-%m-%d %H:%M} ({_counts(job.counts)})"
            if job
            else "never run"
        )
        sys.stdout.write(
            f"{row['name']}\t{row['kind']}\tnamespace={row['namespace'] or '-'}\t"
            f"manuals={row['manuals']}\tquarantined={row['quarantined']}\t"
            f"duplicates={row['duplicates']}\t{last}\n"
        )
    return 0


def _counts(counts: dict[str, int]) -> str:
    """The last run's non-zero counts, e.g. `discovered=5 unchanged=4 gone=1`."""
    return " ".join(f"{name}={n}" for name, n in counts.items() if n) or "nothing found"
