"""Serving-time governance: text leaves the API only while its manual's license allows
serving, and every response that carries document text leaves an audit row.

The catalog is asked on every request, so revoking a license or letting it expire takes
effect at once, without re-indexing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from manualqa.index.base import SearchFilters
from serving.state import AppState
from sql import ingest
from sql.db import session_scope


def servable_filters(state: AppState, filters: SearchFilters) -> SearchFilters:
    """`filters` that also leave out every manual whose text may not be served now."""
    with session_scope(state.engine) as session:
        withheld = ingest.withheld_keys(session)
    return replace(filters, withheld_manual_keys=tuple(sorted(withheld)))


def audit_text_reads(
    state: AppState, client_id: str, action: str, manual_keys: Iterable[str]
) -> None:
    """One audit row per manual whose passages a response carried, naming the caller."""
    served = Counter(manual_keys)
    if not served:
        return
    with session_scope(state.engine) as session:
        ingest.record_text_reads(session, client_id, action, served)
