"""`manualqa evals run|calibrate`: score the golden sets, fit the answer engine on them.

    manualqa evals run                                    # the configured golden set
    manualqa evals run evals/golden_shared_corpus.yaml --split test --failures
    manualqa evals calibrate --set evals/golden_set.yaml=var/demo \\
        --set evals/golden_shared_corpus.yaml=var/shared --write

`run` asks every question of the set through the answer engine over the published index
of the configured data directory, as the API would, and prints the scores per split.
`calibrate` fits on the dev questions only (see `evals.calibrate`); each `--set` names a
golden set and the data directory holding its index and catalog. `--write` replaces the
`answer:` block of config.yaml with the result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from evals.calibrate import calibrate
from evals.golden import SPLITS, load_golden_set
from evals.runner import run_golden_set
from manualqa.answer import AnswerEngine, build_engine
from manualqa.config import Settings, get_settings
from manualqa.llm import LLMClient
from manualqa.retrieval import open_retriever
from sql import catalog, db
from sql.embedded import running_embedded_postgres, stop_embedded_postgres

CONFIG_FILE = Path("config.yaml")
_ANSWER_BLOCK_RE = re.compile(r"^answer:.*?(?=^\S|\Z)", re.MULTILINE | re.DOTALL)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("evals", help="score golden sets; calibrate the answer engine")
    commands = parser.add_subparsers(dest="evals_command", required=True)
    run = commands.add_parser("run", help="score a golden set against the published index")
    run.add_argument("golden_set", nargs="?", type=Path, default=None)
    run.add_argument("--split", choices=SPLITS, default=None, help="only this part of the set")
    run.add_argument("--failures", action="store_true", help="list the questions handled badly")
    run.add_argument("--json", action="store_true", help="the whole report as JSON")
    run.set_defaults(handler=run_command)
    fit = commands.add_parser("calibrate", help="fit weights and thresholds on dev questions")
    fit.add_argument(
        "--set",
        dest="sets",
        action="append",
        required=True,
        metavar="GOLDEN=DATA_DIR",
        help="a golden set and the data directory of its index (repeatable)",
    )
    fit.add_argument("--write", action="store_true", help="replace the answer block of config.yaml")
    fit.set_defaults(handler=calibrate_command)


@contextlib.contextmanager
def opened_engine(settings: Settings) -> Iterator[AnswerEngine]:
    """The answer engine over `settings`' published index and catalog."""
    embedded = settings.state_path(settings.postgres.data_dir)
    started_here = settings.database_url is None and running_embedded_postgres(embedded) is None
    url = db.resolve_database_url(settings)
    db.check_schema(url)
    engine = db.make_engine(url)
    llm = LLMClient(settings.llm, settings.embedding)
    retriever, reader = open_retriever(settings, llm)
    try:
        with db.session_scope(engine) as session:
            profiles = catalog.manual_profiles(session)
        stored = catalog.unit_vector_lookup(engine, settings.embedding.model)
        yield build_engine(settings.answer, llm, retriever, profiles, stored)
    finally:
        reader.close()
        engine.dispose()
        if started_here:
            stop_embedded_postgres(embedded)


def run_command(args: argparse.Namespace) -> int:
    settings = get_settings()
    path = settings.resolve(args.golden_set or settings.evals.golden_set)
    questions = load_golden_set(path, split=args.split)
    with opened_engine(settings) as engine:
        report = run_golden_set(questions, engine)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=1) + "\n")
        return 0
    sys.stdout.write(f"{path.name}\n{scores_table(report.scores)}\n")
    if args.failures:
        for r in report.failures():
            what = (
                "answered" if r.answerable is False else ("abstained" if r.abstained else "cited")
            )
            detail = ", ".join(r.cited) or "-"
            sys.stdout.write(f"  {r.split:4} {r.id}: {what} {detail} | {r.answer[:120]!r}\n")
    return 0


def scores_table(scores: dict[str, dict[str, float]]) -> str:
    """Metrics as rows, splits as columns (Markdown)."""
    splits = [s for s in ("test", "dev", "all") if s in scores]
    metrics = list(dict.fromkeys(m for s in splits for m in scores[s]))
    lines = ["| metric | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for metric in metrics:
        cells = [_cell(scores[s].get(metric)) for s in splits]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() and value > 1 else f"{value:.3f}"


def calibrate_command(args: argparse.Namespace) -> int:
    base = get_settings()
    pairs = []
    for item in args.sets:
        golden, _, data_dir = item.partition("=")
        if not data_dir:
            sys.stderr.write(f"manualqa: --set {item!r} must be GOLDEN=DATA_DIR\n")
            return 2
        pairs.append((base.resolve(Path(golden)), Path(data_dir)))
    with contextlib.ExitStack() as stack:
        engines = []
        for golden, data_dir in pairs:
            settings = base.model_copy(update={"data_dir": data_dir})
            engine = stack.enter_context(opened_engine(settings))
            engines.append((engine, load_golden_set(golden)))
        result = calibrate(engines)
    sys.stdout.write(result.config_block())
    sys.stdout.write(json.dumps(result.report, indent=1) + "\n")
    if args.write:
        path = base.resolve(CONFIG_FILE)
        text = path.read_text(encoding="utf-8")
        block = result.config_block() + "\n"
        updated = (
            _ANSWER_BLOCK_RE.sub(lambda _: block, text, count=1)
            if _ANSWER_BLOCK_RE.search(text)
            else text.rstrip("\n") + "\n\n" + block
        )
        path.write_text(updated, encoding="utf-8")
        sys.stdout.write(f"wrote the answer block of {path}\n")
    return 0
