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
    EvalResource,
    LLMResource,
    ObjectStoreResource,
    VectorIndexResource,
)
from manualqa.objectstore import eval_report_key
from manualqa.retrieval import Retriever
from manualqa.tokens import default_token_counter


@dg.asset(
    partitions_def=eval_weeks,
    deps=[dg.AssetDep(qdrant_collection, partition_mapping=dg.AllPartitionMapping())],
    group_name="evaluation",
    kinds={"python"},
    freshness_policy=WEEKLY_EVAL,
    check_specs=[dg.AssetCheckSpec("eval_scores_hit_at_5_above_floor", asset="eval_scores")],
    code_version="1",
)
def eval_scores(
    context: dg.AssetExecutionContext,
    evaluation: EvalResource,
    llm: LLMResource,
    vector_index: VectorIndexResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Golden-set scores for the whole collection: hit@k, MRR, citation precision, answer
    containment and abstention on unanswerable questions."""
    questions = load_golden_set(Path(evaluation.golden_set))
    reader = vector_index.reader()
    client = llm.client()
    retriever = Retriever(client, reader, default_token_counter().ids, mode=evaluation.mode)
    report = run_golden_set(
        questions, retriever, client, top_k=evaluation.top_k, min_score=evaluation.min_score
    )
    reader.close()
    week = context.partition_key
    report_key = eval_report_key(week)
    object_store.store().put(report_key, json.dumps(report.to_dict(), indent=1).encode())
    scores = report.scores
    hit5 = scores.get("hit_at_5", 0.0)
    failures = report.failures()
    return dg.MaterializeResult(
        metadata={
            **{name: dg.MetadataValue.float(value) for name, value in scores.items()},
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
    rows = ["| question | rank | abstained | answer |", "|---|---|---|---|"]
    for r in failures[:20]:
        answer = r.answer[:100].replace("|", "\\|")
        rows.append(f"| {r.id} | {r.rank or '-'} | {r.abstained} | {answer} |")
    return "\n".join(rows)
