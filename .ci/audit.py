"""The dependency audit CI runs: pip-audit against PyPI's advisories, then against OSV.

pip-audit exits 0 and prints "No known vulnerabilities found" when its service knows
none of the installed packages (each one skipped as "not found on PyPI"), which reads
like a clean audit. This says what was audited: it fails on any finding; when neither
service audits a single package (unreachable, or a registry mirror without the per-release
JSON API), it says in capitals that no audit was performed and exits 0, because an
unreachable service is not a finding. Set AUDIT_REQUIRED=1 to make that fatal too.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404: runs pip-audit with fixed arguments
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICES = ("pypi", "osv")


@dataclass(frozen=True)
class Audit:
    service: str
    audited: list[str]  # "name version"
    skipped: list[str]  # the reasons pip-audit gives
    findings: list[str]  # "name version: ID (fixed in ...)"


def summarize(service: str, report: dict[str, Any]) -> Audit:
    """What one pip-audit JSON report audited, skipped and found."""
    audited, skipped, findings = [], [], []
    for dependency in report["dependencies"]:
        if "skip_reason" in dependency:
            skipped.append(str(dependency["skip_reason"]))
            continue
        name = f"{dependency['name']} {dependency['version']}"
        audited.append(name)
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
            findings.append(f"{name}: {vuln['id']} (fixed in {fixes})")
    return Audit(service, audited, skipped, findings)


def verdict(audits: list[Audit], failures: list[str], required: bool) -> tuple[int, list[str]]:
    """The exit status and the lines to print, given each service's audit (or failure)."""
    lines = list(failures)
    done = next((a for a in audits if a.audited), None)
    if done is None:
        skipped = max((len(a.skipped) for a in audits), default=0)
        lines.append(
            f"DEPENDENCY AUDIT NOT PERFORMED: no vulnerability service ({', '.join(SERVICES)}) "
            f"audited any package ({skipped} skipped); this is not a clean audit"
        )
        return (1 if required else 0), lines
    lines.append(
        f"{len(done.audited)} packages audited against {done.service}, "
        f"{len(done.skipped)} not known to it"
    )
    lines += [f"  skipped: {reason}" for reason in done.skipped]
    if done.findings:
        lines.append(f"{len(done.findings)} known vulnerabilities:")
        lines += [f"  {finding}" for finding in done.findings]
        return 1, lines
    lines.append("no known vulnerabilities")
    return 0, lines


def _pip_audit(service: str) -> dict[str, Any] | str:
    """The JSON report of pip-audit against `service`, or why there is none."""
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        "--progress-spinner",
        "off",
        "--skip-editable",
        "--desc",
        "off",
        "--format",
        "json",
        "--vulnerability-service",
        service,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # nosec B603
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{service}: pip-audit failed (exit {done.returncode}): {last[:300]}"
    return report


def main() -> int:
    audits: list[Audit] = []
    failures: list[str] = []
    for service in SERVICES:
        report = _pip_audit(service)
        if isinstance(report, str):
            failures.append(report)
            continue
        audits.append(summarize(service, report))
        if audits[-1].audited:
            break
    status, lines = verdict(audits, failures, os.environ.get("AUDIT_REQUIRED") == "1")
    sys.stdout.write("\n".join(lines) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
