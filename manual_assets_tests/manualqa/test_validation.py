"""Validation refuses bad files with the right reason; dedup, governance and inspection."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader, PdfWriter

from manual_assets_tests.manualqa.conftest import (
    BAD_PDFS,
    GOOD_LINES,
    GOOD_PDF,
    PdfSpec,
    build_pdf,
    image_only_pdf,
    make_ref,
)
from manualqa.config import DedupSettings, LicenseDefaults, ValidationSettings
from manualqa.dedup import NearDuplicateIndex, signature
from manualqa.governance import ExclusionList, GovernanceError, manifest_of, with_license
from manualqa.validation import validate


@pytest.mark.parametrize("name", sorted(BAD_PDFS))
def test_bad_pdfs_are_refused_with_the_right_reason(name):
    data, code = BAD_PDFS[name]
    verdict = validate(data, make_ref("manual.pdf"), ValidationSettings())
    assert not verdict.ok
    assert verdict.code == code, verdict.reason
    assert verdict.reason


def test_a_healthy_pdf_is_accepted_with_its_facts():
    verdict = validate(GOOD_PDF, make_ref("manual.pdf"), ValidationSettings())
    assert verdict.ok, verdict.reason
    assert verdict.summary["pages"] == 2 and verdict.summary["language"] == "en"
    assert verdict.summary["sniffed_type"] == "application/pdf"


def test_image_only_pages_are_reported_and_limits_apply():
    mixed = build_pdf(PdfSpec(pages=[GOOD_LINES, GOOD_LINES]))
    assert validate(mixed, make_ref("m.pdf"), ValidationSettings(max_bytes=100)).code == "too_large"
    image = validate(image_only_pdf(3), make_ref("m.pdf"), ValidationSettings())
    assert image.facts.image_only_pages == (1, 2, 3)
    assert "3 of 3 pages are images" in image.reason
    # Partly scanned: accepted by default, refused where a source demands more text.
    writer = PdfWriter()
    for page in [
        *PdfReader(io.BytesIO(GOOD_PDF)).pages[:1],
        *PdfReader(io.BytesIO(image_only_pdf(2))).pages,
    ]:
        writer.add_page(page)
    scan = io.BytesIO()
    writer.write(scan)
    assert validate(scan.getvalue(), make_ref("m.pdf"), ValidationSettings()).ok
    strict = validate(
        scan.getvalue(), make_ref("m.pdf"), ValidationSettings(max_image_only_ratio=0.5)
    )
    assert (strict.ok, strict.code) == (False, "mostly_images")


def test_language_and_markdown_checks():
    german = (
        "Reinigen Sie den Filter alle sechs Monate mit warmem Wasser und Seife. " * 8
    ).encode()
    ref = make_ref("guide.md")
    assert validate(german, ref, ValidationSettings()).facts.language == "de"
    refused = validate(german, ref, ValidationSettings(languages=["en"]))
    assert (refused.ok, refused.code) == (False, "language")
    assert (
        validate(b"\x89PNG\r\n\x1a\n" + b"0" * 100, ref, ValidationSettings()).code
        == "type_mismatch"
    )


def test_near_duplicates_are_found_across_sources_and_others_are_not():
    settings = DedupSettings()
    base = " ".join(GOOD_LINES * 3)
    index = NearDuplicateIndex(settings, [("vendor-api:ac-200", signature(base, settings))])
    retyped = base.replace("green light", "green  light").upper()  # case and spacing differ
    match = index.duplicate_of("crawl:ac-200", signature(retyped, settings))
    assert match is not None and match[0] == "vendor-api:ac-200" and match[1] > 0.95
    other = " ".join(f"Unrelated sentence number {i} about a garden sprinkler." for i in range(40))
    assert index.duplicate_of("crawl:rm-500", signature(other, settings)) is None
    assert index.duplicate_of("vendor-api:ac-200", signature(base, settings)) is None  # itself


def test_license_manifests_permit_uses_until_they_expire():
    ref = with_license(
        make_ref("m.pdf"),
        LicenseDefaults(name="vendor-terms", allowed_uses=["index"]),
        expires_at="2030-01-01",
    )
    manifest = manifest_of(ref)
    assert manifest.permits("index", datetime(2029, 12, 31, tzinfo=UTC))
    assert not manifest.permits("serve", datetime(2029, 1, 1, tzinfo=UTC))
    assert not manifest.permits("index", datetime(2030, 1, 1, tzinfo=UTC))
    later = with_license(make_ref("m.pdf"), LicenseDefaults(expires_after_days=30))
    assert manifest_of(later).expires_at > datetime.now(UTC) + timedelta(days=29)
    with pytest.raises(GovernanceError, match="unknown license uses"):
        with_license(make_ref("m.pdf"), LicenseDefaults(), allowed_uses=["resell"])
    with pytest.raises(GovernanceError, match="ISO 8601"):
        with_license(make_ref("m.pdf"), LicenseDefaults(), expires_at="next tuesday")


def test_the_exclusion_list_matches_domains_urls_and_vendors(tmp_path):
    path = tmp_path / "exclusions.yaml"
    path.write_text(
        "domains: [blocked.example]\nurls: ['https://ok.example/private/*']\nvendors: [Evil Corp]\n"
    )
    exclusions = ExclusionList.load(path)
    assert exclusions.reason_to_exclude_url("https://cdn.blocked.example/a.pdf")
    assert exclusions.reason_to_exclude_url("https://ok.example/private/a.pdf")
    assert exclusions.reason_to_exclude_url("https://ok.example/public/a.pdf") is None
    ref = make_ref("m.pdf")
    assert exclusions.reason_to_exclude(ref.__class__(**{**ref.__dict__, "vendor": "evil-corp"}))
    assert ExclusionList.load(tmp_path / "absent.yaml") == ExclusionList()
    path.write_text("hosts: [x]\n")
    with pytest.raises(GovernanceError):
        ExclusionList.load(path)
