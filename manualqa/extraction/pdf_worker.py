"""Extracts a PDF's pages from the last one back, for `manualqa.extraction.pdf`, in a
process of its own.

    python -m manualqa.extraction.pdf_worker PAGE_COUNT fonts|text < manual.pdf

Reads the PDF from stdin and writes one JSON line per page, last page first, until it is
stopped (the caller has met it) or reaches the first page. A page it cannot extract
ends it quietly: the caller meets that page and raises the error itself.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict

from manualqa.extraction import ExtractionError
from manualqa.extraction.pdf import extract_page, open_pdf


def main(argv: list[str]) -> int:
    page_count, with_fonts = int(argv[0]), argv[1] == "fonts"
    logging.basicConfig(level=logging.ERROR)  # pypdf's warnings are the caller's to give
    try:
        reader = open_pdf(sys.stdin.buffer.read())
        for number in range(page_count, 0, -1):
            page = extract_page(reader, number, with_fonts=with_fonts)
            sys.stdout.write(json.dumps({"number": number, **asdict(page)}) + "\n")
            sys.stdout.flush()
    except (ExtractionError, BrokenPipeError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
