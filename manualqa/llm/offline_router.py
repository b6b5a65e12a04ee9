"""The offline `router` (intent) and `composition` models: rules, no weights.

`classify_intent` sorts a question into catalog, manual, both or other from cue
phrases; `compose_answer` joins the catalog part and the manual part, keeping their
citation markers. A hosted model does both better; these keep every role working
without one.
"""

from __future__ import annotations

import re

CATALOG = "catalog"
MANUAL = "manual"
BOTH = "both"
OTHER = "other"
INTENTS = (CATALOG, MANUAL, BOTH, OTHER)

_CATALOG_CUES = re.compile(
    r"\bhow many (?:manuals?|vendors?|products?|licen[cs]es?|pages|chunks|sections)\b"
    r"|\b(?:list|show|which|what|name) (?:all |the |of the )?"
    r"(?:manuals|vendors|products|licen[cs]es|brands|formats)\b"
    r"|\bnumber of (?:manuals|vendors|products|pages)\b"
    r"|\bquarantin|\blicen[cs]ed?\b|\bredistributable\b"
    r"|\b(?:uploaded|ingested|added|indexed) (?:after|before|since|in|on|this|last|today)\b"
    r"|\bin the (?:catalog|collection)\b|\b(?:public|private) manuals\b"
    r"|\b(?:without|no|missing) (?:a |an |any )?manuals?\b|\bmanuals? (?:are )?missing\b"
    r"|\b(?:per|by|for each) (?:vendor|product|licen[cs]e)\b|\bmost pages\b|\bpage count\b"
    r"|\bis there a manual\b|\bdo you have (?:a |the )?manuals?\b|\bwhich vendor makes\b"
    r"|\bflagged\b",
    re.IGNORECASE,
)
_MANUAL_CUES = re.compile(
    r"\bhow (?:do|can|should|often|long|much|far|hot|cold|to)\b"
    r"|\bwhat (?:does|do|should|happens|is the (?:maximum|minimum|recommended|default))\b"
    r"|\bwhy\b|\bwhen should\b|\b(?:reset|clean|replace|install|descale|pair|charge|"
    r"troubleshoot|calibrate|mount|store|repair|adjust|update the firmware)\b"
    r"|\berror\b|\bwarning\b|\bblinks?\b|\bled\b|\bsetting\b|\bfilter\b|\bwarranty\b",
    re.IGNORECASE,
)
# Requests to change data or to re-instruct the model are neither catalog nor manual
# questions, whatever else they contain.
_OTHER_CUES = re.compile(
    r"\b(?:delete|drop|insert|update|truncate|alter|grant|revoke)\b\s+(?:from\b|table\b|into\b|"
    r"the\b|all\b|every\b|\w+\s+set\b)"
    r"|\bignore (?:all |any |the )?(?:previous|prior|above|earlier) instructions\b"
    r"|\b(?:disregard|forget) (?:all |any |your |the )?(?:previous |prior )?instructions\b"
    r"|\bsystem prompt\b|\byou are now\b",
    re.IGNORECASE,
)


def classify_intent(question: str) -> str:
    """catalog, manual, both or other."""
    if _OTHER_CUES.search(question):
        return OTHER
    catalog = bool(_CATALOG_CUES.search(question))
    manual = bool(_MANUAL_CUES.search(question))
    if catalog and manual:
        return BOTH
    if catalog:
        return CATALOG
    return MANUAL


def compose_answer(rows_text: str, manual_answer: str) -> str:
    """The catalog part, then the manual part; either may be empty."""
    return "\n\n".join(part.strip() for part in (rows_text, manual_answer) if part.strip())
