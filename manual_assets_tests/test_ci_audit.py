"""The CI dependency audit fails on a finding, and says so when nothing was audited
instead of passing as a clean audit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "audit.py"


def _audit_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


audit = _audit_module()
SKIPPED = {
    "name": "requests",
    "skip_reason": "Dependency not found on PyPI and could not be audited: requests (2.34.2)",
}
CLEAN = {"name": "idna", "version": "3.20", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": []}],
}


def test_a_finding_fails_and_is_listed() -> None:
    report = {"dependencies": [CLEAN, VULNERABLE, SKIPPED], "fixes": []}
    status, lines = audit.verdict([audit.summarize("pypi", report)], [], required=False)
    assert status == 1
    assert "  jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in lines
    assert lines[0] == "2 packages audited against pypi, 1 not known to it"


def test_a_clean_audit_passes_and_names_what_it_skipped() -> None:
    report = {"dependencies": [CLEAN, SKIPPED], "fixes": []}
    status, lines = audit.verdict([audit.summarize("pypi", report)], [], required=False)
    assert status == 0
    assert lines[-1] == "no known vulnerabilities"
    assert any("requests (2.34.2)" in line for line in lines)


def test_nothing_audited_is_reported_as_no_audit_not_as_a_pass() -> None:
    everything_skipped = audit.summarize("pypi", {"dependencies": [SKIPPED], "fixes": []})
    osv_down = "osv: pip-audit failed (exit 1): ConnectionError: Failed to resolve 'api.osv.dev'"
    status, lines = audit.verdict([everything_skipped], [osv_down], required=False)
    assert status == 0
    assert lines[0] == osv_down
    assert lines[-1].startswith("DEPENDENCY AUDIT NOT PERFORMED")
    assert "no known vulnerabilities" not in "\n".join(lines)
    status, _ = audit.verdict([everything_skipped], [osv_down], required=True)
    assert status == 1


def test_the_second_service_audits_when_the_first_cannot() -> None:
    report = {"dependencies": [VULNERABLE], "fixes": []}
    pypi_down = "pypi: pip-audit failed (exit 1): ConnectionError"
    status, lines = audit.verdict([audit.summarize("osv", report)], [pypi_down], required=False)
    assert status == 1
    assert "1 packages audited against osv, 0 not known to it" in lines
