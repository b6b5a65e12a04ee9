"""Session fixtures that materialize the demo corpus once on embedded PostgreSQL.

Registered from the root conftest via `pytest_plugins`, so the asset, serving and
eval tests share one materialized index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from manual_assets.jobs import MANUAL_ASSETS
from manual_assets.resources import build_resources
from manualqa.config import PROJECT_ROOT, Settings
from manualqa.sources import FolderConnector

DEMO_MANUALS = PROJECT_ROOT / "demo_corpus" / "manuals"


@dataclass
class Pipeline:
    settings: Settings
    instance: dg.DagsterInstance
    keys: list[str]

    def resources(self) -> dict:
        return build_resources(self.settings)

    def materialize(self, key: str, assets=None, **kwargs) -> dg.ExecuteInProcessResult:
        self.instance.add_dynamic_partitions("manuals", [key])
        return dg.materialize(
            assets or MANUAL_ASSETS,
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
        serving={"reload_interval_s": 0.2},
        **extra,
    )


@pytest.fixture(scope="session")
def session_env(database_url: str) -> Iterator[pytest.MonkeyPatch]:
    """DATABASE_URL for resources that read it from the environment, as in production."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", database_url)
        yield mp


@pytest.fixture(scope="session")
def demo_pipeline(tmp_path_factory, database_url, session_env) -> Pipeline:
    """Every demo manual materialized through every stage (one Dagster run per partition)."""
    settings = pipeline_settings(tmp_path_factory.mktemp("state"), DEMO_MANUALS, database_url)
    keys = [ref.key for ref in FolderConnector(DEMO_MANUALS).list_all()]
    pipeline = Pipeline(settings, dg.DagsterInstance.ephemeral(), keys)
    for key in keys:
        result = pipeline.materialize(key)
        assert result.success, f"{key} failed to materialize"
    return pipeline
