"""The object-store key layout: the one place that says which key holds what.

raw/<manual>/<sha256><ext>              original bytes, content-addressed, never overwritten
quarantine/<manual>/<sha256><ext>       bytes refused at ingestion, kept for review
processed/<manual>/<stage><ext>         a pipeline stage's latest output for the manual
derived/evals/<week>/report.json        a golden-set report
logs/quarantine/<manual>/<sha256>.json  why a manual's bytes could not be extracted
inbox/<partner>/...                     pushed documents (laid out by `sources.inbox`)
"""

from __future__ import annotations

from pathlib import PurePosixPath


def raw_key(manual_key: str, content_sha256: str, file_name: str) -> str:
    """Where a manual's raw bytes live; the file name only lends its extension."""
    suffix = PurePosixPath(file_name).suffix.lower()
    return f"raw/{manual_key}/{content_sha256}{suffix}"


def quarantine_key(manual_key: str, content_sha256: str, file_name: str) -> str:
    """Where refused bytes are kept, beside the raw layout."""
    return "quarantine/" + raw_key(manual_key, content_sha256, file_name).removeprefix("raw/")


def stage_key(manual_key: str, stage: str, extension: str) -> str:
    """Where stage `stage` keeps its output for one manual; a re-run replaces it."""
    return f"processed/{manual_key}/{stage}{extension}"


def extraction_failure_key(manual_key: str, content_sha256: str) -> str:
    """Where the reason a manual's bytes could not be extracted is logged."""
    return f"logs/quarantine/{manual_key}/{content_sha256}.json"


def eval_report_key(week: str) -> str:
    """Where the golden-set report for an eval week lives."""
    return f"derived/evals/{week}/report.json"
