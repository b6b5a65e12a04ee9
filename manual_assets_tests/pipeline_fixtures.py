"""Session fixtures that materialize the demo corpus once on embedded PostgreSQL.

Registered from the root conftest via `pytest_plugins`, so the asset, serving and
eval tests share one materialized index.
"""

from __future__ import annotations

import csv
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS
from manual_assets.catch_up import catch_up
from manual_assets.resources import build_resources
from manualqa.config import PROJECT_ROOT, Settings, get_settings
from manualqa.sources import FolderConnector
from sql.db import drop_database, ensure_database, migrate
from sql.embedded import EmbeddedPostgres

DEMO_MANUALS = PROJECT_ROOT / "demo_corpus" / "manuals"


@dataclass
class Pipeline:
    settings: Settings
    instance: dg.DagsterInstance
    keys: list[str]

    def resources(self) -> dict:
        return build_resources(self.settings)

    def materialize(self, key: str, **kwargs) -> dg.ExecuteInProcessResult:
        """Run every stage of one manual, and the checks on them, in one run."""
        self.instance.add_dynamic_partitions("manuals", [key])
        return dg.materialize(
            [*MANUAL_ASSETS, *MANUAL_CHECKS],
            partition_key=key,
            instance=self.instance,
            resources=self.resources(),
            **kwargs,
        )


def pipeline_settings(data_dir: Path, folder: Path, database_url: str, **extra) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        sources={"folder": {"path": folder}},
        # Budgets the serving tests' loops stay within; test_rate_limits sets tight ones.
        serving={
            "reload_interval_s": 0.2,
            "rate_limits": {"per_key": "100000/minute", "per_ip": "100000/minute"},
        },
        **extra,
    )


@pytest.fixture(scope="session")
def session_env(database_url: str) -> Iterator[pytest.MonkeyPatch]:
    """DATABASE_URL for resources that read it from the environment, as in production.

    The process-wide settings (`get_settings`, cached) may have been read before this
    fixture ran; they are read again, as a process started with this environment would."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", database_url)
        get_settings.cache_clear()
        yield mp
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def demo_pipeline(tmp_path_factory, database_url, session_env) -> Pipeline:
    """Every demo manual caught up through every stage, as `manualqa up` does it."""
    settings = pipeline_settings(tmp_path_factory.mktemp("state"), DEMO_MANUALS, database_url)
    keys = [ref.key for ref in FolderConnector(DEMO_MANUALS).list_all()]
    pipeline = Pipeline(settings, dg.DagsterInstance.ephemeral(), keys)
    report = catch_up(pipeline.instance, settings)
    assert report.failed == [] and sorted(report.rebuilt) == sorted(keys)
    return pipeline


@pytest.fixture
def own_database(pg_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated catalog database of the test's own, which the resources use (they read
    DATABASE_URL, as in production); dropped afterwards."""
    url = pg_server.url(f"manualqa_{uuid.uuid4().hex[:12]}")
    ensure_database(url)
    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    drop_database(url)


def copy_manuals(folder: Path, names: list[str]) -> Path:
    """Copy some demo manuals, with their MANIFEST.csv rows, into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with (DEMO_MANUALS / "MANIFEST.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["file"] in names]
    with (folder / "MANIFEST.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name in names:
        shutil.copy2(DEMO_MANUALS / name, folder / name)
    return folder
