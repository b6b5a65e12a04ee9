"""When Dagster re-materializes a manual's stages, and how it backfills them.

`raw_manual` is requested by the source sensor when a file's cheap version token
changes. Every later stage is eager, with two differences from
`AutomationCondition.eager()`: an upstream counts as updated only when its *data
version* changed, and a stage whose *code version* changed (an extractor or chunker
that now writes something else) runs again for every manual. `raw_manual`'s data
version is the content hash of the bytes, and each later stage's is the hash of what it
stored, so a manual whose file was touched but not changed, or whose text came out the
same, stops there.
"""

import dagster as dg

_ANY_DEP_HAS_NEW_DATA = dg.AutomationCondition.any_deps_match(
    (
        dg.AutomationCondition.data_version_changed()
        # An upstream update made by a run that also updated this stage is handled.
        & ~dg.AutomationCondition.executed_with_root_target()
    ).with_label("data_version_changed_in_another_run")
    | dg.AutomationCondition.will_be_requested()
).with_label("any_deps_have_new_data")

ON_NEW_UPSTREAM_DATA = (
    dg.AutomationCondition.eager()
    .replace(
        "any_deps_updated",
        _ANY_DEP_HAS_NEW_DATA | dg.AutomationCondition.code_version_changed(),
    )
    .with_label("eager_on_new_upstream_data_or_code")
)

# Every stage works on one manual at a time, so a backfill of many manuals is one run
# per manual: a manual that fails (a broken PDF) fails alone and shows in its own run.
ONE_MANUAL_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
