"""Sentence splitting shared by answer units, the offline answer and the verifier."""

from __future__ import annotations

import re

_END_RE = re.compile(r"(?<=[a-z0-9)%\"'][.!?])\s+(?=[A-Z0-9\"(])")
# A piece that is only a step number ("2.") or ends in an abbreviation ("e.g.", "No.")
# does not end a sentence.
_NOT_AN_END_RE = re.compile(
    r"(?:^\(?\d{1,3}[.)]|\b(?:e\.g|i\.e|etc|approx|no|nr|fig|ch|sec|vol|min|max|vs)\.)$",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """The sentences of one line of text, whitespace-collapsed."""
    out: list[str] = []
    carry = ""
    for piece in _END_RE.split(" ".join(text.split())):
        piece = f"{carry} {piece}".strip() if carry else piece
        if _NOT_AN_END_RE.search(piece):
            carry = piece
            continue
        carry = ""
        out.append(piece)
    if carry:
        out.append(carry)
    return [s for s in out if s]
