"""Dagster decides what re-materializes: data versions and automation conditions, seen
through Dagster's own run and event records; the source sensor compares version tokens
only; a manual deleted from its source leaves search."""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pytest

from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS
from manual_assets.assets.raw_manual import ACCEPTED_CHECK
from manual_assets.catch_up import catch_up
from manual_assets.partitions import MANUALS
from manual_assets.removal import remove_manual_job
from manual_assets.sensors import manual_source_sensor
from manual_assets_tests.pipeline_fixtures import Pipeline, copy_manuals, pipeline_settings
from manualqa.llm import LLMClient
from manualqa.retrieval import open_retriever
from manualqa.sources import FolderConnector
from sql import catalog, db

HTML = "nordlys-audio__hs-5__user-guide.html"
MARKDOWN = "verdant-garden-tech__ic-6__user-guide.md"
MD_KEY = "verdant-garden-tech__ic-6__user-guide"
HTML_KEY = "nordlys-audio__hs-5__user-guide"


@pytest.fixture
def two_manuals(tmp_path: Path, own_database: str) -> Pipeline:
    """An HTML and a Markdown manual caught up on a database and instance of their own."""
    folder = copy_manuals(tmp_path / "manuals", [HTML, MARKDOWN])
    settings = pipeline_settings(tmp_path / "state", folder, own_database)
    pipeline = Pipeline(settings, dg.DagsterInstance.ephemeral(), [HTML_KEY, MD_KEY])
    report = catch_up(pipeline.instance, settings)
    assert report.failed == [] and sorted(report.rebuilt) == [HTML_KEY, MD_KEY]
    return pipeline


def _new_runs(instance: dg.DagsterInstance, known: set[str]) -> list[dg.DagsterRun]:
    return [run for run in instance.get_runs() if run.run_id not in known]


def _materialized(instance: dg.DagsterInstance, run_ids: set[str]) -> dict[str, list[str]]:
    """Partition -> assets materialized by these runs, from the event log."""
    found: dict[str, list[str]] = defaultdict(list)
    for asset in MANUAL_ASSETS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset.key), limit=1000
        ).records
        for record in records:
            if record.run_id in run_ids:
                found[str(record.partition_key)].append(asset.key.to_user_string())
    return dict(found)


def _data_version(instance: dg.DagsterInstance, asset: str, partition: str) -> str:
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records[0]
    return record.asset_materialization.tags["dagster/data_version"]  # type: ignore[union-attr]


def test_unchanged_manuals_run_nothing_touched_stop_at_raw_changed_rebuild_their_chain(
    two_manuals: Pipeline,
):
    instance = two_manuals.instance
    folder = two_manuals.settings.sources.folder.path
    known = {run.run_id for run in instance.get_runs()}

    again = catch_up(instance, two_manuals.settings)
    assert not again.changed_anything
    assert _new_runs(instance, known) == []

    # A new modification time with the same bytes: fetched and hashed, nothing more.
    markdown = Path(folder) / MARKDOWN
    text_version = _data_version(instance, "manual_text", MD_KEY)
    stat = markdown.stat()
    os.utime(markdown, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    touched = catch_up(instance, two_manuals.settings)
    runs = _new_runs(instance, known)
    assert touched.fetched == [MD_KEY] and touched.rebuilt == {}
    assert [run.tags["dagster/partition"] for run in runs] == [MD_KEY]
    assert _materialized(instance, {r.run_id for r in runs}) == {MD_KEY: ["raw_manual"]}
    assert _data_version(instance, "manual_text", MD_KEY) == text_version
    known |= {run.run_id for run in runs}

    # Changed bytes: that manual's whole chain, and no other manual's.
    markdown.write_text(markdown.read_text() + "\n## 99 Notes\n\nRinse the filter monthly.\n")
    changed = catch_up(instance, two_manuals.settings)
    runs = _new_runs(instance, known)
    assert changed.fetched == [MD_KEY] and list(changed.rebuilt) == [MD_KEY]
    assert {run.tags["dagster/partition"] for run in runs} == {MD_KEY}
    assert _materialized(instance, {r.run_id for r in runs}) == {
        MD_KEY: [a.key.to_user_string() for a in MANUAL_ASSETS]
    }
    assert _data_version(instance, "manual_text", MD_KEY) != text_version
    checked = {
        event.dagster_event.event_specific_data.check_name  # type: ignore[union-attr]
        for run in runs
        for event in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    }
    assert checked == {ACCEPTED_CHECK} | {check.check_key.name for check in MANUAL_CHECKS}


def test_a_stage_whose_code_version_changed_runs_again_for_every_manual(
    two_manuals: Pipeline, monkeypatch: pytest.MonkeyPatch
):
    instance = two_manuals.instance
    known = {run.run_id for run in instance.get_runs()}
    text_version = _data_version(instance, "manual_text", MD_KEY)
    bumped = [
        asset.map_asset_specs(lambda spec: spec.replace_attributes(code_version="next"))
        if asset.key == dg.AssetKey("manual_text")
        else asset
        for asset in MANUAL_ASSETS
    ]
    monkeypatch.setattr("manual_assets.catch_up.MANUAL_ASSETS", bumped)

    report = catch_up(instance, two_manuals.settings)
    runs = _new_runs(instance, known)
    assert report.fetched == [] and sorted(report.rebuilt) == [HTML_KEY, MD_KEY]
    # Requested in one tick, the stages after it come along (as after changed bytes).
    chain = [a.key.to_user_string() for a in MANUAL_ASSETS[1:]]
    assert _materialized(instance, {r.run_id for r in runs}) == {HTML_KEY: chain, MD_KEY: chain}
    assert _data_version(instance, "manual_text", MD_KEY) == text_version  # the same text
    assert not catch_up(instance, two_manuals.settings).changed_anything


def test_an_interrupted_catch_up_is_resumed_by_the_next(two_manuals: Pipeline):
    folder = Path(two_manuals.settings.sources.folder.path)
    for name in (HTML, MARKDOWN):
        path = folder / name
        path.write_text(path.read_text() + "\n\nOne more sentence about the warranty.\n")
    asked = []

    def stop_after_fetching() -> bool:
        asked.append(1)
        return len(asked) > 2  # both manuals fetched, no stage after that

    stopped = catch_up(two_manuals.instance, two_manuals.settings, should_stop=stop_after_fetching)
    assert stopped.stopped and sorted(stopped.fetched) == [HTML_KEY, MD_KEY]
    assert stopped.rebuilt == {}

    resumed = catch_up(two_manuals.instance, two_manuals.settings)
    assert resumed.fetched == [] and sorted(resumed.rebuilt) == [HTML_KEY, MD_KEY]


def test_source_sensor_compares_version_tokens_and_never_reads_a_manual(
    two_manuals: Pipeline, monkeypatch: pytest.MonkeyPatch
):
    def no_fetch(self, ref, held=None):  # the sensor must decide from tokens alone
        raise AssertionError(f"the sensor fetched {ref.key}")

    monkeypatch.setattr(FolderConnector, "fetch", no_fetch)
    folder = Path(two_manuals.settings.sources.folder.path)
    resources = two_manuals.resources()
    instance = two_manuals.instance

    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        assert isinstance(manual_source_sensor(context), dg.SkipReason)

    (folder / MARKDOWN).write_text((folder / MARKDOWN).read_text() + "\nA late addition.\n")
    (folder / "new-vendor__gizmo__guide.md").write_text("# Gizmo guide\n\n## 1 Start\n\nGo.\n")
    (folder / "ignored-notes.md").write_text("# Not in the manifest, so not a manual\n")
    with (folder / "MANIFEST.csv").open(newline="") as manifest:
        header = next(csv.reader(manifest))
    with (folder / "MANIFEST.csv").open("a", newline="") as manifest:
        csv.DictWriter(manifest, fieldnames=header).writerow(
            {
                "file": "new-vendor__gizmo__guide.md",
                "vendor": "New Vendor",
                "product": "Gizmo",
                "title": "Gizmo guide",
                "license": "CC0",
                "source": "test",
                "is_public": "true",
            }
        )
    lines = (folder / "MANIFEST.csv").read_text().splitlines()
    (folder / "MANIFEST.csv").write_text("\n".join(x for x in lines if HTML not in x) + "\n")

    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = manual_source_sensor(context)
    assert isinstance(result, dg.SensorResult)
    assert result.dynamic_partitions_requests[0].partition_keys == ["new-vendor__gizmo__guide"]
    fetches = {r.partition_key for r in result.run_requests if r.job_name == "raw_manual_job"}
    assert fetches == {MD_KEY, "new-vendor__gizmo__guide"}
    removals = [r for r in result.run_requests if r.job_name == remove_manual_job.name]
    assert [r.run_config["ops"]["remove_manual"]["config"]["manual_key"] for r in removals] == [
        HTML_KEY
    ]


def test_a_manual_deleted_from_its_source_leaves_search_catalog_and_partitions(
    two_manuals: Pipeline,
):
    settings = two_manuals.settings
    folder = Path(settings.sources.folder.path)
    llm = LLMClient(settings.llm, settings.embedding)
    retriever, reader = open_retriever(settings, llm)
    question = "How do I pair the Halo HS-5 speaker over Bluetooth?"
    assert HTML_KEY in {hit.manual_key for hit in retriever.search(question, 5)}

    (folder / HTML).unlink()
    lines = (folder / "MANIFEST.csv").read_text().splitlines()
    (folder / "MANIFEST.csv").write_text("\n".join(x for x in lines if HTML not in x) + "\n")
    report = catch_up(two_manuals.instance, settings)

    assert report.removed == [HTML_KEY] and report.failed == []
    reader.refresh()
    assert reader.count(HTML_KEY) == 0 and reader.count(MD_KEY) > 0
    assert HTML_KEY not in {hit.manual_key for hit in retriever.search(question, 5)}
    reader.close()
    with db.session_scope(db.make_engine(settings.database_url.get_secret_value())) as session:
        assert catalog.get_manual(session, HTML_KEY) is None
    assert two_manuals.instance.get_dynamic_partitions(MANUALS) == [MD_KEY]
    store = Path(settings.state_path(settings.object_store.root))
    assert list((store / "raw" / HTML_KEY).glob("*.html"))  # the bytes are kept
