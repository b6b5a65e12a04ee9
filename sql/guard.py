"""The guard between a generated SQL statement and the catalog.

A statement passes only if it parses (sqlglot, PostgreSQL dialect) as exactly one
read-only query: a SELECT or a set operation of SELECTs, CTEs allowed but not
recursive and not data-modifying, no `SELECT INTO`, no locking clause, only the
tables, columns and functions of `sql.allowlist`, no schema-qualified names (so no
`pg_catalog` or `information_schema`), no cross joins. Every literal becomes a bound
parameter and the outermost query gets a `LIMIT` no larger than the configured one.
The statement that runs is regenerated from the parsed tree, so comments and anything
they hid are gone. The read-only role and transaction (`sql.readonly`) back this up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.qualify import qualify

from sql.allowlist import ALLOWED_FUNCTIONS, CatalogSchema, catalog_schema

DIALECT = "postgres"
MAX_TABLE_REFERENCES = 8
MAX_STATEMENT_CHARS = 10_000
_FORBIDDEN_NODES: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
    (exp.Merge, "MERGE"),
    (exp.Create, "CREATE"),
    (exp.Drop, "DROP"),
    (exp.Alter, "ALTER"),
    (exp.Copy, "COPY"),
    (exp.Command, "a command"),
    (exp.Into, "SELECT INTO"),
    (exp.Lock, "a locking clause (FOR UPDATE/SHARE)"),
    (exp.Set, "SET"),
    (exp.Transaction, "a transaction statement"),
    (exp.Commit, "a transaction statement"),
    (exp.Rollback, "a transaction statement"),
)
_NAME_RE = re.compile(r"[A-Za-z_]+")


class GuardRefusal(ValueError):
    """The statement may not run; `reason` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckedStatement:
    """A statement that passed the guard, ready for `sql.readonly.run_readonly`."""

    sql: str  # psycopg `%(name)s` placeholders
    params: dict[str, Any] = field(default_factory=dict)
    limit: int = 0
    # Result columns added to cite each row: (column name, table, primary-key column).
    row_keys: tuple[tuple[str, str, str], ...] = ()
    tables: tuple[str, ...] = ()  # catalog tables it reads


def check_statement(
    statement: str, max_rows: int, schema: CatalogSchema | None = None
) -> CheckedStatement:
    """Parse and check `statement`; return the form that may run.

    Raises:
        GuardRefusal: with the reason, for anything that is not one allowed SELECT.
    """
    schema = schema or catalog_schema()
    if len(statement) > MAX_STATEMENT_CHARS:
        raise GuardRefusal(f"the statement is longer than {MAX_STATEMENT_CHARS} characters")
    if "\x00" in statement:
        raise GuardRefusal("the statement contains a NUL character")
    tree = _parse_one(statement)
    _refuse_forbidden_nodes(tree)
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise GuardRefusal(f"only a SELECT may run, not {tree.key.upper()}")
    _check_ctes(tree)
    _check_tables(tree, schema)
    _check_joins(tree)
    _check_functions(tree)
    try:
        qualified = qualify(
            tree,
            schema=dict(schema.types),
            dialect=DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=True,
        )
    except Exception as exc:  # sqlglot raises OptimizeError and others on unknown names
        raise GuardRefusal(f"a column is not readable: {_first_line(exc)}") from exc
    limit = _enforce_limit(qualified, max_rows)
    row_keys = _add_row_keys(qualified, schema)
    params = _bind_literals(qualified)
    rendered = qualified.sql(dialect=DIALECT, comments=False)
    # Literals are parameters now; any other `%` must not read as a placeholder.
    rendered = re.sub(r"%(?!\(p\d+\)s)", "%%", rendered)
    tables = tuple(sorted({t.name for t in tree.find_all(exp.Table)} & set(schema.columns)))
    return CheckedStatement(
        sql=rendered, params=params, limit=limit, row_keys=row_keys, tables=tables
    )


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _parse_one(statement: str) -> exp.Expr:
    try:
        trees = [t for t in sqlglot.parse(statement, read=DIALECT) if t is not None]
    except ParseError as exc:
        reason = f"the statement does not parse as PostgreSQL: {_first_line(exc)}"
        raise GuardRefusal(reason) from exc
    except Exception as exc:  # the tokenizer raises its own errors on stray quotes
        raise GuardRefusal(f"the statement does not parse: {_first_line(exc)}") from exc
    if len(trees) != 1:
        raise GuardRefusal(f"exactly one statement may run; this has {len(trees)}")
    tree = trees[0]
    return tree


def _refuse_forbidden_nodes(tree: exp.Expr) -> None:
    for node in tree.walk():
        for kind, name in _FORBIDDEN_NODES:
            if isinstance(node, kind):
                raise GuardRefusal(f"{name} is not allowed; only a read-only SELECT may run")


def _check_ctes(tree: exp.Expr) -> None:
    for with_ in tree.find_all(exp.With):
        if with_.args.get("recursive"):
            raise GuardRefusal("recursive CTEs are not allowed")
    for cte in tree.find_all(exp.CTE):
        if not isinstance(cte.this, exp.Select | exp.SetOperation):
            raise GuardRefusal(f"the CTE {cte.alias!r} is not a SELECT")


def _check_tables(tree: exp.Expr, schema: CatalogSchema) -> None:
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = list(tree.find_all(exp.Table))
    if len(tables) > MAX_TABLE_REFERENCES:
        raise GuardRefusal(f"at most {MAX_TABLE_REFERENCES} table references are allowed")
    for table in tables:
        if isinstance(table.this, exp.Func):
            raise GuardRefusal("functions in FROM are not allowed")
        name = table.name.lower()
        if table.args.get("db") is not None or table.args.get("catalog") is not None:
            raise GuardRefusal(
                f"schema-qualified names are not allowed ({table.sql(dialect=DIALECT)}); "
                "system catalogs and information_schema are off limits"
            )
        if name not in schema.columns and name not in cte_names:
            raise GuardRefusal(f"the table {name!r} is not one text-to-SQL may read")


def _check_joins(tree: exp.Expr) -> None:
    for select in tree.find_all(exp.Select):
        for join in select.args.get("joins") or []:
            kind = (join.args.get("kind") or "").upper()
            on = join.args.get("on")
            # `ON true` or `ON 1 = 1` is a cross join by another name.
            if kind == "CROSS" or not (
                (on is not None and on.find(exp.Column)) or join.args.get("using")
            ):
                raise GuardRefusal(
                    "cross joins (and comma-separated FROM lists) are not allowed; "
                    "join with ON or USING on columns"
                )


def _check_functions(tree: exp.Expr) -> None:
    for node in tree.walk():
        if not isinstance(node, exp.Func) or isinstance(
            node, exp.Binary | exp.Connector | exp.Predicate | exp.Exists | exp.Case | exp.If
        ):
            continue
        if isinstance(node, exp.Anonymous):
            name = str(node.name).lower()
        else:
            match = _NAME_RE.match(node.sql(dialect=DIALECT))
            name = match.group(0).lower() if match else type(node).__name__.lower()
        if name not in ALLOWED_FUNCTIONS:
            raise GuardRefusal(f"the function {name}() is not allowed")


def _add_row_keys(tree: exp.Expr, schema: CatalogSchema) -> tuple[tuple[str, str, str], ...]:
    """Select each table's primary key too, so every row can cite the rows it came from.

    Only for a plain SELECT: a grouped, aggregated or DISTINCT result has no single
    source row, and its citation is the tables it read.
    """
    if not isinstance(tree, exp.Select) or tree.args.get("group") or tree.args.get("distinct"):
        return ()
    if any(e.find(exp.AggFunc) for e in tree.expressions):
        return ()
    sources = [tree.args.get("from_") or tree.args.get("from")]
    sources += [join for join in tree.args.get("joins") or []]
    keys = []
    for source in sources:
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table) or table.name not in schema.primary_keys:
            continue
        alias = table.alias_or_name
        for pk in schema.primary_keys[table.name]:
            column = f"__key_{alias}_{pk}"
            tree.select(
                exp.alias_(exp.column(pk, table=alias, quoted=True), column, quoted=True),
                copy=False,
            )
            keys.append((column, table.name, pk))
    return tuple(keys)


def _enforce_limit(tree: exp.Expr, max_rows: int) -> int:
    limit = tree.args.get("limit")
    if limit is None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(max_rows)))
        return max_rows
    value = limit.expression
    if not (isinstance(value, exp.Literal) and value.is_int):
        raise GuardRefusal("LIMIT must be a whole number")
    rows = min(int(value.this), max_rows)
    limit.set("expression", exp.Literal.number(rows))
    offset = tree.args.get("offset")
    if offset is not None and not (
        isinstance(offset.expression, exp.Literal) and offset.expression.is_int
    ):
        raise GuardRefusal("OFFSET must be a whole number")
    return rows


def _bind_literals(tree: exp.Expr) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for literal in list(tree.find_all(exp.Literal)):
        if literal.find_ancestor(exp.Limit, exp.Offset, exp.Interval, exp.DataType) is not None:
            continue
        if isinstance(literal.parent, exp.TimestampTrunc | exp.DateTrunc | exp.Extract):
            continue  # the unit of date_trunc / extract is a keyword, not a value
        name = f"p{len(params) + 1}"
        if literal.is_string:
            params[name] = literal.this
        else:
            number = literal.this
            params[name] = int(number) if re.fullmatch(r"-?\d+", number) else float(number)
        literal.replace(exp.Placeholder(this=name))
    return params
