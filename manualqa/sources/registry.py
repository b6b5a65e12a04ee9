"""The connectors the configuration names, one per configured source."""

from __future__ import annotations

from manualqa.config import (
    CrawlSourceSettings,
    FolderSourceSettings,
    Settings,
    VendorApiSourceSettings,
    WebhookPartnerSettings,
    read_secret,
)
from manualqa.governance import ExclusionList
from manualqa.objectstore import ObjectStore
from manualqa.sources.base import Connector, SourceError
from manualqa.sources.crawl import CrawlConnector
from manualqa.sources.folder import FolderConnector
from manualqa.sources.inbox import Inbox, InboxConnector
from manualqa.sources.vendor_api import VendorApiConnector


def partner_inbox(settings: Settings, partner: str, store: ObjectStore) -> Inbox:
    """The inbox of webhook partner `partner`, with its secret from the environment.

    Raises:
        SourceError: no such partner, or its secret is not set.
    """
    partner_settings = settings.sources.webhooks.get(partner)
    if partner_settings is None:
        raise SourceError(f"no webhook partner named {partner!r}")
    secret = read_secret(partner_settings.secret_env)
    if not secret:
        raise SourceError(
            f"the secret of partner {partner} is not set "
            f"({partner_settings.secret_env} or {partner_settings.secret_env}_FILE)"
        )
    return Inbox(store, partner, partner_settings, secret.encode())


def folder_connector(settings: Settings) -> FolderConnector:
    """The connector of the configured folder source (not yet opened)."""
    source = settings.sources.folder
    return FolderConnector(
        settings.resolve(source.path),
        source.default_vendor,
        source.license.name,
        name="folder",
        namespace=settings.sources.namespace("folder"),
        license_defaults=source.license,
    )


def build_connector(settings: Settings, name: str, store: ObjectStore) -> Connector:
    """The connector of the configured source `name` (not yet opened).

    Raises:
        SourceError: no source has that name, or its configuration is incomplete.
    """
    configured = settings.sources.configured()
    if name not in configured:
        raise SourceError(f"no source named {name!r}; configured: {sorted(configured)}")
    source = configured[name]
    namespace = settings.sources.namespace(name)
    if isinstance(source, FolderSourceSettings):
        return folder_connector(settings)
    if isinstance(source, VendorApiSourceSettings):
        return VendorApiConnector(name, namespace, source)
    if isinstance(source, CrawlSourceSettings):
        crawl = source.model_copy(update={"rules": settings.resolve(source.rules)})
        exclusions = ExclusionList.load(settings.resolve(settings.governance.exclusions))
        return CrawlConnector(name, namespace, crawl, exclusions=exclusions)
    if isinstance(source, WebhookPartnerSettings):
        return InboxConnector(name, namespace, source, partner_inbox(settings, name, store))
    raise SourceError(f"source {name!r} has a kind this build cannot open")
