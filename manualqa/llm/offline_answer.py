"""The offline answer model: the evidence the answer engine chose, quoted whole, with a `[n]`
citation on every sentence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from manualqa.sentences import split_sentences


@dataclass(frozen=True)
class EvidencePart:
    """One quoted unit: which passage it is from and, when several products answer, whose."""

    passage: int  # the [n] number of its passage
    text: str  # the unit as shown (a procedure with its lead-in, a row with its header)
    product: str | None = None


@dataclass(frozen=True)
class EvidenceRequest:
    """What the offline `answer` model is given (as call metadata, never parsed from a prompt)."""

    question: str
    parts: tuple[EvidencePart, ...]

    def to_metadata(self) -> dict[str, Any]:
        return {"question": self.question, "parts": [asdict(p) for p in self.parts]}

    @classmethod
    def from_metadata(cls, data: Mapping[str, Any]) -> EvidenceRequest:
        parts = tuple(EvidencePart(**p) for p in data["parts"])
        return cls(question=str(data["question"]), parts=parts)


def _cited(text: str, number: int) -> list[str]:
    """Each line and sentence of `text`, finished and cited."""
    out = []
    for line in text.splitlines():
        for sentence in split_sentences(line):
            if sentence[-1] not in ".!?:":
                sentence = sentence.rstrip(";,") + "."  # a clause cut at its ';' ends here
            out.append(f"{sentence} [{number}]")
    return out


def quote_evidence(request: EvidenceRequest) -> str:
    """The parts in order; with several products, each part opens with the product's name."""
    blocks = []
    for part in request.parts:
        lines = _cited(part.text, part.passage)
        if not lines:
            continue
        if part.product:
            lines[0] = f"For the {part.product}: {lines[0]}"
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
