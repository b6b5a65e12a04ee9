"""The offline `sql` model: catalog questions of known forms, parsed into one SELECT.

It reads the question against the schema and the catalog's own names (vendors,
products, licenses) that the `sql` prompt carries, and writes a statement using only
tables and columns that schema shows. Forms it answers (README, "Catalog questions"):

- counts and lists of manuals, vendors, products and licenses ("How many manuals does
  Acme have?", "List the products of Nordlys Audio", "Which licenses are there?");
- filters by vendor, product, license, format (PDF, HTML, Markdown), public or private,
  status (quarantined, indexed…) and upload date ("after 2026-01-01", "in 2026",
  "this week", "today");
- per-vendor / per-product / per-license counts; page counts, and the manual with the
  most or fewest pages; which vendor makes a product; a manual's license or upload date;
- products with no manual ("manuals missing for a product"), quarantined manuals with
  their reasons, and manuals with chunks flagged for prompt injection.

Anything else gets `CANNOT_ANSWER`; the caller turns that into "configure a SQL model".
The statement still goes through the same guard as a hosted model's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from manualqa.documents import slugify
from manualqa.prompts import CANNOT_ANSWER_SQL

_JOIN_PRODUCT = "JOIN products ON products.id = manuals.product_id"
_JOIN_VENDOR = "JOIN vendors ON vendors.id = products.vendor_id"
_JOIN_LICENSE = "JOIN licenses ON licenses.id = manuals.license_id"
_FORMATS = {
    "pdf": "application/pdf",
    "html": "text/html",
    "web page": "text/html",
    "markdown": "text/markdown",
}
_STATUSES = ("quarantined", "indexed", "embedded", "chunked", "extracted", "ingested")
_DATE = r"(\d{4}-\d{2}-\d{2})"
# Every word a supported form may use besides the catalog's own names and numbers: a
# question with any other word asks something these forms would silently drop.
_VOCABULARY = frozenset(
    """
    a all altogether an and any are as at be by catalog collection count do does each
    exist exists for from have has how i in is it list many me name names number of on
    or our per show tell that the their there these this those to total we were what
    when which who with you sum
    manual manuals document documents guide guides file files pdf pdfs html markdown md
    web page pages format formats vendor vendors brand brands manufacturer manufacturers
    maker makers make makes made product products license licenses licence licences
    licensed public private non-public not quarantine quarantined quarantines indexed embedded
    chunked extracted ingested status uploaded added ingested date dates after before
    since today week month year most fewest largest smallest longest shortest
    missing without no lack lacking flagged injection chunks chunk get got
    """.split()
)


class CannotAnswer(Exception):
    """The question is not one of the forms this model knows."""


@dataclass
class _Query:
    """What the question asks for, before it is written as SQL."""

    subject: str  # manuals, vendors, products, licenses
    count: bool = False
    group_by: str | None = None  # vendor, product, license
    where: list[str] = field(default_factory=list)
    needs: set[str] = field(default_factory=set)  # tables the filters need joined


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9.-]+", " ", text.lower()).strip(" .-") + " "


def _mentions(question: str, name: str) -> bool:
    """Whether the question names `name`: in full, by slug, or by a model code (`AC-200`)."""
    q = _words(question)
    if _words(name) in q or f" {slugify(name)} " in f" {slugify(question)} ":
        return True
    codes = [t for t in re.findall(r"[a-z]+-?\d+[a-z0-9]*", name.lower()) if len(t) >= 3]
    return any(_words(code) in q or _words(code.replace("-", "")) in q for code in codes)


def _vendor_mentioned(question: str, vendor: str) -> bool:
    first = vendor.split()[0] if vendor.split() else vendor
    return _mentions(question, vendor) or (len(first) >= 4 and _words(first) in _words(question))


def _in_list(column: str, values: Sequence[str]) -> str:
    if len(values) == 1:
        return f"{column} = {_quote(values[0])}"
    return f"{column} IN ({', '.join(_quote(v) for v in values)})"


def _subject(q: str) -> str:
    """The entity asked about: the first of vendors / products / licenses / manuals named."""
    positions = {
        "vendors": re.search(r"\b(vendors?|brands?|manufacturers?|makers?|makes)\b", q),
        "products": re.search(r"\bproducts?\b", q),
        "licenses": re.search(r"\blicen[cs]es\b", q),
        "manuals": re.search(r"\b(manuals?|documents?|guides?|files?|pdfs?|pages)\b", q),
    }
    found = {k: m.start() for k, m in positions.items() if m}
    if "manuals" in found and re.search(r"\b(without|no|missing)\b", q):
        found.pop("manuals")  # "products without a manual" asks for products
        found.setdefault("products", 0)
    if not found:
        raise CannotAnswer
    return min(found, key=lambda k: found[k])


def _filters(question: str, q: str, query: _Query, values: Mapping[str, Sequence]) -> None:
    products = [p[0] for p in values.get("products", []) if _mentions(question, p[0])]
    vendors = [v for v in values.get("vendors", []) if _vendor_mentioned(question, v)]
    licenses = [
        lic for lic in values.get("licenses", []) if _mentions(question, lic.split(" (")[0])
    ]
    if products and query.subject != "products":
        query.where.append(_in_list("products.name", products))
        query.needs.add("products")
    elif products:
        query.where.append(_in_list("products.name", products))
    elif vendors and query.subject != "vendors":
        query.where.append(_in_list("vendors.name", vendors))
        query.needs.add("vendors")
    if licenses and query.subject != "licenses":
        query.where.append(_in_list("licenses.name", licenses))
        query.needs.add("licenses")
    for word, media in _FORMATS.items():
        if re.search(rf"\b{word}s?\b", q):
            query.where.append(f"manuals.media_type = {_quote(media)}")
            query.needs.add("manuals")
    if re.search(r"\b(private|non-public|not public)\b", q):
        query.where.append("manuals.is_public = false")
        query.needs.add("manuals")
    elif re.search(r"\bpublic\b", q):
        query.where.append("manuals.is_public = true")
        query.needs.add("manuals")
    for status in _STATUSES:
        if re.search(rf"\b{status}\b", q) or (status == "quarantined" and "quarantin" in q):
            query.where.append(f"manuals.status = {_quote(status)}")
            query.needs.add("manuals")
            break
    if re.search(r"\bflagged\b|\binjection\b", q):
        query.where.append(
            "manuals.id IN (SELECT chunks.manual_id FROM chunks "
            "JOIN chunk_injection_flags ON chunk_injection_flags.chunk_id = chunks.id)"
        )
        query.needs.add("manuals")
    _date_filters(q, query)


def _date_filters(q: str, query: _Query) -> None:
    column = "manuals.uploaded_at"
    bounds: list[str] = []
    if m := re.search(rf"\b(?:after|since|from) {_DATE}", q):
        bounds.append(f"{column} >= CAST({_quote(m[1])} AS DATE)")
    if m := re.search(rf"\bbefore {_DATE}", q):
        bounds.append(f"{column} < CAST({_quote(m[1])} AS DATE)")
    if m := re.search(rf"\bon {_DATE}", q):
        day = date.fromisoformat(m[1])
        bounds.append(f"CAST({column} AS DATE) = CAST({_quote(day.isoformat())} AS DATE)")
    if m := re.search(r"\bin (\d{4})\b", q):
        year = int(m[1])
        bounds.append(f"{column} >= CAST({_quote(f'{year}-01-01')} AS DATE)")
        bounds.append(f"{column} < CAST({_quote(f'{year + 1}-01-01')} AS DATE)")
    for phrase, unit in (("today", "day"), ("this week", "week"), ("this month", "month")):
        if phrase in q:
            bounds.append(f"{column} >= date_trunc({_quote(unit)}, now())")
    if bounds:
        query.where.extend(bounds)
        query.needs.add("manuals")


def _from_manuals(needs: set[str], *, left: bool = False) -> str:
    joins = ["FROM manuals", _JOIN_PRODUCT]
    if needs & {"vendors"} or left:
        joins.append(_JOIN_VENDOR)
    if "licenses" in needs:
        joins.append(_JOIN_LICENSE)
    return " ".join(joins)


def _where(query: _Query) -> str:
    return f" WHERE {' AND '.join(query.where)}" if query.where else ""


def _manuals_sql(q: str, query: _Query) -> str:
    needs = query.needs | {"vendors"}
    if query.group_by:
        group = {"vendor": "vendors.name", "product": "products.name", "license": "licenses.name"}
        column = group[query.group_by]
        if query.group_by == "license":
            needs.add("licenses")
        return (
            f"SELECT {column} AS {query.group_by}, count(*) AS manuals "
            f"{_from_manuals(needs)}{_where(query)} GROUP BY {column} ORDER BY {column}"
        )
    if re.search(r"\b(most|largest|longest|fewest|smallest|shortest) pages?\b|\bmost pages\b", q):
        order = "DESC" if re.search(r"\b(most|largest|longest)\b", q) else "ASC"
        return (
            f"SELECT manuals.key, manuals.title, manuals.page_count {_from_manuals(needs)}"
            f"{_where(query)}{' AND' if query.where else ' WHERE'} manuals.page_count IS NOT NULL"
            f" ORDER BY manuals.page_count {order}, manuals.key LIMIT 1"
        )
    if re.search(r"\bpages\b", q):
        # "How many pages does the RM-500 manual have?" lists that manual's count.
        if re.search(r"\b(total|altogether|in all|sum)\b", q) or (query.count and not query.where):
            return f"SELECT sum(manuals.page_count) AS pages {_from_manuals(needs)}{_where(query)}"
        return (
            f"SELECT manuals.key, manuals.page_count {_from_manuals(needs)}{_where(query)} "
            "ORDER BY manuals.key"
        )
    if query.count:
        return f"SELECT count(*) AS manuals {_from_manuals(needs)}{_where(query)}"
    if re.search(r"\blicen[cs]e\b", q):
        needs.add("licenses")
        return (
            f"SELECT manuals.key, licenses.name AS license {_from_manuals(needs)}"
            f"{_where(query)} ORDER BY manuals.key"
        )
    if re.search(r"\b(when|uploaded|added|date)\b", q) and not re.search(
        r"\b(after|before|since|in \d{4}|on \d{4})\b", q
    ):
        return (
            f"SELECT manuals.key, manuals.uploaded_at {_from_manuals(needs)}{_where(query)} "
            "ORDER BY manuals.key"
        )
    columns = "manuals.key, manuals.title, vendors.name AS vendor, products.name AS product"
    if "quarantin" in q:
        columns += ", manuals.quarantine_reason"
    return f"SELECT {columns} {_from_manuals(needs)}{_where(query)} ORDER BY manuals.key"


def _products_sql(q: str, query: _Query) -> str:
    base = "FROM products JOIN vendors ON vendors.id = products.vendor_id"
    if re.search(r"\b(without|no|missing|lack)\b", q):
        query.where.append(
            "NOT EXISTS (SELECT 1 FROM manuals WHERE manuals.product_id = products.id)"
        )
    if query.needs & {"manuals", "licenses"}:
        raise CannotAnswer  # filters on manuals belong to a question about manuals
    if query.count:
        return f"SELECT count(*) AS products {base}{_where(query)}"
    return (
        f"SELECT products.name AS product, vendors.name AS vendor {base}{_where(query)} "
        "ORDER BY vendors.name, products.name"
    )


def _vendors_sql(q: str, query: _Query) -> str:
    if query.needs & {"manuals", "licenses"}:
        raise CannotAnswer
    if any(w.startswith("products.") for w in query.where):
        return (
            "SELECT DISTINCT vendors.name AS vendor FROM vendors "  # nosec B608 - guarded
            f"JOIN products ON products.vendor_id = vendors.id{_where(query)} ORDER BY vendors.name"
        )
    if query.count:
        return f"SELECT count(*) AS vendors FROM vendors{_where(query)}"  # nosec B608 - guarded
    return f"SELECT vendors.name AS vendor FROM vendors{_where(query)} ORDER BY vendors.name"  # nosec B608


def _licenses_sql(q: str, query: _Query) -> str:
    if query.where:
        raise CannotAnswer
    if query.count:
        return "SELECT count(*) AS licenses FROM licenses"
    return "SELECT licenses.name AS license, licenses.redistributable FROM licenses ORDER BY 1"


def _check_vocabulary(q: str, values: Mapping[str, Sequence]) -> None:
    names = [*values.get("vendors", []), *values.get("licenses", [])]
    names += [p[0] for p in values.get("products", [])]
    known = {w for name in names for w in _words(name).split()}
    for word in q.split():
        if word in _VOCABULARY or word in known or re.fullmatch(r"[\d.-]+", word):
            continue
        if re.fullmatch(r"[a-z]+-?\d+[a-z0-9]*", word):  # a model code such as ac-200
            continue
        raise CannotAnswer


def _used_columns(sql: str) -> set[tuple[str, str]]:
    without_literals = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return set(re.findall(r"\b([a-z_]+)\.([a-z_]+)\b", without_literals))


_CLAUSE_RE = re.compile(r"[,;]\s*(?:and\s+)?|\s+and\s+(?=how|what|which|when|why|where|do|can)")


def catalog_sql(
    question: str, columns: Mapping[str, Sequence[str]], values: Mapping[str, Sequence]
) -> str:
    """One SELECT answering `question`, or `CANNOT_ANSWER_SQL`.

    A question of several clauses ("Which manuals cover the AC-200, and how do I reset
    it?") is answered by its first clause that is a catalog question form.

    Args:
        question: the user's question.
        columns: the allow-listed schema, table -> column names.
        values: the catalog's names: `vendors` [name], `products` [[name, vendor]],
            `licenses` [name].
    """
    for candidate in [question, *_CLAUSE_RE.split(question)]:
        sql = _clause_sql(candidate, columns, values)
        if sql != CANNOT_ANSWER_SQL:
            return sql
    return CANNOT_ANSWER_SQL


def _clause_sql(
    question: str, columns: Mapping[str, Sequence[str]], values: Mapping[str, Sequence]
) -> str:
    q = _words(question).strip()
    try:
        _check_vocabulary(q, values)
        query = _Query(subject=_subject(q))
        query.count = bool(re.search(r"\b(how many|number of|count)\b", q))
        if m := re.search(r"\b(?:per|by|for each|each) (vendor|product|licen[cs]e)\b", q):
            query.group_by = "license" if m[1].startswith("licen") else m[1]
        _filters(question, q, query, values)
        build = {
            "manuals": _manuals_sql,
            "products": _products_sql,
            "vendors": _vendors_sql,
            "licenses": _licenses_sql,
        }[query.subject]
        if re.search(r"\bwhich vendor makes\b|\bwho makes\b", q):
            build = _vendors_sql
        sql = build(q, query)
    except CannotAnswer:
        return CANNOT_ANSWER_SQL
    # Schema grounding: a form whose tables or columns the schema lacks is not answered.
    known = {(t, c) for t, cols in columns.items() for c in cols}
    if not _used_columns(sql) <= known:
        return CANNOT_ANSWER_SQL
    return sql
