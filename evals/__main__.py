"""Score a golden set against the published index, without Dagster:

python -m evals                                  # the configured golden set
python -m evals evals/golden_shared_corpus.yaml --failures
"""

import argparse
import json
from pathlib import Path

from evals.golden import load_golden_set
from evals.runner import run_golden_set
from manualqa.config import get_settings
from manualqa.llm import LLMClient
from manualqa.retrieval import open_retriever


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Score a golden set against the index.")
    parser.add_argument("golden_set", nargs="?", type=Path, default=settings.evals.golden_set)
    parser.add_argument("--failures", action="store_true", help="also list failed questions")
    args = parser.parse_args()
    llm = LLMClient(settings.llm, settings.embedding)
    retriever, reader = open_retriever(settings, llm)
    report = run_golden_set(
        load_golden_set(settings.resolve(args.golden_set)),
        retriever,
        llm,
        top_k=settings.evals.top_k,
        min_score=settings.retrieval.min_score,
    )
    out: dict[str, object] = {"scores": report.scores}
    if args.failures:
        out["failures"] = [vars(r) for r in report.failures()]
    print(json.dumps(out, indent=1))  # noqa: T201 - the command's output
    reader.close()


if __name__ == "__main__":
    main()
