"""What a question may be: bounded in length, printable text only.

Control, format (zero-width, bidi override), private-use and unassigned characters
are refused: they hide text from a reader and serve no honest question.
"""

from __future__ import annotations

import unicodedata

_REFUSED_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs"}
_ALLOWED_CONTROLS = {"\n", "\t"}


class QuestionRejected(ValueError):
    """The question breaks the length limit or the character allow-list."""


def check_question(question: str, max_chars: int) -> str:
    """`question` stripped, if it is allowed.

    Raises:
        QuestionRejected: saying which limit and, for a character, which one and where.
    """
    text = question.strip()
    if not text:
        raise QuestionRejected("the question is empty")
    if len(text) > max_chars:
        raise QuestionRejected(f"the question is {len(text)} characters; the limit is {max_chars}")
    for position, char in enumerate(text):
        if char in _ALLOWED_CONTROLS:
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise QuestionRejected(
                f"the question contains the invisible or control character U+{ord(char):04X} "
                f"at position {position}"
            )
    return text
