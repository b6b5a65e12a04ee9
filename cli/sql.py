"""`manualqa sql …`: the text-to-SQL guard, flagged chunks, LLM usage.

`manualqa sql check` reads one statement on standard input and runs it through the
guard only (no database): it prints the verdict and exits 0 when the statement is
refused, 1 when it would run.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from manualqa.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

EXIT_REFUSED = 0
EXIT_WOULD_RUN = 1


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sql", help="text-to-SQL guard, flagged chunks, LLM usage")
    commands = parser.add_subparsers(dest="sql_command", metavar="SQL_COMMAND", required=True)
    check = commands.add_parser(
        "check", help="guard one statement from stdin: exit 0 if refused, 1 if it would run"
    )
    check.set_defaults(handler=_check)
    flagged = commands.add_parser(
        "flagged", help="chunks flagged for prompt injection, and hidden text left out"
    )
    flagged.add_argument("--manual", help="only this manual key")
    flagged.set_defaults(handler=_flagged)
    usage = commands.add_parser("usage", help="LLM calls, tokens and cost, grouped")
    usage.add_argument(
        "--by", choices=["client_id", "partition", "role", "model"], default="client_id"
    )
    usage.set_defaults(handler=_usage)


def _check(args: argparse.Namespace) -> int:
    from sql.guard import GuardRefusal, check_statement

    statement = sys.stdin.read()
    try:
        checked = check_statement(statement, get_settings().text_to_sql.max_rows)
    except GuardRefusal as exc:
        _out(f"refused: {exc.reason}")
        return EXIT_REFUSED
    _out(f"would run: {checked.sql}")
    _out(f"parameters: {checked.params}")
    return EXIT_WOULD_RUN


def _session() -> AbstractContextManager[Session]:
    from sql import db

    settings = get_settings()
    url = db.resolve_database_url(settings)
    db.migrate(url)
    return db.session_scope(db.make_engine(url))


def _flagged(args: argparse.Namespace) -> int:
    from sql import catalog

    with _session() as session:
        rows = catalog.list_flagged_chunks(session, args.manual)
        hidden = catalog.list_hidden_text(session, args.manual)
    for row in rows:
        _out(f"{row.manual_key}\tpage {row.page}\t{row.section}\t{row.rule}\t{row.excerpt!r}")
    _out(f"{len(rows)} flags")
    for h in hidden:
        _out(f"{h.manual_key}\tpage {h.page}\t{h.reason}\t{h.chars} chars\t{h.excerpt!r}")
    _out(f"{len(hidden)} runs of hidden text left out of the manuals")
    return 0


def _usage(args: argparse.Namespace) -> int:
    from sql.usage import usage_by

    with _session() as session:
        totals = usage_by(session, args.by)
    _out(f"{args.by}\tcalls\tcached\tprompt_tokens\tcompletion_tokens\tcost_usd\tunpriced")
    for t in totals:
        _out(
            f"{t.key}\t{t.calls}\t{t.cached}\t{t.prompt_tokens}\t{t.completion_tokens}"
            f"\t{t.cost_usd:.6f}\t{t.unpriced_calls}"
        )
    return 0
