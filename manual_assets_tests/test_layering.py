"""Dependencies point one way: manualqa <- sql <- manual_assets / serving (evals on manualqa)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "manualqa": {"dagster", "fastapi", "sql", "manual_assets", "serving", "evals", "cli"},
    "sql": {"dagster", "fastapi", "manual_assets", "serving", "evals", "cli"},
    "evals": {"dagster", "fastapi", "manual_assets", "serving", "sql", "cli"},
    "serving": {"dagster", "manual_assets", "evals", "cli"},
    "manual_assets": {"serving", "fastapi", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts or package != "sql"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
