"""The demo catalog (no pipeline run): the demo manifest written with `sql.catalog`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from manualqa.config import PROJECT_ROOT, Settings
from manualqa.documents import ManualRef
from manualqa.sources import FolderConnector
from sql import catalog
from sql.models import Product, Vendor
from sql.readonly import make_readonly_engine, readonly_url

DEMO_MANUALS = PROJECT_ROOT / "demo_corpus" / "manuals"
QUARANTINED = "nordlys-audio__tt-3__service-manual"
PRODUCT_WITHOUT_MANUAL = "PureAir AC-400 Air Purifier"


@dataclass(frozen=True)
class DemoCatalog:
    refs: list[ManualRef]
    pages: dict[str, int]  # manual key -> page count written


@pytest.fixture
def demo_catalog(db_session: Session) -> DemoCatalog:
    """Every demo manual with a page count, one quarantined, one product with no manual."""
    refs = FolderConnector(DEMO_MANUALS).list_all()
    pages = {}
    for i, ref in enumerate(refs):
        catalog.upsert_manual(
            db_session,
            ref,
            content_hash=f"{i:064x}",
            size_bytes=1000 + i,
            object_key=f"raw/{ref.key}",
            config_version="1",
        )
        pages[ref.key] = 10 + 7 * i
        catalog.set_manual_status(db_session, ref.key, "indexed", page_count=pages[ref.key])
    catalog.quarantine_manual(db_session, QUARANTINED, "unreadable test copy")
    acme = db_session.query(Vendor).filter_by(slug="acme-appliances").one()
    db_session.add(Product(vendor_id=acme.id, slug="pureair-ac-400", name=PRODUCT_WITHOUT_MANUAL))
    db_session.commit()
    return DemoCatalog(refs=refs, pages=pages)


@pytest.fixture(scope="session")
def readonly_engine(database_url: str) -> Iterator[Engine]:
    engine = make_readonly_engine(readonly_url(Settings(), database_url))
    try:
        yield engine
    finally:
        engine.dispose()
