"""eval_scores: the golden set scored against the published index, once a week."""

import json
from pathlib import Path

import dagster as dg

from evals.golden import load_golden_set
from evals.runner import run_golden_set
from manual_assets.assets.qdrant_collection import qdrant_collection
from manual_assets.freshness import WEEKLY_EVAL
from manual_assets.partitions import eval_weeks
from manual_assets.resources import (
    CatalogResource,
    EvalResource,
    LLMResource,
    ObjectStoreResource,
    VectorIndexResource,
)
from manualqa.answer import build_engine
from manualqa.objectstore import eval_report_key
from manualqa.retrieval import Retriever
from manualqa.tokens import default_token_counter
from sql import catalog


@dg.asset(
    partitions_def=eval_weeks,
    deps=[dg.AssetDep(qdrant_collection, partition_mapping=dg.AllPartitionMapping())],
    group_name="evaluation",
    kinds={"python"},
    freshness_policy=WEEKLY_EVAL,
    check_specs=[dg.AssetCheckSpec("eval_scores_hit_at_5_above_floor", asset="eval_scores")],
    code_version="2",
)
def eval_scores(
    context: dg.AssetExecutionContext,
    evaluation: EvalResource,
    llm: LLMResource,
    vector_index: VectorIndexResource,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
) -> dg.MaterializeResult:
    """Golden-set scores per split (dev, test) as the API answers: hit@k, MRR, answered
    correctly, false abstention, citation precision and recall, look-alike accuracy,
    abstention on unanswerable questions, latency."""
    questions = load_golden_set(Path(evaluation.golden_set))
    reader = vector_index.reader()
    client = llm.client()
    retriever = Retriever(client, reader, default_token_counter().ids, mode=evaluation.mode)
    with catalog_db.session() as session:
        profiles = catalog.manual_profiles(session)
    stored = catalog.unit_vector_lookup(catalog_db.engine(), llm.embedding_model)
    engine = build_engine(evaluation.answer(), client, retriever, profiles, stored)
    report = run_golden_set(questions, engine)
    reader.close()
    week = context.partition_key
    report_key = eval_report_key(week)
    object_store.store().put(report_key, json.dumps(report.to_dict(), indent=1).encode())
    hit5 = report.scores["all"].get("hit_at_5", 0.0)
    failures = report.failures()
    return dg.MaterializeResult(
        metadata={
            **{
                f"{split}.{name}": dg.MetadataValue.float(value)
                for split, scores in report.scores.items()
                for name, value in scores.items()
            },
            "golden_set": evaluation.golden_set,
            "index_snapshot": reader.version or "",
            "report_key": report_key,
            "failures": dg.MetadataValue.md(_failure_table(failures)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="eval_scores_hit_at_5_above_floor",
                passed=hit5 >= evaluation.min_hit_at_5,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"hit_at_5": hit5, "floor": evaluation.min_hit_at_5},
            )
        ],
    )


def _failure_table(failures: list) -> str:
    if not failures:
        return "No failures."
    rows = ["| question | split | rank | abstained | cited | answer |", "|---|---|---|---|---|---|"]
    for r in failures[:20]:
        answer = r.answer[:100].replace("|", "\\|").replace("\n", " ")
        cited = ", ".join(r.cited) or "-"
        rows.append(
            f"| {r.id} | {r.split} | {r.rank or '-'} | {r.abstained} | {cited} | {answer} |"
        )
    return "\n".join(rows)
