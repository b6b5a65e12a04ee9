"""Dependencies point one way, as DESIGN.md draws them:

    manualqa  <-  sql (only manualqa.config and the plain data types in manualqa.documents)
    manualqa  <-  evals
    manualqa, sql  <-  serving (never dagster)
    manualqa, sql, evals  <-  manual_assets (Dagster; never fastapi)
    everything  <-  cli (the top floor)

No package imports the tests.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"manualqa", "sql", "evals", "serving", "manual_assets", "cli", "manual_assets_tests"}
# Project modules each package may import (a name and everything below it).
MAY_IMPORT = {
    "manualqa": {"manualqa"},
    "sql": {
        "sql",
        "manualqa.config",
        "manualqa.documents",
        # the other plain data types the catalog stores
        "manualqa.harvest.HarvestItem",
        "manualqa.harvest.HarvestResult",
        "manualqa.harvest.HeldCopy",
        "manualqa.injection.Finding",
        "manualqa.sources.base.Validators",
        "manualqa.usage.LLMCall",
    },
    "evals": {"evals", "manualqa"},
    "serving": {"serving", "manualqa", "sql"},
    "manual_assets": {"manual_assets", "manualqa", "sql", "evals"},
    "cli": {"cli", "manualqa", "sql", "evals", "serving", "manual_assets"},
}
# Third-party frameworks that belong to one floor only.
NEVER = {
    "manualqa": {"dagster", "fastapi"},
    "sql": {"dagster", "fastapi"},
    "evals": {"dagster", "fastapi"},
    "serving": {"dagster"},
    "manual_assets": {"fastapi"},
    "cli": set(),
}


def imported_names(source: str) -> set[str]:
    """Every name a file imports, fully qualified: `from a.b import c` gives `a.b.c`."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _allowed(name: str, allowed: set[str]) -> bool:
    return any(name == a or name.startswith(a + ".") for a in allowed)


def violations(package: str, root: Path = ROOT) -> dict[str, list[str]]:
    """File -> the imports its floor does not allow."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        bad = sorted(
            n
            for n in imported_names(path.read_text(encoding="utf-8"))
            if (n.split(".")[0] in PROJECT and not _allowed(n, MAY_IMPORT[package]))
            or n.split(".")[0] in NEVER[package]
        )
        if bad:
            found[str(path.relative_to(root))] = bad
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_package_imports_only_what_its_floor_allows(package):
    assert violations(package) == {}


def test_a_forbidden_import_is_reported(tmp_path):
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "ok.py").write_text(
        "from manualqa.config import Settings\nfrom manualqa import documents\n"
    )
    (tmp_path / "sql" / "bad.py").write_text(
        "import dagster\nfrom manualqa import llm\nfrom manual_assets_tests import conftest\n"
    )
    assert violations("sql", tmp_path) == {
        "sql/bad.py": ["dagster", "manual_assets_tests.conftest", "manualqa.llm"],
    }
