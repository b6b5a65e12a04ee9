"""Build the demo corpus: render every manual source and write ``MANIFEST.csv``.

Run from the repository root::

    python -m demo_corpus.build               # into demo_corpus/manuals/
    python -m demo_corpus.build /tmp/manuals  # anywhere else
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as `python demo_corpus/build.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo_corpus.corpus import LICENSE, SOURCE, SOURCES_DIR, Manual, load_manuals
from demo_corpus.render_pdf import render_pdf
from demo_corpus.render_text import render_html, render_markdown, write_text

DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent / "manuals"
MANIFEST_NAME = "MANIFEST.csv"
MANIFEST_FIELDS = (
    "file",
    "key",
    "vendor",
    "product",
    "title",
    "edition",
    "published",
    "aliases",
    "license",
    "source",
    "is_public",
)


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote."""

    files: tuple[Path, ...]
    pdf_pages: int


def render(manual: Manual, output_dir: Path) -> tuple[Path, int]:
    """Render one manual into ``output_dir``; return its path and page count (0 if not a PDF)."""
    path = output_dir / manual.filename
    if manual.format == "pdf":
        return path, render_pdf(manual, path)
    text = render_html(manual) if manual.format == "html" else render_markdown(manual)
    write_text(text, path)
    return path, 0


def manifest_rows(manuals: list[Manual]) -> list[dict[str, str]]:
    """One manifest row per manual, in key order."""
    return [
        {
            "file": manual.filename,
            "key": manual.key,
            "vendor": manual.vendor,
            "product": manual.product,
            "title": manual.title,
            "edition": manual.edition,
            "published": manual.published,
            "aliases": manual.model,
            "license": LICENSE,
            "source": SOURCE,
            "is_public": "true" if manual.is_public else "false",
        }
        for manual in manuals
    ]


def write_manifest(manuals: list[Manual], output_dir: Path) -> Path:
    """Write ``MANIFEST.csv`` describing ``manuals``."""
    path = output_dir / MANIFEST_NAME
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest_rows(manuals))
    return path


def remove_stale(manuals: list[Manual], output_dir: Path) -> None:
    """Delete files an earlier build listed in its manifest that this build no longer makes."""
    manifest = output_dir / MANIFEST_NAME
    if not manifest.exists():
        return
    current = {manual.filename for manual in manuals}
    with manifest.open(encoding="utf-8", newline="") as handle:
        previous = {row["file"] for row in csv.DictReader(handle)}
    for name in sorted(previous - current):
        (output_dir / Path(name).name).unlink(missing_ok=True)


def build(output_dir: Path = DEFAULT_OUTPUT_DIR, sources_dir: Path = SOURCES_DIR) -> BuildReport:
    """Render every manual in ``sources_dir`` into ``output_dir`` and write the manifest."""
    manuals = load_manuals(sources_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(manuals, output_dir)
    rendered = [render(manual, output_dir) for manual in manuals]
    manifest = write_manifest(manuals, output_dir)
    files = (*(path for path, _ in rendered), manifest)
    return BuildReport(files=files, pdf_pages=sum(pages for _, pages in rendered))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", nargs="?", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--sources", type=Path, default=SOURCES_DIR, help="manual source folder")
    args = parser.parse_args(argv)
    report = build(args.output_dir, args.sources)
    print(
        f"built {len(report.files) - 1} manuals ({report.pdf_pages} PDF pages) "
        f"and {MANIFEST_NAME} in {args.output_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
